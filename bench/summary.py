"""Aggregate a benchmark's runs: per cell (dataset × teacher × student) and method, the mean and spread
over seeds, the share of headroom closed, and the headline figures."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

BASELINES = ("B0", "B1", "B2", "B3")
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
            "best_method": max((m for m in mean if m != "oracle"), key=lambda m: mean[m]) if mean else None,
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
        if method == "oracle":
            continue
        in_cells = [c["methods"][method] for c in cells if method in c["methods"]]
        per_method[method] = {
            "median_headroom_closed": median([m["headroom_closed"] for m in in_cells]),
            "mean_fidelity": statistics.fmean([m["fidelity"]["mean"] for m in in_cells]) if in_cells else None,
            "cells_best": sum(1 for c in cells if c["best_method"] == method),
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
    }
