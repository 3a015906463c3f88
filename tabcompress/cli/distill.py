"""``tabcompress distill``: every setting of :class:`tabcompress.config.Settings` is an option here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tabcompress.cli.app import app, console, errors, print_json, process_started
from tabcompress.cli.options import json_option, quiet_option, teacher_argument, verbose_option, with_settings
from tabcompress.config import PANEL_DATA, PANEL_MAIN
from tabcompress.errors import InputError

#: the options most runs need, in the order help shows them; the other settings follow by panel
FIRST = ("target", "student", "target_fidelity", "max_size", "max_latency", "max_depth", "out_dir", "json_output",
         "min_fidelity", "seed", "time_budget", "safe", "quiet", "config", "verbose", "data_option", "eval_data",
         "validation_data")


@app.command()
@with_settings(first=FIRST)
def distill(
    ctx: typer.Context,
    teacher: Annotated[Path, teacher_argument()],
    data: Annotated[Optional[Path], typer.Argument(
        help="CSV of real rows with a header (the target column optional; .csv.gz, .bz2, .xz, .zst too). Leave "
        "it out to distil data-free, from the teacher's trees alone.", show_default=False)] = None,
    *,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory that receives the student and report.json.",
                                          rich_help_panel=PANEL_MAIN)] = Path("tabcompress-out"),
    json_output: Annotated[bool, json_option(PANEL_MAIN)] = False,
    quiet: Annotated[bool, quiet_option(PANEL_MAIN)] = False,
    config: Annotated[Optional[Path], typer.Option(
        help="TOML file of settings (keys are option names, e.g. max-depth = 8); options given here override it.",
        show_default=False, rich_help_panel=PANEL_MAIN)] = None,
    verbose: Annotated[bool, verbose_option(PANEL_MAIN)] = False,
    data_option: Annotated[Optional[Path], typer.Option("--data", help="The same as DATA (handy with --few-shot).",
                                                        show_default=False, rich_help_panel=PANEL_DATA)] = None,
    eval_data: Annotated[Optional[Path], typer.Option(
        help="CSV of real rows to score on; they never enter training (with DATA, all of DATA then trains).",
        show_default=False, rich_help_panel=PANEL_DATA)] = None,
    validation_data: Annotated[Optional[Path], typer.Option(
        help="CSV of real rows the teacher never saw, to choose the student, its rows and its size on in place "
        "of --validation-size of DATA (whose rows then all train); they never enter training.",
        show_default=False, rich_help_panel=PANEL_DATA)] = None,
    **settings: Any,
) -> None:
    """Distil TEACHER into a small student using the rows in DATA (or, without DATA, the teacher alone)."""
    with errors(ctx, verbose):
        from tabcompress.errors import FidelityGateError
        from tabcompress.progress import Progress, RichProgress
        from tabcompress.report import render_summary
        from tabcompress.run.distill import distill as run_distill

        if data is not None and data_option is not None:
            raise InputError("give the data once: either DATA or --data")
        stderr = console()
        gate_error = None
        try:
            result = run_distill(teacher, data if data is not None else data_option, settings_from(ctx, config),
                                 out_dir=out_dir, eval_data=eval_data, validation_data=validation_data,
                                 progress=Progress() if quiet else RichProgress(stderr), clock_start=process_started())
        except FidelityGateError as exc:
            gate_error, result = exc, exc.result
        if not quiet:
            render_summary(result.report, stderr)
            stderr.print(f"student written to {_shown(result.report['outputs']['student'])}", highlight=False)
        if json_output:
            print_json(result.report)
        if gate_error is not None:
            raise gate_error


def settings_from(ctx: typer.Context, config: Path | None) -> Any:
    """The run's settings: the defaults, then ``config``'s, then the options given on the command line
    (or in the environment)."""
    from tabcompress.config import OPTIONS, Settings, read_settings_file

    given = {name: value for name, value in ctx.params.items()
             if name in OPTIONS and ctx.get_parameter_source(name).name not in ("DEFAULT", "DEFAULT_MAP")}
    from_file = read_settings_file(config) if config is not None else {}
    return Settings().replace(**from_file).replace(**given)


def _shown(path: str) -> str:
    """A path for people: relative to the working directory when it lies below it (the report keeps
    it absolute)."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative
