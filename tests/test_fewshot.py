"""Few-shot rows grown around prototypes: in the schema, repeatable, weighted, mostly in the prototype's class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import assert_in_schema, text_pipeline

from tabcompress.methods.condense import condense
from tabcompress.methods.fewshot import FewShotRows, synthesize_around_prototypes
from tabcompress.schema import Schema
from tabcompress.students import make_student
from tabcompress.teachers import Teacher


def _split(df: pd.DataFrame):
    return df.drop(columns="target"), df["target"]


@pytest.fixture(scope="module")
def bank_case(bank):
    from sklearn.ensemble import RandomForestClassifier

    X, y = _split(bank)
    model = text_pipeline(X, RandomForestClassifier(n_estimators=30, min_samples_leaf=2, random_state=0)).fit(X, y)
    schema = Schema.infer(X)
    protos = condense(X, y, per_class=3, schema=schema, seed=0)
    return Teacher.from_model(model), schema, protos, X


@pytest.fixture(scope="module")
def magic_case(magic):
    from sklearn.ensemble import RandomForestClassifier

    X, y = _split(magic)
    train, test = X.iloc[:800].reset_index(drop=True), X.iloc[800:].reset_index(drop=True)
    model = RandomForestClassifier(n_estimators=40, min_samples_leaf=2, random_state=0).fit(train, y.iloc[:800])
    return Teacher.from_model(model), Schema.infer(train), train, y.iloc[:800].reset_index(drop=True), test


def test_rows_are_in_the_schema_with_teacher_targets_and_weights(bank_case):
    teacher, schema, protos, X = bank_case
    out = synthesize_around_prototypes(teacher, protos, schema, 600, random_state=0)
    assert isinstance(out, FewShotRows)
    assert len(out.X) == len(out.T) == len(out.weight) == len(out.prototype) == 600
    assert_in_schema(out.X, X, schema)
    np.testing.assert_allclose(out.T, teacher.soft_targets(out.X))
    assert np.all(out.weight > 0) and np.all(out.weight <= 1)
    assert out.weight.std() > 0  # proximity varies: the weights are not a constant
    # Rows differ from one another and from the prototypes, and every column moves somewhere.
    assert not out.X.duplicated().any()
    both = pd.concat([schema.conform(protos[schema.names]), out.X], ignore_index=True)
    assert not both.duplicated().iloc[len(protos):].any()
    moved = [c for c in schema.names if (out.X[c].to_numpy() != protos[c].to_numpy()[out.prototype]).any()]
    assert len(moved) == len(schema.names)
    assert out.info["candidates"] >= 600 and set(out.info["accepted_share"]) == {"0", "1"}


def test_deterministic_per_seed(bank_case):
    teacher, schema, protos, _ = bank_case
    a = synthesize_around_prototypes(teacher, protos, schema, 300, random_state=3)
    b = synthesize_around_prototypes(teacher, protos, schema, 300, random_state=3)
    c = synthesize_around_prototypes(teacher, protos, schema, 300, random_state=4)
    pd.testing.assert_frame_equal(a.X, b.X)
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(a.T, b.T)
    assert not a.X.equals(c.X)


def test_accepted_rows_keep_the_prototype_class(bank_case):
    teacher, schema, protos, _ = bank_case
    proto_class = teacher.predict(protos[schema.names])
    out = synthesize_around_prototypes(teacher, protos, schema, 600, boundary_share=0.2, confidence=0.6,
                                       random_state=1)
    row_class = teacher.classes_[out.T.argmax(axis=1)]
    same = row_class == proto_class[out.prototype]
    assert same[out.accepted].all()
    assert np.all(out.T[out.accepted].max(axis=1) >= np.minimum(0.6, teacher.predict_proba(protos[schema.names])
                                                                 .max(axis=1)[out.prototype[out.accepted]]) - 1e-12)
    # At least 1 - boundary_share accepted (more where a prototype had few rejected candidates to give).
    assert 0.75 <= out.accepted.mean() < 1.0
    # Without boundary rows, nearly everything stays in the prototype's class.
    only = synthesize_around_prototypes(teacher, protos, schema, 600, boundary_share=0.0, random_state=1)
    assert (teacher.classes_[only.T.argmax(axis=1)] == proto_class[only.prototype]).mean() >= 0.95
    # Rows further from their prototype (in the forest's leaves) weigh less.
    assert only.weight[only.accepted].mean() > out.weight[~out.accepted].mean()


def test_cuts_keep_rows_in_schema_and_move_by_intervals(magic_case):
    teacher, schema, train, y, _ = magic_case
    protos = condense(train, y, per_class=2, schema=schema)[schema.names]
    cuts = {}
    for tree in teacher.model.estimators_:
        for f, thr in zip(tree.tree_.feature, tree.tree_.threshold):
            if f >= 0:
                cuts.setdefault(schema.names[f], []).append(thr)
    out = synthesize_around_prototypes(teacher, protos, schema, 400, cuts=cuts, random_state=0)
    assert_in_schema(out.X, train, schema)
    assert out.info["columns_with_cuts"] == len(cuts)
    # A moved value crosses at least one of the teacher's thresholds.
    name = schema.names[0]
    c = np.unique(cuts[name])
    before = np.searchsorted(c, protos[name].to_numpy()[out.prototype])
    after = np.searchsorted(c, out.X[name].to_numpy())
    changed = out.X[name].to_numpy() != protos[name].to_numpy()[out.prototype]
    assert changed.any() and np.all(before[changed] != after[changed])


def test_leaves_for_xgboost_and_a_prototype_is_its_own_neighbour(magic_case):
    import xgboost as xgb

    _, schema, train, y, _ = magic_case
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0).fit(train, y)
    teacher = Teacher.from_model(model)
    leaves = teacher.leaves(train.iloc[:5])
    assert leaves.shape == (5, 20)
    protos = condense(train, y, per_class=2, schema=schema)[schema.names]
    out = synthesize_around_prototypes(teacher, protos, schema, 200, random_state=0)
    assert np.all(out.weight > 0) and np.all(out.weight <= 1) and out.weight.std() > 0


def test_students_learn_more_from_fewshot_rows_than_from_prototypes_alone(magic_case):
    teacher, schema, train, y, test = magic_case
    protos = condense(train, y, per_class=5, schema=schema, seed=0)[schema.names]
    target = teacher.predict(test)
    TP = teacher.soft_targets(protos)
    alone = make_student("tree", max_depth=6, random_state=0).fit(protos, TP, classes=teacher.classes_)
    few = synthesize_around_prototypes(teacher, protos, schema, 4000, random_state=0)
    student = make_student("tree", max_depth=6, random_state=0).fit(
        pd.concat([protos, few.X], ignore_index=True), np.vstack([TP, few.T]), classes=teacher.classes_,
        sample_weight=np.concatenate([np.ones(len(protos)), few.weight]))
    alone_fid = np.mean(alone.predict(test) == target)
    few_fid = np.mean(student.predict(test) == target)
    assert few_fid > alone_fid + 0.03, (alone_fid, few_fid)
