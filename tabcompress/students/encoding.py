"""Turn the raw DataFrame the teacher takes into the float matrix a student computes on.

One small encoder serves every student, fast on one row as on many: scikit-learn's ColumnTransformer
costs about a millisecond a call whatever the batch, several times what a shallow tree itself needs.
It keeps scikit-learn's transformer contract (fit, transform, fit_transform, get_feature_names_out,
get_params) without importing scikit-learn; pandas is imported when a DataFrame comes in, which has
imported it already.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from tabcompress.students.estimator import Estimator

if TYPE_CHECKING:
    import pandas as pd

# Below this many rows a dict lookup per value beats building a pandas Categorical.
_SMALL_BATCH = 256


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

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        blocks = [self._numbers(X)]
        if self.numeric == "standardize":
            blocks[0] = (self._standardize_input(blocks[0]) - self.means_) / self.scales_
        for position, name in enumerate(self.categorical_columns_):
            values = X[name].to_numpy()
            codes = self._codes(position, values)
            if self.categories == "ordinal":
                blocks.append(np.where(codes < 0, np.nan, codes).astype(np.float64)[:, None])
                continue
            cats = self.categories_[position]
            block = np.zeros((len(codes), len(cats) + int(self.has_missing_[position])), dtype=np.float64)
            rows = np.flatnonzero(codes >= 0)
            block[rows, codes[rows]] = 1.0
            if self.has_missing_[position]:
                import pandas as pd

                block[pd.isna(values), len(cats)] = 1.0
            blocks.append(block)
        return np.hstack(blocks) if len(blocks) > 1 else blocks[0]

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
