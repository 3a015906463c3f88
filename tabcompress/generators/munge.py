"""MUNGE pseudo-data (Bucilă, Caruana & Niculescu-Mizil, "Model compression", KDD 2006).

Each synthetic row starts from a real row ``a`` and its nearest real neighbour ``b`` (Euclidean
distance on standardised numeric columns; two different categories are at distance 1). Then, column by
column and with probability ``p``:

* a categorical column takes ``b``'s value;
* a numeric column is drawn from a normal centred on ``b``'s value with sd = |a − b| / s.

Other columns keep ``a``'s value. One pass over the real rows gives as many synthetic rows; passes are
repeated (with fresh draws) until ``n`` rows are made. The paper's procedure also alters the neighbour
in place while it walks the rows, which makes a pass sequential; here each row is altered towards its
neighbour from the original rows, so a pass is one vectorised step. A missing cell on either side is
treated like a category: it is swapped, not averaged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tabcompress.config import Number, Whole, parameter
from tabcompress.generators.base import Generator, ProgressCallback


@dataclass(eq=False)
class MUNGEGenerator(Generator):
    """Nearest-neighbour perturbation of the real rows.

    Parameters
    ----------
    p : probability that a column of a row is altered towards the neighbour (paper: 0.5).
    s : local variance parameter; the numeric sd is |a − b| / s (paper: 1).
    max_rows : find neighbours within a random subsample of at most this many rows (None: all rows).
    """

    name = "munge"

    p: float = parameter(0.5, Number(0.0, 1.0))
    s: float = parameter(1.0, Number(0.0, open_low=True))
    max_rows: int | None = parameter(None, Whole(1, none=True))

    @classmethod
    def from_settings(cls, settings, *, device="cpu", teacher=None, time_limit=None) -> "MUNGEGenerator":
        return cls(max_rows=settings.generator.fit_rows)

    def _fit(self, X: pd.DataFrame, random_state: int | None, progress: ProgressCallback | None) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.rows_ = X
        if len(X) == 1:
            self.neighbour_ = np.zeros(1, dtype=np.int64)
            return
        nn = NearestNeighbors(n_neighbors=2).fit(Z := self._distance_space(X))
        idx = nn.kneighbors(Z, return_distance=False)
        own = np.arange(len(X))
        # With duplicate rows the first hit may be a twin rather than the row itself: take the first
        # hit that is not the row.
        self.neighbour_ = np.where(idx[:, 0] != own, idx[:, 0], idx[:, 1]).astype(np.int64)
        if progress is not None:
            progress(1, 1)

    def _distance_space(self, X: pd.DataFrame) -> np.ndarray:
        parts = []
        for spec in self.schema_.columns:
            col = X[spec.name]
            if spec.is_categorical:
                codes = pd.Categorical(col, categories=spec.categories).codes
                onehot = np.zeros((len(X), len(spec.categories) + 1))
                onehot[np.arange(len(X)), codes] = np.sqrt(0.5)  # code -1 (missing) lands in the last column
                parts.append(onehot)
            else:
                values = col.to_numpy(dtype=np.float64, na_value=np.nan)
                mean, sd = np.nanmean(values) if (~np.isnan(values)).any() else 0.0, np.nanstd(values)
                z = (values - mean) / (sd if sd > 0 else 1.0)
                parts.append(np.nan_to_num(z, nan=0.0)[:, None])
        return np.hstack(parts)

    def _sample(self, n: int, random_state: int | None) -> pd.DataFrame:
        rng = np.random.default_rng(random_state)
        n_real = len(self.rows_)
        passes = -(-n // n_real)
        rows = np.concatenate([rng.permutation(n_real) for _ in range(passes)])[:n]
        neighbours = self.neighbour_[rows]
        out = {}
        for spec in self.schema_.columns:
            values = self.rows_[spec.name].to_numpy()
            a, b = values[rows], values[neighbours]
            altered = rng.random(n) < self.p
            if spec.is_categorical:
                out[spec.name] = np.where(altered, b, a)
                continue
            a, b = a.astype(np.float64), b.astype(np.float64)
            missing = np.isnan(a) | np.isnan(b)
            sd = np.where(missing, 0.0, np.abs(a - b) / self.s)
            drawn = np.where(missing, b, rng.normal(np.nan_to_num(b), sd))
            out[spec.name] = np.where(altered, drawn, a)
        return pd.DataFrame(out, columns=self.schema_.names)
