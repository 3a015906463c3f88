"""The Teacher interface: every concrete teacher answers all of it the same way, and a model without
trees (the shape of the families still to come) works for labelling and few-shot rows but is refused
by data-free distillation in one line."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import text_pipeline

from tabcompress.errors import InputError
from tabcompress.generators.forest import ForestSampler
from tabcompress.methods.fewshot import synthesize_around_prototypes
from tabcompress.schema import Schema
from tabcompress.teachers import Teacher, label_rows, load_teacher
from tabcompress.teachers.base import NUMERIC, TASKS, InputMap
from tabcompress.teachers.sklearn import SklearnTeacher
from tabcompress.teachers.space import feature_space
from tabcompress.teachers.xgboost import XGBoostTeacher


def _split(df):
    return df.drop(columns="target"), df["target"]


def _booster(X, y, params, rounds=4):
    import xgboost as xgb

    return xgb.train({"max_depth": 3, **params}, xgb.DMatrix(X, label=y, enable_categorical=True), rounds)


# name -> (family, function of the datasets giving (model, X))
CASES = {
    "forest, n_jobs=2": (SklearnTeacher, lambda d: _fit(d["magic"], "RandomForestClassifier", n_estimators=8,
                                                         n_jobs=2)),
    "hist gradient boosting regressor": (SklearnTeacher, lambda d: _fit(d["house"], "HistGradientBoostingRegressor",
                                                                        max_iter=5)),
    "pipeline with text": (SklearnTeacher, lambda d: _pipeline(d["bank"])),
    "XGBClassifier, multiclass": (SklearnTeacher, lambda d: _xgb_sklearn(d["covertype"])),
    "Booster binary:logitraw": (XGBoostTeacher, lambda d: _bare(d["magic"], {"objective": "binary:logitraw"})),
    "Booster multi:softmax": (XGBoostTeacher, lambda d: _bare_covertype(d["covertype"], {"objective": "multi:softmax",
                                                                                           "num_class": 7})),
    "Booster reg:squarederror": (XGBoostTeacher, lambda d: _bare(d["house"], {"objective": "reg:squarederror"})),
}


def _fit(df, name, **options):
    import sklearn.ensemble as ens

    X, y = _split(df)
    return getattr(ens, name)(random_state=0, **options).fit(X, y), X


def _pipeline(df):
    from sklearn.ensemble import RandomForestClassifier

    X, y = _split(df)
    return text_pipeline(X, RandomForestClassifier(n_estimators=8, random_state=0)).fit(X, y), X


def _xgb_sklearn(df):
    import xgboost as xgb

    X, y = _split(df.drop(columns="Wilderness_Area"))
    return xgb.XGBClassifier(n_estimators=3, max_depth=3).fit(X, y - 1), X


def _bare(df, params):
    X, y = _split(df)
    return _booster(X, y, params), X


def _bare_covertype(df, params):
    X, y = _split(df.drop(columns="Wilderness_Area"))
    return _booster(X, y - 1, params), X


@pytest.fixture(scope="module")
def datasets(magic, house, bank, covertype):
    return {"magic": magic, "house": house, "bank": bank, "covertype": covertype}


@pytest.mark.parametrize("case", list(CASES))
def test_each_teacher_answers_the_interface(datasets, case):
    family, build = CASES[case]
    model, X = build(datasets)
    teacher = Teacher.from_model(model)
    assert type(teacher) is family and teacher.model is model
    assert teacher.task in TASKS and teacher.kind in repr(teacher)
    assert teacher.n_features == X.shape[1] and teacher.feature_names == list(X.columns)
    assert teacher.categorical_features == []

    with teacher.reproducible():  # a forest with n_jobs=2 may differ in the last bit between calls
        soft = teacher.soft_targets(X)
        proba = teacher.predict_proba(X) if teacher.is_classifier else None
        labels = teacher.predict(X)
    if teacher.is_classifier:
        assert proba.dtype == np.float64 and proba.shape == (len(X), len(teacher.classes_))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(labels, teacher.classes_[np.argmax(proba, axis=1)])
        np.testing.assert_array_equal(soft, proba)
    else:
        assert teacher.classes_ is None and soft.shape == (len(X),) and soft.dtype == np.float64
        np.testing.assert_array_equal(labels, soft)
        with pytest.raises(AttributeError):
            teacher.predict_proba(X)
    np.testing.assert_array_equal(label_rows(teacher, X, chunk_rows=101, workers=2), soft)

    n_trees = teacher.complexity()["n_trees"]
    leaves = teacher.leaves(X.iloc[:7])
    assert leaves is None or (leaves.shape == (7, n_trees) and leaves.dtype == np.int32)

    trees, inputs = teacher.trees(), teacher.input_map()
    assert len(trees) == n_trees
    assert all(tree.feature.max() < inputs.n_inputs for tree in trees)
    assert [column.name for column in inputs.columns] == teacher.feature_names
    assert feature_space(teacher).schema.names == teacher.feature_names

    copy = pickle.loads(pickle.dumps(teacher))
    assert type(copy) is family
    with copy.reproducible():
        np.testing.assert_array_equal(copy.soft_targets(X), soft)


def test_reproducible_runs_a_forest_single_threaded_and_restores_it(magic):
    model, X = _fit(magic, "RandomForestClassifier", n_estimators=4, n_jobs=2)
    teacher = Teacher.from_model(model)
    with teacher.reproducible():
        assert model.n_jobs == 1
    assert model.n_jobs == 2


def test_a_bare_booster_gives_its_feature_space(magic, tmp_path):
    """Read through the interface, a Booster loaded from its own file maps its inputs to the raw
    columns one to one, and the forest sampler draws rows the teacher takes."""
    X, y = _split(magic)
    path = tmp_path / "model.ubj"
    _booster(X, y, {"objective": "binary:logistic"}, rounds=10).save_model(str(path))
    teacher = load_teacher(path)
    space = feature_space(teacher)
    assert space.schema.names == list(X.columns)
    assert (space.input_kind == NUMERIC).all() and list(space.input_column) == list(range(X.shape[1]))
    rows = ForestSampler(space).sample(200, random_state=0)
    for spec in space.schema.columns:
        assert rows[spec.name].between(spec.minimum, spec.maximum).all()
    assert teacher.predict_proba(rows).shape == (200, 2)


def test_a_booster_with_native_categories(bank):
    X, y = _split(bank)
    text = [c for c in X.columns if X[c].dtype == object]
    booster = _booster(X.astype({c: "category" for c in text}), y, {"objective": "binary:logistic"})
    teacher = Teacher.from_model(booster)
    assert teacher.categorical_features == text and not teacher.accepts_text
    # text columns are given as they are read from a CSV; the teacher types them itself
    assert teacher.predict_proba(X).shape == (len(X), 2)
    assert teacher.leaves(X.iloc[:5]).shape == (5, 4)
    with pytest.raises(InputError, match="cannot read XGBoost's native categorical features"):
        feature_space(teacher)


def test_refusals_name_the_reason(magic):
    import xgboost as xgb
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _split(magic)
    booster = _booster(X, y, {"objective": "binary:logistic"})
    with pytest.raises(InputError, match="a Pipeline ending in a bare xgboost.Booster cannot predict"):
        Teacher.from_model(Pipeline([("scale", StandardScaler()), ("booster", booster)]))
    with pytest.raises(InputError, match=r"teacher file m.ubj: XGBoost objective 'rank:pairwise' is not supported"):
        Teacher.from_model(_booster(X, y, {"objective": "rank:pairwise"}, rounds=1), source="m.ubj")
    one_class = xgb.train({"objective": "multi:softprob", "num_class": 1}, xgb.DMatrix(X, label=np.zeros(len(X))), 1)
    with pytest.raises(InputError, match="knows only one class"):
        Teacher.from_model(one_class)


# -- a model without trees -----------------------------------------------------------------------
class ProbabilityOnlyTeacher(Teacher):
    """The smallest family: a fitted scikit-learn classifier that shows no trees and no leaves, and
    gives its second class's probability alone (the base class adds the first)."""

    def __init__(self, model, source=None):
        super().__init__(model, task="binary", classes=model.classes_, feature_names=model.feature_names_in_,
                         n_features=model.n_features_in_, kind=type(model).__name__, source=source)

    def _predict_proba(self, X):
        return self.model.predict_proba(X)[:, 1].astype(np.float32)

    def _predict_values(self, X):
        return self.model.predict(X)

    def complexity(self):
        return {}


@pytest.fixture(scope="module")
def logistic_teacher(magic):
    from sklearn.linear_model import LogisticRegression

    X, y = _split(magic)
    return ProbabilityOnlyTeacher(LogisticRegression(max_iter=500).fit(X, y)), X


def test_a_model_without_trees_labels_rows(logistic_teacher):
    teacher, X = logistic_teacher
    proba = teacher.predict_proba(X)
    positive = teacher.model.predict_proba(X)[:, 1].astype(np.float32)
    assert proba.dtype == np.float64
    np.testing.assert_array_equal(proba[:, 1], positive)
    np.testing.assert_array_equal(proba[:, 0], 1.0 - positive)  # in the model's own precision
    np.testing.assert_array_equal(label_rows(teacher, X, chunk_rows=100), proba)
    assert teacher.leaves(X) is None and teacher.categorical_features == [] and not teacher.accepts_text


def test_a_model_without_trees_is_refused_by_data_free_distillation_in_one_line(logistic_teacher):
    teacher, _ = logistic_teacher
    for read in (teacher.trees, teacher.input_map, lambda: feature_space(teacher)):
        with pytest.raises(InputError) as refused:
            read()
        message = str(refused.value)
        assert "\n" not in message and "LogisticRegression" in message and "give real rows (DATA)" in message


def test_a_model_without_trees_grows_few_shot_rows_of_weight_one(logistic_teacher):
    teacher, X = logistic_teacher
    schema = Schema.infer(X)
    out = synthesize_around_prototypes(teacher, X.iloc[:4], schema, 80, random_state=0)
    assert len(out.X) == 80 and np.all(out.weight == 1.0)
    assert "cannot report its leaves" in out.info["note"]
    np.testing.assert_array_equal(out.T, teacher.soft_targets(out.X))


def test_input_map_from_one_triple_per_input():
    inputs = InputMap.from_inputs([], [])
    assert inputs.n_inputs == 0 and inputs.kind.dtype == np.int64
    identity = InputMap.identity(["a", "b"])
    assert [c.name for c in identity.columns] == ["a", "b"] and identity.columns[0].categories is None
    np.testing.assert_array_equal(identity.column, [0, 1])
    np.testing.assert_array_equal(identity.category, [-1, -1])
