"""The schema of the real rows: what every stage after reading relies on.

Which columns are categorical (and their categories), which numeric columns hold integers, and each
numeric column's observed range. Generators produce rows through :meth:`Schema.conform`, so synthetic
rows always respect it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class ColumnSpec:
    """What one feature column looks like in the real data."""

    name: str
    kind: str  # "categorical", "integer" or "float"
    dtype: str  # the pandas dtype to restore on generated rows
    categories: list[Any] = field(default_factory=list)  # categorical only: seen values, sorted
    minimum: float | None = None  # numeric only: observed finite range
    maximum: float | None = None
    has_missing: bool = False

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"

    def codes(self, values: pd.Series) -> np.ndarray:
        """Categorical column → int64 codes in ``categories`` order; a missing (or unseen) cell gets
        one code past the last category."""
        codes = pd.Categorical(values, categories=self.categories).codes.astype(np.int64)
        codes[codes < 0] = len(self.categories)
        return codes

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "dtype": self.dtype,
                               "has_missing": self.has_missing}
        if self.is_categorical:
            out["n_categories"] = len(self.categories)
        else:
            out["min"], out["max"] = self.minimum, self.maximum
        return out


def _sorted_values(values: pd.Series) -> list[Any]:
    unique = pd.unique(values.dropna())
    try:
        return sorted(unique.tolist())
    except TypeError:  # mixed types: keep them apart by type name, then value
        return sorted(unique.tolist(), key=lambda v: (type(v).__name__, str(v)))


@dataclass
class Schema:
    columns: list[ColumnSpec]

    @classmethod
    def infer(cls, X: pd.DataFrame, categorical: set[str] | frozenset[str] = frozenset()) -> "Schema":
        specs = []
        for name in X.columns:
            col = X[name]
            dtype = str(col.dtype)
            has_missing = bool(col.isna().any())
            text_like = (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
                         or pd.api.types.is_bool_dtype(col) or isinstance(col.dtype, pd.CategoricalDtype))
            if name in categorical or text_like:
                specs.append(ColumnSpec(name, "categorical", dtype, categories=_sorted_values(col),
                                        has_missing=has_missing))
                continue
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            finite = values[np.isfinite(values)]
            integral = pd.api.types.is_integer_dtype(col) or (
                finite.size > 0 and bool(np.all(finite == np.round(finite))))
            specs.append(ColumnSpec(
                name, "integer" if integral else "float", dtype,
                minimum=float(finite.min()) if finite.size else None,
                maximum=float(finite.max()) if finite.size else None,
                has_missing=has_missing,
            ))
        return cls(specs)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def categorical(self) -> list[str]:
        return [c.name for c in self.columns if c.is_categorical]

    @property
    def numeric(self) -> list[str]:
        return [c.name for c in self.columns if not c.is_categorical]

    def __getitem__(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Bring generated rows inside the schema: seen categories only, integers stay integers,
        numbers within the observed range, the real data's dtypes, the real data's column order."""
        out = {}
        for spec in self.columns:
            col = frame[spec.name].reset_index(drop=True)  # whatever the generator's index was
            if spec.is_categorical:
                seen = col.where(col.isin(spec.categories))
                if not spec.has_missing and seen.isna().any():
                    # An unseen value can only come from a buggy generator; replace it by the mode of
                    # the rest rather than invent a category.
                    fill = seen.mode().iloc[0] if seen.notna().any() else spec.categories[0]
                    seen = seen.fillna(fill)
                out[spec.name] = _restore_dtype(seen, spec.dtype)
                continue
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
            if spec.minimum is not None:
                values = np.clip(values, spec.minimum, spec.maximum)
            if spec.kind == "integer":
                values = np.round(values)
            out[spec.name] = _restore_dtype(pd.Series(values), spec.dtype)
        return pd.DataFrame(out, columns=self.names).reset_index(drop=True)

    def to_dict(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.columns]


def _restore_dtype(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == "bool" and series.isna().any():
        return series.astype(object)
    if dtype.startswith(("int", "uint")) and series.isna().any():
        return series.astype("float64")
    if dtype == "category":
        return series.astype("category")
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series
