"""``--to c``: a student as one dependency-free C99 source file and its header.

Written from the student's portable description (:mod:`tabcompress.students.portable`) alone. The source
holds the description's numbers as static const arrays and a small evaluator that follows the
description step by step: encode the row, walk each tree or apply each dense layer, then the link and
the argmax. Every number is written exactly (hexadecimal floating constants, which C99 reads without
rounding), trees compare float32-rounded values as the description says, and everything else runs in
double precision, so the C student gives the Python student's classes and, to rounding, its
probabilities.

The generated code needs only ``<math.h>`` and ``<string.h>`` and compiles cleanly with
``cc -std=c99 -O2 -Wall -Wextra -pedantic -Werror``; link with ``-lm``. The API is described in the
header's opening comment (:func:`_header`).
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any, Iterable

import numpy as np

from tabcompress.errors import SettingError

SUFFIXES = (".c", ".h")

# ISO C99 compilers need accept string literals of only 4095 characters (-pedantic warns beyond it);
# longer texts are written as char arrays.
_MAX_LITERAL = 4000
# Numbers per line in the data arrays.
_PER_LINE = 4
# Trees are written as complete binary trees when there are at least _MIN_COMPLETE_TREES, no deeper
# than _MAX_COMPLETE_DEPTH, and padding them to the deepest one's depth multiplies their leaves by at
# most _MAX_PADDING; else node by node.
_MIN_COMPLETE_TREES = 4
_MAX_COMPLETE_DEPTH = 12
_MAX_PADDING = 4


def render(portable: dict[str, Any], name: str) -> dict[str, str]:
    """``{".c": source, ".h": header}`` for the student ``portable`` describes; ``name`` is the files' stem
    (``student`` → ``student.c``, ``student.h``, functions ``student_predict`` and so on)."""
    if any(ch in name for ch in '"\\\n\r') or not name:
        raise SettingError("out", f"{name!r}: a C file name cannot be empty or hold a quote, backslash or line break")
    return _Writer(portable, name).render()


def c_prefix(name: str) -> str:
    """The identifier the functions and arrays start with: ``name`` lower-cased, with every character
    that cannot be in a C identifier as ``_`` (``my-model`` → ``my_model``), ``model_`` before a digit."""
    prefix = re.sub(r"[^0-9A-Za-z_]", "_", name).lower().strip("_")
    if not prefix:
        return "model"
    return "model_" + prefix if prefix[0].isdigit() else prefix


def c_double(value: float) -> str:
    """``value`` as an exact C99 constant: a whole number as ``3.0``, others as hexadecimal floating
    constants (``0x1.8p-1``), infinities as ``HUGE_VAL``, NaN as ``(double)NAN`` (both from math.h)."""
    value = float(value)
    if math.isnan(value):
        return "(double)NAN"
    if math.isinf(value):
        return "HUGE_VAL" if value > 0 else "-HUGE_VAL"
    if value == int(value) and abs(value) < 2.0**53:
        sign = "-" if math.copysign(1.0, value) < 0 else ""
        return f"{sign}{abs(int(value))}.0"
    mantissa, exponent = value.hex().split("p")
    return mantissa.rstrip("0").rstrip(".") + "p" + exponent  # 0x1.8000000000000p+1 → 0x1.8p+1


def c_string(text: str) -> str:
    """``text`` as a C string literal of its UTF-8 bytes (printable ASCII as itself, the rest as octal
    escapes; ``?`` escaped so that no trigraph forms)."""
    out = []
    for byte in str(text).encode("utf-8"):
        char = chr(byte)
        if char in '"\\?':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def float32(value: float) -> float:
    """``value`` rounded to float32, as numpy's cast does (beyond float32's range: ±inf)."""
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def c_float(value: float) -> str:
    """A float32 value as an exact C99 float constant (``0x1.8p+1f``, ``HUGE_VALF``)."""
    text = c_double(value)
    if "NAN" in text or "HUGE_VAL" in text:
        return text.replace("(double)NAN", "NAN").replace("HUGE_VAL", "HUGE_VALF")
    return text + "f"


def float32_at_most(value: float) -> float:
    """The largest float32 not above ``value``: for every float32 z, ``z <= value`` exactly when
    ``z <= float32_at_most(value)``."""
    with np.errstate(over="ignore"):
        rounded = np.float32(value)
        if float(rounded) > value:  # compared in double (numpy would compare a float32 with a float in float32)
            rounded = np.nextafter(rounded, np.float32(-np.inf))
    return float(rounded)


def float32_at_least(value: float) -> float:
    """The smallest float32 not below ``value``: for every float32 z, ``z < value`` exactly when
    ``z < float32_at_least(value)``."""
    with np.errstate(over="ignore"):
        rounded = np.float32(value)
        if float(rounded) < value:
            rounded = np.nextafter(rounded, np.float32(np.inf))
    return float(rounded)


def _depth(tree: dict[str, list]) -> int:
    """The levels of splits on the longest path from the root (0 for a lone leaf)."""
    deepest, stack = 0, [(0, 0)]
    while stack:
        node, level = stack.pop()
        if tree["left"][node] < 0:
            deepest = max(deepest, level)
        else:
            stack += [(tree["left"][node], level + 1), (tree["right"][node], level + 1)]
    return deepest


def _preorder(tree: dict[str, list]) -> list[int]:
    """The nodes of a tree from its root, each followed by its left subtree, then its right."""
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if tree["left"][node] >= 0:
            stack += [tree["right"][node], tree["left"][node]]
    return order


def sorted_categories(categories: list[str]) -> list[tuple[bytes, int]]:
    """A column's categories as (UTF-8 text, code) in ``strcmp`` order (bytes, unsigned), each text
    once with its first code (the description matches a cell to the first category of that text)."""
    first: dict[bytes, int] = {}
    for code, text in enumerate(categories):
        first.setdefault(str(text).encode("utf-8"), code)
    return sorted(first.items())


class _Writer:
    def __init__(self, portable: dict[str, Any], name: str):
        self.p = portable
        self.name = name
        self.prefix = c_prefix(name)
        self.macro = self.prefix.upper()
        self.columns = portable["columns"]
        self.enc = portable["encoding"]
        self.model = portable["model"]
        self.out = portable["output"]
        self.regression = portable["task"] == "regression"
        self.classes = [] if self.regression else [str(c) for c in portable["classes"]]
        self.long_texts: list[str] = []  # char arrays of the texts too long for a literal
        self.n_numeric = len(self.enc["numeric"])
        s = self.enc["standardize"]
        self.indicators = [] if s is None else list(s["indicators"])
        self.n_categorical = len(self.enc["categorical"])
        self.onehot = self.enc["categories"] == "onehot"
        cat_columns = [self.columns[i] for i in self.enc["categorical"]]
        self.counts = [len(c["categories"]) for c in cat_columns]
        if self.onehot:
            missing = list(self.enc["missing_column"]) or [False] * self.n_categorical
            self.missing_column = [bool(m) for m in missing]
            widths = [n + int(m) for n, m in zip(self.counts, self.missing_column)]
        else:
            self.missing_column = [False] * self.n_categorical
            widths = [1] * self.n_categorical
        self.cat_at = self.n_numeric + len(self.indicators)
        self.block_at = [self.cat_at + sum(widths[:j]) for j in range(self.n_categorical)]
        self.n_z = self.cat_at + sum(widths)
        if self.model["kind"] == "trees":
            self.n_raw = int(self.model["n_outputs"])
        else:
            self.n_raw = len(self.model["layers"][-1]["bias"])

    # -- text helpers ------------------------------------------------------------------------------
    def text(self, text: str) -> str:
        """A C expression for a ``const char *`` holding ``text``."""
        if len(str(text).encode("utf-8")) <= _MAX_LITERAL:
            return c_string(text)
        self.long_texts.append(text)
        return f"long_text_{len(self.long_texts) - 1}"

    @staticmethod
    def array(ctype: str, name: str, values: Iterable[str], comment: str = "", per_line: int = _PER_LINE,
              static: bool = True) -> list[str]:
        values = list(values)
        lines = [f"/* {comment} */"] if comment else []
        lines.append(f"{'static ' if static else ''}const {ctype} {name}[{len(values)}] = {{")
        for start in range(0, len(values), per_line):
            lines.append("    " + ", ".join(values[start:start + per_line]) + ",")
        lines.append("};")
        return lines

    # -- the files ---------------------------------------------------------------------------------
    def render(self) -> dict[str, str]:
        body = self.source_body()  # first: it collects the long texts
        source = self.source_head() + [""] + self.long_text_arrays() + body
        return {".c": "\n".join(source) + "\n", ".h": "\n".join(self.header()) + "\n"}

    def header(self) -> list[str]:
        p, m = self.prefix, self.macro
        guard = f"TABCOMPRESS_{m}_H"
        task = "regression" if self.regression else f"classification, {len(self.classes)} classes"
        lines = [
            f"/* {self.name}.h: a tabcompress student ({self.p['family']}, {task}) in dependency-free C99.",
            " *",
            f" * Generated by tabcompress from the student's portable description. Compile {self.name}.c with any",
            " * C99 compiler and link the maths library:",
            f" *     cc -std=c99 -O2 -c {self.name}.c && cc -o app app.c {self.name}.o -lm",
            " * Do not compile it with -ffast-math (or -Ofast): missing values are NaN, which needs IEEE rules.",
            " *",
            f" * A row is an array of {m}_N_FEATURES doubles in {p}_feature_names order:",
            " *   - a numeric column: its value, or NAN (math.h) when missing;",
            f" *   - a categorical column ({p}_is_categorical[i] == 1): the code of its text,",
            f" *     {p}_category_code(i, text), which is -1 for a text the student never saw; NAN when missing.",
            " *     Categories are matched as text, exactly (case and spaces count); a whole number is written",
            " *     without a decimal point (\"2\", not \"2.0\"), as the student's categories are.",
            " *",
            f" * int {p}_category_code(int column, const char *value)",
            " *     The code of category `value` of column `column` (its index in feature order), or -1 when the",
            " *     student never saw it (or the column is not categorical). A binary search: fast on any count.",
        ]
        if self.regression:
            lines += [
                f" * double {p}_predict(const double *x)",
                " *     The predicted value of row x.",
            ]
        else:
            lines += [
                f" * int {p}_predict(const double *x)",
                f" *     The predicted class of row x, as an index into {p}_classes.",
                f" * void {p}_predict_proba(const double *x, double *proba)",
                f" *     Writes the {m}_N_CLASSES class probabilities of row x into proba, in {p}_classes order.",
            ]
        lines += [
            " * The functions keep no state and allocate nothing: they may be called from several threads.",
            " */",
            f"#ifndef {guard}",
            f"#define {guard}",
            "",
            "#ifdef __cplusplus",
            'extern "C" {',
            "#endif",
            "",
            "/* the columns of a row */",
            f"#define {m}_N_FEATURES {len(self.columns)}",
            "/* the number of classes; 0 for regression */",
            f"#define {m}_N_CLASSES {len(self.classes)}",
            "",
            "/* the column names, in the order a row holds them */",
            f"extern const char *const {p}_feature_names[{m}_N_FEATURES];",
            f"/* 1 where the column is categorical (its cell holds a code from {p}_category_code), else 0 */",
            f"extern const unsigned char {p}_is_categorical[{m}_N_FEATURES];",
            "",
            f"int {p}_category_code(int column, const char *value);",
            "",
        ]
        if self.regression:
            lines += [f"double {p}_predict(const double *x);"]
        else:
            lines += [
                f"/* the class labels, as text; {p}_predict returns an index into it */",
                f"extern const char *const {p}_classes[{m}_N_CLASSES];",
                "",
                f"int {p}_predict(const double *x);",
                f"void {p}_predict_proba(const double *x, double *proba);",
            ]
        lines += ["", "#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {guard} */"]
        return lines

    def source_head(self) -> list[str]:
        p = self.p
        return [
            f"/* {self.name}.c: a tabcompress student ({p['family']}, {p['task']}) in dependency-free C99; the API is",
            f" * described in {self.name}.h. Generated by tabcompress from the student's portable description:",
            " * the data are its numbers, written exactly (hexadecimal floating constants), the code a small",
            " * evaluator of it. */",
            "#include <math.h>",
            "#include <string.h>",
            "",
            f'#include "{self.name}.h"',
        ]

    def long_text_arrays(self) -> list[str]:
        lines = []
        for i, text in enumerate(self.long_texts):
            lines += self.array("char", f"long_text_{i}", [str(b) for b in str(text).encode("utf-8")] + ["0"],
                                per_line=20)
        return lines + ([""] if lines else [])

    def source_body(self) -> list[str]:
        lines = self.names_and_categories()
        lines += [""] + self.sizes()
        lines += [""] + self.encoder()
        lines += [""] + (self.trees() if self.model["kind"] == "trees" else self.dense())
        lines += [""] + self.outputs()
        return lines

    # -- columns and categories --------------------------------------------------------------------
    def names_and_categories(self) -> list[str]:
        p, m = self.prefix, self.macro
        lines = [f"const char *const {p}_feature_names[{m}_N_FEATURES] = {{"]
        lines += [f"    {self.text(c['name'])}," for c in self.columns]
        lines += ["};"]
        if not self.regression:
            lines += [f"const char *const {p}_classes[{m}_N_CLASSES] = {{"]
            lines += [f"    {self.text(c)}," for c in self.classes]
            lines += ["};"]
        categorical = [c["type"] == "categorical" for c in self.columns]
        lines += self.array("unsigned char", f"{p}_is_categorical", ["1" if c else "0" for c in categorical],
                            per_line=20, static=False)
        lines += ["", "/* Each categorical column's categories sorted as strcmp orders them, with their codes. */",
                  "struct category { const char *text; int code; };",
                  "struct category_table { const struct category *entries; int count; };"]
        tables = []
        for i, column in enumerate(self.columns):
            entries = sorted_categories(column["categories"]) if column["type"] == "categorical" else []
            if not entries:
                tables.append("{ 0, 0 }")
                continue
            lines += [f"static const struct category categories_{i}[{len(entries)}] = {{"]
            lines += [f"    {{ {self.text(text.decode('utf-8'))}, {code} }}," for text, code in entries]
            lines += ["};"]
            tables.append(f"{{ categories_{i}, {len(entries)} }}")
        lines += self.array("struct category_table", "category_tables", tables, per_line=1)
        lines += [
            "",
            f"int {p}_category_code(int column, const char *value)",
            "{",
            "    const struct category *entries;",
            "    int low = 0, high;",
            f"    if (column < 0 || column >= {m}_N_FEATURES || value == 0)",
            "        return -1;",
            "    entries = category_tables[column].entries;",
            "    high = category_tables[column].count - 1;",
            "    while (low <= high) {",
            "        int middle = low + (high - low) / 2;",
            "        int order = strcmp(value, entries[middle].text);",
            "        if (order == 0)",
            "            return entries[middle].code;",
            "        if (order < 0)",
            "            high = middle - 1;",
            "        else",
            "            low = middle + 1;",
            "    }",
            "    return -1;",
            "}",
        ]
        return lines

    def sizes(self) -> list[str]:
        return [
            "/* the vector z the model reads: numeric values, missing indicators, then categorical blocks */",
            f"#define TC_N_Z {max(self.n_z, 1)}",
            "/* the model's raw scores */",
            f"#define TC_N_RAW {self.n_raw}",
        ]

    # -- encoding ----------------------------------------------------------------------------------
    def encoder(self) -> list[str]:
        lines: list[str] = []
        body = ["static void encode(const double *x, double *z)", "{"]
        if self.n_numeric or self.n_categorical:
            body += ["    int k;"]
        s = self.enc["standardize"]
        if self.n_numeric:
            lines += self.array("int", "numeric_columns", [str(i) for i in self.enc["numeric"]],
                                "the numeric columns, in the order z holds them", per_line=16)
            if s is None:
                body += ["    for (k = 0; k < " + str(self.n_numeric) + "; ++k)",
                         "        z[k] = x[numeric_columns[k]];"]
            else:
                lines += self.array("double", "numeric_median", map(c_double, s["median"]),
                                    "a missing numeric value takes its column's median")
                body += [f"    for (k = 0; k < {self.n_numeric}; ++k) {{",
                         "        double v = x[numeric_columns[k]];",
                         "        z[k] = isnan(v) ? numeric_median[k] : v;",
                         "    }"]
        if s is not None and self.indicators:
            lines += self.array("int", "indicator_of", [str(i) for i in self.indicators],
                                "one 0/1 value per entry: whether numeric column numeric_columns[entry] is missing",
                                per_line=16)
            body += [f"    for (k = 0; k < {len(self.indicators)}; ++k)",
                     f"        z[{self.n_numeric} + k] = isnan(x[numeric_columns[indicator_of[k]]]) ? 1.0 : 0.0;"]
        if s is not None and self.cat_at:
            lines += self.array("double", "numeric_mean", map(c_double, s["mean"]), "then (v - mean) / scale")
            lines += self.array("double", "numeric_scale", map(c_double, s["scale"]))
            body += [f"    for (k = 0; k < {self.cat_at}; ++k)",
                     "        z[k] = (z[k] - numeric_mean[k]) / numeric_scale[k];"]
        if self.n_categorical:
            lines += self.array("int", "categorical_columns", [str(i) for i in self.enc["categorical"]],
                                "the categorical columns, in the order z holds them", per_line=16)
            lines += self.array("int", "category_count", [str(n) for n in self.counts],
                                "their numbers of categories (a valid code is below it)", per_line=16)
            if self.onehot:
                lines += self.array("int", "block_at", [str(a) for a in self.block_at],
                                    "where each one's one-hot block starts in z", per_line=16)
                lines += self.array("unsigned char", "missing_column", ["1" if m else "0" for m in self.missing_column],
                                    "whether its block ends with a 'missing' value", per_line=20)
                body += [f"    for (k = {self.cat_at}; k < {self.n_z}; ++k)",
                         "        z[k] = 0.0;",
                         f"    for (k = 0; k < {self.n_categorical}; ++k) {{",
                         "        double code = x[categorical_columns[k]];",
                         "        if (code >= 0.0 && code < category_count[k])",
                         "            z[block_at[k] + (int)code] = 1.0;",
                         "        else if (missing_column[k] && isnan(code))",
                         "            z[block_at[k] + category_count[k]] = 1.0;",
                         "    }"]
            else:
                body += [f"    for (k = 0; k < {self.n_categorical}; ++k) {{",
                         "        double code = x[categorical_columns[k]];  /* missing or unseen: NaN */",
                         f"        z[{self.cat_at} + k] = (code >= 0.0 && code < category_count[k]) ? (double)(int)code"
                         " : (double)NAN;",
                         "    }"]
        if not (self.n_numeric or self.n_categorical):
            body += ["    (void)x;", "    z[0] = 0.0;"]
        body += ["}"]
        return lines + [""] + body

    # -- models ------------------------------------------------------------------------------------
    def trees(self) -> list[str]:
        """The trees and their walk. Several trees: as complete binary trees in arrays when padding them
        to the deepest one's depth costs little (no child indices, and a fixed number of steps with no
        branch, so the processor overlaps the walks of successive trees: twice as fast on 100 trees).
        Otherwise node by node in preorder, with branches (faster on one tree, whose levels cannot overlap
        but whose branches the processor predicts)."""
        trees = self.model["trees"]
        depth = max([_depth(tree) for tree in trees] + [1])
        leaves = sum(sum(1 for left in tree["left"] if left < 0) for tree in trees)
        if (len(trees) >= _MIN_COMPLETE_TREES and depth <= _MAX_COMPLETE_DEPTH
                and len(trees) * 2**depth <= _MAX_PADDING * leaves):
            return self.complete_trees(depth)
        return self.preorder_trees()

    def tree_prelude(self) -> list[str]:
        return [
            "/* v rounded to float32 as IEEE 754 (and numpy) round it: beyond float32's range, +-inf (C99 leaves",
            " * converting a value out of a float's range undefined outside its Annex F) */",
            "static float float32(double v)",
            "{",
            "    if (v > 0x1.fffffep+127)",
            "        return v < 0x1.ffffffp+127 ? 0x1.fffffep+127f : HUGE_VALF;",
            "    if (v < -0x1.fffffep+127)",
            "        return v > -0x1.ffffffp+127 ? -0x1.fffffep+127f : -HUGE_VALF;",
            "    return (float)v;",
            "}",
            "",
        ] + self.array("double", "base", map(c_double, self.model["base"]), "the raw scores before any tree")

    def split_rule(self, less: bool) -> str:
        if less:
            return "z >= threshold (the description's float32 threshold)"
        return "z > threshold (the largest float32 not above the description's threshold: the same decisions)"

    def complete_trees(self, depth: int) -> list[str]:
        model = self.model
        less = model["compare"] == "<"
        n_splits, n_leaves = 2**depth - 1, 2**depth
        splits, values, trees = [], [], []
        for tree in model["trees"]:
            # A split under a leaf never decides (every leaf below it is that leaf): "always left".
            tree_splits = [("HUGE_VALF", "0", "0")] * n_splits
            width = len(next(v for v, left in zip(tree["value"], tree["left"]) if left < 0))
            tree_leaves: list = [None] * n_leaves
            stack = [(0, 0, 0)]  # node, position in the complete tree, level
            while stack:
                node, position, level = stack.pop()
                if tree["left"][node] < 0:
                    value = list(tree["value"][node])
                    if len(value) != width:
                        raise ValueError("a tree's leaves must all hold the same number of values")
                    first, span = position, 1
                    for _ in range(depth - level):
                        first, span = 2 * first + 1, 2 * span
                    tree_leaves[first - n_splits:first - n_splits + span] = [value] * span
                    continue
                threshold = float(tree["threshold"][node])
                threshold = float32_at_least(threshold) if less else float32_at_most(threshold)
                tree_splits[position] = (c_float(threshold), str(int(tree["feature"][node])),
                                         "0" if tree["missing_left"][node] else "1")
                stack += [(tree["left"][node], 2 * position + 1, level + 1),
                          (tree["right"][node], 2 * position + 2, level + 1)]
            trees.append((int(tree.get("output", 0)), width, len(values)))
            splits += tree_splits
            values += [v for leaf in tree_leaves for v in leaf]
        single = all(w == 1 for _, w, _ in trees)
        lines = [
            f"/* The trees as complete binary trees of depth {depth}, {n_splits} splits each: split i's children",
            f" * are splits 2i + 1 and 2i + 2, or, from {n_splits} on, leaves. A split sends a row right when",
            f" * {self.split_rule(less)},",
            " * z rounded to float32, or when z is NaN and missing_right; else left. A leaf above the last",
            " * level fills every leaf below it. */",
            "struct split { float threshold; int feature; int missing_right; };",
            "struct tree { int output; int width; int leaves; };",
            f"#define TC_DEPTH {depth}",
            f"#define TC_SPLITS {n_splits}",
            f"static const struct split splits[{len(splits)}] = {{",
        ]
        lines += [f"    {{ {t}, {f}, {m} }}," for t, f, m in splits]
        lines += ["};"]
        lines += self.array("double", "leaf_values", map(c_double, values))
        lines += self.array("struct tree", "trees", [f"{{ {o}, {w}, {at} }}" for o, w, at in trees],
                            "each tree: the first raw score it adds to, how many, where its leaves start",
                            per_line=4)
        lines += self.raw_scores_opening(len(trees)) + [
            "        const struct split *split = splits + t * TC_SPLITS;",
            "        int i = 0, level;",
            "        for (level = 0; level < TC_DEPTH; ++level) {  /* no branch: v != v is 1 when v is NaN */",
            "            float v = zf[split[i].feature];",
            f"            i = 2 * i + 1 + ((v {'>=' if less else '>'} split[i].threshold) | "
            "((v != v) & split[i].missing_right));",
            "        }",
        ]
        if single:
            lines += ["        raw[trees[t].output] += leaf_values[trees[t].leaves + i - TC_SPLITS];"]
        else:
            lines += ["        for (k = 0; k < trees[t].width; ++k)",
                      "            raw[trees[t].output + k] += leaf_values[trees[t].leaves + (i - TC_SPLITS) * "
                      "trees[t].width + k];"]
        lines += ["    }", "}"]
        return lines

    def raw_scores_opening(self, n_trees: int) -> list[str]:
        """The prelude and ``raw_scores``'s lines up to the body of its loop over the trees."""
        return [""] + self.tree_prelude() + [
            "",
            "static void raw_scores(const double *z, double *raw)",
            "{",
            "    float zf[TC_N_Z];",
            "    int k, t;",
            "    for (k = 0; k < TC_N_Z; ++k)",
            "        zf[k] = float32(z[k]);  /* as scikit-learn and XGBoost read their inputs */",
            "    for (k = 0; k < TC_N_RAW; ++k)",
            "        raw[k] = base[k];",
            f"    for (t = 0; t < {n_trees}; ++t) {{",
        ]

    def preorder_trees(self) -> list[str]:
        model = self.model
        less = model["compare"] == "<"
        nodes, values, trees = [], [], []
        for tree in model["trees"]:
            start = len(nodes)
            order = _preorder(tree)  # a node's left child right after it: no left index to store
            position = {n: start + k for k, n in enumerate(order)}
            width = None
            for n in order:
                if tree["left"][n] < 0:
                    value = tree["value"][n]
                    width = len(value) if width is None else width
                    if len(value) != width:
                        raise ValueError("a tree's leaves must all hold the same number of values")
                    nodes.append(("0.0f", "-1", "0", str(len(values))))  # right: where the values start
                    values.extend(value)
                    continue
                threshold = float(tree["threshold"][n])
                # the float32 that takes the same decisions on float32 values as the description's threshold
                threshold = float32_at_least(threshold) if less else float32_at_most(threshold)
                nodes.append((c_float(threshold), str(int(tree["feature"][n])),
                              "0" if tree["missing_left"][n] else "1", str(position[tree["right"][n]])))
            trees.append((start, int(tree.get("output", 0)), width or 0))
        if not trees:
            trees.append((0, 0, 0))
            nodes.append(("0.0f", "-1", "0", "0"))
            values.append(0.0)
        single = all(w == 1 for _, _, w in trees)
        lines = [
            "/* The trees' nodes, each tree in preorder: a node's left child comes right after it. A split sends",
            f" * a row right when {self.split_rule(less)},",
            " * z rounded to float32, or when z is NaN and missing_right; else left. A leaf has feature -1, and",
            " * right is where its values start in leaf_values. */",
            "struct node { float threshold; int feature; int missing_right; int right; };",
            "struct tree { int root; int output; int width; };",
            f"static const struct node nodes[{len(nodes)}] = {{",
        ]
        lines += [f"    {{ {t}, {f}, {m}, {right} }}," for t, f, m, right in nodes]
        lines += ["};"]
        lines += self.array("double", "leaf_values", map(c_double, values))
        lines += self.array("struct tree", "trees", [f"{{ {r}, {o}, {w} }}" for r, o, w in trees],
                            "each tree: its root node, the first raw score it adds to and how many", per_line=4)
        lines += self.raw_scores_opening(len(trees)) + [
            "        const struct node *node = nodes + trees[t].root;",
            "        while (node->feature >= 0) {",
            "            float v = zf[node->feature];",
            f"            if (v {'>=' if less else '>'} node->threshold || (isnan(v) && node->missing_right))",
            "                node = nodes + node->right;",
            "            else",
            "                ++node;",
            "        }",
        ]
        if single:
            lines += ["        raw[trees[t].output] += leaf_values[node->right];"]
        else:
            lines += ["        for (k = 0; k < trees[t].width; ++k)",
                      "            raw[trees[t].output + k] += leaf_values[node->right + k];"]
        lines += ["    }", "}"]
        return lines

    def dense(self) -> list[str]:
        layers = self.model["layers"]
        lines = ["/* Dense layers: h = h . weight + bias, ReLU between layers. Weights row by row: row i holds",
                 " * the weights from input i to every output. */"]
        widest = max([self.n_z] + [len(layer["bias"]) for layer in layers])
        calls = []
        for n, layer in enumerate(layers):
            n_in, n_out = len(layer["weight"]), len(layer["bias"])
            flat = [w for row in layer["weight"] for w in row]
            if n_in * n_out:
                lines += self.array("double", f"weight_{n}", map(c_double, flat))
            lines += self.array("double", f"bias_{n}", map(c_double, layer["bias"]))
            source = "z" if n == 0 else f"h{(n - 1) % 2}"
            target = "raw" if n == len(layers) - 1 else f"h{n % 2}"
            weight = f"weight_{n}" if n_in * n_out else "0"
            calls.append(f"    dense({source}, {n_in}, {weight}, bias_{n}, {n_out}, "
                         f"{int(n < len(layers) - 1)}, {target});")
        buffers = [f"h{k}" for k in range(min(2, len(layers) - 1))]
        lines += [
            "",
            "static void dense(const double *in, int n_in, const double *weight, const double *bias, int n_out,",
            "                  int relu, double *restrict out)",
            "{",
            "    int i, j;",
            "    for (j = 0; j < n_out; ++j)",
            "        out[j] = 0.0;",
            "    for (i = 0; i < n_in; ++i) {",
            "        const double v = in[i];",
            "        const double *w = weight + (long)i * n_out;",
            "        if (v == 0.0)",
            "            continue;  /* mostly one-hot zeros: adding 0 * w changes no sum */",
            "        for (j = 0; j < n_out; ++j)",
            "            out[j] += v * w[j];",
            "    }",
            "    for (j = 0; j < n_out; ++j) {",
            "        out[j] += bias[j];",
            "        if (relu && out[j] < 0.0)",
            "            out[j] = 0.0;",
            "    }",
            "}",
            "",
            "static void raw_scores(const double *z, double *raw)",
            "{",
        ]
        if buffers:
            lines += [f"    double {', '.join(f'{b}[{widest}]' for b in buffers)};"]
        lines += calls + ["}"]
        return lines

    # -- output ------------------------------------------------------------------------------------
    def outputs(self) -> list[str]:
        p = self.prefix
        out = self.out
        lines = [
            "static void scores(const double *x, double *raw)",
            "{",
            "    double z[TC_N_Z];",
            "    encode(x, z);",
            "    raw_scores(z, raw);",
            "}",
            "",
        ]
        if self.regression:
            return lines + [
                f"double {p}_predict(const double *x)",
                "{",
                "    double raw[TC_N_RAW];",
                "    scores(x, raw);",
                f"    return raw[0] * {c_double(out['scale'])} + {c_double(out['shift'])};",
                "}",
            ]
        n = len(self.classes)
        link = out["link"]
        lines += ["/* raw scores -> class probabilities */",
                  "static void probabilities(const double *raw, double *proba)", "{"]
        if link == "normalize":
            lines += [
                "    double total = 0.0;",
                "    int k;",
                f"    for (k = 0; k < {n}; ++k) {{",
                "        proba[k] = raw[k] < 0.0 ? 0.0 : raw[k];",
                "        total += proba[k];",
                "    }",
                f"    for (k = 0; k < {n}; ++k)",
                f"        proba[k] = total > 0.0 ? proba[k] / total : 1.0 / {n};",
            ]
        elif link == "sigmoid":
            lines += [
                "    double p = 1.0 / (1.0 + exp(-raw[0]));",
                "    proba[0] = 1.0 - p;",
                "    proba[1] = p;",
            ]
        elif link == "softmax":
            lines += [
                "    double top = raw[0], total = 0.0;",
                "    int k;",
                f"    for (k = 1; k < {n}; ++k)",
                "        if (raw[k] > top)",
                "            top = raw[k];",
                f"    for (k = 0; k < {n}; ++k) {{",
                "        proba[k] = exp(raw[k] - top);",
                "        total += proba[k];",
                "    }",
                f"    for (k = 0; k < {n}; ++k)",
                "        proba[k] /= total;",
            ]
        else:
            raise ValueError(f"unknown link {link!r} for a classifier")
        lines += ["}", ""]
        lines += [
            f"void {p}_predict_proba(const double *x, double *proba)",
            "{",
            "    double raw[TC_N_RAW];",
            "    scores(x, raw);",
            "    probabilities(raw, proba);",
            "}",
            "",
            "/* the first index of the largest value */",
            "static int argmax(const double *v, int n)",
            "{",
            "    int k, best = 0;",
            "    for (k = 1; k < n; ++k)",
            "        if (v[k] > v[best])",
            "            best = k;",
            "    return best;",
            "}",
            "",
            f"int {p}_predict(const double *x)",
            "{",
            "    double raw[TC_N_RAW];",
            "    scores(x, raw);",
        ]
        if out["argmax"] == "raw":
            lines += ["    return argmax(raw, TC_N_RAW);"]
        else:
            lines += ["    {", f"        double proba[{n}];", "        probabilities(raw, proba);",
                      f"        return argmax(proba, {n});", "    }"]
        return lines + ["}"]
