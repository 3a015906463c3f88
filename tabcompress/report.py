"""The report: what the run measured, as JSON and as a summary table for people."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

PACKAGES = ("tabcompress", "numpy", "pandas", "scikit-learn", "xgboost", "lightgbm", "catboost", "torch", "ctgan",
            "joblib")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def environment(device: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": device,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    torch = sys.modules.get("torch")
    if torch is not None:  # the run trained with torch (importing it only to ask would cost a second or two)
        info["torch_threads"] = torch.get_num_threads()
    return info


#: said in the summary, and in ``evaluate``'s notes, whenever a file's columns were matched to a teacher
#: that has no feature names: by position, which no check can tell from a right match
COLUMNS_BY_POSITION = ("columns matched by position: the teacher has no feature names, so a file whose columns "
                       "are in another order than the teacher was fitted on gives wrong labels, undetected")


def stamp_total(report: dict[str, Any], run: Any) -> None:
    """Put the run's seconds so far into ``report``: ``timings_s.total``, and the budget's ``total_s`` and
    ``within``. Stamped again just before report.json is written, so that writing the student counts."""
    total = round(run.elapsed(), 3)
    report["timings_s"]["total"] = total
    budget = report.get("budget")
    if budget is not None:
        budget.update(total_s=total, within=bool(total <= budget["seconds"]))


def build_report(run: Any, mode: str, teacher: Any, rows: Any, trained: Any, scores: dict[str, Any],
                 device: str) -> dict[str, Any]:
    """The report of a finished run (what ``report.json`` holds; docs/report.md describes each field)."""
    settings = run.settings
    dataset = rows.dataset
    student_section = scores["student"]
    trained_on = getattr(trained.student, "trained_on_", None)
    if trained_on is not None:  # a gbdt student: boosted here, on the Dask cluster or from external memory
        student_section["trained_on"] = trained_on
    if hasattr(trained.student, "streamed_rows_"):
        student_section["streamed_rows"] = trained.student.streamed_rows_
    adversarial = getattr(trained.student, "adversarial_", None)
    if settings.student.adversarial and adversarial:
        student_section["adversarial"] = {k: v for k, v in adversarial.items() if k != "history"}
    fidelity = scores["metrics"]["student"]["fidelity"]
    gate = None
    if settings.output.min_fidelity is not None:
        gate = {"min_fidelity": settings.output.min_fidelity, "passed": bool(fidelity >= settings.output.min_fidelity)}
    budget = None
    if settings.budget.time_budget is not None:
        budget = {"seconds": settings.budget.time_budget, "total_s": None, "within": None, "training": trained.budget}
    report = {
        "task": teacher.task,
        "classes": jsonable(list(teacher.classes_)) if teacher.is_classifier else None,
        "mode": mode,
        "metrics": scores["metrics"],
        "teacher": scores["teacher"],
        "student": student_section,
        "data": {
            "path": rows.source,
            "rows": int(dataset.n_rows) if dataset is not None else 0,
            "features": int(len(rows.schema.columns)),
            "target": dataset.target if dataset is not None else None,
            "ignored_columns": dataset.ignored_columns if dataset is not None else [],
            "columns_by_position": bool(teacher.feature_names is None
                                        and (dataset is not None or rows.held_out is not None)),
            "train_rows": int(len(rows.X_train)),
            "test_rows": int(len(rows.X_test)),
            "scored_on": rows.scored_on,
            "eval_path": rows.eval_source,
            "validation_path": rows.validation_source,
            "stratified": rows.stratified,
            "sampled": bool(dataset is not None and dataset.sampled),
            "synthetic_rows": int(trained.n_synthetic),
            "schema": rows.schema.to_dict(),
        },
        "generator": trained.generator_info,
        "selection": trained.selection,
        "search": trained.search.to_dict() if getattr(trained, "search", None) is not None else None,
        "tsc": scores["tsc"],
        "budget": budget,
        "gate": gate,
        "timings_s": run.stages.seconds,
        "settings": resolved_settings(settings, mode, rows, trained, device).to_dict(),
        "versions": versions(),
        "environment": environment(device),
        "notes": run.notes,
    }
    stamp_total(report, run)
    return report


def resolved_settings(settings: Any, mode: str, rows: Any, trained: Any, device: str) -> Any:
    """``settings`` with every value the run derived put in: the target column it used, ``auto``'s
    generator, the torch device, the student file format, the synthetic rows and selection rounds it
    planned, and what the student's own fit settled (a tree's refinement passes and starts)."""
    resolved: dict[str, Any] = {"device": device, "student_format": settings.student_format,
                                "synthetic_rows": int(trained.n_synthetic)}
    if rows.dataset is not None:
        resolved["target"] = rows.dataset.target
    if settings.generator.cache or settings.generator.cache_dir is not None:
        from tabcompress.generators.cache import GeneratorCache

        directory = GeneratorCache(settings.generator.cache_dir).directory  # None: no home, so no cache
        if directory is not None:
            resolved["cache_dir"] = str(directory)
    if mode == "data":
        resolved["generator"] = trained.generator_info["name"]
    resolved["student"] = settings.student_name  # a tree, unless a search chose (below)
    if getattr(trained, "chosen", None):
        resolved.update(trained.chosen)
    if trained.selection is not None:
        resolved["selection_rounds"] = int(trained.selection["rounds"])
    resolved.update(trained.student.fitted_settings())
    return settings.replace(**resolved)


def jsonable(value: Any) -> Any:
    """numpy scalars and arrays → Python, non-finite floats → None, so the JSON is strict."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(jsonable(report), indent=2, allow_nan=False) + "\n"


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def generator_line(report: dict[str, Any]) -> str:
    """One line on where the synthetic rows came from: generator, epochs, cache, selection."""
    g = report.get("generator") or {}
    rows = report["data"].get("synthetic_rows", 0)
    if g.get("name") in (None, "none") or not rows:
        chosen = " (chosen on the validation rows)" if g.get("used") is False and g.get("name") != "none" else ""
        return f"synthetic rows: none (real rows only{chosen})"
    if g["name"] == "forest":
        return (f"synthetic rows: {rows:,} sampled from the teacher's trees ({g['trees_per_row']} trees per row"
                + (f"; {report['selection']['selected_rows']:,} chosen by selection" if (report.get('selection') or {})
                   .get('rounds') else "") + ")")
    if g["name"] == "few-shot":
        return (f"synthetic rows: {rows:,} grown around {report['data']['train_rows']:,} prototypes "
                f"(mean forest proximity {g.get('mean_proximity') or 0.0:.2f})")
    parts = []
    for name, facts in g.items():
        if isinstance(facts, dict) and "epochs_run" in facts:
            parts.append(f"{name} {facts['epochs_run']}/{facts['epochs']} epochs ({facts.get('stop_reason', '')})")
    for name, info in (g.get("cache") or {}).items():
        status = {"hit": "loaded from cache, fit skipped", "miss": "fitted and cached",
                  "refit": "cache entry damaged, refitted"}.get(info.get("status"), info.get("status"))
        parts.append(f"{name}: {status}")
    if g.get("reused"):
        parts.append("generator reused")
    sel = report.get("selection") or {}
    if sel.get("rounds"):
        parts.append(f"{sel['selected_rows']:,} rows chosen by teacher-aware selection in {sel['rounds']} rounds")
    detail = f" — {'; '.join(parts)}" if parts else ""
    default = g.get("default") or {}
    if default.get("used"):  # the search weighed rows that looked unlike the real ones against auto's
        return (f"synthetic rows: {rows:,} from {default['name']}, the rows --generator auto uses, in place of "
                f"{g['name']}'s, which a classifier told from the real rows at ROC AUC {g['detection_auc']:.2f}"
                f"{detail}")
    return f"synthetic rows: {rows:,} from {g['name']}{detail}"


def search_lines(report: dict[str, Any]) -> list[str]:
    """The validation search in a few lines: what was chosen and why, and the frontier when sizes were
    searched (fidelity against size, smallest first)."""
    search = report.get("search")
    if not search:
        return []
    candidates = search["candidates"]
    chosen = next(c for c in candidates if c["chosen"])
    given = report.get("data", {}).get("validation_path")
    where = f" of {os.path.basename(given)}" if given else ""
    lines = [f"chosen on {search['validation_rows']:,} validation rows{where}: {chosen['name']} with {chosen['rows']} "
             f"(validation fidelity {chosen['validation']['fidelity']:.4f}, {_fmt_bytes(chosen['bytes'])}): "
             f"{search['rule']}, of {len(candidates)} tried"]
    if search.get("sizes_searched"):
        points = frontier_points(search)
        lines.append("frontier: " + " · ".join(f"{c['name']} {c['validation']['fidelity']:.4f} "
                                               f"{_fmt_bytes(c['bytes'])}" for c in points))
    return lines


def frontier_points(search: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's candidates on the search's frontier, smallest first."""
    return sorted((c for c in search["candidates"] if c["on_frontier"]), key=lambda c: c["bytes"])


FRONTIER_PLOT = "frontier.png"


def can_plot() -> bool:
    """Whether matplotlib is installed (the frontier plot needs it; nothing else does)."""
    from importlib.util import find_spec

    return find_spec("matplotlib") is not None


def plot_frontier(report: dict[str, Any], path: Any) -> None:
    """Validation fidelity against pickled bytes (log scale) of every candidate of the search, the frontier
    joined, the chosen student ringed and the teacher marked at fidelity 1; a PNG at ``path`` (a file name
    or a binary file)."""
    # A Figure of its own, not pyplot's: it leaves the caller's matplotlib backend as it was (a notebook's,
    # say) and is quicker to import.
    from matplotlib.figure import Figure

    search = report["search"]
    fig = Figure(figsize=(6.4, 4.2), dpi=110)
    ax = fig.subplots()
    families = sorted({c["family"] for c in search["candidates"]})
    for family in families:
        points = [c for c in search["candidates"] if c["family"] == family]
        ax.scatter([c["bytes"] for c in points], [c["validation"]["fidelity"] for c in points], s=22,
                   label=family, alpha=0.8)
    front = frontier_points(search)
    ax.plot([c["bytes"] for c in front], [c["validation"]["fidelity"] for c in front], color="0.4", lw=1,
            label="frontier")
    chosen = next(c for c in search["candidates"] if c["chosen"])
    ax.scatter([chosen["bytes"]], [chosen["validation"]["fidelity"]], s=140, facecolors="none",
               edgecolors="black", label=f"chosen: {chosen['name']}")
    teacher_bytes = report["teacher"]["serialized_bytes"]
    ax.scatter([teacher_bytes], [1.0], marker="*", s=160, color="black", label="teacher")
    ax.set_xscale("log")
    ax.set_xlabel("pickled bytes")
    ax.set_ylabel("R² to the teacher" if report["task"] == "regression" else "agreement with the teacher")
    ax.set_title(f"students tried, on {search['validation_rows']:,} validation rows", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format="png")


def render_summary(report: dict[str, Any], console) -> None:
    """A compact table of the headline figures, for a person at a terminal (stderr)."""
    from rich import box
    from rich.table import Table

    task = report["task"]
    metrics = report["metrics"]
    has_baseline = "baseline" in metrics
    scored_on = report["data"].get("scored_on", "held-out real rows")
    table = Table(box=box.SIMPLE_HEAD, title_justify="left",
                  title=f"{task} ({report.get('mode', 'data')}), scored on {report['data']['test_rows']:,} "
                        f"{scored_on}")
    if has_baseline:
        alone = "the prototypes alone" if report.get("mode") == "few-shot" else "the real rows only"
        table.caption = f"baseline: the same student trained on {alone}"
        table.caption_justify = "left"
    table.add_column("", no_wrap=True)
    for header in ("teacher", "student") + (("baseline",) if has_baseline else ()):
        table.add_column(header, justify="right", no_wrap=True)

    def add(label: str, teacher: str, student: str, baseline: str = "") -> None:
        table.add_row(label, teacher, student, *((baseline,) if has_baseline else ()))

    def metric(label: str, key: str, teacher: str, fmt: str = "{:.4f}") -> None:
        cells = [fmt.format(metrics[w][key]) if w in metrics and metrics[w].get(key) is not None else "-"
                 for w in ("student", "baseline")]
        add(label, teacher, *cells)

    if task == "regression":
        metric("fidelity (R² to teacher)", "fidelity", "1")
        metric("RMSE to teacher", "rmse", "0", "{:.4g}")
    else:
        metric("fidelity (agreement)", "fidelity", "1")
    teacher_metrics = metrics.get("teacher", {})
    for key, label, fmt in (("target_accuracy", "accuracy", "{:.4f}"), ("target_r2", "R² to target", "{:.4f}"),
                            ("target_rmse", "RMSE to target", "{:.4g}")):
        if key in teacher_metrics:
            metric(label, key, fmt.format(teacher_metrics[key]), fmt)
    t, s = report["teacher"], report["student"]
    add("size, pickled", _fmt_bytes(t["serialized_bytes"]), _fmt_bytes(s["serialized_bytes"]))
    # a teacher that is no tree ensemble (any model, ONNX) counts no trees: "-"
    teacher_trees = f"{t['n_trees']:,}" if t.get("n_trees") else "-"
    if "n_leaves" in s:
        add("trees", teacher_trees, f"{s.get('n_trees', 1):,}")
        add("leaves", f"{t['n_leaves']:,}" if t.get("n_trees") else "-", f"{s['n_leaves']:,}")
    else:
        add("trees / weights", f"{teacher_trees} trees" if t.get("n_trees") else "-", f"{s['n_parameters']:,} weights")
    add(f"latency, {t['latency']['batch_rows']:,} rows", f"{t['latency']['batch_ms']:.1f} ms",
        f"{s['latency']['batch_ms']:.1f} ms")
    add("latency, 1 row", f"{t['latency']['single_row_ms']:.2f} ms", f"{s['latency']['single_row_ms']:.2f} ms")
    console.print(table)
    timings = report["timings_s"]
    spent = ", ".join(f"{k} {v:.1f}" for k, v in timings.items() if k != "total")
    console.print(f"wall time {timings['total']:.1f} s ({spent})", highlight=False)
    console.print(generator_line(report), highlight=False)
    if report["data"].get("columns_by_position"):
        console.print(COLUMNS_BY_POSITION, highlight=False)
    refinement = report["student"].get("refinement")
    if refinement:
        what = "disagreement with the teacher" if refinement["loss"] == "disagreement" else "squared error"
        starts = refinement.get("starts") or []
        best_of = f"; best of {len(starts)} starts: {refinement['start']}" if len(starts) > 1 else ""
        console.print(f"tree refined: training {what} {refinement['loss_before']:.4g} → "
                      f"{refinement['loss_after']:.4g} ({refinement['nodes_changed']} splits changed, "
                      f"{refinement['passes']} passes{best_of})", highlight=False)
    elif report["student"].get("refined") is False:
        console.print("tree refinement: off (--refine turns it on)", highlight=False)
    lookahead = report["student"].get("lookahead")
    if lookahead and lookahead["nodes_changed"]:
        what = "disagreement with the teacher" if lookahead["loss"] == "disagreement" else "squared error"
        splits = "split" if lookahead["nodes_changed"] == 1 else "splits"
        console.print(f"tree splits by lookahead: training {what} {lookahead['greedy_loss']:.4g} (CART's tree) → "
                      f"{lookahead['shipped_loss']:.4g} ({lookahead['nodes_changed']} {splits} changed in the top "
                      f"{lookahead['levels']} levels)", highlight=False)
    for line in search_lines(report):
        console.print(line, highlight=False)
    tsc = report.get("tsc")
    if tsc and tsc["score"].get("fidelity_ratio") is not None:
        console.print(f"TSC score of the synthetic rows: {tsc['score']['fidelity_ratio']:.3f} (a reference tree on "
                      f"them agrees with the teacher {tsc['synthetic']['fidelity']:.4f}, on the real training rows "
                      f"{tsc['real']['fidelity']:.4f})", highlight=False)
    adversarial = report["student"].get("adversarial")
    if adversarial:
        console.print(f"adversarial training: discriminator accuracy {adversarial.get('discriminator_accuracy', 0):.3f}"
                      f" at the end, temperature {adversarial.get('temperature_final', 0):.3g}", highlight=False)
    budget = report.get("budget")
    if budget:
        plan = (budget.get("training") or {}).get("plan") or {}
        cuts = "; ".join((plan.get("replanned") or plan).get("adjustments") or []) or "no cuts"
        verdict = "within" if budget["within"] else "OVER"
        console.print(f"time budget {budget['seconds']:g} s: {budget['total_s']:.1f} s spent ({verdict}); "
                      f"plan: {cuts}", highlight=False)
    if report.get("gate"):
        gate = report["gate"]
        verdict = "[green]passed[/green]" if gate["passed"] else "[red]FAILED[/red]"
        console.print(f"fidelity gate ≥ {gate['min_fidelity']}: {verdict}")
