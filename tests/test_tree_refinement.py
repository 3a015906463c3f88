"""Tree alternating optimisation (students/refine.py) and sample weights."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from tabcompress.students import MLPStudent, TreeStudent


def _disagreement(student: TreeStudent, X: pd.DataFrame, T: np.ndarray) -> float:
    return float(np.mean(np.argmax(student.predict_proba(X), axis=1) != np.argmax(T, axis=1)))



def test_split_moves_to_where_the_teacher_changes_its_mind():
    # The teacher says class 1 with probability 0.45 below x = 0.5, 0.55 on [0.5, 0.6) and 1.0 above.
    # CART's squared error puts the stump at 0.6, where the probabilities jump most, and gets
    # [0.5, 0.6) wrong (10 % of rows); the split that agrees with the teacher's class everywhere is 0.5.
    x = np.linspace(0.0, 1.0, 2001)[:-1]
    p1 = np.select([x < 0.5, x < 0.6], [0.45, 0.55], 1.0)
    X = pd.DataFrame({"x": x, "noise": np.random.default_rng(0).uniform(size=len(x))})
    T = np.column_stack([1.0 - p1, p1])
    greedy = TreeStudent(max_depth=1, refine_passes=0, random_state=0).fit(X, T, classes=[0, 1])
    refined = TreeStudent(max_depth=1, refine_passes=3, random_state=0).fit(X, T, classes=[0, 1])
    assert greedy.refinement_ is None
    assert greedy.threshold_[0] == pytest.approx(0.6, abs=1e-3)
    assert _disagreement(greedy, X, T) == pytest.approx(0.1, abs=1e-3)
    assert refined.feature_[0] == 0
    assert refined.threshold_[0] == pytest.approx(0.5, abs=1e-3)
    assert _disagreement(refined, X, T) == 0.0
    info = refined.refinement_
    assert info["loss"] == "disagreement" and info["nodes_changed"] == 1
    # The recorded losses are what the scikit-learn trees actually do.
    assert info["loss_before"] == pytest.approx(_disagreement(greedy, X, T))
    assert info["loss_after"] == pytest.approx(_disagreement(refined, X, T))
    # Leaves hold the mean teacher probability of their rows, as CART's do.
    np.testing.assert_allclose(refined.predict_proba(pd.DataFrame({"x": [0.2, 0.8], "noise": [0.5, 0.5]}))[:, 1],
                               [0.45, (0.1 * 0.55 + 0.4 * 1.0) / 0.5], atol=2e-3)


def test_refined_tree_routes_missing_values_as_recorded(magic, compiled_sklearn_trees):
    # Missing cells in several columns: the written-back tree (scikit-learn's own routing, float32
    # comparisons included) must reproduce the training loss TAO computed.
    X = magic.drop(columns="target").reset_index(drop=True).copy()
    rng = np.random.default_rng(1)
    for column in X.columns[:4]:
        X.loc[rng.uniform(size=len(X)) < 0.15, column] = np.nan
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(X.fillna(-1), magic["target"])
    T = forest.predict_proba(X.fillna(-1))
    student = TreeStudent(max_depth=5, refine=True, random_state=0).fit(X, T, classes=forest.classes_)
    info = student.refinement_
    assert info is not None and info["passes"] >= 1  # classification refines with refine=True
    assert info["loss_after"] <= info["loss_before"]
    assert info["loss_after"] == pytest.approx(_disagreement(student, X, T))
    # Leaves hold the mean teacher probabilities of their rows: predict_proba stays a distribution.
    proba = student.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # The written-back scikit-learn tree is consistent, and the student predicts what it predicts.
    (model,) = compiled_sklearn_trees
    Z = student.encoder_.transform(X)
    np.testing.assert_array_equal(student._predict_raw(X), model.predict(Z))
    np.testing.assert_array_equal(student.leaf_ids(X), model.apply(Z))
    tree = model.tree_
    assert tree.n_node_samples[0] == len(X)
    assert np.all(tree.n_node_samples[tree.children_left >= 0] ==
                  tree.n_node_samples[tree.children_left[tree.children_left >= 0]]
                  + tree.n_node_samples[tree.children_right[tree.children_left >= 0]])


def _covertype_forest(covertype) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """The slice's rows, a forest's probabilities for them, and the fit arguments a student needs."""
    X = covertype.drop(columns="target").reset_index(drop=True)
    categorical = [c for c in X.columns if X[c].dtype == object]
    codes = pd.get_dummies(X, columns=categorical, dtype=float)
    forest = RandomForestClassifier(n_estimators=40, random_state=0).fit(codes, covertype["target"])
    return X, forest.predict_proba(codes), {"classes": forest.classes_, "categorical": categorical}


def test_refinement_lowers_disagreement_on_real_rows(covertype):
    X, T, fit = _covertype_forest(covertype)
    greedy = TreeStudent(max_depth=4, refine_passes=0, random_state=0).fit(X, T, **fit)
    refined = TreeStudent(max_depth=4, refine_passes=3, random_state=0).fit(X, T, **fit)
    assert _disagreement(refined, X, T) < _disagreement(greedy, X, T)
    # Same shape: refinement moves splits, it does not grow the tree.
    assert refined.complexity() == greedy.complexity()


def test_regression_refinement_is_opt_in_and_lowers_squared_error(house):
    X = house.drop(columns="target").reset_index(drop=True)
    forest = RandomForestRegressor(n_estimators=20, random_state=0).fit(X, house["target"])
    values = forest.predict(X)
    default = TreeStudent(max_depth=4, random_state=0).fit(X, values)
    assert default.refinement_ is None  # regression keeps CART's tree unless asked
    refined = TreeStudent(max_depth=4, refine_passes=3, random_state=0).fit(X, values)
    info = refined.refinement_
    assert info["loss"] == "squared_error"
    assert info["loss_after"] <= info["loss_before"]
    assert info["loss_after"] == pytest.approx(np.mean((refined.predict(X) - values) ** 2), rel=1e-9)
    greedy = TreeStudent(max_depth=4, lookahead=1, random_state=0).fit(X, values)  # "before" is CART's tree
    assert info["loss_before"] == pytest.approx(np.mean((greedy.predict(X) - values) ** 2), rel=1e-9)
    assert [s["start"] for s in info["starts"]] == ["probabilities, all rows"]  # regression: one start


def test_several_starts_keep_the_tree_that_disagrees_least(covertype):
    X, T, fit = _covertype_forest(covertype)
    greedy = TreeStudent(max_depth=4, refine_passes=0, random_state=0).fit(X, T, **fit)
    one = TreeStudent(max_depth=4, refine=True, refine_starts=1, random_state=0).fit(X, T, **fit)
    many = TreeStudent(max_depth=4, refine=True, random_state=0).fit(X, T, **fit)  # classification: 6 starts
    starts = many.refinement_["starts"]
    assert [s["start"] for s in starts] == ["probabilities, all rows", "classes, all rows",
                                            "probabilities, half of the rows", "classes, half of the rows",
                                            "probabilities, half of the rows", "classes, half of the rows"]
    # The first start is the single-start run; the tree kept is the start that disagrees least.
    assert starts[0]["loss_after"] == one.refinement_["loss_after"]
    assert many.refinement_["loss_after"] == min(s["loss_after"] for s in starts)
    assert many.refinement_["loss_after"] == pytest.approx(_disagreement(many, X, T))
    assert many.refinement_["loss_before"] == pytest.approx(_disagreement(greedy, X, T))  # CART → shipped
    # On these rows another start ends lower than the first, so the choice changes the tree.
    assert many.refinement_["start"] != "probabilities, all rows"
    assert _disagreement(many, X, T) < _disagreement(one, X, T)
    assert many.complexity()["depth"] <= 4


def test_with_many_rows_the_starts_compete_on_a_sample_and_the_winner_is_refined_on_all(magic, monkeypatch):
    from tabcompress.students import tree as tree_module

    X = magic.drop(columns="target").reset_index(drop=True)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, magic["target"])
    T = forest.predict_proba(X)
    monkeypatch.setattr(tree_module, "SCREEN_ROWS", 400)  # the slice has 1,200 rows
    greedy = TreeStudent(max_depth=4, refine_passes=0, random_state=0).fit(X, T, classes=forest.classes_)
    student = TreeStudent(max_depth=4, refine=True, random_state=0).fit(X, T, classes=forest.classes_)
    info = student.refinement_
    assert info["screen_rows"] == 400 and len(info["starts"]) == 6
    # Judged on every row, the greedy tree included; refining the winner on every row only lowers it.
    best_on_all = min([s["loss_all_rows"] for s in info["starts"]] + [info["loss_before"]])
    assert info["loss_after"] <= best_on_all
    assert info["loss_before"] == pytest.approx(_disagreement(greedy, X, T))
    assert info["loss_after"] == pytest.approx(_disagreement(student, X, T))
    assert info["loss_after"] < info["loss_before"]
    again = TreeStudent(max_depth=4, refine=True, random_state=0).fit(X, T, classes=forest.classes_)
    np.testing.assert_array_equal(again.predict_proba(X), student.predict_proba(X))


def test_refined_student_is_deterministic_and_survives_joblib(tmp_path, magic):
    X = magic.drop(columns="target").reset_index(drop=True)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, magic["target"])
    T = forest.predict_proba(X)
    one = TreeStudent(max_depth=6, refine=True, random_state=3).fit(X, T, classes=forest.classes_)
    two = TreeStudent(max_depth=6, refine=True, random_state=3).fit(X, T, classes=forest.classes_)
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    joblib.dump(one, tmp_path / "s.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "s.joblib").predict_proba(X), one.predict_proba(X))


def test_weight_two_equals_a_duplicated_row(magic):
    X = magic.drop(columns="target").reset_index(drop=True).iloc[:600]
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, magic["target"].iloc[:600])
    T = forest.predict_proba(X)
    weights = np.ones(len(X))
    weights[:200] = 2.0
    # Two starts, both on all rows: the random halves of further starts are drawn over rows, so a
    # duplicated row changes those draws.
    weighted = TreeStudent(max_depth=4, refine=True, refine_starts=2, random_state=0).fit(X, T, classes=forest.classes_,
                                                                             sample_weight=weights)
    doubled_X = pd.concat([X, X.iloc[:200]], ignore_index=True)
    doubled_T = np.vstack([T, T[:200]])
    doubled = TreeStudent(max_depth=4, refine=True, refine_starts=2, random_state=0).fit(doubled_X, doubled_T,
                                                                            classes=forest.classes_)
    np.testing.assert_allclose(weighted.predict_proba(X), doubled.predict_proba(X))


def test_mlp_ignores_rows_of_weight_zero(magic):
    X = magic.drop(columns="target").reset_index(drop=True).iloc[:400]
    # The same rows twice, with opposite targets; the second copy weighs nothing.
    rows = pd.concat([X, X], ignore_index=True)
    T = np.vstack([np.tile([0.9, 0.1], (len(X), 1)), np.tile([0.1, 0.9], (len(X), 1))])
    for kept in (0, 1):
        weights = np.r_[np.ones(len(X)), np.zeros(len(X))] if kept == 0 else np.r_[np.zeros(len(X)), np.ones(len(X))]
        student = MLPStudent(hidden=(8,), max_epochs=300, batch_size=64, device="cpu", random_state=0)
        student.fit(rows, T, classes=[0, 1], sample_weight=weights)
        assert np.mean(student.predict(X) == kept) > 0.95


@pytest.mark.parametrize("weights, message", [(np.ones(3), "shape"), (-np.ones(10), "non-negative"),
                                              (np.zeros(10), "not all zero")])
def test_bad_sample_weight_is_refused(weights, message):
    X = pd.DataFrame({"x": np.arange(10.0)})
    T = np.tile([0.5, 0.5], (10, 1))
    with pytest.raises(ValueError, match=message):
        TreeStudent().fit(X, T, classes=[0, 1], sample_weight=weights)


def test_big_trees_are_left_as_grown_unless_asked():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(5000, 3)), columns=["a", "b", "c"])
    label = rng.integers(0, 2, len(X))  # noise: an unlimited tree grows thousands of leaves
    T = np.column_stack([1.0 - label, label]).astype(float)
    unlimited = TreeStudent(max_depth=None, refine=True, random_state=0).fit(X, T, classes=[0, 1])
    assert unlimited.complexity()["n_leaves"] > 1024 and unlimited.refinement_ is None
    asked = TreeStudent(max_depth=None, refine_passes=1, random_state=0).fit(X, T, classes=[0, 1])
    assert asked.complexity()["n_leaves"] > 1024 and asked.refinement_ is not None


@pytest.mark.parametrize("options, name", [({"refine_passes": -1}, "refine_passes"),
                                           ({"refine_starts": 0}, "refine_starts"),
                                           ({"refine_starts": 2.5}, "refine_starts")])
def test_bad_refine_options_are_refused(options, name):
    X = pd.DataFrame({"x": np.arange(10.0)})
    T = np.column_stack([np.arange(10) < 5, np.arange(10) >= 5]).astype(float)
    with pytest.raises(ValueError, match=name):
        TreeStudent(**options).fit(X, T, classes=[0, 1])


def test_every_node_holds_the_mean_of_its_rows_after_refinement(magic, compiled_sklearn_trees):
    X = magic.drop(columns="target").reset_index(drop=True)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, magic["target"])
    T = forest.predict_proba(X)
    student = TreeStudent(max_depth=5, refine=True, random_state=0).fit(X, T, classes=forest.classes_)
    assert student.refinement_["nodes_changed"] >= 1
    (model,) = compiled_sklearn_trees
    path = model.decision_path(student.encoder_.transform(X).astype(np.float32)).toarray().astype(bool)
    values = model.tree_.value[:, :, 0]
    np.testing.assert_array_equal(student.value_, values)  # the student holds the tree's values
    for node in range(model.tree_.node_count):
        rows = path[:, node]
        if rows.any():
            np.testing.assert_allclose(values[node], T[rows].mean(axis=0), atol=1e-9)
            assert model.tree_.n_node_samples[node] == rows.sum()


def _best_split_one_node(X, delta):
    """Reference: the node problem solved for one node by sorting each feature (the plain way)."""
    best = None
    for f in range(X.shape[1]):
        x = X[:, f]
        missing = np.isnan(x)
        xs = x[~missing]
        order = np.argsort(xs, kind="stable")
        xs = xs[order]
        cum = np.cumsum(delta[~missing][order])[:-1]
        cut = np.flatnonzero(xs[:-1] < xs[1:])
        if len(cut) == 0:
            continue
        missing_delta = float(delta[missing].sum())
        costs = cum[cut] + (min(missing_delta, 0.0) if missing.any() else 0.0)
        k = int(np.argmin(costs))
        if best is None or costs[k] < best[0] - 1e-12:
            p = cut[k]
            threshold = (xs[p] + xs[p + 1]) / 2.0
            go_left = missing_delta < 0.0 if missing.any() else p + 1 >= len(xs) - (p + 1)
            best = (float(costs[k]), f, float(threshold), bool(go_left))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_nodes_at_once_match_one_node_at_a_time(seed):
    from tabcompress.students.refine import _best_splits

    rng = np.random.default_rng(seed)
    n, d, m = 3000, 4, 7
    Z = np.round(rng.normal(size=(n, d)), 1)  # ties
    Z[rng.uniform(size=(n, d)) < 0.1] = np.nan
    Z[:, 3] = 1.0  # a constant feature offers no cut
    delta = rng.choice([-1.0, 0.0, 1.0], size=n) * rng.uniform(0.5, 2.0, size=n)
    code = rng.integers(0, m + 1, size=n)  # m: rows at none of the nodes
    code[code == 5] = m  # node 5 reaches no rows
    orders = [np.argsort(Z[:, f], kind="stable") for f in range(d)]
    cost, feature, threshold, missing_left = _best_splits(np.ascontiguousarray(Z.T), orders, code, delta, m)
    for node in range(m):
        rows = np.flatnonzero(code == node)
        expected = _best_split_one_node(Z[rows], delta[rows]) if len(rows) else None
        if expected is None:
            assert cost[node] == np.inf
            continue
        assert cost[node] == pytest.approx(expected[0], abs=1e-9)
        assert (feature[node], threshold[node], missing_left[node]) == expected[1:]
