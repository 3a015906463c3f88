from __future__ import annotations

import io
import os
import signal
import subprocess
import time

from conftest import DATA, tabcompress_cmd
from rich.console import Console

from tabcompress.progress import RichProgress
from tabcompress.report import render_summary


def _report(task: str) -> dict:
    latency = {"batch_rows": 100, "batch_ms": 12.5, "single_row_ms": 1.25}
    metrics = {"fidelity": 0.91, "target_accuracy": 0.8} if task != "regression" else {
        "fidelity": 0.9, "r2": 0.9, "rmse": 3.0, "target_r2": 0.7, "target_rmse": 5.0}
    teacher = {"target_accuracy": 0.85} if task != "regression" else {"target_r2": 0.8, "target_rmse": 4.0}
    student = ({"serialized_bytes": 2048, "n_nodes": 127, "n_leaves": 64, "depth": 6, "latency": latency}
               if task != "regression" else {"serialized_bytes": 9000, "n_parameters": 4865, "latency": latency})
    return {
        "task": task, "metrics": {"student": metrics, "baseline": metrics, "teacher": teacher},
        "data": {"test_rows": 100},
        "teacher": {"serialized_bytes": 5_000_000, "n_trees": 300, "n_leaves": 90_000, "latency": latency},
        "student": student, "timings_s": {"generator_fit": 3.0, "total": 4.0},
        "gate": {"min_fidelity": 0.95, "passed": False},
    }


def _render(report: dict) -> str:
    buffer = io.StringIO()
    render_summary(report, Console(file=buffer, width=100, color_system=None))
    return buffer.getvalue()


def test_summary_classification():
    text = _render(_report("binary"))
    assert "fidelity (agreement)" in text and "0.9100" in text
    assert "4.8 MiB" in text and "2.0 KiB" in text and "90,000" in text
    assert "FAILED" in text and "wall time 4.0 s" in text


def test_summary_regression():
    text = _render(_report("regression"))
    assert "fidelity (R² to teacher)" in text and "RMSE to target" in text and "4,865 weights" in text


def test_progress_without_terminal_prints_stage_lines_only():
    buffer = io.StringIO()
    progress = RichProgress(Console(file=buffer, width=100, color_system=None))
    with progress.stage("fitting", "3 epochs"):
        for done in range(1, 4):
            progress.advance(done, 3)
    progress.note("something")
    text = buffer.getvalue()
    assert "→ fitting (3 epochs)" in text and "done in" in text and "note: something" in text
    assert "\r" not in text and "━" not in text  # no animated bar in a log


def _default_signal_handling() -> None:
    """In the child, before exec: a test suite started in the background by a non-interactive shell
    inherits SIGINT as ignored, and Python keeps it ignored; a user's terminal does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _signal_during(stage: str, sig: int, options: list[str], out, teacher) -> tuple[int, str]:
    """Start a run, send ``sig`` a moment after ``stage`` begins; return its exit code and stderr."""
    proc = subprocess.Popen(tabcompress_cmd() + ["distill", str(teacher), str(DATA / "magic_1200.csv"),
                                                 "--out", str(out), *options],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"},
                            preexec_fn=_default_signal_handling)
    seen = []
    deadline = time.time() + 120
    for line in proc.stderr:
        seen.append(line)
        if stage in line or time.time() > deadline:
            break
    time.sleep(1.0)  # inside the stage, which lasts many seconds (each second here, the child trains on every core)
    proc.send_signal(sig)
    rest = proc.stderr.read()
    return proc.wait(timeout=60), "".join(seen) + rest


def test_sigterm_during_generator_fit_leaves_nothing(teachers, tmp_path):
    out = tmp_path / "out"
    code, stderr = _signal_during("fitting CTGAN", signal.SIGTERM,
                                  ["--generator", "ctgan", "--epochs", "500", "--no-early-stop", "--no-cache"],
                                  out, teachers["rf_magic"])
    assert code == 143, stderr
    assert stderr.strip().splitlines()[-1] == "tabcompress: error: terminated"
    assert not out.exists()


def test_sigint_during_student_training_leaves_nothing(teachers, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "student.joblib").write_text("yesterday's student")  # a previous run's output stays as it was
    # About 20 s of MLP training on 97,000 MUNGE rows: the signal lands inside it.
    options = ["--generator", "munge", "--synthetic-ratio", "100", "--student", "mlp", "--hidden", "256,256"]
    code, stderr = _signal_during("training the mlp student", signal.SIGINT, options, out, teachers["rf_magic"])
    assert code == 130, stderr
    assert stderr.strip().splitlines()[-1] == "tabcompress: error: interrupted"
    assert "Traceback" not in stderr and "done in" not in stderr.split("training the mlp student")[1]
    assert os.listdir(out) == ["student.joblib"] and (out / "student.joblib").read_text() == "yesterday's student"
