"""``tabcompress evaluate``: a saved student's fidelity to its teacher on a CSV file (the drift check)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tabcompress.cli.app import app, console, errors, print_json
from tabcompress.cli.options import (
    chunk_rows_option,
    json_option,
    quiet_option,
    setting,
    student_argument,
    teacher_argument,
    verbose_option,
)
from tabcompress.config import DEFAULT_CHUNK_ROWS


@app.command()
def evaluate(
    ctx: typer.Context,
    student: Annotated[Path, student_argument()],
    teacher: Annotated[Path, teacher_argument()],
    data: Annotated[Path, typer.Argument(
        help="CSV of rows (.csv.gz too) with the teacher's columns, and the target column to score accuracy; "
        "other columns are ignored.", show_default=False)],
    target: Annotated[Optional[str], setting("target", panel=None)] = None,
    min_fidelity: Annotated[Optional[float], setting("min_fidelity", panel=None)] = None,
    json_output: Annotated[bool, json_option()] = False,
    chunk_rows: Annotated[int, chunk_rows_option()] = DEFAULT_CHUNK_ROWS,
    safe: Annotated[bool, typer.Option("--safe", envvar="TABCOMPRESS_SAFE", help="Refuse pickle/joblib files "
                                       "(loading one runs its code): read a .skops student, and a .skops "
                                       "teacher or one in its library's own format, only.")] = False,
    quiet: Annotated[bool, quiet_option()] = False,
    verbose: Annotated[bool, verbose_option()] = False,
) -> None:
    """Score STUDENT against TEACHER on every row of DATA: fidelity, and accuracy where DATA has the target.

    Exit code 3 when the fidelity is below --min-fidelity (after printing the results), 2 when the
    student and the teacher do not match (task, classes or columns).
    """
    with errors(ctx, verbose):
        from tabcompress.errors import FidelityGateError
        from tabcompress.progress import Progress, RichProgress
        from tabcompress.run.evaluate import evaluate_files, render_summary

        stderr = console()
        gate_error = None
        try:
            report = evaluate_files(student, teacher, data, target=target, min_fidelity=min_fidelity,
                                    chunk_rows=chunk_rows, safe=safe,
                                    progress=Progress() if quiet else RichProgress(stderr))
        except FidelityGateError as exc:
            gate_error, report = exc, exc.result
        if not quiet:
            for line in render_summary(report):
                stderr.print(line, highlight=False)
        if json_output:
            print_json(report)
        if gate_error is not None:
            raise gate_error
