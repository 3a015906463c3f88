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


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    # A classification set with text columns (so the teachers are Pipelines) and a regression set
    # with text and missing cells.
    for data in ("bank_1500.csv", "california_1200.csv"):
        subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--datasets",
                        str(ROOT / "tests" / "data" / data), "--out", str(out), "--name", Path(data).stem],
                       check=True, timeout=900, cwd=ROOT)
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
    # one run per teacher × student × method
    assert {(r["teacher"], r["student"], r["method"]) for r in runs} == {
        (t, s, m) for t in ("rf", "xgb") for s in STUDENTS for m in METHODS}
    assert len(runs) == 2 * 3 * 8
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
        assert r["synthetic_rows"] == ratio * r["real_rows"]
        assert all(_number(v["s"], 0.0) for v in r["timings"].values())
    for t in results["teachers"]:
        assert t["type"].startswith("Pipeline(ColumnTransformer") and _number(t["serialized_bytes"], 1000)
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
    assert len(summary["cells"]) == 6
    for cell in summary["cells"]:
        assert set(cell["methods"]) == METHODS
        for method, v in cell["methods"].items():
            assert v["fidelity"]["n"] == 1 and v["fidelity"]["sd"] == 0.0
            closed = v["headroom_closed"]
            assert closed is None or _number(closed), (method, closed)
            if method in ("B0", "oracle"):
                assert closed is None
    head = summary["headline"]
    assert 0 <= head["tabcompress_beats_all_baselines"] <= head["tabcompress_at_least_all_baselines"] <= 6
    assert _number(head["median_speedup_vs_B2"], 0.0)


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
