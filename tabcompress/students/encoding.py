"""Category encoders shared by the students: robust to unseen values and missing cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class CategoryEncoder(TransformerMixin, BaseEstimator):
    """Encode categorical columns as ordinal codes or one-hot indicators.

    ``mode="ordinal"``: one float column per input column. With ``y`` given at fit time the
    categories are ordered by their mean target (projected on the main direction of variation for
    several outputs), so a shallow tree can separate them with few thresholds. Missing and unseen
    values become NaN, which scikit-learn's trees route on their own.

    ``mode="onehot"``: one 0/1 column per category seen at fit time, plus one for "missing" when
    missing cells were seen; an unseen value is all zeros.
    """

    def __init__(self, mode: str = "ordinal"):
        self.mode = mode

    def fit(self, X, y=None):
        X = pd.DataFrame(X)
        self.columns_ = list(X.columns)
        self.categories_: list[list] = []
        self.has_missing_: list[bool] = []
        targets = None if y is None else np.asarray(y, dtype=np.float64).reshape(len(X), -1)
        for name in self.columns_:
            col = X[name]
            values = pd.unique(col.dropna()).tolist()
            if targets is not None and self.mode == "ordinal" and len(values) > 1:
                values = _order_by_target(col, targets, values)
            self.categories_.append(values)
            self.has_missing_.append(bool(col.isna().any()))
        return self

    def _codes(self, col: pd.Series, categories: list) -> np.ndarray:
        return pd.Categorical(col, categories=categories).codes.astype(np.int64)

    def transform(self, X):
        X = pd.DataFrame(X)
        blocks = []
        for name, cats, has_missing in zip(self.columns_, self.categories_, self.has_missing_):
            codes = self._codes(X[name], cats)
            if self.mode == "ordinal":
                blocks.append(np.where(codes < 0, np.nan, codes).astype(np.float64)[:, None])
                continue
            block = np.zeros((len(codes), len(cats) + int(has_missing)), dtype=np.float64)
            rows = np.nonzero(codes >= 0)[0]
            block[rows, codes[rows]] = 1.0
            if has_missing:
                block[X[name].isna().to_numpy(), len(cats)] = 1.0
            blocks.append(block)
        if not blocks:
            return np.empty((len(X), 0))
        return np.hstack(blocks)

    def get_feature_names_out(self, input_features=None):
        if self.mode == "ordinal":
            return np.asarray(self.columns_, dtype=object)
        names = []
        for name, cats, has_missing in zip(self.columns_, self.categories_, self.has_missing_):
            names += [f"{name}={c}" for c in cats] + ([f"{name}=<missing>"] if has_missing else [])
        return np.asarray(names, dtype=object)


def _order_by_target(col: pd.Series, targets: np.ndarray, values: list) -> list:
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
