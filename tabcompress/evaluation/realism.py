"""How real synthetic rows look: a detection score.

A classifier is trained to tell the synthetic rows from real ones, and scored by its ROC AUC on rows it
did not train on: 0.5 when it cannot, 1.0 when it always can (the "classifier two-sample test",
Lopez-Paz & Oquab 2017). Rows that are easy to tell apart lie where the real rows do not, and a student
trained on many of them learns the teacher where users' rows never are (docs/measurements.md, "What is
wrong with CTGAN's rows": CTGAN's rows scored 0.99 or more on every dataset tried, MUNGE's 0.69-0.86
against held-out rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabcompress.schema import Schema

#: rows of each kind the detector sees at most (a random sample of each)
DETECTION_ROWS = 3000
#: fewer rows of either kind than this, and there is no score
MIN_ROWS = 30
#: categorical columns with more categories than this are given to the detector as numbers (its
#: categorical splits take fewer than 255 values, missing included)
MAX_CATEGORIES = 250


def as_numbers(X: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Rows as numbers: numeric columns as they are (missing stays NaN), categorical ones as their codes."""
    return np.column_stack([schema[c].codes(X[c]) if schema[c].is_categorical else X[c].to_numpy(np.float64)
                            for c in schema.names]).astype(np.float64)


def detector(schema: Schema, seed: int):
    """The classifier that tells synthetic rows from real ones, on rows given by :func:`as_numbers`:
    histogram gradient boosting, categorical columns (up to :data:`MAX_CATEGORIES`) split as categories."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    categorical = [schema[c].is_categorical and len(schema[c].categories) <= MAX_CATEGORIES for c in schema.names]
    return HistGradientBoostingClassifier(max_iter=100, random_state=seed,
                                          categorical_features=categorical if any(categorical) else None)


def detection_auc(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema, *, seed: int = 0,
                  max_rows: int = DETECTION_ROWS) -> float | None:
    """ROC AUC of a classifier (:func:`detector`) telling ``synthetic`` from ``real`` rows: trained on two
    thirds of at most ``max_rows`` of each, scored on the other third (one split, not a cross-validation:
    a run pays for it, and the score only has to tell 0.7 from 0.95).
    None when either has fewer than :data:`MIN_ROWS` rows."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    n = min(len(real), len(synthetic), max_rows)
    if n < MIN_ROWS:
        return None
    rng = np.random.default_rng(seed)
    A = as_numbers(real.iloc[rng.choice(len(real), n, replace=False)], schema)
    B = as_numbers(synthetic.iloc[rng.choice(len(synthetic), n, replace=False)], schema)
    X, y = np.vstack([A, B]), np.r_[np.zeros(n), np.ones(n)]
    X_fit, X_score, y_fit, y_score = train_test_split(X, y, test_size=1 / 3, stratify=y, random_state=seed)
    fitted = detector(schema, seed).fit(X_fit, y_fit)
    return float(roc_auc_score(y_score, fitted.predict_proba(X_score)[:, 1]))
