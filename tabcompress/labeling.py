"""Labelling: ask the teacher about rows, in chunks so memory stays flat however many are asked for."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabcompress.teachers import Teacher

DEFAULT_CHUNK_ROWS = 50_000


def label_rows(teacher: Teacher, X: pd.DataFrame, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> np.ndarray:
    """The teacher's soft targets for ``X``: probabilities ``(n, n_classes)`` for a classifier,
    values ``(n,)`` for a regressor. One teacher call per chunk of ``chunk_rows`` rows."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    n = len(X)
    shape = (n, len(teacher.classes_)) if teacher.is_classifier else (n,)
    out = np.empty(shape, dtype=np.float64)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        out[start:stop] = teacher.soft_targets(X.iloc[start:stop])
    return out
