"""A single decision tree that regresses the teacher's probabilities (or values)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeRegressor

from tabcompress.students.base import Student
from tabcompress.students.encoding import TabularEncoder


class TreeStudent(Student):
    """Decision-tree student.

    Regressing the probability vector (rather than classifying hard labels) lets each leaf hold the
    teacher's average belief, which is what distillation transfers. Categories are encoded as codes
    ordered by mean teacher output; missing values are routed by the tree itself.
    """

    def __init__(self, max_depth: int | None = 6, max_leaf_nodes: int | None = None,
                 min_samples_leaf: int = 1, random_state: int | None = None):
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def _fit(self, X: pd.DataFrame, targets: np.ndarray) -> None:
        self.encoder_ = TabularEncoder(self.categorical_, numeric="raw", categories="ordinal")
        Z = self.encoder_.fit(X, targets).transform(X)
        self.tree_model_ = DecisionTreeRegressor(
            max_depth=self.max_depth, max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf, random_state=self.random_state,
        ).fit(Z, targets)

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.tree_model_.predict(self.encoder_.transform(X)))

    def leaf_ids(self, X: pd.DataFrame) -> np.ndarray:
        """The leaf each row lands in (used to spread selected rows across the tree's regions)."""
        return np.asarray(self.tree_model_.apply(self.encoder_.transform(self._check_X(X))))

    def _complexity(self) -> dict[str, int]:
        tree = self.tree_model_.tree_
        return {"n_nodes": int(tree.node_count), "n_leaves": int(tree.n_leaves), "depth": int(tree.max_depth)}
