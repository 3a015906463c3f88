"""The generator contract: fit on real rows with their schema, then sample n rows.

Following imbalanced-learn's layout, the public methods here validate input and shape output once;
a concrete generator writes only ``_fit`` and ``_sample``, and :meth:`Generator.from_settings` (how a
run's settings become its parameters). What a run must know about a generator — whether it trains
with torch, takes a time limit, is worth caching, needs the teacher — are traits on its class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import is_dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import pandas as pd

from tabcompress.config import check_parameters
from tabcompress.data import fresh_index
from tabcompress.schema import Schema

if TYPE_CHECKING:
    from tabcompress.config import Settings

# Called as progress(done, total) while a generator trains, e.g. once per epoch.
ProgressCallback = Callable[[int, int], None]


class Generator(ABC):
    """Base class of synthetic-row generators."""

    #: name used by ``--generator`` (tabcompress/generators/registry.py)
    name: str = ""
    #: trains a torch model for epochs: the run resolves ``--device`` and reports its training
    trains: bool = False
    #: takes a ``time_limit``, so a time budget can plan its training
    takes_time_limit: bool = False
    #: its fit costs enough to be worth a generator-cache entry (tabcompress/generators/cache.py)
    cache_worthy: bool = False
    #: samples the teacher's own trees: built with ``teacher=``
    needs_teacher: bool = False
    #: what :meth:`training_facts` reports, as (key, attribute) pairs, for a generator that trains
    training_attributes: tuple[tuple[str, str], ...] = (
        ("epochs", "epochs"), ("epochs_run", "epochs_run_"), ("stop_reason", "stop_reason_"),
        ("time_limit", "time_limit"), ("batch_size", "batch_size"), ("device", "device"))

    @classmethod
    def from_settings(cls, settings: "Settings", *, device: str = "cpu", teacher: Any = None,
                      time_limit: float | None = None) -> "Generator":
        """A new generator with a run's settings: ``device`` is the run's resolved torch device,
        ``teacher`` the run's teacher and ``time_limit`` the seconds its fit may take (generators that do
        not train, need no teacher or take no time limit ignore them)."""
        return cls()

    @property
    def parts(self) -> list["Generator"]:
        """The generators whose rows this one samples: itself, or a mixture's parts."""
        return [self]

    def preload(self) -> None:
        """Import the libraries :meth:`fit` needs (nothing, for most generators). A time budget's plan is
        made after this, so the imports' seconds are not taken out of the generator's time limit."""

    def training_facts(self) -> dict[str, Any]:
        """For a generator that trains: epochs asked and run, why training stopped, and its settings."""
        if not self.trains:
            return {}
        return {key: getattr(self, attr) for key, attr in self.training_attributes
                if getattr(self, attr, None) is not None}

    def check_parameters(self) -> None:
        """Raise :class:`~tabcompress.errors.SettingError` naming the first parameter with a value it
        cannot take (:meth:`fit` calls it first). Generators are dataclasses whose fields declare their
        constraints (:func:`tabcompress.config.parameter`)."""
        if is_dataclass(self):
            check_parameters(self)

    def fit(self, X: pd.DataFrame, schema: Schema, *, random_state: int | None = None,
            progress: ProgressCallback | None = None) -> "Generator":
        self.check_parameters()
        if list(X.columns) != schema.names:
            raise ValueError("X's columns must be the schema's columns, in order")
        if len(X) == 0:
            raise ValueError("cannot fit a generator on zero rows")
        self.schema_ = schema
        # A generator with a ``max_rows`` parameter learns from a random subsample of at most that many rows.
        X = fresh_index(self._subsample(X, getattr(self, "max_rows", None), random_state))
        self.n_fit_rows_ = len(X)  # ``_fit`` may say otherwise: the teacher's trees learn from no row
        self._fit(X, random_state, progress)
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
        """Learn from ``X`` (already validated against ``self.schema_``). ``X`` may share its cells with
        the caller's rows (a run does not copy millions of them): read it, never write into it."""

    @abstractmethod
    def _sample(self, n: int, random_state: int | None) -> pd.DataFrame:
        """Return exactly ``n`` rows with the schema's columns; :meth:`sample` conforms them."""


def constant_columns(X: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """Columns of ``X`` holding one value (missing counts as a value), by name, with that value: a
    model has nothing to learn there, and sampling repeats the value."""
    return {spec.name: X[spec.name].iloc[0] for spec in schema.columns
            if X[spec.name].nunique(dropna=False) <= 1}


def varying_columns(X: pd.DataFrame, schema: Schema, constants: dict[str, Any]) -> Iterator[tuple[Any, np.ndarray]]:
    """Each column of ``X`` not in ``constants``, as ``(spec, values)``: a categorical column's codes
    (missing → one code past the last category), else its numbers (NaN where missing). Numbers may be a
    view of ``X``'s own cells, which are the caller's rows: never write into them."""
    for spec in schema.columns:
        if spec.name in constants:
            continue
        col = X[spec.name]
        yield spec, spec.codes(col) if spec.is_categorical else col.to_numpy(dtype=np.float64, na_value=np.nan)
