"""The TSC score (tabcompress.evaluation.tsc): sanity on real rows, noise against MUNGE, regression, files, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import text_pipeline
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from tabcompress import data as data_mod
from tabcompress.errors import InputError
from tabcompress.evaluation.tsc import score_files, score_generated, tsc_score
from tabcompress.generators import make_generator
from tabcompress.schema import Schema
from tabcompress.teachers import Teacher
from tabcompress.teachers.labeling import label_rows

BANK_4K = Path(__file__).parent.parent / "sample_data" / "bank_marketing_4k.csv"


def _forest(cls, **kw):
    return cls(n_estimators=30, min_samples_leaf=2, n_jobs=1, random_state=0, **kw)


def _split(X: pd.DataFrame, y: pd.Series, shares: tuple[float, ...], seed: int = 0):
    """Disjoint random slices of the rows, one per share (the rest is dropped)."""
    order = np.random.default_rng(seed).permutation(len(X))
    bounds = np.cumsum([0] + [int(s * len(X)) for s in shares])
    return [(X.iloc[order[a:b]].reset_index(drop=True), y.iloc[order[a:b]].reset_index(drop=True))
            for a, b in zip(bounds[:-1], bounds[1:])]


def _noise(schema: Schema, n: int, seed: int) -> pd.DataFrame:
    """Rows with no structure: each number uniform on its column's range, each category uniform."""
    rng = np.random.default_rng(seed)
    cols = {}
    for spec in schema.columns:
        if spec.is_categorical:
            cols[spec.name] = rng.choice(np.array(spec.categories, dtype=object), n)
        else:
            cols[spec.name] = rng.uniform(spec.minimum, spec.maximum, n)
    return schema.conform(pd.DataFrame(cols))


def _munge(X: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    generator = make_generator("munge").fit(X, Schema.infer(X), random_state=seed)
    return generator.sample(n, random_state=seed)


@pytest.fixture(scope="module")
def bank_4k() -> pd.DataFrame:
    return pd.read_csv(BANK_4K).iloc[:3000]


@pytest.fixture(scope="module")
def bank_setup(bank_4k):
    """A forest teacher fitted on the first half of the rows; the second half split into real training
    rows, other real rows (as many) and held-out rows."""
    X, y = bank_4k.drop(columns="target"), bank_4k["target"]
    (X_fit, y_fit), (X_train, _), (X_other, _), (X_test, y_test) = _split(X, y, (0.4, 0.2, 0.2, 0.2))
    model = text_pipeline(X_fit, _forest(RandomForestClassifier)).fit(X_fit, y_fit)
    return Teacher.from_model(model), X_train, X_other, X_test, y_test


# -- the score on rows --------------------------------------------------------------------------
def test_real_rows_as_synthetic_score_one(bank_setup):
    teacher, X_train, X_other, X_test, y_test = bank_setup
    same = tsc_score(teacher, X_train, X_train, X_test, y_test)
    # The same rows train the same student: the ratios are 1 exactly.
    assert same["score"]["fidelity_ratio"] == 1.0 and same["score"]["accuracy_ratio"] == 1.0
    assert same["synthetic"]["fidelity"] == same["real"]["fidelity"]
    # Other real rows, as many, from the same distribution: close to 1 either way.
    other = tsc_score(teacher, X_other, X_train, X_test, y_test)
    assert abs(other["score"]["fidelity_ratio"] - 1.0) < 0.03, other["score"]
    assert abs(other["score"]["accuracy_ratio"] - 1.0) < 0.03, other["score"]
    assert other["synthetic"]["train_rows"] == len(X_other) and other["real"]["train_rows"] == len(X_train)
    assert other["test_rows"] == len(X_test)
    assert other["student"] == {"name": "tree", "options": {"max_depth": 6, "refine_passes": 0, "lookahead": 1,
                                                            "random_state": 0}}
    assert other["synthetic"]["complexity"]["depth"] <= 6
    assert other["synthetic"]["copies_of_test_rows"] == 0
    assert 0.5 < other["teacher"]["target_accuracy"] <= 1.0
    # bank is imbalanced: always answering the teacher's usual class already agrees on most rows.
    floor = np.mean(teacher.predict(X_test) == teacher.classes_[0])
    assert other["score"]["fidelity_floor"] == pytest.approx(max(floor, 1 - floor))
    below_floor = other["real"]["fidelity"] <= other["score"]["fidelity_floor"]
    assert below_floor == any("most frequent class" in note for note in other["notes"])
    json.dumps(other, allow_nan=False)


def test_noise_rows_score_below_munge_rows(magic):
    """Rows with no structure teach the student less than MUNGE rows do. (On bank_marketing the two
    score alike: its teacher is mostly a threshold on `duration`, which uniform rows cover too.)"""
    X, y = magic.drop(columns="target"), magic["target"]
    (X_fit, y_fit), (X_train, _), (X_test, y_test) = _split(X, y, (0.5, 0.3, 0.2))
    teacher = Teacher.from_model(_forest(RandomForestClassifier).fit(X_fit, y_fit))
    # As many rows as the real ones, so the score compares rows, not row counts. Over five seeds of this
    # split MUNGE scored 0.99-1.06 and noise 0.35-0.95, never within 0.1 of MUNGE.
    n = len(X_train)
    munge = tsc_score(teacher, _munge(X_train, n, seed=0), X_train, X_test, y_test)
    noise = tsc_score(teacher, _noise(Schema.infer(X_train), n, seed=0), X_train, X_test, y_test)
    assert munge["score"]["fidelity_ratio"] > 0.95, munge["score"]
    assert noise["score"]["fidelity_ratio"] < munge["score"]["fidelity_ratio"] - 0.1, (noise["score"], munge["score"])
    assert noise["score"]["accuracy_ratio"] < munge["score"]["accuracy_ratio"] - 0.1


def test_regression(house):
    X, y = house.drop(columns="target"), house["target"]
    (X_fit, y_fit), (X_train, _), (X_test, y_test) = _split(X, y, (0.5, 0.3, 0.2))
    teacher = Teacher.from_model(_forest(RandomForestRegressor).fit(X_fit, y_fit))
    same = tsc_score(teacher, X_train, X_train, X_test, y_test)
    assert same["task"] == "regression" and same["classes"] is None and same["score"]["fidelity_floor"] is None
    assert same["score"]["fidelity_ratio"] == 1.0 and same["score"]["accuracy_ratio"] == 1.0
    assert same["score"]["fidelity_metric"] == "r2 to the teacher" and same["score"]["accuracy_metric"] == "r2"
    assert {"fidelity", "fidelity_rmse", "target_r2", "target_rmse"} <= set(same["real"])
    assert 0.3 < same["real"]["fidelity"] <= 1.0
    # Five times the real rows: over five seeds of this split MUNGE scored 1.00-1.12 and noise below 0.64.
    n = 5 * len(X_train)
    munge = tsc_score(teacher, _munge(X_train, n, seed=0), X_train, X_test, y_test)
    noise = tsc_score(teacher, _noise(Schema.infer(X_train), n, seed=0), X_train, X_test, y_test)
    assert munge["score"]["fidelity_ratio"] > 0.9, munge["score"]
    assert noise["score"]["fidelity_ratio"] < munge["score"]["fidelity_ratio"] - 0.1, (noise["score"], munge["score"])
    # Without true labels only fidelity is scored.
    unlabelled = tsc_score(teacher, X_train, X_train, X_test)
    assert unlabelled["score"]["accuracy_ratio"] is None and "target_r2" not in unlabelled["real"]
    assert unlabelled["teacher"] == {} and unlabelled["notes"]


def test_precomputed_labels_give_the_same_report(bank_setup):
    teacher, X_train, X_other, X_test, y_test = bank_setup
    direct = tsc_score(teacher, X_other, X_train, X_test, y_test, seed=3)
    labelled = score_generated(teacher, X_other, label_rows(teacher, X_other), X_train, label_rows(teacher, X_train),
                               X_test, label_rows(teacher, X_test), y_test, seed=3)
    assert labelled == direct


def test_options_seed_cap_and_copies(bank_setup):
    teacher, X_train, X_other, X_test, y_test = bank_setup
    # Synthetic columns in another order, plus an extra column: reordered and ignored.
    shuffled = X_other[list(reversed(X_other.columns))].assign(extra=1)
    capped = tsc_score(teacher, shuffled, X_train, X_test, y_test, max_synthetic_rows=200, seed=1,
                       student_options={"max_depth": 3})
    assert capped["synthetic"]["train_rows"] == 200 and capped["max_synthetic_rows"] == 200
    assert capped["student"]["options"]["max_depth"] == 3 and capped["seed"] == 1
    assert capped["real"]["complexity"]["depth"] <= 3
    assert capped == tsc_score(teacher, shuffled, X_train, X_test, y_test, max_synthetic_rows=200, seed=1,
                               student_options={"max_depth": 3})
    assert capped != tsc_score(teacher, shuffled, X_train, X_test, y_test, max_synthetic_rows=200, seed=2,
                               student_options={"max_depth": 3})
    leaked = tsc_score(teacher, pd.concat([X_other, X_test.iloc[:50]], ignore_index=True), X_train, X_test)
    assert leaked["synthetic"]["copies_of_test_rows"] == 50
    assert any("copies of held-out" in note for note in leaked["notes"])


# -- files ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bank_files(tmp_path_factory, bank_4k):
    """teacher.joblib fitted on other rows, real.csv (with target), munge.csv (no target column)."""
    root = tmp_path_factory.mktemp("tsc")
    X, y = bank_4k.drop(columns="target"), bank_4k["target"]
    (X_fit, y_fit), (X_real, y_real) = _split(X, y, (0.4, 0.6))
    teacher = root / "teacher.joblib"
    joblib.dump(text_pipeline(X_fit, _forest(RandomForestClassifier)).fit(X_fit, y_fit), teacher)
    real = root / "real.csv"
    X_real.assign(target=y_real).to_csv(real, index=False)
    synthetic = root / "munge.csv"
    _munge(X_real, 3 * len(X_real), seed=0).to_csv(synthetic, index=False)
    return {"root": root, "teacher": teacher, "real": real, "synthetic": synthetic, "X_real": X_real}


def test_score_files(bank_files):
    report = score_files(bank_files["synthetic"], bank_files["teacher"], bank_files["real"], seed=0)
    n_real = len(bank_files["X_real"])
    data = report["data"]
    assert data["real_rows"] == n_real and data["train_rows"] + data["test_rows"] == n_real
    assert data["synthetic_rows_read"] == data["synthetic_rows_scored"] == 3 * n_real
    assert data["target"] == "target" and data["stratified"] is True
    assert report["synthetic"]["train_rows"] == 3 * n_real and report["real"]["train_rows"] == data["train_rows"]
    assert report["files"]["synthetic"] == str(bank_files["synthetic"])
    assert report["teacher"]["type"].startswith("Pipeline") and "target_accuracy" in report["teacher"]
    assert report["settings"]["seed"] == 0 and report["settings"]["test_size"] == 0.2
    # MUNGE rows made from the real rows teach about as well as the real rows.
    assert 0.95 < report["score"]["fidelity_ratio"] < 1.1, report["score"]
    assert report["score"]["accuracy_ratio"] is not None
    json.dumps(report, allow_nan=False)
    again = score_files(bank_files["synthetic"], bank_files["teacher"], bank_files["real"], seed=0)
    assert again == report


def test_score_files_heldout_rows_are_distills(bank_files):
    """The held-out rows are the ones `distill` holds out: same split function, same stratification."""
    report = score_files(bank_files["real"], bank_files["teacher"], bank_files["real"], test_size=0.3, seed=5)
    teacher = Teacher.from_model(joblib.load(bank_files["teacher"]))
    X = bank_files["X_real"]
    labels = teacher.predict(X)
    _, test_idx, _ = data_mod.holdout_split(len(X), 0.3, 5, stratify=labels)
    assert report["test_rows"] == len(test_idx)
    # The real CSV as the synthetic file: all its held-out rows come back as copies.
    assert report["synthetic"]["copies_of_test_rows"] >= len(test_idx)


@pytest.mark.parametrize("case, expected", [
    ("missing_file", "no such file"),
    ("missing_column", "missing 1 column(s) the teacher expects: duration"),
    ("text_in_number", "column 'age' holds text"),
])
def test_bad_synthetic_file(bank_files, case, expected):
    root, teacher, real = bank_files["root"], bank_files["teacher"], bank_files["real"]
    rows = pd.read_csv(bank_files["synthetic"]).head(100)
    path = root / f"{case}.csv"
    if case == "missing_column":
        rows.drop(columns="duration").to_csv(path, index=False)
    elif case == "text_in_number":
        rows.astype({"age": object}).assign(age=lambda d: d["age"].where(d.index != 7, "old")).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        score_files(path, teacher, real)
    message = str(err.value)
    assert str(path) in message and expected in message and "\n" not in message


def test_bad_options_and_files(bank_files):
    synthetic, teacher, real = bank_files["synthetic"], bank_files["teacher"], bank_files["real"]
    with pytest.raises(InputError, match="test_size must be"):
        score_files(synthetic, teacher, real, test_size=1.5)
    with pytest.raises(InputError, match="student must be one of tree, mlp, gbdt, linear, got 'forest'"):
        score_files(synthetic, teacher, real, student="forest")
    with pytest.raises(InputError, match="student options for 'tree'.*depth"):
        score_files(synthetic, teacher, real, student_options={"depth": 3})
    with pytest.raises(InputError, match="max_synthetic_rows must be"):
        score_files(synthetic, teacher, real, max_synthetic_rows=0)
    with pytest.raises(InputError, match="target label: no such column in .*real.csv"):
        score_files(synthetic, teacher, real, target="label")
    with pytest.raises(InputError, match="--safe refuses pickle"):
        score_files(synthetic, teacher, real, safe=True)
    with pytest.raises(InputError, match=f"teacher file {bank_files['root'] / 'nope.joblib'}: no such file"):
        score_files(synthetic, bank_files["root"] / "nope.joblib", real)


def test_bad_frames(bank_setup):
    teacher, X_train, X_other, X_test, y_test = bank_setup
    with pytest.raises(InputError, match="synthetic rows: missing 1 feature column.*: balance"):
        tsc_score(teacher, X_other.drop(columns="balance"), X_train, X_test)
    with pytest.raises(InputError, match="true labels 3"):
        tsc_score(teacher, X_other, X_train, X_test, y_test.iloc[:3])
    with pytest.raises(InputError, match="synthetic rows: there are none"):
        tsc_score(teacher, X_other.iloc[:0], X_train, X_test)
