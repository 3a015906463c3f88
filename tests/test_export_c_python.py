"""Export to C and to Python: every family on a binary, a multiclass and a regression slice, the exported
student against the Python student, row by row.

The rows include what the training rows did not: unseen categories, missing cells in every column,
values on and next to the trees' thresholds (in double and in float32), and, for the boosted trees,
values beyond float32's range. Categories include quotes, a question-mark trigraph, a backslash,
non-ASCII text and a text longer than C99's 4095-character literal limit. The C source is compiled
with ``-std=c99 -O2 -Wall -Wextra -pedantic -Werror`` together with a driver that reads the rows as
text and encodes the categories with the generated ``category_code``; the Python file runs in process
and in a subprocess where numpy cannot be imported.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabcompress.export.c_format import c_double, c_prefix, c_string
from tabcompress.export.formats import export_student
from tabcompress.students.portable import category_text
from tabcompress.students.registry import make_student

FAMILIES = {"tree": {"max_depth": 5, "random_state": 0},
            "gbdt": {"n_trees": 12, "max_depth": 3, "random_state": 0},
            "linear": {},
            "mlp": {"max_epochs": 5, "hidden": (8,), "random_state": 0, "device": "cpu"}}
DATASETS = ("bank", "covertype", "california")
CC = shutil.which("cc")
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror"]
STEM = "my-student"  # the C prefix becomes my_student
#: how far the exported probabilities (and regression values, relative) may be from the Python student's
TOLERANCE = 1e-12
ODD = 'odd "quoted" ??/ back\\slash é'  # a category C must escape (??/ is a trigraph)
LONG = "long category " + "x" * 5000  # beyond C99's 4095-character literal limit

DRIVER = r"""
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "my-student.h"

/* Reads rows, one a line, tab-separated cells: "M" missing, "N<number>" or "T<text>" (a category). Prints
 * per row the class index and the probabilities (or the value), or with arguments B [S], the median over
 * B blocks of S calls (64) of the thread's CPU nanoseconds per call of my_student_predict. */
#define MAX_ROWS 4096
static double rows[MAX_ROWS][MY_STUDENT_N_FEATURES];
static char line[1 << 16];

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    FILE *in = fopen(argv[1], "r");
    int n = 0, i, k;
    if (!in)
        return 2;
    while (n < MAX_ROWS && fgets(line, sizeof line, in)) {
        char *cell = line;
        line[strcspn(line, "\n")] = 0;
        for (k = 0; k < MY_STUDENT_N_FEATURES; ++k) {
            char *end = strchr(cell, '\t');
            if (end)
                *end = 0;
            if (cell[0] == 'M')
                rows[n][k] = NAN;
            else if (my_student_is_categorical[k])
                rows[n][k] = my_student_category_code(k, cell + 1);
            else
                rows[n][k] = strtod(cell + 1, 0);
            cell = end ? end + 1 : cell + strlen(cell);
        }
        ++n;
    }
    fclose(in);
    if (argc > 2) {  /* timing: blocks of `size` calls, cycling through the rows; the median block */
        int blocks = atoi(argv[2]), size = argc > 3 ? atoi(argv[3]) : 64, b, at = 0;
        double *times = malloc(sizeof(double) * blocks), sink = 0.0;
        for (b = 0; b < blocks; ++b) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);  /* this thread's time: not others' on the machine */
            for (i = 0; i < size; ++i, at = (at + 1) % n)
                sink += my_student_predict(rows[at]);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
            times[b] = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / size;
        }
        qsort(times, blocks, sizeof(double), compare);
        printf("%.1f %g\n", times[blocks / 2], sink);
        free(times);
        return 0;
    }
    for (i = 0; i < n; ++i) {
#if MY_STUDENT_N_CLASSES > 0
        double proba[MY_STUDENT_N_CLASSES];
        printf("%d", my_student_predict(rows[i]));
        my_student_predict_proba(rows[i], proba);
        for (k = 0; k < MY_STUDENT_N_CLASSES; ++k)
            printf(" %.17g", proba[k]);
        printf("\n");
#else
        printf("%.17g\n", my_student_predict(rows[i]));
#endif
    }
    return 0;
}
"""


# -- data ------------------------------------------------------------------------------------------
def _prepare(name: str, frame: pd.DataFrame) -> dict:
    """Training rows (with missing cells and odd categories added) and how to fit on them."""
    X = frame.drop(columns="target").reset_index(drop=True)
    y = frame["target"].to_numpy()
    categorical = [c for c in X.columns if X[c].dtype == object]
    if name == "bank":
        X["age"] = X["age"].astype(float)
        X.loc[X.index[::13], "balance"] = np.nan
        X.loc[X.index[::17], "age"] = np.nan
        X.loc[X.index[::11], "job"] = None
        X.loc[X.index[3::50], "job"] = ODD
        X.loc[X.index[4], "education"] = LONG
    if name == "covertype":
        categorical.append("Soil_Type")  # whole-number categories, matched as text ("7202")
    fit = {"categorical": categorical}
    if name == "california":
        targets = y.astype(float)
    else:
        classes = np.unique(y)
        targets = (y[:, None] == classes).astype(float) * 0.8 + 0.2 / len(classes)  # smoothed one-hot
        fit["classes"] = classes
    return {"X": X, "targets": targets, "fit": fit, "categorical": categorical}


def _test_rows(data: dict, student) -> pd.DataFrame:
    """300 training rows, then the same with unseen categories and missing cells, then rows on and next
    to the trees' thresholds and, for the boosted trees, beyond float32's range."""
    X, categorical = data["X"], data["categorical"]
    base = X.iloc[:300].copy()
    for column in categorical:
        base[column] = base[column].astype(object)
    numeric = [c for c in X.columns if c not in categorical]
    for column in numeric:
        base[column] = base[column].astype(float)
    odd = base.copy()
    for j, column in enumerate(X.columns):
        rows = odd.index[j % 5::5]
        if column in categorical:
            odd.loc[odd.index[j % 7::7], column] = "never seen"
            odd.loc[rows, column] = None
        else:
            odd.loc[rows, column] = np.nan
    for column in categorical:  # whole-number categories as floats (7202.0), as pandas reads them beside NaN
        rows = [i for i in odd.index[1::4] if isinstance(odd.at[i, column], int)]
        odd.loc[rows, column] = [float(odd.at[i, column]) for i in rows]
    odd.loc[odd.index[::3], X.columns] = None  # all missing: every default path at once
    edges = []
    description = student.portable()
    model = description["model"]
    if model["kind"] == "trees":
        numeric_z = description["encoding"]["numeric"]  # z[f] for f < len: column numeric_z[f], raw
        splits = [(tree["feature"][n], tree["threshold"][n]) for tree in model["trees"][:12]
                  for n in range(min(len(tree["left"]), 7)) if tree["left"][n] >= 0]
        for feature, threshold in splits:
            if feature >= len(numeric_z):
                continue
            column = X.columns[numeric_z[feature]]
            t32 = np.float32(threshold)
            for value in {threshold, math.nextafter(threshold, -math.inf), math.nextafter(threshold, math.inf),
                          float(np.nextafter(t32, np.float32(-np.inf))), float(np.nextafter(t32, np.float32(np.inf))),
                          (threshold + float(np.nextafter(t32, np.float32(np.inf)))) / 2}:
                row = base.iloc[len(edges) % len(base)].copy()
                row[column] = value
                edges.append(row)
        if model["compare"] == "<":  # XGBoost's input: any float, rounded to float32 (±inf beyond its range)
            f32max, midpoint = float(np.finfo(np.float32).max), float.fromhex("0x1.ffffffp+127")  # rounds to inf
            for k, value in enumerate((1e39, -1e39, f32max, math.nextafter(f32max, math.inf), midpoint, -midpoint,
                                       math.nextafter(midpoint, 0), -math.nextafter(midpoint, 0), math.inf,
                                       -math.inf, 1e-46)):
                row = base.iloc[k].copy()
                row[numeric[k % len(numeric)]] = value
                edges.append(row)
    return pd.concat([base, odd, pd.DataFrame(edges)], ignore_index=True)


def _cells(frame: pd.DataFrame) -> list[list]:
    """The rows as plain cells: numbers, text, None for missing."""
    return frame.astype(object).where(frame.notna(), None).values.tolist()


@pytest.fixture(scope="module")
def frames(bank, covertype, california):
    return {"bank": bank, "covertype": covertype, "california": california}


_FITTED: dict = {}


@pytest.fixture
def case(request, frames):
    """(student, test rows, expected classes or values, expected probabilities or None)."""
    family, dataset = request.param
    if (family, dataset) not in _FITTED:
        data = _prepare(dataset, frames[dataset])
        student = make_student(family, **FAMILIES[family]).fit(data["X"], data["targets"], **data["fit"])
        rows = _test_rows(data, student)
        with np.errstate(over="ignore", invalid="ignore"):
            predicted = student.predict(rows)
            proba = None if student.task_ == "regression" else student.predict_proba(rows)
        _FITTED[family, dataset] = (student, rows, predicted, proba)
    return _FITTED[family, dataset]


CASES = [(family, dataset) for family in FAMILIES for dataset in DATASETS]
IDS = [f"{family}-{dataset}" for family, dataset in CASES]


def _check(student, predicted, proba, got_predicted, got_proba) -> None:
    if proba is None:
        np.testing.assert_allclose(np.asarray(got_predicted, dtype=float), predicted, rtol=TOLERANCE, atol=0)
        return
    assert list(got_predicted) == list(predicted)  # every class
    np.testing.assert_allclose(np.asarray(got_proba, dtype=float), proba, rtol=0, atol=TOLERANCE)


# -- C ---------------------------------------------------------------------------------------------
def _write_rows(path: Path, frame: pd.DataFrame, categorical: list[str]) -> None:
    lines = []
    for cells in _cells(frame):
        out = []
        for column, cell in zip(frame.columns, cells):
            if cell is None or (isinstance(cell, float) and math.isnan(cell)):
                out.append("M")
            elif column in categorical:
                out.append("T" + category_text(cell))  # the text a C program is to pass
            else:
                out.append("N" + repr(float(cell)))
        lines.append("\t".join(out))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def compile_c(student, directory: Path) -> Path:
    """Export ``student`` to C in ``directory``, compile it and the driver; the driver's path."""
    paths = export_student(student, "c", directory / f"{STEM}.c")
    assert [p.name for p in paths] == [f"{STEM}.c", f"{STEM}.h"]
    (directory / "driver.c").write_text(DRIVER)
    for source in (f"{STEM}.c", "driver.c"):
        done = subprocess.run([CC, *CFLAGS, "-c", source], cwd=directory, capture_output=True, text=True)
        assert done.returncode == 0, f"{source} does not compile cleanly:\n{done.stderr[:4000]}"
    done = subprocess.run([CC, "-o", "driver", "driver.o", f"{STEM}.o", "-lm"], cwd=directory,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return directory / "driver"


@pytest.mark.skipif(CC is None, reason="no C compiler (cc) on this machine: the C export is not compiled")
@pytest.mark.parametrize("case", CASES, ids=IDS, indirect=True)
def test_c_export_matches_the_student(case, tmp_path):
    _check_c(*case, tmp_path)


# Several trees are written as complete binary trees and one tree node by node (c_format.trees); each
# layout the other way round.
OTHER_LAYOUT = [("gbdt", "covertype"), ("gbdt", "california"), ("tree", "covertype"), ("tree", "bank")]


@pytest.mark.skipif(CC is None, reason="no C compiler (cc) on this machine: the C export is not compiled")
@pytest.mark.parametrize("case", OTHER_LAYOUT, ids=[f"{f}-{d}" for f, d in OTHER_LAYOUT], indirect=True)
def test_c_export_matches_the_student_in_the_other_tree_layout(case, tmp_path, monkeypatch):
    from tabcompress.export import c_format

    complete = case[0].name == "gbdt"
    monkeypatch.setattr(c_format, "_MIN_COMPLETE_TREES", 10**9 if complete else 1)
    monkeypatch.setattr(c_format, "_MAX_PADDING", 10**9)
    _check_c(*case, tmp_path)
    source = (tmp_path / f"{STEM}.c").read_text()
    assert ("struct node" in source) == complete and ("struct split" in source) != complete


def _check_c(student, rows, predicted, proba, tmp_path) -> None:
    driver = compile_c(student, tmp_path)
    categorical = [c["name"] for c in student.portable()["columns"] if c["type"] == "categorical"]
    _write_rows(tmp_path / "rows.txt", rows, categorical)
    done = subprocess.run([str(driver), "rows.txt"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    assert len(lines) == len(rows)
    if proba is None:
        _check(student, predicted, None, [float(line[0]) for line in lines], None)
    else:
        classes = list(student.classes_)
        _check(student, predicted, proba, [classes[int(line[0])] for line in lines],
               [[float(v) for v in line[1:]] for line in lines])


# -- Python ----------------------------------------------------------------------------------------
def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"exported_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NO_NUMPY = """
import importlib.util, json, sys
sys.modules["numpy"] = None  # import numpy now fails
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
rows = json.load(open(sys.argv[2]))
proba = None if module.CLASSES is None else module.predict_proba_many(rows)
print(json.dumps({"predicted": module.predict_many(rows), "proba": proba,
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "pandas"))}))
"""


@pytest.mark.parametrize("case", CASES, ids=IDS, indirect=True)
def test_python_export_matches_the_student(case, tmp_path):
    student, rows, predicted, proba = case
    (path,) = export_student(student, "python", tmp_path / "student.py")
    source = path.read_text(encoding="utf-8")
    ast.parse(source, feature_version=(3, 8))  # the grammar of Python 3.8
    module = _load(path)
    assert list(module.FEATURES) == list(student.feature_names_in_)
    cells = _cells(rows)
    # half the rows as sequences, half as dicts by column name
    as_given = [row if i % 2 else dict(zip(module.FEATURES, row)) for i, row in enumerate(cells)]
    if proba is None:
        assert module.CLASSES is None
        _check(student, predicted, None, module.predict_many(as_given), None)
        with pytest.raises(TypeError):
            module.predict_proba(cells[0])
    else:
        assert list(module.CLASSES) == list(student.classes_)
        _check(student, predicted, proba, module.predict_many(as_given), module.predict_proba_many(as_given))
        assert module.predict(cells[0]) == predicted[0]
        assert module.predict_proba(cells[0]) == pytest.approx(list(proba[0]), rel=0, abs=TOLERANCE)

    # the same without numpy, in a fresh interpreter
    (tmp_path / "rows.json").write_text(json.dumps(cells))
    done = subprocess.run([sys.executable, "-c", NO_NUMPY, str(path), "rows.json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["modules"] == ["numpy"]  # only the blocking None entry: nothing imported it
    _check(student, predicted, proba, out["predicted"], out["proba"])


def test_python_export_reads_rows_as_documented(frames, tmp_path):
    data = _prepare("bank", frames["bank"])
    student = make_student("tree", max_depth=4, random_state=0).fit(data["X"], data["targets"], **data["fit"])
    (path,) = export_student(student, "python", tmp_path / "tree.py")
    module = _load(path)
    row = dict(zip(module.FEATURES, _cells(data["X"].iloc[:1])[0]))
    assert module.CATEGORICAL["job"][0] == str(student.encoder_.categories_[0][0])
    expected = module.predict(row)
    assert module.predict(pd.Series(row)) == expected  # a pandas Series by name
    assert module.predict({**row, "extra": 1}) == expected  # other keys are ignored
    assert module.predict({**row, "age": float("nan")}) == module.predict({**row, "age": None})
    with pytest.raises(KeyError, match="no column 'job'"):
        module.predict({k: v for k, v in row.items() if k != "job"})
    with pytest.raises(ValueError, match="one per feature"):
        module.predict(list(row.values())[:-1])
    for value in (2, 2.0, -3.0, np.float32(2.0), np.int64(3), np.float64(4.0), 0.1, np.float32(0.1), True,
                  np.bool_(False), "x", " 2", 1e20, 1e300, math.inf, -0.0):
        assert module._category_text(value) == category_text(value), value


# -- a description written by hand: thresholds between float32 values -----------------------------
class _Described:
    """Stands for a student: export_student only asks it for its portable description."""

    def __init__(self, description: dict):
        self.description = description

    def portable(self) -> dict:
        return self.description


def _tree(compare: str) -> dict:
    """x <= 0.1 (a double between two float32 values, nearer the one above): 1; else x <= 0.7 (nearer the
    float32 below): 2; else the category's code <= 0.5: 3, else 4. NaN goes left at the root, right below
    it. With ``compare`` "<", x < 0.1 and x < 0.7: not float32 thresholds as XGBoost's are, but the
    description says what they mean."""
    return {"feature": [0, -1, 0, -1, 1, -1, -1], "threshold": [0.1, 0.0, 0.7, 0.0, 0.5, 0.0, 0.0],
            "missing_left": [True, True, False, True, False, True, True], "left": [1, -1, 3, -1, 5, -1, -1],
            "right": [2, -1, 4, -1, 6, -1, -1], "value": [[0.0], [1.0], [0.0], [2.0], [0.0], [3.0], [4.0]],
            "output": 0}


@pytest.mark.parametrize("compare", ["<=", "<"])
@pytest.mark.parametrize("layout", ["node by node", "complete"])
def test_exports_decide_as_the_description_next_to_thresholds(compare, layout, tmp_path, monkeypatch):
    from tabcompress.export import c_format
    from tabcompress.students import portable

    monkeypatch.setattr(c_format, "_MIN_COMPLETE_TREES", 1 if layout == "complete" else 10**9)
    description = {
        "format": portable.FORMAT, "version": portable.VERSION, "family": "tree", "task": "regression",
        "classes": None,
        "columns": [{"name": "x", "type": "numeric", "categories": []},
                    {"name": "c", "type": "categorical", "categories": ["a", "b"]}],
        "encoding": {"numeric": [0], "categorical": [1], "standardize": None, "categories": "ordinal",
                     "missing_column": []},
        "model": {"kind": "trees", "compare": compare, "n_outputs": 1, "base": [0.5],
                  "trees": [_tree(compare), _tree(compare)]},
        "output": {"link": "identity", "argmax": "probabilities", "scale": 10.0, "shift": 0.25}}
    xs = []
    for t in (0.1, 0.7):
        t32 = np.float32(t)  # the nearest float32: above 0.1, below 0.7
        xs += [t, math.nextafter(t, -math.inf), math.nextafter(t, math.inf), float(t32),
               float(np.nextafter(t32, np.float32(-np.inf))), float(np.nextafter(t32, np.float32(np.inf)))]
    xs += [None, math.inf, -math.inf, 1e39, -1e39, 0.0]
    rows = [[x, c] for x in xs for c in ("a", "b", "never seen", None)]
    with np.errstate(over="ignore"):
        expected, _ = portable.predict(description, rows)
    assert len(set(expected)) == 4  # every leaf reached

    (path,) = export_student(_Described(description), "python", tmp_path / "student.py")
    assert _load(path).predict_many(rows) == expected
    if CC is None:
        return
    driver = compile_c(_Described(description), tmp_path)
    frame = pd.DataFrame(rows, columns=["x", "c"])
    _write_rows(tmp_path / "rows.txt", frame, ["c"])
    done = subprocess.run([str(driver), "rows.txt"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert [float(v) for v in done.stdout.split()] == expected


# -- pieces of the C writer ------------------------------------------------------------------------
def test_c_names_numbers_and_texts():
    assert c_prefix("student") == "student" and c_prefix("My-Model.v2") == "my_model_v2"
    assert c_prefix("2024 model") == "model_2024_model" and c_prefix("--") == "model"
    assert [c_double(v) for v in (3.0, -0.0, 0.5, 0.1, math.inf, -math.inf)] == [
        "3.0", "-0.0", "0x1p-1", "0x1.999999999999ap-4", "HUGE_VAL", "-HUGE_VAL"]
    assert c_double(math.nan) == "(double)NAN" and float.fromhex(c_double(1 / 3)) == 1 / 3
    assert c_string('a"b\\c??/é\n') == '"a\\"b\\\\c\\?\\?/\\303\\251\\012"'


def test_c_export_refuses_a_name_it_cannot_include(tmp_path):
    from tabcompress.errors import SettingError
    from tabcompress.export import c_format

    with pytest.raises(SettingError, match="quote"):
        c_format.render({}, 'bad"name')
