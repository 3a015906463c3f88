"""A mixture of generators: each part fits on the same rows and contributes a share of the samples.

Different generators fail differently — MUNGE stays close to the real rows, CTGAN and the copula
reach further — so a student that can use breadth (an MLP) may gain from a mix. ``--generator
munge+ctgan`` builds one with equal shares.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from tabcompress.generators.base import Generator, ProgressCallback


class MixtureGenerator(Generator):
    """Samples ``shares[i]`` of the rows from ``parts[i]`` (shares are normalised), shuffled together.

    Parameters
    ----------
    parts : unfitted generators; each is fitted on all the rows given to :meth:`fit`.
    shares : relative share of each part in a sample (default: equal).
    """

    def __init__(self, parts: Sequence[Generator], shares: Sequence[float] | None = None):
        if not parts:
            raise ValueError("a mixture needs at least one generator")
        shares = [1.0] * len(parts) if shares is None else [float(s) for s in shares]
        if len(shares) != len(parts) or any(not s > 0 for s in shares):
            raise ValueError("a mixture needs one positive share per generator")
        self._parts = list(parts)
        self.shares = shares

    @property
    def parts(self) -> list[Generator]:
        return self._parts

    @classmethod
    def from_fitted(cls, parts: Sequence[Generator], shares: Sequence[float] | None, schema) -> "MixtureGenerator":
        """A mixture of parts that are already fitted on the same rows (e.g. loaded from the cache)."""
        mixture = cls(parts, shares)
        if any(not hasattr(p, "schema_") for p in parts):
            raise ValueError("every part must be fitted")
        mixture.schema_ = schema
        mixture.n_fit_rows_ = max(p.n_fit_rows_ for p in parts)
        return mixture

    @property
    def name(self) -> str:  # type: ignore[override]
        return "+".join(p.name for p in self.parts)

    def _fit(self, X: pd.DataFrame, random_state: int | None, progress: ProgressCallback | None) -> None:
        for part in self.parts:
            part.fit(X, self.schema_, random_state=random_state, progress=progress)
        self.n_fit_rows_ = max(part.n_fit_rows_ for part in self.parts)

    def counts(self, n: int) -> np.ndarray:
        """Rows each part contributes to a sample of ``n`` (largest remainders, so they sum to n)."""
        exact = n * np.asarray(self.shares) / sum(self.shares)
        counts = np.floor(exact).astype(np.int64)
        short = n - int(counts.sum())
        counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
        return counts

    def _sample(self, n: int, random_state: int | None) -> pd.DataFrame:
        rng = np.random.default_rng(random_state)
        seeds = rng.integers(0, 2**31 - 1, size=len(self.parts))
        frames = [part.sample(int(k), random_state=int(s))
                  for part, k, s in zip(self.parts, self.counts(n), seeds) if k > 0]
        rows = pd.concat(frames, ignore_index=True)
        # shuffled, so that any prefix of the sample (a selection round's plain share) holds every part
        return rows.iloc[rng.permutation(len(rows))].reset_index(drop=True)
