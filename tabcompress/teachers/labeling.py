"""Labelling: ask the teacher about rows, in chunks so memory stays flat however many are asked for."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tabcompress.errors import InputError
from tabcompress.teachers.base import Teacher, describe_source

if TYPE_CHECKING:
    from tabcompress.cluster import Cluster

DEFAULT_CHUNK_ROWS = 50_000


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def label_rows(teacher: Teacher, X: pd.DataFrame, *, chunk_rows: int = DEFAULT_CHUNK_ROWS,
               workers: int | None = None, cluster: Cluster | None = None) -> np.ndarray:
    """The teacher's soft targets for ``X``: probabilities ``(n, n_classes)`` for a classifier,
    values ``(n,)`` for a regressor.

    Rows go to the teacher in chunks of at most ``chunk_rows``, ``workers`` chunks at a time (default:
    one per available core), so memory stays flat however many rows are asked for. Each row's answer
    does not depend on the chunking or on thread timing (see :meth:`Teacher.reproducible`), so with a
    ``cluster`` (:class:`tabcompress.cluster.Cluster`), whose workers answer the chunks instead, the
    answers are the same.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    n = len(X)
    if cluster is not None:
        return _check_finite(teacher, cluster.label(teacher, X, chunk_rows=chunk_rows))
    workers = workers or _available_cores()
    step = max(1, min(chunk_rows, -(-n // workers)))
    starts = range(0, n, step)
    out = np.empty((n, len(teacher.classes_)) if teacher.is_classifier else (n,), dtype=np.float64)

    def label(start: int) -> None:
        stop = min(start + step, n)
        out[start:stop] = teacher.soft_targets(X.iloc[start:stop])

    with teacher.reproducible():
        if workers == 1 or len(starts) <= 1:
            for start in starts:
                label(start)
        else:
            # Tree ensembles release the GIL while they predict: threads share the cores.
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(label, starts))
    return _check_finite(teacher, out)


def _check_finite(teacher: Teacher, out: np.ndarray) -> np.ndarray:
    n = len(out)
    # A student cannot learn from NaN or infinity (a model with NaN leaves, a broken custom model); said
    # here, once for all the rows, rather than as whatever the student's library raises.
    finite = np.isfinite(out) if out.ndim == 1 else np.isfinite(out).all(axis=1)
    if not finite.all():
        answers = "probabilities" if teacher.is_classifier else "values"
        raise InputError(f"{describe_source(teacher.source)}: the teacher answered NaN or infinity for "
                         f"{int((~finite).sum()):,} of {n:,} rows; a student needs finite {answers}")
    return out
