"""End to end through the console script: condense → distill --few-shot, score (TSC), and --adversarial (their
refusals checked in this process, through the console script's ``main``)."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
from conftest import DATA, run_cli


def test_condense_then_few_shot_beats_the_prototypes_alone(teachers, tmp_path, bank):
    protos = tmp_path / "protos.csv"
    done = run_cli("condense", DATA / "bank_1500.csv", "--per-class", "5", "--out", protos, "--seed", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # the summary goes to stderr
    written = pd.read_csv(protos)
    assert list(written.columns) == list(bank.columns)
    assert written["target"].value_counts().to_dict() == {0: 5, 1: 5}

    out = tmp_path / "out"
    done = run_cli("distill", teachers["pipe_bank"], "--data", protos, "--few-shot", "--eval-data",
                   DATA / "bank_1500.csv", "--out", out, "--json", "--synthetic-rows", "4000", "--max-depth", "4",
                   "--no-tsc", "--seed", "0")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["mode"] == "few-shot" and report["data"]["train_rows"] == 10
    assert report["generator"]["name"] == "few-shot" and report["data"]["synthetic_rows"] > 3000
    metrics = report["metrics"]
    # the baseline is the same student on the ten prototypes alone
    assert metrics["student"]["fidelity"] > metrics["baseline"]["fidelity"]
    student = joblib.load(out / "student.joblib")
    teacher = joblib.load(teachers["pipe_bank"])
    X = bank.drop(columns="target")
    assert metrics["student"]["fidelity"] == np.mean(student.predict(X) == teacher.predict(X))


def test_condense_refuses_a_missing_target_and_leaves_no_file(tmp_path, cli):
    out = tmp_path / "p.csv"
    done = cli("condense", DATA / "bank_1500.csv", "--target", "nope", "--out", out)
    assert done.returncode == 2 and "--target nope" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_score_command_ranks_noise_below_real_rows(teachers, tmp_path, magic, cli):
    X = magic.drop(columns="target")
    rng = np.random.default_rng(0)
    noise = pd.DataFrame({c: rng.uniform(X[c].min(), X[c].max(), len(X)) for c in X.columns})
    noise.to_csv(tmp_path / "noise.csv", index=False)
    X.to_csv(tmp_path / "real.csv", index=False)
    scores = {}
    for name in ("noise", "real"):
        done = run_cli("score", tmp_path / f"{name}.csv", teachers["rf_magic"], DATA / "magic_1200.csv", "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        scores[name] = report["score"]["fidelity_ratio"]
        assert "TSC score" in done.stderr
    assert scores["noise"] < scores["real"] - 0.05, scores
    done = cli("score", tmp_path / "missing.csv", teachers["rf_magic"], DATA / "magic_1200.csv")
    assert done.returncode == 2 and "missing.csv" in done.stderr


def test_adversarial_mlp_through_the_cli(teachers, tmp_path, cli):
    done = cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--adversarial", "--out", tmp_path / "t")
    assert done.returncode == 2 and "--adversarial" in done.stderr and "--student mlp" in done.stderr
    out = tmp_path / "out"
    done = run_cli("distill", teachers["rf_magic"], DATA / "magic_1200.csv", "--student", "mlp", "--adversarial",
                   "--adversarial-weight", "0.3", "--hidden", "16", "--synthetic-ratio", "2", "--out", out, "--json",
                   "--no-baseline", "--no-tsc", "--validation-size", "0", "--seed", "0")  # one student, trained as set
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    adversarial = report["student"]["adversarial"]
    assert adversarial["weight"] == 0.3 and adversarial["temperature_final"] < 1.0
    assert 0.0 <= adversarial["discriminator_accuracy"] <= 1.0
    assert report["metrics"]["student"]["fidelity"] > 0.7
    assert "adversarial training" in done.stderr
