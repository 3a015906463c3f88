"""``--to python``: a student as one dependency-free Python file.

Written from the student's portable description (:mod:`tabcompress.students.portable`) alone. The file
is the description's numbers as literals (``repr`` of each float, which Python reads back exactly) and
a small interpreter of them (:data:`INTERPRETER`), the same for every student, that follows the
description step by step in double precision. It needs only the standard library (``math`` and
``struct``) and runs on Python 3.8 and later.
"""

from __future__ import annotations

import math
from typing import Any

SUFFIXES = (".py",)

# Items per line in the data lists.
_WIDTH = 100

INTERPRETER = '''
# -- the interpreter: the same for every student --------------------------------------------------
_NAN = float("nan")
_CODES = tuple({} for _ in _CATEGORICAL_COLUMNS)  # per categorical column: text -> code (first wins)
for _codes, _column in zip(_CODES, _CATEGORICAL_COLUMNS):
    for _code, _text in enumerate(CATEGORICAL[FEATURES[_column]]):
        _codes.setdefault(_text, _code)
_FLOAT32 = struct.Struct("<%df" % _N_Z)
_WALKS = None if _TREES is None else [  # each tree's lists, unpacked once
    (t["feature"], t["threshold"], t["missing_left"], t["left"], t["right"], t["value"], t["output"]) for t in _TREES]


def _missing(cell):
    """None, NaN, or pandas' NA / NaT."""
    kind = type(cell).__name__
    if cell is None or kind in ("NAType", "NaTType"):
        return True
    return (isinstance(cell, float) or kind.startswith("float")) and cell != cell  # numpy's floats too


def _cells(row):
    """The row's cells in FEATURES order: a row is a mapping by column name (dict, pandas Series) or a
    sequence in FEATURES order."""
    if hasattr(row, "keys"):
        try:
            return [row[name] for name in FEATURES]
        except KeyError as error:
            raise KeyError("the row has no column %r" % (error.args[0],)) from None
    cells = list(row)
    if len(cells) != len(FEATURES):
        raise ValueError("a row holds %d cells, one per feature, got %d" % (len(FEATURES), len(cells)))
    return cells


def _category_text(cell):
    """The text a category is matched by: text as it is, a whole number without a decimal point (2 and
    2.0 are both "2"), any other number in Python's shortest form."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, float) or type(cell).__name__.startswith("float"):  # numpy's floats too
        value = float(cell)
        return str(int(value)) if value.is_integer() else str(value)
    return str(cell)


def _encode(cells):
    """The vector z the model reads: numeric values (standardised or not), then categorical codes or
    one-hot blocks."""
    numbers = [_NAN if _missing(cells[i]) else float(cells[i]) for i in _NUMERIC_COLUMNS]
    if _STANDARDIZE is None:
        z = numbers
    else:
        filled = [median if math.isnan(v) else v for v, median in zip(numbers, _STANDARDIZE["median"])]
        values = filled + [1.0 if math.isnan(numbers[i]) else 0.0 for i in _STANDARDIZE["indicators"]]
        z = [(v - mean) / scale for v, mean, scale in zip(values, _STANDARDIZE["mean"], _STANDARDIZE["scale"])]
    for j, i in enumerate(_CATEGORICAL_COLUMNS):
        cell = cells[i]
        missing = _missing(cell)
        code = -1 if missing else _CODES[j].get(_category_text(cell), -1)
        if not _ONE_HOT:
            z.append(float(code) if code >= 0 else _NAN)
            continue
        block = [0.0] * len(_CATEGORIES[j])
        if code >= 0:
            block[code] = 1.0
        if _MISSING_COLUMN[j]:
            block.append(1.0 if missing else 0.0)
        z += block
    return z


def _float32(values):
    """Each value rounded to float32 (as numpy's cast: beyond float32's range, +-inf)."""
    try:
        return _FLOAT32.unpack(_FLOAT32.pack(*values))
    except OverflowError:
        return tuple(_float32_one(v) for v in values)


def _float32_one(value):
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def _dot(values, weights):
    try:
        return math.fsum(map(operator.mul, values, weights))
    except (OverflowError, ValueError):  # infinities: IEEE arithmetic, as numpy
        total = 0.0
        for v, w in zip(values, weights):
            total += v * w
        return total


def _raw(z):
    """The model's raw scores."""
    if _TREES is not None:
        raw = list(_BASE)
        z = _float32(z)
        for feature, threshold, missing_left, left, right, values, output in _WALKS:
            node = 0
            while left[node] >= 0:
                v = z[feature[node]]
                if math.isnan(v):
                    go_left = missing_left[node]
                elif _LESS:
                    go_left = v < threshold[node]
                else:
                    go_left = v <= threshold[node]
                node = left[node] if go_left else right[node]
            for k, value in enumerate(values[node], output):
                raw[k] += value
        return raw
    h = z
    for n, (weight_by_output, bias) in enumerate(_LAYERS):
        h = [_dot(h, weights) + b for weights, b in zip(weight_by_output, bias)]
        if n < len(_LAYERS) - 1:
            h = [0.0 if v < 0.0 else v for v in h]  # ReLU
    return h


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _probabilities(raw):
    if _LINK == "normalize":
        clipped = [0.0 if v < 0.0 else v for v in raw]
        total = sum(clipped)
        if total > 0.0:
            return [v / total for v in clipped]
        return [1.0 / len(raw)] * len(raw)
    if _LINK == "sigmoid":
        p = 1.0 / (1.0 + _exp(-raw[0]))
        return [1.0 - p, p]
    top = max(raw)
    e = [_exp(v - top) for v in raw]
    total = sum(e)
    return [v / total for v in e]


def _argmax(values):
    best = 0
    for k in range(1, len(values)):
        if values[k] > values[best]:
            best = k
    return best


def predict(row):
    """The class (one of CLASSES) or, for regression, the value of one row."""
    raw = _raw(_encode(_cells(row)))
    if CLASSES is None:
        return raw[0] * _SCALE + _SHIFT
    return CLASSES[_argmax(raw if _ARGMAX == "raw" else _probabilities(raw))]


def predict_proba(row):
    """The probabilities of CLASSES for one row, as a list."""
    if CLASSES is None:
        raise TypeError("a regression student has no predict_proba")
    return _probabilities(_raw(_encode(_cells(row))))


def predict_many(rows):
    return [predict(row) for row in rows]


def predict_proba_many(rows):
    return [predict_proba(row) for row in rows]
'''


def render(portable: dict[str, Any], name: str) -> dict[str, str]:
    """``{".py": source}`` for the student ``portable`` describes; ``name`` is the file's stem."""
    columns, enc, model, out = portable["columns"], portable["encoding"], portable["model"], portable["output"]
    regression = portable["task"] == "regression"
    s = enc["standardize"]
    onehot = enc["categories"] == "onehot"
    n_classes = 0 if regression else len(portable["classes"])
    features = [str(c["name"]) for c in columns]
    categorical = {str(c["name"]): [str(t) for t in c["categories"]] for c in columns if c["type"] == "categorical"}
    n_z = len(enc["numeric"]) + (0 if s is None else len(s["indicators"]))
    for j, i in enumerate(enc["categorical"]):
        n_z += (len(columns[i]["categories"]) + int(bool(enc["missing_column"][j]))) if onehot else 1

    task = "regression" if regression else f"classification, {n_classes} classes"
    lines = [
        f'"""{name}: a tabcompress student ({portable["family"]}, {task}) as plain Python.',
        "",
        "Generated by tabcompress from the student's portable description: the data below are its numbers,",
        "the code after them a small interpreter of them, in double precision. Only the standard library is",
        "needed (Python 3.8+).",
        "",
        f"    import {_module_name(name)}",
        f"    {_module_name(name)}.predict(row)        # "
        + ("the value" if regression else "the class, one of CLASSES"),
    ]
    if not regression:
        lines.append(f"    {_module_name(name)}.predict_proba(row)  # the probabilities of CLASSES, as a list")
    lines += [
        f"    {_module_name(name)}.predict_many(rows)" + ("" if regression else ", predict_proba_many(rows)"),
        "",
        "A row is a dict (or pandas Series) by column name, or a sequence in FEATURES order. Numbers are int or",
        "float, missing as None or NaN. A categorical cell (a column of CATEGORICAL) is matched as text",
        "against the categories the student saw (a whole number as \"2\", for 2 or 2.0); None (or NaN) is",
        "missing, and any other value counts as unseen.",
        '"""',
        "import math",
        "import operator",
        "import struct",
        "",
        "# the columns of a row, in the order a sequence holds them",
        "FEATURES = " + _literal(features, 11, tuple_=True),
        "# the class labels (None for regression)",
        "CLASSES = " + ("None" if regression else _literal(portable["classes"], 10, tuple_=True)),
        "# the categorical columns and their categories (a category's position is its code)",
        "CATEGORICAL = " + _dict_literal(categorical, tuples=True),
        "",
        "# -- the student, as data " + "-" * 75,
        "# encoding: the numeric columns (positions in FEATURES), standardised when _STANDARDIZE is set",
        "_NUMERIC_COLUMNS = " + _literal(enc["numeric"], 19),
        "_STANDARDIZE = " + ("None" if s is None else _dict_literal(
            {"median": s["median"], "indicators": s["indicators"], "mean": s["mean"], "scale": s["scale"]})),
        "# then the categorical columns: one code each, or (_ONE_HOT) one 0/1 value per category and, where",
        "# _MISSING_COLUMN, one for 'missing'",
        "_CATEGORICAL_COLUMNS = " + _literal(enc["categorical"], 23),
        f"_ONE_HOT = {onehot}",
        "_MISSING_COLUMN = " + _literal([bool(m) for m in enc["missing_column"]] if onehot
                                        else [False] * len(enc["categorical"]), 18),
        "_CATEGORIES = tuple(CATEGORICAL[FEATURES[i]] for i in _CATEGORICAL_COLUMNS)",
        f"_N_Z = {n_z}",
        "",
    ]
    if model["kind"] == "trees":
        rule = "z < threshold (float32)" if model["compare"] == "<" else "z <= threshold"
        lines += [
            "# model: trees. raw[k] = _BASE[k] + the values of the leaves reached, added from the tree's output on.",
            f"# z is rounded to float32; a row goes left when {rule}; NaN goes left where missing_left.",
            "# A leaf has left = right = -1.",
            f"_LESS = {model['compare'] == '<'}",
            "_BASE = " + _literal(model["base"], 8),
            "_TREES = [",
        ]
        for tree in model["trees"]:
            lines.append("    {")
            lines.append(f'        "output": {int(tree.get("output", 0))},')
            for key in ("feature", "threshold", "missing_left", "left", "right", "value"):
                values = tree[key]
                if key == "missing_left":
                    values = [bool(v) for v in values]
                lines.append(f'        "{key}": {_literal(values, 12 + len(key), indent=8)},')
            lines.append("    },")
        lines += ["]", "_LAYERS = None"]
    else:
        lines += [
            "# model: dense layers, h = z, then per layer h = h . weight + bias, ReLU between layers. Each layer",
            "# is (weights, bias), its weights one list per output: the weights from every input to it.",
            "_TREES = None",
            "_LAYERS = [",
        ]
        for layer in model["layers"]:
            weight = layer["weight"]
            n_out = len(layer["bias"])
            by_output = [[row[j] for row in weight] for j in range(n_out)]
            lines.append("    (")
            lines.append(f"        {_literal(by_output, 8, indent=8)},")
            lines.append(f"        {_literal(layer['bias'], 8, indent=8)},")
            lines.append("    ),")
        lines += ["]"]
    lines += [
        "# output: " + ("the value is raw[0] * _SCALE + _SHIFT" if regression else
                        f"probabilities by the link {out['link']!r}, the class the first largest of "
                        + ("the raw scores" if out["argmax"] == "raw" else "the probabilities")),
        f"_LINK = {out['link']!r}",
        f"_ARGMAX = {out['argmax']!r}",
        f"_SCALE = {_number(out['scale'])}",
        f"_SHIFT = {_number(out['shift'])}",
    ]
    return {".py": "\n".join(lines) + "\n" + INTERPRETER}


def _module_name(name: str) -> str:
    return name if name.isidentifier() else "student"


def _number(value: float) -> str:
    """A float as a Python expression that reads back exactly."""
    value = float(value)
    if math.isnan(value):
        return 'float("nan")'
    if math.isinf(value):
        return 'float("inf")' if value > 0 else '-float("inf")'
    return repr(value)


def _item(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, (int, str)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_item(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} in a Python file")


def _literal(values: list, start: int, indent: int = 0, tuple_: bool = False) -> str:
    """A list (or tuple) literal that starts at column ``start``, wrapped at _WIDTH characters with
    continuation lines indented ``indent + 4``."""
    items = [_item(v) for v in values]
    if any(isinstance(v, list) and indent + 4 + len(item) + 1 > _WIDTH for v, item in zip(values, items)):
        # long rows of a matrix: one under the other, each wrapped
        pad = " " * (indent + 4)
        rows = [pad + _literal(v, indent + 4, indent + 4) + "," for v in values]
        return "[\n" + "\n".join(rows) + "\n" + " " * indent + "]"
    if tuple_:
        one_line = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    else:
        one_line = "[" + ", ".join(items) + "]"
    if start + len(one_line) <= _WIDTH or not items:
        return one_line
    pad = " " * (indent + 4)
    lines, line = [], ""
    for item in items:
        if line and len(pad) + len(line) + len(item) + 2 > _WIDTH:
            lines.append(pad + line.rstrip())
            line = ""
        line += item + ", "
    lines.append(pad + line.rstrip())
    opening, closing = "()" if tuple_ else "[]"
    return opening + "\n" + "\n".join(lines) + "\n" + " " * indent + closing


def _dict_literal(mapping: dict, tuples: bool = False) -> str:
    if not mapping:
        return "{}"
    lines = ["{"]
    for key, values in mapping.items():
        lines.append(f"    {key!r}: {_literal(values, 6 + len(repr(key)), indent=4, tuple_=tuples)},")
    return "\n".join(lines + ["}"])
