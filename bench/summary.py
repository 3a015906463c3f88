"""Aggregate a benchmark's runs: per cell (dataset × teacher × student) and method, the mean and spread
over seeds, the share of headroom closed, and the headline figures; and (:func:`sizes`) the figures of
"students on the fidelity–size frontier": tabcompress's students against B4 and B5 at equal bytes, the
most faithful student within 1 % of the teacher's bytes (full regime), and the tree students against
every published baseline (small regime)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

BASELINES = ("B0", "B1", "B2", "B3")
#: the baselines at a student's size (bench/baselines.py)
SIZE_BASELINES = ("B4", "B5")
#: the student of the frontier method's search: its runs are in results["frontier"], not in cells
FRONTIER = "frontier"
#: the full regime's budget: a student within this share of the teacher's bytes
BYTES_SHARE = 0.01
# Below this gap between the oracle and B0 (in fidelity points), "headroom closed" is noise: not scored.
MIN_HEADROOM = 0.002


def stats(values: list[float | None]) -> dict[str, float | None]:
    xs = [v for v in values if v is not None]
    if not xs:
        return {"mean": None, "sd": None, "min": None, "max": None, "n": 0}
    return {"mean": statistics.fmean(xs), "sd": statistics.stdev(xs) if len(xs) > 1 else 0.0,
            "min": min(xs), "max": max(xs), "n": len(xs)}


def target_key(task: str) -> str:
    return "target_accuracy" if task == "classification" else "target_r2"


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in results["runs"]:
        groups[(run["dataset"], run["teacher"], run["student"], run["method"])].append(run)

    cells: list[dict[str, Any]] = []
    order = {"dataset": list(results["datasets"]), "teacher": list(results["settings"]["teachers"]),
             "student": list(results["settings"]["students"])}
    keys = sorted({k[:3] for k in groups}, key=lambda k: (order["dataset"].index(k[0]), order["teacher"].index(k[1]),
                                                           order["student"].index(k[2])))
    for dataset, teacher, student in keys:
        task = results["datasets"][dataset]["task"]
        methods: dict[str, Any] = {}
        for method in results["settings"]["methods"]:
            runs = groups.get((dataset, teacher, student, method), [])
            if not runs:
                continue
            methods[method] = {
                "fidelity": stats([r["fidelity"] for r in runs]),
                # B4 whose smallest cut (one tree, one round) is bigger than the student: not at equal bytes
                "over_budget": sum(1 for r in runs if (r.get("b4") or {}).get("over_budget")),
                "target": stats([r.get(target_key(task)) for r in runs]),
                **({"target_rmse": stats([r.get("target_rmse") for r in runs]),
                    "rmse_to_teacher": stats([r.get("rmse") for r in runs])} if task == "regression" else {}),
                "serialized_bytes": stats([r["serialized_bytes"] for r in runs]),
                "end_to_end_s": stats([r["end_to_end_s"] for r in runs]),
                "peak_rss_mib": stats([r["peak_rss_mib"] for r in runs]),
            }
        mean = {m: v["fidelity"]["mean"] for m, v in methods.items()}
        room = (mean["oracle"] - mean["B0"]) if "oracle" in mean and "B0" in mean else None
        for m, v in methods.items():
            v["headroom_closed"] = ((mean[m] - mean["B0"]) / room
                                    if room is not None and room >= MIN_HEADROOM and m not in ("B0", "oracle")
                                    else None)
        baselines = [b for b in BASELINES if b in mean]
        tc = mean.get("tabcompress")
        cells.append({
            "dataset": dataset, "teacher": teacher, "student": student, "task": task,
            "headroom": room, "methods": methods,
            "best_method": max((m for m in mean if m != "oracle" and not methods[m]["over_budget"]),
                               key=lambda m: mean[m], default=None),
            "tabcompress_beats_all_baselines": (tc is not None and bool(baselines)
                                                and all(tc > mean[b] for b in baselines)),
            "tabcompress_at_least_all_baselines": (tc is not None and bool(baselines)
                                                   and all(tc >= mean[b] for b in baselines)),
        })

    def median(values):
        xs = [v for v in values if v is not None]
        return statistics.median(xs) if xs else None

    per_method = {}
    for method in results["settings"]["methods"]:
        if method in ("oracle", FRONTIER):
            continue
        in_cells = [c["methods"][method] for c in cells if method in c["methods"]]
        per_method[method] = {
            "median_headroom_closed": median([m["headroom_closed"] for m in in_cells]),
            "mean_fidelity": statistics.fmean([m["fidelity"]["mean"] for m in in_cells]) if in_cells else None,
            "cells_best": sum(1 for c in cells if c["best_method"] == method),
            "cells_over_budget": sum(1 for m in in_cells if m["over_budget"]),
            "median_end_to_end_s": median([m["end_to_end_s"]["mean"] for m in in_cells]),
            "total_end_to_end_s": sum(m["end_to_end_s"]["mean"] or 0 for m in in_cells) if in_cells else None,
        }
    ratios = [c["methods"]["B2"]["end_to_end_s"]["mean"] / c["methods"]["tabcompress"]["end_to_end_s"]["mean"]
              for c in cells if "B2" in c["methods"] and "tabcompress" in c["methods"]
              and c["methods"]["tabcompress"]["end_to_end_s"]["mean"]]
    return {
        "cells": cells,
        "per_method": per_method,
        "headline": {
            "cells": len(cells),
            "tabcompress_beats_all_baselines": sum(c["tabcompress_beats_all_baselines"] for c in cells),
            "tabcompress_at_least_all_baselines": sum(c["tabcompress_at_least_all_baselines"] for c in cells),
            "tabcompress_median_headroom_closed": per_method.get("tabcompress", {}).get("median_headroom_closed"),
            "cells_with_headroom": sum(1 for c in cells if c["headroom"] is not None and c["headroom"] >= MIN_HEADROOM),
            "median_speedup_vs_B2": median(ratios),
            "tabcompress_total_end_to_end_s": per_method.get("tabcompress", {}).get("total_end_to_end_s"),
            "B2_total_end_to_end_s": per_method.get("B2", {}).get("total_end_to_end_s"),
        },
        "sizes": sizes(results, cells),
    }


# -- students on the fidelity–size frontier ---------------------------------------------------------

def regime(results: dict[str, Any]) -> str:
    """The run's regime; results made before there were regimes are the small one."""
    return results["settings"].get("regime") or "small"


def student_family(results: dict[str, Any], student: str) -> str:
    """The family (``tree``, ``mlp``, …) of a student of the run, from its spec in the settings (a name
    alone, in hand-made results, is read by its letters: tree4 → tree)."""
    students = results["settings"].get("students")
    if isinstance(students, dict) and isinstance(students.get(student), dict):
        return students[student].get("student", student)
    return student.rstrip("0123456789x") or student


def _mean(xs: list[float | None]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.fmean(xs) if xs else None


def size_points(results: dict[str, Any], cells: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every (cell, size) point where tabcompress has a student and B4 or B5 was measured at its size,
    means over seeds: a cell's student (kind ``student``: method ``tabcompress``, against its cell's B4
    and B5), each candidate of the frontier's search (``candidate``: by dataset, teacher and label, its
    size and rows) and the student the search shipped (``shipped``), each against the B4 and B5
    measured for it.

    ``b4_fits`` is False when in some seed even the teacher's smallest cut was bigger than the
    student: B4 is then not at equal bytes and the point is not compared with it."""
    cells = cells if cells is not None else summarise_cells(results)
    points = []
    for c in cells:
        tc = c["methods"].get("tabcompress")
        b4, b5 = c["methods"].get("B4"), c["methods"].get("B5")
        if tc is None or (b4 is None and b5 is None):
            continue
        points.append({
            "dataset": c["dataset"], "teacher": c["teacher"], "task": c["task"], "kind": "student",
            "name": c["student"], "family": student_family(results, c["student"]),
            "fidelity": tc["fidelity"]["mean"], "bytes": tc["serialized_bytes"]["mean"], "seeds": tc["fidelity"]["n"],
            "B4": None if b4 is None else b4["fidelity"]["mean"],
            "B4_bytes": None if b4 is None else b4["serialized_bytes"]["mean"],
            "b4_fits": b4 is not None and not b4["over_budget"],
            "B5": None if b5 is None else b5["fidelity"]["mean"],
            "chosen": None,
        })
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    tasks = {d: info["task"] for d, info in results["datasets"].items()}
    for entry in results.get("frontier") or []:
        for cand in entry["candidates"]:
            groups[(entry["dataset"], entry["teacher"], "candidate", cand.get("label") or cand["name"])].append(cand)
        if entry.get("shipped"):  # what the search ships: the chosen candidate trained on every training row
            groups[(entry["dataset"], entry["teacher"], "shipped", "shipped")].append(entry["shipped"])
    for (dataset, teacher, kind, name), cands in groups.items():
        if kind == "shipped":  # its name is the chosen candidate's, which may differ between seeds
            name = "shipped: " + " / ".join(dict.fromkeys(c.get("label") or c["name"] for c in cands))
        b4 = [c.get("B4") for c in cands if c.get("B4") and "error" not in c["B4"]]
        b5 = [c.get("B5") for c in cands if c.get("B5") and "error" not in c["B5"]]
        points.append({
            "dataset": dataset, "teacher": teacher, "task": tasks.get(dataset), "kind": kind,
            "name": name, "size_name": cands[0]["name"], "family": cands[0].get("family"),
            "fidelity": _mean([c["fidelity"] for c in cands]), "bytes": _mean([c["serialized_bytes"] for c in cands]),
            "seeds": len(cands),
            "B4": _mean([b["fidelity"] for b in b4]) if len(b4) == len(cands) else None,
            "B4_bytes": _mean([b["serialized_bytes"] for b in b4]) if len(b4) == len(cands) else None,
            "b4_fits": len(b4) == len(cands) and not any(b["b4"]["over_budget"] for b in b4),
            "B5": _mean([b["fidelity"] for b in b5]) if len(b5) == len(cands) else None,
            "chosen": sum(1 for c in cands if c.get("chosen")),
            "B4_k": [b["b4"]["k"] for b in b4], "B4_unit": b4[0]["b4"]["unit"] if b4 else None,
            "validation": _mean([(c.get("validation") or {}).get("fidelity") for c in cands]),
            "params": cands[0].get("params"),
        })
    return points


def equal_bytes(points: list[dict[str, Any]]) -> dict[str, Any]:
    """How often tabcompress's student is at least as faithful as B4 and as B5 at equal bytes: at every
    point, and at every (cell, size) with the student tabcompress would give there (``per_size``, see
    :func:`one_per_size`)."""
    def counts(points: list[dict[str, Any]]) -> dict[str, Any]:
        b4 = [p for p in points if p["B4"] is not None and p["b4_fits"]]
        b5 = [p for p in points if p["B5"] is not None]
        both = [p for p in b4 if p["B5"] is not None]
        return {
            "points": len(points),
            "b4_compared": len(b4), "at_least_B4": sum(1 for p in b4 if p["fidelity"] >= p["B4"]),
            "b4_over_budget": sum(1 for p in points if p["B4"] is not None and not p["b4_fits"]),
            "b5_compared": len(b5), "at_least_B5": sum(1 for p in b5 if p["fidelity"] >= p["B5"]),
            "both_compared": len(both),
            "at_least_both": sum(1 for p in both if p["fidelity"] >= p["B4"] and p["fidelity"] >= p["B5"]),
        }

    return {**counts(points), "per_size": counts(one_per_size(points))}


def training_ways() -> frozenset[str]:
    """A candidate's options that say how it was trained, not its size: those of every registered
    student's variants (a tree or gbdt grown on the teacher's classes)."""
    from tabcompress.students.registry import student_class, student_names

    return frozenset(key for name in student_names() for way in student_class(name).variants for key in way)


def one_per_size(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per (cell, size): a cell's student; of the search's candidates of one size (the same
    student on other rows, or trained another way), the one the search rates best on its validation rows
    (never the held-out rows), or the shipped student where the search shipped that size (it is that
    candidate trained again on every training row)."""
    out = [p for p in points if p["kind"] == "student"]
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    ways = training_ways()
    for p in points:
        if p["kind"] != "student":
            size = sorted((k, str(v)) for k, v in (p.get("params") or {}).items() if k not in ways)
            groups[(p["dataset"], p["teacher"], p.get("family"), tuple(size))].append(p)
    for group in groups.values():
        shipped = [p for p in group if p["kind"] == "shipped"]
        out.append(shipped[0] if shipped else max(group, key=lambda p: p.get("validation") or float("-inf")))
    return out


def within_teacher_bytes(results: dict[str, Any], points: list[dict[str, Any]],
                         cells: list[dict[str, Any]], share: float = BYTES_SHARE) -> dict[str, Any]:
    """Per (dataset, teacher): the most faithful tabcompress student (a cell's student or a candidate of
    the search) whose bytes are at most ``share`` of the teacher's (means over seeds), the most faithful
    baseline (B0–B5; B4 only where it fits) within the same bytes, and the teacher itself cut to that
    share (``cut_to_share``, where the run measured it); the median over the cells."""
    teacher_bytes: dict[tuple, list[float]] = defaultdict(list)
    for t in results["teachers"]:
        teacher_bytes[(t["dataset"], t["teacher"])].append(t["serialized_bytes"])
    rows = []
    for (dataset, teacher), sizes_ in teacher_bytes.items():
        budget = share * statistics.fmean(sizes_)
        ours = [p for p in points if p["dataset"] == dataset and p["teacher"] == teacher]
        ours += [{"name": c["student"], "kind": "student", "fidelity": c["methods"]["tabcompress"]["fidelity"]["mean"],
                  "bytes": c["methods"]["tabcompress"]["serialized_bytes"]["mean"]}
                 for c in cells if c["dataset"] == dataset and c["teacher"] == teacher and "tabcompress" in c["methods"]
                 and not any(p["kind"] == "student" and p["name"] == c["student"] for p in ours)]
        best = max((p for p in ours if p["bytes"] is not None and p["bytes"] <= budget
                    and p["fidelity"] is not None), key=lambda p: p["fidelity"], default=None)
        others = [{"name": f"{m} ({c['student']})", "fidelity": v["fidelity"]["mean"], "bytes": v["serialized_bytes"]["mean"]}
                  for c in cells if c["dataset"] == dataset and c["teacher"] == teacher
                  for m, v in c["methods"].items() if m in BASELINES + SIZE_BASELINES and not v["over_budget"]]
        others += [{"name": f"{m} ({p.get('size_name') or p['name']})", "fidelity": p[m], "bytes": p["B4_bytes"] if m == "B4" else p["bytes"]}
                   for p in points if p["dataset"] == dataset and p["teacher"] == teacher and p["kind"] != "student"
                   for m in SIZE_BASELINES if p[m] is not None and (m == "B5" or p["b4_fits"])]
        best_other = max((o for o in others if o["bytes"] is not None and o["bytes"] <= budget
                          and o["fidelity"] is not None), key=lambda o: o["fidelity"], default=None)
        cuts = [t["cut_to_share"] for t in results["teachers"] if (t["dataset"], t["teacher"]) == (dataset, teacher)
                and (t.get("cut_to_share") or {}).get("share") == share]
        cut = None if not cuts else {
            "fidelity": _mean([c["fidelity"] for c in cuts]), "bytes": _mean([c["serialized_bytes"] for c in cuts]),
            "k": sorted({c["b4"]["k"] for c in cuts}), "unit": cuts[0]["b4"]["unit"],
            "over_budget": any(c["b4"]["over_budget"] for c in cuts)}
        rows.append({"dataset": dataset, "teacher": teacher, "teacher_bytes": statistics.fmean(sizes_),
                     "budget_bytes": budget,
                     "best": None if best is None else {k: best[k] for k in ("name", "kind", "fidelity", "bytes")},
                     "best_baseline": best_other, "teacher_cut": cut})
    found = [r["best"]["fidelity"] for r in rows if r["best"] is not None]
    return {"share": share, "cells": rows, "cells_with_student": len(found),
            "median_fidelity": statistics.median(found) if found else None}


def tree_students_vs_baselines(results: dict[str, Any], cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Cells of tabcompress's tree students that have every published baseline (B0–B3): where it is at
    least as faithful as all four, and, for regression cells, whether it is at least B1 and B3."""
    tree = [c for c in cells if student_family(results, c["student"]) == "tree"
            and "tabcompress" in c["methods"] and all(b in c["methods"] for b in BASELINES)]

    def at_least(cell: dict[str, Any], method: str) -> bool | None:
        if method not in cell["methods"]:
            return None
        return cell["methods"]["tabcompress"]["fidelity"]["mean"] >= cell["methods"][method]["fidelity"]["mean"]

    return {
        "cells": len(tree),
        "at_least_all": sum(1 for c in tree if all(at_least(c, b) for b in BASELINES if b in c["methods"])),
        "baselines": [b for b in BASELINES if any(b in c["methods"] for c in tree)],
        "regression": [{"dataset": c["dataset"], "teacher": c["teacher"], "student": c["student"],
                        "at_least_B1": at_least(c, "B1"), "at_least_B3": at_least(c, "B3")}
                       for c in tree if c["task"] == "regression"],
    }


def sizes(results: dict[str, Any], cells: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The figures of "students on the fidelity–size frontier", each None where its data is absent:
    ``points`` and ``equal_bytes`` (tabcompress against B4 and B5 at equal bytes), ``within_1pct``
    (full regime) and ``tree_cells`` (small regime)."""
    cells = cells if cells is not None else summarise_cells(results)
    points = size_points(results, cells)
    full = regime(results) == "full"
    trees = tree_students_vs_baselines(results, cells)
    return {
        "regime": regime(results),
        "points": points,
        "equal_bytes": equal_bytes(points) if points else None,
        "within_1pct": within_teacher_bytes(results, points, cells) if full and results["teachers"] else None,
        "tree_cells": trees if not full and trees["cells"] else None,
    }


def summarise_cells(results: dict[str, Any]) -> list[dict[str, Any]]:
    return summarise(results)["cells"]
