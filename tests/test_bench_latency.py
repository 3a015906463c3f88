"""`make bench-latency` as a smoke test: bench/latency.py on one small slice (a 30-tree Pipeline teacher on
300 training rows, regression, a text column and a missing cell in the training and the held-out rows), few
calls. Every serving way is timed, the exported students reproduce the Python student, the converted teacher
its model, and the tables are written."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("latency")
    subprocess.run([sys.executable, str(ROOT / "bench" / "latency.py"), "--quick",
                    "--datasets", str(ROOT / "tests" / "data" / "california_1200.csv"), "--max-train-rows", "300",
                    "--row-calls", "40", "--teacher-row-calls", "10", "--batch-rows", "300", "--batch-calls", "2",
                    "--rounds", "2", "--c-passes", "2", "--out", str(out), "--name", "latency"],
                   check=True, timeout=300, cwd=ROOT)
    return json.loads((out / "latency.json").read_text()), (out / "latency.md").read_text()


def test_every_way_is_timed_and_agrees(results):
    data, md = results
    assert data["finished"] and len(data["runs"]) == 1
    run = data["runs"][0]
    assert run["task"] == "regression" and run["pipeline"] and run["missing_cells_held_out"] >= 1
    ways = run["ways"]
    expected = {"teacher_loaded", "teacher_onnx", "student_wrapper", "student_onnx"}
    if _has("tabcompress.export.python_format"):
        expected.add("student_python")
    if _has("tabcompress.export.c_format") and shutil.which("cc"):
        expected.add("student_c")
    for key in expected:
        way = ways[key]
        assert "error" not in way, (key, way.get("error"))
        assert way["bytes"] > 0
        for size in ("one_row", "batch"):
            stats = way[size]
            assert math.isfinite(stats["median_us"]) and stats["median_us"] > 0, (key, size)
        assert way["one_row"]["calls"] >= (10 if key == "teacher_loaded" else 40)
    # onnxruntime at both thread settings, the figure the faster one
    for key in ("teacher_onnx", "student_onnx"):
        settings = ways[key]["settings"]
        assert set(settings) == {"ort_threads_1", "ort_threads_default"}
        assert ways[key]["one_row"]["median_us"] == min(s["one_row"]["median_us"] for s in settings.values())
    # the converted teacher computes the forest's values, the missing cell included (the patched
    # missing-value directions); the exported students compute the Python student's
    assert ways["teacher_onnx"]["conversion"]["missing_flags_set"] > 0
    assert ways["teacher_onnx"]["agreement"]["max_abs_diff_over_sd"] < 1e-4
    for key in expected - {"teacher_loaded", "teacher_onnx", "student_wrapper"}:
        assert ways[key]["agreement"]["max_abs_diff_over_sd"] < 1e-9, key
    ratios = run["ratios"]
    for student in expected - {"teacher_loaded", "teacher_onnx"}:
        for teacher in ("teacher_onnx", "teacher_loaded", "teacher_fastest"):
            r = ratios[f"{teacher}/{student}"]
            assert r["one_row"] > 0 and r["batch"] > 0 and r["bytes"] > 0
    summary = data["summary"]["rf"]
    assert {row["student"] for row in summary["done_when"]} >= {"student_onnx"}
    assert "## Summary: rf teacher" in md and "### california_1200, rf teacher" in md
