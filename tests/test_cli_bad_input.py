"""Bad input: exit code 2, one clear line naming the file, column or option, and nothing in --out.

Most runs call the console script's ``main`` in this process (the ``cli`` fixture); a few start the installed
script itself, as users do."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import DATA, assert_bad_input, run_cli

FAST = ["--epochs", "1", "--synthetic-ratio", "1"]
# Enough for a run to write a student: no synthetic rows, no baseline, no TSC score, no search of sizes.
LEAN = ["--generator", "none", "--no-baseline", "--no-tsc", "--validation-size", "0"]


@pytest.fixture()
def magic_csv(tmp_path, magic):
    def write(frame: pd.DataFrame, name: str = "data.csv", **kwargs):
        path = tmp_path / name
        frame.to_csv(path, index=False, **kwargs)
        return path
    return write


def test_missing_column(teachers, tmp_path, magic, magic_csv):
    data = magic_csv(magic.drop(columns=["FAlpha", "FDist"]))
    out = tmp_path / "out"
    done = run_cli("distill", teachers["rf_magic"], data, "--out", out)  # the installed script, as users run it
    assert_bad_input(done, str(data), "FAlpha", "FDist", out=out)


def test_validation_data_that_does_not_fit(teachers, tmp_path, magic, magic_csv, cli):
    data, out = magic_csv(magic), tmp_path / "out"
    other = magic_csv(magic.drop(columns=["FAlpha"]), "other.csv")
    assert_bad_input(cli("distill", teachers["rf_magic"], data, "--validation-data", other, "--out", out),
                     str(other), "FAlpha", out=out)
    few = magic_csv(magic.iloc[:10], "few.csv")
    assert_bad_input(cli("distill", teachers["rf_magic"], data, "--validation-data", few, "--out", out),
                     str(few), "10 rows", out=out)
    # a data-free run has no real rows to train candidates on
    assert_bad_input(cli("distill", teachers["rf_magic"], "--validation-data", data, "--out", out),
                     "--validation-data", "data-free", out=out)


def test_empty_csv(teachers, tmp_path, cli):
    data = tmp_path / "empty.csv"
    data.write_text("")
    out = tmp_path / "out"
    assert_bad_input(cli("distill", teachers["rf_magic"], data, "--out", out), str(data), "empty", out=out)


def test_header_only(teachers, tmp_path, magic, cli):
    data = tmp_path / "header.csv"
    data.write_text(",".join(magic.columns) + "\n")
    out = tmp_path / "out"
    assert_bad_input(cli("distill", teachers["rf_magic"], data, "--out", out), str(data), "no rows", out=out)


def test_pickle_that_is_not_a_model(tmp_path, cli):
    teacher = tmp_path / "not_a_model.pkl"
    with open(teacher, "wb") as fh:
        pickle.dump({"weights": [1, 2, 3]}, fh)
    out = tmp_path / "out"
    done = cli("distill", teacher, DATA / "magic_1200.csv", "--out", out)
    assert_bad_input(done, str(teacher), "unsupported model type", "dict", out=out)


def test_unsupported_model_type(tmp_path, magic, cli):
    from sklearn.preprocessing import StandardScaler

    # A fitted transformer: neither predict_proba nor predict (any model with one of them is a teacher)
    teacher = tmp_path / "scaler.joblib"
    joblib.dump(StandardScaler().fit(magic.drop(columns="target")), teacher)
    out = tmp_path / "out"
    done = cli("distill", teacher, DATA / "magic_1200.csv", "--out", out)
    assert_bad_input(done, "StandardScaler", "RandomForestClassifier", out=out)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_teacher_answering_nan_is_one_line_with_the_rows_counted(tmp_path, magic, task, cli):
    """A teacher whose answers hold NaN (here a fitted dummy model given NaN to answer) stops the run with
    one line naming the teacher and counting the rows, not with the student library's error."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    X = magic.drop(columns="target")
    if task == "classification":
        model = DummyClassifier(strategy="prior").fit(X, magic["target"])
        model.class_prior_ = np.full_like(model.class_prior_, np.nan)
    else:
        model = DummyRegressor().fit(X, X["FLength"])
        model.constant_ = np.array([[np.nan]])
    teacher = tmp_path / "nan.joblib"
    joblib.dump(model, teacher)
    out = tmp_path / "out"
    done = cli("distill", teacher, DATA / "magic_1200.csv", "--out", out, "--seed", "0")
    assert_bad_input(done, f"teacher file {teacher}", "answered NaN or infinity for 1,200 of 1,200 rows", out=out)


def test_synthetic_rows_that_cannot_fit_in_memory_are_refused_before_any_is_drawn(teachers, tmp_path):
    # 2,000,000,000 rows of magic's 10 columns and 2 classes: 179 GiB of cells, more than any machine
    # this runs on (the system killed such a run after 90 s, exit 137); a process of its own, so that a
    # check that let it through would not take pytest's memory
    out = tmp_path / "out"
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out,
                   "--synthetic-rows", "2000000000")
    assert_bad_input(done, "--synthetic-rows asks for 2,000,000,000 synthetic rows of 10 columns", "GiB of memory",
                     out=out)
    assert "fitting" not in done.stderr  # refused before the generator


def test_the_memory_check_covers_data_free_runs_and_stands_aside_when_memory_is_unknown(teachers, monkeypatch):
    from tabcompress import Settings, distill
    from tabcompress.errors import SettingError
    from tabcompress.methods import budget

    monkeypatch.setattr(budget, "available_memory", lambda: 1_000_000)  # 1 MB: 20,000 rows do not fit
    with pytest.raises(SettingError, match="synthetic_rows asks for 20,000 synthetic rows"):
        distill(teachers["rf_magic"], None, Settings.from_options(synthetic_rows=20_000))
    monkeypatch.setattr(budget, "available_memory", lambda: None)  # unknown: nothing is refused
    budget.check_rows_fit(10**12, 10, 2, "synthetic_rows")


def test_csv_holding_only_the_target(teachers, tmp_path, magic, magic_csv, cli):
    data = magic_csv(magic[["target"]])
    out = tmp_path / "out"
    done = cli("distill", teachers["rf_magic"], data, "--out", out)
    assert_bad_input(done, str(data), "only the target", out=out)


def test_missing_teacher_file(tmp_path, cli):
    out = tmp_path / "out"
    done = cli("distill", tmp_path / "nope.pkl", DATA / "magic_1200.csv", "--out", out)
    assert_bad_input(done, "nope.pkl", "no such file", out=out)


@pytest.mark.parametrize("option", [None, "--eval-data", "--validation-data"])
def test_a_bad_data_file_is_refused_before_the_teacher_loads(tmp_path, cli, option):
    # the teacher file would be refused too, but only once loaded: a big one takes minutes
    teacher = tmp_path / "teacher.pkl"
    teacher.write_bytes(b"not a pickle")
    bad = tmp_path / "rows.csv"  # missing
    files = [bad] if option is None else [DATA / "magic_1200.csv", option, bad]
    done = cli("distill", teacher, *files, "--out", tmp_path / "out")
    assert_bad_input(done, f"data file {bad}", "no such file", out=tmp_path / "out")


def test_json_that_is_not_an_xgboost_model(tmp_path, cli):
    teacher = tmp_path / "model.json"
    teacher.write_text(json.dumps({"hello": "world"}))
    done = cli("distill", teacher, DATA / "magic_1200.csv", "--out", tmp_path / "out")
    assert_bad_input(done, str(teacher), "XGBoost")


def test_text_in_a_numeric_column(teachers, tmp_path, magic, magic_csv, cli):
    bad = magic.copy()
    bad["FSize"] = bad["FSize"].astype(object)
    bad.loc[7, "FSize"] = "oops"
    data = magic_csv(bad)
    done = cli("distill", teachers["rf_magic"], data, "--out", tmp_path / "out")
    assert_bad_input(done, "FSize", "oops", "numbers only")


def test_duplicate_column_names(teachers, tmp_path, cli):
    data = tmp_path / "dup.csv"
    data.write_text("a,b,a\n1,2,3\n")
    done = cli("distill", teachers["rf_magic"], data, "--out", tmp_path / "out")
    assert_bad_input(done, str(data), "duplicate column names: a")


def test_not_utf8(teachers, tmp_path, cli):
    data = tmp_path / "latin1.csv"
    data.write_bytes("name,value\ncaf\xe9,1\n".encode("latin-1"))
    done = cli("distill", teachers["rf_magic"], data, "--out", tmp_path / "out")
    assert_bad_input(done, str(data), "UTF-8")


def test_semicolon_delimited_hint(teachers, tmp_path, magic, magic_csv, cli):
    data = magic_csv(magic, sep=";")
    done = cli("distill", teachers["rf_magic"], data, "--out", tmp_path / "out")
    assert_bad_input(done, str(data), "semicolon")


def test_directory_instead_of_file(teachers, tmp_path, cli):
    done = cli("distill", teachers["rf_magic"], tmp_path, "--out", tmp_path / "out")
    assert_bad_input(done, str(tmp_path), "directory")


def test_out_is_a_file(teachers, tmp_path, cli):
    out = tmp_path / "taken"
    out.write_text("keep me")
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, *FAST)
    assert_bad_input(done, "--out", "not a directory")
    assert out.read_text() == "keep me"


@pytest.mark.parametrize("option,value,needle", [
    ("--epochs", "0", "--epochs"),
    ("--epochs", "abc", "--epochs"),
    ("--synthetic-ratio", "0", "--synthetic-ratio"),
    ("--synthetic-rows", "-5", "--synthetic-rows"),
    ("--max-depth", "0", "--max-depth"),
    ("--generator", "magic-gan", "--generator"),
    ("--student", "forest", "--student"),
    ("--device", "tpu", "--device"),
    ("--test-size", "1.5", "--test-size"),
    ("--hidden", "64,x", "--hidden"),
    ("--batch-size", "55", "--batch-size"),
    ("--target", "no_such_column", "--target"),
    ("--categorical", "no_such_column", "--categorical"),
    ("--min-fidelity", "2", "--min-fidelity"),
    ("--generator-rows", "-1", "--generator-rows"),
    ("--refine-passes", "-1", "--refine-passes"),
    ("--refine-starts", "0", "--refine-starts"),
    ("--lookahead", "0", "--lookahead"),
    ("--target-fidelity", "0", "--target-fidelity"),
    ("--target-fidelity", "1.5", "--target-fidelity"),
    ("--max-size", "big", "--max-size"),
    ("--max-size", "-3KB", "--max-size"),
    ("--max-latency", "0", "--max-latency"),
    ("--validation-size", "1", "--validation-size"),
    ("--validation-size", "-0.1", "--validation-size"),
    ("--student", "boosted", "--student"),
    ("--dask", "scheduler-without-a-port", "--dask"),
])
def test_bad_option_values(teachers, tmp_path, option, value, needle, cli):
    out = tmp_path / "out"
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, option, value)
    assert_bad_input(done, needle, out=out)


def test_an_unreachable_dask_scheduler_is_one_line_within_the_connection_timeout(teachers, tmp_path):
    import socket
    import time

    pytest.importorskip("distributed")  # without it the run says the extra is missing (the next test)
    # a port that was free a moment ago: nothing listens there, so every connection is refused
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    out = tmp_path / "out"
    started = time.monotonic()
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "--dask", address)
    assert_bad_input(done, "--dask", address, "10 s", out=out)
    # the client gives up after 10 s; the rest is the process starting and stopping on a loaded machine
    assert time.monotonic() - started < 40
    assert not out.exists()


def test_dask_without_the_extra_names_it(teachers, tmp_path, cli, monkeypatch):
    import sys

    # distributed made unimportable for this test only (None in sys.modules makes its import fail)
    monkeypatch.setitem(sys.modules, "distributed", None)
    out = tmp_path / "out"
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "--dask", "tcp://127.0.0.1:8786")
    assert_bad_input(done, "--dask", "pip install 'tabcompress[dask]'", out=out)


def test_cuda_without_a_gpu(teachers, tmp_path, cli):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "out"
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "--device", "cuda",
               "--generator", "ctgan")
    assert_bad_input(done, "--device cuda", "no CUDA GPU", out=out)


def test_infinite_values(teachers, tmp_path, magic, magic_csv, cli):
    bad = magic.copy()
    bad.loc[4, "FLength"] = np.inf
    bad.loc[9, "FLength"] = -np.inf
    data = magic_csv(bad)
    out = tmp_path / "out"
    done = cli("distill", teachers["rf_magic"], data, "--out", out)
    assert_bad_input(done, str(data), "'FLength'", "infinite", out=out)


def test_single_class_target(teachers, tmp_path, magic, magic_csv, cli):
    data = magic_csv(magic.assign(target=1))
    out = tmp_path / "out"
    done = cli("distill", teachers["rf_magic"], data, "--out", out)
    assert_bad_input(done, str(data), "'target' holds a single class (1)", "--target", out=out)


def test_teacher_with_another_feature_count(tmp_path, magic, cli):
    from sklearn.ensemble import RandomForestClassifier

    teacher = tmp_path / "five.joblib"
    X, y = magic.drop(columns="target"), magic["target"]
    joblib.dump(RandomForestClassifier(n_estimators=3, random_state=0).fit(X.iloc[:, :5].to_numpy(), y), teacher)
    out = tmp_path / "out"
    done = cli("distill", teacher, DATA / "magic_1200.csv", "--out", out)
    assert_bad_input(done, "magic_1200.csv", "10 feature column(s)", "5 unnamed features", out=out)


def test_out_that_cannot_be_written(teachers, tmp_path, cli):
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", "/proc/tabcompress-out")
    assert_bad_input(done, "--out /proc/tabcompress-out", "cannot write")
    assert "fitting" not in done.stderr  # refused before any training


def test_column_name_with_a_line_break_stays_on_one_line(teachers, tmp_path, cli):
    data = tmp_path / "newline.csv"
    data.write_text('a,"b\nc","b\nc"\n1,2,3\n')
    done = cli("distill", teachers["rf_magic"], data, "--out", tmp_path / "out")
    assert_bad_input(done, str(data), "duplicate column names: b\\nc")


# -- what must work ---------------------------------------------------------------------------
def test_reordered_extra_columns_bom_and_no_target(teachers, tmp_path, magic):
    frame = magic[list(reversed(magic.columns))].drop(columns="target").assign(comment="x")
    data = tmp_path / "odd.csv"
    data.write_bytes(b"\xef\xbb\xbf" + frame.to_csv(index=False).encode())
    done = run_cli("distill", teachers["rf_magic"], data, "--out", tmp_path / "out", "--json", *LEAN)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["data"]["ignored_columns"] == ["comment"]
    assert report["data"]["target"] is None
    assert "target_accuracy" not in report["metrics"]["student"]
    assert any("comment" in note for note in report["notes"])
    assert "comment" in done.stderr


def test_missing_cells_the_teacher_cannot_take(tmp_path, magic, magic_csv, cli):
    from sklearn.ensemble import GradientBoostingClassifier

    teacher = tmp_path / "gb.joblib"
    X, y = magic.drop(columns="target"), magic["target"]
    joblib.dump(GradientBoostingClassifier(n_estimators=5, random_state=0).fit(X, y), teacher)
    holes = magic.copy()
    holes.loc[3, "FWidth"] = np.nan
    data = magic_csv(holes)
    out = tmp_path / "out"
    done = cli("distill", teacher, data, "--out", out)
    assert_bad_input(done, str(data), "the teacher cannot predict on it", "NaN", out=out)


def test_columns_taken_by_position_are_said_in_the_summary_and_the_json(tmp_path, magic, cli):
    """A teacher fitted without feature names is matched to a CSV by position, which no check can verify:
    distill's closing summary and its JSON say so, and evaluate's summary and notes do too."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = magic.drop(columns="target"), magic["target"]
    teacher = tmp_path / "nameless.joblib"
    joblib.dump(RandomForestClassifier(n_estimators=5, random_state=0).fit(X.to_numpy(), y), teacher)
    out = tmp_path / "out"
    done = cli("distill", teacher, DATA / "magic_1200.csv", "--out", out, "--json", *LEAN)
    assert done.returncode == 0, done.stderr
    summary = done.stderr[done.stderr.index("wall time"):]  # what follows the table, after the progress
    assert "columns matched by position" in " ".join(summary.split())
    report = json.loads(done.stdout)
    assert report["data"]["columns_by_position"] is True
    assert any("file order" in note for note in report["notes"])

    scored = cli("evaluate", out / "student.joblib", teacher, DATA / "magic_1200.csv", "--json")
    assert scored.returncode == 0, scored.stderr
    assert any("columns matched by position" in note for note in json.loads(scored.stdout)["notes"])
    assert "columns matched by position" in " ".join(scored.stderr.split())


def test_named_columns_are_not_said_to_be_taken_by_position(teachers, tmp_path, cli):
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", tmp_path / "out", "--json", *LEAN)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"]["columns_by_position"] is False
    assert "by position" not in done.stderr


# -- compressed CSV files ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def slice_files(tmp_path_factory, magic):
    """A 600-row slice of magic as a plain CSV and compressed as pandas writes it, by suffix."""
    root = tmp_path_factory.mktemp("compressed")
    paths = {}
    suffixes = [".csv", ".csv.gz", ".csv.bz2", ".csv.xz"]
    try:
        import zstandard  # noqa: F401

        suffixes.append(".csv.zst")
    except ImportError:  # pandas needs it for .zst; test_a_zstandard_csv_without_the_module_names_it
        pass
    for suffix in suffixes:
        paths[suffix] = root / f"slice{suffix}"
        magic.iloc[:600].to_csv(paths[suffix], index=False)
    return paths


def test_compressed_csvs_give_the_student_the_plain_csv_gives(teachers, tmp_path, slice_files, cli):
    metrics = {}
    for suffix, data in slice_files.items():
        done = cli("distill", teachers["rf_magic"], data, "--out", tmp_path / suffix, *LEAN, "--seed", "0", "--json",
                   "-q")
        assert done.returncode == 0, (suffix, done.stderr)
        report = json.loads(done.stdout)
        metrics[suffix] = (report["metrics"], report["data"]["rows"], report["student"]["n_leaves"])
    assert metrics[".csv"][1] == 600
    for suffix in slice_files:
        assert metrics[suffix] == metrics[".csv"], suffix


def test_condense_and_score_read_compressed_csvs(teachers, tmp_path, slice_files, cli):
    plain = tmp_path / "plain.csv"
    done = cli("condense", slice_files[".csv"], "--out", plain, "--per-class", "3")
    assert done.returncode == 0, done.stderr
    packed = tmp_path / "packed.csv"
    done = cli("condense", slice_files[".csv.gz"], "--out", packed, "--per-class", "3")
    assert done.returncode == 0, done.stderr
    assert packed.read_text() == plain.read_text()
    done = cli("score", slice_files[".csv.bz2"], teachers["rf_magic"], slice_files[".csv.gz"], "--json", "-q")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"]["real_rows"] == 600


def _cut(raw: bytes) -> bytes:
    return raw[: len(raw) * 2 // 3]  # the header survives, the rows end mid-stream


def _scrambled(raw: bytes) -> bytes:
    middle = len(raw) // 2
    return raw[:middle] + bytes(b ^ 0xFF for b in raw[middle:middle + 200]) + raw[middle + 200:]


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz"])
@pytest.mark.parametrize("damage", [_cut, _scrambled, lambda raw: bytes(range(256)) * 8])
def test_a_damaged_compressed_csv_is_one_line(teachers, tmp_path, slice_files, suffix, damage, cli):
    data = tmp_path / f"damaged{suffix}"
    data.write_bytes(damage(slice_files[suffix].read_bytes()))
    out = tmp_path / "out"
    done = cli("distill", teachers["rf_magic"], data, "--out", out, "--generator", "none")
    assert_bad_input(done, f"data file {data}", "cannot be read", out=out)


def test_a_zstandard_csv_without_the_module_names_it(teachers, tmp_path, cli):
    try:
        import zstandard  # noqa: F401
        pytest.skip("zstandard is installed here")
    except ImportError:
        pass
    data = tmp_path / "rows.csv.zst"
    data.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 64)
    done = cli("distill", teachers["rf_magic"], data, "--out", tmp_path / "out")
    assert_bad_input(done, f"data file {data}: cannot be read", "'zstandard'")  # the module, quoted


# -- every numeric option of every command ----------------------------------------------------
def _numeric_options():
    """(command, flag, values out of every range) for each numeric option of each command, found by
    walking the app: an option added later is covered without editing this list."""
    import typer.main

    from tabcompress.cli import app
    from tabcompress.config import OPTIONS, Size, option_field

    cases = []
    for name, command in sorted(typer.main.get_command(app).commands.items()):
        for param in command.params:
            if param.param_type_name != "option" or param.is_flag:
                continue
            kind = param.type_descriptor.annotation
            if kind is int:  # below every lower bound; past a C int; past a 64-bit int
                values = ["-1", "4294967296", "100000000000000000000"]
            elif kind is float:
                values = ["-1", "nan", "inf", "-inf"]
            elif param.name in OPTIONS and isinstance(option_field(param.name).metadata["constraint"], Size):
                values = ["-1", "nan", "1e400"]
            else:
                continue
            cases += [(name, param.opts[0], value) for value in values]
    return cases


def test_every_numeric_option_refuses_values_out_of_range_in_one_line(tmp_path, cli):
    """Each numeric option of each command, given a value no run can take, is refused by the option
    checks before any file is read: the inputs named here do not even exist, so an option that is not
    checked up front shows up as an error about them (or as an unexpected error, exit 1)."""
    missing = {"teacher": tmp_path / "teacher.joblib", "student": tmp_path / "student.joblib",
               "data": tmp_path / "rows.csv"}
    arguments = {
        "condense": [missing["data"], "--out", tmp_path / "p.csv"],
        "distill": [missing["teacher"], missing["data"], "--out", tmp_path / "out"],
        "evaluate": [missing["student"], missing["teacher"], missing["data"]],
        "predict": [missing["student"], missing["data"]],
        "score": [missing["data"], missing["teacher"], missing["data"]],
    }
    cases = _numeric_options()
    assert {command for command, _, _ in cases} == set(arguments)  # a new command with numbers: add it above
    assert len(cases) > 100
    wrong = []
    for command, flag, value in cases:
        done = cli(command, *arguments[command], flag, value)
        lines = done.stderr.strip().splitlines()
        ok = (done.returncode == 2 and len(lines) == 1 and lines[0].startswith("tabcompress: error: ")
              and flag in lines[0] and "unexpected" not in lines[0] and done.stdout == "")
        if not ok:
            wrong.append(f"{command} {flag} {value}: exit {done.returncode}: {done.stderr.strip()[:200]}")
    assert not wrong, "\n".join(wrong)
    assert not (tmp_path / "out").exists() and not (tmp_path / "p.csv").exists()


# -- damaged or wrong-format files, for every loader ------------------------------------------
@pytest.fixture(scope="module")
def model_files(tmp_path_factory, magic):
    """One valid teacher file for each kind of file the loaders read, fitted on magic, by name."""
    import catboost
    import lightgbm
    import skops.io
    import xgboost
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier

    root = tmp_path_factory.mktemp("model-files")
    X, y = magic.drop(columns="target"), magic["target"]
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    files = {}
    for suffix in (".pkl", ".pickle", ".joblib"):
        files[f"forest{suffix}"] = root / f"forest{suffix}"
        joblib.dump(forest, files[f"forest{suffix}"])
    files["forest.skops"] = root / "forest.skops"
    skops.io.dump(forest, files["forest.skops"])
    files["forest.onnx"] = root / "forest.onnx"
    files["forest.onnx"].write_bytes(to_onnx(forest, X.to_numpy(np.float32)[:1]).SerializeToString())
    booster = xgboost.XGBClassifier(n_estimators=5, max_depth=3).fit(X, y)
    for suffix in (".json", ".ubj"):
        files[f"xgboost{suffix}"] = root / f"xgboost{suffix}"
        booster.save_model(files[f"xgboost{suffix}"])
    files["lightgbm.txt"] = root / "lightgbm.txt"
    lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y).booster_.save_model(files["lightgbm.txt"])
    cat = catboost.CatBoostClassifier(iterations=5, verbose=False, allow_writing_files=False).fit(X, y)
    files["catboost.cbm"] = root / "catboost.cbm"
    cat.save_model(str(files["catboost.cbm"]))
    files["catboost.json"] = root / "catboost.json"
    cat.save_model(str(files["catboost.json"]), format="json")
    return files


@pytest.fixture(scope="module")
def student_files(tmp_path_factory, model_files):
    """A valid student file of each format, as distill writes it (the library's call: these are only
    files to damage)."""
    from tabcompress import distill

    root = tmp_path_factory.mktemp("student-files")
    files = {}
    for fmt in ("joblib", "skops"):
        distill(model_files["forest.pkl"], DATA / "magic_1200.csv", out_dir=root / fmt, generator="none",
                baseline=False, tsc=False, validation_size=0, student_format=fmt)
        files[f"student.{fmt}"] = root / fmt / f"student.{fmt}"
        assert files[f"student.{fmt}"].is_file()
    return files


def _damaged(path, damage, valid):
    """``path`` written as ``damage`` of the bytes of ``valid``: random bytes, the file cut in the middle of
    a line, an empty file, or a directory by that name."""
    raw = valid.read_bytes()
    if damage == "random bytes":  # binary from the first byte on, which is no text in any encoding
        path.write_bytes(b"\x93" + np.random.default_rng(0).bytes(4095))
    elif damage == "truncated":
        cut = len(raw) // 2
        while raw[cut - 1:cut + 1].count(b"\n"):  # not at a line end: a CSV cut there is merely shorter
            cut += 1
        path.write_bytes(raw[:cut])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.mkdir()
    return path


DAMAGES = ["random bytes", "truncated", "empty", "directory"]


def test_every_kind_of_teacher_file_is_covered(model_files):
    from tabcompress.teachers.load import PICKLE_SUFFIXES, SKOPS_SUFFIXES, native_suffixes

    read = set(PICKLE_SUFFIXES + SKOPS_SUFFIXES + native_suffixes())
    assert {Path(name).suffix for name in model_files} == read  # a new kind of file: add a valid one above


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", ["forest.pkl", "forest.pickle", "forest.joblib", "forest.skops", "forest.onnx",
                                  "xgboost.json", "xgboost.ubj", "lightgbm.txt", "catboost.cbm", "catboost.json"])
def test_a_damaged_teacher_file_is_one_line(model_files, cli, tmp_path, name, damage):
    teacher = _damaged(tmp_path / f"damaged-{name}", damage, model_files[name])
    out = tmp_path / "out"
    done = cli("distill", teacher, DATA / "magic_1200.csv", "--out", out, "--generator", "none")
    assert_bad_input(done, f"tabcompress: error: teacher file {teacher}: ", out=out)  # the file, not the rows


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("command", ["predict", "inspect"])
@pytest.mark.parametrize("name", ["student.joblib", "student.skops"])
def test_a_damaged_student_file_is_one_line(student_files, cli, tmp_path, name, command, damage):
    student = _damaged(tmp_path / name, damage, student_files[name])
    rows = [DATA / "magic_1200.csv", "--out", tmp_path / "p.csv"] if command == "predict" else []
    done = cli(command, student, *rows)
    assert_bad_input(done, f"tabcompress: error: student file {student}: ")
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("command", ["distill", "distill --eval-data", "distill --validation-data", "predict",
                                     "evaluate", "condense", "score synthetic", "score real"])
def test_a_damaged_csv_is_one_line(model_files, student_files, cli, tmp_path, command, damage):
    rows = _damaged(tmp_path / "rows.csv", damage, DATA / "magic_1200.csv")
    good, teacher, student = DATA / "magic_1200.csv", model_files["forest.pkl"], student_files["student.joblib"]
    out = tmp_path / "out"
    args = {"distill": ["distill", teacher, rows, "--out", out, "--generator", "none"],
            "distill --eval-data": ["distill", teacher, good, "--eval-data", rows, "--out", out, "--generator", "none"],
            "distill --validation-data": ["distill", teacher, good, "--validation-data", rows, "--out", out,
                                          "--generator", "none"],
            "predict": ["predict", student, rows, "--out", tmp_path / "p.csv"],
            "evaluate": ["evaluate", student, teacher, rows],
            "condense": ["condense", rows, "--out", tmp_path / "p.csv"],
            "score synthetic": ["score", rows, teacher, good],
            "score real": ["score", good, teacher, rows]}[command]
    done = cli(*args)
    assert_bad_input(done, f"tabcompress: error: data file {rows}: ", out=out)
    assert not (tmp_path / "p.csv").exists()
