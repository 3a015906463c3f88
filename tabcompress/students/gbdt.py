"""A small gradient-boosted ensemble, trained with XGBoost on the teacher's soft targets and served with
numpy.

XGBoost grows the trees; the fitted student then holds them as flat numpy arrays (one node table over
all trees), not as a Booster. Predicting walks every tree at once, so loading and predicting needs
neither XGBoost nor anything but numpy, a pickled student is small, and ``--safe``'s skops format reads
it without trusting any XGBoost type.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tabcompress.config import Number, Whole, parameter
from tabcompress.students.base import Student
from tabcompress.students.encoding import TabularEncoder

# The defaults, from the grid of bench/trials_gbdt.py (docs/measurements.md, "Boosted-trees and linear
# students"); the depth is the one asked of a small ensemble.
DEFAULT_TREES = 100
DEFAULT_LEARNING_RATE = 0.3
DEFAULT_DEPTH = 4
# Rows × trees that one predicting step holds in memory at once (node indices and leaf values).
_CHUNK_CELLS = 1 << 21
# Targets are clipped this far inside (0, 1) before their logarithm is taken for the base margin.
_EPS = 1e-6


@dataclass(eq=False, repr=False)  # scikit-learn's repr and equality
class GBDTStudent(Student):
    """Gradient-boosted trees student.

    Binary: XGBoost's ``binary:logistic`` with the teacher's probability of the second class as the
    (soft) label. Multiclass: softmax cross-entropy against the teacher's probability vector, as a
    custom objective (XGBoost's ``multi:softprob`` takes hard labels only): ``n_trees`` rounds of one
    tree per class. Regression: squared error to the teacher's values. Each row's base margin is the
    weighted mean target (its logit, or the log of each class's mean probability).

    Categories are encoded as codes ordered by mean teacher output, as the tree student does; missing
    values stay missing and each split sends them the way XGBoost learnt. ``sample_weight`` is scaled
    to mean 1, so XGBoost's absolute regularisers (``min_child_weight``, ``lambda``) see the same scale
    whatever the weights' unit.

    After training the booster is compiled into arrays: per node its feature, threshold (float32),
    left and right child, whether a missing value goes left, and its leaf value; per tree its root and
    the output (class) it adds to; and the base margins. A row goes left when its value, as float32, is
    below the threshold, as in XGBoost.
    """

    name = "gbdt"
    sizes = tuple({"trees": trees, "max_depth": depth}
                  for trees, depth in ((5, 2), (10, 3), (20, 3), (20, 4), (50, 4), (100, 4), (100, 6), (200, 6)))
    n_trees: int = parameter(DEFAULT_TREES, Whole(1))
    max_depth: int = parameter(DEFAULT_DEPTH, Whole(1))
    learning_rate: float = parameter(DEFAULT_LEARNING_RATE, Number(0.0, 1.0, open_low=True))
    random_state: int | None = parameter(None, Whole(0, 2**32 - 1, none=True))

    @classmethod
    def size_of(cls, settings) -> dict[str, int]:
        student = cls.from_settings(settings)
        return {"trees": student.n_trees, "max_depth": student.max_depth}

    @classmethod
    def from_settings(cls, settings, *, device=None, time_limit=None) -> GBDTStudent:
        s = settings.student
        return cls(n_trees=s.trees, max_depth=DEFAULT_DEPTH if s.max_depth is None else s.max_depth,
                   learning_rate=s.learning_rate, random_state=settings.seed)

    # -- fitting -------------------------------------------------------------------------------
    def _fit(self, X: pd.DataFrame, targets: np.ndarray, sample_weight: np.ndarray | None) -> None:
        self.encoder_ = TabularEncoder(self.categorical_, numeric="raw", categories="ordinal")
        Z = self.encoder_.fit(X, targets).transform(X)
        booster, base_margin = self._train(Z, targets, sample_weight)
        self.base_margin_ = base_margin
        self._compile(booster)

    def _train(self, Z: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None) -> tuple[Any, np.ndarray]:
        """The trained XGBoost Booster and the base margin of each output."""
        import xgboost as xgb

        weight = None if sample_weight is None else sample_weight / sample_weight.mean()
        base_margin = _base_margin(self.task_, targets, weight)
        params: dict[str, Any] = {"tree_method": "hist", "max_depth": int(self.max_depth),
                                  "learning_rate": float(self.learning_rate),
                                  "seed": 0 if self.random_state is None else int(self.random_state)}
        objective: Callable | None = None
        if self.task_ == "binary":
            params["objective"] = "binary:logistic"
            label = targets[:, 1]
        elif self.task_ == "regression":
            params["objective"] = "reg:squarederror"
            label = targets
        else:
            params.update(num_class=targets.shape[1], disable_default_eval_metric=1)
            label, objective = None, _softmax_objective(targets, weight)
        data = xgb.DMatrix(Z.astype(np.float32), label=label, weight=weight,
                           base_margin=_margin_rows(base_margin, len(Z)))
        return xgb.train(params, data, num_boost_round=int(self.n_trees), obj=objective), base_margin

    def _compile(self, booster: Any) -> None:
        """Hold ``booster``'s trees as flat arrays (see the class's docstring); the Booster is not kept."""
        n_outputs = len(self.base_margin_)
        feature: list[int] = []
        threshold: list[float] = []
        left: list[int] = []
        right: list[int] = []
        missing_left: list[bool] = []
        value: list[float] = []
        roots: list[int] = []
        depth = 0
        for tree in booster.get_dump(dump_format="json"):
            nodes = _nodes(json.loads(tree))
            index = {node["nodeid"]: len(feature) + i for i, (node, _) in enumerate(nodes)}
            roots.append(len(feature))
            for node, level in nodes:
                here = index[node["nodeid"]]
                if "leaf" in node:  # a leaf leads to itself, so walking further keeps a row there
                    feature.append(0)
                    threshold.append(0.0)
                    left.append(here)
                    right.append(here)
                    missing_left.append(True)
                    value.append(node["leaf"])
                    depth = max(depth, level)
                else:
                    feature.append(int(node["split"].lstrip("f")))
                    threshold.append(node["split_condition"])
                    left.append(index[node["yes"]])
                    right.append(index[node["no"]])
                    missing_left.append(node["missing"] == node["yes"])
                    value.append(0.0)
        self.feature_ = np.asarray(feature, dtype=np.int32)
        self.threshold_ = np.asarray(threshold, dtype=np.float32)
        self.left_ = np.asarray(left, dtype=np.int32)
        self.right_ = np.asarray(right, dtype=np.int32)
        self.missing_left_ = np.asarray(missing_left, dtype=bool)
        self.value_ = np.asarray(value, dtype=np.float32)
        self.roots_ = np.asarray(roots, dtype=np.int32)
        # XGBoost grows one tree per output each round, in output order.
        self.tree_output_ = (np.arange(len(roots)) % n_outputs).astype(np.int32)
        self.depth_ = int(depth)

    # -- prediction (numpy only) ---------------------------------------------------------------
    def margins(self, Z: np.ndarray) -> np.ndarray:
        """Raw scores ``(n, n_outputs)`` of encoded rows ``Z``: the base margins plus each output's leaf
        values, before the sigmoid or softmax (XGBoost's ``output_margin``)."""
        Z = np.ascontiguousarray(Z, dtype=np.float32)
        n_trees = len(self.roots_)
        by_output = np.eye(len(self.base_margin_))[self.tree_output_]  # (n_trees, n_outputs)
        out = np.empty((len(Z), len(self.base_margin_)))
        step = max(1, _CHUNK_CELLS // n_trees)
        for start in range(0, len(Z), step):
            block = Z[start:start + step]
            cells = block.ravel()
            row_start = (np.arange(len(block)) * block.shape[1])[:, None]
            node = np.broadcast_to(self.roots_, (len(block), n_trees))
            for _ in range(self.depth_):  # every row, in every tree, one level down (a leaf stays put)
                x = cells[row_start + self.feature_[node]]
                go_left = x < self.threshold_[node]
                missing = np.isnan(x)
                if missing.any():
                    go_left = np.where(missing, self.missing_left_[node], go_left)
                node = np.where(go_left, self.left_[node], self.right_[node])
            out[start:start + step] = self.value_[node].astype(np.float64) @ by_output
        return out + self.base_margin_

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        margin = self.margins(self.encoder_.transform(X))
        if self.task_ == "regression":
            return margin[:, 0]
        if self.task_ == "binary":
            p = 1.0 / (1.0 + np.exp(-margin[:, 0]))
            return np.column_stack([1.0 - p, p])
        return _softmax(margin)

    def fitted_settings(self) -> dict[str, Any]:
        return {"max_depth": int(self.max_depth)}

    def _complexity(self) -> dict[str, int]:
        leaves = int(np.count_nonzero(self.left_ == np.arange(len(self.left_))))
        return {"n_trees": len(self.roots_), "n_nodes": len(self.feature_), "n_leaves": leaves, "depth": self.depth_}


def _nodes(root: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
    """A dumped tree's nodes with their depth, the root first."""
    nodes, stack = [], [(root, 0)]
    while stack:
        node, level = stack.pop()
        nodes.append((node, level))
        stack.extend((child, level + 1) for child in node.get("children", ()))
    return nodes


def _base_margin(task: str, targets: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """The starting raw score of each output: the weighted mean value, the logit of the mean probability
    of the second class, or the log of each class's mean probability."""
    mean = np.average(targets, axis=0, weights=weight)
    if task == "regression":
        return np.atleast_1d(mean).astype(np.float64)
    mean = np.clip(mean, _EPS, 1.0 - _EPS)
    if task == "binary":
        return np.array([np.log(mean[1] / (1.0 - mean[1]))])
    return np.log(mean)


def _margin_rows(base_margin: np.ndarray, n: int) -> np.ndarray:
    """XGBoost's ``base_margin``: one value per row, or a row of values per row for several outputs."""
    return np.full(n, base_margin[0]) if len(base_margin) == 1 else np.tile(base_margin, (n, 1))


def _softmax(margin: np.ndarray) -> np.ndarray:
    e = np.exp(margin - margin.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _softmax_objective(targets: np.ndarray, weight: np.ndarray | None) -> Callable:
    """XGBoost custom objective: softmax cross-entropy against probability vectors. Per class the
    gradient is p − t and the hessian 2·p·(1 − p) (at least 1e-6), as in XGBoost's own softmax; both
    scaled by the row's weight."""
    w = np.ones((len(targets), 1)) if weight is None else weight[:, None]

    def objective(margin: np.ndarray, data: Any) -> tuple[np.ndarray, np.ndarray]:
        p = _softmax(margin.reshape(len(targets), -1).astype(np.float64))
        return w * (p - targets), w * np.maximum(2.0 * p * (1.0 - p), 1e-6)

    return objective
