"""Where the outputs go: a killed run's temporary files are removed by the next run, and ``--out`` is
checked for every way it can fail before any work is done."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import DATA, assert_bad_input, run_cli

# A run that writes a student and its report quickly: no synthetic rows, baseline, TSC score or search of sizes.
FAST = ["--generator", "none", "--no-baseline", "--no-tsc", "--validation-size", "0", "--seed", "0"]
LOADING = "loading the teacher"


def _plant(directory, names, age_s=3600):
    """Files named ``names`` in ``directory``, last written ``age_s`` seconds ago."""
    directory.mkdir(exist_ok=True)
    for name in names:
        path = directory / name
        path.write_text("left behind")
        then = time.time() - age_s
        os.utime(path, (then, then))


@pytest.fixture()
def locked_by_another_process():
    """Start a process that holds an exclusive flock on a file (as a live run holds its temporary
    files) until the test ends."""
    holders = []

    def hold(path):
        code = ("import fcntl, os, sys, time\n"
                "fd = os.open(sys.argv[1], os.O_RDWR)\n"
                "fcntl.flock(fd, fcntl.LOCK_EX)\n"
                "print('locked', flush=True)\n"
                "time.sleep(600)\n")
        holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
        holders.append(holder)
        assert holder.stdout.readline().strip() == "locked"
        return holder

    yield hold
    for holder in holders:
        holder.kill()
        holder.wait()


# -- leftover temporary files ------------------------------------------------------------------------
STALE = [".student.joblib.abcd1234.tmp", ".student.skops.x_9k2m0q.tmp", ".report.json.zzzzzzzz.tmp",
         ".frontier.png.a1b2c3d4.tmp"]
# Not ours: other names, the random part of another length, a suffix after .tmp, another file's temps.
FOREIGN = [".report.json.abc.tmp", ".report.json.abcd1234.tmp.bak", "report.json.abcd1234.tmp",
           ".data.csv.abcd1234.tmp", "notes.tmp", ".student.joblib.ABCD1234.tmp"]


def test_a_killed_runs_temporary_files_are_removed_by_the_next_run(teachers, tmp_path, locked_by_another_process):
    out = tmp_path / "out"
    _plant(out, STALE + FOREIGN + [".report.json.live1234.tmp"])
    locked_by_another_process(out / ".report.json.live1234.tmp")  # a live run writing its report
    _plant(out, [".student.joblib.new12345.tmp"], age_s=-3600)  # written after this run started
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "-q", *FAST)
    assert done.returncode == 0, done.stderr
    left = {path.name for path in out.iterdir()}
    assert not left & set(STALE)
    assert set(FOREIGN) | {".report.json.live1234.tmp", ".student.joblib.new12345.tmp"} <= left
    assert {"student.joblib", "report.json"} <= left


def test_the_temporary_file_of_a_process_killed_while_writing_is_removed(teachers, tmp_path):
    """A process killed with SIGKILL while it holds its temporary report (as a run does while writing)
    leaves the file behind; its lock dies with it, so the next run removes the file."""
    out = tmp_path / "out"
    out.mkdir()
    code = ("import os, signal, sys\n"
            "from pathlib import Path\n"
            "from tabcompress.export.files import _locked_temp\n"
            "with _locked_temp(Path(sys.argv[1]), 'report.json') as tmp:\n"
            "    Path(tmp).write_text('{\"half\": ')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    (left,) = out.iterdir()
    assert left.name.startswith(".report.json.") and left.name.endswith(".tmp")
    time.sleep(0.05)  # the next run starts after the file was last written
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "-q", *FAST)
    assert done.returncode == 0, done.stderr
    assert not left.exists() and (out / "report.json").exists()


def test_a_killed_runs_temporary_file_beside_an_out_file_is_removed(tmp_path, cli):
    out_dir = tmp_path / "protos"
    _plant(out_dir, [".p.csv.abcd1234.tmp", ".other.csv.abcd1234.tmp"])
    done = cli("condense", DATA / "magic_1200.csv", "--out", out_dir / "p.csv", "--per-class", "3")
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in out_dir.iterdir()) == [".other.csv.abcd1234.tmp", "p.csv"]


def test_a_run_holds_a_lock_on_its_temporary_files_while_writing(tmp_path):
    """What makes removing leftovers safe: while a temporary file is being written, another process
    cannot lock it, so the cleaner leaves it alone; once the writer is gone, it can."""
    from tabcompress.export import remove_stale_temps, write_file_atomic

    target = tmp_path / "big.csv"
    seen = []

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write("a\n")
        seen.append(remove_stale_temps(tmp_path, ["big.csv"], older_than=time.time() + 3600))

    write_file_atomic(target, write)
    assert seen == [[]] and target.read_text() == "a\n"


# -- --out checked before any work -------------------------------------------------------------------
def _dangling(tmp_path):
    out = tmp_path / "link"
    out.symlink_to(tmp_path / "gone")
    return out, "symbolic link"


def _loop(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a" / "out", "loop"


def _under_a_dangling_link(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    return tmp_path / "link" / "out", "symbolic link"


def _student_is_a_directory(tmp_path):
    (tmp_path / "out" / "student.joblib").mkdir(parents=True)
    return tmp_path / "out", "student.joblib is a directory"


def _report_is_a_directory(tmp_path):
    (tmp_path / "out" / "report.json").mkdir(parents=True)
    return tmp_path / "out", "report.json is a directory"


def _under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    return tmp_path / "file" / "out", "is not a directory"


@pytest.mark.parametrize("make", [_dangling, _loop, _under_a_dangling_link, _student_is_a_directory,
                                  _report_is_a_directory, _under_a_file])
def test_out_that_cannot_work_fails_before_the_teacher_is_loaded(teachers, tmp_path, make, cli):
    out, needle = make(tmp_path)
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, *FAST)
    assert_bad_input(done, f"--out {out}", needle)
    assert LOADING not in done.stderr


def test_a_skops_student_that_is_a_directory_fails_before_the_teacher_is_loaded(teachers, tmp_path, cli):
    out = tmp_path / "out"
    (out / "student.skops").mkdir(parents=True)
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "--student-format",
               "skops", *FAST)
    assert_bad_input(done, f"--out {out}", "student.skops is a directory")
    assert LOADING not in done.stderr
    assert list(out.iterdir()) == [out / "student.skops"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory anyway")
def test_an_unwritable_out_fails_before_the_teacher_is_loaded(teachers, tmp_path, cli):
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o500)
    try:
        done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, *FAST)
    finally:
        out.chmod(0o700)
    assert_bad_input(done, f"--out {out}", "permission denied")
    assert LOADING not in done.stderr


def _missing_directory(tmp_path):
    return tmp_path / "no", "does not exist"


@pytest.mark.parametrize("command", ["condense", "predict"])
@pytest.mark.parametrize("make", [_dangling, _under_a_file, _missing_directory])
def test_an_out_file_that_cannot_be_written_fails_before_the_input_is_read(tmp_path, command, make, cli):
    """--out is checked first: the input named here does not exist, and the error is still about --out."""
    directory, needle = make(tmp_path)
    out = directory / "x.csv"
    missing = tmp_path / "missing.csv"
    args = ["condense", missing] if command == "condense" else ["predict", tmp_path / "student.joblib", missing]
    done = cli(*args, "--out", out)
    assert_bad_input(done, f"--out {out}", needle)
