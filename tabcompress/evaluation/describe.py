"""What a fitted student is, read from its portable description (:mod:`tabcompress.students.portable`).

:func:`describe` gives a JSON-able summary: family, task, classes, bytes, size, the input columns and
which of them the model reads, and by family a tree's rules, a boosted ensemble's use of each column,
or a dense model's layers. :func:`render_text` writes it for people.

A tree's rules are written in the columns' own terms: a split on a category's code becomes the set of
categories that go each way (``job in {"admin.", "services"}``), and every split says where a missing
cell goes (an unseen category goes the same way). A threshold is written as the shortest decimal that
splits float32 numbers exactly as the model does (trees compare their inputs rounded to float32), so
``balance <= 469.5`` reads as the model decides for every input that is a float32 number.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

# Input kinds: a numeric column's value, the 0/1 "was missing" indicator of a column, a categorical
# column's code (ordinal encoding), or the 0/1 indicator of one category (one-hot encoding).
VALUE, MISSING, CODE, CATEGORY = "value", "missing", "code", "category"


def input_sources(portable: dict[str, Any]) -> list[tuple[str, int, int]]:
    """Where each input of the model comes from: ``(kind, column index, category index or -1)``, in the
    order of the vector ``z`` the model reads."""
    columns, encoding = portable["columns"], portable["encoding"]
    sources = [(VALUE, i, -1) for i in encoding["numeric"]]
    if encoding["standardize"] is not None:
        sources += [(MISSING, encoding["numeric"][j], -1) for j in encoding["standardize"]["indicators"]]
    for j, i in enumerate(encoding["categorical"]):
        if encoding["categories"] == "ordinal":
            sources.append((CODE, i, -1))
            continue
        sources += [(CATEGORY, i, k) for k in range(len(columns[i]["categories"]))]
        if encoding["missing_column"][j]:
            sources.append((MISSING, i, -1))
    return sources


def describe(student: Any, path: str | Path | None = None) -> dict[str, Any]:
    """A JSON-able description of a fitted ``student`` (``path``: its file, for the file's size).

    Fields: ``family``, ``task``, ``classes``; ``bytes`` (``file``: the file's size, ``serialized``:
    pickled, as distill's report counts it); ``size`` (the student's own counts: nodes, leaves, depth,
    trees or parameters); ``columns`` (name, type, categories, ``used``: whether the model reads it at
    all: a split on it, or a non-zero weight from it); then by model:

    * trees: ``importance``, one entry per column the trees split on, most splits first: ``splits``,
      ``trees`` (how many trees split on it) and ``leaf_weight``, the sum over its splits of |value| of
      every leaf below the split: how much of the ensemble's raw output hangs on decisions on that
      column (a leaf counts once per split above it; without row counts, which the student does not
      keep, this is a measure of the model, not of the data);
    * one tree: ``rules``: ``text`` (nested if/else lines) and ``leaves`` (per leaf the conditions on its
      path, its class and probabilities, or its value);
    * dense (linear, MLP): ``layers`` (inputs and outputs of each) and, for one layer, ``importance``:
      per column the largest |weight| from its inputs (standardised numbers and 0/1 indicators, so
      the weights are comparable).
    """
    from tabcompress.evaluation.metrics import serialized_bytes

    portable = student.portable()
    model, columns = portable["model"], portable["columns"]
    sources = input_sources(portable)
    used = _used_columns(model, sources)
    description: dict[str, Any] = {
        "family": portable["family"],
        "task": portable["task"],
        "classes": portable["classes"],
        "bytes": {"file": Path(path).stat().st_size if path is not None else None,
                  "serialized": serialized_bytes(student)},
        "size": student.complexity(),
        "columns": [{"name": c["name"], "type": c["type"], "categories": c["categories"], "used": i in used}
                    for i, c in enumerate(columns)],
    }
    if model["kind"] == "trees":
        description["importance"] = _tree_importance(model, sources, columns)
        if len(model["trees"]) == 1:
            description["rules"] = _rules(portable, sources)
    else:
        layers = model["layers"]
        description["layers"] = [{"inputs": len(layer["weight"]), "outputs": len(layer["bias"])} for layer in layers]
        if len(layers) == 1:
            weight = np.abs(np.asarray(layers[0]["weight"], dtype=np.float64)).max(axis=1)
            largest: dict[int, float] = {}
            for z, (_, column, _) in enumerate(sources):
                largest[column] = max(largest.get(column, 0.0), float(weight[z]))
            description["importance"] = [{"column": columns[i]["name"], "max_abs_weight": w}
                                         for i, w in sorted(largest.items(), key=lambda item: -item[1])]
    return description


def _used_columns(model: dict[str, Any], sources: list[tuple[str, int, int]]) -> set[int]:
    if model["kind"] == "trees":
        return {sources[f][1] for tree in model["trees"] for f in tree["feature"] if f >= 0}
    weight = np.asarray(model["layers"][0]["weight"], dtype=np.float64)
    return {sources[z][1] for z in np.flatnonzero(np.any(weight != 0.0, axis=1))}


def _tree_importance(model: dict[str, Any], sources: list[tuple[str, int, int]],
                     columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    splits: dict[int, int] = {}
    trees: dict[int, set[int]] = {}
    weight: dict[int, float] = {}
    for t, tree in enumerate(model["trees"]):
        below = _leaf_weight_below(tree)
        for node, f in enumerate(tree["feature"]):
            if tree["left"][node] < 0:
                continue
            column = sources[f][1]
            splits[column] = splits.get(column, 0) + 1
            trees.setdefault(column, set()).add(t)
            weight[column] = weight.get(column, 0.0) + below[node]
    order = sorted(splits, key=lambda c: (-splits[c], -weight[c], c))
    return [{"column": columns[c]["name"], "splits": splits[c], "trees": len(trees[c]), "leaf_weight": weight[c]}
            for c in order]


def _leaf_weight_below(tree: dict[str, Any]) -> list[float]:
    """Per node, the sum of |value| over the leaves below it (the node itself, for a leaf)."""
    total = [0.0] * len(tree["left"])

    def visit(node: int) -> float:
        if tree["left"][node] < 0:
            total[node] = float(sum(abs(v) for v in tree["value"][node]))
        else:
            total[node] = visit(tree["left"][node]) + visit(tree["right"][node])
        return total[node]

    visit(0)
    return total


# -- a tree's rules ---------------------------------------------------------------------------------
def _rules(portable: dict[str, Any], sources: list[tuple[str, int, int]]) -> dict[str, Any]:
    model = portable["model"]
    tree = model["trees"][0]
    lines: list[str] = []
    leaves: list[dict[str, Any]] = []

    def visit(node: int, depth: int, path: list[str]) -> None:
        indent = "  " * depth
        if tree["left"][node] < 0:
            leaf = _leaf(portable, tree["value"][node])
            lines.append(f"{indent}→ {leaf['text']}")
            leaves.append({"conditions": path, **{k: v for k, v in leaf.items() if k != "text"}})
            return
        left, right = _split_text(portable, sources, tree["feature"][node], tree["threshold"][node],
                                  tree["missing_left"][node])
        lines.append(f"{indent}if {left}:")
        visit(tree["left"][node], depth + 1, path + [left])
        lines.append(f"{indent}else:  # {right}")
        visit(tree["right"][node], depth + 1, path + [right])

    visit(0, 0, [])
    return {"text": lines, "leaves": leaves}


def _leaf(portable: dict[str, Any], value: list[float]) -> dict[str, Any]:
    """A leaf's prediction: the class and probabilities, or the value (the output part of the
    portable description applied to the leaf's raw value)."""
    output = portable["output"]
    if output["link"] == "identity":
        predicted = (portable["model"]["base"][0] + value[0]) * output["scale"] + output["shift"]
        return {"value": predicted, "text": _number(predicted)}
    raw = np.asarray(portable["model"]["base"], dtype=np.float64) + np.asarray(value, dtype=np.float64)
    if output["link"] == "normalize":
        clipped = np.clip(raw, 0.0, None)
        proba = clipped / clipped.sum() if clipped.sum() > 0 else np.full(len(raw), 1.0 / len(raw))
    elif output["link"] == "sigmoid":
        p = 1.0 / (1.0 + math.exp(-raw[0]))
        proba = np.array([1.0 - p, p])
    else:
        e = np.exp(raw - raw.max())
        proba = e / e.sum()
    classes = portable["classes"]
    chosen = classes[int(np.argmax(raw if output["argmax"] == "raw" else proba))]
    shown = ", ".join(f"{c}: {p:.3f}" for c, p in zip(classes, proba))
    return {"class": chosen, "probabilities": {str(c): float(p) for c, p in zip(classes, proba)},
            "text": f"{chosen}  ({shown})"}


def _split_text(portable: dict[str, Any], sources: list[tuple[str, int, int]], feature: int, threshold: float,
                missing_left: bool) -> tuple[str, str]:
    """The conditions under which a row goes left and right at a split, in the column's terms."""
    kind, i, k = sources[feature]
    column = portable["columns"][i]
    name = column["name"]
    compare = portable["model"]["compare"]
    goes_left = (lambda z: z <= threshold) if compare == "<=" else (lambda z: z < threshold)
    standardize = portable["encoding"]["standardize"]
    position = None
    if standardize is not None and kind in (VALUE, MISSING) and i in portable["encoding"]["numeric"]:
        position = _standardized_position(portable, kind, i)
    if kind == VALUE and position is None:
        cut = _threshold_text(threshold, compare)
        other = ">" if compare == "<=" else ">="
        left, right = f"{name} {compare} {cut}", f"{name} {other} {cut}"
        return (f"{left} or {name} is missing", right) if missing_left else (left, f"{right} or {name} is missing")
    if kind == VALUE:  # standardised: z = (v - mean) / scale, a missing cell takes the median
        mean, scale = standardize["mean"][position], standardize["scale"][position]
        cut = _number(mean + threshold * scale)
        median = standardize["median"][portable["encoding"]["numeric"].index(i)]
        left, right = f"{name} {compare} {cut}", f"{name} {'>' if compare == '<=' else '>='} {cut}"
        if goes_left((median - mean) / scale):
            return f"{left} or {name} is missing", right
        return left, f"{right} or {name} is missing"
    if kind == CODE:
        categories = column["categories"]
        left_set = [c for code, c in enumerate(categories) if goes_left(code)]
        right_set = [c for code, c in enumerate(categories) if not goes_left(code)]
        missing = f"{name} is missing or unseen"
        left = _in(name, left_set, missing if missing_left else None)
        right = _in(name, right_set, None if missing_left else missing)
        return left, right
    # a 0/1 indicator: of one category, or of a missing cell (standardised with its column's mean and scale)
    zero, one = 0.0, 1.0
    if position is not None:
        mean, scale = standardize["mean"][position], standardize["scale"][position]
        zero, one = (0.0 - mean) / scale, (1.0 - mean) / scale
    is_it = f"{name} is missing" if kind == MISSING else f"{name} == {_quoted(column['categories'][k])}"
    is_not = f"{name} is not missing" if kind == MISSING else f"{name} != {_quoted(column['categories'][k])}"
    left_one, left_zero = goes_left(one), goes_left(zero)
    if left_one == left_zero:
        return ("always", "never") if left_one else ("never", "always")
    return (is_it, is_not) if left_one else (is_not, is_it)


def _standardized_position(portable: dict[str, Any], kind: str, column: int) -> int:
    """The position, among the standardised values, of a numeric column's value or missing indicator."""
    encoding = portable["encoding"]
    j = encoding["numeric"].index(column)
    if kind == VALUE:
        return j
    return len(encoding["numeric"]) + encoding["standardize"]["indicators"].index(j)


def _in(name: str, categories: list[str], missing: str | None) -> str:
    if not categories:
        return missing or f"{name}: no category"
    text = f"{name} in {{{', '.join(_quoted(c) for c in categories)}}}"
    return f"{text} or {missing}" if missing else text


def _quoted(category: str) -> str:
    return json.dumps(category, ensure_ascii=False)


def _number(value: float) -> str:
    """A double with as many digits as it needs to read back exactly."""
    return repr(float(value)) if math.isfinite(value) else str(value)


def _threshold_text(threshold: float, compare: str) -> str:
    """The shortest decimal ``d`` such that ``x <compare> d`` decides as ``x <compare> threshold`` does for
    every float32 ``x`` (the model rounds its inputs to float32 before comparing)."""
    if not math.isfinite(threshold):
        return str(threshold)
    as_float32 = np.float32(threshold)
    if compare == "<=":  # left: the float32 numbers up to the last one <= threshold
        low = as_float32 if float(as_float32) <= threshold else np.nextafter(as_float32, np.float32(-np.inf))
        high = np.nextafter(low, np.float32(np.inf))
        low, high = float(low), float(high)

        def fits(d: float) -> bool:
            return low <= d < high
    else:  # "<" with a float32 threshold: left are the float32 numbers below it
        high = float(as_float32)
        low = float(np.nextafter(as_float32, np.float32(-np.inf)))

        def fits(d: float) -> bool:
            return low < d <= high
    for digits in range(1, 18):
        for candidate in ((low + high) / 2, low, high):
            value = float(f"{candidate:.{digits}g}")
            if fits(value):
                return _plain_decimal(value)
    return _number(threshold)


def _plain_decimal(value: float) -> str:
    """``value`` without an exponent where that stays short (``280``, not ``2.8e+02``)."""
    if value == 0 or 1e-4 <= abs(value) < 1e15:
        return np.format_float_positional(value, trim="-")
    return repr(value)


# -- text -------------------------------------------------------------------------------------------
def render_text(description: dict[str, Any]) -> str:
    """The description for people: a heading, the size, the columns, then the rules, the importance
    table or the layers."""
    d = description
    classes = "" if d["classes"] is None else f"; classes {', '.join(map(str, d['classes']))}"
    lines = [f"{d['family']} student ({d['task']}{classes})"]
    size = ", ".join(f"{key} {value:,}" if not key.startswith("n_") else f"{value:,} {key[2:].replace('_', ' ')}"
                     for key, value in d["size"].items())
    on_disk = "" if d["bytes"]["file"] is None else f"{_bytes(d['bytes']['file'])} on disk, "
    lines.append(f"size: {on_disk}{_bytes(d['bytes']['serialized'])} pickled; {size}")
    used = [c for c in d["columns"] if c["used"]]
    lines.append(f"columns: {len(d['columns'])} read, {len(used)} used by the model")
    width = max(len(c["name"]) for c in d["columns"])
    for c in d["columns"]:
        kind = "numeric" if c["type"] == "numeric" else f"categorical, {len(c['categories'])} categories"
        lines.append(f"  {c['name']:<{width}}  {'used' if c['used'] else 'unused':<6}  {kind}")
    if "rules" in d:
        lines += ["rules (a missing cell, or an unseen category, goes where the condition says):"]
        lines += [f"  {line}" for line in d["rules"]["text"]]
    elif "layers" in d:
        shape = " → ".join([str(d["layers"][0]["inputs"])] + [str(layer["outputs"]) for layer in d["layers"]])
        lines.append(f"layers: {shape} (inputs → outputs, after encoding)")
        if "importance" in d:
            lines.append("largest |weight| per column (standardised inputs):")
            lines += [f"  {e['column']:<{width}}  {e['max_abs_weight']:.4g}" for e in d["importance"]]
    if "importance" in d and "layers" not in d and "rules" not in d:
        lines.append("columns by splits (leaf weight: sum of |leaf value| below the column's splits):")
        lines.append(f"  {'column':<{width}}  {'splits':>6}  {'trees':>5}  {'leaf weight':>11}")
        lines += [f"  {e['column']:<{width}}  {e['splits']:>6,}  {e['trees']:>5,}  {e['leaf_weight']:>11.4g}"
                  for e in d["importance"]]
    return "\n".join(lines) + "\n"


def _bytes(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
