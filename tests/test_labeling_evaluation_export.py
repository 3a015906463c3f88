from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from tabcompress import evaluation
from tabcompress.errors import InputError
from tabcompress.export import check_out_dir, write_outputs
from tabcompress.report import to_json
from tabcompress.teachers import load_teacher
from tabcompress.teachers.labeling import label_rows


def test_label_rows_in_chunks_equals_one_call(teachers, magic, house):
    teacher = load_teacher(teachers["rf_magic"])
    X = magic.drop(columns="target")
    whole = teacher.predict_proba(X)
    np.testing.assert_allclose(label_rows(teacher, X, chunk_rows=97), whole)
    assert label_rows(teacher, X, chunk_rows=97).shape == (len(X), 2)
    regressor = load_teacher(teachers["rf_house"])
    Xh = house.drop(columns="target")
    np.testing.assert_allclose(label_rows(regressor, Xh, chunk_rows=50), regressor.predict(Xh))


def test_fidelity_and_target_metrics():
    assert evaluation.fidelity("binary", np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]))["fidelity"] == 0.75
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    out = evaluation.fidelity("regression", ref, ref + 1.0)
    assert out["rmse"] == pytest.approx(1.0)
    assert out["r2"] == pytest.approx(1 - 4 / 5) and out["fidelity"] == out["r2"]
    assert evaluation.against_target("multiclass", np.array(["a", "b"]), np.array(["a", "a"])) == {"accuracy": 0.5}


def test_align_target_matches_labels_through_text():
    y, note = evaluation.align_target(pd.Series([1, 0, 1]), np.array(["0", "1"]))
    assert note is None and list(y) == ["1", "0", "1"]
    y, note = evaluation.align_target(pd.Series(["x", "y"]), np.array([0, 1]))
    assert y is None and "not among the teacher's classes" in note


def test_latency_reports_medians(magic):
    out = evaluation.latency(lambda frame: frame.sum(), magic, batch_repeats=3, single_repeats=3)
    assert out["batch_rows"] == len(magic) and out["batch_ms"] > 0 and out["single_row_ms"] > 0
    many = pd.concat([magic] * (evaluation.metrics.LATENCY_BATCH_ROWS // len(magic) + 1), ignore_index=True)
    timed = []
    out = evaluation.latency(lambda frame: timed.append(len(frame)), many, batch_repeats=2, single_repeats=1)
    # a large held-out set is timed on its first rows only
    assert out["batch_rows"] == evaluation.metrics.LATENCY_BATCH_ROWS
    assert set(timed) == {evaluation.metrics.LATENCY_BATCH_ROWS, 1}


def test_write_outputs_is_complete_and_leaves_no_temporaries(tmp_path):
    out = tmp_path / "a" / "b"
    report = {"x": np.float64(0.5), "bad": float("nan"), "n": np.int64(3)}
    paths = write_outputs(out, {"model": [1, 2]}, report)
    assert sorted(os.listdir(out)) == ["report.json", "student.joblib"]
    assert json.loads((out / "report.json").read_text()) == {"x": 0.5, "bad": None, "n": 3}
    assert paths["student"].endswith("student.joblib")


def test_write_outputs_failure_leaves_nothing(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise OSError(28, "No space left on device")

    out = tmp_path / "out"
    with pytest.raises(InputError, match="out_dir .*No space left on device"):
        write_outputs(out, Unpicklable(), {})
    assert not out.exists()  # created for the run, removed again: nothing half-written

    out.mkdir()
    (out / "student.joblib").write_text("previous run")
    with pytest.raises(InputError):
        write_outputs(out, Unpicklable(), {})
    assert os.listdir(out) == ["student.joblib"]
    assert (out / "student.joblib").read_text() == "previous run"


def test_check_out_dir(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        check_out_dir(tmp_path / "file")
    assert check_out_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"


def test_report_json_is_strict():
    text = to_json({"a": [np.float32(1.5), float("inf")], "b": {"c": np.bool_(True)}})
    assert json.loads(text) == {"a": [1.5, None], "b": {"c": True}}


def test_labels_of_a_multithreaded_forest_are_repeatable(magic):
    from sklearn.ensemble import RandomForestClassifier

    from tabcompress.teachers import Teacher

    X, y = magic.drop(columns="target"), magic["target"]
    # Fractional leaves from min_samples_leaf: two threads adding them up in varying order give
    # probabilities that differ in the last bit from call to call (seen on every call here).
    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=3, n_jobs=2, random_state=0).fit(X, y)
    teacher = Teacher.from_model(forest)
    first = label_rows(teacher, X)
    for _ in range(4):
        # Bit-for-bit: a forest adding its trees' votes from two threads does not manage this.
        assert np.array_equal(label_rows(teacher, X, chunk_rows=333), first)
    assert forest.n_jobs == 2  # the user's model is left as it was
    np.testing.assert_allclose(first, forest.predict_proba(X), rtol=0, atol=1e-12)


def test_check_out_dir_tries_a_file_for_real():
    # /proc refuses new files even to root, whose permission bits say yes.
    with pytest.raises(InputError, match="out_dir /proc/tabcompress-out: cannot write in /proc"):
        check_out_dir("/proc/tabcompress-out")


def test_outputs_take_their_names_under_the_directory_lock(tmp_path):
    import fcntl
    import threading

    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another run is renaming its outputs
    writer = threading.Thread(target=write_outputs, args=(out, {"run": "b"}, {"run": "b"}))
    writer.start()
    writer.join(timeout=1.0)
    assert writer.is_alive() and not (out / "report.json").exists()  # both files wait for the lock
    os.close(fd)
    writer.join(timeout=10)
    assert not writer.is_alive() and sorted(os.listdir(out)) == ["report.json", "student.joblib"]


def _write_many(out: str, run: int, times: int) -> None:
    for i in range(times):
        write_outputs(out, {"run": run, "i": i, "pad": list(range(20_000))}, {"run": run, "i": i})


def test_two_runs_writing_one_out_leave_one_runs_pair(tmp_path):
    import multiprocessing

    import joblib

    out = tmp_path / "out"
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_write_many, args=(str(out), run, 40)) for run in (1, 2)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=120)
        assert w.exitcode == 0
    student, report = joblib.load(out / "student.joblib"), json.loads((out / "report.json").read_text())
    assert (student["run"], student["i"]) == (report["run"], report["i"]) and report["i"] == 39
    assert sorted(os.listdir(out)) == ["report.json", "student.joblib"]  # no stray temporaries
