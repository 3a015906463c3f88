from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabcompress.data import Schema
from tabcompress.generators import CTGANGenerator, make_generator
from tabcompress.errors import InputError


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
    with pytest.raises(InputError, match="--generator"):
        make_generator("nope")
