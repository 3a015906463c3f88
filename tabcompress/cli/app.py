"""The ``tabcompress`` command line. It parses options and calls the library; no logic lives here.

Exit codes: 0 success; 1 unexpected error; 2 bad input or usage; 3 fidelity below ``--min-fidelity``;
130 interrupted (SIGINT); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import traceback
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer

from tabcompress.errors import FidelityGateError, InputError, TabcompressError

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Distil big tabular models (random forests, XGBoost) into small, fast students.",
)


@app.callback()
def _root() -> None:
    """Distil big tabular models (random forests, XGBoost) into small, fast students."""


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _error(message: str) -> None:
    # One line, plain text: CI logs and cron mails read it as is.
    sys.stderr.write(f"tabcompress: error: {message}\n")
    sys.stderr.flush()


def _split_names(value: Optional[str]) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _parse_hidden(value: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise InputError(f"--hidden must be comma-separated layer widths such as 64,64, got {value!r}") from None
    return widths


@app.command()
def distill(
    teacher: Annotated[Path, typer.Argument(help="Fitted teacher: .pkl/.pickle/.joblib, .skops, or XGBoost .json/.ubj.",
                                            show_default=False)],
    data: Annotated[Optional[Path], typer.Argument(
        help="CSV of real rows with a header (the target column optional). Leave it out to distil data-free, "
        "from the teacher's trees alone.", show_default=False)] = None,
    data_option: Annotated[Optional[Path], typer.Option("--data", help="The same as DATA (handy with --few-shot).",
                                                        show_default=False)] = None,
    eval_data: Annotated[Optional[Path], typer.Option(help="CSV of real rows to score on; they never enter "
                                                      "training (with DATA, all of DATA then trains).",
                                                      show_default=False)] = None,
    few_shot: Annotated[bool, typer.Option("--few-shot", help="DATA holds only a few prototype rows per class "
                                           "(see `tabcompress condense`): grow synthetic rows around them.")] = False,
    forest_trees: Annotated[int, typer.Option(help="Data-free: teacher trees each sampled row descends; more "
                                              "trees, rows closer to where the training data lay.")] = 16,
    target: Annotated[Optional[str], typer.Option(help="True-label column, used only to score accuracy. "
                                                  "[default: 'target' when present]", show_default=False)] = None,
    categorical: Annotated[Optional[str], typer.Option(help="Comma-separated columns to treat as categories "
                                                       "(text, bool and category columns always are).")] = None,
    test_size: Annotated[float, typer.Option(help="Share of real rows held out from everything, for scoring.")] = 0.2,
    generator: Annotated[str, typer.Option(help="Synthetic-row generator: auto (the benchmark's pick for the student), "
                                           "ctgan, tvae, copula, munge, a mix such as munge+ctgan, or none "
                                           "(real rows only).")] = "auto",
    epochs: Annotated[int, typer.Option(help="Generator training epochs (ctgan, tvae): the most it trains.")] = 100,
    early_stop: Annotated[bool, typer.Option("--early-stop/--no-early-stop",
                                             help="Stop generator training when its losses flatten.")] = True,
    batch_size: Annotated[int, typer.Option(help="Generator batch size (a multiple of 10).")] = 500,
    generator_rows: Annotated[int, typer.Option(help="Fit the generator on a random subsample of at most this "
                                                "many training rows; 0 = all rows.")] = 20_000,
    synthetic_rows: Annotated[Optional[int], typer.Option(help="Number of synthetic rows. "
                                                          "[default: --synthetic-ratio × training rows]",
                                                          show_default=False)] = None,
    synthetic_ratio: Annotated[float, typer.Option(help="Synthetic rows per training row, "
                                                   "when --synthetic-rows is not given.")] = 20.0,
    synthetic_max_rows: Annotated[int, typer.Option(help="At most this many synthetic rows from the ratio; "
                                                    "0 = no cap.")] = 400_000,
    selection_rounds: Annotated[int, typer.Option(help="Teacher-aware selection: rounds of drawing candidates and "
                                                  "keeping those where teacher and student disagree most; 0 = off.")] = 0,
    selection_share: Annotated[float, typer.Option(help="Share of the synthetic rows chosen by selection.")] = 0.5,
    selection_pool: Annotated[int, typer.Option(help="Candidates drawn (and labelled) per selected row.")] = 4,
    selection_spread: Annotated[float, typer.Option(help="Selection: weight of a term favouring rows whose "
                                                    "teacher class (or value range) is still rare.")] = 0.0,
    time_budget: Annotated[Optional[float], typer.Option(help="Seconds the whole run may take: generator epochs, "
                                                         "synthetic rows and selection rounds are planned to fit.",
                                                         show_default=False)] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Where fitted generators are cached. [default: "
                                                      "$TABCOMPRESS_CACHE_DIR, else the user's cache directory]",
                                                      show_default=False)] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the generator cache.")] = False,
    student: Annotated[str, typer.Option(help="Student model: tree or mlp.")] = "tree",
    max_depth: Annotated[int, typer.Option(help="Tree student: maximum depth.")] = 6,
    max_leaf_nodes: Annotated[Optional[int], typer.Option(help="Tree student: maximum number of leaves.",
                                                          show_default=False)] = None,
    refine_passes: Annotated[Optional[int], typer.Option(
        help="Tree student: passes that refit the grown tree's splits to the teacher's classes (tree "
        "alternating optimisation); 0 keeps the greedy tree. [default: 3 for classification, 0 for "
        "regression]", show_default=False)] = None,
    refine_starts: Annotated[Optional[int], typer.Option(
        help="Tree student: trees grown from different starts (the teacher's probabilities or classes, all "
        "rows or random halves) and refined; the one that disagrees least with the teacher on the training "
        "rows is kept. [default: 6 for classification, 1 for regression]", show_default=False)] = None,
    hidden: Annotated[str, typer.Option(help="MLP student: hidden layer widths, comma-separated.")] = "64,64",
    adversarial: Annotated[bool, typer.Option("--adversarial", help="MLP student: add a KDGAN-style adversarial "
                                              "term (a discriminator on rows and Gumbel-softmax labels).")] = False,
    adversarial_weight: Annotated[float, typer.Option(help="MLP --adversarial: weight of the adversarial "
                                                      "term.")] = 0.5,
    temperature_start: Annotated[float, typer.Option(help="MLP --adversarial: Gumbel-softmax temperature at the "
                                                     "start, annealed to --temperature-end.")] = 1.0,
    temperature_end: Annotated[float, typer.Option(help="MLP --adversarial: final temperature.")] = 0.1,
    tsc: Annotated[bool, typer.Option("--tsc/--no-tsc", help="Report the TSC score of the synthetic rows (a "
                                      "reference tree trained on them against one on the real rows).")] = True,
    device: Annotated[str, typer.Option(help="Where torch trains (generator, MLP): auto, cpu or cuda.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed for every random source: same inputs and seed, same student.")] = 0,
    out: Annotated[Path, typer.Option(help="Directory that receives student.joblib and report.json.")]
    = Path("tabcompress-out"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the report to stdout as one JSON document.")]
    = False,
    min_fidelity: Annotated[Optional[float], typer.Option(help="Exit with code 3 when the student's fidelity "
                                                          "is below this (R² to the teacher for regression).",
                                                          show_default=False)] = None,
    safe: Annotated[bool, typer.Option("--safe", envvar="TABCOMPRESS_SAFE",
                                       help="Refuse pickle/joblib teachers (loading one runs its code); read "
                                       ".skops and XGBoost .json/.ubj only; save the student as .skops.")] = False,
    student_format: Annotated[Optional[str], typer.Option(help="joblib or skops. [default: skops with --safe, "
                                                          "else joblib]", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks of unexpected errors.")] = False,
) -> None:
    """Distil TEACHER into a small student using the rows in DATA (or, without DATA, the teacher alone)."""
    from tabcompress.progress import Progress, RichProgress

    console = _console()
    with _errors(verbose):
        from tabcompress.report import render_summary, to_json
        from tabcompress.run.distill import DistillConfig
        from tabcompress.run.distill import distill as run_distill

        if data is not None and data_option is not None:
            raise InputError("give the data once: either DATA or --data")
        data = data if data is not None else data_option
        if generator_rows < 0:
            raise InputError(f"--generator-rows must be >= 0 (0 = all rows), got {generator_rows}")
        config = DistillConfig(
            target=target, categorical=_split_names(categorical), test_size=test_size, generator=generator,
            epochs=epochs, batch_size=batch_size, generator_rows=generator_rows or None,
            synthetic_rows=synthetic_rows, synthetic_ratio=synthetic_ratio,
            synthetic_max_rows=synthetic_max_rows or None, student=student,
            max_depth=max_depth, max_leaf_nodes=max_leaf_nodes, refine_passes=refine_passes,
            refine_starts=refine_starts,
            hidden=_parse_hidden(hidden), device=device,
            seed=seed, min_fidelity=min_fidelity, safe=safe, early_stop=early_stop,
            selection_rounds=selection_rounds, selection_share=selection_share, selection_pool=selection_pool,
            time_budget=time_budget, cache=not no_cache, cache_dir=str(cache_dir) if cache_dir else None,
            student_format=student_format or ("skops" if safe else "joblib"),
            selection_spread=selection_spread, few_shot=few_shot, forest_trees=forest_trees,
            adversarial=adversarial, adversarial_weight=adversarial_weight,
            temperature_start=temperature_start, temperature_end=temperature_end, tsc=tsc,
        )
        progress = Progress() if quiet else RichProgress(console)
        gate_error = None
        try:
            result = run_distill(teacher, data, config, out_dir=out, progress=progress, eval_data=eval_data)
        except FidelityGateError as exc:
            gate_error, result = exc, exc.result
        if not quiet:
            render_summary(result.report, console)
            console.print(f"student written to {result.report['outputs']['student']}", highlight=False)
        if json_output:
            sys.stdout.write(to_json(result.report))
            sys.stdout.flush()
        if gate_error is not None:
            raise gate_error


@app.command()
def score(
    synthetic: Annotated[Path, typer.Argument(help="CSV of candidate synthetic rows with the teacher's feature "
                                              "columns (a target column is ignored).", show_default=False)],
    teacher: Annotated[Path, typer.Argument(help="Fitted teacher: .pkl/.pickle/.joblib, .skops, or XGBoost "
                                            ".json/.ubj.", show_default=False)],
    data: Annotated[Path, typer.Argument(help="CSV of real rows; split into training and held-out rows as "
                                         "distill splits them.", show_default=False)],
    target: Annotated[Optional[str], typer.Option(help="True-label column of DATA, used only to score accuracy. "
                                                  "[default: 'target' when present]", show_default=False)] = None,
    categorical: Annotated[Optional[str], typer.Option(help="Comma-separated columns to treat as categories "
                                                       "(text, bool and category columns always are).")] = None,
    test_size: Annotated[float, typer.Option(help="Share of real rows held out for scoring (the split distill "
                                             "makes).")] = 0.2,
    max_depth: Annotated[int, typer.Option(help="Depth of the reference tree student (its splits are not "
                                           "refined).")] = 6,
    max_synthetic_rows: Annotated[Optional[int], typer.Option(help="Score a random subsample of at most this many "
                                                              "synthetic rows.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed for the split, the subsample and the students.")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report to stdout as one JSON document.")]
    = False,
    safe: Annotated[bool, typer.Option("--safe", envvar="TABCOMPRESS_SAFE", help="Refuse pickle/joblib teachers "
                                       "(loading one runs its code).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks of unexpected errors.")] = False,
) -> None:
    """The TSC score (Liu, Fusi & Mackey 2018) of the rows in SYNTHETIC: a small reference student trained on
    them, labelled by TEACHER, against the same student trained on DATA's real rows, both scored on DATA's
    held-out rows."""
    with _errors(verbose):
        from tabcompress.evaluation.tsc import score_files
        from tabcompress.report import to_json

        report = score_files(synthetic, teacher, data, target=target, categorical=_split_names(categorical),
                             test_size=test_size, seed=seed, safe=safe, student_options={"max_depth": max_depth},
                             max_synthetic_rows=max_synthetic_rows)
        if not quiet:
            s = report["score"]
            ratio = "-" if s["fidelity_ratio"] is None else f"{s['fidelity_ratio']:.3f}"
            _console().print(f"TSC score (fidelity) {ratio}: {report['synthetic']['fidelity']:.4f} trained on "
                             f"{report['synthetic']['train_rows']:,} synthetic rows vs "
                             f"{report['real']['fidelity']:.4f} on {report['real']['train_rows']:,} real rows, "
                             f"scored on {report['test_rows']:,} held-out rows", highlight=False)
            for note in report.get("notes", []):
                _console().print(f"note: {note}", highlight=False)
        if json_output:
            sys.stdout.write(to_json(report))
            sys.stdout.flush()


@app.command()
def condense(
    data: Annotated[Path, typer.Argument(help="CSV of real rows with the feature columns and the target.",
                                         show_default=False)],
    per_class: Annotated[int, typer.Option(help="Prototypes per class (per target bin for regression).")] = 10,
    out: Annotated[Path, typer.Option(help="CSV the prototypes are written to (target column included).")]
    = Path("prototypes.csv"),
    target: Annotated[str, typer.Option(help="The label column.")] = "target",
    method: Annotated[str, typer.Option(help="kmeans (cluster centres) or herding (real rows that match the "
                                        "class mean).")] = "kmeans",
    task: Annotated[Optional[str], typer.Option(help="classification or regression. [default: regression for a "
                                                "target of many distinct numbers]", show_default=False)] = None,
    bins: Annotated[int, typer.Option(help="Regression: quantile bins of the target.")] = 10,
    categorical: Annotated[Optional[str], typer.Option(help="Comma-separated numeric columns to treat as "
                                                       "categories.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the clustering.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks of unexpected errors.")] = False,
) -> None:
    """Write K prototype rows per class of DATA, for few-shot distillation (`distill --few-shot`) where the
    real rows themselves cannot be shared."""
    with _errors(verbose):
        from tabcompress.methods.condense import condense_file

        written = condense_file(data, out, per_class=per_class, target=target, method=method, task=task,
                                n_bins=bins, categorical=_split_names(categorical), seed=seed)
        if not quiet:
            _console().print(f"{written['rows']:,} prototypes ({written['task']}, {written['groups']} "
                             f"{'classes' if written['task'] == 'classification' else 'bins'}) written to {out}",
                             highlight=False)


@contextlib.contextmanager
def _errors(verbose: bool) -> Iterator[None]:
    """One line on stderr and the documented exit code for every failure of a command."""
    try:
        yield
    except TabcompressError as exc:
        _error(str(exc))
        if verbose and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__, file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # unexpected: one line unless --verbose
        if verbose:
            traceback.print_exc(file=sys.stderr)
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        _error(f"unexpected {type(exc).__name__}: {first}" + ("" if verbose else " (run with --verbose for details)"))
        raise SystemExit(1) from None


def _on_sigterm(signum, frame):  # noqa: ARG001
    # Unwind like Ctrl-C, so every `finally` removes its temporary files.
    raise _Terminated()


class _Terminated(BaseException):
    pass


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = app(args=argv, prog_name="tabcompress", standalone_mode=False)
    except _Terminated:
        _error("terminated")
        raise SystemExit(EXIT_TERMINATED) from None
    except KeyboardInterrupt:
        _error("interrupted")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        # Usage errors come from the click that typer uses (bundled in recent typer versions, a
        # dependency in older ones): recognise them by their interface rather than their module.
        if type(exc).__name__ == "NoArgsIsHelpError" and hasattr(exc, "show"):
            exc.show()
            raise SystemExit(2) from None
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            _error(" ".join(exc.format_message().split()))
            raise SystemExit(2) from None
        if type(exc).__name__ == "Abort":
            _error("interrupted")
            raise SystemExit(EXIT_INTERRUPTED) from None
        raise
    if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into an exit code of 130
        _error("interrupted")
    raise SystemExit(code if isinstance(code, int) else 0)
