"""A distillation run, stage by stage.

:func:`distill` is the library's entry point; ``tabcompress distill`` parses options into
:class:`~tabcompress.config.Settings` and calls it. The stages:

1. load the teacher;
2. read the rows the run was given and hold out the rows it scores on (:mod:`tabcompress.run.modes`:
   with real rows, few-shot or data-free);
3. train the student, and the same student on the real rows alone as a baseline;
4. score both on the held-out rows; score the synthetic rows (TSC);
5. write the student and the report, then hold the student to ``--min-fidelity``.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tabcompress import data as data_mod
from tabcompress.config import Settings
from tabcompress.errors import FidelityGateError, SettingError
from tabcompress.evaluation import evaluate
from tabcompress.evaluation import tsc as tsc_mod
from tabcompress.export import check_out_dir, output_paths, write_file_atomic, write_outputs
from tabcompress.progress import Progress
from tabcompress.report import FRONTIER_PLOT, build_report, can_plot, plot_frontier, stamp_total
from tabcompress.run.context import Rows, Run, TrainedStudent
from tabcompress.run.modes import check_settings, choose_mode, run_device
from tabcompress.teachers import Teacher, load_teacher


@dataclass
class DistillResult:
    student: Any
    baseline: Any
    report: dict[str, Any]
    teacher: Teacher
    X_test: pd.DataFrame = field(repr=False)
    y_test: pd.Series | None = field(repr=False)


def distill(teacher: str | Path | Teacher, data: str | Path | pd.DataFrame | None = None,
            settings: Settings | None = None, *, out_dir: str | Path | None = None,
            progress: Progress | None = None, eval_data: str | Path | pd.DataFrame | None = None,
            validation_data: str | Path | pd.DataFrame | None = None, clock_start: float | None = None,
            **options: Any) -> DistillResult:
    """Distil ``teacher`` into a small student using ``data`` (a CSV path or a DataFrame).

    ``settings`` (default: :class:`Settings`'s defaults) with ``options`` applied (option names:
    ``distill(t, d, max_depth=4, seed=1)``) decide everything else. Three modes:

    * ``data`` holds real rows: a share is held out for scoring (all are used for training when
      ``eval_data`` is given) and synthetic rows are generated from the rest;
    * ``data`` is None: *data-free*, rows are sampled from the teacher's own trees;
    * ``few_shot``: ``data`` holds a few prototype rows per class.

    With ``dask`` (a scheduler's address) the teacher labels rows on that Dask cluster's workers
    (:mod:`tabcompress.cluster`); the student is the same as without it, but for a gbdt student, boosted
    there through ``xgboost.dask`` and close to, not bit-identical with, a local one (docs/scale.md).

    ``eval_data`` (real rows) scores the student without entering training. Without it, data-free and
    few-shot runs are scored on fresh rows sampled from the teacher's trees, which the report says.

    ``validation_data`` (real rows the teacher never saw; with ``data`` only) is what the student, its
    rows and its size are chosen on, in place of the ``validation_size`` share of ``data``'s training
    rows, which then all train. A teacher answers the rows it was trained on with their labels, so
    choices made on them can miss what synthetic rows do on rows it never saw.

    ``clock_start`` (a :func:`time.perf_counter` value; default: this call) is when the run's clock starts,
    which ``time_budget`` counts from: the command line passes its process's start.

    With ``out_dir``, the student and ``report.json`` are written there atomically. When
    ``min_fidelity`` is set and not reached, :class:`FidelityGateError` is raised after the outputs
    are written.
    """
    started = time.time()  # temporary files older than this in out_dir are a killed run's leftovers
    clock_start = time.perf_counter() if clock_start is None else clock_start
    settings = (settings or Settings()).replace(**options)
    check_settings(settings)
    out = check_out_dir(out_dir, settings.student_format) if out_dir is not None else None
    mode = choose_mode(data, settings)
    if validation_data is not None and mode.name != "data":
        raise SettingError("validation_data", f"chooses among students trained on DATA's real rows; a {mode.name} "
                                              f"run has none")
    sources = {"eval_data": eval_data, "validation_data": validation_data}
    if settings.dask is None:
        return _distill(teacher, data, settings, mode, out, out_dir, progress, sources, started, clock_start, None)
    from tabcompress.cluster import Cluster  # dask is imported only by a run that asks for a cluster

    with Cluster(settings.dask) as cluster:
        return _distill(teacher, data, settings, mode, out, out_dir, progress, sources, started, clock_start,
                        cluster)


def _distill(teacher: str | Path | Teacher, data: str | Path | pd.DataFrame | None, settings: Settings, mode: Any,
             out: Path | None, out_dir: str | Path | None, progress: Progress | None,
             sources: dict[str, Any], started: float, clock_start: float, cluster: Any) -> DistillResult:
    run = Run(settings, progress, cluster, started=clock_start)
    if cluster is not None:
        run.progress.note(f"labelling on the Dask cluster at {settings.dask} "
                          f"({cluster.threads()} worker threads now)")
    student = settings.student
    if student.refine_starts is not None and not student.refine and not student.refine_passes:
        run.note("--refine-starts is used only when trees are refined (--refine, or --refine-passes above 0)")
    device = run_device(settings)

    # the data files' headers first: a missing or unreadable file is refused before a teacher of hundreds of
    # megabytes has loaded
    for source in (data, *sources.values()):
        if isinstance(source, (str, Path)):
            data_mod.read_header(source)
    with run.stages.run("load_teacher", "loading the teacher"):
        if not isinstance(teacher, Teacher):
            teacher = load_teacher(teacher, safe=settings.safe, progress=run.progress)
    rows = mode.rows(run, teacher, data, **sources)
    trained = mode.train(run, teacher, rows, device)
    run.stages.seconds.update(trained.timings_s)
    mode.test_rows(run, teacher, rows)
    scores = _score(run, teacher, rows, trained)
    report = build_report(run, mode.name, teacher, rows, trained, scores, device)

    result = DistillResult(student=trained.student, baseline=trained.baseline, report=report, teacher=teacher,
                           X_test=rows.X_test, y_test=rows.y_test)
    if out is not None:
        report["outputs"] = output_paths(out, settings.student_format)
        plot = report["search"] is not None and can_plot()
        if plot:
            report["outputs"]["frontier_plot"] = str(Path(report["outputs"]["report"]).with_name(FRONTIER_PLOT))
        elif report["search"] is not None:
            run.note(f"matplotlib is not installed: no {FRONTIER_PLOT} (pip install matplotlib)")
        with run.progress.stage("writing the outputs", str(out_dir)):
            png = io.BytesIO() if plot else None
            if png is not None:  # drawn first, so that the run's total (in the report) counts it
                plot_frontier(report, png)
            write_outputs(out, trained.student, report, student_format=settings.student_format, started=started,
                          before_report=lambda: stamp_total(report, run))
            if png is not None:
                write_file_atomic(report["outputs"]["frontier_plot"],
                                  lambda tmp: Path(tmp).write_bytes(png.getvalue()), "out_dir", started=started)
    gate = report["gate"]
    if gate is not None and not gate["passed"]:
        raise FidelityGateError(f"student fidelity {report['metrics']['student']['fidelity']:.4f} is below "
                                f"--min-fidelity {settings.output.min_fidelity}", result=result)
    return result


def _score(run: Run, teacher: Teacher, rows: Rows, trained: TrainedStudent) -> dict[str, Any]:
    """Fidelity, accuracy, size and latency of the student (and baseline) on the held-out rows, and
    the synthetic rows' TSC score."""
    with run.stages.run("evaluate", f"scoring on {rows.scored_on}", f"{len(rows.X_test):,} rows"):
        scored = {"student": trained.student}
        if trained.baseline is not None:
            scored["baseline"] = trained.baseline
        metrics, teacher_section, student_section, notes = evaluate(teacher, scored, rows.X_test, rows.T_test,
                                                                    rows.y_test)
    for note in notes:
        run.note(note)
    tsc = None
    if run.settings.output.tsc and trained.n_synthetic and len(rows.X_train) and trained.X_synth is not None:
        with run.stages.run("tsc", "TSC score of the synthetic rows", f"{trained.n_synthetic:,} rows"):
            tsc = tsc_mod.score_generated(teacher, trained.X_synth, trained.T_synth, rows.X_train, rows.T_train,
                                          rows.X_test, rows.T_test, rows.y_test, seed=run.settings.seed,
                                          categorical=rows.schema.categorical)
    return {"metrics": metrics, "teacher": teacher_section, "student": student_section, "tsc": tsc}
