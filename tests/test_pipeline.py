"""The library API that the CLI calls: determinism, missing values, the gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import text_pipeline

from tabcompress import FidelityGateError, InputError, Settings, Teacher, distill
from tabcompress.schema import Schema


@pytest.mark.parametrize("student", ["tree", "mlp"])
def test_same_seed_same_student(teachers, magic, student):
    # no baseline or TSC score: neither touches the student
    config = Settings.from_options(epochs=2, synthetic_ratio=1.0, student=student, hidden=(16,), device="cpu", seed=7,
                                   baseline=False, tsc=False)
    given = magic.copy()
    first = distill(teachers["rf_magic"], magic, config)
    pd.testing.assert_frame_equal(magic, given)  # the run splits its own frame of the rows, not the caller's
    second = distill(teachers["rf_magic"], magic, config)
    np.testing.assert_array_equal(first.student.predict_proba(first.X_test),
                                  second.student.predict_proba(second.X_test))
    # only its hold-out split is looked at: no synthetic rows, no search
    other = distill(teachers["rf_magic"], magic, config, seed=8, generator="none", validation_size=0)
    assert not other.X_test.equals(first.X_test)  # the seed moves the hold-out split too


def test_regression_with_text_and_missing_values(california, tmp_path):
    from sklearn.ensemble import RandomForestRegressor

    X, y = california.drop(columns="target"), california["target"]
    teacher = Teacher.from_model(text_pipeline(X, RandomForestRegressor(n_estimators=20, random_state=0)).fit(X, y))
    result = distill(teacher, california, Settings.from_options(epochs=2, synthetic_rows=3000),
                     out_dir=tmp_path / "out")
    report = result.report
    assert report["task"] == "regression"
    assert report["data"]["synthetic_rows"] == 3000
    assert {"fidelity", "r2", "rmse", "target_r2", "target_rmse"} <= set(report["metrics"]["student"])
    assert report["metrics"]["student"]["fidelity"] > 0.3
    schema = {c["name"]: c for c in report["data"]["schema"]}
    assert schema["ocean_proximity"]["kind"] == "categorical" and schema["total_bedrooms"]["has_missing"]
    assert (tmp_path / "out" / "student.joblib").exists()


def test_gate_raises_after_writing(teachers, magic, tmp_path):
    config = Settings.from_options(generator="none", max_depth=1, min_fidelity=0.999)
    with pytest.raises(FidelityGateError) as info:
        distill(teachers["rf_magic"], magic, config, out_dir=tmp_path / "o")
    assert info.value.result.report["gate"]["passed"] is False
    assert (tmp_path / "o" / "report.json").exists()


def test_bad_config_fails_before_any_work(teachers, magic, tmp_path):
    with pytest.raises(InputError, match="synthetic_ratio must be a number > 0"):
        distill(teachers["rf_magic"], magic, Settings.from_options(synthetic_ratio=0), out_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_train_student_reuses_a_fitted_generator(teachers, magic):
    from tabcompress.generators import MUNGEGenerator
    from tabcompress.run.modes import train_student
    from tabcompress.teachers.labeling import label_rows

    teacher = Teacher.from_model(__import__("joblib").load(teachers["rf_magic"]))
    X = magic.drop(columns="target").iloc[:400].reset_index(drop=True)
    schema = Schema.infer(X)
    generator = MUNGEGenerator().fit(X, schema, random_state=0)
    # no validation rows: a fresh generator is fitted on the same rows as the one given
    config = Settings.from_options(generator="munge", synthetic_rows=800, baseline=False, validation_size=0)
    trained = train_student(teacher, X, label_rows(teacher, X), schema, config, generator=generator)
    assert trained.generator is generator and trained.generator_info["reused"] is True
    assert "generator_fit" not in trained.timings_s and trained.n_synthetic == 800
    assert trained.baseline is None and trained.student.predict(X).shape == (400,)
    fresh = train_student(teacher, X, label_rows(teacher, X), schema, config)
    assert "generator_fit" in fresh.timings_s and fresh.generator_info["reused"] is False
    np.testing.assert_array_equal(fresh.student.predict_proba(X), trained.student.predict_proba(X))


def test_train_student_says_which_rows_its_search_fitted_on(teachers, magic):
    from tabcompress.methods.search import validation_split
    from tabcompress.run.modes import train_student
    from tabcompress.teachers.labeling import label_rows

    teacher = Teacher.from_model(__import__("joblib").load(teachers["rf_magic"]))
    X = magic.drop(columns="target").iloc[:400].reset_index(drop=True)
    T = label_rows(teacher, X)
    config = Settings.from_options(generator="none", baseline=False)
    trained = train_student(teacher, X, T, Schema.infer(X), config)
    fit, validation = validation_split(len(X), config, teacher.classes_[np.argmax(T, axis=1)])
    np.testing.assert_array_equal(trained.validation[0], fit)
    np.testing.assert_array_equal(trained.validation[1], validation)
    assert trained.search.fit_rows == len(fit) and trained.search.validation_rows == len(validation)
    # without validation rows there is no search, and nothing to say
    none = train_student(teacher, X, T, Schema.infer(X), config.replace(validation_size=0))
    assert none.validation is None and none.search is None
