"""``tabcompress predict``: a student's predictions for every row of a CSV file, in chunks."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tabcompress.cli.app import app, console, errors
from tabcompress.cli.options import (
    chunk_rows_option,
    quiet_option,
    safe_student_option,
    student_argument,
    verbose_option,
)
from tabcompress.config import DEFAULT_CHUNK_ROWS

# What a shell reports for a process killed by SIGPIPE: the reader (`| head`) has gone.
EXIT_BROKEN_PIPE = 141


@app.command()
def predict(
    ctx: typer.Context,
    student: Annotated[Path, student_argument()],
    data: Annotated[Path, typer.Argument(
        help="CSV of rows to score (.csv.gz too), with the student's columns in any order; other columns "
        "are ignored.", show_default=False)],
    proba: Annotated[bool, typer.Option("--proba", help="Add one proba_<class> column per class "
                                        "(classification).")] = False,
    out: Annotated[Optional[Path], typer.Option(
        help="CSV file to write (gzip when it ends in .gz), renamed into place once complete.",
        show_default="stdout")] = None,
    chunk_rows: Annotated[int, chunk_rows_option()] = DEFAULT_CHUNK_ROWS,
    safe: Annotated[bool, safe_student_option()] = False,
    quiet: Annotated[bool, quiet_option()] = False,
    verbose: Annotated[bool, verbose_option()] = False,
) -> None:
    """Score every row of DATA with STUDENT: a CSV of `prediction` (the class or value), in DATA's row order.

    Without --out the rows go to stdout as they are scored; a failure part-way (text in a numeric column,
    say) then leaves the rows before it printed. With --out nothing is written unless every row is.
    """
    with errors(ctx, verbose):
        from tabcompress.run.predict import predict_csv

        try:
            done = predict_csv(student, data, out, proba=proba, chunk_rows=chunk_rows, safe=safe)
        except BrokenPipeError:
            # The reader stopped early (`| head`): not an error of ours. Point stdout at nothing so the
            # interpreter's last flush does not complain.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(EXIT_BROKEN_PIPE) from None
        if not quiet:
            where = f"written to {out}" if out is not None else "written to stdout"
            console().print(f"{done['rows']:,} rows scored in {done['seconds']:.1f} s, {where}", highlight=False)
