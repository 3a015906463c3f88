"""The Gaussian-copula and TVAE generators, on the real slices in tests/data."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from tabcompress import Settings
from tabcompress.generators import CopulaGenerator, CTGANGenerator, TVAEGenerator, build_generator, generator_names
from tabcompress.schema import Schema


def features(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="target").reset_index(drop=True)


def assert_inside_schema(rows: pd.DataFrame, X: pd.DataFrame, schema: Schema, n: int) -> None:
    """Right length, columns and dtypes; seen categories only; numbers in range, integers integral;
    missing cells only in columns that had some."""
    assert len(rows) == n and list(rows.columns) == list(X.columns)
    assert rows.dtypes.to_dict() == X.dtypes.to_dict()
    for spec in schema.columns:
        col = rows[spec.name]
        if not spec.has_missing:
            assert col.notna().all(), spec.name
        if spec.is_categorical:
            assert set(col.dropna()) <= set(X[spec.name].dropna()), spec.name
            continue
        values = col.dropna()
        if values.empty:
            continue
        assert values.min() >= X[spec.name].min() and values.max() <= X[spec.name].max(), spec.name
        if spec.kind == "integer":
            assert np.all(values == np.round(values)), spec.name


# -- Gaussian copula -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def california_heavy_missing(california):
    """California with a constant column and a sixth of total_bedrooms missing, on top of its own."""
    X = features(california)
    X["constant"] = 7
    X.loc[X.index % 6 == 0, "total_bedrooms"] = np.nan
    return X


@pytest.mark.parametrize("data", ["bank", "california", "magic"])
def test_copula_rows_respect_the_schema(data, request):
    X = features(request.getfixturevalue(data))
    schema = Schema.infer(X)
    ticks = []
    gen = CopulaGenerator().fit(X, schema, random_state=0,
                                progress=lambda done, total: ticks.append((done, total)))
    assert ticks == [(1, 1)] and gen.n_fit_rows_ == len(X)
    rows = gen.sample(3000, random_state=1)
    assert_inside_schema(rows, X, schema, 3000)
    for name in X.columns[X.isna().any()]:  # california's total_bedrooms (8 of 1,200 missing)
        assert rows[name].isna().any(), name


def test_copula_is_reproducible(california_heavy_missing):
    X = california_heavy_missing
    schema = Schema.infer(X)
    gen = CopulaGenerator().fit(X, schema, random_state=0)
    rows = gen.sample(500, random_state=5)
    pd.testing.assert_frame_equal(rows, gen.sample(500, random_state=5))
    again = CopulaGenerator().fit(X, schema, random_state=0)
    pd.testing.assert_frame_equal(rows, again.sample(500, random_state=5))
    assert not rows.equals(gen.sample(500, random_state=6))
    assert (rows["constant"] == 7).all()


def test_copula_keeps_the_marginals(bank, california, california_heavy_missing):
    n = 20_000
    for X in (features(bank), features(california), california_heavy_missing):
        schema = Schema.infer(X)
        rows = CopulaGenerator().fit(X, schema, random_state=0).sample(n, random_state=1)
        for name in schema.numeric:
            real, fake = X[name].dropna().to_numpy(), rows[name].dropna().to_numpy()
            if np.ptp(real) == 0:
                continue
            # Each sampled p-quantile lies between the real (p - 2%)- and (p + 2%)-quantiles (a tolerance
            # in probability, since latitude, say, has a near-empty gap between its two clusters), and
            # the CDFs agree within 2 points at the real quantiles.
            p = np.linspace(0.05, 0.95, 19)
            q_real, q_fake = np.quantile(real, p), np.quantile(fake, p)
            assert np.all(q_fake >= np.quantile(real, p - 0.02)), name
            assert np.all(q_fake <= np.quantile(real, p + 0.02)), name
            cdf_real = (real[:, None] <= q_real).mean(axis=0)
            cdf_fake = (fake[:, None] <= q_real).mean(axis=0)
            assert np.max(np.abs(cdf_fake - cdf_real)) < 0.02, name
        for name in schema.categorical:
            real = X[name].value_counts(normalize=True, dropna=False)
            fake = rows[name].value_counts(normalize=True, dropna=False).reindex(real.index, fill_value=0.0)
            assert np.max(np.abs(fake - real)) < 0.02, name
        # Missing cells come back at the real rate (8 of 1,200 in the slice, about 17% once thinned),
        # within four binomial standard deviations.
        for name in X.columns[X.isna().any()]:
            rate = X[name].isna().mean()
            assert abs(rows[name].isna().mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / n) + 0.001, name


def test_copula_keeps_rank_correlations(magic, california, bank):
    """Strongly dependent pairs keep their Spearman correlation; columns drawn independently (the same
    sampled columns, each shuffled on its own) would not."""
    cases = [(magic, "FSize", "FConc", 0.03), (california, "households", "total_rooms", 0.03),
             (california, "longitude", "latitude", 0.03),
             # 82% of bank's pdays are -1 exactly where previous is 0: a tie block a Gaussian copula can
             # only approximate, hence the looser tolerance.
             (bank, "pdays", "previous", 0.12)]
    rng = np.random.default_rng(0)
    for df, a, b, tolerance in cases:
        X = features(df)
        rows = CopulaGenerator().fit(X, Schema.infer(X), random_state=0).sample(20_000, random_state=1)
        real = X[a].corr(X[b], method="spearman")
        assert abs(real) > 0.85
        assert abs(rows[a].corr(rows[b], method="spearman") - real) < tolerance, (a, b)
        independent = pd.DataFrame({a: rng.permutation(rows[a].to_numpy()),
                                    b: rng.permutation(rows[b].to_numpy())})
        assert abs(independent[a].corr(independent[b], method="spearman") - real) > 0.5


def test_copula_handles_awkward_columns():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    X = pd.DataFrame({
        "x": x,
        "twin": x,  # perfectly collinear with x: the correlation matrix must still factorise
        "count": rng.poisson(3, size=n),
        "constant": np.full(n, 2.5),
        "empty": np.full(n, np.nan),  # all missing
        "one_value": np.where(rng.random(n) < 0.3, np.nan, 4.0),  # a single value, sometimes missing
        "colour": rng.choice(np.array(["red", "green", "blue", None], dtype=object), size=n,
                             p=[0.5, 0.3, 0.1, 0.1]),
        "flag": rng.random(n) < 0.2,
        "label": np.full(n, "same", dtype=object),
    })
    schema = Schema.infer(X)
    gen = CopulaGenerator().fit(X, schema, random_state=0)
    assert set(gen.constants_) == {"constant", "empty", "label"}
    rows = gen.sample(5000, random_state=1)
    assert_inside_schema(rows, X, schema, 5000)
    assert (rows["constant"] == 2.5).all() and rows["empty"].isna().all() and (rows["label"] == "same").all()
    assert set(rows["one_value"].dropna()) == {4.0}
    assert abs(rows["one_value"].isna().mean() - X["one_value"].isna().mean()) < 0.03
    assert abs(rows["colour"].isna().mean() - X["colour"].isna().mean()) < 0.03
    assert abs(rows["flag"].mean() - X["flag"].mean()) < 0.03
    assert np.corrcoef(rows["x"], rows["twin"])[0, 1] > 0.99
    assert set(rows["count"]) <= set(range(X["count"].min(), X["count"].max() + 1))

    # A single row: every column is constant, there is no copula, the row comes back as it was.
    one = X.iloc[[3]].reset_index(drop=True)
    rows = CopulaGenerator().fit(one, Schema.infer(one), random_state=0).sample(3, random_state=0)
    assert rows["x"].tolist() == [one["x"][0]] * 3 and rows["colour"].tolist() == [one["colour"][0]] * 3


def test_copula_subsamples_and_is_fast(bank):
    X = features(bank)
    gen = CopulaGenerator(max_rows=300).fit(X, Schema.infer(X), random_state=0)
    assert gen.n_fit_rows_ == 300
    assert len(gen.sample(0)) == 0
    # Vectorised: 40,000 rows x 15 columns (9 of them text) fit in well under a second on an idle
    # machine; the bound is loose because the test machine is shared.
    big = X.iloc[:, :15].sample(40_000, replace=True, random_state=0).reset_index(drop=True)
    start = time.perf_counter()
    gen = CopulaGenerator().fit(big, Schema.infer(big), random_state=0)
    gen.sample(40_000, random_state=0)
    assert time.perf_counter() - start < 10


# -- TVAE ------------------------------------------------------------------------------------------
# Under 500 rows the ctgan package transforms columns in-process rather than in worker processes, which
# keeps these fits to a second or two.

@pytest.fixture(scope="module")
def tvae_fitted(california):
    X = features(california).iloc[:450].reset_index(drop=True)
    X["constant"] = 7
    # TVAE decodes a discrete column by its most likely value, so after a few epochs a minority value
    # (here: "is missing") is next to never drawn; half the cells missing makes it learnable in 3 epochs.
    X.loc[X.index % 2 == 0, "total_bedrooms"] = np.nan
    schema = Schema.infer(X)
    ticks = []
    gen = TVAEGenerator(epochs=3, batch_size=100).fit(
        X, schema, random_state=0, progress=lambda done, total: ticks.append((done, total)))
    return X, schema, gen, ticks


def test_tvae_rows_respect_the_schema(tvae_fitted):
    X, schema, gen, ticks = tvae_fitted
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    assert gen.constants_ == {"constant": 7}
    rows = gen.sample(2000, random_state=1)
    assert_inside_schema(rows, X, schema, 2000)
    assert (rows["constant"] == 7).all()
    assert rows["total_bedrooms"].isna().any()  # the only column with missing cells


def test_tvae_encodes_like_ctgan(tvae_fitted):
    X, schema, gen, _ = tvae_fitted
    assert TVAEGenerator._encode is CTGANGenerator._encode and TVAEGenerator._decode is CTGANGenerator._decode
    ctgan = CTGANGenerator()
    ctgan.schema_ = schema
    expected, discrete = ctgan._encode(X)
    # What TVAE's data transformer was fitted on: the same columns, the same discrete ones.
    seen = {info.column_name: info.column_type for info in gen.model_.transformer._column_transform_info_list}
    assert list(seen) == list(expected.columns)
    assert sorted(name for name, kind in seen.items() if kind == "discrete") == sorted(discrete)
    assert "total_bedrooms__tabcompress_missing" in discrete


def test_tvae_is_reproducible(tvae_fitted):
    X, schema, gen, _ = tvae_fitted
    rows = gen.sample(300, random_state=5)
    pd.testing.assert_frame_equal(rows, gen.sample(300, random_state=5))
    assert not rows.equals(gen.sample(300, random_state=6))
    again = TVAEGenerator(epochs=3, batch_size=100).fit(X, schema, random_state=0)
    pd.testing.assert_frame_equal(rows, again.sample(300, random_state=5))
    other = TVAEGenerator(epochs=3, batch_size=100).fit(X, schema, random_state=1)
    assert not rows.equals(other.sample(300, random_state=5))


@pytest.mark.parametrize("data", ["bank", "magic"])
def test_tvae_on_text_and_numeric_slices(data, request):
    X = features(request.getfixturevalue(data)).iloc[:450].reset_index(drop=True)
    schema = Schema.infer(X)
    gen = TVAEGenerator(epochs=2, batch_size=150).fit(X, schema, random_state=0)
    rows = gen.sample(1000, random_state=1)
    assert_inside_schema(rows, X, schema, 1000)
    pd.testing.assert_frame_equal(rows, gen.sample(1000, random_state=1))


def test_tvae_batch_sizes_and_constant_data():
    # No pac constraint: a batch larger than the data, and an odd one, both train.
    X = pd.DataFrame({"x": np.arange(40.0), "c": ["a", "b", "c", "d"] * 10})
    schema = Schema.infer(X)
    for batch_size in (500, 7):
        gen = TVAEGenerator(epochs=1, batch_size=batch_size).fit(X, schema, random_state=0)
        rows = gen.sample(50, random_state=0)
        assert_inside_schema(rows, X, schema, 50)
    with pytest.raises(ValueError, match="batch_size"):
        TVAEGenerator(batch_size=0).fit(X, schema)
    # Every column constant: nothing is trained and the rows come back as they were.
    same = pd.DataFrame({"x": [1.5] * 5, "c": ["k"] * 5})
    gen = TVAEGenerator(epochs=1).fit(same, Schema.infer(same), random_state=0)
    assert gen.model_ is None
    rows = gen.sample(4, random_state=0)
    assert rows["x"].tolist() == [1.5] * 4 and rows["c"].tolist() == ["k"] * 4


# -- registry --------------------------------------------------------------------------------------

def test_registry_knows_the_new_generators():
    assert generator_names() == ("ctgan", "tvae", "copula", "munge", "forest", "none")
    settings = Settings.from_options(epochs=4, batch_size=60, generator_rows=123)
    copula = build_generator("copula", settings, device="cpu")
    assert isinstance(copula, CopulaGenerator) and copula.max_rows == 123
    tvae = build_generator("tvae", settings, device="cpu")
    assert isinstance(tvae, TVAEGenerator) and not isinstance(tvae, CTGANGenerator)
    assert (tvae.epochs, tvae.batch_size, tvae.max_rows, tvae.device) == (4, 60, 123, "cpu")
