"""The detection score of synthetic rows: a classifier telling them from real ones."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabcompress.evaluation.realism import detection_auc
from tabcompress.schema import Schema


def test_rows_like_the_real_ones_cannot_be_told_apart_and_moved_rows_can(bank):
    X = bank.drop(columns="target")
    schema = Schema.infer(X)
    assert schema.categorical  # the detector takes categorical columns as categories
    half = len(X) // 2
    same = detection_auc(X.iloc[:half], X.iloc[half:], schema, seed=0)
    assert 0.35 < same < 0.65
    moved = X.iloc[half:].copy()
    moved[schema.numeric[0]] = moved[schema.numeric[0]] + 3 * X[schema.numeric[0]].std()
    assert detection_auc(X.iloc[:half], moved, schema, seed=0) > 0.95
    recoded = X.iloc[half:].copy()  # a category the real rows rarely have, on every row
    column = schema.categorical[0]
    recoded[column] = X[column].value_counts().index[-1]
    assert detection_auc(X.iloc[:half], recoded, schema, seed=0) > 0.9
    assert detection_auc(X.iloc[:half], moved, schema, seed=0) == detection_auc(X.iloc[:half], moved, schema, seed=0)


def test_too_few_rows_give_no_score():
    X = pd.DataFrame({"a": np.arange(5.0)})
    assert detection_auc(X, X, Schema.infer(X)) is None
