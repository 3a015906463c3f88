"""LightGBM teachers: the scikit-learn wrappers and the bare Booster, pickled or as LightGBM's own text
model file, with pandas categorical columns and missing cells; data-free from their trees; bad files."""

from __future__ import annotations

import json
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import assert_bad_input, heldout_rows, predict_in_fresh_process, run_cli

from tabcompress import InputError, Settings, load_teacher
from tabcompress.generators.registry import resolve_generator
from tabcompress.teachers import Teacher

lgb = pytest.importorskip("lightgbm")

FAST = ["--epochs", "2", "--synthetic-ratio", "2", "--seed", "0"]
# Teachers fitted here take one thread: on these small tables LightGBM's threads mostly wait on each other.
ONE_THREAD = {"n_jobs": 1}
# Runs about reading the teacher: no size search, baseline or TSC score.
LEAN = ["--validation-size", "0", "--no-baseline", "--no-tsc"]


def with_missing(df: pd.DataFrame, columns: list[str], share: float = 0.05, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = df.copy()
    for c in columns:
        df.loc[rng.random(len(df)) < share, c] = np.nan
    return df


def as_categories(X: pd.DataFrame) -> pd.DataFrame:
    """Text columns as pandas categoricals: how LightGBM users hand it categorical features."""
    return X.assign(**{c: X[c].astype("category") for c in X.columns if X[c].dtype == object})


@pytest.fixture(scope="module")
def bank_lgb(tmp_path_factory, bank):
    """A LightGBM classifier on bank's rows (text categories, 5 % of four columns missing), saved as a
    pickle and as a text model file, with the CSV it was fitted on."""
    root = tmp_path_factory.mktemp("lgb_bank")
    df = with_missing(bank, ["age", "job", "balance", "education"])
    X, y = df.drop(columns="target"), df["target"]
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, random_state=0, verbose=-1, **ONE_THREAD).fit(
        as_categories(X), y)
    joblib.dump(model, root / "lgb.pkl")
    model.booster_.save_model(str(root / "lgb.txt"))
    df.to_csv(root / "data.csv", index=False)
    return {"model": model, "pkl": root / "lgb.pkl", "txt": root / "lgb.txt", "csv": root / "data.csv", "df": df}


@pytest.fixture(scope="module")
def magic_lgb(tmp_path_factory, magic):
    root = tmp_path_factory.mktemp("lgb_magic")
    X, y = magic.drop(columns="target"), magic["target"]
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, random_state=0, verbose=-1, **ONE_THREAD).fit(X, y)
    model.booster_.save_model(str(root / "lgb.txt"))
    magic.to_csv(root / "data.csv", index=False)
    return {"model": model, "txt": root / "lgb.txt", "csv": root / "data.csv"}


@pytest.mark.parametrize("fmt", ["pkl", "txt"])
def test_distill_a_lightgbm_classifier_with_text_categories_and_missing_cells(bank_lgb, tmp_path, fmt):
    out = tmp_path / "out"
    done = run_cli("distill", bank_lgb[fmt], bank_lgb["csv"], "--out", out, "--json", *FAST, *LEAN)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["teacher"]["type"] == ("LGBMClassifier" if fmt == "pkl" else "lightgbm.Booster")
    assert report["teacher"]["n_trees"] == 40

    model = bank_lgb["model"]
    held = heldout_rows(bank_lgb["df"], _Categorised(model))
    X_held = held.drop(columns="target")
    student_pred = predict_in_fresh_process(out / "student.joblib", X_held, tmp_path)
    teacher_pred = model.classes_[np.argmax(_Categorised(model).predict_proba(X_held), axis=1)]
    assert report["metrics"]["student"]["fidelity"] == pytest.approx(float(np.mean(student_pred == teacher_pred)),
                                                                     abs=1e-12)
    assert report["metrics"]["student"]["fidelity"] > 0.75


def test_distill_a_lightgbm_regressor_from_its_text_file(house, tmp_path):
    df = with_missing(house, list(house.columns[:3]))
    X, y = df.drop(columns="target"), df["target"]
    lgb.LGBMRegressor(n_estimators=40, num_leaves=15, random_state=0, verbose=-1, **ONE_THREAD).fit(
        X, y).booster_.save_model(str(tmp_path / "reg.txt"))
    df.to_csv(tmp_path / "data.csv", index=False)
    out = tmp_path / "out"
    done = run_cli("distill", tmp_path / "reg.txt", tmp_path / "data.csv", "--out", out, "--json", *FAST, *LEAN)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["teacher"]["task"] == "regression"

    booster = lgb.Booster(model_file=str(tmp_path / "reg.txt"))
    held = heldout_rows(df, None, classifier=False).drop(columns="target")
    student_pred = predict_in_fresh_process(out / "student.joblib", held, tmp_path)
    teacher_pred = booster.predict(held)
    r2 = 1 - np.sum((teacher_pred - student_pred) ** 2) / np.sum((teacher_pred - teacher_pred.mean()) ** 2)
    assert report["metrics"]["student"]["fidelity"] == pytest.approx(r2, abs=1e-9)
    assert r2 > 0.5


def test_the_text_file_and_the_pickle_answer_alike_and_unseen_categories_pass(bank_lgb):
    pickled, native = load_teacher(bank_lgb["pkl"]), load_teacher(bank_lgb["txt"])
    X = bank_lgb["df"].drop(columns="target").iloc[:300].copy()
    assert pickled.categorical_features == native.categorical_features == _text(X)
    np.testing.assert_allclose(pickled.predict_proba(X), native.predict_proba(X), rtol=0, atol=1e-12)
    expected = _Categorised(bank_lgb["model"]).predict_proba(X)
    np.testing.assert_allclose(pickled.predict_proba(X), expected, rtol=0, atol=1e-12)
    # A category LightGBM never saw goes where LightGBM sends unseen ones: as a missing cell.
    unseen = X.assign(job="astronaut")
    np.testing.assert_allclose(native.predict_proba(unseen), native.predict_proba(X.assign(job=np.nan)))


def test_categories_written_as_numbers_in_the_csv_match_text_categories(tmp_path):
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=400), "grade": rng.choice(["1", "2", "3"], 400)})
    y = ((X["grade"] == "3") | (X["x"] > 1)).astype(int)
    model = lgb.LGBMClassifier(n_estimators=10, random_state=0, verbose=-1).fit(as_categories(X), y)
    teacher = Teacher.from_model(model)
    read_back = X.assign(grade=X["grade"].astype(float))  # what read_csv makes of the column
    read_back.loc[::9, "grade"] = np.nan
    text = X.assign(grade=X["grade"].where(read_back["grade"].notna()))
    np.testing.assert_allclose(teacher.predict_proba(read_back), teacher.predict_proba(text), rtol=0, atol=0)


def test_data_free_from_a_lightgbm_teacher(magic_lgb, tmp_path):
    teacher = load_teacher(magic_lgb["txt"])
    trees = teacher.trees()
    assert len(trees) == 40
    # Walking the node arrays reaches the leaf LightGBM itself names, on every row and tree.
    X = pd.read_csv(magic_lgb["csv"]).drop(columns="target").iloc[:200]
    frame = teacher.model.trees_to_dataframe()
    reached = teacher.model.predict(X, pred_leaf=True)
    for t, tree in enumerate(trees):
        names = frame[frame["tree_index"] == t]["node_index"].to_numpy()
        for r, row in enumerate(X.to_numpy()):
            i = 0
            while tree.feature[i] >= 0:
                i = tree.left[i] if row[tree.feature[i]] <= tree.threshold[i] else tree.right[i]
            assert names[i] == f"{t}-L{reached[r, t]}"
    assert trees[0].weight[0] == len(pd.read_csv(magic_lgb["csv"]))

    out = tmp_path / "out"
    # 5,000 rows from the trees, not the data-free default of 60,000: as faithful here, and quick to fit
    done = run_cli("distill", magic_lgb["txt"], "--eval-data", magic_lgb["csv"], "--out", out, "--json", *FAST,
                   "--synthetic-rows", "5000")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    majority = max(np.mean(magic_lgb["model"].predict(X)), 1 - np.mean(magic_lgb["model"].predict(X)))
    assert report["metrics"]["student"]["fidelity"] > max(0.75, majority)


def test_auto_samples_its_trees_unless_they_split_on_categories(bank_lgb, magic_lgb):
    tree = Settings.from_options(student="tree")
    assert resolve_generator(tree, None, Teacher.from_model(magic_lgb["model"])) == "munge+forest"
    assert resolve_generator(tree, None, Teacher.from_model(bank_lgb["model"])) == "munge"


def test_data_free_refuses_categorical_splits_in_one_line(bank_lgb, tmp_path, cli):
    out = tmp_path / "out"
    done = cli("distill", bank_lgb["txt"], "--eval-data", bank_lgb["csv"], "--out", out, *FAST)
    assert_bad_input(done, "LightGBM's categorical splits", "give real rows", out=out)


def test_safe_takes_the_text_file_and_refuses_the_pickle(bank_lgb, tmp_path):
    assert load_teacher(bank_lgb["txt"], safe=True).kind == "lightgbm.Booster"
    with pytest.raises(InputError, match=r"--safe refuses pickle.*\.txt"):
        load_teacher(bank_lgb["pkl"], safe=True)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_text_file_is_one_line(bank_lgb, tmp_path, damage, cli):
    path = tmp_path / "model.txt"
    text = bank_lgb["txt"].read_text()
    path.write_text({"truncated": text[: len(text) // 3], "garbage": "hello, I am no model\n", "empty": ""}[damage])
    out = tmp_path / "out"
    done = cli("distill", path, bank_lgb["csv"], "--out", out, *FAST)
    assert_bad_input(done, str(path), out=out)
    assert "LightGBM" in done.stderr or "empty" in done.stderr


def test_a_ranking_model_is_refused_in_one_line(tmp_path, magic, cli):
    X, y = magic.drop(columns="target").iloc[:300], np.arange(300) % 3
    ranker = lgb.LGBMRanker(n_estimators=3, verbose=-1).fit(X, y, group=[100, 100, 100])
    joblib.dump(ranker, tmp_path / "ranker.pkl")
    ranker.booster_.save_model(str(tmp_path / "ranker.txt"))
    magic.iloc[:300].to_csv(tmp_path / "data.csv", index=False)
    for name in ("ranker.pkl", "ranker.txt"):
        out = tmp_path / f"out_{name}"
        done = cli("distill", tmp_path / name, tmp_path / "data.csv", "--out", out, *FAST)
        assert_bad_input(done, str(tmp_path / name), "'lambdarank' is not supported", out=out)


def test_a_missing_lightgbm_names_the_extra(bank_lgb, tmp_path):
    code = ("import sys; sys.modules['lightgbm'] = None\n"
            "from tabcompress import load_teacher\n"
            "for path in sys.argv[1:]:\n"
            "    try:\n"
            "        load_teacher(path)\n"
            "    except Exception as exc:\n"
            "        print(type(exc).__name__, exc)\n")
    done = subprocess.run([sys.executable, "-c", code, str(bank_lgb["txt"]), str(bank_lgb["pkl"])],
                          capture_output=True, text=True, timeout=120)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2, done.stdout + done.stderr
    for line, path in zip(lines, (bank_lgb["txt"], bank_lgb["pkl"])):
        assert line.startswith(f"InputError teacher file {path}: needs lightgbm")
        assert "pip install 'tabcompress[lightgbm]'" in line


class _Categorised:
    """The classifier as heldout_rows asks it (predict_proba on the CSV's frame), its text columns made
    categorical with the training categories."""

    def __init__(self, model):
        self.model, self.classes_ = model, model.classes_

    def predict_proba(self, X):
        cats = self.model.booster_.pandas_categorical
        return self.model.predict_proba(X.astype({c: pd.CategoricalDtype(k) for c, k in zip(_text(X), cats)}))


def _text(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if X[c].dtype == object]


def test_integer_coded_categories_and_a_pipeline_ending_in_lightgbm(bank):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = bank.drop(columns="target").iloc[:600], bank["target"].iloc[:600]
    # categorical_feature on integer codes: the columns stay numbers, to LightGBM and to tabcompress
    coded = X.select_dtypes("number").assign(job=pd.Categorical(X["job"]).codes)
    model = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(coded, y, categorical_feature=["job"])
    teacher = Teacher.from_model(model)
    assert teacher.categorical_features == [] and not teacher.accepts_text
    np.testing.assert_allclose(teacher.predict_proba(coded), model.predict_proba(coded), rtol=0, atol=0)

    text = [c for c in X.columns if X[c].dtype == object]
    pipe = Pipeline([("encode", ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text)],
                                                  remainder="passthrough", sparse_threshold=0.0)),
                     ("lgbm", lgb.LGBMClassifier(n_estimators=10, verbose=-1))]).fit(X, y)
    teacher = Teacher.from_model(pipe)
    assert teacher.accepts_text and teacher.kind == "Pipeline(ColumnTransformer → LGBMClassifier)"
    np.testing.assert_allclose(teacher.predict_proba(X), pipe.predict_proba(X), rtol=0, atol=0)
    # data-free reads the encoder: each one-hot input of the booster maps back to its raw column
    inputs = teacher.input_map()
    assert inputs.n_inputs == pipe[-1].n_features_in_ and [c.name for c in inputs.columns] == list(X.columns)
    assert len(teacher.trees()) == 10
