"""The report: what the run measured, as JSON and as a summary table for people."""

from __future__ import annotations

import json
import math
import os
import platform
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

PACKAGES = ("tabcompress", "numpy", "pandas", "scikit-learn", "xgboost", "torch", "ctgan", "joblib")


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
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return info


def _clean(value: Any) -> Any:
    """numpy scalars → Python, non-finite floats → None, so the JSON is strict."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(_clean(report), indent=2, allow_nan=False) + "\n"


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def render_summary(report: dict[str, Any], console) -> None:
    """A compact table of the headline figures, for a person at a terminal (stderr)."""
    from rich.table import Table

    task = report["task"]
    metrics = report["metrics"]
    fidelity_label = "fidelity (agreement)" if task != "regression" else "fidelity (R² to teacher)"
    target_keys = ["target_accuracy"] if task != "regression" else ["target_r2", "target_rmse"]
    table = Table(title=f"tabcompress — {task} — held-out real rows: {report['data']['test_rows']:,}",
                  title_justify="left")
    table.add_column("")
    table.add_column("teacher", justify="right")
    table.add_column("student", justify="right")
    if "baseline" in metrics:
        table.add_column("baseline (real rows only)", justify="right")

    def row(label: str, teacher: str, key: str | None = None, fmt: str = "{:.4f}") -> None:
        cells = [label, teacher]
        for who in ("student", "baseline"):
            if who in metrics:
                value = metrics[who].get(key) if key else None
                cells.append(fmt.format(value) if value is not None else "-")
        table.add_row(*cells)

    row(fidelity_label, "1", "fidelity")
    if task == "regression":
        row("RMSE to teacher", "0", "rmse", "{:.4g}")
    for key in target_keys:
        if "teacher" in metrics and key in metrics["teacher"]:
            label = {"target_accuracy": "accuracy (true target)", "target_r2": "R² (true target)",
                     "target_rmse": "RMSE (true target)"}[key]
            fmt = "{:.4g}" if key == "target_rmse" else "{:.4f}"
            row(label, fmt.format(metrics["teacher"][key]), key, fmt)
    t, s = report["teacher"], report["student"]
    size_cells = ["size (pickled)", _fmt_bytes(t["serialized_bytes"]), _fmt_bytes(s["serialized_bytes"])]
    if "baseline" in metrics:
        size_cells.append("")
    table.add_row(*size_cells)
    if "n_nodes" in s:
        shape = f"{s['n_nodes']:,} nodes, depth {s['depth']}"
    else:
        shape = f"{s['n_parameters']:,} parameters"
    cells = ["model", f"{t['n_trees']:,} trees, {t['n_nodes']:,} nodes", shape]
    if "baseline" in metrics:
        cells.append("")
    table.add_row(*cells)
    for key, label in (("batch_ms", f"latency, {t['latency']['batch_rows']:,} rows"),
                       ("single_row_ms", "latency, 1 row")):
        cells = [label, f"{t['latency'][key]:.2f} ms", f"{s['latency'][key]:.2f} ms"]
        if "baseline" in metrics:
            cells.append("")
        table.add_row(*cells)
    console.print(table)
    timings = report["timings_s"]
    spent = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items() if k != "total")
    console.print(f"total {timings['total']:.1f} s ({spent})", highlight=False)
    if report.get("gate"):
        gate = report["gate"]
        verdict = "[green]passed[/green]" if gate["passed"] else "[red]FAILED[/red]"
        console.print(f"fidelity gate ≥ {gate['min_fidelity']}: {verdict}")
