"""``tabcompress distill``: every setting of :class:`tabcompress.config.Settings` is an option here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tabcompress.cli.app import app, console, errors, print_json
from tabcompress.cli.options import (
    GENERATOR_METAVAR,
    choices,
    json_option,
    quiet_option,
    safe_option,
    setting,
    teacher_argument,
    verbose_option,
)
from tabcompress.config import PANEL_DATA, PANEL_MAIN, default
from tabcompress.errors import InputError

D = default  # every default below is the library's own


@app.command()
def distill(
    ctx: typer.Context,
    teacher: Annotated[Path, teacher_argument()],
    data: Annotated[Optional[Path], typer.Argument(
        help="CSV of real rows with a header (the target column optional). Leave it out to distil data-free, "
        "from the teacher's trees alone.", show_default=False)] = None,
    # -- the options most runs need
    target: Annotated[Optional[str], setting("target")] = D("target"),
    student: Annotated[choices("student"), setting("student")] = D("student"),
    max_depth: Annotated[Optional[int], setting("max_depth")] = D("max_depth"),
    out_dir: Annotated[Path, typer.Option("--out", help="Directory that receives the student and report.json.",
                                          rich_help_panel=PANEL_MAIN)] = Path("tabcompress-out"),
    json_output: Annotated[bool, json_option(PANEL_MAIN)] = False,
    min_fidelity: Annotated[Optional[float], setting("min_fidelity")] = D("min_fidelity"),
    seed: Annotated[int, setting("seed")] = D("seed"),
    time_budget: Annotated[Optional[float], setting("time_budget")] = D("time_budget"),
    safe: Annotated[bool, safe_option()] = D("safe"),
    quiet: Annotated[bool, quiet_option(PANEL_MAIN)] = False,
    config: Annotated[Optional[Path], typer.Option(
        help="TOML file of settings (keys are option names, e.g. max-depth = 8); options given here override it.",
        show_default=False, rich_help_panel=PANEL_MAIN)] = None,
    verbose: Annotated[bool, verbose_option(PANEL_MAIN)] = False,
    # -- data
    data_option: Annotated[Optional[Path], typer.Option("--data", help="The same as DATA (handy with --few-shot).",
                                                        show_default=False, rich_help_panel=PANEL_DATA)] = None,
    eval_data: Annotated[Optional[Path], typer.Option(
        help="CSV of real rows to score on; they never enter training (with DATA, all of DATA then trains).",
        show_default=False, rich_help_panel=PANEL_DATA)] = None,
    categorical: Annotated[Optional[str], setting("categorical", show_default=False)] = None,
    test_size: Annotated[float, setting("test_size")] = D("test_size"),
    few_shot: Annotated[bool, setting("few_shot", "--few-shot/--no-few-shot")] = D("few_shot"),
    # -- synthetic rows
    generator: Annotated[str, setting("generator", metavar=GENERATOR_METAVAR)] = D("generator"),
    synthetic_ratio: Annotated[float, setting("synthetic_ratio")] = D("synthetic_ratio"),
    synthetic_rows: Annotated[Optional[int], setting("synthetic_rows")] = D("synthetic_rows"),
    synthetic_max_rows: Annotated[int, setting("synthetic_max_rows")] = D("synthetic_max_rows"),
    epochs: Annotated[int, setting("epochs")] = D("epochs"),
    early_stop: Annotated[bool, setting("early_stop", "--early-stop/--no-early-stop")] = D("early_stop"),
    batch_size: Annotated[int, setting("batch_size")] = D("batch_size"),
    generator_rows: Annotated[int, setting("generator_rows")] = D("generator_rows"),
    forest_trees: Annotated[int, setting("forest_trees")] = D("forest_trees"),
    device: Annotated[choices("device"), setting("device")] = D("device"),
    cache_dir: Annotated[Optional[str], setting("cache_dir", envvar="TABCOMPRESS_CACHE_DIR")] = D("cache_dir"),
    cache: Annotated[bool, setting("cache", "--cache/--no-cache")] = D("cache"),
    # -- student
    max_leaf_nodes: Annotated[Optional[int], setting("max_leaf_nodes")] = D("max_leaf_nodes"),
    hidden: Annotated[str, setting("hidden")] = ",".join(map(str, D("hidden"))),
    refine: Annotated[bool, setting("refine", "--refine/--no-refine")] = D("refine"),
    refine_passes: Annotated[Optional[int], setting("refine_passes")] = D("refine_passes"),
    refine_starts: Annotated[Optional[int], setting("refine_starts")] = D("refine_starts"),
    student_format: Annotated[Optional[choices("student_format")], setting("student_format")] = D("student_format"),
    # -- research
    selection_rounds: Annotated[int, setting("selection_rounds")] = D("selection_rounds"),
    selection_share: Annotated[float, setting("selection_share")] = D("selection_share"),
    selection_pool: Annotated[int, setting("selection_pool")] = D("selection_pool"),
    selection_spread: Annotated[float, setting("selection_spread")] = D("selection_spread"),
    adversarial: Annotated[bool, setting("adversarial", "--adversarial/--no-adversarial")] = D("adversarial"),
    adversarial_weight: Annotated[float, setting("adversarial_weight")] = D("adversarial_weight"),
    temperature_start: Annotated[float, setting("temperature_start")] = D("temperature_start"),
    temperature_end: Annotated[float, setting("temperature_end")] = D("temperature_end"),
    tsc: Annotated[bool, setting("tsc", "--tsc/--no-tsc")] = D("tsc"),
    baseline: Annotated[bool, setting("baseline", "--baseline/--no-baseline")] = D("baseline"),
    label_chunk_rows: Annotated[int, setting("label_chunk_rows")] = D("label_chunk_rows"),
) -> None:
    """Distil TEACHER into a small student using the rows in DATA (or, without DATA, the teacher alone)."""
    with errors(ctx, verbose):
        from tabcompress.errors import FidelityGateError
        from tabcompress.progress import Progress, RichProgress
        from tabcompress.report import render_summary
        from tabcompress.run.distill import distill as run_distill

        if data is not None and data_option is not None:
            raise InputError("give the data once: either DATA or --data")
        settings = settings_from(ctx, config)
        stderr = console()
        gate_error = None
        try:
            result = run_distill(teacher, data if data is not None else data_option, settings, out_dir=out_dir,
                                 eval_data=eval_data, progress=Progress() if quiet else RichProgress(stderr))
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
