"""`make bench --quick` as a smoke test: the benchmark runs end to end on a small slice, its JSON has
every figure in range, and the renderer writes BENCHMARKS.md and a plot from it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tabcompress import Settings

ROOT = Path(__file__).resolve().parent.parent
METHODS = {"B0", "B1", "B2", "B3", "B4", "B5", "tabcompress", "oracle"}
STUDENTS = {"tree4", "tree8", "mlp64x64"}
CLASSIFICATION_TEACHERS = {"rf", "xgb", "lgbm"}
REGRESSION_TEACHERS = {"rf", "lgbm", "catboost"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    # A classification set with text columns (so the forest and XGBoost are Pipelines) and LightGBM, and
    # a regression set with text and missing cells, with the forest's Pipeline, LightGBM and CatBoost:
    # every teacher, three to a set, so that the two runs take about as long. They go side by side:
    # each is one process on one core, and CI's machine has two. 300 training rows (half --quick's) is
    # plenty for a smoke test, and a quarter less time.
    runs = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--train-rows", "300",
                              "--datasets", str(ROOT / "tests" / "data" / data), "--out", str(out),
                              "--name", Path(data).stem, "--teachers", ",".join(sorted(teachers))], cwd=ROOT)
            for data, teachers in (("bank_1500.csv", CLASSIFICATION_TEACHERS),
                                   ("california_1200.csv", REGRESSION_TEACHERS))]
    try:
        assert [run.wait(timeout=900) for run in runs] == [0, 0]
    finally:
        for run in runs:
            run.kill()
    return out


def _number(x, lo=-math.inf, hi=math.inf):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and lo <= x <= hi


@pytest.mark.parametrize("name,task", [("bank_1500", "classification"), ("california_1200", "regression")])
def test_quick_results_are_complete_and_in_range(quick, name, task):
    results = json.loads((quick / f"{name}.json").read_text())
    assert results["finished"] and results["settings"]["quick"] is True
    assert {"cpu_count", "torch_threads", "platform"} <= set(results["machine"])
    assert results["versions"]["tabcompress"] and results["command"].startswith("python bench/run.py --quick")
    assert results["datasets"][name]["task"] == task
    runs = results["runs"]
    teachers = CLASSIFICATION_TEACHERS if task == "classification" else REGRESSION_TEACHERS
    # one run per teacher × student × method
    assert {(r["teacher"], r["student"], r["method"]) for r in runs} == {
        (t, s, m) for t in teachers for s in STUDENTS for m in METHODS}
    assert len(runs) == len(teachers) * 3 * 8
    for r in runs:
        lo = 0.0 if task == "classification" else -math.inf
        assert _number(r["fidelity"], lo, 1.0), r
        key = "target_accuracy" if task == "classification" else "target_r2"
        assert _number(r[key], lo, 1.0), r
        if task == "regression":
            assert _number(r["rmse"], 0.0) and _number(r["target_rmse"], 0.0)
        assert _number(r["serialized_bytes"], 100, 10_000_000)
        assert _number(r["peak_rss_mib"], 10, 24_000)
        if r["method"] in ("oracle", "B4"):
            assert r["end_to_end_s"] is None
        else:
            assert _number(r["end_to_end_s"], 0.0, 600)
        ratio = {"B2": 9, "B3": 10, "tabcompress": Settings().generator.synthetic_ratio}.get(r["method"], 0)
        if r["method"] == "tabcompress":  # all of its rows, a quarter or none, as its validation rows chose
            assert r["synthetic_rows"] in {0, ratio * r["real_rows"] / 4, ratio * r["real_rows"]}, r
        else:
            assert r["synthetic_rows"] == ratio * r["real_rows"]
        assert all(_number(v["s"], 0.0) for v in r["timings"].values())
    # both sets have text columns: the forest and XGBoost take them through a one-hot Pipeline, LightGBM
    # and CatBoost natively (the bench's way of building each teacher)
    types = {t["teacher"]: t["type"] for t in results["teachers"]}
    kind = "Classifier" if task == "classification" else "Regressor"
    assert types.keys() == teachers and types["lgbm"] == f"LGBM{kind}"
    assert types.get("catboost", f"CatBoost{kind}") == f"CatBoost{kind}"
    for t in results["teachers"]:
        assert _number(t["serialized_bytes"], 1000)
        if t["teacher"] in ("rf", "xgb"):
            assert t["type"].startswith("Pipeline(ColumnTransformer")
    by = {(r["teacher"], r["student"], r["method"]): r for r in runs}
    for (teacher, student, method), r in by.items():
        if method == "B4":  # the teacher cut to tabcompress's student's bytes
            b4 = r["b4"]
            assert b4["budget_from"] == "tabcompress"
            assert b4["budget_bytes"] == by[(teacher, student, "tabcompress")]["serialized_bytes"]
            assert 1 <= b4["k"] <= b4["of"] and r["n_trees"] >= b4["k"]
            assert b4["over_budget"] == (r["serialized_bytes"] > b4["budget_bytes"])
            assert not b4["over_budget"] or b4["k"] == 1
        if method == "B5":  # the student's own family and size on the true labels: B0's fit
            b0 = by[(teacher, student, "B0")]
            assert r["fidelity"] == b0["fidelity"] and r["serialized_bytes"] == b0["serialized_bytes"]
    assert results["settings"]["regime"] == "small" and results["frontier"] == []
    summary = results["summary"]
    assert len(summary["cells"]) == len(teachers) * 3
    for cell in summary["cells"]:
        assert set(cell["methods"]) == METHODS
        for method, v in cell["methods"].items():
            assert v["fidelity"]["n"] == 1 and v["fidelity"]["sd"] == 0.0
            closed = v["headroom_closed"]
            assert closed is None or _number(closed), (method, closed)
            if method in ("B0", "oracle"):
                assert closed is None
    head = summary["headline"]
    cells = len(teachers) * 3
    assert 0 <= head["tabcompress_beats_all_baselines"] <= head["tabcompress_at_least_all_baselines"] <= cells
    assert _number(head["median_speedup_vs_B2"], 0.0)


def test_merge_takes_methods_from_parts_and_refuses_a_different_teacher(quick, tmp_path, monkeypatch):
    import merge as merge_mod

    base = (quick / "bank_1500.json").read_text()

    def part(name, change=None):
        data = json.loads(base)
        data["name"] = name
        if change:
            change(data["teachers"][0])
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        return path

    def merge(*specs):
        """What the merge stopped with ("": it wrote the file). In this process: the script's imports
        would be most of each run; the first merge below runs the script itself."""
        monkeypatch.setattr(sys, "argv", ["merge.py", *map(str, specs), "--out", str(tmp_path / "merged.json")])
        try:
            merge_mod.main()
        except SystemExit as exc:
            return str(exc)
        return ""

    first = part("first")
    # the same teacher pickled a few bytes apart (as two fits of one LightGBM model may be)
    again = part("again", lambda t: t.update(serialized_bytes=t["serialized_bytes"] + 4))
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "merge.py"), f"{first}:B0,B1",
                           f"{again}:B3,tabcompress", "--out", str(tmp_path / "merged.json")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    merged = json.loads((tmp_path / "merged.json").read_text())
    assert {r["method"] for r in merged["runs"]} == {"B0", "B1", "B3", "tabcompress"}
    assert [p["name"] for p in merged["parts"]] == ["first", "again"]
    # one run's command once, and its time once when two parts are taken from one file
    assert merged["command"] == json.loads(base)["command"].strip()
    assert merge(f"{first}:B0,B1", f"{first}:B3,tabcompress") == ""
    assert json.loads((tmp_path / "merged.json").read_text())["elapsed_s"] == json.loads(base)["elapsed_s"]
    other = part("other", lambda t: t.update(n_nodes=t["n_nodes"] + 1))
    refused = merge(f"{first}:B0,B1", f"{other}:B3")
    assert "differs between parts (n_nodes)" in refused
    bigger = part("bigger", lambda t: t.update(serialized_bytes=2 * t["serialized_bytes"]))
    assert "(serialized_bytes)" in merge(f"{first}:B0,B1", f"{bigger}:B3")
    assert "two parts both give" in merge(f"{first}:B0,B1", f"{again}:B1")


def test_headroom_is_computed_from_the_means():
    sys.path.insert(0, str(ROOT / "bench"))
    import summary

    def run(method, fid, seed):
        return {"dataset": "d", "teacher": "rf", "student": "tree4", "method": method, "seed": seed,
                "fidelity": fid, "target_accuracy": 0.5, "serialized_bytes": 1000, "end_to_end_s": 1.0,
                "peak_rss_mib": 100.0}

    results = {"datasets": {"d": {"task": "classification"}},
               "settings": {"methods": ["B0", "B1", "tabcompress", "oracle"], "teachers": ["rf"],
                            "students": ["tree4"]},
               "runs": [run("B0", 0.80, 0), run("B0", 0.82, 1), run("B1", 0.84, 0), run("B1", 0.84, 1),
                        run("tabcompress", 0.85, 0), run("tabcompress", 0.87, 1),
                        run("oracle", 0.91, 0), run("oracle", 0.89, 1)]}
    cell = summary.summarise(results)["cells"][0]
    assert cell["headroom"] == pytest.approx(0.09)
    assert cell["methods"]["tabcompress"]["headroom_closed"] == pytest.approx(0.05 / 0.09)
    assert cell["methods"]["B1"]["headroom_closed"] == pytest.approx(0.03 / 0.09)
    assert cell["methods"]["B0"]["fidelity"]["sd"] == pytest.approx(0.0141421, rel=1e-4)
    assert cell["best_method"] == "tabcompress" and cell["tabcompress_beats_all_baselines"]
    # no headroom: not scored
    for r in results["runs"]:
        r["fidelity"] = 0.9
    assert summary.summarise(results)["cells"][0]["methods"]["tabcompress"]["headroom_closed"] is None


def test_render_writes_markdown_and_plots(quick, tmp_path):
    md = tmp_path / "BENCHMARKS.md"
    subprocess.run([sys.executable, str(ROOT / "bench" / "render.py"), str(quick / "bank_1500.json"),
                    "--md", str(md), "--plots", str(tmp_path / "plots")], check=True, timeout=300)
    text = md.read_text()
    assert "## Headline" in text and "### bank_1500" in text and "python bench/run.py --quick" in text
    assert "(plots/bank_1500.png)" in text
    png = (tmp_path / "plots" / "bank_1500.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


# -- B4, B5, the regimes and the frontier ------------------------------------------------------------

sys.path.insert(0, str(ROOT / "bench"))

DATA = ROOT / "tests" / "data"


def _frame(name, n=None):
    import pandas as pd

    frame = pd.read_csv(DATA / name)
    frame = frame.iloc[:n] if n else frame
    return frame.drop(columns="target"), frame["target"]


def test_b4_cuts_a_forest_to_the_largest_k_within_the_bytes():
    import numpy as np
    from baselines import CutTeacher, cut_teacher, teacher_predictions
    from sklearn.ensemble import RandomForestClassifier

    from tabcompress import Teacher
    from tabcompress.evaluation.metrics import serialized_bytes

    X, y = _frame("magic_1200.csv")
    model = RandomForestClassifier(n_estimators=12, max_depth=6, random_state=0).fit(X, y)
    cut = cut_teacher(model, 5)
    assert len(cut.estimators_) == cut.n_estimators == 5 and len(model.estimators_) == 12  # the teacher is intact
    expected = np.mean([t.predict_proba(X.to_numpy()) for t in model.estimators_[:5]], axis=0)
    assert np.allclose(cut.predict_proba(X), expected)

    cutter = CutTeacher(model, "binary")
    sizes = [cutter.bytes_at(k) for k in range(1, 13)]
    assert sizes == sorted(sizes) and sizes[-1] == serialized_bytes(model)
    for k in (1, 4, 5, 11):
        assert cutter.choose_k(sizes[k - 1]) == (k, True)  # the largest k whose bytes are within the budget
        assert cutter.choose_k(sizes[k] - 1) == (k, True)
    assert cutter.choose_k(10**9) == (12, True)
    assert cutter.choose_k(sizes[0] - 1) == (1, False)  # even one tree is bigger: recorded as over budget

    teacher_pred = teacher_predictions(Teacher.from_model(model), X)
    whole = cutter.at_bytes(sizes[-1], X, teacher_pred, y.to_numpy())
    assert whole["fidelity"] == 1.0 and whole["b4"]["k"] == 12 and whole["n_trees"] == 12
    small = cutter.at_bytes(sizes[0] - 1, X, teacher_pred, y.to_numpy())
    assert small["b4"]["over_budget"] and small["b4"]["k"] == 1 and small["serialized_bytes"] == sizes[0]
    own = np.asarray(model.classes_)[np.argmax(cut_teacher(model, 1).predict_proba(X), axis=1)]
    assert small["fidelity"] == pytest.approx(np.mean(own == teacher_pred))
    assert 0.0 <= small["target_accuracy"] <= 1.0


@pytest.mark.parametrize("data,kind", [("covertype_1500.csv", "multiclass"), ("house16h_1200.csv", "regression")])
def test_b4_cuts_xgboost_to_its_first_rounds(data, kind):
    import numpy as np
    from baselines import CutTeacher, cut_teacher, teacher_predictions
    from run import build_teacher

    from tabcompress import Teacher

    X, y = _frame(data, 800)
    if kind == "multiclass":
        y = y.astype("category").cat.codes
    text = [c for c in X.columns if X[c].dtype == object]
    model = build_teacher("xgb", kind == "multiclass", text, seed=0, quick=True).fit(X, y)  # 40 rounds
    final = model.steps[-1][1] if text else model
    cut = cut_teacher(model, 3)
    cut_final = cut.steps[-1][1] if text else cut
    assert cut_final.get_booster().num_boosted_rounds() == 3 and final.get_booster().num_boosted_rounds() == 40
    Z = model[:-1].transform(X) if text else X
    if kind == "multiclass":  # a round holds one tree per class
        classes = len(np.unique(y))
        assert Teacher.from_model(cut).complexity()["n_trees"] == 3 * classes
        assert np.allclose(cut.predict_proba(X), final.predict_proba(Z, iteration_range=(0, 3)))
    else:
        assert np.allclose(cut.predict(X), final.predict(Z, iteration_range=(0, 3)))

    cutter = CutTeacher(model, "multiclass" if kind == "multiclass" else "regression")
    assert cutter.unit == "round" and cutter.units == 40
    budget = (cutter.bytes_at(7) + cutter.bytes_at(8)) // 2
    k, fits = cutter.choose_k(budget)
    assert fits and cutter.bytes_at(k) <= budget < cutter.bytes_at(k + 1) and k == 7
    teacher = Teacher.from_model(model)
    teacher_pred = teacher_predictions(teacher, X)
    record = cutter.at_bytes(budget, X, teacher_pred, y.to_numpy())
    cut_pred = teacher_predictions(Teacher.from_model(cut_teacher(model, 7)), X)
    if kind == "multiclass":
        assert record["fidelity"] == pytest.approx(np.mean(cut_pred == teacher_pred))
    else:  # R² to the teacher's values
        residual = np.sum((teacher_pred - cut_pred) ** 2)
        assert record["fidelity"] == pytest.approx(1 - residual / np.sum((teacher_pred - teacher_pred.mean()) ** 2))
        assert record["fidelity"] == record["r2"] and record["rmse"] > 0
    assert record["fidelity"] < 1.0 and cutter.at_bytes(10**9, X, teacher_pred, None)["fidelity"] == 1.0


def test_b5_is_the_students_family_and_size_on_the_true_labels():
    import numpy as np
    import pandas as pd
    from baselines import baseline_student, params_key, true_targets

    from tabcompress.errors import SettingError

    tree = baseline_student("tree", {"max_depth": 3}, seed=7)
    assert (type(tree).__name__, tree.max_depth, tree.refine_passes, tree.random_state) == ("TreeStudent", 3, 0, 7)
    mlp = baseline_student("mlp", {"hidden": [8]}, seed=1)
    assert (type(mlp).__name__, mlp.hidden, mlp.device) == ("MLPStudent", (8,), "cpu")
    with pytest.raises(SettingError):
        baseline_student("no_such_student", {}, seed=0)
    y = pd.Series([2, 0, 1, 2])
    assert np.array_equal(true_targets(y, np.array([0, 1, 2])), np.eye(3)[[2, 0, 1, 2]])
    assert np.array_equal(true_targets(pd.Series([1.5, 2.0]), None), [1.5, 2.0])
    assert params_key("mlp", {"hidden": (64, 64)}) == params_key("mlp", {"hidden": [64, 64]}) == "mlp hidden=64,64"


def test_tabcompress_chooses_on_held_out_rows_no_method_is_scored_on(tmp_path, monkeypatch):
    """--validation-share: tabcompress gets that share of the held-out rows as --validation-data, and every
    method is scored on the rest."""
    import run

    real_train, given = run.train_student, []

    def train(teacher, X, T, schema, settings, **kw):
        given.append(kw["validation_rows"])
        return real_train(teacher, X, T, schema, settings, **kw)

    monkeypatch.setattr(run, "train_student", train)
    assert run.main(["--quick", "--datasets", str(DATA / "magic_1200.csv"), "--teachers", "rf", "--students", "tree4",
                     "--methods", "B1,tabcompress", "--validation-share", "0.25", "--out", str(tmp_path),
                     "--name", "chosen_on"]) == 0
    results = json.loads((tmp_path / "chosen_on.json").read_text())
    facts = results["datasets"]["magic_1200"]
    assert (facts["validation_rows"], facts["test_rows"]) == (75, 225)  # --quick holds out 300 rows
    [(X_val, T_val)] = given
    assert len(X_val) == len(T_val) == 75 and len(results["runs"]) == 2
    assert {r["method"] for r in results["runs"]} == {"B1", "tabcompress"}
    # the paired method: the same rows scored, tabcompress choosing on its own training rows
    assert run.main(["--quick", "--datasets", str(DATA / "magic_1200.csv"), "--teachers", "rf", "--students", "tree4",
                     "--methods", "B1,tabcompress-own", "--validation-share", "0.25",
                     "--out", str(tmp_path), "--name", "own"]) == 0
    own = json.loads((tmp_path / "own.json").read_text())
    assert own["datasets"]["magic_1200"]["test_rows"] == 225 and given[-1] is None
    assert {r["method"] for r in own["runs"]} == {"B1", "tabcompress-own"}
    b1 = [next(r for r in res["runs"] if r["method"] == "B1") for res in (results, own)]
    assert b1[0]["fidelity"] == b1[1]["fidelity"]  # the same rows, the same baseline


def test_candidates_records_every_candidate_scored_on_the_held_out_rows(tmp_path):
    """--candidates: a tabcompress cell lists each student its search tried, the one it chose marked, with
    the validation fidelity the search saw and the fidelity on the rows every method is scored on."""
    import run

    argv = ["--quick", "--datasets", str(DATA / "magic_1200.csv"), "--teachers", "rf", "--students", "tree4",
            "--methods", "B1,tabcompress", "--seeds", "0", "--out", str(tmp_path)]
    assert run.main([*argv, "--candidates", "--name", "with"]) == 0
    assert run.main([*argv, "--name", "without"]) == 0
    runs = {name: {r["method"]: r for r in json.loads((tmp_path / f"{name}.json").read_text())["runs"]}
            for name in ("with", "without")}
    candidates = runs["with"]["tabcompress"]["candidates"]
    assert len(candidates) >= 2 and sum(c["chosen"] for c in candidates) == 1
    assert any(c["rows"] == "real rows only" for c in candidates)
    for c in candidates:
        assert 0.0 <= c["validation_fidelity"] <= 1.0 and 0.0 <= c["fidelity"] <= 1.0 and c["bytes"] > 0
        assert "target_accuracy" in c
    assert "candidates" not in runs["without"]["tabcompress"] and "candidates" not in runs["with"]["B1"]
    # the chosen student trained again on every training row: whether it shipped, and its held-out score
    refit, shipped = runs["with"]["tabcompress"]["refit"], runs["with"]["tabcompress"]
    assert isinstance(refit["shipped"], bool) and 0.0 <= refit["heldout_fidelity"] <= 1.0
    chosen = next(c for c in candidates if c["chosen"])
    assert shipped["fidelity"] == (refit["heldout_fidelity"] if refit["shipped"] else chosen["fidelity"])
    # recording them changes nothing the run ships
    assert runs["with"]["tabcompress"]["fidelity"] == runs["without"]["tabcompress"]["fidelity"]


def test_regimes_split_the_rows():
    import numpy as np
    from run import load_split, regime_rows

    assert regime_rows("small") == (3000, 5000) and regime_rows("full") == (None, 0.2)
    assert regime_rows("full", max_train_rows=500) == (500, 0.2) and regime_rows("small", max_train_rows=10) == (10, 5000)
    path = DATA / "magic_1200.csv"
    small = load_split("magic", path, 0)
    assert (len(small.X_train), len(small.X_test)) == (600, 600)  # at most half the rows held out
    full = load_split("magic", path, 0, regime="full")
    assert (len(full.X_train), len(full.X_test)) == (960, 240)
    share = full.y.mean()
    assert abs(full.y_test.mean() - share) < 0.01 and abs(full.y_train.mean() - share) < 0.01  # stratified
    capped = load_split("magic", path, 0, regime="full", max_train_rows=500)
    assert len(capped.X_train) == 500 and capped.X_test.equals(full.X_test)
    assert np.intersect1d(full.X_train.index, []).size == 0


class _Candidate:
    def __init__(self, name, family, params, student, chosen, fidelity):
        self.name, self.family, self.params, self.student, self.chosen = name, family, params, student, chosen
        self.generator, self.synthetic_ratio = "munge", 20.0
        self.validation = {"fidelity": fidelity}
        self.bytes, self.latency = None, {"single_row_ms": 0.1, "batch_ms": 1.0}


def _fake_search(teacher, X, T, depths=(2, 3, 6), chosen=3):
    """What train_student with --student auto returns: a TrainedStudent-like object with candidates."""
    from types import SimpleNamespace

    import numpy as np

    from tabcompress.students import make_student

    classes = teacher.classes_ if teacher.is_classifier else None
    candidates = []
    for d in depths:
        student = make_student("tree", max_depth=d, random_state=0).fit(X, T, classes=classes)
        candidates.append(_Candidate(f"tree depth {d}", "tree", {"max_depth": d}, student, d == chosen, 0.8 + d / 100))
    best = next(c.student for c in candidates if c.chosen)
    n_fit = int(0.8 * len(X))  # the fit rows and the validation rows, as a search keeps them
    return SimpleNamespace(student=best, candidates=candidates, generator_info={"name": "munge"}, n_synthetic=0,
                           timings_s={"student_fit": 0.1}, validation=(np.arange(n_fit), np.arange(n_fit, len(X))))


def test_frontier_scores_every_candidate_with_b4_and_b5():
    import numpy as np
    from baselines import CutTeacher, baseline_student, teacher_predictions, true_targets
    from run import measure_frontier
    from sklearn.ensemble import RandomForestClassifier

    from tabcompress import Settings, Teacher
    from tabcompress.evaluation.metrics import serialized_bytes
    from tabcompress.teachers.labeling import label_rows

    X, y = _frame("magic_1200.csv")
    X_train, y_train, X_test, y_test = X.iloc[:800], y.iloc[:800], X.iloc[800:], y.iloc[800:].to_numpy()
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X_train, y_train)
    teacher = Teacher.from_model(model)
    teacher_pred = teacher_predictions(teacher, X_test)
    fits = []

    def fit_true_label(family, params, classes, rows=None):
        fits.append((family, params, None if rows is None else len(rows)))
        student = baseline_student(family, params, 0)
        X, y = (X_train, y_train) if rows is None else (X_train.iloc[rows], y_train.iloc[rows])
        return student.fit(X, true_targets(y, classes), classes=classes), {"student_fit": {"s": 0.01}}, False

    trained = _fake_search(teacher, X_train, label_rows(teacher, X_train))
    out = measure_frontier(trained, Settings.from_options(student="tree"), task=teacher.task,
                           classes=teacher.classes_, X_test=X_test, teacher_pred=teacher_pred, y_test=y_test,
                           cutter=CutTeacher(model, teacher.task), fit_true_label=fit_true_label,
                           fit_rows=np.arange(600))
    assert out["searched"] and out["chosen"] == "tree depth 3 · munge ×20"
    assert [c["name"] for c in out["candidates"]] == ["tree depth 2", "tree depth 3", "tree depth 6"]
    assert [c["label"] for c in out["candidates"]] == [f"tree depth {d} · munge ×20" for d in (2, 3, 6)]
    assert [c["chosen"] for c in out["candidates"]] == [False, True, False]
    # B5 per candidate on the search's fit rows, as the candidate; then for the student shipped (its size:
    # the chosen one's, here from the settings) on every training row, as it
    assert fits == [("tree", {"max_depth": d}, 600) for d in (2, 3, 6)] + [("tree", {"max_depth": 6}, None)]
    assert [c["B5"]["rows"] for c in out["candidates"]] == ["fit"] * 3 and out["shipped"]["B5"]["rows"] == "all"
    shipped = out["shipped"]
    assert shipped["label"] == "tree depth 3 · munge ×20" and shipped["serialized_bytes"] == serialized_bytes(trained.student)
    assert shipped["B4"]["b4"]["budget_bytes"] == shipped["serialized_bytes"] and "fidelity" in shipped["B5"]
    for cand, fake in zip(out["candidates"], trained.candidates):
        assert cand["serialized_bytes"] == serialized_bytes(fake.student)
        assert cand["fidelity"] == pytest.approx((fake.student.predict(X_test) == teacher_pred).mean())
        assert cand["validation"] == fake.validation and cand["generator"] == "munge" and cand["params"] == fake.params
        assert cand["B4"]["b4"]["budget_bytes"] == cand["serialized_bytes"]
        assert cand["B4"]["b4"]["over_budget"] == (cand["B4"]["serialized_bytes"] > cand["serialized_bytes"])
        assert 0 <= cand["B5"]["fidelity"] <= 1 and cand["B5"]["serialized_bytes"] > 0 and "target_accuracy" in cand["B5"]

    # a plain run (no search, or a tabcompress without it): its one student, chosen, B5 of its own size
    from types import SimpleNamespace

    plain = SimpleNamespace(student=trained.candidates[0].student, candidates=None, generator_info={"name": "munge"})
    out = measure_frontier(plain, Settings.from_options(student="tree", max_depth=2), task=teacher.task,
                           classes=teacher.classes_, X_test=X_test, teacher_pred=teacher_pred, y_test=y_test,
                           cutter=None, fit_true_label=fit_true_label)
    assert not out["searched"] and out["chosen"] == "tree · munge ×20" and len(out["candidates"]) == 1
    assert out["shipped"] is None
    only = out["candidates"][0]
    assert only["chosen"] and only["params"]["max_depth"] == 2 and "B4" not in only and only["B5"]["fidelity"] > 0


def test_frontier_run_end_to_end_in_the_full_regime(tmp_path, monkeypatch):
    """run.py --methods ...,frontier with train_student's search faked (three trees, one chosen: fast and
    fixed), in the full regime on a small slice; then the page and its plots from the results."""
    import render
    import run

    from tabcompress import Settings

    real_config, real_train = run.tabcompress_config, run.train_student

    def config(args, seed, student_name):
        if student_name == run.FRONTIER_STUDENT:
            return Settings.from_options(seed=seed, device="cpu", cache=False, baseline=False, student="tree",
                                         max_depth=3, epochs=3)
        return real_config(args, seed, student_name)

    def train(teacher, X, T, schema, settings, **kw):
        if settings.student.max_depth == 3 and "generator" not in kw:  # the frontier's call
            return _fake_search(teacher, X, T)
        return real_train(teacher, X, T, schema, settings, **kw)

    monkeypatch.setattr(run, "tabcompress_config", config)
    monkeypatch.setattr(run, "train_student", train)
    monkeypatch.setattr(run, "check_students", lambda names: None)
    assert run.main(["--quick", "--regime", "full", "--datasets", str(DATA / "magic_1200.csv"), "--teachers", "rf",
                     "--students", "tree4", "--methods", "B0,B4,B5,tabcompress,frontier", "--out", str(tmp_path),
                     "--name", "frontier"]) == 0
    results = json.loads((tmp_path / "frontier.json").read_text())
    s = results["settings"]
    assert s["regime"] == "full" and s["max_train_rows"] == 600 and s["test_share"] == 0.2
    assert s["methods"] == ["B0", "B4", "B5", "tabcompress", "frontier"] and list(s["students"]) == ["tree4", "auto"]
    info = results["datasets"]["magic_1200"]
    assert (info["train_rows"], info["test_rows"], info["regime"]) == (600, 240, "full")
    assert {(r["student"], r["method"]) for r in results["runs"]} == {("tree4", m) for m in ("B0", "B4", "B5", "tabcompress")}
    (entry,) = results["frontier"]
    assert entry["teacher"] == "rf" and entry["student"] == "auto" and entry["searched"]
    assert entry["chosen"] == "tree depth 3 · munge ×20" and len(entry["candidates"]) == 3
    assert entry["shipped"]["family"] == "tree" and entry["shipped"]["params"] == {"max_depth": 3}
    assert all(_number(c["fidelity"], 0, 1) and _number(c["B4"]["fidelity"], 0, 1) and _number(c["B5"]["fidelity"], 0, 1)
               for c in entry["candidates"])
    cut = results["teachers"][0]["cut_to_share"]  # the teacher cut to 1 % of its bytes
    assert cut["share"] == 0.01 and cut["b4"]["budget_bytes"] == int(0.01 * results["teachers"][0]["serialized_bytes"])
    sizes = results["summary"]["sizes"]
    assert sizes["regime"] == "full" and len(sizes["points"]) == 5 and sizes["within_1pct"]["cells"][0]["teacher"] == "rf"

    md = tmp_path / "BENCHMARKS.md"
    # in this process: test_render_writes_markdown_and_plots runs the script
    assert render.main([str(tmp_path / "frontier.json"), "--md", str(md), "--plots", str(tmp_path / "plots")]) == 0
    text = md.read_text()
    assert "## Students on the fidelity–size frontier" in text and "Full regime: for each dataset" in text
    assert "### Within 1 % of the teacher's bytes (full regime)" in text and "tree depth 3 · munge ×20 (search) ★" in text
    assert "(plots/magic_1200_rf_frontier.png)" in text and "| tree depth 6 · munge ×20 | tree | 0 of 1 |" in text
    assert "| shipped: tree depth 3 · munge ×20 | tree | – |" in text
    png = (tmp_path / "plots" / "magic_1200_rf_frontier.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def _synthetic_results(regime):
    """A small results dict by hand: one classification and one regression dataset, teacher rf, the tree4
    student with every method, and (full regime) a search of three candidates on the first dataset."""
    import summary

    runs = []
    fids = {"c": {"B0": 0.80, "B1": 0.82, "B2": 0.83, "B3": 0.84, "B4": 0.70, "B5": 0.80, "tabcompress": 0.85,
                  "oracle": 0.90},
            "r": {"B0": 0.50, "B1": 0.60, "B2": 0.55, "B3": 0.70, "B4": 0.90, "B5": 0.50, "tabcompress": 0.65,
                  "oracle": 0.80}}
    for dataset, by_method in fids.items():
        for seed in (0, 1):
            for method, fid in by_method.items():
                run = {"dataset": dataset, "seed": seed, "teacher": "rf", "student": "tree4", "method": method,
                       "fidelity": fid + 0.01 * seed, "serialized_bytes": 4000 if method != "B4" else 3500,
                       "end_to_end_s": None if method in ("oracle", "B4") else 1.0, "peak_rss_mib": 100.0,
                       "timings": {}, ("target_accuracy" if dataset == "c" else "target_r2"): 0.8}
                if method == "B4":  # the regression cell's smallest cut is bigger than the student
                    run["b4"] = {"k": 1 if dataset == "r" else 2, "unit": "tree", "over_budget": dataset == "r"}
                    run["serialized_bytes"] = 9000 if dataset == "r" else 3500
                runs.append(run)
    frontier = []
    if regime == "full":
        for seed in (0, 1):
            cands = []
            for name, size, fid, b4, b5, chosen in (("tree 2", 2000, 0.78, 0.60, 0.75, False),
                                                    ("gbdt 50x4", 9000, 0.90, 0.85, 0.86, True),
                                                    ("mlp 64x64", 40000, 0.93, 0.95, 0.88, False)):
                cands.append({"name": name, "family": name.split()[0], "params": {}, "chosen": chosen,
                              "fidelity": fid, "serialized_bytes": size, "validation": {"fidelity": fid - 0.01},
                              "B4": {"fidelity": b4, "serialized_bytes": size - 500,
                                     "b4": {"k": 3, "unit": "tree", "over_budget": False}},
                              "B5": {"fidelity": b5, "serialized_bytes": size}})
            frontier.append({"dataset": "c", "seed": seed, "teacher": "rf", "student": "auto", "candidates": cands})
    results = {
        "name": "synthetic", "command": "python bench/run.py --synthetic", "started": "2026-12-01T10:00:00+00:00",
        "finished": "2026-12-01T11:00:00+00:00", "elapsed_s": 3600.0,
        "machine": {"cpu_count": 2, "torch_threads": 1, "load_average_at_start": [0.1, 0.1, 0.1], "platform": "Linux"},
        "versions": {"tabcompress": "0.1.0"},
        "settings": {"datasets": ["c", "r"], "seeds": [0, 1], "teachers": ["rf"],
                     "students": {"tree4": {"student": "tree", "max_depth": 4},
                                  **({"auto": {"student": "auto"}} if frontier else {})},
                     "methods": ["B0", "B1", "B2", "B3", "B4", "B5", "tabcompress", "oracle",
                                 *(["frontier"] if frontier else [])],
                     "regime": regime, "train_rows": 3000 if regime == "small" else None,
                     "test_rows": 5000 if regime == "small" else None,
                     "test_share": 0.2 if regime == "full" else None, "max_train_rows": None, "quick": False,
                     "B2": {"epochs": 300, "batch_size": 500, "max_rows": None, "ratio": 9.0},
                     "B3": {"p": 0.5, "s": 1.0, "ratio": 10.0},
                     "tabcompress": {"generator": "auto", "epochs": 100, "early_stop": True, "synthetic_ratio": 20.0,
                                     "synthetic_max_rows": 400000, "refine": False}},
        "datasets": {d: {"task": task, "rows": 1000, "features": 5, "categorical": [], "classes": 2 if d == "c" else None,
                         "train_rows": 800, "test_rows": 200} for d, task in (("c", "classification"), ("r", "regression"))},
        "generators": [],
        "teachers": [{"dataset": d, "seed": seed, "teacher": "rf", "type": "RandomForest", "serialized_bytes": 1_000_000,
                      ("target_accuracy" if d == "c" else "target_r2"): 0.9, "timings": {"teacher_fit": {"s": 1.0}},
                      "cut_to_share": {"share": 0.01, "fidelity": 0.6 + 0.1 * seed, "serialized_bytes": 9000,
                                       "b4": {"k": 2 + seed, "unit": "tree", "over_budget": False}}}
                     for d in ("c", "r") for seed in (0, 1)],
        "runs": runs, "frontier": frontier, "_path": "/results/synthetic.json",
    }
    results["summary"] = summary.summarise(results)
    return results


def test_sizes_figures_and_their_section(tmp_path):
    import render

    full = _synthetic_results("full")
    sizes = full["summary"]["sizes"]
    eq = sizes["equal_bytes"]
    # points: two cells' tree4 (the regression one's B4 over budget) and three candidates
    assert (eq["points"], eq["b4_compared"], eq["b4_over_budget"]) == (5, 4, 1)
    assert (eq["at_least_B4"], eq["at_least_B5"], eq["b5_compared"]) == (3, 5, 5)  # only mlp 64x64 < B4
    assert (eq["at_least_both"], eq["both_compared"]) == (3, 4)
    within = sizes["within_1pct"]  # 1 % of 1,000,000 bytes: tree 2 and gbdt 50x4 and tree4 are small enough
    best = {(c["dataset"], c["teacher"]): c for c in within["cells"]}
    assert best[("c", "rf")]["best"]["name"] == "gbdt 50x4" and best[("c", "rf")]["best"]["fidelity"] == 0.90
    assert best[("r", "rf")]["best"]["name"] == "tree4" and best[("r", "rf")]["best"]["fidelity"] == pytest.approx(0.655)
    assert within["median_fidelity"] == pytest.approx((0.90 + 0.655) / 2) and sizes["tree_cells"] is None
    assert best[("c", "rf")]["teacher_cut"] == {"fidelity": pytest.approx(0.65), "bytes": 9000, "k": [2, 3],
                                                "unit": "tree", "over_budget": False}
    # the regression cell's B4 is over budget: never the cell's best
    cells = {c["dataset"]: c for c in full["summary"]["cells"]}
    assert cells["r"]["best_method"] == "B3" and cells["c"]["best_method"] == "tabcompress"

    plots = {("c", "rf"): "plots/c_rf_frontier.png"}
    text = render.render_markdown(full, {}, tmp_path, plots)
    assert "## Students on the fidelity–size frontier" in text
    assert "At least as faithful as B4 in **3 of 4** (75 %) points" in text and "at 1 more points" in text
    assert "At least as faithful as B5 in **5 of 5** (100 %)" in text
    assert "### Within 1 % of the teacher's bytes (full regime)" in text
    assert "median over cells **0.7775** (2 of 2 cells have one that small)" in text
    assert "| c | rf | 976.6 KiB | 9.8 KiB | gbdt 50x4 (search) | 8.8 KiB | 0.9000 | B5 (gbdt 50x4) | 0.8600 | 0.6500 (2, 3 trees) |" in text
    assert "| c | rf | gbdt 50x4 (search) ★ | 8.8 KiB | 0.9000 | 0.8500 | 8.3 KiB | yes | 0.8600 | yes |" in text
    assert "| mlp 64x64 | mlp | 0 of 2 | 39.1 KiB | 0.9300 | 0.9200 | 3 trees | 0.9500 | 0.8800 |" in text
    assert "![fidelity against bytes, c, rf](plots/c_rf_frontier.png)" in text
    assert "Tree students against every published baseline" not in text  # small regime only
    assert "| r | rf | tree4 | 0.5050 | 0.6050 | 0.5550 | **0.7050** | *0.9050* |" in text  # B4 over budget: italic, not best
    render.plot_frontier(full, sizes, "c", "rf", tmp_path / "c_rf_frontier.png")
    render.plot_frontier(full, sizes, "r", "rf", tmp_path / "r_rf_frontier.png")
    assert (tmp_path / "c_rf_frontier.png").read_bytes().startswith(b"\x89PNG")

    small = _synthetic_results("small")
    trees = small["summary"]["sizes"]["tree_cells"]
    assert (trees["cells"], trees["at_least_all"]) == (2, 1)
    assert trees["regression"] == [{"dataset": "r", "teacher": "rf", "student": "tree4", "at_least_B1": True,
                                    "at_least_B3": False}]
    text = render.render_markdown(small, {}, tmp_path, {})
    assert "every baseline (B0, B1, B2, B3) in **1 of 2** (50 %) cells" in text
    assert "at least B1 and B3 in **0 of 1** (0 %)" in text and "| r | rf | tree4 | yes | **no** |" in text
    assert "Within 1 %" not in text and "At equal bytes" in text and "For each dataset and seed (0, 1), 3,000" in text

    # one point per (cell, size): of a size's candidates the one best on validation, or the shipped one
    from summary import one_per_size

    def point(kind, params, validation, family="gbdt", teacher="rf"):
        return {"dataset": "c", "teacher": teacher, "kind": kind, "family": family, "params": params,
                "validation": validation, "name": f"{kind} {params} {validation}"}

    points = [point("candidate", {"trees": 5}, 0.8), point("candidate", {"trees": 5}, 0.9),
              point("candidate", {"trees": 5}, 0.7, teacher="xgb"),
              point("candidate", {"max_depth": 3, "grow_on": "probabilities"}, 0.8, family="tree"),
              point("candidate", {"max_depth": 3, "grow_on": "classes"}, 0.85, family="tree"),
              point("candidate", {"trees": 9}, 0.95), point("shipped", {"trees": 9}, None),
              {**point("student", {}, None), "name": "tree4"}]
    assert sorted(p["name"] for p in one_per_size(points)) == sorted([
        "tree4", "candidate {'trees': 5} 0.9", "candidate {'trees': 5} 0.7",
        "candidate {'max_depth': 3, 'grow_on': 'classes'} 0.85", "shipped {'trees': 9} None"])
    assert eq["per_size"]["points"] <= eq["points"]
    assert "One point per (cell, size)" in text

    # results without B4, B5, the frontier or tree cells: no section
    bare = _synthetic_results("small")
    bare["runs"] = [r for r in bare["runs"] if r["method"] in ("B0", "oracle")]
    bare["settings"]["methods"] = ["B0", "oracle"]
    bare["summary"] = __import__("summary").summarise(bare)
    assert "fidelity–size frontier" not in render.render_markdown(bare, {}, tmp_path, {})
    assert render.frontier_pairs(bare) == []


def test_frontier_runs_tabcompress_search(tmp_path):
    """The frontier method on the real --student auto: every candidate scored with B4 and B5."""
    import run

    assert run.main(["--quick", "--datasets", str(DATA / "magic_1200.csv"), "--teachers", "rf", "--students", "auto",
                     "--methods", "frontier", "--out", str(tmp_path), "--name", "auto"]) == 0
    results = json.loads((tmp_path / "auto.json").read_text())
    assert results["runs"] == [] and results["settings"]["methods"] == ["frontier"]
    (entry,) = results["frontier"]
    cands = entry["candidates"]
    assert entry["searched"] and len(cands) > 3 and sum(c["chosen"] for c in cands) == 1
    assert entry["search"]["rule"] and entry["search"]["validation_rows"] > 0
    assert len({c["label"] for c in cands}) == len(cands)  # a size tried on several sets of rows: one label each
    for c in cands + [entry["shipped"]]:
        assert _number(c["fidelity"], 0, 1) and c["serialized_bytes"] > 100
        assert "error" not in c["B4"] and "error" not in c["B5"], c
        assert c["B4"]["b4"]["budget_bytes"] == c["serialized_bytes"]
    assert entry["shipped"]["label"] == entry["chosen"]
    # the candidates' B5 on the search's own fit rows (train_student says which), the shipped one's on all
    assert {c["B5"]["rows"] for c in cands} == {"fit"} and entry["shipped"]["B5"]["rows"] == "all"
