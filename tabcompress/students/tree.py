"""A single decision tree that regresses the teacher's probabilities (or values)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeRegressor

from tabcompress.students.base import Student
from tabcompress.students.encoding import TabularEncoder
from tabcompress.students.refine import refine_tree

# Refinement passes for classification when none are asked for. Measured with
#   python bench/trials.py --datasets <all 8> --seeds 0 --students tree4,tree8 --variants M20,M20+R
# and seeds 1,2 on adult, bank_marketing and credit_default (3,000 training rows + 20× MUNGE rows, RF
# and XGBoost teachers): over 44 classification runs held-out fidelity rose by 0.005 on average
# (median 0.0015; 30 up, 12 down, from −0.010 to +0.058 on letter at depth 4); over 8 regression runs
# R² to the teacher fell by 0.002 on average, so regression keeps CART's tree. Three passes did as
# well as eight: the splits settle after two or three.
DEFAULT_REFINE_PASSES = 3
# Starting trees refined when none are asked for (classification with refinement on); the one with the
# lowest training disagreement is kept. Refinement is a local search: it moves splits but keeps the
# grown tree's shape and its choice of features near the root, so where it ends depends on where it
# starts. Measured with
#   python bench/trials.py --datasets adult,letter,bank_marketing,magic,covertype_75k,credit_default
#       --seeds 0,1,2 --students tree4,tree8 --variants M20+R1,M20+R2,M20+R4,M20+R
# (the benchmark's splits, 3,000 training rows + 20× MUNGE rows, RF and XGBoost teachers; 12 cells per
# depth, means over seeds), against one start: two starts +0.0021 at depth 4 and +0.0019 at depth 8,
# four +0.0036 and +0.0017, six +0.0045 (10 cells up, 2 down) and +0.0014 (7 up, 5 down). Six for
# depth 4's sake; at depth 8 two would do as well for half the time.
DEFAULT_REFINE_STARTS = 6
# With more training rows than this, the starts are grown and refined on a random sample of this many
# rows, judged on all of them, and only the winner is refined on all rows: six starts then cost about
# 1.3 times one start, not six times (adult's CLI run, 440,000 rows, depth 6: 11.4 s against 8.8 s).
SCREEN_ROWS = 50_000
# Unasked, trees with more leaves than this are left as grown: refinement costs a pass over every row
# per feature per depth, and a tree this big (depth > 10, or no depth limit) is not the small student it
# is meant for.
AUTO_REFINE_MAX_LEAVES = 1024


class TreeStudent(Student):
    """Decision-tree student.

    Regressing the probability vector (rather than classifying hard labels) lets each leaf hold the
    teacher's average belief, which is what distillation transfers. Categories are encoded as codes
    ordered by mean teacher output; missing values are routed by the tree itself.

    For classification the grown tree is then refined (``refine_passes``, see ``tao.py``): its splits
    are refitted, keeping its shape, to agree with the teacher's most probable class on the training
    rows, which is what fidelity measures and what CART's greedy impurity only approximates.
    ``refinement_`` records the training disagreement before and after. Refinement moves splits
    without regard to ``min_samples_leaf``: a leaf may end up with fewer rows.

    Refinement is a local search, so ``refine_starts`` trees are grown and each is refined: CART on
    the teacher's probabilities, CART on its most probable classes (one-hot, Gini's criterion in
    squared-error form), then the same two in turn on random halves of the rows. The refined tree
    with the lowest training loss is kept. With more than ``SCREEN_ROWS`` rows the starts are grown
    and refined on a random ``SCREEN_ROWS`` of them, then judged on all rows (with the greedy tree
    as a further candidate, so the result is never worse than CART's on the training rows), and the
    winner is refined on all rows. ``refinement_["starts"]`` lists each start's losses. By default
    classification uses ``DEFAULT_REFINE_STARTS``; regression, and any run without refinement, grows
    one tree.
    """

    def __init__(self, max_depth: int | None = 6, max_leaf_nodes: int | None = None,
                 min_samples_leaf: int = 1, refine_passes: int | None = None, refine_starts: int | None = None,
                 random_state: int | None = None):
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.refine_passes = refine_passes
        self.refine_starts = refine_starts
        self.random_state = random_state

    def _fit(self, X: pd.DataFrame, targets: np.ndarray, sample_weight: np.ndarray | None) -> None:
        passes, starts = self.refine_passes, self.refine_starts
        for name, value, low in (("refine_passes", passes, 0), ("refine_starts", starts, 1)):
            if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool)
                                      or value < low):
                raise ValueError(f"{name} must be a whole number >= {low} or None, got {value!r}")
        classify = self.task_ != "regression"
        self.encoder_ = TabularEncoder(self.categorical_, numeric="raw", categories="ordinal")
        Z = self.encoder_.fit(X, targets).transform(X)
        self.tree_model_ = self._grow(Z, targets, sample_weight)
        if passes is None:
            auto = classify and self.tree_model_.tree_.n_leaves <= AUTO_REFINE_MAX_LEAVES
            passes = DEFAULT_REFINE_PASSES if auto else 0
        self.refinement_ = None
        if passes == 0 or self.tree_model_.tree_.max_depth == 0:
            return
        if starts is None:
            starts = DEFAULT_REFINE_STARTS if classify else 1
        rng = np.random.default_rng(self.random_state)
        # With several starts and many rows, the starts are grown and refined on one random sample of
        # rows, so that six starts on 400,000 rows cost little more than one.
        screened = starts > 1 and len(Z) > SCREEN_ROWS
        if screened:
            screen = np.sort(rng.choice(len(Z), size=SCREEN_ROWS, replace=False))
            screened = sample_weight is None or sample_weight[screen].sum() > 0  # not only rows of weight zero
        if screened:
            Zs, Ts = Z[screen], targets[screen]
            Ws = None if sample_weight is None else sample_weight[screen]
        else:
            Zs, Ts, Ws = Z, targets, sample_weight
        greedy = copy.deepcopy(self.tree_model_)  # start 0 is refined in place
        greedy_loss = _loss(greedy, Z, targets, classify, sample_weight)
        candidates, losses = [], []
        for start in range(int(starts)):
            described, model = self._start(start, Zs, Ts, Ws, rng, classify)
            info = refine_tree(model, Zs, Ts, classify=classify, passes=int(passes), sample_weight=Ws)
            entry = {"start": described, "loss_before": info["loss_before"], "loss_after": info["loss_after"]}
            if screened:  # judged on every row: predicting is cheap, and a tree fitted to the sample may not carry
                entry["loss_all_rows"] = _loss(model, Z, targets, classify, sample_weight)
            losses.append(entry)
            candidates.append((entry["loss_all_rows"] if screened else info["loss_after"], model, info, described))
        if screened:  # the greedy tree too, so the tree shipped is never worse on the training rows than CART's
            candidates.append((greedy_loss, greedy, None, "greedy tree, all rows"))
        _, model, info, described = min(candidates, key=lambda c: c[0])  # ties keep the earlier start
        if screened:  # the winner refined on every row (refinement never makes its loss worse)
            info = refine_tree(model, Z, targets, classify=classify, passes=int(passes), sample_weight=sample_weight)
        self.tree_model_ = model
        # "before" is the greedy tree grown on every row: before → after reads CART → what ships.
        self.refinement_ = {**info, "loss_before": greedy_loss, "start": described,
                            "screen_rows": int(len(Zs)), "starts": losses}

    def _grow(self, Z: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None) -> DecisionTreeRegressor:
        return DecisionTreeRegressor(
            max_depth=self.max_depth, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, random_state=self.random_state,
        ).fit(Z, targets, sample_weight=sample_weight)

    def _start(self, start: int, Z: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None,
               rng: np.random.Generator, classify: bool) -> tuple[str, DecisionTreeRegressor]:
        """Starting tree number ``start`` on the screening rows ``Z`` and its name; 0 is the tree already
        grown on every row."""
        if start == 0:
            return "probabilities, all rows", self.tree_model_
        # Classification alternates probability- and class-grown trees; regression has only values.
        by_class = classify and start % 2 == 1
        fit_on = np.eye(targets.shape[1])[np.argmax(targets, axis=1)] if by_class else targets
        what = "classes" if by_class else ("probabilities" if classify else "values")
        if start == 1 and classify:
            return f"{what}, all rows", self._grow(Z, fit_on, sample_weight)
        rows = np.sort(rng.choice(len(Z), size=max(1, len(Z) // 2), replace=False))
        weight = None if sample_weight is None else sample_weight[rows]
        if weight is not None and weight.sum() <= 0:  # a half with only zero-weight rows: use them all
            rows, weight = np.arange(len(Z)), sample_weight
        return f"{what}, half of the rows", self._grow(Z[rows], fit_on[rows], weight)

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.tree_model_.predict(self.encoder_.transform(X)))

    def leaf_ids(self, X: pd.DataFrame) -> np.ndarray:
        """The leaf each row lands in (used to spread selected rows across the tree's regions)."""
        return np.asarray(self.tree_model_.apply(self.encoder_.transform(self._check_X(X))))

    def _complexity(self) -> dict[str, int]:
        tree = self.tree_model_.tree_
        return {"n_nodes": int(tree.node_count), "n_leaves": int(tree.n_leaves), "depth": int(tree.max_depth)}


def _loss(model: DecisionTreeRegressor, Z: np.ndarray, targets: np.ndarray, classify: bool,
          sample_weight: np.ndarray | None) -> float:
    """Refinement's loss for ``model`` on rows ``Z``: disagreement with the teacher's class, or squared
    error to its values."""
    predicted = model.predict(Z)
    if classify:
        errors = (np.argmax(predicted, axis=1) != np.argmax(targets, axis=1)).astype(np.float64)
    else:
        errors = (predicted.reshape(len(Z), -1) - targets.reshape(len(Z), -1)) ** 2
        errors = errors.sum(axis=1)
    return float(np.average(errors, weights=sample_weight))
