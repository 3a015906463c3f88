"""The feature space a fitted tree ensemble reveals, for distillation without its training rows.

A tree ensemble stores much of what a generator needs: every split threshold of a feature is a place
where the teacher can change its mind (and together they bracket the feature's range); each node
records how much training weight reached it (scikit-learn: bootstrap-weighted row counts; XGBoost:
hessian cover), a rough density; and an encoder in front of the ensemble (a ``ColumnTransformer``
in a ``Pipeline``) stores the raw columns' categories.

:func:`feature_space` reads all of that into a :class:`FeatureSpace`: a :class:`~tabcompress.data.Schema`
of the raw columns the teacher takes (kinds, categories, derived ranges), the cut points of each
numeric column, and the ensemble's trees as flat arrays in the ensemble's own input space, where
:mod:`tabcompress.generators.forest` samples rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tabcompress.errors import InputError
from tabcompress.schema import ColumnSpec, Schema
from tabcompress.teachers.base import Teacher, _final_estimator

NUMERIC, INDICATOR, CODE = 0, 1, 2  # how one input of the ensemble relates to a raw column


@dataclass
class Forest:
    """All trees of an ensemble as one flat node table (tree ``t``'s nodes start at ``roots[t]``).

    A row goes left at node ``i`` when ``x[feature[i]] <= threshold[i]``; ``feature`` is -1 at leaves;
    ``weight`` is the training weight that reached the node.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    weight: np.ndarray
    roots: np.ndarray
    max_depth: int

    @property
    def n_trees(self) -> int:
        return len(self.roots)


@dataclass
class FeatureSpace:
    """What the teacher reveals about its input.

    schema : the raw columns the teacher takes, in its order, with derived categories and ranges.
    cuts : for each raw numeric column, the sorted distinct split thresholds on it.
    forest : the ensemble's trees in its input space (after the Pipeline's encoder, if any).
    input_kind, input_column, input_category : for each input of the ensemble, whether it is a raw
        numeric column, a one-hot indicator of a category, or an ordinal code of a categorical
        column; the raw column's position in ``schema``; and the category's position (indicators).
    input_low, input_high : the range sampled for each input (derived from its thresholds).
    integer : per input, whether its values are whole numbers (all thresholds fall between integers).
    """

    schema: Schema
    cuts: dict[str, np.ndarray]
    forest: Forest
    input_kind: np.ndarray
    input_column: np.ndarray
    input_category: np.ndarray
    input_low: np.ndarray
    input_high: np.ndarray
    integer: np.ndarray
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """A summary for the report."""
        return {
            "columns": len(self.schema.columns),
            "categorical": len(self.schema.categorical),
            "ensemble_inputs": int(len(self.input_kind)),
            "trees": int(self.forest.n_trees),
            "nodes": int(len(self.forest.feature)),
            "cut_points": int(sum(len(c) for c in self.cuts.values())),
            "unsplit_columns": [s.name for s in self.schema.columns
                                if not s.is_categorical and len(self.cuts.get(s.name, ())) == 0],
        }


# -- trees --------------------------------------------------------------------------------------
def _sklearn_trees(final: Any) -> list[tuple[np.ndarray, ...]]:
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )

    if isinstance(final, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        out = []
        for stage in final._predictors:
            for predictor in stage:
                nodes = predictor.nodes
                if "is_categorical" in nodes.dtype.names and nodes["is_categorical"].any():
                    raise InputError("teacher: data-free distillation cannot read native categorical splits "
                                     "of a HistGradientBoosting model; give real rows (DATA)")
                leaf = nodes["is_leaf"].astype(bool)
                feature = np.where(leaf, -1, nodes["feature_idx"]).astype(np.int64)
                out.append((feature, nodes["num_threshold"].astype(np.float64), nodes["left"].astype(np.int64),
                            nodes["right"].astype(np.int64), nodes["count"].astype(np.float64)))
        return out
    out = []
    for estimator in np.asarray(final.estimators_, dtype=object).ravel():
        tree = estimator.tree_
        feature = np.where(tree.children_left < 0, -1, tree.feature).astype(np.int64)
        out.append((feature, tree.threshold.astype(np.float64), tree.children_left.astype(np.int64),
                    tree.children_right.astype(np.int64), tree.weighted_n_node_samples.astype(np.float64)))
    return out


def _xgboost_trees(booster: Any, n_features: int) -> list[tuple[np.ndarray, ...]]:
    frame = booster.trees_to_dataframe()
    if "Category" in frame and frame["Category"].notna().any():
        raise InputError("teacher: data-free distillation cannot read XGBoost's categorical splits; "
                         "give real rows (DATA)")
    names = booster.feature_names
    index = {name: i for i, name in enumerate(names)} if names else {f"f{i}": i for i in range(n_features)}
    out = []
    for _, tree in frame.groupby("Tree", sort=True):
        tree = tree.sort_values("Node")
        position = {node_id: i for i, node_id in enumerate(tree["ID"])}
        leaf = (tree["Feature"] == "Leaf").to_numpy()
        feature = np.array([-1 if is_leaf else index[f] for f, is_leaf in zip(tree["Feature"], leaf)], np.int64)
        # XGBoost goes left ("yes") when x < split; the largest float below the split gives <=.
        split = tree["Split"].to_numpy(dtype=np.float64)
        threshold = np.where(leaf, 0.0, np.nextafter(np.nan_to_num(split), -np.inf))
        left = np.array([-1 if is_leaf else position[y] for y, is_leaf in zip(tree["Yes"], leaf)], np.int64)
        right = np.array([-1 if is_leaf else position[n] for n, is_leaf in zip(tree["No"], leaf)], np.int64)
        out.append((feature, threshold, left, right, tree["Cover"].to_numpy(dtype=np.float64)))
    return out


def _flatten(trees: list[tuple[np.ndarray, ...]]) -> Forest:
    sizes = np.array([len(t[0]) for t in trees], dtype=np.int64)
    roots = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
    feature = np.concatenate([t[0] for t in trees])
    threshold = np.concatenate([t[1] for t in trees])
    left = np.concatenate([np.where(t[2] >= 0, t[2] + r, -1) for t, r in zip(trees, roots)])
    right = np.concatenate([np.where(t[3] >= 0, t[3] + r, -1) for t, r in zip(trees, roots)])
    weight = np.concatenate([t[4] for t in trees])
    # the most decisions on one path bounds the descent loop; counted level by level, all trees at once
    level, max_depth = roots.copy(), 0
    while level.size:
        inner = level[feature[level] >= 0]
        max_depth += 1 if inner.size else 0
        level = np.concatenate([left[inner], right[inner]])
    return Forest(feature=feature, threshold=threshold, left=left, right=right,
                  weight=np.maximum(weight, 0.0), roots=roots, max_depth=int(max_depth))


def _trees(teacher: Teacher) -> Forest:
    import xgboost as xgb

    final = _final_estimator(teacher.model)
    if isinstance(final, xgb.Booster):
        trees = _xgboost_trees(final, teacher.n_features)
    elif hasattr(final, "get_booster"):
        trees = _xgboost_trees(final.get_booster(), _n_inputs(teacher))
    else:
        trees = _sklearn_trees(final)
    if not trees:
        raise InputError("teacher: the ensemble holds no trees")
    return _flatten(trees)


def _n_inputs(teacher: Teacher) -> int:
    final = _final_estimator(teacher.model)
    n = getattr(final, "n_features_in_", None)
    return int(n) if n is not None else int(final.get_booster().num_features())


# -- raw columns behind the ensemble's inputs -------------------------------------------------------
@dataclass
class _Raw:
    name: str
    categories: list[Any] | None = None  # None: numeric
    dtype: str = "float64"


def _encoder_map(teacher: Teacher, n_inputs: int) -> tuple[list[_Raw], list[tuple[int, int, int]]]:
    """Raw columns, and for each ensemble input (kind, raw column position, category position)."""
    from sklearn.pipeline import Pipeline

    names = teacher.feature_names or [f"x{i}" for i in range(teacher.n_features)]
    raws = [_Raw(name) for name in names]
    model = teacher.model
    if not isinstance(model, Pipeline):
        return raws, [(NUMERIC, i, -1) for i in range(n_inputs)]
    steps = [step for _, step in model.steps[:-1] if step not in (None, "passthrough")]
    if not steps:
        return raws, [(NUMERIC, i, -1) for i in range(n_inputs)]
    if len(steps) > 1 or type(steps[0]).__name__ != "ColumnTransformer":
        found = " → ".join(type(s).__name__ for s in steps)
        raise InputError(f"teacher: data-free distillation reads a Pipeline whose encoder is one ColumnTransformer "
                         f"(one-hot or ordinal encoders, passthrough); this one has {found}; give real rows (DATA)")
    transformer = steps[0]
    position = {name: i for i, name in enumerate(names)}
    inputs: list[tuple[int, int, int] | None] = [None] * n_inputs
    for name, part, columns in transformer.transformers_:
        if part == "drop" or name not in transformer.output_indices_:
            continue
        out = transformer.output_indices_[name]
        columns = [names[c] if isinstance(c, (int, np.integer)) else c for c in np.atleast_1d(columns)]
        cols = [position[c] for c in columns]
        if not cols:
            continue
        part = _unwrap(part, name)
        kind = type(part).__name__ if not isinstance(part, str) else part
        if kind == "FunctionTransformer" and part.func is None:  # how a fitted remainder="passthrough" looks
            kind = "passthrough"
        if kind in ("passthrough", "SimpleImputer"):
            for k, c in enumerate(cols):
                inputs[out.start + k] = (NUMERIC, c, -1)
        elif kind == "OneHotEncoder":
            if getattr(part, "_infrequent_enabled", False):
                raise InputError(f"teacher: data-free distillation cannot read the OneHotEncoder {name!r}: it groups "
                                 f"infrequent categories; give real rows (DATA)")
            drop = getattr(part, "drop_idx_", None)
            at = out.start
            for k, c in enumerate(cols):
                categories = list(part.categories_[k])
                raws[c] = _Raw(names[c], categories, _dtype_of(part.categories_[k]))
                dropped = None if drop is None or drop[k] is None else int(drop[k])
                for j in range(len(categories)):
                    if j != dropped:
                        inputs[at] = (INDICATOR, c, j)
                        at += 1
        elif kind == "OrdinalEncoder":
            for k, c in enumerate(cols):
                raws[c] = _Raw(names[c], list(part.categories_[k]), _dtype_of(part.categories_[k]))
                inputs[out.start + k] = (CODE, c, -1)
        else:
            raise InputError(f"teacher: data-free distillation cannot invert the {kind} {name!r} in the teacher's "
                             f"ColumnTransformer (it reads passthrough, SimpleImputer, OneHotEncoder and "
                             f"OrdinalEncoder); give real rows (DATA)")
    if any(i is None for i in inputs):
        raise InputError("teacher: cannot map every input of the ensemble back to a raw column; give real rows (DATA)")
    return raws, inputs  # type: ignore[return-value]


def _unwrap(part: Any, name: str) -> Any:
    """A Pipeline inside the ColumnTransformer counts as its last step when the steps before it are
    imputers (which leave observed values as they are)."""
    from sklearn.pipeline import Pipeline

    if not isinstance(part, Pipeline):
        return part
    inner = [step for _, step in part.steps if step not in (None, "passthrough")]
    if any(type(step).__name__ != "SimpleImputer" for step in inner[:-1]):
        found = " → ".join(type(s).__name__ for s in inner)
        raise InputError(f"teacher: data-free distillation cannot invert the Pipeline {name!r} ({found}) in the "
                         f"teacher's ColumnTransformer; give real rows (DATA)")
    return inner[-1] if inner else "passthrough"


def _dtype_of(values: np.ndarray) -> str:
    values = np.asarray(values)
    if values.dtype.kind in "iub":
        return "int64" if values.dtype.kind != "b" else "bool"
    if values.dtype.kind == "f":
        return "float64"
    return "object"


# -- the whole space ------------------------------------------------------------------------------
def feature_space(teacher: Teacher) -> FeatureSpace:
    """Read the teacher's trees (and encoder) into a :class:`FeatureSpace`; an :class:`InputError`
    says when the teacher hides something data-free distillation needs."""
    if teacher._categorical_features:
        raise InputError("teacher: data-free distillation cannot read XGBoost's native categorical features; "
                         "give real rows (DATA)")
    forest = _trees(teacher)
    n_inputs = _n_inputs(teacher)
    raws, inputs = _encoder_map(teacher, n_inputs)
    kind = np.array([i[0] for i in inputs], dtype=np.int64)
    column = np.array([i[1] for i in inputs], dtype=np.int64)
    category = np.array([i[2] for i in inputs], dtype=np.int64)
    inner = forest.feature >= 0
    if inner.any() and forest.feature[inner].max() >= n_inputs:
        raise InputError("teacher: its trees split on more inputs than the model declares")

    low, high = np.zeros(n_inputs), np.zeros(n_inputs)
    integer = np.zeros(n_inputs, dtype=bool)
    cuts: dict[str, np.ndarray] = {}
    notes: list[str] = []
    by_feature = _thresholds_by_feature(forest, n_inputs)
    for j in range(n_inputs):
        t = by_feature[j]
        if kind[j] == INDICATOR:
            low[j], high[j], integer[j] = 0.0, 1.0, True
            continue
        if kind[j] == CODE:
            low[j], high[j], integer[j] = 0.0, float(len(raws[column[j]].categories) - 1), True
            continue
        cuts[raws[column[j]].name] = t
        low[j], high[j], integer[j] = _range_from_cuts(t)
    unsplit = [raws[column[j]].name for j in range(n_inputs) if kind[j] == NUMERIC and not len(by_feature[j])]
    if unsplit:
        notes.append(f"the teacher never splits on {len(unsplit)} column(s) ({', '.join(unsplit[:10])}): "
                     f"they are set to 0 in synthetic rows")

    specs = []
    for c, raw in enumerate(raws):
        if raw.categories is not None:
            specs.append(ColumnSpec(raw.name, "categorical", raw.dtype, categories=list(raw.categories)))
            continue
        js = np.flatnonzero((column == c) & (kind == NUMERIC))
        if js.size == 0:  # a column the encoder drops: the teacher ignores it
            specs.append(ColumnSpec(raw.name, "float", "float64", minimum=0.0, maximum=0.0))
            continue
        j = js[0]
        whole = bool(integer[j])
        specs.append(ColumnSpec(raw.name, "integer" if whole else "float", "int64" if whole else "float64",
                                minimum=float(low[j]), maximum=float(high[j])))
    return FeatureSpace(schema=Schema(specs), cuts=cuts, forest=forest, input_kind=kind, input_column=column,
                        input_category=category, input_low=low, input_high=high, integer=integer, notes=notes)


def _thresholds_by_feature(forest: Forest, n_inputs: int) -> list[np.ndarray]:
    # scikit-learn splits missing from present values with an infinite threshold: not a cut point
    inner = (forest.feature >= 0) & np.isfinite(forest.threshold)
    f, t = forest.feature[inner], forest.threshold[inner]
    order = np.lexsort((t, f))
    f, t = f[order], t[order]
    bounds = np.searchsorted(f, np.arange(n_inputs + 1))
    return [np.unique(t[bounds[j]:bounds[j + 1]]) for j in range(n_inputs)]


def _range_from_cuts(t: np.ndarray) -> tuple[float, float, bool]:
    """A column's range and whether it holds whole numbers, from its sorted distinct thresholds.

    scikit-learn puts a threshold halfway between two neighbouring training values, so a column of
    whole numbers has its thresholds at k + 0.5, or at a whole number where the node's rows skip one
    (XGBoost's "x < split" becomes a threshold just below a whole number). The training values reach
    beyond the outermost thresholds, how far the trees do not say: the range is widened by the larger of
    one typical gap between thresholds and 5 % of their span; and a column whose thresholds are all
    positive reaches down to 0, since such a column is most often a count or an amount. That matters
    for XGBoost's quantile cut points: a column that is mostly 0 (adult's capital-gain) has its first cut
    at the first value above 0, and a range starting near it never holds the commonest value. Widening
    adds no rows: how many rows fall below the first threshold is set by the trees' counts; it only
    spreads their values.
    """
    if t.size == 0:
        return 0.0, 0.0, False
    frac = t - np.floor(t)
    # midpoints of whole numbers: k + 0.5 between neighbours, a whole number where a value is skipped
    halves = bool(np.all(np.abs(2 * t - np.round(2 * t)) < 1e-6) and np.any(np.abs(frac - 0.5) < 1e-6))
    below_whole = bool(np.all(np.abs(np.ceil(t) - t) < 1e-6)) and not np.all(frac == 0)
    whole = halves or below_whole
    if t.size > 1:
        gap = max(float(np.median(np.diff(t))), 0.05 * float(t[-1] - t[0]))
    else:  # one threshold: of a 0/1 column, say, when it falls halfway between whole numbers
        gap = 0.5 if whole else max(abs(float(t[0])) * 0.1, 1.0)
    low, high = float(t[0]) - gap, float(t[-1]) + gap
    if t[0] > 0:
        low = 0.0
    if whole:  # the whole numbers inside: a 0/1 column (one threshold, 0.5 or just below 1) stays 0/1
        low, high = float(np.ceil(low - 1e-9)), float(np.floor(high + 1e-9))
    return low, high, whole
