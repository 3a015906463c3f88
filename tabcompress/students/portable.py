"""A fitted student as plain data: the one description every export format is written from.

:meth:`Student.portable` returns a dict of lists, numbers and strings (JSON-able, no numpy), in three
parts that say exactly how the Python student computes, so that an ONNX graph, C source or Python file
built from it gives the same classes and the same probabilities:

``columns``
    The student's input columns in ``feature_names_in_`` order: ``{"name", "type": "numeric" |
    "categorical", "categories": [text, ...]}``. A categorical cell is matched as text against
    ``categories``; its position there is its *code*. A missing numeric cell is NaN; a missing
    categorical cell is ``None`` (an empty string in formats without one), an unseen one any other text.

``encoding``
    How the columns become the vector ``z`` the model reads, in this order:

    * ``numeric``: indices into ``columns`` of the numeric columns. With ``standardize`` null, their
      values as they are (NaN stays NaN). With ``standardize`` = ``{"median", "indicators", "mean",
      "scale"}``: a NaN takes the column's ``median``; then one 0/1 value per entry of ``indicators``
      (positions in ``numeric`` whose cell was missing); then every one of these values ``v`` becomes
      ``(v - mean[i]) / scale[i]``.
    * ``categorical``: indices into ``columns`` of the categorical columns. ``categories`` =
      ``"ordinal"``: one value each, the code, NaN when missing or unseen. ``"onehot"``: one 0/1 value
      per category (1 at the code), then, where ``missing_column[j]``, one more that is 1 when the cell
      is missing; an unseen value is all zeros.

``model``
    * ``{"kind": "trees", "compare", "n_outputs", "base", "trees"}``: ``raw[k] = base[k] + Σ`` over
      trees of the reached leaf's ``value``, added at ``output`` onward (``output`` 0 and ``value`` of
      ``n_outputs`` entries for a tree of all outputs). Each tree is node arrays ``feature``,
      ``threshold``, ``missing_left``, ``left``, ``right``, ``value``; a leaf has ``left`` = ``right`` =
      -1. Every ``z`` a tree reads is first rounded to float32 (as scikit-learn and XGBoost do); a row
      goes left when ``z <= threshold`` (``compare`` ``"<="``, a double threshold) or ``z < threshold``
      (``"<"``, a float32 threshold); a NaN goes left where ``missing_left``.
    * ``{"kind": "dense", "layers": [{"weight": [[...] × inputs] (inputs × outputs), "bias"}, ...]}``:
      ``h = z``, then per layer ``h = h · weight + bias``, with ReLU between layers (not after the last),
      in double precision.

``output``
    ``{"link", "argmax", "scale", "shift"}``: ``link`` turns ``raw`` into probabilities: ``"normalize"``
    (clip at 0, divide by the sum; uniform when the sum is 0), ``"sigmoid"`` (one margin m: ``p =
    1 / (1 + exp(-m))``, probabilities ``[1 - p, p]``), ``"softmax"``, or ``"identity"`` (regression:
    the value is ``raw[0] * scale + shift``). The class is ``classes[argmax]`` of ``raw``
    (``argmax`` = ``"raw"``) or of the probabilities (``"probabilities"``), the first on a tie.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

FORMAT = "tabcompress-portable"
VERSION = 1


def plain(value: Any) -> Any:
    """A label or category as a plain Python value (numpy scalars become int, float, bool or str)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def category_text(value: Any) -> str:
    """A category as the text the exported models match: text as it is, a whole number without a
    decimal point (2, 2.0 and numpy's 2 are all "2", as the Python student, which matches by value,
    finds 2.0 among the categories [1, 2]), any other number in Python's shortest form."""
    value = plain(value)
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def floats(values: Any) -> list:
    """A numpy array (any shape) as nested lists of Python floats."""
    return np.asarray(values, dtype=np.float64).tolist()


def columns_and_encoding(encoder: Any, feature_names: Sequence[str]) -> tuple[list[dict], dict[str, Any]]:
    """The ``columns`` and ``encoding`` parts of a fitted :class:`TabularEncoder` (module docstring)."""
    names = [str(n) for n in feature_names]
    position = {name: i for i, name in enumerate(names)}
    categories = dict(zip((str(c) for c in encoder.categorical_columns_), encoder.categories_))
    columns = [{"name": name, "type": "categorical" if name in categories else "numeric",
                "categories": [category_text(c) for c in categories.get(name, [])]} for name in names]
    encoding: dict[str, Any] = {
        "numeric": [position[str(c)] for c in encoder.numeric_columns_],
        "categorical": [position[str(c)] for c in encoder.categorical_columns_],
        "standardize": None,
        "categories": encoder.categories,
        "missing_column": [bool(m) for m in encoder.has_missing_] if encoder.categories == "onehot" else [],
    }
    if encoder.numeric == "standardize":
        encoding["standardize"] = {"median": floats(encoder.medians_),
                                   "indicators": [int(i) for i in encoder.indicator_columns_],
                                   "mean": floats(encoder.means_), "scale": floats(encoder.scales_)}
    return columns, encoding


def output(task: str, link: str, argmax: str = "probabilities", scale: float = 1.0, shift: float = 0.0) -> dict:
    return {"link": "identity" if task == "regression" else link, "argmax": argmax,
            "scale": float(scale), "shift": float(shift)}


# -- a reference evaluator, in numpy: what the export formats are checked against -------------------
def encode(portable: dict[str, Any], rows: Sequence[Sequence[Any]]) -> np.ndarray:
    """The vectors ``z`` of ``rows`` (each a sequence of cells in ``columns`` order), as the module
    docstring describes."""
    columns, enc = portable["columns"], portable["encoding"]
    out = []
    for row in rows:
        z: list[float] = []
        numbers = [_number(row[i]) for i in enc["numeric"]]
        s = enc["standardize"]
        if s is not None:
            filled = [s["median"][j] if math.isnan(v) else v for j, v in enumerate(numbers)]
            values = filled + [1.0 if math.isnan(numbers[j]) else 0.0 for j in s["indicators"]]
            z += [(v - m) / c for v, m, c in zip(values, s["mean"], s["scale"])]
        else:
            z += numbers
        for j, i in enumerate(enc["categorical"]):
            cats, cell = columns[i]["categories"], row[i]
            missing = is_missing(cell)
            code = -1 if missing else _code(cats, category_text(cell))
            if enc["categories"] == "ordinal":
                z.append(float("nan") if code < 0 else float(code))
                continue
            block = [0.0] * len(cats)
            if code >= 0:
                block[code] = 1.0
            if enc["missing_column"][j]:
                block.append(1.0 if missing else 0.0)
            z += block
        out.append(z)
    return np.asarray(out, dtype=np.float64).reshape(len(out), -1)


def raw_scores(portable: dict[str, Any], Z: np.ndarray) -> np.ndarray:
    model = portable["model"]
    if model["kind"] == "dense":
        h = Z
        for i, layer in enumerate(model["layers"]):
            h = h @ np.asarray(layer["weight"]) + np.asarray(layer["bias"])
            if i < len(model["layers"]) - 1:
                h = np.maximum(h, 0.0)
        return h
    raw = np.tile(np.asarray(model["base"], dtype=np.float64), (len(Z), 1))
    Z32 = Z.astype(np.float32).astype(np.float64)
    for tree in model["trees"]:
        for r, z in enumerate(Z32):
            node = 0
            while tree["left"][node] >= 0:
                x, t = z[tree["feature"][node]], tree["threshold"][node]
                if math.isnan(x):
                    left = tree["missing_left"][node]
                else:
                    left = x <= t if model["compare"] == "<=" else x < t
                node = tree["left"][node] if left else tree["right"][node]
            value = tree["value"][node]
            raw[r, tree["output"]:tree["output"] + len(value)] += value
    return raw


def predict(portable: dict[str, Any], rows: Sequence[Sequence[Any]]) -> tuple[list, np.ndarray | None]:
    """Classes (or values) and probabilities (None for regression) of ``rows``, by the description alone."""
    raw = raw_scores(portable, encode(portable, rows))
    out = portable["output"]
    link = out["link"]
    if link == "identity":
        return list(raw[:, 0] * out["scale"] + out["shift"]), None
    if link == "normalize":
        clipped = np.clip(raw, 0.0, None)
        total = clipped.sum(axis=1, keepdims=True)
        proba = np.divide(clipped, total, out=np.full_like(clipped, 1.0 / raw.shape[1]), where=total > 0)
    elif link == "sigmoid":
        p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        proba = np.column_stack([1.0 - p, p])
    else:
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        proba = e / e.sum(axis=1, keepdims=True)
    decide = raw if out["argmax"] == "raw" else proba
    classes = portable["classes"]
    return [classes[k] for k in np.argmax(decide, axis=1)], proba


def _number(cell: Any) -> float:
    return float("nan") if is_missing(cell) else float(cell)


def is_missing(cell: Any) -> bool:
    if cell is None or type(cell).__name__ in ("NAType", "NaTType"):  # pandas' missing markers
        return True
    return isinstance(cell, (float, np.floating)) and math.isnan(cell)


def _code(categories: list[str], text: str) -> int:
    try:
        return categories.index(text)
    except ValueError:
        return -1
