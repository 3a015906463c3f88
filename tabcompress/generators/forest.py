"""Rows from the teacher alone: sampling a tree ensemble's own partition of its input space.

Without real rows, the teacher's trees are the only map of where its training data lay. One tree's
leaf is a box, but a box of one tree constrains only the few features on its path and leaves the rest
uniform over their whole range — a naive first try that samples inside single leaves reached 0.73
fidelity on MAGIC against 0.91 with real rows. :class:`ForestSampler` combines several trees instead:

1. a row starts as the whole space (every feature's range, every category allowed);
2. it descends a random tree of the ensemble, at each node taking a child that is still compatible with
   its box, with probability proportional to the training weight that reached the child (the tree's
   own count of training rows, or XGBoost's cover), and its box shrinks to that child's region;
3. step 2 repeats with ``trees_per_row`` random trees, each cutting the box further, so the box ends in
   a region where several trees put training rows — a product of the trees' densities, read from them.
   By default a row descends as many trees as cut its box about :data:`SPLITS_PER_ROW` times: some 32
   of a random forest's deep trees, three times as many of a boosted model's shallow ones
   (:func:`trees_per_row_for`);
4. values are drawn uniformly inside the final box (whole numbers for integer columns; one of the
   categories left allowed for categorical ones).

All rows descend together, one tree level per vectorised step, over one flat table of every tree's
nodes (:class:`tabcompress.teachers.space.Forest`).

The rows then go through the bounded-disagreement rounds of :mod:`tabcompress.methods.selection` (Zhou &
Chiam 2023, with the generator fixed and candidates selected rather than a generator trained): the
candidates where teacher and student differ most — up to a bound — plus a term that spreads the
teacher's outputs over its classes or its range are kept, and the student is retrained.

:class:`TeacherTreesGenerator` offers the same rows as a generator for runs that also have real rows
(``--generator munge+forest``, say), brought inside the real rows' schema (their categories and
observed ranges). A forest's trees record how many training rows reached each node, so the rows
follow the teacher's training data, which may be far larger than the rows at hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tabcompress.config import Whole, check, parameter
from tabcompress.errors import InputError
from tabcompress.generators.base import Generator, ProgressCallback
from tabcompress.teachers.space import CODE, INDICATOR, NUMERIC, FeatureSpace, feature_space

#: rows sampled per vectorised block (bounds memory: two float arrays of block × inputs)
BLOCK_ROWS = 50_000
#: Splits that cut each row's box, by default: about 32 trees of a random forest, whose leaves lie some
#: 15 splits deep, or 80–100 of a boosted model's trees, 4–6 splits deep. A fixed 16 trees per row left
#: a boosted model's rows far from its training data (docs/measurements.md, "Trees per row").
SPLITS_PER_ROW = 480
#: the most trees one row descends by default (trees of one or two splits would ask for more)
MAX_TREES_PER_ROW = 128


def trees_per_row_for(space: FeatureSpace) -> int:
    """Trees per row that cut each row's box about :data:`SPLITS_PER_ROW` times, for this ensemble."""
    depth = space.forest.mean_leaf_depth()
    return int(min(MAX_TREES_PER_ROW, max(1, np.ceil(SPLITS_PER_ROW / max(depth, 1.0)))))


class ForestSampler:
    """Sample rows from the regions a tree ensemble's training data reached (see the module doc).

    Offers the generator's ``sample(n, random_state=)``; there is nothing to fit, the teacher's trees
    are the model.
    """

    name = "forest"

    def __init__(self, space: FeatureSpace, trees_per_row: int = 0):
        check("trees_per_row", trees_per_row, Whole(0))
        self.space = space
        # 0: as many as the ensemble's depth asks for
        self.trees_per_row = trees_per_row or trees_per_row_for(space)
        self.schema_ = space.schema
        self.n_fit_rows_ = 0
        kind = space.input_kind
        # one slot per category of each one-hot encoded raw column; indicator inputs point at theirs
        groups = sorted(set(space.input_column[kind == INDICATOR].tolist()))
        self._groups: list[tuple[int, int, int]] = []  # (raw column, first slot, slots)
        offset = 0
        for c in groups:
            size = len(space.schema.columns[c].categories)
            self._groups.append((c, offset, size))
            offset += size
        start = {c: s for c, s, _ in self._groups}
        self._n_slots = offset
        self._slot = np.full(len(kind), -1, dtype=np.int64)
        self._others = np.zeros((len(kind), max(offset, 1)), dtype=bool)  # the slot's group, minus the slot
        for j in np.flatnonzero(kind == INDICATOR):
            c = space.input_column[j]
            s, size = start[c], len(space.schema.columns[c].categories)
            self._slot[j] = s + space.input_category[j]
            self._others[j, s:s + size] = True
            self._others[j, self._slot[j]] = False

    def sample(self, n: int, *, random_state: int | None = None) -> pd.DataFrame:
        rng = np.random.default_rng(random_state)
        blocks = [self._sample_block(min(BLOCK_ROWS, n - start), rng) for start in range(0, n, BLOCK_ROWS)]
        frame = pd.concat(blocks, ignore_index=True) if blocks else self._decode(
            np.zeros((0, len(self.space.input_kind))), np.zeros((0, max(self._n_slots, 1)), bool), rng)
        return self.schema_.conform(frame)

    # -- one block of rows ----------------------------------------------------------------------
    def _sample_block(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        space, forest = self.space, self.space.forest
        p = len(space.input_kind)
        low = np.full((n, p), -np.inf)
        high = np.full((n, p), np.inf)
        # the boxes as flat arrays: one gather per level reads a row's bound on its node's feature
        low_flat, high_flat = low.reshape(-1), high.reshape(-1)
        allowed = np.ones((n, max(self._n_slots, 1)), dtype=bool)
        indicator = space.input_kind == INDICATOR
        any_indicator = bool(indicator.any())
        # a tiny floor: a compatible child with zero recorded weight stays reachable
        weight = forest.weight + 1e-9
        for _ in range(self.trees_per_row):
            node = forest.roots[rng.integers(forest.n_trees, size=n)]
            rows = np.arange(n)
            for _ in range(forest.max_depth):
                f = forest.feature[node]
                inner = f >= 0
                rows, node, f = rows[inner], node[inner], f[inner]
                if rows.size == 0:
                    break
                t = forest.threshold[node]
                left, right = forest.left[node], forest.right[node]
                at = rows * p + f
                lo, hi = low_flat[at], high_flat[at]
                # box (low, high] meets x <= t when low < t, and x > t when high > t
                left_ok, right_ok = lo < t, hi > t
                ind = indicator[f] if any_indicator else None  # None: no one-hot input at this level
                if ind is not None and not ind.any():
                    ind = None
                if ind is not None:
                    r_i, f_i = rows[ind], f[ind]
                    right_ok[ind] = allowed[r_i, self._slot[f_i]]  # "is category k"
                    left_ok[ind] = (allowed[r_i] & self._others[f_i]).any(axis=1)  # "is another one"
                w_left = weight[left] * left_ok
                w_right = weight[right] * right_ok
                go_left = rng.random(rows.size) * (w_left + w_right) < w_left
                num_left, num_right = (go_left, ~go_left) if ind is None else (go_left & ~ind, ~go_left & ~ind)
                high_flat[at[num_left]] = np.minimum(hi[num_left], t[num_left])
                low_flat[at[num_right]] = np.maximum(lo[num_right], t[num_right])
                if ind is not None:
                    m = go_left & ind
                    allowed[rows[m], self._slot[f[m]]] = False
                    m = ~go_left & ind
                    if m.any():
                        keep = ~self._others[f[m]]  # the group shrinks to the slot; other groups untouched
                        allowed[rows[m]] &= keep
                node = np.where(go_left, left, right)
        values = self._draw_values(low, high, rng)
        return self._decode(values, allowed, rng)

    def _draw_values(self, low: np.ndarray, high: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Uniform values inside each row's box (low, high], clipped to the inputs' derived ranges."""
        space = self.space
        lo_range, hi_range = space.input_low[None, :], space.input_high[None, :]
        a = np.clip(low, lo_range, hi_range)
        b = np.clip(high, lo_range, hi_range)
        u = rng.random(low.shape)
        values = a + u * (b - a)
        whole = space.integer & (space.input_kind != INDICATOR)
        if whole.any():
            lo_w, hi_w = low[:, whole], high[:, whole]
            # the smallest whole number above the box's lower edge, the largest at or below its upper
            first = np.maximum(np.floor(lo_w) + 1.0, lo_range[:, whole])
            last = np.minimum(np.floor(hi_w), hi_range[:, whole])
            empty = first > last
            last = np.where(empty, first, last)
            first = np.minimum(first, hi_range[:, whole])
            last = np.clip(last, first, hi_range[:, whole])
            values[:, whole] = first + np.floor(u[:, whole] * (last - first + 1.0))
            values[:, whole] = np.minimum(values[:, whole], last)
        return values

    def _decode(self, values: np.ndarray, allowed: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Ensemble inputs → the raw columns the teacher takes."""
        space = self.space
        n = len(values)
        out: dict[str, np.ndarray] = {}
        for c, spec in enumerate(space.schema.columns):
            js = np.flatnonzero(space.input_column == c)
            kinds = set(space.input_kind[js].tolist())
            if spec.is_categorical and INDICATOR in kinds:
                _, s, size = next(g for g in self._groups if g[0] == c)
                scores = rng.random((n, size)) + allowed[:, s:s + size]  # an allowed category always wins
                out[spec.name] = np.asarray(spec.categories, dtype=object)[np.argmax(scores, axis=1)]
            elif spec.is_categorical and CODE in kinds:
                code = np.clip(np.round(values[:, js[0]]), 0, len(spec.categories) - 1).astype(np.int64)
                out[spec.name] = np.asarray(spec.categories, dtype=object)[code]
            elif spec.is_categorical:  # a category column the model never sees
                out[spec.name] = np.asarray(spec.categories, dtype=object)[rng.integers(len(spec.categories), size=n)]
            elif NUMERIC in kinds:
                out[spec.name] = values[:, js[0]]
            else:
                out[spec.name] = np.zeros(n)
        return pd.DataFrame(out, columns=space.schema.names)


def follows_training_rows(teacher: Any) -> bool:
    """Whether rows drawn from ``teacher``'s trees follow its training rows: its trees count the rows
    that reached each node (``Teacher.counts_rows``; XGBoost's cover, a sum of hessians, weighs the
    regions where it is unsure instead) and the sampler can read them (not LightGBM's categorical
    splits, say)."""
    if teacher is None or not teacher.counts_rows:
        return False
    try:
        feature_space(teacher)  # read once: the generator's fit takes it from the cache
    except InputError:
        return False
    return True


@dataclass(eq=False)
class TeacherTreesGenerator(Generator):
    """Rows from the regions of the teacher's training data (see :class:`ForestSampler`).

    Parameters
    ----------
    teacher : the :class:`~tabcompress.teachers.Teacher` whose trees are sampled.
    trees_per_row : trees each row descends (``--forest-trees``); 0, as many as cut each row's box
        about :data:`SPLITS_PER_ROW` times.
    """

    name = "forest"
    needs_teacher = True
    teacher: Any = None
    trees_per_row: int = parameter(0, Whole(0))

    @classmethod
    def from_settings(cls, settings, *, device="cpu", teacher=None, time_limit=None) -> "TeacherTreesGenerator":
        return cls(teacher=teacher, trees_per_row=settings.generator.forest_trees)

    def _fit(self, X: pd.DataFrame, random_state: int | None, progress: ProgressCallback | None) -> None:
        if self.teacher is None:
            raise ValueError("the forest generator samples a teacher's trees: build it with teacher=")
        self.sampler_ = ForestSampler(feature_space(self.teacher), trees_per_row=self.trees_per_row)
        self.n_fit_rows_ = 0  # nothing is learnt from the rows; the trees are the model
        if progress is not None:
            progress(1, 1)

    def _sample(self, n: int, random_state: int | None) -> pd.DataFrame:
        rows = self.sampler_.sample(n, random_state=random_state)
        return rows[self.schema_.names]  # Generator.sample brings them inside the real rows' schema
