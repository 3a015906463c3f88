"""The boosted-trees (gbdt) and linear students: they learn the teacher's soft targets, the gbdt's
compiled trees predict exactly what XGBoost's booster does, and both are deterministic, weighted,
small, skops-safe and built from a run's settings."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import text_pipeline

from tabcompress import Settings
from tabcompress.errors import SettingError
from tabcompress.students import GBDTStudent, LinearStudent, TreeStudent
from tabcompress.students.gbdt import _margin_rows


@pytest.fixture(scope="module")
def magic_soft(magic):
    """Magic rows and a small forest's probabilities for them (two classes, numbers only)."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = magic.drop(columns="target"), magic["target"].to_numpy()
    forest = RandomForestClassifier(n_estimators=30, min_samples_leaf=3, random_state=0).fit(X, y)
    return X, forest.predict_proba(X), forest.classes_


@pytest.fixture(scope="module")
def covertype_soft(covertype):
    """Covertype rows (two text columns, 7 classes) split in half, a forest fitted on the first half, and
    its probabilities for both halves."""
    from sklearn.ensemble import RandomForestClassifier

    from tabcompress import Teacher
    from tabcompress.teachers import label_rows

    X, y = covertype.drop(columns="target"), covertype["target"]
    half = len(X) // 2
    model = text_pipeline(X, RandomForestClassifier(n_estimators=30, random_state=0))
    teacher = Teacher.from_model(model.fit(X.iloc[:half], y.iloc[:half]))
    train, test = X.iloc[:half].reset_index(drop=True), X.iloc[half:].reset_index(drop=True)
    categorical = [c for c in X.columns if X[c].dtype == object]
    return train, label_rows(teacher, train), test, label_rows(teacher, test), teacher.classes_, categorical


def _california(california):
    X = california.drop(columns="target")
    return X, california["target"].to_numpy(dtype=float), ["ocean_proximity"]


# -- learning soft targets -----------------------------------------------------------------------

@pytest.mark.parametrize("student", [GBDTStudent(random_state=0), LinearStudent()], ids=["gbdt", "linear"])
def test_binary_students_track_the_teachers_probabilities(magic_soft, student):
    X, T, classes = magic_soft
    proba = student.fit(X, T, classes=classes).predict_proba(X)[:, 1]
    assert np.corrcoef(proba, T[:, 1])[0, 1] > (0.95 if student.name == "gbdt" else 0.75)
    assert abs(proba.mean() - T[:, 1].mean()) < 0.02  # calibrated on average, not just ranked


def test_multiclass_gbdt_agrees_more_than_a_tree_of_its_depth(covertype_soft):
    X, T, X_test, T_test, classes, categorical = covertype_soft
    teacher = classes[np.argmax(T_test, axis=1)]
    fit = {"classes": classes, "categorical": categorical}
    gbdt = GBDTStudent(n_trees=40, max_depth=4, random_state=0).fit(X, T, **fit)
    tree = TreeStudent(max_depth=4, random_state=0).fit(X, T, **fit)
    linear = LinearStudent().fit(X, T, **fit)
    agreement = {name: np.mean(s.predict(X_test) == teacher) for name, s in
                 (("gbdt", gbdt), ("tree", tree), ("linear", linear))}
    assert agreement["gbdt"] > agreement["tree"] + 0.02, agreement
    assert agreement["linear"] > np.mean(teacher == pd.Series(teacher).mode()[0]), agreement  # beats the majority
    assert gbdt.complexity()["n_trees"] == 40 * len(classes)


@pytest.mark.parametrize("student", [GBDTStudent(random_state=0), LinearStudent()], ids=["gbdt", "linear"])
def test_regression_students_fit_the_teachers_values(house, student):
    X, y = house.drop(columns="target"), house["target"].to_numpy(dtype=float)
    pred = student.fit(X, y).predict(X)
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 > (0.6 if student.name == "gbdt" else 0.3)
    with pytest.raises(AttributeError):
        student.predict_proba(X)


# -- the compiled trees --------------------------------------------------------------------------

def _with_booster(monkeypatch) -> dict:
    """Keep the booster each GBDTStudent fit compiles (the student itself does not)."""
    seen: dict = {}
    compile_ = GBDTStudent._compile

    def keep(self, booster):
        seen["booster"] = booster
        compile_(self, booster)

    monkeypatch.setattr(GBDTStudent, "_compile", keep)
    return seen


def _awkward_rows(student: GBDTStudent, Z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Encoded rows to compare on: the training rows with a fifth of the cells missing, and rows whose
    every cell sits exactly on one of the trees' thresholds, or just below it, or is missing."""
    holed = Z.copy()
    holed[rng.random(Z.shape) < 0.2] = np.nan
    splits = np.isfinite(student.threshold_)  # padding splits (no row fails them) have +inf
    on = np.full((int(splits.sum()), Z.shape[1]), np.nan, dtype=np.float32)
    on[np.arange(len(on)), student.feature_[splits]] = student.threshold_[splits]
    fill = Z[rng.integers(len(Z), size=len(on))].astype(np.float32)
    on = np.where(np.isnan(on) & (rng.random(on.shape) < 0.5), fill, on)
    below = np.nextafter(on, np.float32(-np.inf))
    return np.vstack([holed, on, below])


def _task_rows(task: str, california, covertype_soft) -> tuple:
    """Rows, soft targets, classes and categorical columns for ``task``: covertype's forest for multiclass;
    california with its value squashed to a probability (binary) or as it is (regression)."""
    if task == "multiclass":
        X, T, _, _, classes, categorical = covertype_soft
        return X, T, classes, categorical
    X, y, categorical = _california(california)
    p = 1.0 / (1.0 + np.exp(-(y - np.median(y)) / y.std()))
    T, classes = (np.column_stack([1 - p, p]), ["low", "high"]) if task == "binary" else (y, None)
    return X, T, classes, categorical


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_compiled_trees_predict_what_the_booster_does(task, california, covertype_soft, monkeypatch):
    import xgboost as xgb

    seen = _with_booster(monkeypatch)
    X, T, classes, categorical = _task_rows(task, california, covertype_soft)
    student = GBDTStudent(n_trees=25, max_depth=5, learning_rate=0.3, random_state=0)
    student.fit(X, T, classes=classes, categorical=categorical)
    assert not any("xgboost" in type(v).__module__ for v in vars(student).values())

    Z = _awkward_rows(student, student.encoder_.transform(X), np.random.default_rng(0))
    expected = seen["booster"].predict(xgb.DMatrix(Z, base_margin=_margin_rows(student.base_margin_, len(Z))),
                                       output_margin=True).reshape(len(Z), -1)
    got = student.margins(Z)
    scale = max(1.0, float(np.abs(expected).max()))
    # the student holds each leaf as float16 (relative error at most 2^-11, or 2^-25 of the largest leaf
    # where float16 is subnormal): per output, the margins may move by that much of each tree's largest leaf
    leaves = np.abs(seen["booster"].trees_to_dataframe().query("Feature == 'Leaf'").groupby("Tree")["Gain"].max())
    rounding = np.zeros(len(student.base_margin_))
    np.add.at(rounding, np.arange(len(leaves)) % len(rounding), 2.0**-11 * leaves.to_numpy() + 2.0**-25 * leaves.max())
    assert np.all(np.abs(got - expected) <= rounding + 1e-5 * (scale + np.abs(expected)))
    assert np.abs(got - expected).max() > 0  # the leaves were rounded: the bound above is what is tested

    # and through the public methods: raw rows with missing cells and a category never seen
    odd = X.head(20).copy()
    odd.iloc[::3, 0] = np.nan
    odd.loc[odd.index[1], categorical[0]] = "never seen"
    Zodd = student.encoder_.transform(odd)
    margin = seen["booster"].predict(xgb.DMatrix(Zodd, base_margin=_margin_rows(student.base_margin_, len(odd))),
                                     output_margin=True).reshape(len(odd), -1)
    assert np.all(np.abs(student.margins(Zodd) - margin) <= rounding + 1e-5 * (scale + np.abs(margin)))
    if task == "regression":
        np.testing.assert_allclose(student.predict(odd), student.margins(Zodd)[:, 0])
    else:
        margin = student.margins(Zodd)
        e = np.exp(margin - margin.max(axis=1, keepdims=True))
        probabilities = e / e.sum(axis=1, keepdims=True) if task == "multiclass" else \
            np.column_stack([1 / (1 + np.exp(margin[:, 0])), 1 / (1 + np.exp(-margin[:, 0]))])
        np.testing.assert_allclose(student.predict_proba(odd), probabilities, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_gbdt_fit_on_a_row_stream_boosts_from_external_memory_as_in_memory(task, california, covertype_soft,
                                                                             tmp_path, monkeypatch):
    import tempfile

    from tabcompress.students.encoding import RowStream

    X, T, classes, categorical = _task_rows(task, california, covertype_soft)
    fit = {"classes": classes, "categorical": categorical}
    # the stream holds the first two thirds of the rows in chunks; the fit's X has them too (as a
    # sample of the stream would stand for it), then the last third, which is trained on as it is
    streamed, chunks = 2 * len(X) // 3, []
    for start in range(0, streamed, 250):
        chunks.append((X.iloc[start:min(start + 250, streamed)], T[start:min(start + 250, streamed)]))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    student = GBDTStudent(n_trees=30, max_depth=4, random_state=0)
    student.stream = RowStream(lambda: iter(chunks), replaces=streamed)
    student.fit(X, T, **fit)
    in_memory = GBDTStudent(n_trees=30, max_depth=4, random_state=0).fit(X, T, **fit)
    assert student.trained_on_ == "external memory" and in_memory.trained_on_ == "here"
    assert student.streamed_rows_ == len(X) and "stream" not in vars(student)
    assert not list(tmp_path.iterdir())  # the chunks written for XGBoost are gone
    assert not any("xgboost" in type(v).__module__ for v in vars(student).values())
    np.testing.assert_allclose(student.base_margin_, in_memory.base_margin_, rtol=1e-6)
    if task == "regression":
        assert np.corrcoef(student.predict(X), in_memory.predict(X))[0, 1] > 0.999
    else:  # the same rows: on rows this few, XGBoost's quantiles from the chunks are the whole matrix's
        assert np.mean(student.predict(X) == in_memory.predict(X)) > 0.99
        assert np.abs(student.predict_proba(X) - in_memory.predict_proba(X)).mean() < 1e-3
    # what it trained on counts: a stream of other targets gives another student
    flipped = [(rows, T[::-1][: len(rows)]) for rows, _ in chunks]
    other = GBDTStudent(n_trees=30, max_depth=4, random_state=0)
    other.stream = RowStream(lambda: iter(flipped), replaces=streamed)
    assert not np.array_equal(other.fit(X, T, **fit).leaf_, student.leaf_)


def test_gbdt_complexity_counts_its_arrays(magic_soft):
    X, T, classes = magic_soft
    student = GBDTStudent(n_trees=12, max_depth=3, random_state=0).fit(X, T, classes=classes)
    size = student.complexity()
    assert size["n_trees"] == 12 and size["depth"] <= 3
    assert size["n_nodes"] == 2 * size["n_leaves"] - size["n_trees"]
    depth = size["depth"]
    assert student.feature_.shape == student.threshold_.shape == student.missing_left_.shape == (12, 2**depth - 1)
    assert student.leaf_.shape == (12, 2**depth)
    assert student.feature_.dtype == np.uint8 and student.threshold_.dtype == np.float32
    assert student.leaf_.dtype == np.float16 and student.missing_bits_.dtype == np.uint8
    # complete trees hold no child indices: 5 bytes and a bit a split, 2 a leaf, besides the encoder and
    # the rest; round_bytes is that arithmetic
    arrays = sum(a.nbytes for a in (student.feature_, student.threshold_, student.missing_bits_, student.leaf_))
    splits = 12 * (2**depth - 1)
    assert arrays == splits * 5 + -(-splits // 8) + 12 * 2**depth * 2
    assert abs(arrays - 12 * student.round_bytes(depth)) < 1


def test_gbdt_sizes_under_a_bound_fill_it_without_passing_it(covertype_soft):
    from tabcompress.evaluation.metrics import serialized_bytes

    X, T, _, _, classes, categorical = covertype_soft
    fit = {"classes": classes, "categorical": categorical}
    small = GBDTStudent(n_trees=5, max_depth=3, random_state=0).fit(X, T, **fit)
    fitted = [({"trees": 5, "max_depth": 3}, small, serialized_bytes(small), 0.9)]
    bound = 40_000
    sizes = GBDTStudent.more_sizes(fitted, bound)
    assert [s["max_depth"] for s in sizes] == sorted({s["max_depth"] for s in GBDTStudent.sizes})
    grown = []
    for size in sizes:
        student = GBDTStudent(n_trees=size["trees"], max_depth=size["max_depth"], random_state=0).fit(X, T, **fit)
        grown.append((size, student, serialized_bytes(student), 0.9))
        # within the bound, and one more round would not have been (7 classes: a round is 7 trees)
        assert grown[-1][2] <= bound and grown[-1][2] + student.round_bytes(size["max_depth"]) > 0.98 * bound, size
    # a size tried within the bound near the filled one is not tried again; one past the bound is no reason
    assert GBDTStudent.more_sizes(fitted + grown[:1], bound) == sizes[1:]
    big = GBDTStudent(n_trees=400, max_depth=sizes[0]["max_depth"], random_state=0).fit(X, T, **fit)
    past = ({"trees": 400, "max_depth": sizes[0]["max_depth"]}, big, serialized_bytes(big), 0.9)
    assert past[2] > bound and GBDTStudent.more_sizes([past] + fitted + grown[1:], bound) == sizes[:1]
    assert GBDTStudent.more_sizes([], bound) == [] == GBDTStudent.more_sizes(fitted, None)


def test_pruning_path_is_scikit_learns_and_pruned_sizes_shrink_the_most_faithful_tree(magic_soft):
    from sklearn.tree import DecisionTreeRegressor

    from tabcompress.evaluation.metrics import serialized_bytes
    from tabcompress.students.tree import PRUNED_SHARES, pruning_path

    X, T, classes = magic_soft
    Z = X.to_numpy(dtype=np.float32)
    grown = DecisionTreeRegressor(max_depth=8, random_state=0).fit(Z, T)
    t = grown.tree_
    alphas, leaves = pruning_path(t.children_left, t.children_right, t.impurity, t.weighted_n_node_samples)
    reference = grown.cost_complexity_pruning_path(Z, T)
    np.testing.assert_allclose(alphas, reference.ccp_alphas, rtol=1e-9, atol=1e-15)
    assert leaves[0] == grown.tree_.n_leaves and leaves[-1] == 1 and np.all(np.diff(leaves) < 0)

    deep, shallow = (TreeStudent(max_depth=d, random_state=0).fit(X, T, classes=classes) for d in (8, 3))
    fitted = [({"max_depth": 8}, deep, serialized_bytes(deep), 0.95), ({"max_depth": 3}, shallow, 900, 0.90)]
    sizes = TreeStudent.more_sizes(fitted, None)
    assert [s["max_depth"] for s in sizes] == [8] * len(PRUNED_SHARES)
    full = deep.complexity()["n_leaves"]
    for share, size in zip(PRUNED_SHARES, sizes):
        pruned = TreeStudent(max_depth=8, ccp_alpha=size["ccp_alpha"], random_state=0).fit(X, T, classes=classes)
        # refitted with that alpha, the tree keeps the leaves its path said, about the share asked for
        assert share * full / 2 < pruned.complexity()["n_leaves"] <= share * full
        assert serialized_bytes(pruned) < serialized_bytes(deep)
        assert TreeStudent.more_sizes([(size, pruned, 1, 0.99)], None) == []  # a pruned tree is not pruned again
    # the grown tree a search prunes is not part of the student's file
    assert "_grown" not in pickle.loads(pickle.dumps(deep)).__dict__ and hasattr(deep, "_grown")


# -- seeds, weights, files -----------------------------------------------------------------------

def test_same_seed_same_model(covertype_soft):
    X, T, X_test, _, classes, categorical = covertype_soft
    fit = {"classes": classes, "categorical": categorical}
    one, two = (GBDTStudent(n_trees=15, random_state=7).fit(X, T, **fit) for _ in range(2))
    for name in ("feature_", "threshold_", "missing_left_", "leaf_", "tree_output_", "base_margin_"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name), err_msg=name)
    np.testing.assert_array_equal(one.predict_proba(X_test), two.predict_proba(X_test))


@pytest.mark.parametrize("student", [GBDTStudent(n_trees=30, random_state=0), LinearStudent()],
                         ids=["gbdt", "linear"])
def test_sample_weight_counts(magic_soft, student):
    X, T, classes = magic_soft
    plain = type(student)(**student.get_params()).fit(X, T, classes=classes).predict_proba(X)[:, 1]
    heavy = np.where(T[:, 1] > 0.5, 10.0, 1.0)  # the teacher's second class counts ten times
    weighted = student.fit(X, T, classes=classes, sample_weight=heavy).predict_proba(X)[:, 1]
    assert weighted.mean() > plain.mean() + 0.03
    again = type(student)(**student.get_params()).fit(X, T, classes=classes, sample_weight=heavy * 3.0)
    np.testing.assert_allclose(again.predict_proba(X)[:, 1], weighted, rtol=1e-6, atol=1e-6)  # only ratios count


def test_linear_student_weights_zero_as_if_the_rows_were_left_out(magic_soft):
    X, T, classes = magic_soft
    keep = np.arange(len(X)) % 3 > 0
    dropped = LinearStudent().fit(X[keep], T[keep], classes=classes)
    zeroed = LinearStudent().fit(X, T, classes=classes, sample_weight=keep.astype(float))
    # (the encoder's scaling sees every row, so compare predictions, not weights)
    np.testing.assert_allclose(zeroed.predict_proba(X), dropped.predict_proba(X), atol=2e-3)


def test_linear_student_is_logistic_regression_on_soft_targets(magic_soft):
    """Cross-entropy against soft targets is logistic loss on each row taken twice, as either class,
    weighted by the teacher's probability: scikit-learn's LogisticRegression on those rows finds the same
    weights (its C is 1 / (2 · l2) for a loss averaged over the weights)."""
    from sklearn.linear_model import LogisticRegression

    X, T, classes = magic_soft
    student = LinearStudent(l2=1e-2).fit(X, T, classes=classes)
    Z = student.encoder_.transform(X)
    both = np.vstack([Z, Z])
    weight = np.concatenate([T[:, 0], T[:, 1]]) / len(Z)
    reference = LogisticRegression(C=1 / (2 * 1e-2), tol=1e-10, max_iter=10_000).fit(
        both, np.repeat([0, 1], len(Z)), sample_weight=weight)
    np.testing.assert_allclose(student.coef_[:, 0], reference.coef_[0], atol=2e-4)
    np.testing.assert_allclose(student.intercept_, reference.intercept_, atol=2e-4)
    assert student.coef_.shape == (Z.shape[1], 1) and student.complexity() == {"n_parameters": Z.shape[1] + 1}


def test_linear_regression_is_ridge(california):
    from sklearn.linear_model import Ridge

    X, y, categorical = _california(california)
    w = np.linspace(0.5, 2.0, len(X))
    student = LinearStudent(l2=0.05).fit(X, y, categorical=categorical, sample_weight=w)
    Z = student.encoder_.transform(X)
    reference = Ridge(alpha=0.05 * w.sum()).fit(Z, y, sample_weight=w)
    np.testing.assert_allclose(student.coef_[:, 0], reference.coef_, rtol=1e-6, atol=1e-6 * np.abs(y).max())
    np.testing.assert_allclose(student.predict(X), reference.predict(Z), rtol=1e-8)


@pytest.mark.parametrize("cls", [GBDTStudent, LinearStudent], ids=["gbdt", "linear"])
def test_skops_round_trip_holds_numpy_arrays_only(covertype_soft, cls, tmp_path):
    from tabcompress.export import load_student, write_outputs

    X, T, X_test, _, classes, categorical = covertype_soft
    student = cls(**({"n_trees": 10, "random_state": 0} if cls is GBDTStudent else {}))
    student.fit(X, T, classes=classes, categorical=categorical)
    assert b"xgboost" not in pickle.dumps(student) and b"scipy" not in pickle.dumps(student)
    write_outputs(tmp_path, student, {"student": cls.name}, student_format="skops")
    restored = load_student(tmp_path / "student.skops")
    assert type(restored) is cls
    np.testing.assert_array_equal(restored.predict_proba(X_test), student.predict_proba(X_test))
    np.testing.assert_array_equal(restored.predict(X_test.head(1)), student.predict(X_test.head(1)))


# -- parameters and settings ---------------------------------------------------------------------

@pytest.mark.parametrize("cls, parameter, value", [
    (GBDTStudent, "n_trees", 0), (GBDTStudent, "max_depth", 0), (GBDTStudent, "learning_rate", 0.0),
    (GBDTStudent, "learning_rate", 1.5), (GBDTStudent, "random_state", -1), (LinearStudent, "l2", -1e-3),
    (LinearStudent, "l2", float("nan")),
])
def test_bad_parameter_values_name_the_parameter(magic_soft, cls, parameter, value):
    X, T, classes = magic_soft
    with pytest.raises(SettingError, match=f"^{parameter} must be"):
        cls(**{parameter: value}).fit(X, T, classes=classes)


def test_settings_build_the_students():
    from tabcompress.config import default

    defaults = Settings()
    gbdt = GBDTStudent.from_settings(defaults)
    assert (gbdt.n_trees, gbdt.max_depth, gbdt.learning_rate) == \
        (GBDTStudent().n_trees, 4, GBDTStudent().learning_rate) == (default("trees"), 4, default("learning_rate"))
    assert TreeStudent.from_settings(defaults).max_depth == 6 == TreeStudent().max_depth
    assert default("max_depth") is None
    chosen = Settings.from_options(max_depth=3, trees=7, learning_rate=0.5, seed=11)
    gbdt = GBDTStudent.from_settings(chosen)
    assert (gbdt.n_trees, gbdt.max_depth, gbdt.learning_rate, gbdt.random_state) == (7, 3, 0.5, 11)
    assert TreeStudent.from_settings(chosen).max_depth == 3
    assert LinearStudent.from_settings(chosen).l2 == LinearStudent().l2
    for option, value in (("trees", 0), ("learning_rate", 0.0), ("learning_rate", 2.0)):
        with pytest.raises(SettingError, match=f"^{option} must be"):
            Settings.from_options(**{option: value}).validate()


def test_a_gbdt_student_pickled_with_float32_leaves_loads_into_the_compact_arrays(magic_soft):
    X, T, classes = magic_soft
    student = GBDTStudent(n_trees=12, max_depth=3, random_state=0).fit(X, T, classes=classes)
    # the arrays as a student pickled before the compact ones held them
    old = {k: v for k, v in vars(student).items() if k not in ("missing_bits_", "leaf_", "leaf_scale_", "grow_on")}
    old.update(leaf_=student.leaf_values_.astype(np.float32), missing_left_=student.missing_left_,
               tree_output_=student.tree_output_.astype(np.int32), feature_=student.feature_.astype(np.int16))
    loaded = GBDTStudent.__new__(GBDTStudent)
    loaded.__setstate__(old)
    assert "tree_output_" not in vars(loaded) and loaded.leaf_.dtype == np.float16
    assert loaded.grow_on == "probabilities"  # a student from before --grow-on reached gbdt
    np.testing.assert_array_equal(loaded.missing_left_, student.missing_left_)
    np.testing.assert_allclose(loaded.predict_proba(X), student.predict_proba(X), rtol=1e-6)
    assert (loaded.predict(X) == student.predict(X)).all()


def test_a_gbdt_grown_on_classes_learns_the_teachers_most_probable_class(covertype_soft, california):
    from tabcompress.students.base import most_probable_one_hot

    X, T, _, _, classes, categorical = covertype_soft
    fit = {"classes": classes, "categorical": categorical}
    on_classes = GBDTStudent(n_trees=8, max_depth=3, random_state=0, grow_on="classes").fit(X, T, **fit)
    told = GBDTStudent(n_trees=8, max_depth=3, random_state=0).fit(X, most_probable_one_hot(T), **fit)
    np.testing.assert_array_equal(on_classes.leaf_, told.leaf_)
    np.testing.assert_array_equal(on_classes.predict_proba(X), told.predict_proba(X))
    soft = GBDTStudent(n_trees=8, max_depth=3, random_state=0).fit(X, T, **fit)
    assert not np.array_equal(soft.leaf_, on_classes.leaf_)
    assert on_classes.fitted_settings()["grow_on"] == "classes"
    # a regressor has no classes: it learns the values either way
    X, y, categorical = _california(california)
    a = GBDTStudent(n_trees=5, max_depth=3, random_state=0, grow_on="classes").fit(X, y, categorical=categorical)
    b = GBDTStudent(n_trees=5, max_depth=3, random_state=0).fit(X, y, categorical=categorical)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
