"""A Gaussian copula over the columns' empirical marginals.

By Sklar's theorem a joint distribution splits into its marginals and a copula that ties them
together. This generator keeps every column's observed marginal as it is and ties the columns with a
Gaussian copula: each column is mapped through its empirical CDF to a uniform, then through the normal
quantile function to a normal score; new rows are drawn from a multivariate normal and mapped back
through the normal CDF and each column's empirical quantile function. This is the idea behind the
Gaussian-copula model of the Synthetic Data Vault (Patki, Wedge & Veeramachaneni, "The Synthetic Data
Vault", IEEE DSAA 2016); the code here is our own.

The correlation of the normal scores is estimated from ranks: the Spearman correlation ``r`` of two
columns becomes ``2 sin(pi r / 6)``, the normal correlation whose Gaussian copula has Spearman
correlation ``r`` (the rank-based estimator of Liu et al., "High-dimensional semiparametric Gaussian
copula graphical models", Annals of Statistics 2012). Sampled rows then keep the real pairwise Spearman
correlations; a Pearson correlation of the normal scores would not, for columns with many ties or a
non-Gaussian dependence.

How each kind of column is turned into a uniform (and so a normal score):

* numeric: mid-ranks among its observed values → uniform (ties share one). The inverse is the empirical
  quantile function, interpolated between neighbouring observed values, so sampled values stay in the
  observed range and ties (a spike at 0, say) come back with their frequency; ``Schema.conform`` then
  rounds integer columns.
* categorical: each category (missing cells count as one more category when there are any) owns an
  interval of [0, 1] as wide as its frequency; a row is a uniform draw inside its category's interval.
  Decoding looks up the interval the sampled uniform falls in (so the category frequencies are kept;
  the dependence of a category on other columns is only what the interval order makes monotone).
* a numeric column with missing cells also gets a hidden binary "is missing" column, encoded like a
  two-category column; when it says missing, the sampled cell is NaN. A missing cell is left out of
  the correlation estimate (pairwise-complete estimation) instead of being imputed, which would dilute
  the column's correlations by the missing fraction.
* constant and all-missing columns stay out of the copula and are restored as they were.

What it captures: every marginal (up to sampling noise and interpolation between observed values) and
the pairwise rank dependence between columns, including between a value and whether another column is
missing. What it misses: anything a single correlation matrix cannot express — non-monotone
dependence, multi-modal joint structure (clusters), tail dependence, interactions among three or more
columns, and category-to-column dependence that the (arbitrary, sorted) interval order does not make
monotone; a rule such as "x = -1 exactly when c = 'unknown'" comes out blurred.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr
from scipy.stats import rankdata

from tabcompress.config import Whole, parameter
from tabcompress.generators.base import Generator, ProgressCallback, constant_columns, varying_columns

# Weight of the identity in the estimated correlation matrix: keeps it positive definite when columns
# are collinear (duplicated columns, a category that determines another) and Cholesky stable.
_SHRINK = 1e-3


class _CategoricalMarginal:
    """A discrete column: one interval of [0, 1] per code, as wide as the code's frequency."""

    def __init__(self, codes: np.ndarray, values: np.ndarray):
        self.values = values  # the value of each code, as decoded
        counts = np.bincount(codes, minlength=len(values)).astype(np.float64)
        self.width = counts / counts.sum()
        self.upper = np.cumsum(self.width)
        self.upper[-1] = 1.0  # no rounding gap at the top
        self.lower = self.upper - self.width
        self.last_seen = int(np.flatnonzero(counts)[-1])

    def uniforms(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each row's uniform: a random point inside its code's interval."""
        return self.lower[codes] + self.width[codes] * rng.random(len(codes))

    def codes(self, u: np.ndarray) -> np.ndarray:
        # The first interval whose upper edge lies above u; side="right" never lands on an empty
        # interval (an unseen category), and u = 1 falls back to the last seen code.
        return np.minimum(np.searchsorted(self.upper, u, side="right"), self.last_seen)

    def decode(self, u: np.ndarray) -> np.ndarray:
        return self.values[self.codes(u)]


class _NumericMarginal:
    """A numeric column's observed values, sorted: its empirical CDF and quantile function."""

    def __init__(self, observed: np.ndarray):
        self.sorted = np.sort(observed)
        m = len(self.sorted)
        # The i-th smallest value sits at the middle of its 1/m slice of [0, 1].
        self.positions = (np.arange(m) + 0.5) / m

    def uniforms(self, values: np.ndarray) -> np.ndarray:
        """The observed cells' empirical CDF at mid-rank (ties share one value); NaN where missing."""
        out = np.full(len(values), np.nan)
        observed = ~np.isnan(values)
        out[observed] = (rankdata(values[observed], method="average") - 0.5) / int(observed.sum())
        return out

    def decode(self, u: np.ndarray) -> np.ndarray:
        # Linear interpolation between neighbouring observed quantiles; below the first position and
        # above the last, np.interp holds the minimum and maximum.
        return np.interp(u, self.positions, self.sorted)


@dataclass(eq=False)
class CopulaGenerator(Generator):
    """Gaussian copula with empirical marginals.

    Parameters
    ----------
    max_rows : fit on a random subsample of at most this many rows (None: all rows).
    """

    name = "copula"
    # Not worth a cache entry: its fit takes about as long as loading one, and the entry would hold a
    # sorted copy of every numeric column of the training rows.
    cache_worthy = False
    max_rows: int | None = parameter(None, Whole(1, none=True))

    @classmethod
    def from_settings(cls, settings, *, device="cpu", teacher=None, time_limit=None) -> "CopulaGenerator":
        return cls(max_rows=settings.generator.fit_rows)

    def _fit(self, X: pd.DataFrame, random_state: int | None, progress: ProgressCallback | None) -> None:
        rng = np.random.default_rng(random_state)
        self.constants_: dict[str, Any] = constant_columns(X, self.schema_)
        # Per modelled column: how to decode it and which latent (copula) dimensions it reads.
        self.plans_: dict[str, dict[str, Any]] = {}
        uniforms: list[np.ndarray] = []  # one per latent dimension, NaN where a cell is missing

        def latent(u: np.ndarray) -> int:
            uniforms.append(u)
            return len(uniforms) - 1

        for spec, values in varying_columns(X, self.schema_, self.constants_):
            if spec.is_categorical:  # codes, with missing as one more
                marginal = _CategoricalMarginal(values, np.array([*spec.categories, np.nan], dtype=object))
                self.plans_[spec.name] = {"categorical": marginal, "dim": latent(marginal.uniforms(values, rng))}
                continue
            values = np.where(np.isfinite(values), values, np.nan)  # an infinity has no place in a quantile table
            missing = np.isnan(values)
            plan: dict[str, Any] = {}
            if missing.any():
                flag = missing.astype(np.int64)
                plan["missing"] = _CategoricalMarginal(flag, np.array([False, True]))
                plan["missing_dim"] = latent(plan["missing"].uniforms(flag, rng))
            observed = values[~missing]
            if np.unique(observed).size == 1:
                plan["value"] = float(observed[0])  # a single observed value, sometimes missing
            else:
                plan["numeric"] = _NumericMarginal(observed)
                plan["dim"] = latent(plan["numeric"].uniforms(values))
            self.plans_[spec.name] = plan

        self.n_latent_ = len(uniforms)
        if uniforms:
            self.correlation_ = _normal_correlation(np.column_stack(uniforms))
            self.cholesky_ = np.linalg.cholesky(self.correlation_)
        if progress is not None:
            progress(1, 1)

    def _sample(self, n: int, random_state: int | None) -> pd.DataFrame:
        rng = np.random.default_rng(random_state)
        U = np.empty((n, 0))
        if self.n_latent_:
            U = ndtr(rng.standard_normal((n, self.n_latent_)) @ self.cholesky_.T)
        out: dict[str, Any] = {}
        for spec in self.schema_.columns:
            if spec.name in self.constants_:
                out[spec.name] = np.full(n, self.constants_[spec.name], dtype=object)
                continue
            plan = self.plans_[spec.name]
            if "categorical" in plan:
                out[spec.name] = plan["categorical"].decode(U[:, plan["dim"]])
                continue
            values = (plan["numeric"].decode(U[:, plan["dim"]]) if "numeric" in plan
                      else np.full(n, plan["value"]))
            if "missing" in plan:
                is_missing = plan["missing"].decode(U[:, plan["missing_dim"]]).astype(bool)
                values = np.where(is_missing, np.nan, values)
            out[spec.name] = values
        return pd.DataFrame(out, columns=self.schema_.names)


def _normal_correlation(U: np.ndarray) -> np.ndarray:
    """The Gaussian copula's correlation matrix from the columns' uniforms ``U`` (NaN = missing).

    The Pearson correlation of two columns' mid-rank uniforms is their (tie-corrected) Spearman
    correlation, taken for each pair over the rows where both are present; pairwise-complete sums come
    from matrix products, so the cost is a few (d × n)·(n × d) products. It is turned into a normal
    correlation and the matrix is made positive definite.
    """
    present = ~np.isnan(U)
    M = present.astype(np.float64)
    A = np.where(present, U, 0.0)
    count = M.T @ M  # rows where both i and j are present
    sum_i = A.T @ M  # Σ u_i over those rows; sum_j is its transpose
    sq_i = (A * A).T @ M
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_i, mean_j = sum_i / count, sum_i.T / count
        cov = (A.T @ A) / count - mean_i * mean_j
        var_i = sq_i / count - mean_i ** 2
        var_j = sq_i.T / count - mean_j ** 2
        corr = cov / np.sqrt(var_i * var_j)
    # Pairs never observed together (or constant where they overlap) carry no information: 0.
    corr = np.where((count >= 2) & np.isfinite(corr), np.clip(corr, -1.0, 1.0), 0.0)
    corr = 2.0 * np.sin(np.pi / 6.0 * corr)  # Spearman → normal correlation (equal at 0 and ±1)
    np.fill_diagonal(corr, 1.0)
    corr = (corr + corr.T) / 2
    # Pairwise and transformed estimates need not form a valid correlation matrix: clip the eigenvalues,
    # shrink towards the identity, and put ones back on the diagonal.
    eigval, eigvec = np.linalg.eigh(corr)
    corr = (eigvec * np.clip(eigval, 0.0, None)) @ eigvec.T
    corr = (1.0 - _SHRINK) * corr + _SHRINK * np.eye(len(corr))
    scale = 1.0 / np.sqrt(np.diag(corr))
    return corr * scale[:, None] * scale[None, :]
