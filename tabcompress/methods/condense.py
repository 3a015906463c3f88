"""Condense a labelled table into a few prototype rows per class (after Binici et al. 2024).

The prototypes are small enough to share where the real rows cannot be (a CSV of K rows per class),
and :mod:`tabcompress.methods.fewshot` grows synthetic rows around them that the teacher labels.

Rows are compared in an encoded space that matches MUNGE's distance: numeric columns standardised
(missing cells imputed with the mean, i.e. 0 after standardising), categorical columns one-hot with
each one scaled by sqrt(0.5), so two different categories are at distance 1 like one standard
deviation of a number. Per class (per quantile bin of the target for regression):

* ``method="kmeans"``: K clusters; each prototype is its cluster's centre decoded to raw columns —
  the numeric mean (rounded for integer columns, inside the column's range), the most frequent
  category, and a missing cell where most of the cluster's rows are missing.
* ``method="herding"``: greedy mean matching (kernel herding with a linear kernel): real rows are
  picked one at a time so that the mean of those picked stays as close as possible to the class mean.
  The prototypes are real rows.

A class with at most K rows gives all its rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from tabcompress.config import OneOf, Whole, check
from tabcompress.errors import InputError, SettingError
from tabcompress.schema import Schema

METHODS = ("kmeans", "herding")
TASKS = ("classification", "regression")
DEFAULT_BINS = 10
# k-means restarts: a few are enough at the sizes condensation sees, and keep it quick on big classes.
KMEANS_INIT = 3
# Rows per class that k-means and herding look at; a larger class is subsampled (at random, per seed)
# so condensing a million-row file stays a matter of seconds.
MAX_ROWS_PER_GROUP = 20_000


def encode_rows(X: pd.DataFrame, schema: Schema, *, means: np.ndarray | None = None,
                scales: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows as the float matrix distances are measured in, with the numeric means and scales used.

    Numeric columns come first (standardised, missing → 0), then one block per categorical column
    (one-hot × sqrt(0.5), with one extra slot for a missing or unseen value).
    """
    numeric = schema.numeric
    values = X[numeric].to_numpy(dtype=np.float64, na_value=np.nan) if numeric else np.empty((len(X), 0))
    if means is None or scales is None:
        seen = ~np.isnan(values)
        n_seen = np.maximum(seen.sum(axis=0), 1)
        means = np.where(seen, values, 0.0).sum(axis=0) / n_seen
        sd = np.sqrt(np.where(seen, (values - means) ** 2, 0.0).sum(axis=0) / n_seen)
        scales = np.where(sd > 0, sd, 1.0)
    z = np.nan_to_num((values - means) / scales, nan=0.0)
    parts = [z]
    for name in schema.categorical:
        spec = schema[name]
        codes = spec.codes(X[name])
        onehot = np.zeros((len(X), len(spec.categories) + 1))
        onehot[np.arange(len(X)), codes] = np.sqrt(0.5)
        parts.append(onehot)
    return np.hstack(parts), means, scales


def _check_options(per_class: int, task: str | None, method: str, seed: int, n_bins: int) -> None:
    for name, value, constraint in (("per_class", per_class, Whole(1)), ("task", task, OneOf(TASKS, none=True)),
                                    ("method", method, OneOf(METHODS)), ("bins", n_bins, Whole(1)),
                                    ("seed", seed, Whole(0, 2**32 - 1))):
        check(name, value, constraint)


def _check(X: pd.DataFrame, y: pd.Series, per_class: int, schema: Schema, task: str, method: str, seed: int,
           n_bins: int) -> None:
    check("task", task, OneOf(TASKS))
    _check_options(per_class, task, method, seed, n_bins)
    if len(X) != len(y):
        raise InputError(f"the features have {len(X)} rows but the target has {len(y)}")
    missing = [c for c in schema.names if c not in X.columns]
    if missing:
        raise InputError(f"data: missing column(s) the schema names: {', '.join(missing[:20])}")
    if len(X) == 0:
        raise InputError("data: no rows to condense")


def _groups(y: pd.Series, task: str, n_bins: int) -> list[np.ndarray]:
    """Row indices of each class (in sorted class order) or of each quantile bin of the target."""
    if task == "classification":
        codes, uniques = pd.factorize(y, sort=True)
        return [np.flatnonzero(codes == k) for k in range(len(uniques))]
    target = pd.to_numeric(y, errors="coerce").to_numpy(dtype=np.float64)
    known = np.isfinite(target)
    if not known.any():
        raise InputError("target: no numeric values to bin for regression")
    edges = np.unique(np.quantile(target[known], np.linspace(0.0, 1.0, n_bins + 1)))
    # Interior edges only: a tie-heavy target gives fewer, wider bins instead of empty ones.
    bins = np.searchsorted(edges[1:-1], target, side="right")
    return [idx for b in range(len(edges) - 1) if len(idx := np.flatnonzero(known & (bins == b)))]


def _kmeans(Z: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Cluster labels, clusters numbered by decreasing size (ties: by first row) so output order is stable."""
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=k, n_init=KMEANS_INIT, random_state=seed).fit(Z).labels_
    sizes = np.bincount(labels, minlength=k)
    first = np.array([np.flatnonzero(labels == c)[0] if sizes[c] else len(Z) for c in range(k)])
    order = np.lexsort((first, -sizes))
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    return rank[labels]


def _herding(Z: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` rows picked greedily so the running mean of the picks tracks the mean of ``Z``."""
    mu = Z.mean(axis=0)
    total = np.zeros(Z.shape[1])
    picked: list[int] = []
    available = np.ones(len(Z), dtype=bool)
    for t in range(1, k + 1):
        # ||mu - (total + z) / t||² for every candidate z at once.
        gap = ((mu * t - total)[None, :] - Z)
        score = np.einsum("ij,ij->i", gap, gap)
        score[~available] = np.inf
        best = int(np.argmin(score))
        picked.append(best)
        available[best] = False
        total += Z[best]
    return np.asarray(picked, dtype=np.int64)


def _decode_clusters(X: pd.DataFrame, labels: np.ndarray, k: int, schema: Schema) -> pd.DataFrame:
    """One raw row per cluster: numeric mean (missing where most rows are), categorical mode."""
    out: dict[str, np.ndarray] = {}
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    for spec in schema.columns:
        col = X[spec.name]
        if spec.is_categorical:
            codes = spec.codes(col)  # missing → len(categories): a missing cell competes as a value
            table = np.zeros((k, len(spec.categories) + 1))
            np.add.at(table, (labels, codes), 1.0)
            best = table.argmax(axis=1)
            lookup = np.array(list(spec.categories) + [None], dtype=object)
            out[spec.name] = lookup[best]
            continue
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        seen = ~np.isnan(values)
        sums = np.bincount(labels, weights=np.where(seen, values, 0.0), minlength=k)
        n_seen = np.bincount(labels, weights=seen.astype(np.float64), minlength=k)
        with np.errstate(all="ignore"):
            mean = sums / n_seen
        mean[n_seen * 2 < counts] = np.nan  # missing in most of the cluster's rows
        out[spec.name] = mean
    return pd.DataFrame(out, columns=schema.names)


def condense(X: pd.DataFrame, y: pd.Series, *, per_class: int, schema: Schema, task: str = "classification",
             method: str = "kmeans", n_bins: int = DEFAULT_BINS, seed: int = 0) -> pd.DataFrame:
    """At most ``per_class`` prototype rows per class (or per quantile bin of a regression target).

    Returns the schema's columns plus the target column (named ``y.name``, else ``"target"``): the class
    for classification; for regression the mean target of the prototype's cluster (k-means) or the
    picked row's target (herding). Rows come class by class (sorted classes, or bins from low to high),
    largest cluster first. Deterministic for a ``seed``.
    """
    _check(X, y, per_class, schema, task, method, seed, n_bins)
    X = X[schema.names].reset_index(drop=True)
    y = y.reset_index(drop=True)
    target_name = str(y.name) if y.name is not None else "target"
    if target_name in schema.names:
        raise InputError(f"target column {target_name!r} is also a feature column")
    Z, _, _ = encode_rows(X, schema)
    rng = np.random.default_rng(seed)
    numeric_target = pd.to_numeric(y, errors="coerce").to_numpy(dtype=np.float64) if task == "regression" else None

    pieces: list[pd.DataFrame] = []
    targets: list[np.ndarray] = []

    def real_rows(chosen: np.ndarray) -> None:
        pieces.append(X.iloc[chosen])
        targets.append(numeric_target[chosen] if task == "regression" else y.to_numpy(dtype=object)[chosen])

    for idx in _groups(y, task, n_bins):
        if len(idx) > MAX_ROWS_PER_GROUP:
            idx = np.sort(rng.choice(idx, size=MAX_ROWS_PER_GROUP, replace=False))
        label = y.iloc[idx[0]]
        if len(idx) <= per_class:
            real_rows(idx)
            continue
        if method == "herding":
            real_rows(idx[_herding(Z[idx], per_class)])
            continue
        # k-means on the group; several identical rows can leave fewer distinct points than K.
        k = min(per_class, len(np.unique(Z[idx], axis=0)))
        labels = _kmeans(Z[idx], k, seed)
        pieces.append(_decode_clusters(X.iloc[idx].reset_index(drop=True), labels, k, schema))
        if task == "regression":
            counts = np.bincount(labels, minlength=k)
            targets.append(np.bincount(labels, weights=numeric_target[idx], minlength=k) / counts)
        else:
            targets.append(np.repeat(np.asarray([label], dtype=object), k))

    rows = schema.conform(pd.concat(pieces, ignore_index=True))
    target = np.concatenate(targets)
    if task == "classification":
        rows[target_name] = pd.Series(target).astype(y.dtype) if y.notna().all() else target
    else:
        rows[target_name] = target.astype(np.float64)
    return rows


def condense_file(data: str | Path, out: str | Path, *, per_class: int, target: str = "target",
                  method: str = "kmeans", task: str | None = None, n_bins: int = DEFAULT_BINS,
                  categorical: Sequence[str] = (), seed: int = 0) -> dict[str, Any]:
    """What ``tabcompress condense`` runs: read ``data``, condense it, write the prototypes to ``out``
    (atomically). ``task`` None guesses it from the target: text, or at most 50 distinct whole numbers, is
    a classification target. Returns the rows written, the task and the number of classes or bins."""
    from tabcompress.data import read_csv
    from tabcompress.export import check_out_file, write_file_atomic

    _check_options(per_class, task, method, seed, n_bins)  # the options, then --out, before the work
    check_out_file(out, "out")
    frame = read_csv(data)
    if target not in frame.columns:
        raise SettingError("target", f"{target}: no such column in {data}")
    y = frame[target]
    if y.isna().any():
        raise InputError(f"data file {data}: target column {target!r} has {int(y.isna().sum())} empty cell(s)")
    X = frame.drop(columns=target)
    unknown = [c for c in categorical if c not in X.columns]
    if unknown:
        raise SettingError("categorical", f"names no feature column: {', '.join(map(repr, unknown))}")
    if task is None:
        numbers = pd.to_numeric(y, errors="coerce")
        whole = numbers.notna().all() and bool(np.allclose(numbers, np.round(numbers)))
        task = "classification" if not numbers.notna().all() or (whole and y.nunique() <= 50) else "regression"
    check("task", task, OneOf(TASKS))
    schema = Schema.infer(X, categorical=set(categorical))
    prototypes = condense(X, y, per_class=per_class, schema=schema, task=task, method=method, n_bins=n_bins,
                          seed=seed)
    write_file_atomic(out, lambda tmp: prototypes.to_csv(tmp, index=False))
    groups = int(y.nunique()) if task == "classification" else int(min(n_bins, y.nunique()))
    return {"rows": int(len(prototypes)), "task": task, "groups": groups, "path": str(out)}
