"""``tabcompress export``: a saved student as ONNX, C or Python that runs without tabcompress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from tabcompress.cli.app import app, console, errors, print_json
from tabcompress.cli.options import json_option, quiet_option, safe_student_option, student_argument, verbose_option
from tabcompress.export.formats import FORMATS

#: what ``--to`` takes: the formats tabcompress.export.formats knows
Format = Literal[tuple(FORMATS)]  # type: ignore[valid-type]


@app.command()
def export(
    ctx: typer.Context,
    student: Annotated[Path, student_argument()],
    to: Annotated[Format, typer.Option(help="Format: onnx (a graph for onnxruntime), c (a .c source and its .h "
                                       "header), python (a .py module).",
                                       show_default=False)],
    out: Annotated[Optional[Path], typer.Option(
        help="File to write (C: the .c file; the .h goes beside it).",
        show_default="beside STUDENT, named after it (student.onnx, student.c, student.py)")] = None,
    json_output: Annotated[bool, json_option()] = False,
    safe: Annotated[bool, safe_student_option()] = False,
    quiet: Annotated[bool, quiet_option()] = False,
    verbose: Annotated[bool, verbose_option()] = False,
) -> None:
    """Write STUDENT as a model that runs without tabcompress: ONNX, C or Python, each computing what the
    student computes (the same classes and probabilities)."""
    with errors(ctx, verbose):
        from tabcompress.export.convert import export_file

        written = export_file(student, to, out, safe=safe)
        if not quiet:
            stderr = console()
            for path in written["files"]:
                stderr.print(f"written: {path}", highlight=False)
        if json_output:
            print_json(written)
