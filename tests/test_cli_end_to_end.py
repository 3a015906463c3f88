"""End to end through the installed console script, one run per teacher kind.

Each run saves a student; a fresh Python process loads it and predicts on the held-out
rows; the test recomputes fidelity itself and checks it against the report.
"""

from __future__ import annotations

import json
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import DATA, heldout_rows, predict_in_fresh_process, run_cli

FAST = ["--epochs", "2", "--synthetic-ratio", "2", "--seed", "0"]
#: no search (nor its frontier plot), baseline or TSC score: for runs whose test is about none of them
LEAN = ["--validation-size", "0", "--no-baseline", "--no-tsc"]

CASES = [
    # (teacher fixture name, data file, classifier?)
    ("rf_magic", "magic_1200.csv", True),
    ("xgb_magic", "magic_1200.csv", True),
    ("rf_house", "house16h_1200.csv", False),
    ("pipe_bank", "bank_1500.csv", True),
]


@pytest.mark.parametrize("teacher_name,data_file,classifier", CASES)
def test_distill_end_to_end(teachers, tmp_path, teacher_name, data_file, classifier):
    out = tmp_path / "out"
    done = run_cli("distill", teachers[teacher_name], DATA / data_file, "--out", out, "--json", "--refine", *FAST)
    assert done.returncode == 0, done.stderr

    report = json.loads(done.stdout)  # stdout is exactly one JSON document
    assert json.loads((out / "report.json").read_text()) == report
    assert sorted(p.name for p in out.iterdir()) == ["frontier.png", "report.json", "student.joblib"]
    assert "done in" in done.stderr  # progress goes to stderr

    df = pd.read_csv(DATA / data_file)
    teacher = joblib.load(teachers[teacher_name])
    held = heldout_rows(df, teacher, classifier=classifier)
    assert report["data"]["test_rows"] == len(held)
    X_held = held.drop(columns="target")
    # Columns shuffled: the student must pick its columns by name, as the teacher does.
    shuffled = X_held[list(reversed(X_held.columns))]
    student_pred = predict_in_fresh_process(out / "student.joblib", shuffled, tmp_path)

    if classifier:
        teacher_pred = teacher.classes_[np.argmax(teacher.predict_proba(X_held), axis=1)]
        assert set(np.unique(student_pred)) <= set(teacher.classes_)
        expected = float(np.mean(student_pred == teacher_pred))
        assert report["metrics"]["student"]["fidelity"] == pytest.approx(expected, abs=1e-12)
        accuracy = float(np.mean(student_pred == held["target"].to_numpy()))
        assert report["metrics"]["student"]["target_accuracy"] == pytest.approx(accuracy, abs=1e-12)
    else:
        teacher_pred = teacher.predict(X_held)
        r2 = 1 - np.sum((teacher_pred - student_pred) ** 2) / np.sum((teacher_pred - teacher_pred.mean()) ** 2)
        assert report["metrics"]["student"]["fidelity"] == pytest.approx(r2, abs=1e-9)
        assert report["metrics"]["student"]["r2"] == pytest.approx(r2, abs=1e-9)
    assert report["metrics"]["student"]["fidelity"] > (0.6 if classifier else 0.3)

    if report["search"]["chosen_generator"] == "none":  # the synthetic rows did worse on the validation rows
        assert report["data"]["synthetic_rows"] == 0
        assert any("it trains on the real rows alone" in n for n in report["search"]["notes"])
    else:
        assert report["data"]["synthetic_rows"] == 2 * report["data"]["train_rows"]
    assert report["student"]["serialized_bytes"] < report["teacher"]["serialized_bytes"]
    assert report["settings"]["seed"] == 0
    assert report["versions"]["scikit-learn"]
    for stage in ("load_teacher", "read_data", "generator_fit", "generate", "student_fit", "evaluate", "total"):
        assert report["timings_s"][stage] >= 0
    for who in ("teacher", "student"):
        assert report[who]["latency"]["batch_ms"] > 0 and report[who]["latency"]["single_row_ms"] > 0
    assert "baseline" in report["metrics"]
    # With --refine classification trees are refined (and the summary says so); regression trees are not.
    refinement = report["student"].get("refinement")
    if classifier:
        assert refinement["loss"] == "disagreement" and refinement["loss_after"] <= refinement["loss_before"]
        assert "tree refined" in done.stderr
        # Six starts by default; the summary names the one that won.
        names = {s["start"] for s in refinement["starts"]} | {"greedy tree, all rows"}
        assert len(refinement["starts"]) == 6 and refinement["start"] in names
        assert f"best of 6 starts: {refinement['start']}" in " ".join(done.stderr.split())
    else:
        assert refinement is None


def test_default_tree_is_not_refined(teachers, tmp_path):
    """Refinement is opt-in (the method is patented): a default run grows CART's tree and says so."""
    out = tmp_path / "out"
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "--json", *FAST, *LEAN)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["student"]["refined"] is False and "refinement" not in report["student"]
    student = report["settings"]["student"]
    assert (student["refine"], student["refine_passes"], student["refine_starts"]) == (False, 0, 1)
    assert "tree refinement: off" in done.stderr
    lookahead = report["student"].get("lookahead")  # the summary's line on lookahead, when a split changed
    changed = bool(lookahead and lookahead["nodes_changed"])
    assert ("tree splits by lookahead" in done.stderr) == changed
    if changed:
        assert f"({lookahead['nodes_changed']} split" in done.stderr and lookahead["levels"] == 3


def test_mlp_student_and_python_dash_m(teachers, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tabcompress", "distill", str(teachers["pipe_covertype"]),
           str(DATA / "covertype_1500.csv"), "--student", "mlp", "--hidden", "16,16", "--device", "cpu",
           "--out", str(out), "--quiet", *FAST, "--generator", "munge", *LEAN]  # munge: auto trains CTGAN here
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""  # --quiet, no --json
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == "multiclass"
    assert report["student"]["type"] == "MLPStudent"
    assert report["student"]["n_parameters"] > 0
    assert 0.0 <= report["metrics"]["student"]["fidelity"] <= 1.0


def test_min_fidelity_gate_exits_3_and_keeps_outputs(teachers, tmp_path):
    out = tmp_path / "out"
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "--generator", "none",
                   "--max-depth", "1", "--min-fidelity", "1.0", "--json", *LEAN)
    assert done.returncode == 3, done.stderr
    assert "below --min-fidelity" in done.stderr
    report = json.loads(done.stdout)
    assert report["gate"] == {"min_fidelity": 1.0, "passed": False}
    assert (out / "student.joblib").exists()

    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", out, "--generator", "none",
                   "--min-fidelity", "0.5", "--quiet", *LEAN)
    assert done.returncode == 0, done.stderr


def test_generator_none_trains_on_real_rows_only(teachers, tmp_path):
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--out", tmp_path / "o",
                   "--generator", "none", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["data"]["synthetic_rows"] == 0
    assert "generator_fit" not in report["timings_s"]
    # Same architecture, same rows, same seed: the student is the baseline.
    assert report["metrics"]["student"] == report["metrics"]["baseline"]


def test_max_rows_distils_a_sample_the_same_on_every_run(teachers, tmp_path):
    args = ["distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--max-rows", "600", "--json", "-q",
            "--synthetic-ratio", "2", "--seed", "3", *LEAN]
    one, two = (run_cli(*args, "--out", tmp_path / name) for name in ("one", "two"))
    assert one.returncode == two.returncode == 0, one.stderr
    first, second = json.loads(one.stdout), json.loads(two.stdout)
    data = first["data"]
    assert data["rows"] == 1200 and data["sampled"] and data["train_rows"] + data["test_rows"] == 600
    assert 80 <= data["test_rows"] <= 160 and data["stratified"] is False  # a fifth, held out by each row's hash
    assert first["metrics"]["student"] == second["metrics"]["student"]
    assert (tmp_path / "one" / "student.joblib").read_bytes() == (tmp_path / "two" / "student.joblib").read_bytes()
    # a bound above the file's rows changes nothing
    bounded, unbounded = (run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", *bound, "--json", "-q",
                                  "--generator", "none", *LEAN, "--out", tmp_path / name)
                          for name, bound in (("all", ["--max-rows", "5000"]), ("plain", [])))
    assert bounded.returncode == 0 and not json.loads(bounded.stdout)["data"]["sampled"]
    assert (tmp_path / "all" / "student.joblib").read_bytes() == (tmp_path / "plain" / "student.joblib").read_bytes()


def test_max_rows_trains_a_gbdt_student_on_every_training_row_of_the_file(teachers, tmp_path, monkeypatch):
    from tabcompress.data import read_csv_sample

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--max-rows", "400", "--student", "gbdt",
                   "--trees", "10", "--synthetic-ratio", "2", "--json", "-q", "--seed", "3", "--out", tmp_path / "o")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    data, student = report["data"], report["student"]
    assert data["sampled"] and data["train_rows"] + data["test_rows"] == 400
    # every row of the file on the training side (the sample's held-out rows' side, by each row's hash),
    # and the synthetic rows
    every = read_csv_sample(DATA / "magic_1200.csv", 10_000, 0.2, seed=3)
    assert student["trained_on"] == "external memory"
    assert student["streamed_rows"] == int((~every.held_out).sum()) + data["synthetic_rows"] > 2 * data["train_rows"]
    assert report["metrics"]["student"]["fidelity"] > 0.8
    assert not list((tmp_path / "tmp").iterdir())  # the rows written for XGBoost are gone


def test_help_lists_the_options():
    done = run_cli("distill", "--help")
    assert done.returncode == 0
    for option in ("--target", "--categorical", "--test-size", "--generator", "--epochs", "--batch-size",
                   "--generator-rows", "--synthetic-rows", "--synthetic-ratio", "--student", "--max-depth",
                   "--max-leaf-nodes", "--hidden", "--device", "--seed", "--out", "--json", "--min-fidelity",
                   "--synthetic-max-rows", "--early-stop", "--selection-rounds", "--selection-share",
                   "--selection-pool", "--time-budget", "--cache-dir", "--no-cache"):
        assert option in done.stdout
