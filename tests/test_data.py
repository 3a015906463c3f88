from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabcompress import data as data_mod
from tabcompress.data import align, holdout_split, read_csv, take_rows
from tabcompress.errors import InputError
from tabcompress.schema import Schema
from tabcompress.teachers import load_teacher


def test_read_csv_with_bom_and_missing_cells(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\n1,x\n,y\n")
    df = read_csv(path)
    assert list(df.columns) == ["a", "b"]
    assert df["a"].isna().sum() == 1


def test_read_csv_in_chunks_types_columns_as_a_whole_file_read(tmp_path, monkeypatch):
    # Chunks of 3 rows: each column below changes what its cells look like from one chunk to the next.
    path = tmp_path / "mixed.csv"
    path.write_text("whole,text_late,flags,empty_early,decimal_late,number_then_text\n"
                    "1,x,True,,1,7\n2,y,False,,2.5,8\n3,z,True,,3,q\n4,5,,1,4,9\n5,6,True,2,5,10\n"
                    "6,w,False,,6,11\n7,,True,,7,12\n")
    monkeypatch.setattr(data_mod, "READ_CHUNK_ROWS", 3)
    pd.testing.assert_frame_equal(read_csv(path), pd.read_csv(path, low_memory=False))
    # a --max-rows sample that keeps every row is the same frame
    pd.testing.assert_frame_equal(data_mod.read_csv_sample(path, 100, 0.0, seed=0).frame,
                                  pd.read_csv(path, low_memory=False))


def test_a_max_rows_sample_is_uniform_stable_and_typed_as_the_whole_file(tmp_path, monkeypatch):
    from tabcompress.data import read_csv_sample

    rng = np.random.default_rng(0)
    n = 2_000
    k = rng.integers(0, 5, n).astype(object)
    k[1_500:] = [str(v).replace("4", "z") for v in k[1_500:]]  # text late in "k": read as text as a whole
    frame = pd.DataFrame({"x": rng.normal(size=n).round(3), "k": k, "t": rng.choice(["a", "b", "c"], n)})
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    whole = read_csv(path)
    sample = read_csv_sample(path, 300, 0.2, seed=0)
    assert len(sample.frame) == 300 and sample.held_out.sum() == 60 and sample.n_rows == n
    # the rows kept are rows of the file, typed as a whole-file read types them ("k" turns to text)
    assert (sample.frame.dtypes == whole.dtypes).all()
    keys = whole.astype(str).agg("|".join, axis=1)
    assert sample.frame.astype(str).agg("|".join, axis=1).isin(keys).all()
    # the same whatever the chunking, and the same seed, the same sample
    monkeypatch.setattr(data_mod, "READ_CHUNK_ROWS", 97)
    again = read_csv_sample(path, 300, 0.2, seed=0)
    pd.testing.assert_frame_equal(again.frame, sample.frame)
    np.testing.assert_array_equal(again.held_out, sample.held_out)
    other = read_csv_sample(path, 300, 0.2, seed=1)
    assert not other.frame.equals(sample.frame)
    # a row's side (held out or not) is its own: rows added to the file leave the earlier rows' sides
    everything = read_csv_sample(path, 10 * n, 0.2, seed=0)  # a bound no side reaches: every row
    frame.iloc[:100].assign(x=lambda f: f.x + 1000).to_csv(path, mode="a", header=False, index=False)
    grown = read_csv_sample(path, 10 * n, 0.2, seed=0)
    assert len(everything.frame) == n and len(grown.frame) == n + 100
    np.testing.assert_array_equal(grown.held_out[:n], everything.held_out)
    assert 0.15 < everything.held_out.mean() < 0.25
    # no held-out share: every row kept is a training row
    assert not read_csv_sample(path, 300, 0.0, seed=0).held_out.any()
    # copies of a row are held out together, but sampled apart: a file of 20 copies of 100 rows
    pd.concat([frame.iloc[:100]] * 20).to_csv(path, index=False)
    copies = read_csv_sample(path, 400, 0.2, seed=0)
    sides = copies.frame.astype(str).assign(held=copies.held_out).groupby(["x", "k", "t"])["held"].nunique()
    assert (sides == 1).all() and len(sides) > 50


def test_the_training_side_of_a_file_is_every_row_a_sample_does_not_hold_out_typed_as_the_sample(tmp_path,
                                                                                                   monkeypatch):
    from tabcompress.data import read_csv_sample, read_csv_training_side

    rng = np.random.default_rng(1)
    n = 1_000
    k = np.array([f"0{v}" for v in rng.integers(0, 5, n)], dtype=object)  # "03": read as 3 where numbers
    k[700:] = [v.replace("4", "z") for v in k[700:]]  # numbers in the first chunks, text as a whole
    flag = rng.choice([True, False], n).astype(object)
    flag[900:950] = None  # True/False throughout, with empty cells late
    frame = pd.DataFrame({"x": rng.normal(size=n).round(3), "whole": rng.integers(0, 9, n), "k": k, "flag": flag})
    frame.loc[600:, "x"] = frame.loc[600:, "x"].round()  # whole numbers in some chunks: decimals as a whole
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    monkeypatch.setattr(data_mod, "READ_CHUNK_ROWS", 150)
    everything = read_csv_sample(path, 10 * n, 0.3, seed=4)  # a bound no side reaches: every row, with its side
    sample = read_csv_sample(path, 200, 0.3, seed=4)
    read, chunks = zip(*read_csv_training_side(path, 0.3, 4, sample.types))
    assert all(len(chunk) <= 150 for chunk in chunks) and len(chunks) > 1
    assert list(read) == sorted(read) and read[-1] == n  # the rows of the file read so far
    side = pd.concat(chunks, ignore_index=True)
    expected = everything.frame[~everything.held_out].reset_index(drop=True)
    pd.testing.assert_frame_equal(side, expected)
    assert (side.dtypes == sample.frame.dtypes).all() and side["k"].str.startswith("0").all()
    # the sample's training rows are among them, and no held-out row is
    keys = side.astype(str).agg("|".join, axis=1)
    assert sample.frame[~sample.held_out].astype(str).agg("|".join, axis=1).isin(keys).all()
    assert not sample.frame[sample.held_out].astype(str).agg("|".join, axis=1).isin(keys).any()


def test_take_rows_keeps_types_and_gives_up_the_columns_it_consumes():
    X = pd.DataFrame({"kind": pd.Categorical(list("abcab")), "value": np.arange(5.0), "text": list("vwxyz")})
    original = X.copy()
    picked, sliced = take_rows(X, [np.array([4, 0, 2]), slice(1, 3)])
    pd.testing.assert_frame_equal(picked, original.iloc[[4, 0, 2]].reset_index(drop=True))
    pd.testing.assert_frame_equal(sliced, original.iloc[1:3].reset_index(drop=True))
    assert np.shares_memory(sliced["value"].to_numpy(), X["value"].to_numpy())  # a slice is a view
    pd.testing.assert_frame_equal(X, original)  # not consumed: left as it was
    parts = take_rows(X, [np.array([0, 1]), np.array([2, 3, 4])], consume=True)
    assert X.shape == (5, 0) and [len(p) for p in parts] == [2, 3]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), original)


def test_align_does_not_copy_the_rows_nor_change_the_callers_frame(teachers, magic):
    teacher = load_teacher(teachers["rf_magic"])
    frame = magic.copy()
    frame.index = frame.index + 1000  # an index that is not 0, 1, ...
    before = frame.copy()
    ds = align(frame, teacher, source="x.csv")
    assert list(ds.X.index) == list(range(len(frame))) and ds.n_rows == len(frame)
    name = teacher.feature_names[0]
    assert np.shares_memory(ds.X[name].to_numpy(), frame[name].to_numpy())
    pd.testing.assert_frame_equal(frame, before)


def test_align_orders_columns_and_notes_extras(teachers, magic):
    teacher = load_teacher(teachers["rf_magic"])
    shuffled = magic[list(reversed(magic.columns))].assign(extra=1)
    ds = align(shuffled, teacher, source="x.csv")
    assert list(ds.X.columns) == teacher.feature_names
    assert ds.target == "target" and ds.y is not None
    assert ds.ignored_columns == ["extra"]
    assert any("extra" in n for n in ds.notes)


def test_align_target_option_and_errors(teachers, magic):
    teacher = load_teacher(teachers["rf_magic"])
    renamed = magic.rename(columns={"target": "label"})
    ds = align(renamed, teacher, target="label")
    assert ds.target == "label" and "label" not in ds.X.columns
    # Without --target the label column is just an extra column.
    assert align(renamed, teacher).ignored_columns == ["label"]
    with pytest.raises(InputError, match="target nope"):
        align(magic, teacher, target="nope")
    with pytest.raises(InputError, match="missing 1 column.*FAlpha"):
        align(magic.drop(columns="FAlpha"), teacher, source="m.csv")
    with pytest.raises(InputError, match="infinite"):
        align(magic.assign(FSize=np.inf), teacher)


def test_schema_kinds_ranges_and_categories(california):
    X = california.drop(columns="target")
    schema = Schema.infer(X, categorical={"housing_median_age"})
    assert schema["ocean_proximity"].kind == "categorical"
    assert schema["housing_median_age"].kind == "categorical"  # named with --categorical
    assert schema["total_rooms"].kind == "integer"  # float column holding whole numbers
    assert schema["median_income"].kind == "float"
    assert schema["total_bedrooms"].has_missing
    assert schema["longitude"].minimum == X["longitude"].min()
    assert schema["ocean_proximity"].categories == sorted(X["ocean_proximity"].unique())


def test_schema_conform_respects_the_schema(california):
    X = california.drop(columns="target")
    schema = Schema.infer(X)
    raw = pd.DataFrame({
        "longitude": [-1000.0, 0.0], "latitude": [35.5, 35.5], "housing_median_age": [10.4, 10.6],
        "total_rooms": [1.2, 1e9], "total_bedrooms": [np.nan, 3.0], "population": [5, 5],
        "households": [5, 5], "median_income": [2.5, 2.5], "ocean_proximity": ["INLAND", "MARS"],
    })
    out = schema.conform(raw[list(reversed(raw.columns))])
    assert list(out.columns) == list(X.columns)
    assert out["longitude"].tolist() == [X["longitude"].min(), X["longitude"].max()]
    assert out["housing_median_age"].tolist() == [10.0, 11.0]
    assert out["total_rooms"].max() == X["total_rooms"].max()
    assert np.isnan(out["total_bedrooms"][0])  # missing is allowed where the real data has it
    assert set(out["ocean_proximity"]) <= set(X["ocean_proximity"])  # never an unseen category
    assert out.dtypes.to_dict() == X.dtypes.to_dict()


def test_holdout_split_is_stratified_and_reproducible():
    labels = np.array([0] * 90 + [1] * 10)
    train, test, stratified = holdout_split(100, 0.2, seed=3, stratify=labels)
    assert stratified and len(test) == 20 and len(train) == 80
    assert set(train).isdisjoint(test)
    assert (labels[test] == 1).sum() == 2
    again = holdout_split(100, 0.2, seed=3, stratify=labels)
    assert np.array_equal(test, again[1])
    # A class of one row cannot be stratified: fall back rather than fail.
    _, _, stratified = holdout_split(100, 0.2, seed=3, stratify=np.array([0] * 99 + [1]))
    assert not stratified
    with pytest.raises(InputError, match="at least 10"):
        holdout_split(5, 0.2, seed=0)
