from __future__ import annotations

import io
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest

from tabcompress.errors import InputError
from tabcompress.students import MLPStudent, TreeStudent, make_student
from tabcompress.students.encoding import TabularEncoder


@pytest.fixture(scope="module")
def string_labelled(bank):
    """Bank rows with text columns and string class labels, soft targets made up from the label."""
    X = bank.drop(columns="target").reset_index(drop=True)
    labels = np.where(bank["target"].to_numpy() == 1, "yes", "no")
    classes = np.array(["no", "yes"])
    soft = np.where(labels[:, None] == classes[None, :], 0.9, 0.1)
    categorical = [c for c in X.columns if X[c].dtype == object]
    return X, soft, classes, categorical


@pytest.mark.parametrize("student", [TreeStudent(max_depth=5, random_state=0),
                                     MLPStudent(hidden=(16,), max_epochs=20, device="cpu", random_state=0)])
def test_classification_contract(string_labelled, student):
    X, soft, classes, categorical = string_labelled
    student.fit(X, soft, classes=classes, categorical=categorical)
    assert list(student.feature_names_in_) == list(X.columns)
    assert student.task_ == "binary"
    pred = student.predict(X)
    assert set(pred) <= {"no", "yes"}
    proba = student.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(pred, classes[np.argmax(proba, axis=1)])
    # Learns something: agreement with the labels it was shown beats the majority class.
    labels = classes[np.argmax(soft, axis=1)]
    assert np.mean(pred == labels) > np.mean(labels == "no")

    # Same answers whatever the column order; unseen categories and missing cells are fine.
    assert np.array_equal(student.predict(X[list(reversed(X.columns))]), pred)
    odd = X.head(5).copy()
    odd.loc[0, "job"] = "astronaut"
    odd.loc[1, "month"] = np.nan
    odd.loc[2, "balance"] = np.nan
    assert len(student.predict(odd)) == 5
    with pytest.raises(ValueError, match="missing 1 column"):
        student.predict(X.drop(columns="job"))

    restored = joblib.load(_roundtrip(student))
    assert np.array_equal(restored.predict(X), pred)


@pytest.mark.parametrize("student", [TreeStudent(max_depth=6, random_state=0),
                                     MLPStudent(hidden=(32, 32), max_epochs=60, device="cpu", random_state=0)])
def test_regression_contract(house, student):
    X = house.drop(columns="target")
    y = house["target"].to_numpy(dtype=float)
    student.fit(X, y)
    assert student.task_ == "regression"
    pred = student.predict(X)
    assert pred.shape == (len(X),)
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 > 0.3
    with pytest.raises(AttributeError):
        student.predict_proba(X)


def test_multiclass_tree_regresses_probabilities(covertype):
    X = covertype.drop(columns="target")
    classes = np.sort(covertype["target"].unique())
    soft = (covertype["target"].to_numpy()[:, None] == classes[None, :]).astype(float)
    student = TreeStudent(max_depth=8, random_state=0).fit(X, soft, classes=classes,
                                                           categorical=["Wilderness_Area"])
    assert student.task_ == "multiclass"
    assert student.predict_proba(X).shape == (len(X), len(classes))
    assert student.complexity()["depth"] <= 8


def test_mlp_student_pickles_without_torch(house):
    X = house.drop(columns="target")
    student = MLPStudent(hidden=(8,), max_epochs=3, device="cpu", random_state=0).fit(X, house["target"])
    payload = pickle.dumps(student)
    assert b"torch" not in payload  # predicting needs numpy and scikit-learn only
    assert student.complexity()["n_parameters"] == (X.shape[1] * 8 + 8) + (8 + 1)
    assert len(student.history_["train_loss"]) == student.n_epochs_ <= 3


def test_students_are_deterministic(string_labelled):
    X, soft, classes, categorical = string_labelled
    for make in (lambda: TreeStudent(max_depth=6, random_state=1),
                 lambda: MLPStudent(hidden=(16,), max_epochs=5, device="cpu", random_state=1)):
        a = make().fit(X, soft, classes=classes, categorical=categorical).predict_proba(X)
        b = make().fit(X, soft, classes=classes, categorical=categorical).predict_proba(X)
        np.testing.assert_array_equal(a, b)


def test_fit_validates_targets(string_labelled):
    X, soft, classes, categorical = string_labelled
    with pytest.raises(ValueError, match="shape"):
        TreeStudent().fit(X, soft[:, :1], classes=classes)
    with pytest.raises(ValueError, match="rows"):
        TreeStudent().fit(X.head(3), soft, classes=classes)
    with pytest.raises(InputError, match="student must be one of tree, mlp"):
        make_student("forest")


def test_encoder_orders_categories_by_target_and_handles_unknowns():
    X = pd.DataFrame({"c": ["a", "b", "c", "a", "b", "c", None]})
    y = np.array([0.9, 0.1, 0.5, 0.9, 0.1, 0.5, 0.3])
    enc = TabularEncoder(["c"], categories="ordinal").fit(X, y)
    assert enc.categories_[0] == ["b", "c", "a"]  # by mean target
    codes = enc.transform(pd.DataFrame({"c": ["a", "zzz", None]}))
    assert codes[0, 0] == 2 and np.isnan(codes[1, 0]) and np.isnan(codes[2, 0])
    onehot = TabularEncoder(["c"], categories="onehot").fit(X)
    out = onehot.transform(pd.DataFrame({"c": ["b", "zzz", None]}))
    assert out.shape == (3, 4)  # a, b, c, <missing>
    assert out[1].sum() == 0 and out[2, 3] == 1 and out[0].sum() == 1


def test_encoder_standardizes_with_missing_indicators():
    X = pd.DataFrame({"x": [1.0, np.nan, 3.0, 5.0], "k": [2, 2, 2, 2], "c": ["u", "v", "u", "v"]})
    enc = TabularEncoder(["c"], numeric="standardize", categories="onehot").fit(X)
    Z = enc.transform(X)
    assert list(enc.get_feature_names_out()) == ["x", "k", "x=<missing>", "c=u", "c=v"]
    np.testing.assert_allclose(Z[:, :3].mean(axis=0), 0.0, atol=1e-12)
    assert Z[1, 0] == Z[2, 0]  # the missing cell took the median, 3.0
    assert np.all(Z[:, 1] == 0.0)  # a constant column does not divide by zero


def test_encoder_small_and_large_batches_agree(bank):
    X = bank.drop(columns="target")
    categorical = [c for c in X.columns if X[c].dtype == object]
    enc = TabularEncoder(categorical, categories="onehot").fit(X.iloc[:500])
    big = enc.transform(X)  # pandas Categorical path
    small = np.vstack([enc.transform(X.iloc[i:i + 100]) for i in range(0, len(X), 100)])  # dict path
    np.testing.assert_array_equal(big, small)


def _roundtrip(obj) -> io.BytesIO:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    buffer.seek(0)
    return buffer


def test_a_tree_grown_on_float32_rows_is_the_tree_grown_on_float64_ones(california):
    # scikit-learn grows on float32 copies; the student encodes straight to float32 to skip the copy
    from sklearn.tree import DecisionTreeRegressor

    from tabcompress.students.tree import TreeStudent

    X = california.drop(columns="target").reset_index(drop=True)
    values = california["target"].to_numpy()
    student = TreeStudent(max_depth=6, lookahead=1, random_state=0).fit(X, values, categorical=["ocean_proximity"])
    Z = student.encoder_.transform(X)
    assert Z.dtype == np.float64
    reference = DecisionTreeRegressor(max_depth=6, random_state=0).fit(Z, values)
    np.testing.assert_array_equal(student.threshold_, reference.tree_.threshold)
    np.testing.assert_array_equal(student.predict(X), reference.predict(Z))


@pytest.mark.parametrize("numeric, categories", [("raw", "ordinal"), ("standardize", "onehot")])
def test_the_encoded_matrix_has_a_column_per_feature_name(california, numeric, categories):
    from tabcompress.students.encoding import TabularEncoder

    X = california.drop(columns="target").iloc[:300].reset_index(drop=True)
    X.loc[::7, "total_bedrooms"] = np.nan  # a missing-cell indicator column when standardised
    X.loc[::11, "ocean_proximity"] = None
    encoder = TabularEncoder(["ocean_proximity"], numeric=numeric, categories=categories).fit(X)
    Z = encoder.transform(X)
    assert Z.shape == (len(X), len(encoder.get_feature_names_out()))
    assert np.isnan(Z).any() == (numeric == "raw")  # raw keeps NaN; standardised fills every cell
