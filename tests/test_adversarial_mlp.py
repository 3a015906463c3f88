"""MLPStudent's adversarial training (KDGAN with the tree teacher frozen), on a slice of bank_marketing."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from conftest import text_pipeline
from sklearn.ensemble import RandomForestClassifier

from tabcompress.errors import InputError
from tabcompress.students import MLPStudent


@pytest.fixture(scope="module")
def taught(bank):
    """Bank rows (9 text columns), a small forest teacher fitted on them, and its probabilities."""
    X = bank.drop(columns="target").reset_index(drop=True)
    y = bank["target"].to_numpy()
    teacher = text_pipeline(X, RandomForestClassifier(n_estimators=30, random_state=0)).fit(X, y)
    categorical = [c for c in X.columns if X[c].dtype == object]
    return X, y, teacher.predict_proba(X), teacher.classes_, categorical


def fit(taught, sample_weight=None, **options):
    X, _, P, classes, categorical = taught
    settings = {"hidden": (16,), "max_epochs": 8, "device": "cpu", "random_state": 0, **options}
    return MLPStudent(**settings).fit(X, P, classes=classes, categorical=categorical, sample_weight=sample_weight)


def agreement(student, taught) -> float:
    X, _, P, classes, _ = taught
    return float(np.mean(student.predict(X) == classes[np.argmax(P, axis=1)]))


def test_off_keeps_previous_predictions(taught):
    # Figures from MLPStudent as it was before adversarial training existed (same data, teacher and
    # seed; torch 2.13 on CPU). Off, the new code must train the very same network.
    plain = fit(taught)
    p = plain.predict_proba(taught[0])[:, 1]
    np.testing.assert_allclose(p[:6], [0.2437669409, 0.2754007362, 0.2399939638, 0.2897361517,
                                       0.2300698505, 0.2478778846], atol=1e-6)
    assert p.sum() == pytest.approx(420.28772039675255, abs=1e-3)
    assert plain.adversarial_ is None and plain.n_epochs_ == 8

    weight = np.where(taught[1] == 1, 3.0, 1.0)
    p = fit(taught, sample_weight=weight).predict_proba(taught[0])[:, 1]
    np.testing.assert_allclose(p[:6], [0.2603127516, 0.3102252874, 0.2574838996, 0.3210361802,
                                       0.2397684115, 0.2661058684], atol=1e-6)
    assert p.sum() == pytest.approx(452.10124961507904, abs=1e-3)

    # The adversarial settings are ignored while adversarial training is off.
    other = fit(taught, adversarial_weight=2.0, temperature_start=5.0, temperature_end=0.5,
                discriminator_hidden=8, discriminator_learning_rate=0.1)
    np.testing.assert_array_equal(other.predict_proba(taught[0]), plain.predict_proba(taught[0]))


def test_adversarial_trains_and_predicts_probabilities(taught):
    X, _, _, classes, _ = taught
    plain = fit(taught, max_epochs=12, patience=100)
    student = fit(taught, max_epochs=12, patience=100, adversarial=True, adversarial_weight=0.3)
    proba = student.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert set(student.predict(X)) <= set(classes)
    # The adversarial term changes the network, and the student still follows its teacher.
    assert not np.array_equal(proba, plain.predict_proba(X))
    assert agreement(student, taught) >= max(0.85, agreement(plain, taught) - 0.03)

    facts = student.adversarial_
    assert facts["epochs"] == student.n_epochs_ == 12
    assert facts["weight"] == 0.3
    assert facts["temperature_final"] == pytest.approx(0.1)  # the schedule ran to its end
    assert facts["history"]["temperature"][0] == pytest.approx(1.0)
    assert np.all(np.diff(facts["history"]["temperature"]) < 0)
    assert 0.0 <= facts["discriminator_accuracy"] <= 1.0
    assert facts["discriminator_loss"] > 0 and facts["adversarial_loss"] > 0


def test_zero_weight_leaves_the_student_as_plain(taught):
    # With λ = 0 the discriminator still trains but nothing of it reaches the student: proof that the
    # adversarial term is the only change to the student's training.
    plain = fit(taught)
    zero = fit(taught, adversarial=True, adversarial_weight=0.0)
    assert zero.adversarial_ is not None
    np.testing.assert_array_equal(zero.predict_proba(taught[0]), plain.predict_proba(taught[0]))


def test_same_seed_same_predictions(taught):
    X = taught[0]
    weight = np.where(taught[1] == 1, 2.0, 1.0)
    a = fit(taught, sample_weight=weight, adversarial=True, adversarial_weight=0.5, random_state=3)
    b = fit(taught, sample_weight=weight, adversarial=True, adversarial_weight=0.5, random_state=3)
    c = fit(taught, sample_weight=weight, adversarial=True, adversarial_weight=0.5, random_state=4)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.adversarial_ == b.adversarial_
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_early_stopping_watches_the_distillation_loss(taught):
    X, _, P, _, _ = taught
    student = fit(taught, max_epochs=60, patience=2, adversarial=True, adversarial_weight=0.5,
                  learning_rate=1e-2)
    assert student.stop_reason_ == "early_stop" and student.n_epochs_ < 60
    assert student.adversarial_["temperature_final"] > 0.1  # stopped before the schedule's end
    # The kept weights are the best epoch's, and its validation loss is the plain cross-entropy to the
    # teacher on the validation rows (the same rule as MLPStudent: a seeded permutation's first 10 %).
    val = np.random.default_rng(0).permutation(len(X))[:round(0.1 * len(X))]
    q = student.predict_proba(X.iloc[val])
    cross_entropy = float(np.mean(-(P[val] * np.log(q)).sum(axis=1)))
    assert cross_entropy == pytest.approx(min(student.history_["val_loss"]), rel=1e-4)


def test_regression_teacher_refused(house):
    X = house.drop(columns="target")
    with pytest.raises(InputError, match="adversarial needs a classification teacher.*regressor"):
        MLPStudent(hidden=(8,), max_epochs=2, device="cpu", adversarial=True).fit(X, house["target"])
    # Off, a regression student still trains.
    assert MLPStudent(hidden=(8,), max_epochs=2, device="cpu").fit(X, house["target"]).adversarial_ is None


@pytest.mark.parametrize("options, option", [
    ({"adversarial_weight": -0.1}, "adversarial_weight must be"),
    ({"adversarial_weight": math.nan}, "adversarial_weight must be"),
    ({"temperature_end": 0.0}, "temperature_end must be"),
    ({"temperature_start": 0.5, "temperature_end": 1.0}, "temperature_end must be at most the start"),
    ({"temperature_start": math.inf}, "temperature_start must be"),
    ({"discriminator_hidden": 0}, "discriminator_hidden must be"),
    ({"discriminator_learning_rate": 0.0}, "discriminator_learning_rate must be"),
])
def test_bad_settings_refused(taught, options, option):
    with pytest.raises(InputError, match=option) as caught:
        fit(taught, adversarial=True, **options)
    assert "\n" not in str(caught.value)


def test_fitted_student_pickles_without_torch(taught):
    X = taught[0]
    student = fit(taught, max_epochs=3, adversarial=True)
    payload = pickle.dumps(student)
    assert b"torch" not in payload  # the discriminator is training-time only
    loaded = pickle.loads(payload)
    np.testing.assert_array_equal(loaded.predict_proba(X), student.predict_proba(X))
    assert loaded.adversarial_ == student.adversarial_
    assert all(isinstance(W, np.ndarray) and isinstance(b, np.ndarray) for W, b in loaded.weights_)
