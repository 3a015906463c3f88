"""The feature space a fitted tree ensemble reveals, for distillation without its training rows.

A tree ensemble stores much of what a generator needs: every split threshold of a feature is a place
where the teacher can change its mind (and together they bracket the feature's range); each node
records how much training weight reached it (scikit-learn: bootstrap-weighted row counts; XGBoost:
hessian cover), a rough density; and an encoder in front of the ensemble (a ``ColumnTransformer``
in a ``Pipeline``) stores the raw columns' categories.

:func:`feature_space` reads all of that, through the teacher's :meth:`~tabcompress.teachers.Teacher.trees`
and :meth:`~tabcompress.teachers.Teacher.input_map`, into a :class:`FeatureSpace`: a
:class:`~tabcompress.data.Schema` of the raw columns the teacher takes (kinds, categories, derived
ranges), the cut points of each numeric column, and the ensemble's trees as flat arrays in the
ensemble's own input space, where :mod:`tabcompress.generators.forest` samples rows.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tabcompress.errors import InputError
from tabcompress.schema import ColumnSpec, Schema
from tabcompress.teachers.base import CODE, INDICATOR, NUMERIC, Teacher, TreeNodes

__all__ = ["CODE", "INDICATOR", "NUMERIC", "FeatureSpace", "Forest", "feature_space"]


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
    depth: np.ndarray  # each node's distance from its tree's root

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    def mean_leaf_depth(self) -> float:
        """How many splits a training row passes on its way to a leaf, on average over the trees: each
        tree's leaf depths weighted by the training weight that reached them."""
        tree = np.repeat(np.arange(self.n_trees), np.diff(np.r_[self.roots, len(self.feature)]))
        leaf = self.feature < 0
        weighted = np.bincount(tree[leaf], weights=self.weight[leaf] * self.depth[leaf], minlength=self.n_trees)
        total = np.bincount(tree[leaf], weights=self.weight[leaf], minlength=self.n_trees)
        per_tree = np.where(total > 0, weighted / np.maximum(total, 1e-300), 0.0)
        return float(per_tree.mean()) if self.n_trees else 0.0


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


def _flatten(trees: list[TreeNodes]) -> Forest:
    sizes = np.array([len(t.feature) for t in trees], dtype=np.int64)
    roots = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
    feature = np.concatenate([t.feature for t in trees])
    threshold = np.concatenate([t.threshold for t in trees])
    left = np.concatenate([np.where(t.left >= 0, t.left + r, -1) for t, r in zip(trees, roots)])
    right = np.concatenate([np.where(t.right >= 0, t.right + r, -1) for t, r in zip(trees, roots)])
    weight = np.concatenate([t.weight for t in trees])
    # each node's depth, level by level, all trees at once; the most decisions on one path (the deepest
    # split, plus one) bounds the descent loop
    depth = np.zeros(len(feature), dtype=np.int64)
    level = roots.copy()
    while level.size:
        inner = level[feature[level] >= 0]
        depth[left[inner]] = depth[right[inner]] = depth[inner] + 1
        level = np.concatenate([left[inner], right[inner]])
    splits = feature >= 0
    max_depth = int(depth[splits].max()) + 1 if splits.any() else 0
    return Forest(feature=feature, threshold=threshold, left=left, right=right,
                  weight=np.maximum(weight, 0.0), roots=roots, max_depth=max_depth, depth=depth)


# -- the whole space ------------------------------------------------------------------------------
#: each teacher's space, read once: a run may ask whether the trees can be read before it samples them
_SPACES: "weakref.WeakKeyDictionary[Teacher, FeatureSpace]" = weakref.WeakKeyDictionary()


def feature_space(teacher: Teacher) -> FeatureSpace:
    """Read the teacher's trees (and encoder) into a :class:`FeatureSpace`; an :class:`InputError`
    says when the teacher hides something data-free distillation needs."""
    space = _SPACES.get(teacher)
    if space is None:
        space = _SPACES[teacher] = _read_space(teacher)
    return space


def _read_space(teacher: Teacher) -> FeatureSpace:
    trees = teacher.trees()
    if not trees:
        raise InputError("teacher: the ensemble holds no trees")
    forest = _flatten(trees)
    inputs = teacher.input_map()
    raws, kind, column, category = inputs.columns, inputs.kind, inputs.column, inputs.category
    n_inputs = inputs.n_inputs
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
