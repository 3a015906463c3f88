"""Condensation: K prototypes per class (or per target bin), inside the schema, with the target column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import assert_in_schema

from tabcompress.errors import InputError
from tabcompress.methods.condense import condense
from tabcompress.schema import Schema


def _split(df: pd.DataFrame):
    return df.drop(columns="target"), df["target"]


@pytest.mark.parametrize("method", ["kmeans", "herding"])
def test_k_rows_per_class_inside_the_schema(bank, method):
    X, y = _split(bank)
    schema = Schema.infer(X)
    rows = condense(X, y, per_class=7, schema=schema, method=method, seed=0)
    assert list(rows.columns) == schema.names + ["target"]
    assert rows["target"].value_counts().to_dict() == {0: 7, 1: 7}
    assert rows["target"].dtype == y.dtype
    assert_in_schema(rows, X, schema)
    # The prototypes differ from one another: k-means centres of distinct clusters, herding picks.
    assert not rows.duplicated().any()


def test_herding_picks_real_rows_and_kmeans_does_not_just_copy(magic):
    X, y = _split(magic)
    schema = Schema.infer(X)
    real = set(map(tuple, X.round(6).to_numpy()))
    herded = condense(X, y, per_class=4, schema=schema, method="herding")
    assert all(tuple(r) in real for r in herded[schema.names].round(6).to_numpy())
    centres = condense(X, y, per_class=4, schema=schema, method="kmeans")
    # Centres of clusters of float columns are means, not rows of the data.
    assert sum(tuple(r) in real for r in centres[schema.names].round(6).to_numpy()) < len(centres)


def test_kmeans_centres_sit_near_their_class(magic):
    """One prototype per class is about the class mean: closer to its own class mean than to the other's."""
    X, y = _split(magic)
    schema = Schema.infer(X)
    rows = condense(X, y, per_class=1, schema=schema)
    z = (X - X.mean()) / X.std()
    for _, row in rows.iterrows():
        zr = (row[schema.names].astype(float) - X.mean()) / X.std()
        own = np.linalg.norm(zr - z[y == row["target"]].mean())
        other = np.linalg.norm(zr - z[y != row["target"]].mean())
        assert own < other


def test_small_class_gives_all_its_rows(bank):
    X, y = _split(bank)
    keep = np.flatnonzero(y == 0).tolist() + np.flatnonzero(y == 1)[:3].tolist()
    X, y = X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)
    schema = Schema.infer(X)
    rows = condense(X, y, per_class=5, schema=schema)
    assert rows["target"].value_counts().to_dict() == {0: 5, 1: 3}
    small = rows[rows["target"] == 1][schema.names].reset_index(drop=True)
    pd.testing.assert_frame_equal(small, X[y == 1].reset_index(drop=True), check_dtype=False)


def test_deterministic_per_seed(covertype):
    X, y = _split(covertype)
    schema = Schema.infer(X)
    a = condense(X, y, per_class=3, schema=schema, seed=4)
    b = condense(X, y, per_class=3, schema=schema, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 3 * y.nunique()
    assert_in_schema(a, X, schema)


def test_regression_bins_and_missing_cells(california):
    X, y = _split(california)
    schema = Schema.infer(X)
    rows = condense(X, y, per_class=2, schema=schema, task="regression", n_bins=5)
    assert len(rows) == 10
    assert_in_schema(rows, X, schema)
    # Bins come from low to high target; each prototype's target is its cluster's mean target.
    bin_means = rows["target"].to_numpy().reshape(5, 2).mean(axis=1)
    assert np.all(np.diff(bin_means) > 0)
    assert y.min() <= rows["target"].min() and rows["target"].max() <= y.max()


def test_a_column_missing_in_most_of_a_cluster_stays_missing():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=40), "b": np.where(np.arange(40) < 30, np.nan, 1.0),
                      "c": ["u"] * 25 + ["v"] * 15})
    y = pd.Series([0] * 20 + [1] * 20, name="label")
    schema = Schema.infer(X)
    rows = condense(X, y, per_class=1, schema=schema)
    assert list(rows.columns) == ["a", "b", "c", "label"]
    assert np.isnan(rows.loc[0, "b"])  # class 0: all 20 cells missing
    assert rows.loc[1, "b"] == 1.0  # class 1: 10 of 20 missing, which is not most
    assert rows["c"].tolist() == ["u", "v"]


def test_bad_options_are_input_errors(bank):
    X, y = _split(bank)
    schema = Schema.infer(X)
    with pytest.raises(InputError, match="per_class must be"):
        condense(X, y, per_class=0, schema=schema)
    with pytest.raises(InputError, match="method must be one of"):
        condense(X, y, per_class=2, schema=schema, method="medoids")
    with pytest.raises(InputError, match="rows"):
        condense(X, y.iloc[:10], per_class=2, schema=schema)
