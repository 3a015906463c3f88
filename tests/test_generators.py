from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabcompress.errors import InputError
from tabcompress.generators import CTGANGenerator, MUNGEGenerator, make_generator
from tabcompress.schema import Schema


@pytest.fixture(scope="module")
def fitted(california):
    X = california.drop(columns="target").iloc[:600].reset_index(drop=True)
    X["constant"] = 7  # a constant column stays out of the GAN and comes back as is
    X.loc[X.index % 6 == 0, "total_bedrooms"] = np.nan  # enough missing cells to be learnt in 3 epochs
    schema = Schema.infer(X)
    ticks = []
    gen = CTGANGenerator(epochs=3, batch_size=100).fit(X, schema, random_state=0,
                                                     progress=lambda done, total: ticks.append((done, total)))
    return X, schema, gen, ticks


def test_ctgan_rows_respect_the_schema(fitted):
    X, schema, gen, _ = fitted
    rows = gen.sample(2000, random_state=1)
    assert len(rows) == 2000 and list(rows.columns) == list(X.columns)
    assert rows.dtypes.to_dict() == X.dtypes.to_dict()
    assert set(rows["ocean_proximity"]) <= set(X["ocean_proximity"])
    for col in schema.numeric:
        values = rows[col].dropna()
        assert values.min() >= X[col].min() and values.max() <= X[col].max()
        if schema[col].kind == "integer":
            assert np.all(values == np.round(values))
    assert (rows["constant"] == 7).all()
    # total_bedrooms has missing cells in the real rows: the generator reproduces some.
    assert rows["total_bedrooms"].isna().any()
    assert rows.drop(columns="total_bedrooms").notna().all().all()


def test_ctgan_is_reproducible_and_reports_epochs(fitted, california):
    X, schema, gen, ticks = fitted
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    pd.testing.assert_frame_equal(gen.sample(300, random_state=5), gen.sample(300, random_state=5))
    again = CTGANGenerator(epochs=3, batch_size=100).fit(X, schema, random_state=0)
    pd.testing.assert_frame_equal(gen.sample(300, random_state=5), again.sample(300, random_state=5))


def test_ctgan_subsamples_large_data(california):
    X = california.drop(columns="target")
    gen = CTGANGenerator(epochs=1, batch_size=100, max_rows=200).fit(X, Schema.infer(X), random_state=0)
    assert gen.n_fit_rows_ == 200
    assert len(gen.sample(0)) == 0


def test_generator_registry():
    assert make_generator("none") is None
    assert isinstance(make_generator("ctgan", epochs=2), CTGANGenerator)
    with pytest.raises(InputError, match="generator must be one of"):
        make_generator("nope")


# -- MUNGE ---------------------------------------------------------------------------------------

def test_munge_rows_respect_the_schema_and_repeat_with_the_seed(california):
    X = california.drop(columns="target").iloc[:500].reset_index(drop=True)
    schema = Schema.infer(X)
    gen = make_generator("munge", max_rows=None).fit(X, schema, random_state=0)
    assert isinstance(gen, MUNGEGenerator)
    assert np.all(gen.neighbour_ != np.arange(len(X)))
    rows = gen.sample(1234, random_state=3)
    assert len(rows) == 1234 and rows.dtypes.to_dict() == X.dtypes.to_dict()
    assert set(rows["ocean_proximity"]) <= set(X["ocean_proximity"])
    for col in schema.numeric:
        values = rows[col].dropna()
        assert values.min() >= X[col].min() and values.max() <= X[col].max()
    assert rows["total_bedrooms"].isna().any() == X["total_bedrooms"].isna().any()
    pd.testing.assert_frame_equal(rows, gen.sample(1234, random_state=3))
    assert not rows.equals(gen.sample(1234, random_state=4))


def test_munge_follows_the_paper_rule():
    # Two pairs of mutual neighbours, far apart: (0, 1) and (2, 3).
    X = pd.DataFrame({"x": [0.5, 1.5, 100.5, 104.5], "c": ["a", "b", "c", "d"]})
    schema = Schema.infer(X)
    gen = MUNGEGenerator(p=0.0).fit(X, schema, random_state=0)
    assert gen.neighbour_.tolist() == [1, 0, 3, 2]
    unchanged = gen.sample(400, random_state=0)  # p = 0: every row is a copy of a real row
    assert set(map(tuple, unchanged.to_numpy().tolist())) == set(map(tuple, X.to_numpy().tolist()))

    gen = MUNGEGenerator(p=1.0, s=1.0).fit(X, schema, random_state=0)
    rows = gen.sample(40_000, random_state=1)
    partner = {"a": "b", "b": "a", "c": "d", "d": "c"}
    # Every column is altered: the category is the neighbour's, and x is drawn around the neighbour's x
    # with sd |a - b| (then clipped to the observed range by the schema).
    from_c = rows[rows["c"] == "d"]  # rows made from real row 2 (x = 100.5), neighbour x = 104.5, sd 4
    assert set(rows["c"]) == set(partner.values())
    inside = from_c["x"][(from_c["x"] > 96.5) & (from_c["x"] < 104.5)]
    assert abs(len(inside) / len(from_c) - 0.4772) < 0.03  # P(104.5 - 8 < N(104.5, 4) < 104.5)
    assert (from_c["x"] == 104.5).mean() > 0.45  # the upper half is clipped to the observed maximum


def test_munge_swaps_missing_cells_and_subsamples():
    # The two missing cells sit at the mean in the distance space, so rows 1 and 3 are neighbours:
    # with p = 1 their rows stay missing (swapped, never averaged); the others never become missing.
    X = pd.DataFrame({"x": [0.0, np.nan, 0.1, np.nan, 5.0, 5.1]})
    gen = MUNGEGenerator(p=1.0).fit(X, Schema.infer(X), random_state=0)
    assert gen.neighbour_.tolist() == [2, 3, 0, 1, 5, 4]
    rows = gen.sample(600, random_state=0)
    assert rows["x"].isna().sum() == 200
    assert MUNGEGenerator(max_rows=4).fit(X, Schema.infer(X), random_state=0).n_fit_rows_ == 4
    with pytest.raises(ValueError, match="p must be"):
        MUNGEGenerator(p=1.5).fit(X, Schema.infer(X))
