"""One contract for every registered student and every registered generator.

A new student or generator is a small class plus its name in a registry; these tests then run it
through the same checks as the others: its name and traits, building it from a run's settings, the
shapes of what it returns, the same seed giving the same output, the schema respected, a bad
parameter refused with a SettingError naming it, and its fitted state surviving pickling (and, for
students, skops, which ``--safe`` writes).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from conftest import assert_in_schema, text_pipeline

from tabcompress import Settings, Teacher
from tabcompress.errors import SettingError
from tabcompress.registry import GENERATORS, STUDENTS
from tabcompress.schema import Schema
from tabcompress.teachers import label_rows

#: settings that keep every component quick on a few hundred rows
QUICK = Settings.from_options(epochs=1, batch_size=100, hidden=(8,), max_depth=3, device="cpu", seed=3)


@pytest.fixture(scope="module")
def rows(california):
    """300 rows with a text column and missing cells, a forest teacher behind a one-hot encoder, and its
    soft targets as a regressor and (thresholded) as a classifier."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    frame = california.iloc[:300].reset_index(drop=True)
    X, y = frame.drop(columns="target"), frame["target"]
    regressor = Teacher.from_model(text_pipeline(X, RandomForestRegressor(n_estimators=5, random_state=0)).fit(X, y))
    labels = np.where(y > y.median(), "high", "low")
    classifier = Teacher.from_model(
        text_pipeline(X, RandomForestClassifier(n_estimators=5, random_state=0)).fit(X, labels))
    return {"X": X, "schema": Schema.infer(X), "regressor": regressor, "classifier": classifier,
            "values": label_rows(regressor, X), "probabilities": label_rows(classifier, X)}


# -- students ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", STUDENTS.names())
def test_student_contract(name, rows, tmp_path):
    cls = STUDENTS.get(name)
    assert cls.name == name and isinstance(cls.uses_torch, bool) and isinstance(cls.takes_time_limit, bool)
    X, schema = rows["X"], rows["schema"]
    classes = rows["classifier"].classes_
    fit = {"classes": classes, "categorical": schema.categorical}

    def trained():
        student = cls.from_settings(QUICK)
        assert isinstance(student, cls)
        return student.fit(X, rows["probabilities"], **fit)

    student = trained()
    assert list(student.feature_names_in_) == list(X.columns) and student.n_features_in_ == X.shape[1]
    labels, proba = student.predict(X), student.predict_proba(X)
    assert labels.shape == (len(X),) and set(labels) <= set(classes)
    assert proba.shape == (len(X), len(classes))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(labels, classes[np.argmax(proba, axis=1)])
    both = student.predict_with_proba(X)  # one pass, the same two answers
    np.testing.assert_array_equal(both[0], labels)
    np.testing.assert_array_equal(both[1], proba)
    np.testing.assert_array_equal(trained().predict_proba(X), proba)  # same seed, same student
    # rows given in parts (real and synthetic, say) train the same student as the parts joined
    from tabcompress.students.encoding import StackedFrames

    parts = StackedFrames([X.iloc[:100], X.iloc[100:250], X.iloc[250:]])
    stacked = cls.from_settings(QUICK).fit(parts, rows["probabilities"], **fit)
    np.testing.assert_array_equal(stacked.predict_proba(X), proba)
    assert set(student.complexity()) and isinstance(student.fitted_settings(), dict)
    # columns are read by name, in any order, extra columns ignored
    shuffled = X[list(reversed(X.columns))].assign(extra=1)
    np.testing.assert_array_equal(student.predict_proba(shuffled), proba)

    regressor = cls.from_settings(QUICK).fit(X, rows["values"], categorical=schema.categorical)
    assert regressor.predict(X).shape == (len(X),)
    with pytest.raises(AttributeError):
        regressor.predict_proba(X)

    np.testing.assert_array_equal(pickle.loads(pickle.dumps(student)).predict_proba(X), proba)
    from tabcompress.export import load_student, write_outputs

    write_outputs(tmp_path, student, {"student": name}, student_format="skops")
    np.testing.assert_array_equal(load_student(tmp_path / "student.skops").predict_proba(X), proba)

    # the portable description computes what the student computes, unseen categories included
    from tabcompress.students import portable

    odd = X.copy()
    for column in schema.categorical:
        odd.loc[odd.index[::7], column] = "never seen"
    rows_of = odd.astype(object).where(odd.notna(), None).values.tolist()
    for fitted in (student, regressor):
        description = json.loads(json.dumps(fitted.portable()))  # plain data: survives JSON
        assert description["family"] == name and [c["name"] for c in description["columns"]] == list(X.columns)
        predicted, probabilities = portable.predict(description, rows_of)
        if fitted is student:
            np.testing.assert_array_equal(np.asarray(predicted, dtype=object), student.predict(odd).astype(object))
            np.testing.assert_allclose(probabilities, student.predict_proba(odd), rtol=0, atol=1e-12)
        else:
            np.testing.assert_allclose(predicted, regressor.predict(odd), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("name", STUDENTS.names())
def test_student_refuses_a_bad_parameter(name, rows):
    cls = STUDENTS.get(name)
    for parameter in _checked_parameters(cls):
        student = cls()
        setattr(student, parameter, "nonsense")
        with pytest.raises(SettingError, match=f"^{parameter} must be"):
            student.fit(rows["X"], rows["values"])


# -- generators ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", GENERATORS.names())
def test_generator_contract(name, rows):
    cls = GENERATORS.get(name)
    assert cls.name == name
    for trait in ("trains", "takes_time_limit", "cache_worthy", "needs_teacher"):
        assert isinstance(getattr(cls, trait), bool), trait
    X, schema = rows["X"], rows["schema"]
    teacher = rows["regressor"] if cls.needs_teacher else None

    def fitted():
        generator = cls.from_settings(QUICK, device="cpu", teacher=teacher, time_limit=None)
        assert isinstance(generator, cls) and generator.parts == [generator]
        return generator.fit(X, schema, random_state=5)

    given = X.copy()
    generator = fitted()
    pd.testing.assert_frame_equal(X, given)  # a generator reads the caller's rows (not a copy): never writes
    sample = generator.sample(250, random_state=7)
    assert len(generator.sample(0)) == 0
    assert len(sample) == 250
    assert_in_schema(sample, X, schema)
    pd.testing.assert_frame_equal(fitted().sample(250, random_state=7), sample)  # same seed, same rows
    assert not sample.equals(generator.sample(250, random_state=8))
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(generator)).sample(250, random_state=7), sample)
    facts = generator.training_facts()
    assert isinstance(facts, dict) and (bool(facts) == cls.trains)


def _checked_parameters(cls) -> list[str]:
    return [f.name for f in fields(cls) if "constraint" in f.metadata]


@pytest.mark.parametrize("name", GENERATORS.names())
def test_generator_refuses_a_bad_parameter(name, rows):
    cls = GENERATORS.get(name)
    parameter = _checked_parameters(cls)[-1]
    generator = cls.from_settings(QUICK, teacher=rows["regressor"])
    setattr(generator, parameter, -1)
    with pytest.raises(SettingError, match=f"{parameter} must be"):
        generator.fit(rows["X"], rows["schema"], random_state=0)


def test_registries_list_what_the_command_line_offers():
    from tabcompress.generators import generator_names
    from tabcompress.students import student_names

    assert student_names() == STUDENTS.names() == ("tree", "mlp", "gbdt", "linear")
    assert generator_names() == (*GENERATORS.names(), "none")
    with pytest.raises(SettingError, match="student must be one of tree, mlp, gbdt, linear, got 'forest'"):
        STUDENTS.get("forest")
