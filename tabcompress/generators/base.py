"""The generator contract: fit on real rows with their schema, then sample n rows.

Following imbalanced-learn's layout, the public methods here validate input and shape output once;
a concrete generator writes only ``_fit`` and ``_sample``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable

import numpy as np
import pandas as pd

from tabcompress.schema import Schema

# Called as progress(done, total) while a generator trains, e.g. once per epoch.
ProgressCallback = Callable[[int, int], None]


class Generator(ABC):
    """Base class of synthetic-row generators."""

    #: name used by ``--generator``
    name: str = ""

    def fit(self, X: pd.DataFrame, schema: Schema, *, random_state: int | None = None,
            progress: ProgressCallback | None = None) -> "Generator":
        if list(X.columns) != schema.names:
            raise ValueError("X's columns must be the schema's columns, in order")
        if len(X) == 0:
            raise ValueError("cannot fit a generator on zero rows")
        self.schema_ = schema
        self._fit(X.reset_index(drop=True), random_state, progress)
        self.n_fit_rows_ = getattr(self, "n_fit_rows_", len(X))
        return self

    def sample(self, n: int, *, random_state: int | None = None) -> pd.DataFrame:
        """``n`` new rows in the schema's columns and dtypes, inside its categories and ranges."""
        if not hasattr(self, "schema_"):
            raise RuntimeError(f"{type(self).__name__} must be fitted before sampling")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return self.schema_.conform(pd.DataFrame({c: pd.Series(dtype=float) for c in self.schema_.names}))
        rows = self._sample(int(n), random_state)
        if len(rows) != n:
            raise RuntimeError(f"{type(self).__name__} returned {len(rows)} rows, {n} were asked for")
        return self.schema_.conform(rows)

    @staticmethod
    def _subsample(X: pd.DataFrame, max_rows: int | None, random_state: int | None) -> pd.DataFrame:
        """At most ``max_rows`` of ``X``'s rows, drawn at random without replacement, in their order."""
        if max_rows is None or len(X) <= max_rows:
            return X
        rng = np.random.default_rng(random_state)
        return X.iloc[np.sort(rng.choice(len(X), size=max_rows, replace=False))].reset_index(drop=True)

    @abstractmethod
    def _fit(self, X: pd.DataFrame, random_state: int | None, progress: ProgressCallback | None) -> None:
        """Learn from ``X`` (already validated against ``self.schema_``)."""

    @abstractmethod
    def _sample(self, n: int, random_state: int | None) -> pd.DataFrame:
        """Return exactly ``n`` rows with the schema's columns; :meth:`sample` conforms them."""


def constant_columns(X: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """Columns of ``X`` holding one value (missing counts as a value), by name, with that value: a
    model has nothing to learn there, and sampling repeats the value."""
    return {spec.name: X[spec.name].iloc[0] for spec in schema.columns
            if X[spec.name].nunique(dropna=False) <= 1}
