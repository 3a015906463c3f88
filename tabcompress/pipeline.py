"""The distillation pipeline, stage by stage: teacher → data → hold-out → generator → labels →
student (and a real-rows-only baseline) → evaluation → report → export.

:func:`distill` is the library entry point; ``tabcompress distill`` parses options into a
:class:`DistillConfig` and calls it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from tabcompress import data as data_mod
from tabcompress import evaluation
from tabcompress.errors import FidelityGateError, InputError
from tabcompress.export import REPORT_FILE, check_out_dir, student_file, write_outputs
from tabcompress.generators import GENERATOR_NAMES, Generator, make_generator
from tabcompress.labeling import DEFAULT_CHUNK_ROWS, label_rows
from tabcompress.progress import Progress
from tabcompress.report import environment, versions
from tabcompress.students import STUDENT_NAMES, Student, make_student
from tabcompress.teachers import Teacher, load_teacher


@dataclass
class DistillConfig:
    """Every setting of a run. Field names match the CLI options (``max_depth`` ↔ ``--max-depth``)."""

    target: str | None = None
    categorical: tuple[str, ...] = ()
    test_size: float = 0.2
    generator: str = "ctgan"
    epochs: int = 100
    batch_size: int = 500
    generator_rows: int | None = 20_000
    synthetic_rows: int | None = None
    synthetic_ratio: float = 10.0
    student: str = "tree"
    max_depth: int | None = 6
    max_leaf_nodes: int | None = None
    hidden: tuple[int, ...] = (64, 64)
    device: str = "auto"
    seed: int = 0
    min_fidelity: float | None = None
    label_chunk_rows: int = DEFAULT_CHUNK_ROWS
    baseline: bool = True
    safe: bool = False
    student_format: str = "joblib"

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first bad option."""
        def positive(name: str, value: Any, allow_none: bool = False) -> None:
            if value is None and allow_none:
                return
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise InputError(f"--{name.replace('_', '-')} must be a whole number >= 1, got {value}")

        if self.generator not in GENERATOR_NAMES:
            raise InputError(f"--generator: unknown generator {self.generator!r}; "
                             f"choose one of {', '.join(GENERATOR_NAMES)}")
        if self.student not in STUDENT_NAMES:
            raise InputError(f"--student: unknown student {self.student!r}; choose one of {', '.join(STUDENT_NAMES)}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError(f"--device: unknown device {self.device!r}; choose auto, cpu or cuda")
        if not 0.0 < self.test_size < 1.0:
            raise InputError(f"--test-size must be between 0 and 1 (exclusive), got {self.test_size}")
        positive("epochs", self.epochs)
        positive("batch_size", self.batch_size)
        if self.batch_size % 10:
            raise InputError(f"--batch-size must be a multiple of 10 (CTGAN trains on packs of 10 rows), "
                             f"got {self.batch_size}")
        positive("generator_rows", self.generator_rows, allow_none=True)
        if self.synthetic_rows is not None and (not isinstance(self.synthetic_rows, (int, np.integer))
                                                or self.synthetic_rows < 0):
            raise InputError(f"--synthetic-rows must be a whole number >= 0, got {self.synthetic_rows}")
        if not self.synthetic_ratio > 0 or not np.isfinite(self.synthetic_ratio):
            raise InputError(f"--synthetic-ratio must be > 0, got {self.synthetic_ratio}")
        positive("max_depth", self.max_depth, allow_none=True)
        if self.max_leaf_nodes is not None and (not isinstance(self.max_leaf_nodes, (int, np.integer))
                                                or self.max_leaf_nodes < 2):
            raise InputError(f"--max-leaf-nodes must be a whole number >= 2, got {self.max_leaf_nodes}")
        if not self.hidden or any((not isinstance(h, (int, np.integer))) or h < 1 for h in self.hidden):
            raise InputError(f"--hidden must be layer widths >= 1 such as 64,64, got {self.hidden}")
        if self.min_fidelity is not None and not 0.0 <= self.min_fidelity <= 1.0:
            raise InputError(f"--min-fidelity must be between 0 and 1, got {self.min_fidelity}")
        positive("label_chunk_rows", self.label_chunk_rows)
        student_file(self.student_format)  # raises InputError naming --student-format

    def student_options(self) -> dict[str, Any]:
        if self.student == "tree":
            return {"max_depth": self.max_depth, "max_leaf_nodes": self.max_leaf_nodes, "random_state": self.seed}
        return {"hidden": tuple(self.hidden), "device": self.device, "random_state": self.seed}


@dataclass
class DistillResult:
    student: Student
    baseline: Student | None
    report: dict[str, Any]
    teacher: Teacher
    X_test: pd.DataFrame = field(repr=False)
    y_test: pd.Series | None = field(repr=False)


class _Stages:
    """Times each stage and tells the progress reporter about it."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def run(self, key: str, title: str, detail: str = "") -> Iterator[None]:
        with self.progress.stage(title, detail):
            start = time.perf_counter()
            try:
                yield
            finally:
                self.seconds[key] = round(time.perf_counter() - start, 3)


def distill(teacher: str | Path | Teacher, data: str | Path | pd.DataFrame,
            config: DistillConfig | None = None, *, out_dir: str | Path | None = None,
            progress: Progress | None = None) -> DistillResult:
    """Distil ``teacher`` into a small student using ``data`` (a CSV path or a DataFrame).

    With ``out_dir``, ``student.joblib`` and ``report.json`` are written there atomically. When
    ``config.min_fidelity`` is set and not reached, :class:`FidelityGateError` is raised after the
    outputs are written.
    """
    config = config or DistillConfig()
    config.validate()
    progress = progress or Progress()
    stages = _Stages(progress)
    started = time.perf_counter()
    if out_dir is not None:
        check_out_dir(out_dir)
    device = _run_device(config)

    # -- teacher and data ---------------------------------------------------------------------
    with stages.run("load_teacher", "loading the teacher"):
        if not isinstance(teacher, Teacher):
            teacher = load_teacher(teacher, safe=config.safe)
    source = str(data) if not isinstance(data, pd.DataFrame) else "<DataFrame>"
    with stages.run("read_data", "reading the data", source):
        frame = data if isinstance(data, pd.DataFrame) else data_mod.read_csv(data)
        dataset = data_mod.align(frame, teacher, target=config.target, categorical=config.categorical,
                                 source=source)
    for note in dataset.notes:
        progress.note(note)
    notes = list(dataset.notes)

    # -- hold-out -----------------------------------------------------------------------------
    X, schema = dataset.X, dataset.schema
    with stages.run("label_real", "labelling the real rows with the teacher", f"{len(X):,} rows"):
        try:
            real_targets = label_rows(teacher, X, chunk_rows=config.label_chunk_rows)
        except (ValueError, TypeError, KeyError) as exc:  # the teacher rejects the data: say so on one line
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise InputError(f"data file {source}: the teacher cannot predict on it "
                             f"({type(exc).__name__}: {first})") from exc
    teacher_labels = teacher.classes_[np.argmax(real_targets, axis=1)] if teacher.is_classifier else None
    train_idx, test_idx, stratified = data_mod.holdout_split(len(X), config.test_size, config.seed,
                                                             stratify=teacher_labels)
    if teacher.is_classifier and not stratified:
        notes.append("a teacher class has a single row: the hold-out split is not stratified")
        progress.note(notes[-1])
    X_train, X_test = X.iloc[train_idx].reset_index(drop=True), X.iloc[test_idx].reset_index(drop=True)
    T_train, T_test = real_targets[train_idx], real_targets[test_idx]
    y_test = dataset.y.iloc[test_idx].reset_index(drop=True) if dataset.y is not None else None

    # -- synthetic rows, labels, students -------------------------------------------------------
    trained = train_student(teacher, X_train, T_train, schema, config, progress=progress, device=device)
    stages.seconds.update(trained.timings_s)
    student, baseline, n_synthetic = trained.student, trained.baseline, trained.n_synthetic
    generator_info = trained.generator_info

    # -- evaluation ---------------------------------------------------------------------------
    with stages.run("evaluate", "scoring on held-out real rows", f"{len(X_test):,} rows"):
        scored = {"student": student, **({"baseline": baseline} if baseline is not None else {})}
        metrics, teacher_section, student_section, eval_notes = evaluation.evaluate(
            teacher, scored, X_test, T_test, y_test)
    for note in eval_notes:
        notes.append(note)
        progress.note(note)

    fid = metrics["student"]["fidelity"]
    gate = None
    if config.min_fidelity is not None:
        gate = {"min_fidelity": config.min_fidelity, "passed": bool(fid >= config.min_fidelity)}
    stages.seconds["total"] = round(time.perf_counter() - started, 3)
    report: dict[str, Any] = {
        "task": teacher.task,
        "classes": [_jsonable(c) for c in teacher.classes_] if teacher.is_classifier else None,
        "metrics": metrics,
        "teacher": teacher_section,
        "student": student_section,
        "data": {
            "path": source,
            "rows": int(len(X)),
            "features": int(X.shape[1]),
            "target": dataset.target,
            "ignored_columns": dataset.ignored_columns,
            "train_rows": int(len(X_train)),
            "test_rows": int(len(X_test)),
            "stratified": bool(stratified),
            "synthetic_rows": int(n_synthetic),
            "schema": schema.to_dict(),
        },
        "generator": generator_info,
        "gate": gate,
        "timings_s": stages.seconds,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()},
        "versions": versions(),
        "environment": environment(device),
        "notes": notes,
    }
    result = DistillResult(student=student, baseline=baseline, report=report, teacher=teacher,
                           X_test=X_test, y_test=y_test)
    if out_dir is not None:
        report["outputs"] = {"student": str(Path(out_dir) / student_file(config.student_format)),
                             "report": str(Path(out_dir) / REPORT_FILE)}
        with progress.stage("writing the outputs", str(out_dir)):
            write_outputs(out_dir, student, report, student_format=config.student_format)
    if gate is not None and not gate["passed"]:
        raise FidelityGateError(f"student fidelity {fid:.4f} is below --min-fidelity {config.min_fidelity}",
                                result=result)
    return result


@dataclass
class TrainedStudent:
    """What :func:`train_student` returns: the student, the optional baseline, and how they were made."""

    student: Student
    baseline: Student | None
    generator: Generator | None
    generator_info: dict[str, Any]
    n_synthetic: int
    timings_s: dict[str, float]


def train_student(teacher: Teacher, X_train: pd.DataFrame, T_train: np.ndarray, schema: data_mod.Schema,
                  config: DistillConfig, *, generator: Generator | None = None,
                  progress: Progress | None = None, device: str | None = None) -> TrainedStudent:
    """The training half of :func:`distill`: synthetic rows, teacher labels, student (and baseline).

    ``T_train`` holds the teacher's soft targets for ``X_train``. A ``generator`` that is already
    fitted on ``X_train`` is used as it is (its fit is skipped), so a caller who distils several
    teachers or students from the same rows — the benchmark does — fits it once.
    """
    config.validate()
    progress = progress or Progress()
    stages = _Stages(progress)
    device = device or _run_device(config)
    reused = generator is not None and hasattr(generator, "schema_")
    if generator is None and config.generator != "none":
        generator = make_generator(config.generator, epochs=config.epochs, batch_size=config.batch_size,
                                   max_rows=config.generator_rows, device=device)
    n_synthetic = 0
    X_synth, T_synth = X_train.iloc[:0], T_train[:0]
    generator_info: dict[str, Any] = {"name": config.generator if generator is None else generator.name}
    if generator is not None:
        if reused:
            if generator.schema_.names != schema.names:
                raise ValueError("the fitted generator was fitted on other columns than X_train's")
        else:
            fit_rows = min(len(X_train), config.generator_rows or len(X_train))
            detail = (f"{config.epochs} epochs on {fit_rows:,} rows, device {device}" if generator.name == "ctgan"
                      else f"{fit_rows:,} rows")
            with stages.run("generator_fit", f"fitting {generator.name.upper()}", detail):
                generator.fit(X_train, schema, random_state=config.seed, progress=progress.advance)
        n_synthetic = (config.synthetic_rows if config.synthetic_rows is not None
                       else int(round(config.synthetic_ratio * len(X_train))))
        with stages.run("generate", "sampling synthetic rows", f"{n_synthetic:,} rows"):
            X_synth = generator.sample(n_synthetic, random_state=config.seed + 1)
        with stages.run("label_synthetic", "labelling the synthetic rows with the teacher"):
            T_synth = label_rows(teacher, X_synth, chunk_rows=config.label_chunk_rows)
        generator_info.update(fit_rows=int(generator.n_fit_rows_), reused=bool(reused))
        if generator.name == "ctgan":
            generator_info.update(epochs=generator.epochs, batch_size=generator.batch_size, device=generator.device)

    classes = teacher.classes_ if teacher.is_classifier else None
    X_student = pd.concat([X_train, X_synth], ignore_index=True) if n_synthetic else X_train
    T_student = np.concatenate([T_train, T_synth]) if n_synthetic else T_train
    with stages.run("student_fit", f"training the {config.student} student",
                    f"{len(X_train):,} real + {n_synthetic:,} synthetic rows"):
        student = make_student(config.student, **config.student_options())
        student.fit(X_student, T_student, classes=classes, categorical=schema.categorical)
    baseline = None
    if config.baseline:
        with stages.run("baseline_fit", "training the real-rows-only baseline", f"{len(X_train):,} rows"):
            baseline = make_student(config.student, **config.student_options())
            baseline.fit(X_train, T_train, classes=classes, categorical=schema.categorical)
    return TrainedStudent(student=student, baseline=baseline, generator=generator,
                          generator_info=generator_info, n_synthetic=int(n_synthetic),
                          timings_s=stages.seconds)


def _run_device(config: DistillConfig) -> str:
    """The torch device of a run; "cpu" when nothing in it uses torch (so --device cuda is not checked)."""
    if config.student == "mlp" or config.generator == "ctgan":
        from tabcompress.students.mlp import resolve_device

        return resolve_device(config.device)
    return "cpu"


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
