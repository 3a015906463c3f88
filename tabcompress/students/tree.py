"""A single decision tree that regresses the teacher's probabilities (or values)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeRegressor

from tabcompress.students.base import Student
from tabcompress.students.encoding import TabularEncoder
from tabcompress.students.tao import refine_tree


# Refinement passes for classification when none are asked for. Measured with
#   python bench/trials.py --datasets <all 8> --seeds 0 --students tree4,tree8 --variants M20,M20+R
# and seeds 1,2 on adult, bank_marketing and credit_default (3,000 training rows + 20× MUNGE rows, RF
# and XGBoost teachers): over 44 classification runs held-out fidelity rose by 0.005 on average
# (median 0.0015; 30 up, 12 down, from −0.010 to +0.058 on letter at depth 4); over 8 regression runs
# R² to the teacher fell by 0.002 on average, so regression keeps CART's tree. Three passes did as
# well as eight: the splits settle after two or three.
DEFAULT_REFINE_PASSES = 3
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
    """

    def __init__(self, max_depth: int | None = 6, max_leaf_nodes: int | None = None,
                 min_samples_leaf: int = 1, refine_passes: int | None = None, random_state: int | None = None):
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.refine_passes = refine_passes
        self.random_state = random_state

    def _fit(self, X: pd.DataFrame, targets: np.ndarray, sample_weight: np.ndarray | None) -> None:
        passes = self.refine_passes
        if passes is not None and (not isinstance(passes, (int, np.integer)) or isinstance(passes, bool)
                                   or passes < 0):
            raise ValueError(f"refine_passes must be a whole number >= 0 or None, got {passes!r}")
        self.encoder_ = TabularEncoder(self.categorical_, numeric="raw", categories="ordinal")
        Z = self.encoder_.fit(X, targets).transform(X)
        self.tree_model_ = DecisionTreeRegressor(
            max_depth=self.max_depth, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, random_state=self.random_state,
        ).fit(Z, targets, sample_weight=sample_weight)
        if passes is None:
            auto = self.task_ != "regression" and self.tree_model_.tree_.n_leaves <= AUTO_REFINE_MAX_LEAVES
            passes = DEFAULT_REFINE_PASSES if auto else 0
        self.refinement_ = None
        if passes > 0 and self.tree_model_.tree_.max_depth > 0:
            self.refinement_ = refine_tree(self.tree_model_, Z, targets, classify=self.task_ != "regression",
                                           passes=int(passes), sample_weight=sample_weight)

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.tree_model_.predict(self.encoder_.transform(X)))

    def leaf_ids(self, X: pd.DataFrame) -> np.ndarray:
        """The leaf each row lands in (used to spread selected rows across the tree's regions)."""
        return np.asarray(self.tree_model_.apply(self.encoder_.transform(self._check_X(X))))

    def _complexity(self) -> dict[str, int]:
        tree = self.tree_model_.tree_
        return {"n_nodes": int(tree.node_count), "n_leaves": int(tree.n_leaves), "depth": int(tree.max_depth)}
