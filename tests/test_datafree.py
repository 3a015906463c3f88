"""Data-free distillation: the feature space read from the teacher, the forest sampler, and the CLI run
without DATA (scored on --eval-data)."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pytest
from conftest import DATA, run_cli, text_pipeline

from tabcompress import Settings, Teacher
from tabcompress.errors import InputError
from tabcompress.generators.forest import ForestSampler
from tabcompress.run.modes import train_data_free
from tabcompress.teachers.base import INDICATOR
from tabcompress.teachers.labeling import label_rows
from tabcompress.teachers.space import feature_space


def _split(df):
    return df.drop(columns="target"), df["target"]


def test_space_of_a_forest_brackets_the_data_and_finds_whole_numbers(magic, house):
    from sklearn.ensemble import RandomForestClassifier

    X, y = _split(magic)
    X = X.assign(FAlpha=np.round(X["FAlpha"]).astype(int))  # a column of whole numbers
    teacher = Teacher.from_model(RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y))
    space = feature_space(teacher)
    assert space.schema.names == list(X.columns)
    assert space.schema["FAlpha"].kind == "integer"
    assert space.schema["FLength"].kind == "float"
    for spec in space.schema.columns:
        col = X[spec.name]
        # thresholds lie between training values, so the derived range covers nearly all of them (the
        # tails beyond the outermost split are a guess)
        assert col.between(spec.minimum, spec.maximum).mean() > 0.95, spec.name
        cuts = space.cuts[spec.name]
        assert np.all(np.diff(cuts) > 0) and col.min() < cuts[0] and cuts[-1] < col.max()


def test_space_of_a_pipeline_reads_the_encoders_categories(bank):
    from sklearn.ensemble import RandomForestClassifier

    X, y = _split(bank)
    model = text_pipeline(X, RandomForestClassifier(n_estimators=20, random_state=0)).fit(X, y)
    space = feature_space(Teacher.from_model(model))
    text = [c for c in X.columns if X[c].dtype == object]
    assert space.schema.categorical == text
    for name in text:
        assert space.schema[name].categories == sorted(X[name].unique().tolist())
    assert (space.input_kind == INDICATOR).sum() == sum(X[c].nunique() for c in text)
    rows = ForestSampler(space).sample(500, random_state=0)
    assert list(rows.columns) == list(X.columns)
    for name in text:
        assert rows[name].isin(space.schema[name].categories).all()
    assert label_rows(Teacher.from_model(model), rows).shape == (500, 2)  # the teacher takes them as they are


def test_space_refuses_an_encoder_it_cannot_invert(magic):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _split(magic)
    model = Pipeline([("scale", ColumnTransformer([("s", StandardScaler(), list(X.columns))])),
                      ("forest", RandomForestClassifier(n_estimators=5, random_state=0))]).fit(X, y)
    with pytest.raises(InputError, match="StandardScaler"):
        feature_space(Teacher.from_model(model))


def test_xgboost_space_and_sampler(magic):
    import xgboost as xgb

    X, y = _split(magic)
    teacher = Teacher.from_model(xgb.XGBClassifier(n_estimators=30, max_depth=4, random_state=0).fit(X, y))
    space = feature_space(teacher)
    rows = ForestSampler(space).sample(300, random_state=1)
    for spec in space.schema.columns:
        assert rows[spec.name].between(spec.minimum, spec.maximum).all()


def test_rows_stay_inside_the_boxes_of_the_trees_they_descended(magic):
    """With one tree per row, every row must land in a leaf of some tree whose path it respects: check it
    reaches, in that tree, a leaf with training weight (the sampler never takes a child with none)."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = _split(magic)
    forest = RandomForestClassifier(n_estimators=1, random_state=0, bootstrap=False).fit(X, y)
    space = feature_space(Teacher.from_model(forest))
    rows = ForestSampler(space, trees_per_row=1).sample(2000, random_state=0)
    leaves = forest.estimators_[0].apply(rows.to_numpy(dtype=np.float32))
    assert (forest.estimators_[0].tree_.n_node_samples[leaves] > 0).all()
    # the leaves are reached in proportion to their training rows, roughly
    train_leaves = forest.estimators_[0].apply(X.to_numpy(dtype=np.float32))
    share = lambda ids: np.bincount(ids, minlength=forest.estimators_[0].tree_.node_count) / len(ids)  # noqa: E731
    assert np.abs(share(leaves) - share(train_leaves)).sum() < 0.25


def test_combining_trees_brings_rows_closer_to_the_real_ones(magic):
    """The issue's naive try samples one tree's leaf box per row; combining several trees' boxes must give
    rows whose columns are distributed more like the real rows (mean Kolmogorov-Smirnov distance), and
    whose teacher classes come in proportions closer to the real rows'."""
    from scipy.stats import ks_2samp
    from sklearn.ensemble import RandomForestClassifier

    X, y = _split(magic)
    teacher = Teacher.from_model(RandomForestClassifier(n_estimators=60, min_samples_leaf=2, random_state=0)
                                 .fit(X, y))
    space = feature_space(teacher)
    real_share = teacher.predict_proba(X)[:, 1].mean()

    def distance(trees_per_row: int) -> tuple[float, float]:
        rows = ForestSampler(space, trees_per_row=trees_per_row).sample(4000, random_state=0)
        ks = np.mean([ks_2samp(rows[c], X[c]).statistic for c in X.columns])
        return float(ks), float(abs(teacher.predict_proba(rows)[:, 1].mean() - real_share))

    (ks_one, share_one), (ks_many, share_many) = distance(1), distance(16)
    assert ks_many < 0.6 * ks_one, (ks_one, ks_many)
    assert share_many < 0.5 * share_one, (share_one, share_many)


def test_same_seed_same_student_and_rounds_add_selected_rows(magic):
    from sklearn.ensemble import RandomForestClassifier

    X, y = _split(magic)
    teacher = Teacher.from_model(RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y))
    config = Settings.from_options(max_depth=4, synthetic_rows=3000, seed=3, selection_rounds=1, selection_spread=0.1)
    a, b = train_data_free(teacher, config), train_data_free(teacher, config)
    np.testing.assert_array_equal(a.student.predict_proba(X), b.student.predict_proba(X))
    assert a.selection["rounds"] == 1 and a.selection["selected_rows"] == 1500
    assert a.n_synthetic == 3000 and a.baseline is None


def test_cli_data_free_classification_scored_on_eval_data(teachers, tmp_path, magic):
    out = tmp_path / "out"
    done = run_cli("distill", teachers["rf_magic"], "--eval-data", DATA / "magic_1200.csv", "--out", out, "--json",
                   "--synthetic-rows", "5000", "--max-depth", "4", "--seed", "0")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["mode"] == "data-free" and report["data"]["train_rows"] == 0
    assert report["data"]["test_rows"] == len(magic) and report["data"]["eval_path"].endswith("magic_1200.csv")
    assert report["generator"]["name"] == "forest" and report["data"]["synthetic_rows"] == 5000
    assert report["tsc"] is None  # no real training rows to compare the rows with
    assert report["search"] is None and report["settings"]["student"]["name"] == "tree"  # resolved, not left unset
    student = joblib.load(out / "student.joblib")
    teacher = joblib.load(teachers["rf_magic"])
    X = magic.drop(columns="target")
    fidelity = float(np.mean(student.predict(X) == teacher.predict(X)))
    assert report["metrics"]["student"]["fidelity"] == pytest.approx(fidelity)
    assert fidelity > 0.8
    assert "sampled from the teacher's trees" in done.stderr


def test_cli_data_free_regression_without_eval_data_says_what_it_scored_on(teachers, tmp_path):
    out = tmp_path / "out"
    done = run_cli("distill", teachers["rf_house"], "--out", out, "--json", "--synthetic-rows", "4000",
                   "--max-depth", "5", "--seed", "0")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["task"] == "regression" and report["mode"] == "data-free"
    assert "no --eval-data" in report["data"]["scored_on"]
    assert any("no --eval-data" in note for note in report["notes"])
    assert report["metrics"]["student"]["fidelity"] > 0.3


def test_cli_data_free_refusals(teachers, tmp_path, cli):
    done = cli("distill", teachers["rf_magic"], "--few-shot", "--out", tmp_path / "o")
    assert done.returncode == 2 and "--few-shot needs DATA" in done.stderr
    done = cli("distill", teachers["rf_magic"], "--time-budget", "30", "--out", tmp_path / "o")
    assert done.returncode == 2 and "--time-budget" in done.stderr
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--data", DATA / "magic_1200.csv",
               "--out", tmp_path / "o")
    assert done.returncode == 2 and "either DATA or --data" in done.stderr
    done = cli("distill", teachers["rf_magic"], "--eval-data", tmp_path / "missing.csv", "--out", tmp_path / "o")
    assert done.returncode == 2 and "missing.csv" in done.stderr
    assert not (tmp_path / "o").exists()


def test_eval_data_with_data_trains_on_all_of_data(teachers, tmp_path, magic):
    train, held = magic.iloc[:900], magic.iloc[900:]
    train.to_csv(tmp_path / "train.csv", index=False)
    held.to_csv(tmp_path / "held.csv", index=False)
    done = run_cli("distill", teachers["rf_magic"], tmp_path / "train.csv", "--eval-data", tmp_path / "held.csv",
                   "--out", tmp_path / "out", "--json", "--synthetic-ratio", "2", "--no-baseline", "--seed", "0")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["mode"] == "data"
    assert report["data"]["train_rows"] == 900 and report["data"]["test_rows"] == len(held)
    assert report["tsc"]["real"]["train_rows"] == 900 and report["tsc"]["score"]["fidelity_ratio"] > 0.5
    assert "TSC score" in done.stderr


def test_rarity_favours_classes_and_value_ranges_still_rare():
    from tabcompress.methods.selection import rarity

    kept = np.array([[0.9, 0.1, 0.0]] * 8 + [[0.1, 0.8, 0.1]] * 2)  # class 0: 80 %, class 1: 20 %, class 2: none
    candidates = np.array([[0.7, 0.3, 0.0], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    np.testing.assert_allclose(rarity(kept, candidates), [0.0, 0.4, 1.0])
    values = np.r_[np.zeros(90), np.linspace(0, 10, 10)]
    scores = rarity(values, np.array([0.0, 9.5]))
    assert scores[0] == 0.0 and scores[1] > 0.8


def test_missing_values_and_text_columns_in_a_regression_pipeline(california):
    """scikit-learn splits missing from present values with an infinite threshold: it must not become
    a cut point or a range end, and sampled rows stay finite and inside the encoder's categories."""
    import warnings

    from sklearn.ensemble import RandomForestRegressor

    X, y = _split(california)
    teacher = Teacher.from_model(text_pipeline(X, RandomForestRegressor(n_estimators=20, random_state=0)).fit(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        space = feature_space(teacher)
        rows = ForestSampler(space).sample(1000, random_state=0)
    assert all(np.isfinite(c).all() for c in space.cuts.values())
    numeric = rows[space.schema.numeric].to_numpy(dtype=float)
    assert np.isfinite(numeric).all()
    assert rows["ocean_proximity"].isin(X["ocean_proximity"].unique()).all()
    assert np.isfinite(teacher.predict(rows)).all()


def test_forest_rows_join_a_run_with_real_rows(teachers, bank):
    """--generator munge+forest: half the synthetic rows come from the teacher's trees, inside the real rows'
    categories and ranges."""
    from conftest import assert_in_schema

    from tabcompress import distill
    from tabcompress.generators import make_generator
    from tabcompress.schema import Schema
    from tabcompress.teachers import load_teacher

    config = Settings.from_options(generator="munge+forest", synthetic_ratio=2, max_depth=4, seed=0, tsc=False)
    result = distill(teachers["pipe_bank"], DATA / "bank_1500.csv", config)
    assert result.report["generator"]["name"] == "munge+forest"
    assert result.report["data"]["synthetic_rows"] == 2 * result.report["data"]["train_rows"]

    X = bank.drop(columns="target").iloc[:300]  # a narrower range than the teacher saw
    schema = Schema.infer(X)
    rows = make_generator("forest", teacher=load_teacher(teachers["pipe_bank"])).fit(X, schema).sample(
        800, random_state=0)
    assert_in_schema(rows, X, schema)
    with pytest.raises(ValueError, match="teacher="):
        make_generator("forest").fit(X, schema)


def test_teacher_without_feature_names_scored_on_eval_rows(magic):
    """A forest fitted on a bare array takes the evaluation CSV's columns in file order; the data-free
    student, which only knows the derived names, must be scored on those same columns."""
    from sklearn.ensemble import RandomForestClassifier

    from tabcompress import distill

    X, y = _split(magic)
    teacher = Teacher.from_model(RandomForestClassifier(n_estimators=20, random_state=0).fit(X.to_numpy(), y))
    assert teacher.feature_names is None
    result = distill(teacher, None, Settings.from_options(synthetic_rows=3000, max_depth=4, seed=0), eval_data=magic)
    assert result.report["data"]["test_rows"] == len(magic)
    expected = np.mean(result.student.predict(X.set_axis(result.student.feature_names_in_, axis=1))
                       == teacher.predict(X))
    assert result.report["metrics"]["student"]["fidelity"] == pytest.approx(expected)
    assert expected > 0.75


def test_ranges_from_thresholds():
    from tabcompress.teachers.space import _range_from_cuts

    below = lambda values: np.nextafter(np.asarray(values, float), -np.inf)  # noqa: E731  XGBoost's "x < split"
    assert _range_from_cuts(np.array([0.5])) == (0.0, 1.0, True)  # a 0/1 column, scikit-learn
    assert _range_from_cuts(below([1.0])) == (0.0, 1.0, True)  # the same, XGBoost
    # mostly 0, first cut at the first value above it (XGBoost's quantile cuts): the range reaches 0
    low, high, whole = _range_from_cuts(below([594.0, 2885.0, 7688.0]))
    assert whole and low == 0.0 and high >= 7688.0
    low, high, whole = _range_from_cuts(np.array([-1.25, 0.4, 2.0]))  # floats crossing 0 widen both ways
    assert not whole and low < -1.25 and high > 2.0
