"""``tabcompress condense``: a few prototype rows per class, for few-shot distillation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tabcompress.cli.app import app, console, errors
from tabcompress.cli.options import quiet_option, setting, verbose_option
from tabcompress.config import default


@app.command()
def condense(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="CSV of real rows with the feature columns and the target (.csv.gz too).",
                                         show_default=False)],
    per_class: Annotated[int, typer.Option(help="Prototypes per class (per target bin for regression).")] = 10,
    out: Annotated[Path, typer.Option(help="CSV the prototypes are written to (target column included).")]
    = Path("prototypes.csv"),
    target: Annotated[str, typer.Option(help="The label column.")] = "target",
    method: Annotated[str, typer.Option(help="kmeans (cluster centres) or herding (real rows that match the "
                                        "class mean).", metavar="<kmeans|herding>")] = "kmeans",
    task: Annotated[Optional[str], typer.Option(help="classification or regression.", show_default="regression for "
                                                "a target of many distinct numbers",
                                                metavar="<classification|regression>")] = None,
    bins: Annotated[int, typer.Option(help="Regression: quantile bins of the target.")] = 10,
    categorical: Annotated[Optional[str], typer.Option(
        help="Comma-separated numeric columns to treat as categories (text and bool columns always are).",
        show_default=False)] = None,
    seed: Annotated[int, setting("seed", panel=None)] = default("seed"),
    quiet: Annotated[bool, quiet_option()] = False,
    verbose: Annotated[bool, verbose_option()] = False,
) -> None:
    """Write K prototype rows per class of DATA, for `distill --few-shot` where real rows cannot be shared."""
    with errors(ctx, verbose):
        from tabcompress.config import Names
        from tabcompress.methods.condense import condense_file

        written = condense_file(data, out, per_class=per_class, target=target, method=method, task=task,
                                n_bins=bins, categorical=Names.parse(categorical), seed=seed)
        if not quiet:
            groups = "classes" if written["task"] == "classification" else "bins"
            console().print(f"{written['rows']:,} prototypes ({written['task']}, {written['groups']} {groups}) "
                            f"written to {out}", highlight=False)
