"""CatBoost teachers: pickled and in CatBoost's own files (.cbm, .json), end to end through the console
script; categorical columns with missing cells; --safe; data-free from the oblivious trees (checked
against CatBoost's own raw scores); damaged files, unsupported losses and a missing library refused
in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import DATA, assert_bad_input, heldout_rows, predict_in_fresh_process, run_cli

from tabcompress import InputError
from tabcompress.teachers import Teacher, load_teacher
from tabcompress.teachers.catboost import MISSING_CATEGORY, category_text

catboost = pytest.importorskip("catboost")

FAST = ["--epochs", "2", "--synthetic-ratio", "2", "--seed", "0"]
# These runs are about reading the teacher: no size search, baseline or TSC score.
LEAN = ["--validation-size", "0", "--no-baseline", "--no-tsc"]
QUICK = {"verbose": 0, "thread_count": 2, "random_seed": 0, "allow_writing_files": False}
# bank's text columns, and "day" (whole numbers) taken as a category too
BANK_CATEGORIES = ["job", "marital", "education", "default", "housing", "loan", "contact", "month", "poutcome",
                   "day"]


def as_trained(X: pd.DataFrame) -> pd.DataFrame:
    """Rows as the user made them acceptable to CatBoost, the usual way: categories as text, a missing
    cell as "nan" (what astype(str) writes), whole numbers without a decimal point."""
    X = X.copy()
    for name in BANK_CATEGORIES:
        X[name] = [("nan" if pd.isna(v) else str(int(v)) if isinstance(v, float) else str(v)) for v in X[name]]
    return X


class AsTrained:
    """The bank model behind as_trained, for heldout_rows (which asks for classes_ and predict_proba)."""

    def __init__(self, model):
        self.model, self.classes_ = model, model.classes_

    def predict_proba(self, X):
        return self.model.predict_proba(as_trained(X))


@pytest.fixture(scope="module")
def bank_files(tmp_path_factory, bank):
    """bank with some cells of two text columns, of "day" and of "balance" emptied, written as CSV (so
    "day" reads back as floats), and a CatBoostClassifier trained on it, pickled and as .cbm."""
    root = tmp_path_factory.mktemp("catboost_bank")
    df = bank.copy()
    rng = np.random.default_rng(0)
    for name in ("job", "education", "day", "balance"):
        df.loc[rng.random(len(df)) < 0.06, name] = np.nan
    df.to_csv(root / "bank.csv", index=False)
    df = pd.read_csv(root / "bank.csv")
    X, y = df.drop(columns="target"), df["target"]
    model = catboost.CatBoostClassifier(iterations=60, depth=4, **QUICK).fit(as_trained(X), y,
                                                                            cat_features=BANK_CATEGORIES)
    joblib.dump(model, root / "bank.pkl")
    model.save_model(str(root / "bank.cbm"))
    return {"csv": root / "bank.csv", "pkl": root / "bank.pkl", "cbm": root / "bank.cbm", "model": model, "df": df}


@pytest.fixture(scope="module")
def magic_files(tmp_path_factory, magic):
    """A numeric CatBoostClassifier on magic, as .cbm and .json."""
    root = tmp_path_factory.mktemp("catboost_magic")
    X, y = magic.drop(columns="target"), magic["target"]
    model = catboost.CatBoostClassifier(iterations=60, depth=4, **QUICK).fit(X, y)
    model.save_model(str(root / "magic.cbm"))
    model.save_model(str(root / "magic.json"), format="json")
    return {"cbm": root / "magic.cbm", "json": root / "magic.json", "model": model}


def _distill(teacher, data, out, *extra, run=run_cli):
    done = run("distill", teacher, data, "--out", out, "--json", *FAST, *LEAN, *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- end to end ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["pkl", "cbm"])
def test_classifier_with_missing_categories_end_to_end(bank_files, tmp_path, suffix):
    out = tmp_path / "out"
    report = _distill(bank_files[suffix], bank_files["csv"], out)
    assert report["teacher"]["type"] == "CatBoostClassifier" and report["task"] == "binary"
    assert report["teacher"]["n_trees"] == 60

    model, df = bank_files["model"], bank_files["df"]
    held = heldout_rows(df, AsTrained(model))
    assert report["data"]["test_rows"] == len(held)
    X_held = held.drop(columns="target")
    student_pred = predict_in_fresh_process(out / "student.joblib", X_held[list(reversed(X_held.columns))], tmp_path)
    teacher_pred = model.classes_[np.argmax(model.predict_proba(as_trained(X_held)), axis=1)]
    fidelity = float(np.mean(student_pred == teacher_pred))
    assert report["metrics"]["student"]["fidelity"] == pytest.approx(fidelity, abs=1e-12)
    assert fidelity > 0.85


def test_categories_reach_catboost_as_trained(bank_files):
    """Rows as read from the CSV (missing cells, "day" as floats) get exactly the answers CatBoost gives
    the rows as they were trained."""
    teacher = load_teacher(bank_files["cbm"])
    assert sorted(teacher.categorical_features) == sorted(BANK_CATEGORIES) and not teacher.accepts_text
    X = bank_files["df"].drop(columns="target")
    assert X["day"].dtype == np.float64 and X["job"].isna().any()
    np.testing.assert_array_equal(teacher.predict_proba(X), bank_files["model"].predict_proba(as_trained(X)))
    np.testing.assert_array_equal(teacher.leaves(X), bank_files["model"].calc_leaf_indexes(as_trained(X)))


def test_model_fitted_without_names_takes_the_columns_in_file_order(bank_files):
    from tabcompress.data import align

    X, y = bank_files["df"].drop(columns="target"), bank_files["df"]["target"]
    categories = [X.columns.get_loc(name) for name in BANK_CATEGORIES]
    model = catboost.CatBoostClassifier(iterations=10, **QUICK).fit(as_trained(X).to_numpy(dtype=object), y,
                                                                    cat_features=categories)
    teacher = Teacher.from_model(model)
    assert teacher.feature_names is None and teacher.n_features == X.shape[1] and teacher.accepts_text
    rows = align(bank_files["df"], teacher).X
    np.testing.assert_array_equal(teacher.predict_proba(rows),
                                  model.predict_proba(as_trained(X).to_numpy(dtype=object)))


def test_regressor_cbm_end_to_end(house, tmp_path):
    X, y = house.drop(columns="target"), house["target"]
    model = catboost.CatBoostRegressor(iterations=60, depth=4, **QUICK).fit(X, y)
    model.save_model(str(tmp_path / "house.cbm"))
    report = _distill(tmp_path / "house.cbm", DATA / "house16h_1200.csv", tmp_path / "out")
    assert report["task"] == "regression" and report["teacher"]["type"] == "CatBoostRegressor"

    held = heldout_rows(house, model, classifier=False).drop(columns="target")
    student_pred = predict_in_fresh_process(tmp_path / "out" / "student.joblib", held, tmp_path)
    teacher_pred = model.predict(held)
    r2 = 1 - np.sum((teacher_pred - student_pred) ** 2) / np.sum((teacher_pred - teacher_pred.mean()) ** 2)
    assert report["metrics"]["student"]["fidelity"] == pytest.approx(r2, abs=1e-9)
    assert r2 > 0.3


# -- --safe and CatBoost's own files ------------------------------------------------------------------
def test_safe_takes_cbm_and_json_and_refuses_the_pickle(bank_files, magic_files, tmp_path, cli):
    for teacher, data in ((bank_files["cbm"], bank_files["csv"]), (magic_files["json"], DATA / "magic_1200.csv")):
        out = tmp_path / teacher.suffix[1:]
        report = _distill(teacher, data, out, "--safe", run=cli)
        assert report["outputs"]["student"].endswith("student.skops")
    out = tmp_path / "pickle"
    done = cli("distill", bank_files["pkl"], bank_files["csv"], "--out", out, "--safe")
    assert_bad_input(done, str(bank_files["pkl"]), "--safe refuses pickle", ".cbm", out=out)


def test_json_model_predicts_as_the_cbm(magic_files, magic):
    X = magic.drop(columns="target")
    from_cbm, from_json = load_teacher(magic_files["cbm"], safe=True), load_teacher(magic_files["json"], safe=True)
    assert type(from_json).__name__ == "CatBoostTeacher" and from_json.feature_names == list(X.columns)
    np.testing.assert_allclose(from_json.predict_proba(X), from_cbm.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(from_cbm.predict_proba(X), magic_files["model"].predict_proba(X), rtol=0, atol=1e-12)


def test_classes_and_losses_from_files(magic, tmp_path):
    """Class names stored in the file come back; each loss gives its task and CatBoost's own answers."""
    X = magic.drop(columns="target")
    names = pd.qcut(X["FLength"], 3, labels=["short", "mid", "long"]).astype(str)
    cases = [
        (catboost.CatBoostClassifier, "MultiClass", names, "multiclass"),
        (catboost.CatBoostClassifier, "MultiClassOneVsAll", names, "multiclass"),
        (catboost.CatBoostClassifier, "Logloss", np.where(magic["target"] == 1, "g", "h"), "binary"),
        (catboost.CatBoostRegressor, "Poisson", np.round(X["FAlpha"]), "regression"),
        (catboost.CatBoostRegressor, "Quantile:alpha=0.8", X["FDist"], "regression"),
    ]
    for cls, loss, y, task in cases:
        model = cls(iterations=10, depth=3, loss_function=loss, **QUICK).fit(X, y)
        path = tmp_path / "model.cbm"
        model.save_model(str(path))
        teacher = load_teacher(path)
        assert teacher.task == task, loss
        if task == "regression":
            np.testing.assert_allclose(teacher.predict(X), model.predict(X), rtol=1e-12)
            continue
        assert list(teacher.classes_) == list(model.classes_), loss
        proba = model.predict_proba(X)
        proba = proba / proba.sum(axis=1, keepdims=True)  # one-vs-all: scaled to add up to 1
        np.testing.assert_allclose(teacher.predict_proba(X), proba, rtol=1e-12)
        assert np.array_equal(teacher.predict(X), model.predict(X).ravel()), loss


def test_pipeline_ending_in_catboost(magic):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = magic.drop(columns="target"), magic["target"]
    pipe = Pipeline([("scale", StandardScaler()), ("boost", catboost.CatBoostClassifier(iterations=10, **QUICK))])
    teacher = Teacher.from_model(pipe.fit(X, y))
    assert teacher.kind == "Pipeline(StandardScaler → CatBoostClassifier)" and teacher.accepts_text
    assert teacher.feature_names == list(X.columns)
    np.testing.assert_allclose(teacher.predict_proba(X), pipe.predict_proba(X), rtol=1e-12)
    with pytest.raises(InputError, match="reads a bare CatBoost model"):
        teacher.trees()


def test_category_text_is_what_catboost_saw():
    values = pd.Series([3.0, np.nan, 2.5, -1.0])
    assert category_text(values).tolist() == ["3", MISSING_CATEGORY, "2.5", "-1"]
    assert category_text(pd.Series([1, 20])).tolist() == ["1", "20"]
    assert category_text(pd.Series([True, False])).tolist() == ["1", "0"]  # CatBoost hashes a bool as 1 / 0
    assert category_text(pd.Series(["a", None, np.nan])).tolist() == ["a", "nan", "nan"]
    assert category_text(pd.Series(["a", 4, 4.0, True], dtype=object)).tolist() == ["a", "4", "4", "1"]
    assert category_text(pd.Series(pd.Categorical(["x", None]))).tolist() == ["x", "nan"]


# -- data-free ------------------------------------------------------------------------------------------
def _tree_raw_scores(teacher, model, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Raw scores from the teacher's TreeNodes (each row walked down each tree, going left when
    x <= threshold) and the JSON export's leaf values, taken in the order of the trees' leaves; and
    the leaf each row reached in each tree, counted in that order."""
    spec = teacher.model_json()
    exported = spec.get("oblivious_trees") or spec["trees"]
    scale, bias = model.get_scale_and_bias()
    dim = len(np.atleast_1d(bias))
    raw, reached = np.zeros((len(X), dim)), []
    for nodes, tree in zip(teacher.trees(), exported):
        node = np.zeros(len(X), dtype=np.int64)
        for _ in range(len(nodes.feature)):
            inner = nodes.feature[node] >= 0
            if not inner.any():
                break
            value = X[np.arange(len(X)), np.maximum(nodes.feature[node], 0)]
            child = np.where(value <= nodes.threshold[node], nodes.left[node], nodes.right[node])
            node = np.where(inner, child, node)
        leaves = np.flatnonzero(nodes.feature < 0)
        ordinal = np.searchsorted(leaves, node)
        reached.append(ordinal)
        if "leaf_values" in tree:
            values = np.asarray(tree["leaf_values"], dtype=np.float64).reshape(len(leaves), dim)
        else:  # non-symmetric: leaves depth first, as TreeNodes numbers them
            values = np.array([np.atleast_1d(v) for v in _leaf_values(tree)], dtype=np.float64)
        raw += values[ordinal]
        # a node's weight is what reached its leaves
        assert np.all(nodes.weight[nodes.feature >= 0] >= nodes.weight[nodes.left[nodes.feature >= 0]])
    return scale * raw + np.asarray(bias, dtype=np.float64), reached


def _leaf_values(node):
    if "split" not in node:
        return [node["value"]]
    return _leaf_values(node["left"]) + _leaf_values(node["right"])


@pytest.mark.parametrize("loss,grow_policy", [
    ("Logloss", "SymmetricTree"), ("MultiClass", "SymmetricTree"), ("RMSE", "Depthwise"), ("RMSE", "Lossguide"),
])
def test_tree_nodes_reproduce_catboost_raw_scores(magic, loss, grow_policy):
    X = magic.drop(columns="target")
    if loss == "RMSE":
        cls, y = catboost.CatBoostRegressor, X.pop("FDist")
    else:
        cls, y = catboost.CatBoostClassifier, magic["target"] if loss == "Logloss" else pd.qcut(X["FSize"], 3,
                                                                                              labels=False)
    model = cls(iterations=30, depth=5, loss_function=loss, grow_policy=grow_policy, **QUICK).fit(X, y)
    teacher = Teacher.from_model(model)
    # Real rows, and rows on every border and just either side of it (CatBoost compares float32s).
    rows = [X.to_numpy(dtype=np.float64)]
    spec = teacher.model_json()
    for feature in spec["features_info"]["float_features"]:
        for border in feature["borders"][:20]:
            b = np.float32(border)
            above = float(np.nextafter(b, np.float32(np.inf)))
            middle = (float(b) + above) / 2  # rounds to b or to above, whichever is even
            for value in (float(b), np.nextafter(float(b), np.inf), np.nextafter(float(b), -np.inf), above, middle,
                          np.nextafter(middle, np.inf), np.nextafter(middle, -np.inf)):
                row = rows[0][len(rows) % len(X)].copy()
                row[feature["flat_feature_index"]] = value
                rows.append(row[None, :])
    A = np.vstack(rows)
    frame = pd.DataFrame(A, columns=X.columns)
    raw, reached = _tree_raw_scores(teacher, model, A)
    expected = np.asarray(model.predict(frame, prediction_type="RawFormulaVal"), dtype=np.float64)
    np.testing.assert_allclose(raw.reshape(expected.shape), expected, rtol=0, atol=1e-9)
    catboost_leaves = model.calc_leaf_indexes(frame)
    np.testing.assert_array_equal(teacher.leaves(frame), catboost_leaves)
    if grow_policy == "SymmetricTree":  # the leaves in CatBoost's own order (its splits' bits)
        np.testing.assert_array_equal(np.column_stack(reached), catboost_leaves)
    else:  # CatBoost numbers these leaves its own way: the same leaves, one for one, under other numbers
        for mine, theirs in zip(reached, catboost_leaves.T):
            pairs = set(zip(mine.tolist(), theirs.tolist()))
            assert len(pairs) == len({m for m, _ in pairs}) == len({t for _, t in pairs})
    stats = teacher.complexity()
    assert stats["n_leaves"] == sum(int(np.sum(t.feature < 0)) for t in teacher.trees())
    assert stats["n_nodes"] == sum(len(t.feature) for t in teacher.trees())


def test_data_free_from_a_numeric_model(magic_files, magic, tmp_path):
    out = tmp_path / "out"
    done = run_cli("distill", magic_files["cbm"], "--eval-data", DATA / "magic_1200.csv", "--out", out, "--json",
                   "--synthetic-rows", "5000", "--max-depth", "4", "--seed", "0")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["mode"] == "data-free" and report["generator"]["name"] == "forest"
    majority = float(magic["target"].value_counts(normalize=True).max())
    assert report["metrics"]["student"]["fidelity"] > majority + 0.1


def test_data_free_refuses_categorical_features(bank_files, tmp_path, cli):
    out = tmp_path / "out"
    done = cli("distill", bank_files["cbm"], "--out", out)
    assert_bad_input(done, "data-free distillation cannot map CatBoost's categorical splits (CTRs)", "(DATA)", out=out)


# -- refusals ---------------------------------------------------------------------------------------
def _multi_rmse(magic, path):
    X = magic.drop(columns=["FDist", "FAlpha", "target"])
    catboost.CatBoostRegressor(iterations=5, depth=3, loss_function="MultiRMSE", **QUICK).fit(
        X, magic[["FDist", "FAlpha"]]).save_model(str(path))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "multi_rmse"])
def test_bad_model_files_are_one_line(magic_files, magic, tmp_path, damage, cli):
    path = tmp_path / f"{damage}.cbm"
    if damage == "truncated":
        path.write_bytes(magic_files["cbm"].read_bytes()[:700])
        needles = ("not a readable CatBoost model",)
    elif damage == "garbage":
        path.write_text("age,job\n35,management\n")
        needles = ("not a readable CatBoost model",)
    else:
        _multi_rmse(magic, path)
        needles = ("'MultiRMSE' is not supported", "supported: binary (Logloss")
    out = tmp_path / "out"
    done = cli("distill", path, DATA / "magic_1200.csv", "--out", out)
    assert_bad_input(done, f"teacher file {path}", *needles, out=out)


def test_damaged_json_and_ranking_models(magic_files, magic, tmp_path):
    path = tmp_path / "cut.json"
    path.write_text(magic_files["json"].read_text()[:5000])
    with pytest.raises(InputError, match=r"cut.json: not a readable CatBoost model \(not valid JSON"):
        load_teacher(path)
    X = magic.drop(columns="target")
    ranker = catboost.CatBoostRanker(iterations=3, loss_function="YetiRank", **QUICK).fit(
        X, magic["target"], group_id=np.arange(len(X)) // 20)
    with pytest.raises(InputError, match="loss function 'YetiRank' is not supported"):
        Teacher.from_model(ranker)
    labels = catboost.CatBoostClassifier(iterations=3, loss_function="MultiLogloss", **QUICK).fit(
        X, np.c_[magic["target"], 1 - magic["target"]])
    with pytest.raises(InputError, match="'MultiLogloss' is not supported"):
        Teacher.from_model(labels)


def test_missing_library_names_the_extra(bank_files, teachers, tmp_path):
    """Without catboost, a CatBoost teacher (file or pickle) is one line naming the extra; other teachers
    load as before, and registering the family imports nothing."""
    code = (
        "import sys\n"
        "sys.modules['catboost'] = None  # as if it were not installed\n"
        "from tabcompress.registry import TEACHERS\n"
        "TEACHERS.classes()\n"
        "from tabcompress.teachers import load_teacher\n"
        "load_teacher(sys.argv[2])\n"
        "from tabcompress.cli import main\n"
        "sys.argv = ['tabcompress', 'distill', sys.argv[1], sys.argv[3], '--out', sys.argv[4]]\n"
        "main()\n"
    )
    for teacher in (bank_files["cbm"], bank_files["pkl"]):
        out = tmp_path / teacher.suffix[1:]
        done = subprocess.run([sys.executable, "-c", code, str(teacher), str(teachers["rf_magic"]),
                               str(bank_files["csv"]), str(out)], capture_output=True, text=True, timeout=120)
        assert_bad_input(done, f"teacher file {teacher}: needs catboost, which is not installed",
                         "pip install 'tabcompress[catboost]'", out=out)
