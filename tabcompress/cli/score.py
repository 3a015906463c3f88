"""``tabcompress score``: the TSC score of a CSV of synthetic rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tabcompress.cli.app import app, console, errors, print_json
from tabcompress.cli.options import json_option, quiet_option, safe_option, setting, teacher_argument, verbose_option
from tabcompress.config import default


@app.command()
def score(
    ctx: typer.Context,
    synthetic: Annotated[Path, typer.Argument(help="CSV of candidate synthetic rows with the teacher's feature "
                                              "columns (a target column is ignored; .csv.gz too).",
                                              show_default=False)],
    teacher: Annotated[Path, teacher_argument()],
    data: Annotated[Path, typer.Argument(help="CSV of real rows (.csv.gz too); split into training and "
                                         "held-out rows as distill splits them.", show_default=False)],
    target: Annotated[Optional[str], setting("target", panel=None)] = None,
    categorical: Annotated[Optional[str], setting("categorical", panel=None, show_default=False)] = None,
    test_size: Annotated[float, setting("test_size", panel=None)] = default("test_size"),
    max_depth: Annotated[int, typer.Option(help="Depth of the reference tree student (CART's greedy tree: "
                                           "no refinement, no lookahead).")] = 6,
    max_synthetic_rows: Annotated[Optional[int], typer.Option(help="Score a random subsample of at most this many "
                                                              "synthetic rows.", show_default=False)] = None,
    seed: Annotated[int, setting("seed", panel=None)] = default("seed"),
    json_output: Annotated[bool, json_option()] = False,
    safe: Annotated[bool, safe_option(panel=None)] = False,
    quiet: Annotated[bool, quiet_option()] = False,
    verbose: Annotated[bool, verbose_option()] = False,
) -> None:
    """TSC score (Liu, Fusi & Mackey 2018) of SYNTHETIC's rows: a reference tree trained on them vs on DATA's rows."""
    with errors(ctx, verbose):
        from tabcompress.config import Names
        from tabcompress.evaluation.tsc import score_files
        from tabcompress.progress import Progress, RichProgress

        stderr = console()
        report = score_files(synthetic, teacher, data, target=target, categorical=Names.parse(categorical),
                             test_size=test_size, seed=seed, safe=safe, student_options={"max_depth": max_depth},
                             max_synthetic_rows=max_synthetic_rows,
                             progress=Progress() if quiet else RichProgress(stderr))
        if not quiet:
            s = report["score"]
            ratio = "-" if s["fidelity_ratio"] is None else f"{s['fidelity_ratio']:.3f}"
            stderr.print(f"TSC score (fidelity) {ratio}: {report['synthetic']['fidelity']:.4f} trained on "
                         f"{report['synthetic']['train_rows']:,} synthetic rows vs "
                         f"{report['real']['fidelity']:.4f} on {report['real']['train_rows']:,} real rows, "
                         f"scored on {report['test_rows']:,} held-out rows", highlight=False)
            for note in report.get("notes", []):
                stderr.print(f"note: {note}", highlight=False)
        if json_output:
            print_json(report)
