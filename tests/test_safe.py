"""Untrusted model files: --safe (or TABCOMPRESS_SAFE) refuses pickles and reads only formats that
cannot run code — .skops with a list of trusted types, XGBoost .json/.ubj — and saves the student as
.skops."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import joblib
import numpy as np
import pytest
import skops.io
from conftest import DATA, assert_bad_input, run_cli

from tabcompress import InputError, Settings, load_student, load_teacher

FAST = ["--epochs", "1", "--synthetic-ratio", "1"]
# Runs about loading the teacher or saving the student: no synthetic rows, no size search, baseline or TSC.
LEAN = ["--generator", "none", "--validation-size", "0", "--no-baseline", "--no-tsc"]


def pickle_warnings(stderr: str) -> list[str]:
    """The lines of ``stderr`` that say a pickle teacher runs its code and that --safe avoids it."""
    return [line for line in stderr.splitlines() if "is a pickle: loading it runs its code" in line
            and "--safe" in line]


class NotAModel:
    """A type no one has told tabcompress to trust."""

    def __init__(self):
        self.payload = [1, 2, 3]


@pytest.fixture(scope="module")
def skops_teacher(teachers, tmp_path_factory):
    path = tmp_path_factory.mktemp("skops") / "pipe_bank.skops"
    skops.io.dump(joblib.load(teachers["pipe_bank"]), path)
    return path


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_safe_refuses_pickles(teachers, tmp_path, how):
    out = tmp_path / "out"
    args = ["distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, *FAST]
    if how == "flag":
        done = run_cli(*args, "--safe")
    else:
        done = subprocess.run([sys.executable, "-m", "tabcompress", *map(str, args)], capture_output=True, text=True,
                              env={**os.environ, "TABCOMPRESS_SAFE": "1", "NO_COLOR": "1"}, timeout=300)
    assert_bad_input(done, str(teachers["rf_magic"]), "--safe refuses pickle", ".skops", out=out)


def test_safe_run_from_a_skops_pipeline_writes_a_skops_student(skops_teacher, teachers, tmp_path, bank, cli):
    data = DATA / "bank_1500.csv"
    # a size search (for frontier.png) over MUNGE rows; no baseline or TSC
    options = [*FAST, "--generator", "munge", "--no-baseline", "--no-tsc"]
    done = run_cli("distill", skops_teacher, data, "--out", tmp_path / "safe", "--safe", "--json", *options)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["outputs"]["student"].endswith("student.skops")
    assert sorted(os.listdir(tmp_path / "safe")) == ["frontier.png", "report.json", "student.skops"]
    assert pickle_warnings(done.stderr) == []
    # The same run from the pickled teacher, student saved with joblib: the same student.
    done = cli("distill", teachers["pipe_bank"], data, "--out", tmp_path / "pickled", *options)
    assert done.returncode == 0, done.stderr
    assert len(pickle_warnings(done.stderr)) == 1
    X = bank.drop(columns="target")
    from_skops = load_student(tmp_path / "safe" / "student.skops")
    from_joblib = load_student(tmp_path / "pickled" / "student.joblib")
    np.testing.assert_array_equal(from_skops.predict_proba(X), from_joblib.predict_proba(X))


def test_skops_student_of_an_mlp_round_trips(teachers, tmp_path, magic, cli):
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", tmp_path / "o",
               "--student", "mlp", "--hidden", "8", "--student-format", "skops", *LEAN)
    assert done.returncode == 0, done.stderr
    student = load_student(tmp_path / "o" / "student.skops")
    assert student.predict(magic.drop(columns="target")).shape == (len(magic),)


def test_xgboost_json_teacher_under_safe(teachers, tmp_path, cli):
    path = tmp_path / "xgb.json"
    joblib.load(teachers["xgb_magic"]).save_model(path)
    done = cli("distill", path, DATA / "magic_1200.csv", "--out", tmp_path / "o", "--safe", *LEAN)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o" / "student.skops").exists()
    assert pickle_warnings(done.stderr) == []


def test_loading_a_pickle_teacher_says_so_once_as_it_happens(teachers, tmp_path, cli):
    """distill, score and evaluate each print one line when they unpickle the teacher; -q silences it."""
    teacher, data, out = teachers["rf_magic"], DATA / "magic_1200.csv", tmp_path / "o"
    runs = {"distill": ["distill", teacher, data, "--out", out, *LEAN],
            "score": ["score", data, teacher, data],
            "evaluate": ["evaluate", out / "student.joblib", teacher, data]}
    for name, args in runs.items():
        done = cli(*args)
        assert done.returncode == 0, done.stderr
        assert len(pickle_warnings(done.stderr)) == 1, (name, done.stderr)
        quiet = cli(*args, "-q")
        assert quiet.returncode == 0 and pickle_warnings(quiet.stderr) == [], (name, quiet.stderr)
        if name == "distill":  # said while the teacher loads, not after the run
            lines = done.stderr.splitlines()
            at = lines.index(pickle_warnings(done.stderr)[0])
            assert lines[at - 1] == "→ loading the teacher" and lines[at + 1].startswith("  done in"), lines[:4]


def test_skops_file_with_an_untrusted_type_is_refused(tmp_path, cli):
    path = tmp_path / "evil.skops"
    skops.io.dump(NotAModel(), path)
    out = tmp_path / "out"
    done = cli("distill", path, DATA / "magic_1200.csv", "--out", out, "--safe")
    assert_bad_input(done, str(path), "does not trust", "NotAModel", out=out)
    with pytest.raises(InputError, match="does not trust"):
        load_student(path)


def test_damaged_skops_file(tmp_path, skops_teacher):
    path = tmp_path / "cut.skops"
    path.write_bytes(skops_teacher.read_bytes()[:3000])
    with pytest.raises(InputError, match="not a readable skops file"):
        load_teacher(path, safe=True)


def test_unknown_student_format():
    with pytest.raises(InputError, match="student_format must be one of"):
        Settings.from_options(student_format="pickle").validate()
