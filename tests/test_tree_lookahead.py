"""The tree student's root lookahead: another root only when it fits the training rows clearly better, and
the tree it ships routes rows as the candidate was judged."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.tree import DecisionTreeRegressor

from tabcompress.students.tree import LOOKAHEAD_MARGIN, TreeStudent, pruning_path

CATEGORICAL = ["Wilderness_Area"]


def _disagreement(student, X, T) -> float:
    return float(np.mean(np.argmax(student.predict_proba(X), axis=1) != np.argmax(T, axis=1)))


@pytest.fixture(scope="module")
def covertype_soft(covertype):
    X = covertype.drop(columns="target").reset_index(drop=True)
    numeric = X.select_dtypes("number")  # the teacher reads the numbers; the student all columns
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(numeric, covertype["target"])
    return X, forest.predict_proba(numeric), forest.classes_


@pytest.fixture(scope="module")
def house_values(house):
    X = house.drop(columns="target").reset_index(drop=True)
    return X, RandomForestRegressor(n_estimators=20, random_state=0).fit(X, house["target"]).predict(X)


def test_lookahead_1_is_cart(covertype_soft):
    X, T, classes = covertype_soft
    student = TreeStudent(max_depth=6, lookahead=1, random_state=0).fit(X, T, classes=classes, categorical=CATEGORICAL)
    reference = DecisionTreeRegressor(max_depth=6, random_state=0).fit(student.encoder_.transform(X), T)
    np.testing.assert_array_equal(student.threshold_, reference.tree_.threshold)
    assert student.lookahead_ is None and student.fitted_settings()["lookahead"] == 1


def test_a_new_root_fits_the_training_rows_better_by_the_margin(covertype_soft):
    X, T, classes = covertype_soft
    greedy = TreeStudent(max_depth=6, lookahead=1, random_state=0).fit(X, T, classes=classes, categorical=CATEGORICAL)
    student = TreeStudent(max_depth=6, random_state=0).fit(X, T, classes=classes, categorical=CATEGORICAL)
    info = student.lookahead_
    assert info["root_changed"] and info["roots_tried"] == 5 == student.fitted_settings()["lookahead"]
    assert student.feature_[0] != greedy.feature_[0]
    # the shipped tree routes rows as the candidate was judged, and its depth is the asked one
    assert _disagreement(student, X, T) == pytest.approx(info["best_loss"], abs=1e-12)
    assert _disagreement(greedy, X, T) == pytest.approx(info["greedy_loss"], abs=1e-12)
    assert info["best_loss"] < (1 - LOOKAHEAD_MARGIN) * info["greedy_loss"]
    assert student.complexity()["depth"] == 6
    # every node's value is the mean target of the rows that reach it
    leaves = student.leaf_ids(X)
    for leaf in np.unique(leaves)[:5]:
        np.testing.assert_allclose(student.value_[leaf], T[leaves == leaf].mean(axis=0))


def test_greedy_is_kept_inside_the_margin(magic):
    X = magic.drop(columns="target").reset_index(drop=True)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, magic["target"])
    T = forest.predict_proba(X)
    greedy = TreeStudent(max_depth=4, lookahead=1, random_state=0).fit(X, T, classes=forest.classes_)
    student = TreeStudent(max_depth=4, random_state=0).fit(X, T, classes=forest.classes_)
    assert not student.lookahead_["root_changed"]
    np.testing.assert_array_equal(student.threshold_, greedy.threshold_)


def test_regression_lookahead_lowers_the_squared_error(house_values):
    X, values = house_values
    greedy = TreeStudent(max_depth=4, lookahead=1, random_state=0).fit(X, values)
    student = TreeStudent(max_depth=4, random_state=0).fit(X, values)
    assert student.lookahead_["root_changed"]
    error = np.mean((student.predict(X) - values) ** 2)
    assert error == pytest.approx(student.lookahead_["best_loss"], rel=1e-9)
    assert error < (1 - LOOKAHEAD_MARGIN) * np.mean((greedy.predict(X) - values) ** 2)


def test_a_lookahead_tree_prunes_and_survives_a_round_trip(house_values, tmp_path):
    import joblib

    X, values = house_values
    student = TreeStudent(max_depth=4, random_state=0).fit(X, values)
    assert student.lookahead_["root_changed"]
    alphas, leaves = pruning_path(*student._grown)
    assert leaves[0] == student.complexity()["n_leaves"] and leaves[-1] == 1
    assert np.all(np.diff(alphas) >= 0)
    pruned = TreeStudent(max_depth=4, ccp_alpha=float(alphas[len(alphas) // 2]), random_state=0).fit(X, values)
    assert pruned.complexity()["n_leaves"] < student.complexity()["n_leaves"]
    joblib.dump(student, tmp_path / "s.joblib")
    loaded = joblib.load(tmp_path / "s.joblib")
    np.testing.assert_array_equal(loaded.predict(X), student.predict(X))
    assert not hasattr(loaded, "lookahead_")  # the fit's record is the report's, not the student's bytes


def test_lookahead_stays_out_of_leaf_budgets_and_refinement(covertype_soft):
    X, T, classes = covertype_soft
    fit = {"classes": classes, "categorical": CATEGORICAL}
    by_leaves = TreeStudent(max_depth=None, max_leaf_nodes=20, random_state=0).fit(X, T, **fit)
    refined = TreeStudent(max_depth=6, refine=True, refine_starts=1, random_state=0).fit(X, T, **fit)
    assert by_leaves.lookahead_ is None and refined.lookahead_ is None


def test_many_rows_judge_the_roots_on_a_sample(covertype_soft, monkeypatch):
    import tabcompress.students.tree as tree

    X, T, classes = covertype_soft
    monkeypatch.setattr(tree, "LOOKAHEAD_ROWS", 500)
    student = TreeStudent(max_depth=6, random_state=0).fit(X, T, classes=classes, categorical=CATEGORICAL)
    assert student.lookahead_["rows"] == 500
    again = TreeStudent(max_depth=6, random_state=0).fit(X, T, classes=classes, categorical=CATEGORICAL)
    np.testing.assert_array_equal(student.threshold_, again.threshold_)  # the sample follows the seed


def test_weights_count_as_repeated_rows(house_values):
    X, values = house_values
    weight = np.tile([1.0, 2.0, 0.0], len(X) // 3 + 1)[:len(X)]
    weighted = TreeStudent(max_depth=4, random_state=0).fit(X, values, sample_weight=weight)
    repeat = np.repeat(np.arange(len(X)), weight.astype(int))
    repeated = TreeStudent(max_depth=4, random_state=0).fit(X.iloc[repeat].reset_index(drop=True), values[repeat])
    assert weighted.lookahead_["root_changed"] == repeated.lookahead_["root_changed"]
    assert weighted.lookahead_["best_loss"] == pytest.approx(repeated.lookahead_["best_loss"], rel=1e-9)
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X))


def test_few_rows_keep_carts_tree(house_values):
    from tabcompress.students.tree import LOOKAHEAD_MIN_ROWS

    X, values = house_values
    few = slice(0, LOOKAHEAD_MIN_ROWS - 1)
    student = TreeStudent(max_depth=4, random_state=0).fit(X[few], values[few])
    greedy = TreeStudent(max_depth=4, lookahead=1, random_state=0).fit(X[few], values[few])
    assert student.lookahead_ is None
    np.testing.assert_array_equal(student.threshold_, greedy.threshold_)


@pytest.fixture()
def small_nodes_look_ahead(monkeypatch):
    """The fixtures' 1,200-1,500 rows leave the root's sides under LOOKAHEAD_MIN_ROWS; lower it so
    that nodes below the root look ahead too."""
    import tabcompress.students.tree as tree

    monkeypatch.setattr(tree, "LOOKAHEAD_MIN_ROWS", 150)
    return tree


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_nodes_below_the_root_look_ahead(task, covertype_soft, house_values, small_nodes_look_ahead, monkeypatch):
    X, T = (covertype_soft[0], covertype_soft[1]) if task == "classification" else house_values
    fit = {"classes": covertype_soft[2], "categorical": CATEGORICAL} if task == "classification" else {}
    greedy = TreeStudent(max_depth=5, lookahead=1, random_state=0).fit(X, T, **fit)
    student = TreeStudent(max_depth=5, random_state=0).fit(X, T, **fit)
    monkeypatch.setattr(small_nodes_look_ahead, "LOOKAHEAD_LEVELS", 1)
    root_only = TreeStudent(max_depth=5, random_state=0).fit(X, T, **fit)
    info = student.lookahead_

    def loss(model):
        if task == "classification":
            return _disagreement(model, X, T)
        return float(np.mean((model.predict(X) - T) ** 2))

    assert info["levels"] == 3 and info["nodes_changed"] > int(info["root_changed"])
    # the record is the shipped tree's own loss, each changed node lowered it, and the root's choice is
    # the one root-only lookahead makes
    assert loss(student) == pytest.approx(info["shipped_loss"], rel=1e-9, abs=1e-12)
    assert info["shipped_loss"] < loss(root_only) <= loss(greedy)
    assert info["root_changed"] == root_only.lookahead_["root_changed"]
    assert root_only.lookahead_["nodes_changed"] == int(root_only.lookahead_["root_changed"])
    assert student.complexity()["depth"] == 5
    leaves = student.leaf_ids(X)
    targets = T.reshape(len(T), -1)
    for leaf in np.unique(leaves):
        np.testing.assert_allclose(student.value_[leaf], targets[leaves == leaf].mean(axis=0).ravel(), rtol=1e-6)
    alphas, n_leaves = pruning_path(*student._grown)  # the composed arrays prune as a grown tree does
    assert n_leaves[0] == student.complexity()["n_leaves"] and n_leaves[-1] == 1 and np.all(np.diff(alphas) >= 0)


def test_lookahead_below_the_root_follows_the_seed(covertype_soft, small_nodes_look_ahead):
    X, T, classes = covertype_soft
    fit = {"classes": classes, "categorical": CATEGORICAL}
    first, again = (TreeStudent(max_depth=5, random_state=3).fit(X, T, **fit) for _ in range(2))
    np.testing.assert_array_equal(first.threshold_, again.threshold_)
    np.testing.assert_array_equal(first.feature_, again.feature_)


def test_a_search_of_sizes_grows_its_tree_candidates_by_cart():
    """A search of sizes fits a dozen trees or more: its candidates are CART's trees unless --lookahead is
    given; the tree it ships is grown with the settings' lookahead (run/modes.py)."""
    from tabcompress import Settings
    from tabcompress.methods.search import candidate_options

    assert candidate_options("tree", Settings.from_options(target_fidelity=0.9)) == {"lookahead": 1}
    assert candidate_options("tree", Settings.from_options(student="auto")) == {"lookahead": 1}
    assert candidate_options("tree", Settings.from_options(max_size="20KB", lookahead=3)) == {}
    assert candidate_options("gbdt", Settings.from_options(target_fidelity=0.9)) == {}
    assert candidate_options("tree", Settings()) == {}  # one size: the candidates are the student as set
