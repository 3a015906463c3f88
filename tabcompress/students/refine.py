"""Tree alternating optimisation: refit a grown tree's splits to the loss the student is judged by.

CART grows a tree greedily, each split chosen for the impurity it removes at that node alone. TAO
(Carreira-Perpiñán & Tavallali, "Alternating optimization of decision trees", NeurIPS 2018) keeps the
tree's shape and revisits its decision nodes. With the rest of the tree fixed, a node's best split is a
weighted two-class problem: each row that reaches the node costs ``loss_left`` if sent left (through
the fixed left subtree) and ``loss_right`` if sent right, and the split — feature, threshold, and where
missing values go — is found exactly by sorting each feature once. Nodes at one depth hold disjoint
rows, so a depth is optimised in one sweep; then every node takes the mean target of its rows, as
CART's do. Sweeps run from the deepest decision nodes up to the root.

The loss is what the product measures: disagreement with the teacher's class (classification: a row
costs 1 where the leaf's most probable class is not the teacher's), or squared error to the teacher's
value (regression). A sweep never worsens the node problems it solves, but re-averaging the leaves can
move a leaf's most probable class, so the best tree seen is kept and the refinement stops when a pass
no longer helps.

This works on the arrays of a fitted scikit-learn ``DecisionTreeRegressor`` and writes them back through
the tree's own pickling state, so the refined tree is a plain scikit-learn tree again, which the tree
student then compiles into its own arrays (students/tree.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Arrays:
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    values: np.ndarray  # (n_nodes, n_outputs): each node's mean target

    def copy(self) -> "_Arrays":
        return _Arrays(self.left, self.right, self.feature.copy(), self.threshold.copy(),
                       self.missing_left.copy(), self.values.copy())


def refine_tree(model, Z: np.ndarray, targets: np.ndarray, *, classify: bool, passes: int = 2,
                sample_weight: np.ndarray | None = None) -> dict:
    """Refine the fitted ``DecisionTreeRegressor`` ``model`` in place on rows ``Z`` and ``targets``.

    ``Z`` is the float matrix the tree was fitted on; ``targets`` the teacher's probabilities
    ``(n, n_classes)`` when ``classify``, else its values ``(n,)``. Returns what happened: passes run,
    decision nodes changed, and the training loss before and after (disagreement share or mean squared
    error).
    """
    # The tree compares float32 features against float64 thresholds; route exactly as it does.
    Z = np.asarray(Z, dtype=np.float32).astype(np.float64)
    T = np.asarray(targets, dtype=np.float64).reshape(len(Z), -1)
    labels = np.argmax(T, axis=1) if classify else None
    W = np.ones(len(Z)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    state = model.tree_.__getstate__()
    nodes = state["nodes"]
    arrays = _Arrays(
        left=nodes["left_child"].astype(np.int64), right=nodes["right_child"].astype(np.int64),
        feature=nodes["feature"].astype(np.int64), threshold=nodes["threshold"].astype(np.float64),
        missing_left=nodes["missing_go_to_left"].astype(bool),
        values=state["values"][:, :, 0].astype(np.float64),
    )
    depth = _node_depths(arrays.left, arrays.right)
    max_depth = int(depth.max())
    internal_at = [np.flatnonzero((depth == d) & (arrays.left >= 0)) for d in range(max_depth)]

    def loss_of(a: _Arrays, paths: np.ndarray) -> float:
        return float(np.average(_row_losses(a, paths[:, -1], np.arange(len(Z)), T, labels), weights=W))

    # Each feature sorted once (missing values last, ties by row): every node's split search reuses it.
    columns = np.ascontiguousarray(Z.T)  # one feature's values contiguous: the split search reads by column
    orders = [np.argsort(column, kind="stable") for column in columns]
    paths = _paths(Z, arrays, max_depth)
    start = best_loss = loss_of(arrays, paths)
    best = arrays.copy()
    changed_total, passes_run = 0, 0
    for _ in range(passes):
        changed = 0
        for d in reversed(range(max_depth)):
            if len(internal_at[d]) == 0:
                continue
            changed += _sweep_depth(Z, T, W, labels, arrays, paths[:, d], internal_at[d], columns, orders)
            paths = _paths(Z, arrays, max_depth, paths, from_depth=d)
            _average_nodes(arrays, paths, T, W)
        passes_run += 1
        loss = loss_of(arrays, paths)
        if loss >= best_loss - 1e-12:  # re-averaged leaves undid the gain: keep the best tree
            break
        best_loss, best = loss, arrays.copy()
        changed_total += changed
        if changed == 0:
            break
    arrays = best
    _write_back(model, state, arrays, _paths(Z, arrays, max_depth), T, W)
    return {"passes": passes_run, "nodes_changed": changed_total, "loss_before": start, "loss_after": best_loss,
            "loss": "disagreement" if classify else "squared_error"}


# -- routing ----------------------------------------------------------------------------------------

def _node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    depth = np.zeros(len(left), dtype=np.int64)
    for node in range(len(left)):  # children always come after their parent in scikit-learn's arrays
        if left[node] >= 0:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    return depth


def _step(Z: np.ndarray, rows: np.ndarray, node: np.ndarray, a: _Arrays) -> np.ndarray:
    """Move each row one level down from ``node`` (all decision nodes)."""
    x = Z[rows, a.feature[node]]
    go_left = np.where(np.isnan(x), a.missing_left[node], x <= a.threshold[node])
    return np.where(go_left, a.left[node], a.right[node])


def _paths(Z: np.ndarray, a: _Arrays, max_depth: int, paths: np.ndarray | None = None,
           from_depth: int = 0) -> np.ndarray:
    """``paths[r, d]``: the node row ``r`` is at after ``d`` steps (it stays put once in a leaf).

    Given ``paths`` whose first ``from_depth + 1`` columns still hold (no split above that depth
    changed), only the rest is recomputed, in place.
    """
    n = len(Z)
    if paths is None:
        paths = np.empty((n, max_depth + 1), dtype=np.int64)
        paths[:, 0] = 0
        from_depth = 0
    node = paths[:, from_depth].copy()
    for d in range(from_depth + 1, max_depth + 1):
        moving = np.flatnonzero(a.left[node] >= 0)
        node[moving] = _step(Z, moving, node[moving], a)
        paths[:, d] = node
    return paths


def _route_from(Z: np.ndarray, rows: np.ndarray, start: np.ndarray, a: _Arrays) -> np.ndarray:
    """The leaf each of ``rows`` reaches from its own ``start`` node."""
    node = np.asarray(start, dtype=np.int64).copy()
    moving = np.flatnonzero(a.left[node] >= 0)
    while len(moving):
        node[moving] = _step(Z, rows[moving], node[moving], a)
        moving = moving[a.left[node[moving]] >= 0]
    return node


def _row_losses(a: _Arrays, leaves: np.ndarray, rows: np.ndarray, T: np.ndarray,
                labels: np.ndarray | None) -> np.ndarray:
    if labels is not None:
        return (np.argmax(a.values[leaves], axis=1) != labels[rows]).astype(np.float64)
    return ((a.values[leaves] - T[rows]) ** 2).sum(axis=1)


# -- the node problem -----------------------------------------------------------------------------

def _sweep_depth(Z, T, W, labels, a: _Arrays, at_depth: np.ndarray, nodes: np.ndarray,
                 columns: np.ndarray, orders: list[np.ndarray]) -> int:
    """Re-solve every decision node in ``nodes`` (all at one depth) for the rows that reach it."""
    m = len(nodes)
    lookup = np.full(len(a.left), m, dtype=np.int64)
    lookup[nodes] = np.arange(m)
    code = lookup[at_depth]  # which of ``nodes`` each row is at; m = none of them
    rows = np.flatnonzero(code < m)
    tag = code[rows]
    node = nodes[tag]
    # Each row's cost through the fixed left subtree and through the fixed right one.
    cost_left = W[rows] * _row_losses(a, _route_from(Z, rows, a.left[node], a), rows, T, labels)
    cost_right = W[rows] * _row_losses(a, _route_from(Z, rows, a.right[node], a), rows, T, labels)
    delta = np.zeros(len(Z))  # per row: extra cost of sending it left rather than right
    delta[rows] = cost_left - cost_right
    x = Z[rows, a.feature[node]]
    now_left = np.where(np.isnan(x), a.missing_left[node], x <= a.threshold[node])
    current = np.bincount(tag, weights=np.where(now_left, delta[rows], 0.0), minlength=m)
    scale = np.bincount(tag, weights=np.abs(cost_left) + np.abs(cost_right), minlength=m)
    tolerance = 1e-9 * np.maximum(1.0, scale)
    # A node with fewer than two rows, or whose rows cost the same on either side, keeps its split.
    active = (np.bincount(tag, minlength=m) >= 2) & (np.bincount(tag, weights=delta[rows] != 0, minlength=m) > 0)
    if not active.any():
        return 0
    code = np.where((code < m) & active[np.minimum(code, m - 1)], code, m)
    cost, feature, threshold, missing_left = _best_splits(columns, orders, code, delta, m)
    better = active & (cost < current - tolerance)
    for i in np.flatnonzero(better):
        node = nodes[i]
        a.feature[node], a.threshold[node], a.missing_left[node] = feature[i], threshold[i], missing_left[i]
    return int(better.sum())


def _best_splits(columns: np.ndarray, orders: list[np.ndarray], code: np.ndarray, delta: np.ndarray,
                 m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``m`` nodes (rows tagged by ``code``; ``m`` = no node), the split minimising
    ``sum(delta[rows sent left])`` over every feature and threshold, both sides keeping rows with
    values; missing values go wherever they cost less (with none at the node, to the bigger side, as
    CART). Ties go to the first feature, then the smallest threshold.

    All nodes are solved at once: each feature's rows are sorted once for the whole tree (``orders``),
    and a stable sort on the node tag groups them by node with their order kept, so per node the costs
    of all thresholds are one running sum.
    """
    best_cost = np.full(m, np.inf)
    best_feature = np.zeros(m, dtype=np.int64)
    best_threshold = np.zeros(m)
    best_missing_left = np.zeros(m, dtype=bool)
    tag_type = np.uint16 if m < np.iinfo(np.uint16).max else np.int64  # small tags: numpy radix-sorts them
    for f, sorted_rows in enumerate(orders):
        tags = code[sorted_rows]
        keep = tags < m
        rows = sorted_rows[keep]
        tags = tags[keep]
        grouped = np.argsort(tags.astype(tag_type), kind="stable")
        rows, tags = rows[grouped], tags[grouped]
        x = columns[f][rows]
        d = delta[rows]
        missing = np.isnan(x)  # sorted last within each node
        missing_delta = np.bincount(tags[missing], weights=d[missing], minlength=m)
        has_missing = np.bincount(tags[missing], minlength=m) > 0
        present_count = np.bincount(tags[~missing], minlength=m)
        start = np.searchsorted(tags, np.arange(m))
        running = np.cumsum(np.where(missing, 0.0, d))
        before = np.where(start > 0, running[np.maximum(start - 1, 0)], 0.0)
        left_cost = running - before[tags]  # rows up to and including this one sent left
        nxt = np.r_[x[1:], np.nan]
        same_node = np.r_[tags[1:] == tags[:-1], False]
        valid = same_node & ~missing & (x < nxt)  # a cut between this row and the next (NaN compares False)
        cost = np.where(valid, left_cost + np.where(has_missing, np.minimum(missing_delta, 0.0), 0.0)[tags], np.inf)
        positions = np.flatnonzero(valid)
        if len(positions) == 0:
            continue
        node_min = np.full(m, np.inf)
        np.minimum.at(node_min, tags[positions], cost[positions])
        at_min = positions[cost[positions] == node_min[tags[positions]]]
        nodes_with, first = np.unique(tags[at_min], return_index=True)
        position = at_min[first]
        improved = node_min[nodes_with] < best_cost[nodes_with] - 1e-12
        nodes_with, position = nodes_with[improved], position[improved]
        low, high = x[position], x[position + 1]
        threshold = (low + high) / 2.0
        threshold = np.where(threshold >= high, low, threshold)  # adjacent floats: keep low on the left
        n_left = position - start[nodes_with] + 1
        bigger_left = n_left >= present_count[nodes_with] - n_left
        best_cost[nodes_with] = node_min[nodes_with]
        best_feature[nodes_with] = f
        best_threshold[nodes_with] = threshold
        best_missing_left[nodes_with] = np.where(has_missing[nodes_with], missing_delta[nodes_with] < 0.0, bigger_left)
    return best_cost, best_feature, best_threshold, best_missing_left


# -- node values and write-back ---------------------------------------------------------------------

def _node_stats(paths: np.ndarray, T: np.ndarray, W: np.ndarray,
                n_nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node: rows reaching it, the sum of their targets, and the sum of their squared targets."""
    counts = np.zeros(n_nodes)
    sums = np.zeros((n_nodes, T.shape[1]))
    squares = np.zeros(n_nodes)
    for d in range(paths.shape[1]):
        # A row already in a leaf repeats it at later depths: count each node once per row.
        rows = np.arange(len(T)) if d == 0 else np.flatnonzero(paths[:, d] != paths[:, d - 1])
        node = paths[rows, d]
        w = W[rows]
        counts += np.bincount(node, weights=w, minlength=n_nodes)
        for j in range(T.shape[1]):
            sums[:, j] += np.bincount(node, weights=w * T[rows, j], minlength=n_nodes)
        squares += np.bincount(node, weights=w * (T[rows] ** 2).sum(axis=1), minlength=n_nodes)
    return counts, sums, squares


def _average_nodes(a: _Arrays, paths: np.ndarray, T: np.ndarray, W: np.ndarray) -> None:
    """Leaves take the mean target of their rows (the losses read leaves only; every node's mean is
    recomputed when the tree is written back)."""
    leaves = paths[:, -1]
    n_nodes = len(a.left)
    counts = np.bincount(leaves, weights=W, minlength=n_nodes)
    reached = counts > 0
    for j in range(T.shape[1]):
        sums = np.bincount(leaves, weights=W * T[:, j], minlength=n_nodes)
        a.values[reached, j] = sums[reached] / counts[reached]


def _write_back(model, state: dict, a: _Arrays, paths: np.ndarray, T: np.ndarray, W: np.ndarray) -> None:
    counts, sums, squares = _node_stats(paths, T, W, len(a.left))
    n_rows = _node_stats(paths, T[:, :0], np.ones(len(T)), len(a.left))[0]
    reached = counts > 0
    values = a.values.copy()  # a node no row reaches keeps what it had
    values[reached] = sums[reached] / counts[reached, None]
    nodes = state["nodes"].copy()
    decision = a.left >= 0
    nodes["feature"] = np.where(decision, a.feature, nodes["feature"])
    nodes["threshold"] = np.where(decision, a.threshold, nodes["threshold"])
    nodes["missing_go_to_left"] = a.missing_left.astype(nodes["missing_go_to_left"].dtype)
    nodes["n_node_samples"] = n_rows.astype(nodes["n_node_samples"].dtype)
    nodes["weighted_n_node_samples"] = counts
    # CART's squared-error impurity: the mean over outputs of each output's variance in the node.
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = squares / counts - (values ** 2).sum(axis=1)
    nodes["impurity"] = np.where(reached, np.maximum(variance, 0.0) / T.shape[1], 0.0)
    new_state = dict(state)
    new_state["nodes"] = nodes
    new_state["values"] = values[:, :, None].astype(state["values"].dtype)
    model.tree_.__setstate__(new_state)
