"""Issue 4's pieces around the generators: mixtures, ``--generator auto``, teacher-aware selection,
the time budget and the generator cache as the pipeline and the CLI use them."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import DATA, run_cli

from tabcompress import InputError, Settings, Teacher, distill
from tabcompress.generators import MixtureGenerator, MUNGEGenerator, generator_parts, make_generator
from tabcompress.generators.registry import resolve_generator
from tabcompress.methods.budget import Rates, plan, rows_cost
from tabcompress.methods.selection import SelectionRule, select, train_with_selection
from tabcompress.schema import Schema


# -- mixtures and names -------------------------------------------------------------------------
def test_mixture_shares_and_reproducibility(bank):
    X = bank.drop(columns="target")
    schema = Schema.infer(X)
    mix = make_generator("munge+copula")
    assert isinstance(mix, MixtureGenerator) and mix.name == "munge+copula"
    mix.fit(X, schema, random_state=0)
    assert list(mix.counts(1001)) == [501, 500] and mix.counts(7).sum() == 7
    first, again = mix.sample(2000, random_state=3), mix.sample(2000, random_state=3)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(mix.sample(2000, random_state=4))
    # the copula's half is not made of perturbed real rows: its rows are not all near-copies
    assert list(first.columns) == list(X.columns) and len(first) == 2000


@pytest.mark.parametrize("name, message", [("gan", "generator must be one of .*got 'gan'"), ("munge+munge", "twice"),
                                           ("munge+none", "generator must be one of .*got 'none'")])
def test_bad_generator_names(name, message):
    with pytest.raises(InputError, match=message):
        generator_parts(name)


def test_auto_picks_from_student_and_columns(bank, magic, covertype):
    bank_schema, magic_schema = Schema.infer(bank.drop(columns="target")), Schema.infer(magic.drop(columns="target"))
    covertype_schema = Schema.infer(covertype.drop(columns="target"))
    assert len(bank_schema.categorical) >= len(bank_schema.columns) / 3  # 9 of 16 columns
    assert 0 < len(covertype_schema.categorical) < len(covertype_schema.columns) / 3  # 1 of 12
    assert resolve_generator(Settings.from_options(student="tree"), bank_schema) == "munge"
    assert resolve_generator(Settings.from_options(student="mlp"), bank_schema) == "ctgan"
    assert resolve_generator(Settings.from_options(student="mlp"), covertype_schema) == "munge+ctgan"
    assert resolve_generator(Settings.from_options(student="mlp"), magic_schema) == "munge"
    assert resolve_generator(Settings.from_options(generator="copula", student="mlp"), bank_schema) == "copula"


def test_auto_adds_rows_from_the_teachers_trees_where_they_count_rows(teachers, magic):
    schema = Schema.infer(magic.drop(columns="target"))
    forest, pipeline, boosted = (Teacher.from_model(joblib.load(teachers[name]))
                                 for name in ("rf_magic", "pipe_bank", "xgb_magic"))
    tree = Settings.from_options(student="tree")
    assert forest.counts_rows and pipeline.counts_rows and not boosted.counts_rows
    assert resolve_generator(tree, schema, forest) == "munge+forest"
    assert resolve_generator(tree, None, pipeline) == "munge+forest"  # read through its one-hot encoder
    assert resolve_generator(tree, schema, boosted) == "munge"  # XGBoost's cover is a sum of hessians
    assert resolve_generator(tree, schema) == "munge"  # no teacher known yet
    for family in ("gbdt", "linear", "auto", "mlp"):
        assert resolve_generator(Settings.from_options(student=family), schema, forest) == "munge"
    assert resolve_generator(Settings.from_options(student="tree", generator="munge"), schema, forest) == "munge"


# -- selection ----------------------------------------------------------------------------------
def test_select_takes_the_top_scores_with_a_region_cap():
    scores = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], dtype=float)
    regions = np.array([0, 0, 0, 0, 1, 1, 2, 2, 3, 3])
    assert list(select(scores, regions, 4, region_cap=1.0)) == [0, 1, 2, 3]
    # cap 25 % of 4 rows = 1 per region: the best row of each region
    assert list(select(scores, regions, 4, region_cap=0.25)) == [0, 4, 6, 8]
    # too few regions for the cap: the rest go to the best remaining rows
    assert list(select(scores, np.zeros(10), 3, region_cap=0.25)) == [0, 1, 2]
    assert len(select(scores, regions, 0, region_cap=0.5)) == 0


def test_selection_rounds_keep_rows_where_teacher_and_student_disagree(teachers, magic):
    from tabcompress.students import make_student
    from tabcompress.teachers.labeling import label_rows

    teacher = Teacher.from_model(joblib.load(teachers["rf_magic"]))
    X = magic.drop(columns="target")
    schema = Schema.infer(X)
    T = label_rows(teacher, X)
    gen = MUNGEGenerator().fit(X, schema, random_state=0)
    kwargs = {"classes": teacher.classes_, "categorical": []}
    result = train_with_selection(make=lambda: make_student("tree", max_depth=3, random_state=0), fit_kwargs=kwargs,
                                  label=lambda rows: label_rows(teacher, rows), generator=gen, X_real=X, T_real=T,
                                  n_synthetic=2000, settings=SelectionRule(rounds=2, share=0.5, pool=4), seed=0)
    info = result.info
    assert info["rounds"] == 2 and info["plain_rows"] == 1000 and info["selected_rows"] == 1000
    assert len(result.X_synth) == 2000 and len(result.T_synth) == 2000
    assert info["candidates_labelled"] == 4000
    for round_ in info["history"]:
        assert round_["mean_disagreement_kept"] > round_["mean_disagreement_pool"]
    np.testing.assert_allclose(result.T_synth, label_rows(teacher, result.X_synth))


def test_selection_settings_are_checked(teachers, magic):
    with pytest.raises(InputError, match="selection_share must be"):
        Settings.from_options(selection_share=1.5).validate()
    with pytest.raises(InputError, match="selection_rounds must be"):
        Settings.from_options(selection_rounds=-1).validate()
    with pytest.raises(InputError, match="time_budget must be"):
        Settings.from_options(time_budget=0).validate()


# -- time budget --------------------------------------------------------------------------------
def test_plan_cuts_rounds_first_then_rows():
    rates = Rates(label=1e-4, student=1e-4, sample=0.0)
    full = rows_cost(1000, 20_000, 2, 0.5, 4, rates)
    assert plan(full * 2, n_real=1000, n_synthetic=20_000, rounds=2, share=0.5, pool=4, rates=rates,
                trainable_generator=False).adjustments == []
    squeezed = plan(rows_cost(1000, 20_000, 0, 0.5, 4, rates) / 0.9 + 0.01, n_real=1000, n_synthetic=20_000,
                    rounds=2, share=0.5, pool=4, rates=rates, trainable_generator=False)
    assert squeezed.rounds == 0 and squeezed.n_synthetic == 20_000
    tight = plan(1.0, n_real=1000, n_synthetic=20_000, rounds=2, share=0.5, pool=4, rates=rates,
                 trainable_generator=True)
    assert tight.rounds == 0 and 0 < tight.n_synthetic < 20_000
    assert tight.estimate_s <= 0.9 * 0.6 + 1e-9  # 10 % reserve, 40 % for the generator
    assert tight.generator_time_limit == pytest.approx(0.9 - tight.estimate_s)
    nothing = plan(0.0, n_real=1000, n_synthetic=20_000, rounds=0, share=0.5, pool=4, rates=rates,
                   trainable_generator=True)
    assert nothing.n_synthetic == 0 and nothing.generator_time_limit == 0.0


class SlowDrawMUNGE(MUNGEGenerator):
    """MUNGE drawing at 2e-4 s a row, 20 times the rate a plan assumes before any generator is fitted (CTGAN
    drew at about 1e-4 s a row on a busy 2-core machine)."""

    seconds_per_row = 2e-4

    def _sample(self, n, random_state):
        time.sleep(n * self.seconds_per_row)
        return super()._sample(n, random_state)


def test_rows_are_planned_again_with_the_generators_draw_timed(teachers, magic):
    from tabcompress.run.modes import train_student
    from tabcompress.teachers.labeling import label_rows

    teacher = Teacher.from_model(joblib.load(teachers["rf_magic"]))
    X = magic.drop(columns="target")
    schema = Schema.infer(X)
    generator = SlowDrawMUNGE().fit(X, schema, random_state=0)
    # a CART student (no look-ahead), cheap beside the draw; drawing the 20,000 rows alone would take 4 s
    settings = Settings.from_options(synthetic_rows=20_000, validation_size=0, baseline=False, lookahead=1)
    trained = train_student(teacher, X, label_rows(teacher, X), schema, settings, generator=generator, time_left=3.0)
    budget = trained.budget
    assert budget["spent_s"] <= 3.0
    replanned = budget["plan"]["replanned"]
    assert 0 < replanned["n_synthetic"] * SlowDrawMUNGE.seconds_per_row <= 0.9 * 3.0
    assert trained.n_synthetic == replanned["n_synthetic"] and "replan" in trained.timings_s


def test_scoring_allowance_counts_the_teachers_one_row_calls():
    # the latency probes call the teacher 26 times on one row: on a busy machine that costs seconds
    from tabcompress.run.modes import _one_row_seconds, _scoring_allowance

    class SlowTeacher:
        def predict(self, X):
            time.sleep(0.02)
            return np.zeros(len(X))

    one_row = _one_row_seconds(SlowTeacher(), pd.DataFrame({"a": [1.0, 2.0]}))
    assert one_row >= 0.02
    # and 6 calls on the 200 held-out rows, labelled at 1 s per 1,000 rows
    assert _scoring_allowance({"label_real": 1.0}, 1000, 200, one_row) >= 6 * 0.2 + 26 * 0.02 + 1.0


def test_time_budget_is_kept_and_reported(teachers, tmp_path):
    # A CTGAN that would train 300 epochs and 60× synthetic rows (minutes), squeezed into 40 s counted from the
    # process's start: about 8 s of it are fixed (the interpreter, imports, the teacher) and twice that on a
    # busy machine
    out = tmp_path / "o"
    result = run_cli("distill", teachers["pipe_bank"], DATA / "bank_1500.csv", "--out", out, "--generator", "ctgan",
                     "--epochs", "300", "--synthetic-ratio", "60", "--time-budget", "40", "--no-cache", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    budget = report["budget"]
    # on failure, the plan and the stages' seconds say where the time went
    spent = json.dumps({"budget": budget, "timings_s": report.get("timings_s")})
    assert budget["seconds"] == 40 and budget["within"] and budget["total_s"] <= 40, spent
    plan_ = budget["training"]["plan"]
    assert plan_["generator_time_limit"] > 0
    ctgan = report["generator"]["ctgan"]
    assert ctgan["epochs_run"] < 300 and ctgan["stop_reason"] in ("time_limit", "early_stop")
    assert "time budget 40 s" in result.stderr


# -- the cache, end to end ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache_runs(teachers, tmp_path_factory):
    """CLI runs sharing one generator cache: cold (fits CTGAN), warm (loads it), --no-cache, then warm again
    once the entry was damaged. Lean runs (CTGAN on 300 rows; no search, baseline or TSC): the cache is the
    point."""
    root = tmp_path_factory.mktemp("cache_runs")
    args = ["distill", teachers["pipe_bank"], DATA / "bank_1500.csv", "--generator", "ctgan", "--epochs", "2",
            "--synthetic-ratio", "1", "--generator-rows", "300", "--validation-size", "0", "--no-baseline",
            "--no-tsc", "--cache-dir", root / "cache", "--json"]
    runs = {"root": root}
    for name, more in (("cold", []), ("warm", []), ("off", ["--no-cache"])):
        runs[name] = run_cli(*args, *more, "--out", root / name)
    (entry,) = (root / "cache").glob("*.joblib")
    entry.write_bytes(entry.read_bytes()[:100])
    runs["damaged"] = run_cli(*args, "--out", root / "damaged")
    return runs


def test_warm_cache_skips_the_generator_fit(cache_runs):
    cold, warm, root = cache_runs["cold"], cache_runs["warm"], cache_runs["root"]
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr + warm.stderr
    cold_r, warm_r = json.loads(cold.stdout), json.loads(warm.stdout)
    assert cold_r["generator"]["cache"]["ctgan"]["status"] == "miss"
    assert warm_r["generator"]["cache"]["ctgan"]["status"] == "hit"
    assert "load_s" in warm_r["generator"]["cache"]["ctgan"]
    assert "ctgan: loaded from cache, fit skipped" in " ".join(warm.stderr.split())
    # same rows, same student
    a = joblib.load(root / "cold" / "student.joblib")
    b = joblib.load(root / "warm" / "student.joblib")
    rows = pd.read_csv(DATA / "bank_1500.csv").drop(columns="target")
    np.testing.assert_array_equal(a.predict_proba(rows), b.predict_proba(rows))
    # --no-cache neither reads nor writes
    assert "cache" not in json.loads(cache_runs["off"].stdout)["generator"]


def test_damaged_cache_entry_is_refitted(cache_runs):
    assert cache_runs["cold"].returncode == 0
    again = cache_runs["damaged"]
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["generator"]["cache"]["ctgan"]["status"] == "refit"
    assert "damaged" in again.stderr


def test_library_defaults_run_without_torch_for_trees(teachers):
    # in a fresh interpreter, since other tests here import torch; 600 of the rows: the defaults are the point
    script = (
        "import json, sys; import pandas as pd; from tabcompress import Settings, distill\n"
        f"rows = pd.read_csv({str(DATA / 'bank_1500.csv')!r}).iloc[:600]\n"
        f"report = distill({str(teachers['pipe_bank'])!r}, rows, Settings.from_options(seed=0)).report\n"
        "print(json.dumps({'generator': report['generator']['name'], 'data': report['data'],\n"
        "                  'imported': sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'ctgan', 'rdt'})}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"] == []
    assert result["generator"] == "munge+forest"
    # all of them, a quarter or none, as the validation rows chose
    train_rows = result["data"]["train_rows"]
    assert result["data"]["synthetic_rows"] in {0, 5 * train_rows, 20 * train_rows}
