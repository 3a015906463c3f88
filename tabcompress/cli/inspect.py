"""``tabcompress inspect``: what a saved student is: size, columns, a tree's rules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tabcompress.cli.app import app, errors, print_json
from tabcompress.cli.options import json_option, safe_student_option, student_argument, verbose_option


@app.command()
def inspect(
    ctx: typer.Context,
    student: Annotated[Path, student_argument()],
    json_output: Annotated[bool, json_option()] = False,
    safe: Annotated[bool, safe_student_option()] = False,
    verbose: Annotated[bool, verbose_option()] = False,
) -> None:
    """Describe STUDENT: family, task, classes, bytes, the columns it reads and uses, a tree's rules
    (categories by name, where missing cells go), a boosted ensemble's splits per column, a dense
    model's layers."""
    with errors(ctx, verbose):
        from tabcompress.evaluation.describe import describe, render_text
        from tabcompress.export.files import load_student

        description = describe(load_student(student, safe=safe), student)
        if json_output:
            print_json(description)
        else:
            sys.stdout.write(render_text(description))
