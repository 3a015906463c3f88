"""The light runtime: loading a student and predicting imports neither torch, ctgan, rich, scikit-learn,
scipy nor XGBoost, and importing the student classes imports none of them, nor pandas.

Each family is fitted here, saved as a run saves it (write_outputs, joblib), then loaded in a fresh
process in which those modules cannot be imported (``sys.modules[name] = None`` makes ``import name``
raise ImportError); its predictions there must be those made here, to the bit. The fitted tree
student holds plain arrays and routes rows itself: it must predict exactly what the scikit-learn tree
it was compiled from predicts.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import DATA

from tabcompress.students import GBDTStudent, LinearStudent, MLPStudent, TreeStudent
from tabcompress.students.encoding import TabularEncoder

#: what loading a student and predicting must not import
HEAVY = ("torch", "ctgan", "rich", "sklearn", "scipy", "xgboost")
STUDENT_MODULES = ("tabcompress.students.base", "tabcompress.students.encoding", "tabcompress.students.tree",
                   "tabcompress.students.gbdt", "tabcompress.students.linear", "tabcompress.students.mlp",
                   "tabcompress.students.portable")


def _python(code: str, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_importing_the_student_classes_imports_nothing_heavy():
    code = (
        "import importlib, json, sys\n"
        f"for name in {STUDENT_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "from tabcompress.students import GBDTStudent, LinearStudent, MLPStudent, TreeStudent\n"
        "from tabcompress.registry import STUDENTS\n"
        "STUDENTS.classes()\n"
        "from tabcompress.export import load_student\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert not loaded & {*HEAVY, "pandas", "joblib", "skops"}, loaded & {*HEAVY, "pandas", "joblib", "skops"}


# -- load and predict in a process that cannot import the heavy modules --------------------------

BLOCKED_PREDICT = f"""
import sys
for name in {HEAVY!r}:
    sys.modules[name] = None  # import name → ImportError
import numpy as np
import pandas as pd
from tabcompress.export import load_student

student = load_student(sys.argv[1])
rows = pd.read_csv(sys.argv[2])
out = {{"predict": student.predict(rows), "predict_one": student.predict(rows.head(1))}}
if student.task_ != "regression":
    out["proba"] = student.predict_proba(rows)
if hasattr(student, "leaf_ids"):
    out["leaves"] = student.leaf_ids(rows)
np.savez(sys.argv[3], **out)
imported = sorted(name for name in {HEAVY!r} if sys.modules.get(name) is not None)
assert not imported, imported
"""

FAMILIES = {
    "tree": lambda: TreeStudent(max_depth=5, random_state=0),
    "tree-refined": lambda: TreeStudent(max_depth=4, refine=True, random_state=0),
    "gbdt": lambda: GBDTStudent(n_trees=10, max_depth=3, random_state=0),
    "linear": lambda: LinearStudent(),
    "mlp": lambda: MLPStudent(hidden=(8,), max_epochs=5, device="cpu", random_state=0),
}


def _soft_targets(frame: pd.DataFrame, classify: bool) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Rows, made-up soft targets (no teacher needed) and the fit arguments."""
    X = frame.drop(columns="target").reset_index(drop=True)
    categorical = [c for c in X.columns if X[c].dtype == object]
    if not classify:
        return X, frame["target"].to_numpy(dtype=float), {"categorical": categorical}
    y = frame["target"].to_numpy()
    classes = np.unique(y)
    T = np.where(y[:, None] == classes[None, :], 0.8, 0.2 / max(len(classes) - 1, 1))
    return X, T / T.sum(axis=1, keepdims=True), {"classes": classes, "categorical": categorical}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("data, classify", [("bank_1500.csv", True), ("california_1200.csv", False)],
                         ids=["bank-binary", "california-regression"])
def test_a_saved_student_loads_and_predicts_without_the_heavy_modules(family, data, classify, tmp_path):
    from tabcompress.export import write_outputs

    frame = pd.read_csv(DATA / data)
    X, T, fit = _soft_targets(frame, classify)
    student = FAMILIES[family]().fit(X, T, **fit)
    paths = write_outputs(tmp_path / "out", student, {"student": family})
    # Rows as a user would have them: read from CSV, unseen categories and missing cells included.
    rows = X.copy()
    for column in fit["categorical"]:
        rows.loc[rows.index[::7], column] = "never seen"
    numeric = [c for c in X.columns if c not in fit["categorical"]]
    rows.loc[rows.index[3::11], numeric[0]] = np.nan
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows = pd.read_csv(tmp_path / "rows.csv")

    done = _python(BLOCKED_PREDICT, paths["student"], tmp_path / "rows.csv", tmp_path / "there.npz")
    assert done.returncode == 0, done.stderr
    there = np.load(tmp_path / "there.npz", allow_pickle=True)
    np.testing.assert_array_equal(there["predict"], student.predict(rows))
    np.testing.assert_array_equal(there["predict_one"], student.predict(rows.head(1)))
    if classify:
        np.testing.assert_array_equal(there["proba"], student.predict_proba(rows))
    if isinstance(student, TreeStudent):
        np.testing.assert_array_equal(there["leaves"], student.leaf_ids(rows))


def _plain(value, where: str) -> None:
    """Fail unless ``value`` is numpy arrays (of numbers, or of plain values), plain Python values, or
    containers and encoders of them."""
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            for i, item in enumerate(value.ravel()):
                _plain(item, f"{where}[{i}]")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _plain(key, f"{where} key")
            _plain(item, f"{where}[{key!r}]")
        return
    if isinstance(value, TabularEncoder):
        for key, item in vars(value).items():
            _plain(item, f"{where}.{key}")
        return
    raise AssertionError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_fitted_student_holds_plain_values_only(family, bank):
    X, T, fit = _soft_targets(bank, classify=True)
    student = FAMILIES[family]().fit(X, T, **fit)
    for key, value in vars(student).items():
        _plain(value, key)
    payload = pickle.dumps(student)
    for module in (b"sklearn", b"scipy", b"xgboost", b"torch", b"pandas"):
        assert module not in payload, module


# -- the compiled tree ----------------------------------------------------------------------------


@pytest.mark.parametrize("max_depth, missing", [(3, False), (8, True), (None, True)])
def test_the_compiled_tree_routes_rows_as_scikit_learn_does(magic, compiled_sklearn_trees, max_depth, missing):
    X = magic.drop(columns="target").reset_index(drop=True)
    rng = np.random.default_rng(0)
    if missing:
        for column in X.columns[:3]:
            X.loc[rng.uniform(size=len(X)) < 0.1, column] = np.nan
    T = rng.dirichlet(np.ones(3), size=len(X))
    # lookahead=1: the tree compiled is scikit-learn's own (a lookahead root joins two of them)
    student = TreeStudent(max_depth=max_depth, lookahead=1, random_state=0).fit(X, T, classes=["a", "b", "c"])
    (model,) = compiled_sklearn_trees
    # Awkward rows: the thresholds themselves, the floats either side of them in float64 and float32
    # (float32 rounding carries some across), and missing cells, in every feature a split reads.
    # (A split of missing against present values has threshold +inf: scikit-learn refuses an infinite
    # cell, so those are left to the rows' own missing cells.)
    t = model.tree_
    splits = np.flatnonzero((t.children_left >= 0) & np.isfinite(t.threshold))
    assert not missing or (t.missing_go_to_left[t.children_left >= 0] == 1).any()
    Z = np.tile(np.nanmedian(student.encoder_.transform(X), axis=0), (8 * len(splits), 1))
    for i, node in enumerate(splits):
        threshold, feature = t.threshold[node], t.feature[node]
        t32 = np.float32(threshold)
        Z[8 * i:8 * i + 8, feature] = [threshold, np.nextafter(threshold, np.inf), np.nextafter(threshold, -np.inf),
                                       t32, np.nextafter(t32, np.float32(np.inf)),
                                       np.nextafter(t32, np.float32(-np.inf)), np.nan, -threshold]
    Z = np.vstack([Z, student.encoder_.transform(X)])
    np.testing.assert_array_equal(student._leaves(Z), model.apply(Z.astype(np.float32)))
    np.testing.assert_array_equal(student.value_[student._leaves(Z)], model.predict(Z))
    # The size figures are scikit-learn's.
    assert student.complexity() == {"n_nodes": int(t.node_count), "n_leaves": int(t.n_leaves),
                                    "depth": int(t.max_depth)}


def test_a_tree_student_saved_with_its_scikit_learn_tree_still_loads(magic, compiled_sklearn_trees, tmp_path):
    """A student saved before trees were compiled holds ``tree_model_``: loading it, from joblib or
    skops, compiles it."""
    from tabcompress.export import load_student, write_outputs

    X = magic.drop(columns="target").reset_index(drop=True)
    T = np.random.default_rng(1).dirichlet(np.ones(2), size=len(X))
    student = TreeStudent(max_depth=4, lookahead=1, random_state=0).fit(X, T, classes=[0, 1])
    compiled = ("feature_", "threshold_", "missing_left_", "left_", "right_", "value_", "depth_")
    earlier = TreeStudent.__new__(TreeStudent)
    earlier.__dict__.update({key: value for key, value in vars(student).items() if key not in compiled},
                            tree_model_=compiled_sklearn_trees[0])
    for student_format in ("joblib", "skops"):
        paths = write_outputs(tmp_path / student_format, earlier, {}, student_format=student_format)
        restored = load_student(paths["student"])
        assert not hasattr(restored, "tree_model_")
        np.testing.assert_array_equal(restored.predict_proba(X), student.predict_proba(X))


# -- the estimator contract without scikit-learn's base -------------------------------------------

@pytest.mark.parametrize("cls", [TreeStudent, GBDTStudent, LinearStudent, MLPStudent, TabularEncoder])
def test_the_estimator_contract_holds(cls):
    from sklearn.base import clone
    from sklearn.utils import get_tags

    estimator = cls()
    params = estimator.get_params()
    assert list(params) == sorted(params) and params
    value = {"tree": 7, "gbdt": 7, "linear": 0.5, "mlp": 3}.get(getattr(cls, "name", None), ["x"])
    name = {"tree": "max_depth", "gbdt": "n_trees", "linear": "l2", "mlp": "patience"}.get(
        getattr(cls, "name", None), "categorical")
    assert estimator.set_params(**{name: value}) is estimator and estimator.get_params()[name] == value
    copy = clone(estimator)
    assert type(copy) is cls and copy is not estimator and copy.get_params() == estimator.get_params()
    assert repr(estimator) == f"{cls.__name__}({name}={value!r})"
    assert repr(cls()) == f"{cls.__name__}()"
    with pytest.raises(ValueError, match="Invalid parameter 'nonsense'"):
        estimator.set_params(nonsense=1)
    get_tags(estimator)  # scikit-learn can read its tags


def test_clone_of_a_fitted_student_is_unfitted(bank):
    from sklearn.base import clone

    X, T, fit = _soft_targets(bank, classify=True)
    student = TreeStudent(max_depth=3, random_state=0).fit(X, T, **fit)
    copy = clone(student)
    assert copy.get_params() == student.get_params() and not hasattr(copy, "feature_")
    np.testing.assert_array_equal(copy.fit(X, T, **fit).predict_proba(X), student.predict_proba(X))
    assert repr(MLPStudent(hidden=(8,), device="cpu")) == "MLPStudent(device='cpu', hidden=(8,))"
