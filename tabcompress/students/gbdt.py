"""A small gradient-boosted ensemble, trained with XGBoost on the teacher's soft targets and served with
numpy.

XGBoost grows the trees; the fitted student then holds them as flat numpy arrays (one node table over
all trees), not as a Booster. Predicting walks every tree at once, so loading and predicting needs
neither XGBoost nor anything but numpy, a pickled student is small, and ``--safe``'s skops format reads
it without trusting any XGBoost type.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tabcompress.config import Number, OneOf, Whole, parameter
from tabcompress.students.base import Student, most_probable_one_hot
from tabcompress.students.encoding import TabularEncoder

if TYPE_CHECKING:
    import pandas as pd

# The defaults, from the grid of bench/trials_gbdt.py (docs/measurements.md, "Boosted-trees and linear
# students"); the depth is the one asked of a small ensemble.
DEFAULT_TREES = 100
DEFAULT_LEARNING_RATE = 0.3
DEFAULT_DEPTH = 4
# The most boosting rounds a search fills a size bound with (more_sizes): past a few hundred rounds
# fidelity barely moves while each round still costs a fit.
MAX_FILL_ROUNDS = 500
# The share of a size bound a filled size leaves free, for pickle's framing.
_FILL_SLACK = 0.01
# Rows × trees that one predicting step holds in memory at once (node indices and leaf values).
_CHUNK_CELLS = 1 << 21
# Targets are clipped this far inside (0, 1) before their logarithm is taken for the base margin.
_EPS = 1e-6


@dataclass(eq=False, repr=False)  # the estimator's repr (students/estimator.py) and equality by identity
class GBDTStudent(Student):
    """Gradient-boosted trees student.

    Binary: XGBoost's ``binary:logistic`` with the teacher's probability of the second class as the
    (soft) label. Multiclass: softmax cross-entropy against the teacher's probability vector, as a
    custom objective (XGBoost's ``multi:softprob`` takes hard labels only): ``n_trees`` rounds of one
    tree per class. Regression: squared error to the teacher's values. Each row's base margin is the
    weighted mean target (its logit, or the log of each class's mean probability). With
    ``grow_on="classes"`` a classifier learns the teacher's most probable class instead (one-hot), which a
    run tries on its validation rows too: a small ensemble then spends its trees on the class boundaries,
    where fidelity is decided, rather than on a forest's smooth probabilities away from them.

    Categories are encoded as codes ordered by mean teacher output, as the tree student does; missing
    values stay missing and each split sends them the way XGBoost learnt. ``sample_weight`` is scaled
    to mean 1, so XGBoost's absolute regularisers (``min_child_weight``, ``lambda``) see the same scale
    whatever the weights' unit.

    After training the booster is compiled into complete binary trees of the ensemble's depth, in arrays
    (node ``i``'s children are ``2i + 1`` and ``2i + 2``, so no child indices are stored): per split its
    feature (one byte up to 256 features), threshold (float32, XGBoost's own) and whether a missing value
    goes left (one bit); per tree its leaf values, as float16 multiples of one scale (each rounded to
    within 2⁻¹¹ of XGBoost's value, so a margin moves by at most that share of its leaves' sizes); and
    the base margins. Tree ``t`` adds to output ``t % n_outputs``, as XGBoost grows them. A leaf above
    the last level is held as splits no row fails. A row goes left when its value, as float32, is below
    the threshold, as in XGBoost. A split costs about 5 bytes and a leaf 2, against some 21 per node
    with child indices: a size bound holds half again as many trees as with float32 leaves and
    two-byte features.
    """

    name = "gbdt"
    variants = ({"grow_on": "probabilities"}, {"grow_on": "classes"})
    # Depth 8 is for large bounds: filled to hundreds of rounds, it follows a forest teacher's deep trees
    # better than depth 6 at the same rounds (docs/measurements.md, "Compact boosted trees, depth 8 and trees
    # grown on classes").
    sizes = tuple({"trees": trees, "max_depth": depth}
                  for trees, depth in ((5, 2), (10, 3), (20, 3), (20, 4), (50, 4), (100, 4), (100, 6), (200, 6),
                                       (100, 8)))
    n_trees: int = parameter(DEFAULT_TREES, Whole(1))
    max_depth: int = parameter(DEFAULT_DEPTH, Whole(1))
    learning_rate: float = parameter(DEFAULT_LEARNING_RATE, Number(0.0, 1.0, open_low=True))
    grow_on: str = parameter("probabilities", OneOf(("probabilities", "classes")))
    random_state: int | None = parameter(None, Whole(0, 2**32 - 1, none=True))
    #: a Dask cluster (:class:`tabcompress.cluster.Cluster`) that the next fit boosts on, set by a run with
    #: ``--dask``; not a parameter: the fit takes it and drops it, so a fitted student never holds (nor
    #: pickles) a connection
    cluster = None
    #: every training row of a file too long for memory (:class:`~tabcompress.students.encoding.RowStream`),
    #: set by a ``--max-rows`` run for its last fit, which then boosts on them through XGBoost's external
    #: memory; not a parameter, dropped by the fit as :attr:`cluster` is
    stream = None

    @classmethod
    def size_of(cls, settings) -> dict[str, int]:
        student = cls.from_settings(settings)
        return {"trees": student.n_trees, "max_depth": student.max_depth}

    @classmethod
    def more_sizes(cls, fitted, max_bytes: int | None) -> list[dict[str, int]]:
        """Under a size bound, at each depth of :attr:`sizes`, the most rounds (up to
        :data:`MAX_FILL_ROUNDS`) whose student stays within ``max_bytes``, unless a student tried within
        the bound at that depth has nearly as many (four fifths of them or more).
        Complete trees make this arithmetic: the largest student fitted gives the bytes that do not
        depend on the trees (encoder, base margins, pickle), and a round at depth d costs
        :meth:`round_bytes`."""
        fitted = [f for f in fitted if isinstance(f[1], cls)]
        if max_bytes is None or not fitted:
            return []
        _, largest, size, _ = max(fitted, key=lambda f: f[2])
        fixed = size - largest.n_rounds_ * largest.round_bytes(largest.depth_)
        sizes = []
        for depth in sorted({size["max_depth"] for size in cls.sizes}):
            rounds = min(MAX_FILL_ROUNDS, int((max_bytes * (1 - _FILL_SLACK) - fixed) // largest.round_bytes(depth)))
            near = any(p["max_depth"] == depth and b <= max_bytes and 1.25 * p["trees"] >= rounds
                       for p, _, b, _ in fitted)
            if rounds >= 1 and not near:
                sizes.append({"trees": rounds, "max_depth": depth})
        return sizes

    @property
    def n_rounds_(self) -> int:
        """Boosting rounds (a tree per output each)."""
        return len(self.leaf_) // len(self.base_margin_)

    def round_bytes(self, depth: int) -> float:
        """The bytes a round of complete trees of ``depth`` adds to this student's arrays: per output, its
        splits (feature, float32 threshold, a bit for the missing side) and its float16 leaves."""
        splits, leaves = 2**depth - 1, 2**depth
        tree = splits * (self.feature_.itemsize + 4 + 1 / 8) + leaves * self.leaf_.itemsize
        return len(self.base_margin_) * tree

    @classmethod
    def from_settings(cls, settings, *, device=None, time_limit=None) -> GBDTStudent:
        s = settings.student
        return cls(n_trees=s.trees, max_depth=DEFAULT_DEPTH if s.max_depth is None else s.max_depth,
                   learning_rate=s.learning_rate, random_state=settings.seed,
                   grow_on="probabilities" if s.grow_on == "auto" else s.grow_on)

    # -- fitting -------------------------------------------------------------------------------
    def _fit(self, X: pd.DataFrame, targets: np.ndarray, sample_weight: np.ndarray | None) -> None:
        targets = self._learnt(targets)
        self.encoder_ = TabularEncoder(self.categorical_, numeric="raw", categories="ordinal")
        Z = self.encoder_.fit(X, targets).transform(X)
        cluster, stream = self.__dict__.pop("cluster", None), self.__dict__.pop("stream", None)
        if stream is not None:
            if sample_weight is not None:
                raise ValueError("a gbdt student trained on a row stream takes no sample_weight")
            booster, base_margin = self._train_streamed(Z[stream.replaces:], targets[stream.replaces:], stream)
            self.trained_on_ = "external memory"
        else:
            booster, base_margin = self._train(Z, targets, sample_weight, cluster)
            # where the boosting ran (the report's student.trained_on): a cluster's booster is not
            # bit-identical to a local one (docs/scale.md)
            self.trained_on_ = "here" if cluster is None else "dask"
        self.base_margin_ = base_margin
        self._compile(booster)

    def _learnt(self, targets: np.ndarray) -> np.ndarray:
        """What the trees learn of the teacher's ``targets``: them, or its most probable classes (one-hot)."""
        return most_probable_one_hot(targets) if self.grow_on == "classes" and targets.ndim == 2 else targets

    def _params(self) -> dict[str, Any]:
        """XGBoost's parameters, with the objective for binary and regression tasks (a multiclass one is
        custom, which its caller passes, and has no default metric)."""
        objective = {"binary": {"objective": "binary:logistic"}, "regression": {"objective": "reg:squarederror"},
                     "multiclass": {"disable_default_eval_metric": 1}}
        return {"tree_method": "hist", "max_depth": int(self.max_depth), "learning_rate": float(self.learning_rate),
                "seed": 0 if self.random_state is None else int(self.random_state), **objective.get(self.task_, {})}

    def _train(self, Z: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None,
               cluster: Any = None) -> tuple[Any, np.ndarray]:
        """The trained XGBoost Booster and the base margin of each output; boosted on ``cluster``'s
        workers (``xgboost.dask``) when one is given."""
        weight = None if sample_weight is None else sample_weight / sample_weight.mean()
        base_margin = _base_margin(self.task_, targets, weight)
        params = self._params()
        objective: Callable | None = None
        if self.task_ != "multiclass":
            label = targets[:, 1] if self.task_ == "binary" else targets
        else:
            params["num_class"] = targets.shape[1]
            label, objective = None, _softmax_objective(targets, weight)
        if cluster is not None:
            if self.task_ == "multiclass":
                # Each worker sees its own rows only, so the objective reads the soft targets from the
                # rows' labels: a label column per class, i.e. XGBoost's multi-target regression, which
                # grows one tree per output each round in output order as num_class does.
                del params["num_class"]
                label, objective = targets, _softmax_objective_from_labels
            booster = cluster.train_xgboost(params, Z.astype(np.float32), label=label, weight=weight,
                                            base_margin=_margin_rows(base_margin, len(Z)),
                                            num_boost_round=int(self.n_trees), obj=objective)
            return booster, base_margin
        import xgboost as xgb

        data = xgb.DMatrix(Z.astype(np.float32), label=label, weight=weight,
                           base_margin=_margin_rows(base_margin, len(Z)))
        return xgb.train(params, data, num_boost_round=int(self.n_trees), obj=objective), base_margin

    def _train_streamed(self, Z_rest: np.ndarray, T_rest: np.ndarray, stream: Any) -> tuple[Any, np.ndarray]:
        """The Booster and base margins of a fit on ``stream``'s rows and the encoded rows ``Z_rest``, through
        XGBoost's external memory: a first pass encodes each chunk of the stream and writes it with its
        targets to a temporary folder (``TMPDIR``), so that the teacher labels every row once and no pass
        holds more than a chunk; XGBoost then reads the chunks from there, builds its quantile pages on
        disk and boosts on them. The base margins are the mean targets over every row."""
        import tempfile

        import xgboost as xgb

        with tempfile.TemporaryDirectory(prefix="tabcompress-rows-") as folder:
            files, total, n = [], np.zeros(T_rest.shape[1:]), 0
            parts = ((self.encoder_.transform(X), self._learnt(np.asarray(T))) for X, T in stream.chunks())
            for i, (Z, T) in enumerate(itertools.chain(parts, [(Z_rest, T_rest)])):
                if not len(Z):
                    continue
                T = np.asarray(T, dtype=np.float64)
                total, n = total + T.sum(axis=0), n + len(T)
                files.append((f"{folder}/rows{i}.npy", f"{folder}/targets{i}.npy"))
                np.save(files[-1][0], np.ascontiguousarray(Z, dtype=np.float32))
                np.save(files[-1][1], T.astype(np.float32))
            base_margin = _base_margin(self.task_, (total / n)[None], None)
            # multiclass: the soft targets travel as the rows' labels, a column per class
            objective = _softmax_objective_from_labels if self.task_ == "multiclass" else None
            label = (lambda T: T[:, 1]) if self.task_ == "binary" else (lambda T: T)
            chunks = _saved_chunks(files, label, base_margin, f"{folder}/cache")
            data = xgb.ExtMemQuantileDMatrix(chunks, missing=np.nan)
            self.streamed_rows_ = int(data.num_row())
            booster = xgb.train(self._params(), data, num_boost_round=int(self.n_trees), obj=objective)
            del data, chunks  # XGBoost's pages close before their folder goes
        return booster, base_margin

    def _compile(self, booster: Any) -> None:
        """Hold ``booster``'s trees as complete binary trees in arrays (see the class's docstring); the
        Booster is not kept."""
        trees = [json.loads(tree) for tree in booster.get_dump(dump_format="json")]
        depth = max(_depth(tree) for tree in trees)
        n_splits = 2**depth - 1
        feature = np.zeros((len(trees), n_splits), dtype=np.int64)
        threshold = np.full((len(trees), n_splits), np.inf, dtype=np.float32)
        missing_left = np.ones((len(trees), n_splits), dtype=bool)
        leaf = np.zeros((len(trees), 2**depth), dtype=np.float64)
        nodes = 0
        for t, tree in enumerate(trees):
            stack = [(tree, 0, 0)]  # node, position in the complete tree, level
            while stack:
                node, position, level = stack.pop()
                if level == depth:
                    leaf[t, position - n_splits] = node["leaf"]
                    continue
                if "leaf" in node:
                    # a leaf above the last level: a split no row fails (threshold +inf, missing left),
                    # whose two children are the same leaf
                    stack += [(node, 2 * position + 1, level + 1), (node, 2 * position + 2, level + 1)]
                    continue
                feature[t, position] = int(node["split"].lstrip("f"))
                threshold[t, position] = node["split_condition"]
                missing_left[t, position] = node["missing"] == node["yes"]
                children = {child["nodeid"]: child for child in node["children"]}
                stack += [(children[node["yes"]], 2 * position + 1, level + 1),
                          (children[node["no"]], 2 * position + 2, level + 1)]
            nodes += _size(tree)
        self._store(feature, threshold, missing_left, leaf, booster.num_features())
        self.depth_, self.n_nodes_ = int(depth), int(nodes)

    def _store(self, feature: np.ndarray, threshold: np.ndarray, missing_left: np.ndarray, leaf: np.ndarray,
               n_features: int) -> None:
        """Hold the compiled trees in their compact arrays: features in the narrowest integer type that
        numbers ``n_features``, thresholds as they are, the missing sides as bits, the leaves as float16
        multiples of the largest leaf's size (so that no leaf overflows float16, whatever the target's
        unit)."""
        wide = next(t for t in (np.uint8, np.uint16, np.int32) if n_features <= np.iinfo(t).max + 1)
        self.feature_ = feature.astype(wide)
        self.threshold_ = threshold.astype(np.float32)
        self.missing_bits_ = np.packbits(missing_left.astype(bool), axis=None)
        self.leaf_scale_ = float(np.abs(leaf).max()) or 1.0
        self.leaf_ = (leaf / self.leaf_scale_).astype(np.float16)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A student pickled before the compact arrays (float32 leaves, a byte per missing side and an
        output index per tree) is read into them."""
        if "missing_left_" in state:
            state = dict(state)
            leaf, missing_left = state.pop("leaf_").astype(np.float64), state.pop("missing_left_")
            state.pop("tree_output_", None)
            self.__dict__.update(state)
            self._store(state["feature_"], state["threshold_"], missing_left, leaf, int(state["feature_"].max()) + 1)
            return
        self.__dict__.update(state)

    # -- the compiled trees, as full arrays -----------------------------------------------------
    @property
    def missing_left_(self) -> np.ndarray:
        """Per tree and split, whether a missing value goes left (bool, the shape of ``threshold_``)."""
        return np.unpackbits(self.missing_bits_, count=self.threshold_.size).astype(bool).reshape(self.threshold_.shape)

    @property
    def leaf_values_(self) -> np.ndarray:
        """Per tree, its leaf values (float64), as the student adds them."""
        return self.leaf_.astype(np.float64) * self.leaf_scale_

    @property
    def tree_output_(self) -> np.ndarray:
        """Per tree, the output (class) it adds to: XGBoost grows one tree per output each round, in output
        order."""
        return np.arange(len(self.leaf_)) % len(self.base_margin_)

    # -- prediction (numpy only) ---------------------------------------------------------------
    def margins(self, Z: np.ndarray) -> np.ndarray:
        """Raw scores ``(n, n_outputs)`` of encoded rows ``Z``: the base margins plus each output's leaf
        values, before the sigmoid or softmax (XGBoost's ``output_margin``)."""
        Z = np.ascontiguousarray(Z, dtype=np.float32)
        n_trees = len(self.leaf_)
        tree = np.arange(n_trees)
        by_output = np.eye(len(self.base_margin_))[self.tree_output_]  # (n_trees, n_outputs)
        missing_left = None  # unpacked from its bits when a row has a missing value
        out = np.empty((len(Z), len(self.base_margin_)))
        step = max(1, _CHUNK_CELLS // n_trees)
        for start in range(0, len(Z), step):
            block = Z[start:start + step]
            cells = block.ravel()
            row_start = (np.arange(len(block)) * block.shape[1])[:, None]
            node = np.zeros((len(block), n_trees), dtype=np.intp)
            for _ in range(self.depth_):  # every row, in every tree, one level down
                x = cells[row_start + self.feature_[tree, node]]
                go_left = x < self.threshold_[tree, node]
                missing = np.isnan(x)
                if missing.any():
                    missing_left = self.missing_left_ if missing_left is None else missing_left
                    go_left = np.where(missing, missing_left[tree, node], go_left)
                node = 2 * node + 2 - go_left
            leaves = self.leaf_[tree, node - (2**self.depth_ - 1)].astype(np.float64) * self.leaf_scale_
            out[start:start + step] = leaves @ by_output
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
        return {"max_depth": int(self.max_depth), "grow_on": self.grow_on}

    def _portable_model(self) -> tuple[dict, dict]:
        from tabcompress.students.portable import floats, output

        leaves, missing_left, outputs = self.leaf_values_, self.missing_left_, self.tree_output_
        trees = [dict(_tree_nodes(self, t, leaves[t], missing_left[t]), output=int(outputs[t]))
                 for t in range(len(self.leaf_))]
        model = {"kind": "trees", "compare": "<", "n_outputs": len(self.base_margin_),
                 "base": floats(self.base_margin_), "trees": trees}
        return model, output(self.task_, "sigmoid" if self.task_ == "binary" else "softmax")

    def _complexity(self) -> dict[str, int]:
        # every tree is binary: a tree of n nodes has (n + 1) / 2 leaves
        leaves = (self.n_nodes_ + len(self.leaf_)) // 2
        return {"n_trees": len(self.leaf_), "n_nodes": self.n_nodes_, "n_leaves": leaves, "depth": self.depth_}


def _saved_chunks(files: list[tuple[str, str]], label: Callable, base_margin: np.ndarray, cache: str) -> Any:
    """Encoded rows and their targets saved chunk by chunk (:meth:`GBDTStudent._train_streamed`), as an
    XGBoost DataIter that hands them over one chunk at a time, memory-mapped (its class is made here, so
    that XGBoost is imported by training alone)."""
    import xgboost as xgb

    class SavedChunks(xgb.DataIter):
        def __init__(self):
            self.at = 0
            super().__init__(cache_prefix=cache)

        def next(self, input_data: Callable) -> bool:
            if self.at == len(files):
                return False
            rows, targets = (np.load(f, mmap_mode="r") for f in files[self.at])
            input_data(data=rows, label=label(np.asarray(targets)), base_margin=_margin_rows(base_margin, len(rows)))
            self.at += 1
            return True

        def reset(self) -> None:
            self.at = 0

    return SavedChunks()


def _tree_nodes(student: GBDTStudent, t: int, leaf_values: np.ndarray, missing_left: np.ndarray) -> dict[str, list]:
    """Tree ``t`` of a compiled student as node lists (tabcompress.students.portable), given its leaf values
    and missing sides (rows of :attr:`GBDTStudent.leaf_values_` and :attr:`~GBDTStudent.missing_left_`),
    without the splits that stand for a leaf above the last level (threshold +inf: both their subtrees are
    that leaf)."""
    n_splits = 2**student.depth_ - 1
    nodes: dict[str, list] = {key: [] for key in ("feature", "threshold", "missing_left", "left", "right", "value")}

    def add(position: int) -> int:
        while position < n_splits and student.threshold_[t, position] == np.inf:
            position = 2 * position + 1
        index = len(nodes["left"])
        for key in nodes:
            nodes[key].append(None)
        if position >= n_splits:
            nodes["feature"][index], nodes["threshold"][index], nodes["missing_left"][index] = -1, 0.0, True
            nodes["left"][index] = nodes["right"][index] = -1
            nodes["value"][index] = [float(leaf_values[position - n_splits])]
            return index
        nodes["feature"][index] = int(student.feature_[t, position])
        nodes["threshold"][index] = float(student.threshold_[t, position])
        nodes["missing_left"][index] = bool(missing_left[position])
        nodes["value"][index] = [0.0]
        nodes["left"][index] = add(2 * position + 1)
        nodes["right"][index] = add(2 * position + 2)
        return index

    add(0)
    return nodes


def _depth(node: dict[str, Any]) -> int:
    """Levels below ``node`` in a dumped tree (0 for a leaf)."""
    return 1 + max(_depth(child) for child in node["children"]) if "children" in node else 0


def _size(node: dict[str, Any]) -> int:
    """Nodes of a dumped tree, leaves included."""
    return 1 + sum(_size(child) for child in node.get("children", ()))


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
    """XGBoost custom objective: softmax cross-entropy against probability vectors (see
    :func:`_softmax_gradient`)."""
    w = np.ones((len(targets), 1)) if weight is None else weight[:, None]

    def objective(margin: np.ndarray, data: Any) -> tuple[np.ndarray, np.ndarray]:
        return _softmax_gradient(margin, targets, w)

    return objective


def _softmax_objective_from_labels(margin: np.ndarray, data: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_softmax_objective` for ``xgboost.dask``, where each worker calls it on its own rows: the
    probability vectors are the rows' labels (one column per class) and the weights the rows' weights."""
    targets = data.get_label().reshape(data.num_row(), -1)
    weight = data.get_weight()
    return _softmax_gradient(margin, targets, np.ones((len(targets), 1)) if weight.size == 0 else weight[:, None])


def _softmax_gradient(margin: np.ndarray, targets: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and hessian of softmax cross-entropy against probability vectors ``targets``: per class
    p − t and 2·p·(1 − p) (at least 1e-6), as in XGBoost's own softmax; both scaled by the row's weight
    ``w`` (a column)."""
    p = _softmax(margin.reshape(len(targets), -1).astype(np.float64))
    return w * (p - targets), w * np.maximum(2.0 * p * (1.0 - p), 1e-6)
