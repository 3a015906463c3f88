"""A single decision tree that regresses the teacher's probabilities (or values).

scikit-learn grows the tree (and :mod:`tabcompress.students.refine` refines it) during ``fit``; the
fitted student then holds it as plain node arrays, not as a ``DecisionTreeRegressor``, and predicts with
numpy, so loading and predicting imports neither scikit-learn nor scipy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tabcompress.config import Flag, Number, OneOf, Whole, parameter
from tabcompress.students.base import Student, most_probable_one_hot
from tabcompress.students.encoding import TabularEncoder

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.tree import DecisionTreeRegressor

# The depth a tree student grows to when a run's settings leave --max-depth unset.
DEFAULT_DEPTH = 6
# A search of sizes tries the most faithful tree pruned to about these shares of its leaves (more_sizes).
PRUNED_SHARES = (0.5, 0.25, 0.125)
# Pruning paths are worked out for trees of at most this many nodes (a depth-12 tree's most): the
# weakest-link loop costs a pass over the nodes per pruned node.
PRUNE_MAX_NODES = 2**13 - 1
# Refinement's defaults, each the best of a trial in docs/measurements.md ("Tree refinement"):
# three passes do as well as eight (python bench/trials.py --variants M20,M20+R), six starting trees
# gain most at depth 4 (--variants M20+R1,M20+R2,M20+R4,M20+R), and screening the starts on a sample of
# SCREEN_ROWS keeps six starts near the cost of one on large runs.
DEFAULT_REFINE_PASSES = 3
DEFAULT_REFINE_STARTS = 6
SCREEN_ROWS = 50_000
# Lookahead (TreeStudent._look_ahead): the splits tried at a node, the greedy one included; how much lower
# (as a share) a lookahead subtree's training loss must be to replace the greedy one; and the levels from
# the root where nodes look ahead; each the choice of a trial in docs/measurements.md ("Root lookahead",
# "Lookahead below the root"). A node's candidates are grown on at most LOOKAHEAD_ROWS of its rows.
DEFAULT_LOOKAHEAD = 5
LOOKAHEAD_MARGIN = 0.02
LOOKAHEAD_LEVELS = 3
LOOKAHEAD_ROWS = 100_000
# Below this many rows a lower training loss says little about held-out rows (a root chosen on 50-100
# prototypes alone swung R² to -7.8 in a trial), so the tree stays CART's. A guard, not a tuned value:
# every default run's fit has thousands of rows (real plus synthetic).
LOOKAHEAD_MIN_ROWS = 1_000
# Trees with more leaves than this are not refined unless passes are asked for: refinement costs a pass
# over every row per feature per depth, and such a tree is not the small student it is meant for.
AUTO_REFINE_MAX_LEAVES = 1024


@dataclass(eq=False, repr=False)  # the estimator's repr (students/estimator.py) and equality by identity
class TreeStudent(Student):
    """Decision-tree student.

    Regressing the probability vector (rather than classifying hard labels) lets each leaf hold the
    teacher's average belief, which is what distillation transfers; ``grow_on="classes"`` grows it on the
    teacher's most probable classes instead (one-hot), which a run tries on its validation rows too.
    Categories are encoded as codes ordered by mean teacher output; missing values are routed by the
    tree itself.

    With ``refine`` (off by default: the method is patented, see the README's "Licences and patents"),
    a classification tree is then refined (see ``refine.py``): its splits are refitted, keeping its
    shape, to agree with the teacher's most probable class on the training rows, which is what
    fidelity measures and what CART's greedy impurity only approximates. ``refine_passes`` sets the
    passes (default ``DEFAULT_REFINE_PASSES`` with ``refine``, for classification trees of at most
    ``AUTO_REFINE_MAX_LEAVES`` leaves); a number above 0 refines whatever ``refine`` says, regression
    trees included, and 0 never refines. ``refinement_`` records the training disagreement before and
    after, ``refine_passes_`` and ``refine_starts_`` what ran. Refinement moves splits without regard
    to ``min_samples_leaf``: a leaf may end up with fewer rows.

    Refinement is a local search, so ``refine_starts`` trees are grown and each is refined: CART on
    the teacher's probabilities, CART on its most probable classes (one-hot, Gini's criterion in
    squared-error form), then the same two in turn on random halves of the rows. The refined tree
    with the lowest training loss is kept. With more than ``SCREEN_ROWS`` rows the starts are grown
    and refined on a random ``SCREEN_ROWS`` of them, then judged on all rows (with the greedy tree
    as a further candidate, so the result is never worse than CART's on the training rows), and the
    winner is refined on all rows. ``refinement_["starts"]`` lists each start's losses. By default
    classification uses ``DEFAULT_REFINE_STARTS``; regression, and any run without refinement, grows
    one tree.

    The fitted tree is held as scikit-learn's node arrays, copied: ``feature_``, ``threshold_``
    (float64), ``missing_left_``, ``left_`` and ``right_`` (-1 at a leaf, whose feature and threshold
    are scikit-learn's -2), ``value_`` (each node's mean target, ``(n_nodes, n_outputs)``) and
    ``depth_``. A row is routed as scikit-learn routes it: its values rounded to float32, left when
    ``x <= threshold`` compared in double precision, a missing value left where ``missing_left_``; so
    predictions are scikit-learn's to the bit.
    """

    name = "tree"
    sizes = tuple({"max_depth": depth} for depth in (2, 3, 4, 5, 6, 8, 10, 12))
    variants = ({"grow_on": "probabilities"}, {"grow_on": "classes"})
    max_depth: int | None = parameter(DEFAULT_DEPTH, Whole(1, none=True))
    max_leaf_nodes: int | None = parameter(None, Whole(2, none=True))
    min_samples_leaf: int = parameter(1, Whole(1))
    grow_on: str = parameter("probabilities", OneOf(("probabilities", "classes")))
    ccp_alpha: float = parameter(0.0, Number(0.0))
    refine: bool = parameter(False, Flag())
    refine_passes: int | None = parameter(None, Whole(0, none=True))
    refine_starts: int | None = parameter(None, Whole(1, none=True))
    lookahead: int | None = parameter(None, Whole(1, none=True))
    random_state: int | None = parameter(None, Whole(0, 2**32 - 1, none=True))

    @classmethod
    def from_settings(cls, settings, *, device=None, time_limit=None) -> "TreeStudent":
        s = settings.student
        grow_on = "probabilities" if s.grow_on == "auto" else s.grow_on
        return cls(max_depth=DEFAULT_DEPTH if s.max_depth is None else s.max_depth, max_leaf_nodes=s.max_leaf_nodes,
                   grow_on=grow_on, ccp_alpha=s.ccp_alpha, refine=s.refine, refine_passes=s.refine_passes,
                   refine_starts=s.refine_starts, lookahead=s.lookahead,
                   random_state=settings.seed)

    @classmethod
    def size_of(cls, settings) -> dict[str, int | None]:
        return {"max_depth": cls.from_settings(settings).max_depth}

    def _fit(self, X: pd.DataFrame, targets: np.ndarray, sample_weight: np.ndarray | None) -> None:
        self.encoder_ = TabularEncoder(self.categorical_, numeric="raw", categories="ordinal")
        # scikit-learn grows its trees on float32 copies of the rows: encoding straight to float32 grows
        # the same tree without the float64 matrix and its copy. Refinement works on the float64 values
        # that prediction compares.
        refines = bool(self.refine_passes) or (self.refine and self.refine_passes is None)
        Z = self.encoder_.fit(X, targets).transform(X, dtype=np.float64 if refines else np.float32)
        self._compile(self._fit_tree(Z, targets, sample_weight))
        if self.lookahead_ is not None:  # the shipped tree's loss, on the rows its root was judged on
            rows = self.lookahead_.pop("_rows")
            self.lookahead_["shipped_loss"] = _prediction_loss(
                self.value_[self._leaves(Z[rows])], targets[rows], self.task_ != "regression",
                None if sample_weight is None else sample_weight[rows])

    def _fit_tree(self, Z: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None
                  ) -> DecisionTreeRegressor:
        """The scikit-learn tree grown (and refined) on the encoded rows ``Z``; sets ``refinement_``,
        ``refine_passes_`` and ``refine_starts_``."""
        from tabcompress.students.refine import refine_tree

        passes, starts = self.refine_passes, self.refine_starts
        classify = self.task_ != "regression"
        by_class = classify and self.grow_on == "classes"
        # on one-hot classes, the squared error a regression tree splits by is Gini's criterion
        fit_on = most_probable_one_hot(targets) if by_class else targets
        grown = self._grow(Z, fit_on, sample_weight)
        if passes is None:
            auto = self.refine and classify and grown.tree_.n_leaves <= AUTO_REFINE_MAX_LEAVES
            passes = DEFAULT_REFINE_PASSES if auto else 0
        self.refinement_ = self.lookahead_ = None
        self.refine_passes_, self.refine_starts_ = 0, 1
        if passes == 0:  # refinement's starts are its own search; without it, one level of lookahead
            grown = self._look_ahead(grown, Z, fit_on, targets, sample_weight, classify)
        # what a search's pruned sizes need of the grown tree (more_sizes), as arrays; not pickled
        tree = grown.tree_
        self._grown = (tree.children_left.copy(), tree.children_right.copy(), tree.impurity.copy(),
                       tree.weighted_n_node_samples.copy())
        if passes == 0 or grown.tree_.max_depth == 0:
            return grown
        if starts is None:
            starts = DEFAULT_REFINE_STARTS if classify else 1
        self.refine_passes_, self.refine_starts_ = int(passes), int(starts)
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
        greedy = copy.deepcopy(grown)  # start 0 is refined in place
        greedy_loss = _loss(greedy, Z, targets, classify, sample_weight)
        candidates, losses = [], []
        for start in range(int(starts)):
            described, model = self._start(start, grown, Zs, Ts, Ws, rng, classify)
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
        # "before" is the greedy tree grown on every row: before → after reads CART → what ships.
        self.refinement_ = {**info, "loss_before": greedy_loss, "start": described,
                            "screen_rows": int(len(Zs)), "starts": losses}
        return model

    def _grow(self, Z: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None, *,
              levels_above: int = 0, share: float = 1.0) -> DecisionTreeRegressor:
        """CART's tree on ``Z``; with ``levels_above``, a subtree that many levels below a root, grown on
        ``share`` of the whole tree's rows (weight). scikit-learn weighs a node's impurity by its share of
        the tree's rows in cost-complexity pruning, so a subtree's alpha is divided by its share: it
        prunes as the whole tree would."""
        from sklearn.tree import DecisionTreeRegressor

        return DecisionTreeRegressor(
            max_depth=None if self.max_depth is None else self.max_depth - levels_above,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            ccp_alpha=self.ccp_alpha / share if share > 0 else 0.0, random_state=self.random_state,
        ).fit(Z, targets, sample_weight=sample_weight)

    def _look_ahead(self, greedy: DecisionTreeRegressor, Z: np.ndarray, fit_on: np.ndarray, targets: np.ndarray,
                    sample_weight: np.ndarray | None, classify: bool) -> Any:
        """``greedy``, or a tree whose top splits were chosen by lookahead when that fits the training rows
        better (disagreement with the teacher's classes, or squared error to its values).

        CART picks each split for the squared error it lowers on its own, not for the best tree of the
        asked depth that grows beneath it. So at the root the best ``lookahead`` splits (each feature's
        best split, ranked by that decrease) are each tried with greedy subtrees grown beneath them, and
        another split replaces CART's only when its tree's loss is more than ``LOOKAHEAD_MARGIN`` below
        the greedy tree's: one level of lookahead (Murthy & Salzberg 1995, "Lookahead and pathology in
        decision tree induction"). The same choice is then made at the root of each side, on its rows,
        down to ``LOOKAHEAD_LEVELS`` levels. A node's candidates are judged on at most
        ``LOOKAHEAD_ROWS`` of its rows; the winner is grown again on all. ``lookahead_`` records the
        root's losses and the nodes changed (``_fit`` adds the shipped tree's loss, on the root's rows)."""
        k = DEFAULT_LOOKAHEAD if self.lookahead is None else int(self.lookahead)
        if k < 2 or self.max_leaf_nodes is not None:  # a leaf budget is spent across the whole tree
            return greedy
        changed = []  # one entry per node whose split changed
        shipped = self._look_ahead_at(greedy, Z, fit_on, targets, sample_weight, classify, k, changed,
                                      levels_above=0, share=1.0)
        if self.lookahead_ is not None:
            self.lookahead_.update(levels=LOOKAHEAD_LEVELS, nodes_changed=len(changed))
        return shipped

    def _look_ahead_at(self, greedy: DecisionTreeRegressor, Z: np.ndarray, fit_on: np.ndarray, targets: np.ndarray,
                       sample_weight: np.ndarray | None, classify: bool, k: int, changed: list, *,
                       levels_above: int, share: float) -> Any:
        """``_look_ahead``'s choice at one node: ``greedy`` is CART's subtree on the node's rows ``Z``,
        ``levels_above`` levels below the tree's root, holding ``share`` of the tree's rows (weight); a
        changed split is appended to ``changed``."""
        tree = greedy.tree_
        if tree.node_count < 3 or tree.max_depth < 2 or len(Z) < LOOKAHEAD_MIN_ROWS:
            return greedy
        rows = np.arange(len(Z))
        if len(Z) > LOOKAHEAD_ROWS:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(len(Z), size=LOOKAHEAD_ROWS, replace=False))
        Zs, Fs, Ts = Z[rows], fit_on[rows], targets[rows]
        Ws = None if sample_weight is None else sample_weight[rows]
        greedy_loss = _prediction_loss(greedy.predict(Zs), Ts, classify, Ws)
        root = (int(tree.feature[0]), float(tree.threshold[0]), bool(tree.missing_go_to_left[0]))
        best = None
        splits = [split for split in self._root_splits(Zs, Fs, Ws, k) if split[:2] != root[:2]]
        for feature, threshold, missing_left in splits:
            left = _goes_left(Zs[:, feature], threshold, missing_left)
            sides = self._grow_sides(Zs, Fs, Ws, left, levels_above, share)
            if sides is None:
                continue
            predicted = np.empty((len(Zs), Fs.reshape(len(Fs), -1).shape[1]))
            for side, grown in zip((left, ~left), sides):
                predicted[side] = grown.predict(Zs[side]).reshape(int(side.sum()), -1)
            loss = _prediction_loss(predicted, Ts, classify, Ws)
            if best is None or loss < best[0]:
                best = (loss, (feature, threshold, missing_left), sides)
        chosen = best is not None and best[0] < (1 - LOOKAHEAD_MARGIN) * greedy_loss
        split, sides = (best[1], best[2]) if chosen else (root, None)
        left = _goes_left(Z[:, split[0]], *split[1:])
        if (chosen and len(Zs) < len(Z)) or (not chosen and levels_above + 1 < LOOKAHEAD_LEVELS):
            # the winner grown again on every row (judged on a sample), or CART's sides to look below
            sides = self._grow_sides(Z, fit_on, sample_weight, left, levels_above, share)
            chosen = chosen and sides is not None  # None: a split leaves one side of all rows weightless
        if levels_above == 0:
            self.lookahead_ = {"roots_tried": 1 + len(splits), "rows": int(len(Zs)), "_rows": rows,
                               "loss": "disagreement" if classify else "squared_error", "greedy_loss": greedy_loss,
                               "best_loss": greedy_loss if best is None else best[0], "root_changed": bool(chosen)}
        if sides is None:
            return greedy
        if chosen:
            changed.append(levels_above)
        if levels_above + 1 < LOOKAHEAD_LEVELS:  # the same choice at the root of each side
            looked = [self._look_ahead_at(grown, Z[side], fit_on[side], targets[side],
                                          None if sample_weight is None else sample_weight[side], classify, k,
                                          changed, levels_above=levels_above + 1, share=share * side_share)
                      for side, side_share, grown in zip((left, ~left), _side_shares(left, sample_weight), sides)]
            if not chosen and all(new is old for new, old in zip(looked, sides)):
                return greedy  # nothing changed below CART's own split
            sides = looked
        return _joined(*split, sides, fit_on, sample_weight)

    def _root_splits(self, Z: np.ndarray, fit_on: np.ndarray, sample_weight: np.ndarray | None,
                     k: int) -> list[tuple[int, float, bool]]:
        """The ``k`` features' best root splits that lower the squared error most, as (feature,
        threshold, missing values go left): one stump per feature."""
        from sklearn.tree import DecisionTreeRegressor

        splits = []
        for feature in range(Z.shape[1]):
            stump = DecisionTreeRegressor(max_depth=1, min_samples_leaf=self.min_samples_leaf,
                                          random_state=self.random_state)
            tree = stump.fit(Z[:, [feature]], fit_on, sample_weight=sample_weight).tree_
            if tree.node_count < 3:
                continue
            decrease = tree.impurity[0] * tree.weighted_n_node_samples[0] - (
                tree.impurity[1:3] * tree.weighted_n_node_samples[1:3]).sum()
            splits.append((float(decrease), feature, float(tree.threshold[0]), bool(tree.missing_go_to_left[0])))
        splits.sort(key=lambda split: -split[0])  # stable: equal decreases keep the features' order
        return [split[1:] for split in splits[:k]]

    def _grow_sides(self, Z: np.ndarray, fit_on: np.ndarray, sample_weight: np.ndarray | None,
                    left: np.ndarray, levels_above: int = 0, share: float = 1.0
                    ) -> list[DecisionTreeRegressor] | None:
        """CART's subtrees, one level shallower, on the rows a root split sends ``left`` and right; None
        when one side holds no rows of any weight (a tree cannot be grown on none)."""
        shares = _side_shares(left, sample_weight)
        if min(shares) <= 0:
            return None
        return [self._grow(Z[side], fit_on[side], None if sample_weight is None else sample_weight[side],
                           levels_above=levels_above + 1, share=share * side_share)
                for side, side_share in zip((left, ~left), shares)]

    def _start(self, start: int, grown: DecisionTreeRegressor, Z: np.ndarray, targets: np.ndarray,
               sample_weight: np.ndarray | None, rng: np.random.Generator,
               classify: bool) -> tuple[str, DecisionTreeRegressor]:
        """Starting tree number ``start`` on the screening rows ``Z`` and its name; 0 is ``grown``, the
        tree already grown on every row."""
        if start == 0:
            return "probabilities, all rows", grown
        # Classification alternates probability- and class-grown trees; regression has only values.
        by_class = classify and start % 2 == 1
        fit_on = most_probable_one_hot(targets) if by_class else targets
        what = "classes" if by_class else ("probabilities" if classify else "values")
        if start == 1 and classify:
            return f"{what}, all rows", self._grow(Z, fit_on, sample_weight)
        rows = np.sort(rng.choice(len(Z), size=max(1, len(Z) // 2), replace=False))
        weight = None if sample_weight is None else sample_weight[rows]
        if weight is not None and weight.sum() <= 0:  # a half with only zero-weight rows: use them all
            rows, weight = np.arange(len(Z)), sample_weight
        return f"{what}, half of the rows", self._grow(Z[rows], fit_on[rows], weight)

    # -- the fitted tree as arrays, and prediction (numpy only) ----------------------------------
    def _compile(self, model: DecisionTreeRegressor) -> None:
        """Hold the fitted scikit-learn tree ``model`` as node arrays (see the class's docstring); the
        scikit-learn tree is not kept."""
        tree = model.tree_
        self.feature_ = tree.feature.astype(np.int32)
        self.threshold_ = tree.threshold.astype(np.float64)
        self.missing_left_ = tree.missing_go_to_left.astype(bool)
        self.left_ = tree.children_left.astype(np.int32)
        self.right_ = tree.children_right.astype(np.int32)
        self.value_ = tree.value.reshape(tree.node_count, -1).astype(np.float64)
        self.depth_ = int(tree.max_depth)

    @classmethod
    def more_sizes(cls, fitted, max_bytes: int | None) -> list[dict[str, Any]]:
        """The most faithful unpruned, unrefined tree fitted, pruned to about a half, a quarter and an
        eighth of its leaves: a smaller tree that may agree as well (its alphas lie between the steps of
        its pruning path, so that a refit on more rows prunes alike)."""
        grown = [f for f in fitted if isinstance(f[1], cls) and getattr(f[1], "_grown", None) is not None
                 and not f[1].ccp_alpha and not f[1].refine_passes_ and len(f[1]._grown[0]) <= PRUNE_MAX_NODES]
        if not grown:
            return []
        params, student, _, _ = max(grown, key=lambda f: (f[3], -f[2]))
        alphas, leaves = pruning_path(*student._grown)
        sizes = []
        for share in PRUNED_SHARES:
            step = int(np.searchsorted(-leaves, -share * leaves[0]))  # the first step at most that many leaves
            if 0 < step < len(alphas) and leaves[step] > 1:
                alpha = float((alphas[step] + alphas[step + 1]) / 2 if step + 1 < len(alphas) else alphas[step])
                sizes.append({**params, "ccp_alpha": alpha})
        return sizes

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_grown", None)  # what a search needs of the grown tree, not part of the student
        state.pop("lookahead_", None)  # the fit's record for the report: not worth its bytes in the student
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A student pickled before trees were compiled holds a scikit-learn tree: compile it (which
        # unpickling it has imported scikit-learn for).
        state = dict(state)
        model = state.pop("tree_model_", None)
        self.__dict__.update(state)
        if model is not None:
            self._compile(model)

    def _leaves(self, Z: np.ndarray) -> np.ndarray:
        """The leaf each encoded row reaches: scikit-learn's ``apply``, to the bit."""
        X = np.asarray(Z, dtype=np.float32)  # scikit-learn rounds the rows to float32
        node = np.zeros(len(X), dtype=np.intp)
        rows = np.arange(len(X)) if self.left_[0] >= 0 else np.arange(0)
        while len(rows):  # each step moves the rows not yet in a leaf one level down
            at = node[rows]
            x = X[rows, self.feature_[at]]
            go_left = x <= self.threshold_[at]  # float32 against float64: compared in double precision
            missing = np.isnan(x)
            if missing.any():
                go_left = np.where(missing, self.missing_left_[at], go_left)
            at = np.where(go_left, self.left_[at], self.right_[at])
            node[rows] = at
            rows = rows[self.left_[at] >= 0]
        return node

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        values = self.value_[self._leaves(self.encoder_.transform(X))]
        return values[:, 0] if self.task_ == "regression" else values

    def fitted_settings(self) -> dict[str, int | None]:
        return {"max_depth": self.max_depth, "refine_passes": self.refine_passes_, "refine_starts": self.refine_starts_,
                "lookahead": self.lookahead_["roots_tried"] if getattr(self, "lookahead_", None) else 1}

    def leaf_ids(self, X: pd.DataFrame) -> np.ndarray:
        """The leaf each row lands in (used to spread selected rows across the tree's regions)."""
        return self._leaves(self.encoder_.transform(self._check_X(X)))

    def _portable_model(self) -> tuple[dict, dict]:
        from tabcompress.students.portable import floats, output

        leaf = self.left_ < 0
        nodes = {"feature": np.where(leaf, -1, self.feature_).tolist(),
                 "threshold": np.where(leaf, 0.0, self.threshold_).tolist(),
                 "missing_left": [bool(m) for m in self.missing_left_],
                 "left": self.left_.tolist(), "right": self.right_.tolist(),
                 "value": floats(self.value_)}
        n_outputs = len(nodes["value"][0])
        model = {"kind": "trees", "compare": "<=", "n_outputs": n_outputs, "base": [0.0] * n_outputs,
                 "trees": [{**nodes, "output": 0}]}
        return model, output(self.task_, "normalize", argmax="raw")

    def _complexity(self) -> dict[str, int]:
        return {"n_nodes": len(self.left_), "n_leaves": int(np.count_nonzero(self.left_ < 0)), "depth": self.depth_}


def pruning_path(left: np.ndarray, right: np.ndarray, impurity: np.ndarray,
                 weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimal cost-complexity pruning of a fitted scikit-learn tree (Breiman et al. 1984, ch. 3), given
    its ``children_left``, ``children_right``, ``impurity`` and ``weighted_n_node_samples``: the weakest
    link is pruned again and again. Returns the effective alpha of each step (ascending, 0 first for the
    tree as grown) and the leaves left after it. The same weakest-link rule as scikit-learn's
    ``ccp_alpha``, computed on the tree at hand rather than by growing it again."""
    n = len(left)
    risk = impurity * weight / weight[0]
    parent = np.full(n, -1)
    internal = left >= 0
    parent[left[internal]] = np.flatnonzero(internal)
    parent[right[internal]] = np.flatnonzero(internal)
    leaves, below = np.ones(n), risk.copy()  # leaves and risk of each node's subtree
    for t in range(n - 1, -1, -1):  # children come after their parent in scikit-learn's node order
        if internal[t]:
            leaves[t] = leaves[left[t]] + leaves[right[t]]
            below[t] = below[left[t]] + below[right[t]]
    alphas, counts = [0.0], [leaves[0]]
    alive = internal.copy()
    while alive[0]:
        gain = np.full(n, np.inf)
        gain[alive] = (risk[alive] - below[alive]) / (leaves[alive] - 1)
        t = int(np.argmin(gain))
        stack = [t]
        while stack:  # the pruned node's subtree is gone
            node = stack.pop()
            alive[node] = False
            if left[node] >= 0:
                stack += [left[node], right[node]]
        lost_leaves, lost_risk = leaves[t] - 1, risk[t] - below[t]
        node = t
        while node >= 0:
            leaves[node] -= lost_leaves
            below[node] += lost_risk
            node = parent[node]
        alphas.append(max(float(gain[t]), alphas[-1]))
        counts.append(leaves[0])
    return np.array(alphas), np.array(counts)


def _goes_left(values: np.ndarray, threshold: float, missing_left: bool) -> np.ndarray:
    """Which rows a split sends left, as prediction routes them (``TreeStudent._leaves``)."""
    return np.where(np.isnan(values), missing_left, values <= threshold)


def _side_shares(left: np.ndarray, sample_weight: np.ndarray | None) -> list[float]:
    """The shares of the rows (weight) a split sends left and right."""
    weight = np.ones(len(left)) if sample_weight is None else sample_weight
    return [weight[side].sum() / weight.sum() for side in (left, ~left)]


def _joined(feature: int, threshold: float, missing_left: bool, sides: list[DecisionTreeRegressor],
            targets: np.ndarray, sample_weight: np.ndarray | None) -> Any:
    """One tree: a root split on ``feature`` at ``threshold`` over the fitted trees ``sides`` (left,
    right), as the node arrays ``TreeStudent._compile`` and the pruning path read from a scikit-learn
    tree (children after their parent, -1 at a leaf)."""
    from types import SimpleNamespace

    left, right = (side.tree_ for side in sides)
    T = targets.reshape(len(targets), -1)
    mean = np.average(T, axis=0, weights=sample_weight)
    # scikit-learn's squared-error impurity of a node: the variance, averaged over the outputs
    impurity = float(np.average(((T - mean) ** 2).mean(axis=1), weights=sample_weight))

    def children(side: Any, offset: int) -> np.ndarray:
        return np.where(side >= 0, side + offset, side)

    n_left = left.node_count
    nodes = SimpleNamespace(
        node_count=1 + n_left + right.node_count,
        max_depth=1 + max(left.max_depth, right.max_depth),
        n_leaves=left.n_leaves + right.n_leaves,
        feature=np.r_[feature, left.feature, right.feature],
        threshold=np.r_[threshold, left.threshold, right.threshold],
        missing_go_to_left=np.r_[missing_left, left.missing_go_to_left.astype(bool),
                                 right.missing_go_to_left.astype(bool)],
        children_left=np.r_[1, children(left.children_left, 1), children(right.children_left, 1 + n_left)],
        children_right=np.r_[1 + n_left, children(left.children_right, 1),
                             children(right.children_right, 1 + n_left)],
        value=np.vstack([mean[None, :], left.value.reshape(n_left, -1),
                         right.value.reshape(right.node_count, -1)]),
        impurity=np.r_[impurity, left.impurity, right.impurity],
        weighted_n_node_samples=np.r_[left.weighted_n_node_samples[0] + right.weighted_n_node_samples[0],
                                      left.weighted_n_node_samples, right.weighted_n_node_samples],
    )
    return SimpleNamespace(tree_=nodes)


def _prediction_loss(predicted: np.ndarray, targets: np.ndarray, classify: bool,
                     sample_weight: np.ndarray | None) -> float:
    """Disagreement of ``predicted`` with the teacher's classes, or its squared error to the values."""
    if classify:
        errors = (np.argmax(predicted, axis=1) != np.argmax(targets, axis=1)).astype(np.float64)
    else:
        errors = (predicted.reshape(len(targets), -1) - targets.reshape(len(targets), -1)) ** 2
        errors = errors.sum(axis=1)
    return float(np.average(errors, weights=sample_weight))


def _loss(model: DecisionTreeRegressor, Z: np.ndarray, targets: np.ndarray, classify: bool,
          sample_weight: np.ndarray | None) -> float:
    """Refinement's loss for ``model`` on rows ``Z`` (see ``_prediction_loss``)."""
    return _prediction_loss(model.predict(Z), targets, classify, sample_weight)
