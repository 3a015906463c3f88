"""Turn the raw DataFrame the teacher takes into the float matrix a student computes on.

One small encoder serves every student, fast on one row as on many: scikit-learn's ColumnTransformer
costs about a millisecond a call whatever the batch, several times what a shallow tree itself needs.
It keeps scikit-learn's transformer contract (fit, transform, fit_transform, get_feature_names_out,
get_params) without importing scikit-learn; pandas is imported when a DataFrame comes in, which has
imported it already.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from tabcompress.students.estimator import Estimator

if TYPE_CHECKING:
    import pandas as pd

# Below this many rows a dict lookup per value beats building a pandas Categorical.
_SMALL_BATCH = 256


class StackedFrames:
    """The rows of several DataFrames with the same columns, one after another, as a student's ``fit``
    takes them: real rows and synthetic ones together without a frame that copies both, which on
    millions of rows would be the largest allocation of a run. Fitting reads a column at a time, so a
    column is joined only while it is encoded."""

    def __init__(self, frames: Sequence[pd.DataFrame]):
        frames = list(frames)
        if not frames:
            raise ValueError("StackedFrames needs at least one DataFrame")
        columns = list(frames[0].columns)
        if any(list(frame.columns) != columns for frame in frames[1:]):
            raise ValueError("the stacked DataFrames must have the same columns, in the same order")
        self.frames = frames
        self.columns = frames[0].columns

    def __len__(self) -> int:
        return sum(len(frame) for frame in self.frames)

    def __getitem__(self, key: Any) -> Any:
        """A column (a list of names: a DataFrame) over every frame's rows, indexed from 0."""
        import pandas as pd

        if len(self.frames) == 1:
            return self.frames[0][key]
        return pd.concat([frame[key] for frame in self.frames], ignore_index=True)

    @classmethod
    def of(cls, frames: Sequence[pd.DataFrame]) -> Any:
        """One frame as it is; several stacked (empty ones left out)."""
        frames = [frame for frame in frames if len(frame)] or list(frames[:1])
        return frames[0] if len(frames) == 1 else cls(frames)


class RowStream:
    """Training rows too many to hold in memory (a ``--max-rows`` run's whole file), for a student whose
    family trains past memory (one with a ``stream`` attribute, which a run sets before the fit: the gbdt
    student, through XGBoost's external memory). ``chunks()`` yields them a chunk at a time, each with the teacher's
    targets, and starts over on every call. The first ``replaces`` rows of the ``X`` the student is fit on
    are a sample of these rows: the student fits its encoding on ``X`` and trains on the stream in place
    of that sample (and on ``X``'s other rows)."""

    def __init__(self, chunks: Callable[[], Iterator[tuple[pd.DataFrame, np.ndarray]]], replaces: int):
        self.chunks, self.replaces = chunks, int(replaces)


class TabularEncoder(Estimator):
    """Encode numeric and categorical columns into one float matrix.

    ``numeric="raw"``: numbers as they are, missing stays NaN (trees route it themselves).
    ``numeric="standardize"``: missing cells take the column's median, a 0/1 indicator column is added
    for each column that had missing cells at fit time, then every column is standardised.

    ``categories="ordinal"``: one code per category. With ``y`` given at fit time the categories are
    ordered by their mean target (projected on the main direction of variation when ``y`` has several
    columns), so a shallow tree separates them with few thresholds. Missing and unseen values are NaN.
    ``categories="onehot"``: a 0/1 column per category seen at fit time, plus one for "missing" when
    missing cells were seen; an unseen value is all zeros.
    """

    def __init__(self, categorical: Sequence[str] = (), numeric: str = "raw", categories: str = "ordinal"):
        self.categorical = categorical
        self.numeric = numeric
        self.categories = categories

    def fit(self, X: pd.DataFrame, y=None) -> "TabularEncoder":
        import pandas as pd

        cat = set(self.categorical)
        self.numeric_columns_ = [c for c in X.columns if c not in cat]
        self.categorical_columns_ = [c for c in X.columns if c in cat]
        targets = None if y is None else np.asarray(y, dtype=np.float64).reshape(len(X), -1)

        if self.numeric == "standardize":
            values = self._numbers(X)
            missing = np.isnan(values)
            with np.errstate(all="ignore"):
                medians = np.nanmedian(np.where(missing.all(axis=0), 0.0, values), axis=0)
            self.medians_ = np.nan_to_num(medians)
            self.indicator_columns_ = np.flatnonzero(missing.any(axis=0))
            filled = self._standardize_input(values)
            self.means_ = filled.mean(axis=0)
            scales = filled.std(axis=0)
            self.scales_ = np.where(scales > 0, scales, 1.0)

        self.categories_: list[list] = []
        self.has_missing_: list[bool] = []
        for name in self.categorical_columns_:
            col = X[name]
            seen = pd.unique(col.dropna()).tolist()
            if targets is not None and self.categories == "ordinal" and len(seen) > 1:
                seen = _order_by_target(col, targets, seen)
            self.categories_.append(seen)
            self.has_missing_.append(bool(col.isna().any()))
        self.index_ = [{value: i for i, value in enumerate(cats)} for cats in self.categories_]
        return self

    # -- transform ----------------------------------------------------------------------------
    def _numbers(self, X: pd.DataFrame) -> np.ndarray:
        if not self.numeric_columns_:
            return np.empty((len(X), 0))
        return X[self.numeric_columns_].to_numpy(dtype=np.float64, na_value=np.nan)

    def _standardize_input(self, values: np.ndarray) -> np.ndarray:
        missing = np.isnan(values)
        filled = np.where(missing, self.medians_, values)
        return np.hstack([filled, missing[:, self.indicator_columns_].astype(np.float64)])

    def _codes(self, position: int, values: np.ndarray) -> np.ndarray:
        if len(values) <= _SMALL_BATCH:
            index = self.index_[position]
            return np.fromiter((index.get(v, -1) for v in values), dtype=np.int64, count=len(values))
        import pandas as pd

        return pd.Categorical(values, categories=self.categories_[position]).codes.astype(np.int64)

    def transform(self, X: pd.DataFrame, dtype: Any = np.float64) -> np.ndarray:
        """The encoded rows as one ``dtype`` matrix, filled in place column by column: building it from
        blocks would hold it twice, which on millions of rows is the largest allocation of a fit."""
        n = len(X)
        width = len(self.numeric_columns_) + sum(map(self._width, range(len(self.categorical_columns_))))
        numbers = None
        if self.numeric == "standardize":
            numbers = (self._standardize_input(self._numbers(X)) - self.means_) / self.scales_
            width += numbers.shape[1] - len(self.numeric_columns_)  # the missing-cell indicators
        out = np.empty((n, width), dtype=dtype)
        at = 0
        if numbers is not None:
            out[:, :numbers.shape[1]] = numbers
            at = numbers.shape[1]
            del numbers
        else:
            for name in self.numeric_columns_:
                out[:, at] = X[name].to_numpy(dtype=np.float64, na_value=np.nan)
                at += 1
        for position, name in enumerate(self.categorical_columns_):
            values = X[name].to_numpy()
            codes = self._codes(position, values)
            if self.categories == "ordinal":
                out[:, at] = codes
                out[codes < 0, at] = np.nan
                at += 1
                continue
            cats = self.categories_[position]
            block = out[:, at:at + self._width(position)]
            block[:] = 0.0
            rows = np.flatnonzero(codes >= 0)
            block[rows, codes[rows]] = 1.0
            if self.has_missing_[position]:
                import pandas as pd

                block[pd.isna(values), len(cats)] = 1.0
            at += block.shape[1]
        return out

    def _width(self, position: int) -> int:
        """Columns the categorical column at ``position`` encodes to."""
        if self.categories == "ordinal":
            return 1
        return len(self.categories_[position]) + int(self.has_missing_[position])

    def fit_transform(self, X: pd.DataFrame, y=None) -> np.ndarray:
        return self.fit(X, y).transform(X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = list(self.numeric_columns_)
        if self.numeric == "standardize":
            names += [f"{self.numeric_columns_[i]}=<missing>" for i in self.indicator_columns_]
        for name, cats, has_missing in zip(self.categorical_columns_, self.categories_, self.has_missing_):
            if self.categories == "ordinal":
                names.append(name)
            else:
                names += [f"{name}={c}" for c in cats] + ([f"{name}=<missing>"] if has_missing else [])
        return np.asarray(names, dtype=object)


def _order_by_target(col: pd.Series, targets: np.ndarray, values: list) -> list:
    import pandas as pd

    codes = pd.Categorical(col, categories=values).codes
    seen = codes >= 0
    counts = np.bincount(codes[seen], minlength=len(values)).astype(np.float64)
    sums = np.zeros((len(values), targets.shape[1]))
    np.add.at(sums, codes[seen], targets[seen])
    means = sums / np.maximum(counts, 1.0)[:, None]
    if means.shape[1] == 1:
        score = means[:, 0]
    else:
        centred = (means - np.average(means, axis=0, weights=np.maximum(counts, 1e-12))) * np.sqrt(counts)[:, None]
        direction = np.linalg.svd(centred, full_matrices=False)[2][0]
        score = means @ direction
    return [values[i] for i in np.argsort(score, kind="stable")]
