"""Turn a benchmark's JSON into BENCHMARKS.md and one PNG per dataset (fidelity against student size),
and, where the run measured B4, B5 or the frontier, one PNG per dataset and teacher of fidelity against
bytes (``<dataset>_<teacher>_frontier.png``) and the section "Students on the fidelity–size frontier".

    python bench/render.py bench/results/full.json [--md BENCHMARKS.md] [--plots bench/results/plots]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import summary as summary_mod  # noqa: E402

from tabcompress.students.tree import DEFAULT_REFINE_STARTS  # noqa: E402

METHOD_LABELS = {
    "B0": "B0 true labels",
    "B1": "B1 teacher probs",
    "B2": "B2 GAN-TSC",
    "B3": "B3 MUNGE",
    "B4": "B4 teacher cut",
    "B5": "B5 true labels, same size",
    "tabcompress": "tabcompress",
    "oracle": "oracle",
    "frontier": "tabcompress search",
}
COLOURS = {"B0": "#8c8c8c", "B1": "#1f77b4", "B2": "#ff7f0e", "B3": "#2ca02c", "B4": "#9467bd", "B5": "#8c564b",
           "tabcompress": "#d62728", "oracle": "#000000", "frontier": "#d62728"}
MARKERS = {"tree4": "o", "tree8": "s", "mlp64x64": "^", "gbdt": "D", "linear": "v"}
FRONTIER = summary_mod.FRONTIER


def fmt(value: float | None, spec: str = ".4f") -> str:
    return "–" if value is None else format(value, spec)


def mean_sd(stats: dict[str, Any], spec: str = ".4f") -> str:
    if stats["mean"] is None:
        return "–"
    return f"{stats['mean']:{spec}} ± {stats['sd']:{spec}}" if stats["n"] > 1 else format(stats["mean"], spec)


def _kib(n: float | None) -> str:
    return "–" if n is None else f"{n / 1024:,.1f}"


def refined(settings: dict[str, Any]) -> bool:
    """Whether tabcompress's tree cells were refined: ``refine`` or passes asked for, or, in results made
    before refinement became opt-in (no ``refine`` setting), passes left to the default."""
    passes = settings.get("refine_passes")
    if "refine" not in settings:
        return "refine_passes" in settings and passes is None
    return bool(passes) if passes is not None else bool(settings["refine"])


def rows_sentence(s: dict[str, Any]) -> str:
    """Which rows train and which are held out, in the run's regime."""
    seeds = ", ".join(map(str, s["seeds"]))
    cap = s.get("max_train_rows")
    if (s.get("regime") or "small") == "full":
        return (f"Full regime: for each dataset and seed ({seeds}), {100 * (s.get('test_share') or 0.2):g} % of the "
                "dataset's rows (stratified by class) are held out from everything and the rest train the teacher "
                "and every student" + (f" (at most {cap:,} of them, a random stratified subset)" if cap else "")
                + "; every method below is scored on those same held-out rows. ")
    return (f"For each dataset and seed ({seeds}), {min(s['train_rows'], cap or s['train_rows']):,} random real rows "
            f"(stratified by class) train the teacher and every student, and {s['test_rows']:,} other real rows "
            "are held out from everything; every method below is scored on those same held-out rows. ")


def student_words(family: str, spec: dict[str, Any]) -> str:
    """What a student spec is, in words: "decision tree of depth 4"."""
    if family == "tree" and set(spec) == {"max_depth"}:
        return f"decision tree of depth {spec['max_depth']}"
    if family == "mlp" and set(spec) == {"hidden"}:
        widths = list(spec["hidden"])
        return (f"MLP with {'two' if len(widths) == 2 else len(widths)} hidden layers of "
                + (str(widths[0]) if len(set(widths)) == 1 else ", ".join(map(str, widths))))
    if family == "gbdt" and set(spec) <= {"trees", "max_depth", "learning_rate"}:
        return (f"{spec.get('trees', 'the default number of')} boosted trees"
                + (f" of depth {spec['max_depth']}" if "max_depth" in spec else "")
                + (f", learning rate {spec['learning_rate']:g}" if "learning_rate" in spec else ""))
    if family == "linear" and not spec:
        return "linear model"
    if family == "auto":
        return "tabcompress's search over students and sizes (`--student auto`: the frontier method)"
    return f"{family} student" + (" (" + ", ".join(f"{k} {v}" for k, v in spec.items()) + ")" if spec else "")


def students_sentence(s: dict[str, Any]) -> str:
    """The students of the run and what each is, in the page's words for the three first students."""
    names = list(s["students"])
    words = []
    if names[:3] == ["tree4", "tree8", "mlp64x64"] and [dict(s["students"][n]) for n in names[:3]] == [
            {"student": "tree", "max_depth": 4}, {"student": "tree", "max_depth": 8},
            {"student": "mlp", "hidden": [64, 64]}]:
        words.append("`tree4` / `tree8` = decision tree of depth 4 / 8, `mlp64x64` = MLP with two hidden layers of 64")
        names = names[3:]
    for name in names:
        spec = dict(s["students"][name])
        family = spec.pop("student", name)
        words.append(f"`{name}` = {student_words(family, spec)}")
    return "; ".join(words)


def method_rows(s: dict[str, Any]) -> dict[str, str]:
    """The table's line for each method: what its student is trained on."""
    tc = s["tabcompress"]
    return {
        "B0": "the real training rows with their true labels",
        "B1": "the real training rows with the teacher's probabilities (values, for regression)",
        "B2": f"GAN-TSC (Liu, Fusi & Mackey 2018): CTGAN with the package's defaults ({s['B2']['epochs']} epochs, "
              f"batch {s['B2']['batch_size']}"
              + (f", fitted on at most {s['B2']['max_rows']:,} rows" if s['B2']['max_rows'] else "")
              + f"), {s['B2']['ratio']:g}× the training rows, plus the real rows; teacher probabilities",
        "B3": f"MUNGE (Bucilă, Caruana & Niculescu-Mizil 2006), p = {s['B3']['p']:g}, s = {s['B3']['s']:g}: "
              f"{s['B3']['ratio']:g}× the training rows, plus the real rows; teacher probabilities",
        "B4": "nothing: the teacher itself cut to the student's bytes, its first k boosting rounds (XGBoost; a "
              "multiclass round holds one tree per class) or k of its trees (RandomForest), the largest k whose "
              "pickled size is at most tabcompress's student's (a Pipeline measured with the cut model in it)",
        "B5": "the real training rows with their true labels, the student's own family and size (for the students "
              "above this is B0; for the search's candidates, each candidate's family and size)",
        "tabcompress": f"the library's defaults (generator {tc['generator']}"
        + (": MUNGE for tree students; for the MLP, CTGAN when at least a third of the columns are categorical, "
           "half MUNGE and half CTGAN rows when fewer are, else MUNGE"
           if tc['generator'] == "auto" else "")
        + f"; CTGAN at most {tc['epochs']} epochs"
        + (" with early stopping" if tc.get('early_stop') else "")
        + f"; {tc['synthetic_ratio']:g}× synthetic rows"
        + (f", at most {tc['synthetic_max_rows']:,}" if tc.get('synthetic_max_rows') else "")
        + (f"; tree students' splits refined for the teacher's classes (classification), from "
           f"{tc.get('refine_starts') or DEFAULT_REFINE_STARTS} starting trees"
           if refined(tc) else "; tree students grown by CART, not refined (`--refine` is off by default)")
        + "), through the same `train_student` the CLI runs",
        "oracle": "the teacher's labels of the held-out rows themselves: what the student's capacity allows, not a "
                  "method (for trees, scikit-learn's greedy CART tree, as in B0–B3; tabcompress's refined trees can "
                  "exceed it)",
        FRONTIER: "`train_student` with `--student auto`: every candidate the search trained (family, size, "
                  "generator), each scored on the held-out rows, the chosen one marked; with B4 at each candidate's "
                  "bytes and B5 of its family and size",
    }


def cell_methods(s: dict[str, Any]) -> list[str]:
    """The methods whose runs make the cells (the frontier's are apart)."""
    return [m for m in s["methods"] if m != FRONTIER]


def render_markdown(results: dict[str, Any], plots: dict[str, str], md_dir: Path,
                    frontier_plots: dict[tuple[str, str], str] | None = None) -> str:
    s = results["settings"]
    summary = results["summary"]
    head = summary["headline"]
    machine = results["machine"]
    versions = results["versions"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/render.py` from `" + os.path.relpath(results.get("_path", ""), md_dir) + "`; do not edit by hand.",
        "",
        "**Command:** `" + results["command"].strip() + "` (`make bench` runs it and this renderer).",
        "",
        f"**When and where:** started {results['started']}, finished {results['finished']}, "
        f"{results.get('elapsed_s', 0) / 60:.1f} min in all; {machine.get('cpu_count')} cores, "
        f"torch threads {machine.get('torch_threads')}, load average at start "
        f"{', '.join(f'{x:.2f}' for x in machine.get('load_average_at_start') or [])}; {machine.get('platform')}. "
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        *[line for note in results.get("_notes", []) for line in (f"**Note:** {note}", "")],
        "## What is compared",
        "",
        rows_sentence(s)
        + "Teachers: `rf` = RandomForest, 300 trees; `xgb` = XGBoost, 400 trees of depth 6 (on data with text "
        "columns each is a Pipeline with a one-hot encoder in front); `lgbm` = LightGBM, 400 rounds of its "
        "default 31-leaf trees, and `catboost` = CatBoost, 400 rounds of depth 6 (each takes text columns "
        "natively: LightGBM as pandas categoricals, CatBoost as categorical features). Students: "
        + students_sentence(s) + ".",
        "",
        "| method | what the student is trained on |",
        "|---|---|",
        *[f"| {m} | {method_rows(s)[m]} |" for m in method_rows(s) if m in s["methods"]],
        "",
        "Fidelity is the share of held-out rows where the student's class equals the teacher's; for regression "
        "it is the R² of the student against the teacher's predictions. *Headroom closed* is "
        "(fid − fid<sub>B0</sub>) / (fid<sub>oracle</sub> − fid<sub>B0</sub>), on the means over seeds; it is "
        f"left out where the oracle is less than {summary_mod.MIN_HEADROOM * 100:g} points above B0. "
        "*End to end* is the wall time from real rows to a fitted student: teacher labels, generator fit, "
        "sampling, labelling, student fit (a generator shared across cells is counted in full in each). "
        "*Peak RSS* is the largest resident memory of the benchmark process during those stages: the data, "
        "the teachers and memory the allocator kept from earlier stages count too, so it is an upper bound "
        "for what the method needs, not a per-method measurement. Figures are mean ± standard deviation "
        "over seeds.",
        "",
        "## Headline",
        "",
        f"- tabcompress's defaults beat every baseline (B0–B3) on fidelity in "
        f"**{head['tabcompress_beats_all_baselines']} of {head['cells']} cells** "
        f"(equal or better in {head['tabcompress_at_least_all_baselines']}).",
        f"- Median headroom closed by tabcompress: **{fmt(_pct(head['tabcompress_median_headroom_closed']), '.0f')} %** "
        f"({head['cells_with_headroom']} cells have headroom to close).",
        f"- End to end, B2 takes a median **{fmt(head['median_speedup_vs_B2'], '.1f')}×** as long as tabcompress's "
        f"default pipeline (summed over cells: {fmt(head['B2_total_end_to_end_s'], ',.0f')} s against "
        f"{fmt(head['tabcompress_total_end_to_end_s'], ',.0f')} s).",
        "",
        "| method | mean fidelity | median headroom closed | cells where best | median end to end (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, m in summary["per_method"].items():
        over = m.get("cells_over_budget")
        label = METHOD_LABELS.get(method, method) + (f" (in {over} cells one tree or round is bigger than the "
                                                      "student: counted at that size)" if over else "")
        lines.append(f"| {label} | {fmt(m['mean_fidelity'])} | "
                     f"{fmt(_pct(m['median_headroom_closed']), '.0f')}{' %' if m['median_headroom_closed'] is not None else ''} | "
                     f"{m['cells_best']} | {fmt(m['median_end_to_end_s'], '.1f')} |")
    lines += ["", "Mean fidelity by student and task (over datasets, teachers and seeds):", "",
              "| student | task | " + " | ".join(cell_methods(s)) + " |", "|---|---|" + "---:|" * len(cell_methods(s))]
    for student in s["students"]:
        for task in ("classification", "regression"):
            group = [c for c in summary["cells"] if c["student"] == student and c["task"] == task]
            if not group:
                continue
            means = []
            for m in cell_methods(s):
                xs = [c["methods"][m]["fidelity"]["mean"] for c in group if m in c["methods"]]
                means.append(fmt(sum(xs) / len(xs)) if xs else "–")
            lines.append(f"| {student} | {task} | " + " | ".join(means) + " |")
    lines += ["", "Fidelity by cell (mean over seeds; **bold** = best method, oracle aside):", ""]
    methods = cell_methods(s)
    lines.append("| dataset | teacher | student | " + " | ".join(methods) + " |")
    lines.append("|---|---|---|" + "---:|" * len(methods))
    for cell in summary["cells"]:
        row = []
        for m in methods:
            v = cell["methods"].get(m)
            text = fmt(v["fidelity"]["mean"]) if v else "–"
            text = f"*{text}*" if v and v.get("over_budget") else text
            row.append(f"**{text}**" if m == cell["best_method"] else text)
        lines.append(f"| {cell['dataset']} | {cell['teacher']} | {cell['student']} | " + " | ".join(row) + " |")

    if any(c["methods"].get("B4", {}).get("over_budget") for c in summary["cells"]):
        lines += ["", "*Italic* B4: in some seed even one tree (round) of the teacher is bigger than the student; "
                  "that figure is the one-tree (one-round) teacher, not a model at the student's size."]
    lines.append("")
    lines += render_sizes(results, summary_mod.sizes(results, summary["cells"]), frontier_plots or {})
    lines += ["## Per dataset", ""]
    for dataset, info in results["datasets"].items():
        task = info["task"]
        target_name = "accuracy" if task == "classification" else "R² (target)"
        lines += [
            f"### {dataset}",
            "",
            f"{info['task']}, {info['rows']:,} rows, {info['features']} features"
            + (f", {info['classes']} classes" if info.get("classes") else "")
            + (f"; categorical: {', '.join(info['categorical'])}" if info["categorical"] else "")
            + f". Train {info['train_rows']:,} rows, held out {info['test_rows']:,}.",
            "",
        ]
        if dataset in plots:
            lines += [f"![fidelity against student size, {dataset}]({plots[dataset]})", ""]
        teachers = [t for t in results["teachers"] if t["dataset"] == dataset]
        if teachers:
            lines += ["| teacher | type | " + target_name + " | size (MiB) | fit (s) |", "|---|---|---:|---:|---:|"]
            for kind in dict.fromkeys(t["teacher"] for t in teachers):
                ts = [t for t in teachers if t["teacher"] == kind]
                tgt = summary_mod.stats([t.get(summary_mod.target_key(task)) for t in ts])
                size = summary_mod.stats([t["serialized_bytes"] / 2**20 for t in ts])
                fit = summary_mod.stats([t["timings"]["teacher_fit"]["s"] for t in ts])
                lines.append(f"| {kind} | {ts[0]['type']} | {mean_sd(tgt)} | {mean_sd(size, '.1f')} | {mean_sd(fit, '.1f')} |")
            lines.append("")
        gens = [g for g in results["generators"] if g["dataset"] == dataset]
        if gens and (gens[0].get("B2") or gens[0].get("B3") or gens[0].get("tabcompress")):
            def gen_stats(key, part):
                return summary_mod.stats([((g.get(key) or {}).get(part) or {}).get("s") for g in gens])
            lines += ["| generator | fitted on rows | fit (s) | sample (s) |", "|---|---:|---:|---:|"]
            if gens[0].get("B2"):
                lines.append(f"| B2 CTGAN, {gens[0]['B2']['epochs']} epochs | {gens[0]['B2']['fit_rows']:,} | "
                             f"{mean_sd(gen_stats('B2', 'fit'), '.1f')} | {mean_sd(gen_stats('B2', 'generate'), '.1f')} |")
            if gens[0].get("B3"):
                lines.append(f"| B3 MUNGE | {gens[0]['B3']['fit_rows']:,} | {mean_sd(gen_stats('B3', 'fit'), '.1f')} | "
                             f"{mean_sd(gen_stats('B3', 'generate'), '.1f')} |")
            for gname, first in (gens[0].get("tabcompress") or {}).items():
                fits = summary_mod.stats([((g["tabcompress"].get(gname) or {}).get("fit") or {}).get("s") for g in gens])
                epochs = summary_mod.stats([(g["tabcompress"].get(gname) or {}).get(gname, {}).get("epochs_run")
                                            for g in gens])
                ran = f", {mean_sd(epochs, '.0f')} epochs run (early stop)" if epochs["n"] else ""
                lines.append(f"| tabcompress {gname}{ran} | {first['fit_rows']:,} | {mean_sd(fits, '.1f')} | "
                             "in the pipeline |")
            lines.append("")
        lines += stage_table(results, dataset)
        regression = task == "regression"
        lines += [f"| teacher | student | method | fidelity | {target_name} | "
                  + ("RMSE (target) | " if regression else "")
                  + "size (KiB) | end to end (s) | peak RSS (MiB) | headroom closed |",
                  "|---|---|---|---:|---:|" + ("---:|" if regression else "") + "---:|---:|---:|---:|"]
        for cell in (c for c in summary["cells"] if c["dataset"] == dataset):
            for m, v in cell["methods"].items():
                lines.append(
                    f"| {cell['teacher']} | {cell['student']} | {m} | {mean_sd(v['fidelity'])} | "
                    f"{mean_sd(v['target'])} | " + (f"{mean_sd(v['target_rmse'], ',.0f')} | " if regression else "")
                    + f"{_kib(v['serialized_bytes']['mean'])} | "
                    f"{mean_sd(v['end_to_end_s'], '.1f')} | {fmt(v['peak_rss_mib']['max'], ',.0f')} | "
                    f"{fmt(_pct(v['headroom_closed']), '.0f')}{' %' if v['headroom_closed'] is not None else ''} |")
        lines.append("")
    return "\n".join(lines) + "\n"


STAGES = ("label_real", "generator_fit", "generate", "label_synthetic", "student_fit")


def stage_table(results: dict[str, Any], dataset: str) -> list[str]:
    """Mean wall time of each stage per method, over teachers, students and seeds."""
    lines = ["Seconds per stage (mean over teachers, students and seeds; a generator's fit is shared by all "
             "cells of a seed):", "", "| method | " + " | ".join(STAGES) + " | end to end |",
             "|---|" + "---:|" * (len(STAGES) + 1)]
    for method in results["settings"]["methods"]:
        runs = [r for r in results["runs"] if r["dataset"] == dataset and r["method"] == method]
        if not runs:
            continue
        cols = []
        for stage in STAGES:
            values = [_stage_seconds(r, stage) for r in runs]
            values = [v for v in values if v is not None]
            cols.append(f"{sum(values) / len(values):.2f}" if values else "–")
        e2e = [r["end_to_end_s"] for r in runs if r["end_to_end_s"] is not None]
        cols.append(f"{sum(e2e) / len(e2e):.1f}" if e2e else "–")
        lines.append(f"| {method} | " + " | ".join(cols) + " |")
    return lines + [""]


def _stage_seconds(run: dict[str, Any], stage: str) -> float | None:
    value = run["timings"].get(stage)
    return None if value is None else value.get("s")


def _pct(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def plot_dataset(results: dict[str, Any], dataset: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    cells = [c for c in results["summary"]["cells"] if c["dataset"] == dataset]
    teachers = list(dict.fromkeys(c["teacher"] for c in cells))
    fig, axes = plt.subplots(1, len(teachers), figsize=(5.2 * len(teachers), 4.2), squeeze=False, sharey=True)
    for ax, teacher in zip(axes[0], teachers):
        for cell in (c for c in cells if c["teacher"] == teacher):
            for method, v in cell["methods"].items():
                size, fid = v["serialized_bytes"]["mean"], v["fidelity"]["mean"]
                if size is None or fid is None:
                    continue
                ax.errorbar(size / 1024, fid, yerr=v["fidelity"]["sd"] or 0, fmt=MARKERS.get(cell["student"], "o"),
                            color=COLOURS.get(method, "grey"), markersize=6, capsize=2, alpha=0.85)
        ax.set_xscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
        ax.set_xlabel("student size (KiB, pickled)")
        ax.set_title(f"{dataset}, teacher {teacher}")
        ax.grid(True, alpha=0.3)
    task = results["datasets"][dataset]["task"]
    axes[0][0].set_ylabel("fidelity (agreement)" if task == "classification" else "fidelity (R² to teacher)")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=COLOURS[m], marker="o", linestyle="", label=METHOD_LABELS[m])
               for m in results["settings"]["methods"] if m in COLOURS]
    handles += [Line2D([], [], color="black", marker=MARKERS[s], linestyle="", markerfacecolor="none", label=s)
                for s in results["settings"]["students"] if s in MARKERS]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 9), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


# -- students on the fidelity–size frontier ---------------------------------------------------------

SIZES_TITLE = "## Students on the fidelity–size frontier"


def _bytes(n: float | None) -> str:
    """A size for the page: bytes, KiB or MiB."""
    if n is None:
        return "–"
    for unit, scale in (("MiB", 2**20), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,.0f} B"


def _share(k: int, n: int) -> str:
    return f"**{k} of {n}**" + (f" ({100 * k / n:.0f} %)" if n else "")


def _at_least(ours: float | None, theirs: float | None) -> str:
    """yes when ours is at least as faithful as theirs, **no** when not, – when either is missing."""
    if ours is None or theirs is None:
        return "–"
    return "yes" if ours >= theirs else "**no**"


def render_sizes(results: dict[str, Any], sizes: dict[str, Any], frontier_plots: dict[tuple[str, str], str]) -> list[str]:
    """The section on students at each size against B4 and B5, within 1 % of the teacher's bytes (full
    regime) and the tree students against B0–B3 (small regime); each part only where its data exists."""
    points, equal, within, trees = sizes["points"], sizes["equal_bytes"], sizes["within_1pct"], sizes["tree_cells"]
    if not (equal or within or trees or frontier_plots):
        return []
    lines = [SIZES_TITLE, "",
             "Fidelity against size. A *point* is a (cell, size): tabcompress's student of a cell (method "
             "`tabcompress`) or a candidate of its search (method `frontier`, `--student auto`), with B4 — the "
             "teacher itself cut to the student's bytes (its first k boosting rounds, or k of its trees) — and B5 "
             "— the student's own family and size on the true labels — scored on the same held-out rows. Sizes are "
             "pickled bytes, the measure the tool reports; fidelity is agreement with the teacher's class, or R² to "
             "its predictions for regression; figures are means over seeds. "
             f"Regime: {sizes['regime']}.", ""]
    if equal:
        lines += ["### At equal bytes: tabcompress against B4 and B5", "",
                  f"- At least as faithful as B4 in {_share(equal['at_least_B4'], equal['b4_compared'])} points "
                  "where a cut teacher fits in the student's bytes"
                  + (f"; at {equal['b4_over_budget']} more points even one tree (round) of the teacher is bigger "
                     "than the student, so no cut teacher is that small (not counted)" if equal["b4_over_budget"]
                     else "") + ".",
                  f"- At least as faithful as B5 in {_share(equal['at_least_B5'], equal['b5_compared'])} points.",
                  f"- At least as faithful as both in {_share(equal['at_least_both'], equal['both_compared'])} points "
                  "where both were measured."]
        per_size = equal.get("per_size")
        if per_size:
            lines.append(
                f"- One point per (cell, size), the student tabcompress would give at that size (of the candidates "
                f"of one size, the one its search rates best on the validation rows; the shipped student where it "
                f"shipped that size): at least B4 in {_share(per_size['at_least_B4'], per_size['b4_compared'])}, "
                f"at least B5 in {_share(per_size['at_least_B5'], per_size['b5_compared'])}, at least both in "
                f"{_share(per_size['at_least_both'], per_size['both_compared'])} of them.")
        lines += ["",
                  "| dataset | teacher | student or candidate | size | tabcompress | B4 | B4 size | ≥ B4 | B5 | ≥ B5 |",
                  "|---|---|---|---:|---:|---:|---:|:-:|---:|:-:|"]
        for p in points:
            name = p["name"] + (" (search)" if p["kind"] == "candidate" else "") + (" ★" if p.get("chosen") else "")
            b4 = "–" if p["B4"] is None else (fmt(p["B4"]) if p["b4_fits"] else f"*{fmt(p['B4'])}*")
            lines.append(f"| {p['dataset']} | {p['teacher']} | {name} | {_bytes(p['bytes'])} | {fmt(p['fidelity'])} | "
                         f"{b4} | {_bytes(p['B4_bytes'])} | {_at_least(p['fidelity'], p['B4'] if p['b4_fits'] else None)} | "
                         f"{fmt(p['B5'])} | {_at_least(p['fidelity'], p['B5'])} |")
        lines += ["", "*Italic* B4: the teacher's smallest cut (one tree or round), bigger than the student, so not "
                  "at equal bytes and not compared. ★: the search's choice (in at least one seed).", ""]
    if within:
        share = within["share"]
        median = within["median_fidelity"]
        lines += [f"### Within {100 * share:g} % of the teacher's bytes (full regime)", "",
                  f"- The most faithful tabcompress student at most {100 * share:g} % of the teacher's pickled size: median "
                  f"over cells **{fmt(median)}** ({within['cells_with_student']} of {len(within['cells'])} cells "
                  "have one that small).", "",
                  f"| dataset | teacher | teacher size | {100 * share:g} % of it | most faithful student | its size | "
                  f"fidelity | best baseline in the same bytes | its fidelity | teacher cut to {100 * share:g} % |",
                  "|---|---|---:|---:|---|---:|---:|---|---:|---:|"]
        for row in within["cells"]:
            best, other, cut = row["best"], row["best_baseline"], row.get("teacher_cut")
            cut_text = "–" if not cut else (
                (f"*{fmt(cut['fidelity'])}*" if cut["over_budget"] else fmt(cut["fidelity"]))
                + f" ({', '.join(map(str, cut['k']))} {cut['unit']}{'s' if cut['k'] != [1] else ''})")
            lines.append(f"| {row['dataset']} | {row['teacher']} | {_bytes(row['teacher_bytes'])} | "
                         f"{_bytes(row['budget_bytes'])} | "
                         + (f"{best['name']}{' (search)' if best['kind'] == 'candidate' else ''} | "
                            f"{_bytes(best['bytes'])} | {fmt(best['fidelity'])} | " if best else "none that small | – | – | ")
                         + (f"{other['name']} | {fmt(other['fidelity'])} |" if other else "– | – |")
                         + f" {cut_text} |")
        lines += ["", f"*Teacher cut to {100 * share:g} %*: the teacher's first k rounds (k of its trees) within "
                  f"{100 * share:g} % of its bytes (B4 at that size; *italic*: even one is bigger).", ""]
    if trees:
        n, k = trees["cells"], trees["at_least_all"]
        baselines = ", ".join(trees["baselines"])
        lines += ["### Tree students against every published baseline (small regime)", "",
                  f"- tabcompress's tree students are at least as faithful as every baseline ({baselines}) in "
                  f"{_share(k, n)} cells."]
        reg = trees["regression"]
        if reg:
            both = sum(1 for r in reg if r["at_least_B1"] and r["at_least_B3"])
            lines += [f"- Regression cells: at least B1 and B3 in {_share(both, len(reg))}.", "",
                      "| dataset | teacher | student | ≥ B1 | ≥ B3 |", "|---|---|---|---|---|"]
            yes = {True: "yes", False: "**no**", None: "–"}
            lines += [f"| {r['dataset']} | {r['teacher']} | {r['student']} | {yes[r['at_least_B1']]} | "
                      f"{yes[r['at_least_B3']]} |" for r in reg]
        lines.append("")
    if frontier_plots:
        lines += ["### Fidelity against bytes, per dataset and teacher", "",
                  "Each plot: tabcompress's search (its candidates as dots, a line through those no other beats on "
                  "both fidelity and bytes, the chosen one starred; the "
                  "candidates are fitted on the training rows less the search's validation rows), the student it "
                  "ships (the chosen one trained again on every training row), the cells' methods as points "
                  "(colour: method; shape: student; hollow B4: bigger than the student), B4 and B5 at the "
                  "candidates' sizes, and the teacher at its own size and fidelity 1. Size on a log scale.", ""]
        for (dataset, teacher), rel in frontier_plots.items():
            lines += [f"#### {dataset}, {teacher}", "", f"![fidelity against bytes, {dataset}, {teacher}]({rel})", ""]
            cands = [p for p in points if p["kind"] in ("candidate", "shipped") and p["dataset"] == dataset
                     and p["teacher"] == teacher]
            if cands:
                lines += ["| candidate (rows it trained on) | family | chosen (seeds) | size | fidelity | "
                          "validation fidelity | B4 k | B4 | B5 |",
                          "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
                for p in sorted(cands, key=lambda p: (p["kind"] == "shipped", p["bytes"] or 0)):
                    ks = sorted(set(p.get("B4_k") or []))
                    chosen = "–" if p["kind"] == "shipped" else f"{p['chosen']} of {p['seeds']}"
                    lines.append(f"| {p['name']} | {p['family']} | {chosen} | {_bytes(p['bytes'])} | "
                                 f"{fmt(p['fidelity'])} | {fmt(p.get('validation'))} | "
                                 f"{', '.join(map(str, ks)) or '–'}{' ' + p['B4_unit'] + ('s' if ks != [1] else '') if ks else ''} | "
                                 f"{fmt(p['B4']) if p['b4_fits'] or p['B4'] is None else '*' + fmt(p['B4']) + '*'} | "
                                 f"{fmt(p['B5'])} |")
                lines.append("")
    return lines


def _bytes_axis(ax) -> None:
    """A log axis of bytes, ticked at powers of 4 (1 KiB, 4 KiB, 16 KiB, …), at most 9 of them."""
    import matplotlib.ticker

    ax.set_xscale("log")
    low, high = ax.get_xlim()
    ticks = [2.0 ** e for e in range(0, 48, 2) if low <= 2.0 ** e <= high]
    while len(ticks) > 9:
        ticks = ticks[::2]
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_tick))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _tick(n: float, _position: Any = None) -> str:
    """A power of 4 as a tick label: 1 KiB, 16 KiB, 4 MiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n:g} B"


def pareto(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points no other beats on both fidelity and bytes, smallest first."""
    out: list[dict[str, Any]] = []
    for p in sorted(points, key=lambda p: (p["bytes"], -p["fidelity"])):
        if not out or p["fidelity"] > out[-1]["fidelity"]:
            out.append(p)
    return out


def plot_frontier(results: dict[str, Any], sizes: dict[str, Any], dataset: str, teacher: str, path: Path) -> None:
    """Fidelity against pickled bytes (log) for one dataset and teacher: the search's candidates as a line
    (the chosen one starred), B4 and B5 at their sizes, every cell's method as a point, the teacher at
    (its bytes, 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(8.2, 5.2))
    handles = []
    cands = sorted((p for p in sizes["points"] if p["kind"] == "candidate" and p["dataset"] == dataset
                    and p["teacher"] == teacher and p["bytes"] is not None), key=lambda p: p["bytes"])
    if cands:
        front = pareto(cands)
        ax.scatter([p["bytes"] for p in cands], [p["fidelity"] for p in cands], s=14, color=COLOURS[FRONTIER],
                   alpha=0.45, zorder=4)
        ax.plot([p["bytes"] for p in front], [p["fidelity"] for p in front], "-o", color=COLOURS[FRONTIER],
                markersize=5, zorder=4)
        handles += [Line2D([], [], color=COLOURS[FRONTIER], marker="o", markersize=5,
                           label="tabcompress search: its frontier"),
                    Line2D([], [], color=COLOURS[FRONTIER], marker="o", markersize=4, alpha=0.45, linestyle="",
                           label="… and its other candidates")]
        chosen = [p for p in cands if p["chosen"]]
        if chosen:
            ax.scatter([p["bytes"] for p in chosen], [p["fidelity"] for p in chosen], marker="*", s=260,
                       facecolor="gold", edgecolor=COLOURS[FRONTIER], zorder=6)
            handles.append(Line2D([], [], color="gold", marker="*", markersize=14, markeredgecolor=COLOURS[FRONTIER],
                                  linestyle="", label="chosen by the search"))
        b4 = sorted((p for p in cands if p["B4"] is not None and p["B4_bytes"] is not None), key=lambda p: p["B4_bytes"])
        if b4:
            ax.plot([p["B4_bytes"] for p in b4], [p["B4"] for p in b4], "--", color=COLOURS["B4"], alpha=0.7, zorder=3)
            for p in b4:
                ax.scatter(p["B4_bytes"], p["B4"], marker="o", s=18, color=COLOURS["B4"], zorder=3,
                           facecolor=COLOURS["B4"] if p["b4_fits"] else "none")
            handles.append(Line2D([], [], color=COLOURS["B4"], linestyle="--", marker="o", markersize=4,
                                  label="B4 at the candidates' bytes"))
        b5 = [p for p in cands if p["B5"] is not None]
        if b5:
            ax.scatter([p["bytes"] for p in b5], [p["B5"] for p in b5], marker="x", s=30, color=COLOURS["B5"], zorder=3)
            handles.append(Line2D([], [], color=COLOURS["B5"], marker="x", linestyle="",
                                  label="B5 at the candidates' sizes"))
    shipped = [p for p in sizes["points"] if p["kind"] == "shipped" and p["dataset"] == dataset
               and p["teacher"] == teacher and p["bytes"] is not None]
    for p in shipped:
        ax.scatter(p["bytes"], p["fidelity"], marker="P", s=150, facecolor=COLOURS[FRONTIER], edgecolor="black",
                   zorder=7)
    if shipped:
        handles.append(Line2D([], [], color=COLOURS[FRONTIER], marker="P", markersize=10, markeredgecolor="black",
                              linestyle="", label="shipped (chosen, trained on every row)"))
    cells = [c for c in results["summary"]["cells"] if c["dataset"] == dataset and c["teacher"] == teacher]
    methods_seen, students_seen = [], []
    for cell in cells:
        for method, v in cell["methods"].items():
            size, fid = v["serialized_bytes"]["mean"], v["fidelity"]["mean"]
            if method == "oracle" or size is None or fid is None:
                continue
            colour = COLOURS.get(method, "grey")
            # B5 of a cell's own student is B0's fit: drawn smaller, inside B0's marker
            ax.scatter(size, fid, marker=MARKERS.get(cell["student"], "o"), s=16 if method == "B5" else 42,
                       zorder=5 + (method == "B5"), alpha=0.9,
                       color=colour, facecolor="none" if v.get("over_budget") else colour)
            methods_seen += [method] if method not in methods_seen else []
            students_seen += [cell["student"]] if cell["student"] not in students_seen else []
    teacher_bytes = [t["serialized_bytes"] for t in results["teachers"]
                     if t["dataset"] == dataset and t["teacher"] == teacher]
    if teacher_bytes:
        tb = sum(teacher_bytes) / len(teacher_bytes)
        ax.scatter(tb, 1.0, marker="*", s=320, color="black", zorder=6)
        ax.annotate(f"teacher {teacher}", (tb, 1.0), textcoords="offset points", xytext=(-8, -16), ha="right",
                    fontsize=8)
        handles.append(Line2D([], [], color="black", marker="*", markersize=12, linestyle="", label="teacher"))
    handles += [Line2D([], [], color=COLOURS.get(m, "grey"), marker="o", linestyle="", label=METHOD_LABELS.get(m, m))
                for m in methods_seen]
    handles += [Line2D([], [], color="black", marker=MARKERS.get(s, "o"), linestyle="", markerfacecolor="none",
                       label=s) for s in students_seen]
    _bytes_axis(ax)
    task = results["datasets"][dataset]["task"]
    ax.set_xlabel("size (pickled bytes, log scale)")
    ax.set_ylabel("fidelity (agreement)" if task == "classification" else "fidelity (R² to teacher)")
    ax.set_title(f"{dataset}, teacher {teacher}: fidelity against size")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7.5, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def frontier_pairs(results: dict[str, Any]) -> list[tuple[str, str]]:
    """The (dataset, teacher) pairs that get a fidelity-against-bytes plot: all of them, when the run
    measured B4, B5 or the frontier; none otherwise (older results keep their page as it was)."""
    if not {"B4", "B5", FRONTIER} & set(results["settings"]["methods"]):
        return []
    return list(dict.fromkeys((t["dataset"], t["teacher"]) for t in results["teachers"]))


# -- the methods without the training data (bench/nodata.py) ----------------------------------------

NODATA_TITLE = "## Without the training data: data-free, few-shot, adversarial MLP"


def _means(runs: list[dict[str, Any]], seeds: set[int]) -> dict[tuple, dict[str, Any]]:
    """Mean fidelity (and wall seconds where recorded) per (dataset, teacher, student, method)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in runs:
        if r.get("fidelity") is not None and r["seed"] in seeds:
            groups.setdefault((r["dataset"], r["teacher"], r["student"], r["method"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        walls = [r["wall_s"] for r in rs if r.get("wall_s") is not None]
        out[key] = {"fidelity": sum(r["fidelity"] for r in rs) / len(rs), "n": len(rs),
                    "min": min(r["fidelity"] for r in rs),
                    "seeds": sorted(r["seed"] for r in rs),
                    "wall_s": sum(walls) / len(walls) if walls else None,
                    "synthetic_rows": rs[0].get("synthetic_rows")}
    return out


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{x:+.4f}"


def _bold_pair(a: float | None, b: float | None) -> tuple[str, str]:
    """Format two fidelities, the larger in bold."""
    ta, tb = fmt(a), fmt(b)
    if a is not None and b is not None and a != b:
        return (f"**{ta}**", tb) if a > b else (ta, f"**{tb}**")
    return ta, tb


def render_nodata(full: dict[str, Any], parts: list[dict[str, Any]], paths: list[str], notes: list[str]) -> str:
    # one result per cell and seed: where several files hold it, the last one given counts (a re-run)
    latest: dict[tuple, dict[str, Any]] = {}
    superseded = 0
    for part in parts:
        for r in part["runs"]:
            key = (r["dataset"], r["teacher"], r["student"], r["method"], r["seed"])
            if key in latest and latest[key].get("fidelity") is not None and r.get("fidelity") is None:
                continue  # a later failure does not undo an earlier figure
            superseded += key in latest
            latest[key] = r
    runs = list(latest.values())
    # a failure that a later run (another file) measured is not a failure of the page's figures
    measured = {(r["dataset"], r["teacher"], r["student"], r["method"], r["seed"]) for r in runs
                if r.get("fidelity") is not None}
    failed = [r for r in runs if "error" in r
              and (r["dataset"], r["teacher"], r["student"], r["method"], r["seed"]) not in measured]
    seeds = {r["seed"] for r in runs}
    nd = _means(runs, seeds)
    ref = {(r["dataset"], r["teacher"], r["student"], r["method"], r["seed"]): r["fidelity"]
           for r in full["runs"] if r["method"] in ("tabcompress", "B1") and r.get("fidelity") is not None}
    tasks = {d: info["task"] for part in parts for d, info in part["datasets"].items()}
    order = [d for d in full["datasets"] if d in tasks] + [d for d in tasks if d not in full["datasets"]]
    teachers = list(dict.fromkeys(r["teacher"] for r in runs))

    def ref_of(dataset: str, teacher: str, student: str, method: str, like: str | None = None) -> float | None:
        """full.json's mean over the seeds that this page's cell (method ``like``) has, or None."""
        cell = nd.get((dataset, teacher, student, like)) if like else None
        cell_seeds = cell["seeds"] if cell else sorted(seeds)
        xs = [ref.get((dataset, teacher, student, method, seed)) for seed in cell_seeds]
        return None if not xs or any(x is None for x in xs) else sum(xs) / len(xs)

    failed_cells = {(r["dataset"], r["teacher"], r["student"], r["method"]) for r in failed}

    def get(dataset: str, teacher: str, student: str, method: str) -> float | None:
        v = nd.get((dataset, teacher, student, method))
        return None if v is None else v["fidelity"]

    # the teachers must be the benchmark's: same held-out accuracy (R² for regression) as full.json
    full_teachers = {(t["dataset"], t["seed"], t["teacher"]): t for t in full["teachers"]}
    same, differ, missing = 0, [], 0
    own_teachers = {(t["dataset"], t["seed"], t["teacher"]): t for part in parts for t in part["teachers"]}
    for t in own_teachers.values():
        key = "target_accuracy" if "target_accuracy" in t else "target_r2"
        other = full_teachers.get((t["dataset"], t["seed"], t["teacher"]))
        if other is None or other.get(key) is None:
            missing += 1
        elif round(other[key], 4) == round(t[key], 4):
            same += 1
        else:
            differ.append(f"{t['dataset']} × {t['teacher']} seed {t['seed']} ({t[key]:.4f} here, "
                          f"{other[key]:.4f} in full.json)")

    lines = ["", NODATA_TITLE, "",
             "Generated by `bench/render.py --nodata` from " + ", ".join(f"`{p}`" for p in paths)
             + " (`bench/nodata.py`). What can a student reach when the training rows are not available? "
             "*Data-free*: `tabcompress.run.modes.train_data_free`, rows sampled from the teacher's own trees "
             "and labelled by it, no real row at all. *Few-shot K*: `train_few_shot` from K prototypes per "
             "class (per target bin, regression) that `tabcompress.methods.condense.condense` makes from the 3,000 "
             "training rows, plus rows grown around them; *prototypes K* is the same student on the "
             "prototypes alone (its baseline). *Adversarial MLP*: `train_student` with the default MLP "
             "pipeline (same generator, already fitted, same synthetic rows) with `adversarial=True` "
             "(weight 0.5) against the same call without it (*plain*). The data-based columns are the page's "
             "own cells from the results above: **tabcompress** (the defaults, real rows + synthetic rows) "
             "and **B1** (the real training rows with the teacher's probabilities).",
             ""]
    for part in parts:
        lines.append(f"- **Command:** `{part['command']}`; started {part['started']}, "
                     + (f"finished {part['finished']}" if part.get("finished")
                        else f"not finished (last written {part.get('updated')})")
                     + (f", {part['elapsed_s'] / 60:.1f} min" if part.get("finished") and part.get("elapsed_s") else "")
                     + "; load average at start "
                     + ", ".join(f"{x:.2f}" for x in part["machine"].get("load_average_at_start") or [])
                     + f"; torch threads {part['machine'].get('torch_threads')}.")
    lines.append("")
    lines += [line for note in notes for line in (f"**Note:** {note}", "")]
    lines += [f"Same splits and teachers as the benchmark: `bench/nodata.py` reuses `bench/run.py`'s split, "
              f"`build_teacher`, `tabcompress_config` and seeds. Check: the held-out accuracy (R² for regression) "
              f"of {same} of {same + len(differ) + missing} teachers equals full.json's to four decimals"
              + (f"; it differs for {', '.join(differ)}" if differ else "")
              + (f"; {missing} have no counterpart in full.json" if missing else "")
              + (f". {superseded} results were measured again by a later file on the list; the later one counts"
                 if superseded else "")
              + f". Seeds: {', '.join(map(str, sorted(seeds)))}; every figure is the mean over the seeds its cell "
              "has, and the data-based columns are full.json's runs averaged over the same seeds only, so each "
              "comparison is on the same teachers and the same 5,000 held-out rows. Fidelity as above: agreement with the teacher's class, or R² to its "
              "predictions for regression; *gap* = method − data-based tabcompress.", ""]
    all_seeds = tuple(sorted(seeds))
    short = {}
    for (d, t, st, m), v in nd.items():
        if tuple(v["seeds"]) != all_seeds:
            short.setdefault(d, set()).add(tuple(v["seeds"]))
    if short:
        lines += ["Not every cell has every seed (a run was stopped part-way, or a seed failed): "
                  + "; ".join(f"{d}: some cells have only seed(s) "
                              + " or ".join(", ".join(map(str, k)) for k in sorted(ks))
                              for d, ks in short.items()) + ".", ""]

    # -- at a glance, per dataset -------------------------------------------------------------------
    def mean(xs: list[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    glance = []
    for d in order:
        tree_gaps = [get(d, t, st, "datafree") - ref_of(d, t, st, "tabcompress", "datafree")
                     for t in teachers for st in ("tree4", "tree8")
                     if get(d, t, st, "datafree") is not None
                     and ref_of(d, t, st, "tabcompress", "datafree") is not None]
        kmax_name = max((k[3] for k in nd if k[3].startswith("fewshot")), key=lambda m: int(m[7:]), default=None)
        fs = [(get(d, t, st, kmax_name), get(d, t, st, "protos" + kmax_name[7:])) for t in teachers
              for st in ("tree4", "tree8", "mlp64x64")] if kmax_name else []
        fs = [f - p_ for f, p_ in fs if f is not None and p_ is not None]
        adv = [get(d, t, "mlp64x64", "adversarial") - get(d, t, "mlp64x64", "plain") for t in teachers
               if get(d, t, "mlp64x64", "adversarial") is not None and get(d, t, "mlp64x64", "plain") is not None]
        glance.append(f"| {d} | {tasks.get(d, '')} | {_signed(mean(tree_gaps))} ({len(tree_gaps)}) | "
                      f"{_signed(mean(fs))} ({sum(1 for x in fs if x > 0)} of {len(fs)}) | "
                      + (f"{_signed(mean(adv))} ({sum(1 for x in adv if x > 0)} of {len(adv)})" if adv
                         else ("n/a (regression)" if tasks.get(d) == "regression" else "–")) + " |")
    lines += ["At a glance, per dataset (means over its teachers and students; in brackets: cells, or cells won):", "",
              "| dataset | task | data-free − data-based, tree cells | few-shot − prototypes alone, largest K "
              "(cells won) | adversarial − plain MLP (cells won) |", "|---|---|---:|---:|---:|", *glance, ""]

    def summary_line(label: str, xs: list[float]) -> str:
        if not xs:
            return f"{label}: –"
        return f"{label}: mean {sum(xs) / len(xs):+.4f}, worst {min(xs):+.4f}, best {max(xs):+.4f}"

    # -- data-free --------------------------------------------------------------------------------------
    students = [s for s in ("tree4", "tree8", "mlp64x64")
                if any(k[2] == s and k[3] == "datafree" for k in nd)]
    if students:
        lines += ["### Data-free", "",
                  "| dataset | teacher | student | data-free | data-free, lowest seed | tabcompress (data-based) | "
                  "B1 (real rows) | gap to data-based | data-free seconds |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
        gaps: dict[str, list[float]] = {}
        beat_b1: dict[str, list[bool]] = {}
        for d in order:
            for t in teachers:
                for s in students:
                    v = nd.get((d, t, s, "datafree"))
                    if v is None:
                        if (d, t, s, "datafree") in failed_cells:
                            lines.append(f"| {d} | {t} | {s} | failed (see below) | – | "
                                         f"{fmt(ref_of(d, t, s, 'tabcompress'))} | {fmt(ref_of(d, t, s, 'B1'))} | – | – |")
                        continue
                    tc, b1 = ref_of(d, t, s, "tabcompress", "datafree"), ref_of(d, t, s, "B1", "datafree")
                    gap = None if tc is None else v["fidelity"] - tc
                    if gap is not None:
                        gaps.setdefault(s, []).append(gap)
                    if b1 is not None:
                        beat_b1.setdefault(s, []).append(v["fidelity"] >= b1)
                    lines.append(f"| {d} | {t} | {s} | {fmt(v['fidelity'])} | {fmt(v['min'])} | {fmt(tc)} | {fmt(b1)} | "
                                 f"{_signed(gap)} | {fmt(v['wall_s'], '.1f')} |")
        lines += ["", "Gap of data-free to the data-based default, per student (over the cells above):", ""]
        for s in students:
            xs = gaps.get(s, [])
            behind = sum(1 for x in xs if x < 0)
            lines.append(f"- {summary_line(s, xs)}; below the data-based default in **{behind} of {len(xs)}** cells, "
                         f"at least as good as B1 (real rows only) in {sum(beat_b1.get(s, []))} of "
                         f"{len(beat_b1.get(s, []))}.")
        lines.append("")

    # -- few-shot ---------------------------------------------------------------------------------------
    ks = sorted({int(k[3][len("fewshot"):]) for k in nd if k[3].startswith("fewshot")})
    fs_students = [s for s in ("tree4", "tree8", "mlp64x64") if any(k[2] == s and k[3].startswith("fewshot") for k in nd)]
    if ks:
        head = " | ".join(f"K={k} protos | K={k} few-shot" for k in ks)
        lines += ["### Few-shot", "",
                  "Few-shot against the same student on the prototypes alone, for K prototypes per class "
                  "(**bold**: the better of the pair).", "",
                  f"| dataset | teacher | student | {head} | tabcompress (data-based) | B1 (real rows) |",
                  "|---|---|---|" + "---:|" * (2 * len(ks) + 2)]
        diffs: dict[int, list[float]] = {k: [] for k in ks}
        per_dataset: dict[str, list[float]] = {}
        for d in order:
            for t in teachers:
                for s in fs_students:
                    cells = []
                    present = False
                    for k in ks:
                        p, f = get(d, t, s, f"protos{k}"), get(d, t, s, f"fewshot{k}")
                        present = present or p is not None or f is not None
                        if p is not None and f is not None:
                            diffs[k].append(f - p)
                            if k == max(ks):
                                per_dataset.setdefault(d, []).append(f - p)
                        cells += list(_bold_pair(p, f))
                    if present:
                        like = f"fewshot{max(ks)}"
                        lines.append(f"| {d} | {t} | {s} | " + " | ".join(cells)
                                     + f" | {fmt(ref_of(d, t, s, 'tabcompress', like))} | "
                                     f"{fmt(ref_of(d, t, s, 'B1', like))} |")
        lines += ["", "Few-shot − prototypes alone, over the cells above:", ""]
        for k in ks:
            xs = diffs[k]
            lines.append(f"- {summary_line(f'K={k}', xs)}; few-shot wins **{sum(1 for x in xs if x > 0)} of {len(xs)}** "
                         f"cells, loses {sum(1 for x in xs if x < 0)}.")
        kmax = max(ks)
        wins = [d for d, xs in per_dataset.items() if sum(xs) / len(xs) > 0]
        all_cells = [d for d, xs in per_dataset.items() if all(x > 0 for x in xs)]
        lines += [f"- At K={kmax}, few-shot beats the prototypes alone on **{len(wins)} of {len(per_dataset)} datasets** "
                  f"on average over the dataset's teachers and students ({', '.join(wins) or 'none'}), and in every "
                  f"cell of {len(all_cells)} of them ({', '.join(all_cells) or 'none'}).", ""]
        like = f"fewshot{kmax}"
        gap_fs = [get(d, t, s, like) - ref_of(d, t, s, "tabcompress", like) for d in order for t in teachers
                  for s in fs_students if get(d, t, s, like) is not None
                  and ref_of(d, t, s, "tabcompress", like) is not None]
        if gap_fs:
            lines += [f"- {summary_line(f'Few-shot K={kmax} − data-based tabcompress', gap_fs)}; below it in "
                      f"{sum(1 for x in gap_fs if x < 0)} of {len(gap_fs)} cells.", ""]

    # -- adversarial MLP --------------------------------------------------------------------------------
    if any(k[3] == "adversarial" for k in nd):
        lines += ["### Adversarial MLP", "",
                  "| dataset | teacher | plain | adversarial | adversarial − plain | tabcompress (data-based, above) | "
                  "B1 (real rows) | plain seconds | adversarial seconds |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        deltas = []
        for d in order:
            for t in teachers:
                p, a = nd.get((d, t, "mlp64x64", "plain")), nd.get((d, t, "mlp64x64", "adversarial"))
                if p is None and a is None:
                    continue
                pf, af = (p or {}).get("fidelity"), (a or {}).get("fidelity")
                delta = None if pf is None or af is None else af - pf
                if delta is not None:
                    deltas.append((d, delta))
                bp, ba = _bold_pair(pf, af)
                if a is None and (d, t, "mlp64x64", "adversarial") in failed_cells:
                    ba = "n/a (regressor)" if tasks.get(d) == "regression" else "failed (see below)"
                lines.append(f"| {d} | {t} | {bp} | {ba} | {_signed(delta)} | "
                             f"{fmt(ref_of(d, t, 'mlp64x64', 'tabcompress', 'plain'))} | "
                             f"{fmt(ref_of(d, t, 'mlp64x64', 'B1', 'plain'))} | "
                             f"{fmt((p or {}).get('wall_s'), '.1f')} | {fmt((a or {}).get('wall_s'), '.1f')} |")
        xs = [x for _, x in deltas]
        pairs = [(v["fidelity"], ref_of(d, t, st, "tabcompress", "plain")) for (d, t, st, m), v in nd.items()
                 if m == "plain"]
        pairs = [(a_, b_) for a_, b_ in pairs if b_ is not None]
        same_plain = sum(1 for a_, b_ in pairs if round(a_, 4) == round(b_, 4))
        lines += ["", f"- {summary_line('Adversarial − plain', xs)}; adversarial is better in "
                  f"**{sum(1 for x in xs if x > 0)} of {len(xs)}** cells, worse in {sum(1 for x in xs if x < 0)}. "
                  "*Plain* is the data-based default for the MLP re-run here; it equals the tabcompress column "
                  f"(from the runs above) to four decimals in {same_plain} of {len(pairs)} cells. "
                  "Adversarial training is for classification teachers only: on the regression datasets the "
                  "library refuses it (`InputError`, see below), so those rows have the plain MLP alone.", ""]

    if failed:
        grouped: dict[tuple, list[int]] = {}
        for r in failed:
            grouped.setdefault((r["dataset"], r["teacher"], r["student"], r["method"], r["error"][:300]),
                               []).append(r["seed"])
        lines += ["### Runs that failed", "",
                  "These cells have no figure above: the library raised an error, which `bench/nodata.py` recorded "
                  "before going on (an adversarial MLP refusing a regression teacher is by design):", ""]
        for (d, t, st, m, error), run_seeds in grouped.items():
            lines.append(f"- {d} × {t} × {st} {m}, seed{'s' if len(run_seeds) > 1 else ''} "
                         f"{', '.join(map(str, sorted(run_seeds)))}: `{error}`")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Render BENCHMARKS.md and plots from a benchmark's JSON.")
    p.add_argument("results", type=Path)
    p.add_argument("--md", type=Path, default=ROOT / "BENCHMARKS.md")
    p.add_argument("--plots", type=Path, default=None, help="folder for the PNGs (default: next to the JSON)")
    p.add_argument("--note", action="append", default=[],
                   help="a sentence about the run (e.g. what else was running) for the page's header")
    p.add_argument("--nodata", type=Path, nargs="+", default=None, metavar="PATH",
                   help="results of bench/nodata.py (one or more JSON files): append a section on the methods "
                        "without the training data")
    p.add_argument("--nodata-note", action="append", default=[],
                   help="a sentence about the no-data run (e.g. what else was running) for its section")
    p.add_argument("--append", type=Path, action="append", default=[], metavar="MD",
                   help="a Markdown file appended to the page as it is (e.g. bench/datafree_gap.py's table)")
    args = p.parse_args(argv)
    results = json.loads(args.results.read_text())
    if "summary" not in results:  # a run that was stopped part-way: summarise what it has
        results["finished"] = results.get("finished") or "(not finished: partial results)"
    # summarised afresh: results written before a figure was added to the summary get it too
    results["summary"] = summary_mod.summarise(results)
    results["_path"] = str(args.results.resolve())
    results["_notes"] = args.note
    plot_dir = args.plots or args.results.parent / f"{args.results.stem}_plots"
    md_dir = args.md.resolve().parent
    plots = {}
    for dataset in results["datasets"]:
        if not any(c["dataset"] == dataset for c in results["summary"]["cells"]):
            continue  # a run of the frontier method alone has no per-student cells to plot
        path = plot_dir / f"{dataset}.png"
        plot_dataset(results, dataset, path)
        plots[dataset] = os.path.relpath(path.resolve(), md_dir)
    frontier_plots = {}
    sizes = summary_mod.sizes(results, results["summary"]["cells"])
    for dataset, teacher in frontier_pairs(results):
        path = plot_dir / f"{dataset}_{teacher}_frontier.png"
        plot_frontier(results, sizes, dataset, teacher, path)
        frontier_plots[(dataset, teacher)] = os.path.relpath(path.resolve(), md_dir)
    text = render_markdown(results, plots, md_dir, frontier_plots)
    if args.nodata:
        text += render_nodata(results, [json.loads(path.read_text()) for path in args.nodata],
                              [os.path.relpath(path.resolve(), md_dir) for path in args.nodata], args.nodata_note)
    for extra in args.append:
        text = text.rstrip("\n") + "\n\n" + extra.read_text().strip("\n") + "\n"
    tmp = args.md.with_name(f".{args.md.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, args.md)
    print(f"wrote {args.md} and {len(plots) + len(frontier_plots)} plot(s) in {plot_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
