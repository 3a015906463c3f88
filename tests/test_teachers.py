from __future__ import annotations

import numpy as np
import pytest

from tabcompress.errors import InputError
from tabcompress.teachers import Teacher, load_teacher


def _xy(df):
    return df.drop(columns="target"), df["target"]


@pytest.mark.parametrize("name", [
    "RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier",
    "HistGradientBoostingClassifier",
])
def test_sklearn_classifiers(magic, name):
    import sklearn.ensemble as ens

    X, y = _xy(magic)
    kwargs = {"n_estimators": 10} if "Hist" not in name else {"max_iter": 10}
    model = getattr(ens, name)(random_state=0, **kwargs).fit(X, y)
    teacher = Teacher.from_model(model)
    assert teacher.task == "binary"
    assert list(teacher.classes_) == [0, 1]
    assert teacher.feature_names == list(X.columns)
    np.testing.assert_allclose(teacher.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(teacher.predict(X), model.predict(X))
    stats = teacher.complexity()
    assert stats["n_trees"] >= 10 and stats["n_nodes"] > stats["n_leaves"] > 0


@pytest.mark.parametrize("name", [
    "RandomForestRegressor", "ExtraTreesRegressor", "GradientBoostingRegressor", "HistGradientBoostingRegressor",
])
def test_sklearn_regressors(house, name):
    import sklearn.ensemble as ens

    X, y = _xy(house)
    kwargs = {"n_estimators": 10} if "Hist" not in name else {"max_iter": 10}
    model = getattr(ens, name)(random_state=0, **kwargs).fit(X, y)
    teacher = Teacher.from_model(model)
    assert teacher.task == "regression" and teacher.classes_ is None
    np.testing.assert_allclose(teacher.predict(X), model.predict(X))
    np.testing.assert_allclose(teacher.soft_targets(X), model.predict(X))
    with pytest.raises(AttributeError):
        teacher.predict_proba(X)


def test_multiclass_pipeline_with_text(teachers, covertype):
    teacher = load_teacher(teachers["pipe_covertype"])
    assert teacher.task == "multiclass"
    assert teacher.kind.startswith("Pipeline(ColumnTransformer")
    assert list(teacher.classes_) == sorted(covertype["target"].unique())
    assert teacher.accepts_text
    X = covertype.drop(columns="target")
    assert np.array_equal(teacher.predict(X), teacher.model.predict(X))


@pytest.mark.parametrize("cls_name,task", [
    ("XGBClassifier", "binary"), ("XGBRFClassifier", "binary"), ("XGBRegressor", "regression"),
])
def test_xgboost_sklearn_wrappers(magic, cls_name, task):
    import xgboost as xgb

    X, y = _xy(magic)
    target = y if task != "regression" else X["FLength"]
    model = getattr(xgb, cls_name)(n_estimators=5, max_depth=3).fit(X.drop(columns="FLength") if task == "regression"
                                                                    else X, target)
    teacher = Teacher.from_model(model)
    assert teacher.task == task
    Xin = X.drop(columns="FLength") if task == "regression" else X
    assert teacher.feature_names == list(Xin.columns)
    if task == "binary":
        np.testing.assert_allclose(teacher.predict_proba(Xin), model.predict_proba(Xin), rtol=1e-6)
    else:
        np.testing.assert_allclose(teacher.predict(Xin), model.predict(Xin), rtol=1e-6)
    assert teacher.complexity()["n_trees"] == 5


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
@pytest.mark.parametrize("objective", ["binary:logistic", "multi:softprob", "reg:squarederror", "binary:logitraw"])
def test_booster_files(tmp_path, covertype, suffix, objective):
    import xgboost as xgb

    X = covertype.drop(columns=["target", "Wilderness_Area"])
    y = covertype["target"].to_numpy() - 1
    params = {"objective": objective, "max_depth": 3}
    if objective == "binary:logistic" or objective == "binary:logitraw":
        y = (y == 0).astype(int)
    if objective == "multi:softprob":
        params["num_class"] = 7
    booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=4)
    path = tmp_path / f"model{suffix}"
    booster.save_model(str(path))

    teacher = load_teacher(path)
    assert teacher.kind == "xgboost.Booster"
    assert teacher.feature_names == list(X.columns)
    raw = booster.predict(xgb.DMatrix(X))
    if objective == "multi:softprob":
        assert teacher.task == "multiclass" and list(teacher.classes_) == list(range(7))
        np.testing.assert_allclose(teacher.predict_proba(X), raw, rtol=1e-6)
    elif objective.startswith("binary"):
        assert teacher.task == "binary"
        p = raw if objective == "binary:logistic" else 1 / (1 + np.exp(-raw))
        np.testing.assert_allclose(teacher.predict_proba(X)[:, 1], p, rtol=1e-5)
        np.testing.assert_allclose(teacher.predict_proba(X).sum(axis=1), 1.0)
    else:
        assert teacher.task == "regression"
        np.testing.assert_allclose(teacher.predict(X), raw, rtol=1e-6)


def test_unsupported_and_unfitted(magic, tmp_path):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.svm import SVC

    # An SVC is a teacher (the "model" family, which takes anything with predict_proba or predict);
    # an object with neither is refused.
    X, y = _xy(magic)
    assert type(Teacher.from_model(SVC().fit(X.iloc[:200], y.iloc[:200]))).__name__ == "AnyModelTeacher"
    with pytest.raises(InputError, match="unsupported model type builtins.dict; supported: Random"):
        Teacher.from_model({"weights": [1, 2, 3]})
    with pytest.raises(InputError, match="not fitted"):
        Teacher.from_model(SVC())
    with pytest.raises(InputError, match="not fitted"):
        Teacher.from_model(RandomForestClassifier())


def test_unknown_extension(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"x")
    with pytest.raises(InputError, match="unknown extension '.h5'"):
        load_teacher(path)


def test_model_fitted_without_feature_names(magic):
    from sklearn.ensemble import RandomForestClassifier

    X, y = _xy(magic)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X.to_numpy(), y)
    teacher = Teacher.from_model(model)
    assert teacher.feature_names is None and teacher.n_features == X.shape[1]
    np.testing.assert_allclose(teacher.predict_proba(X), model.predict_proba(X.to_numpy()))


def test_empty_and_directory_teacher_files(tmp_path):
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.pkl: is empty"):
        load_teacher(empty)
    with pytest.raises(InputError, match="is a directory, expected a model file"):
        load_teacher(tmp_path)


def test_reg_logistic_booster_is_a_regressor(magic, tmp_path):
    import xgboost as xgb

    X, y = _xy(magic)
    booster = xgb.train({"objective": "reg:logistic", "max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=3)
    path = tmp_path / "m.ubj"
    booster.save_model(str(path))
    teacher = load_teacher(path)
    assert teacher.task == "regression"  # "reg:" means values in [0, 1], not classes
    np.testing.assert_allclose(teacher.predict(X), booster.predict(xgb.DMatrix(X)), rtol=1e-6)
