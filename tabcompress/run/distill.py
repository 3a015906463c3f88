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
from tabcompress.evaluation import tsc as tsc_mod
from tabcompress.export import REPORT_FILE, check_out_dir, student_file, write_outputs
from tabcompress.generators import Generator, check_generator_name, make_generator
from tabcompress.generators.cache import GeneratorCache, worth_caching
from tabcompress.generators.forest import ForestSampler
from tabcompress.generators.mixture import MixtureGenerator
from tabcompress.methods import budget as budget_mod
from tabcompress.methods.fewshot import synthesize_around_prototypes
from tabcompress.methods.selection import SelectionSettings, train_with_selection
from tabcompress.progress import Progress
from tabcompress.report import environment, versions
from tabcompress.schema import Schema
from tabcompress.students import STUDENT_NAMES, Student, make_student
from tabcompress.teachers import Teacher, load_teacher
from tabcompress.teachers.labeling import DEFAULT_CHUNK_ROWS, label_rows
from tabcompress.teachers.space import FeatureSpace, feature_space


@dataclass
class DistillConfig:
    """Every setting of a run. Field names match the CLI options (``max_depth`` ↔ ``--max-depth``)."""

    target: str | None = None
    categorical: tuple[str, ...] = ()
    test_size: float = 0.2
    generator: str = "auto"
    epochs: int = 100
    batch_size: int = 500
    generator_rows: int | None = 20_000
    synthetic_rows: int | None = None
    synthetic_ratio: float = 20.0
    synthetic_max_rows: int | None = 400_000
    student: str = "tree"
    max_depth: int | None = 6
    max_leaf_nodes: int | None = None
    refine_passes: int | None = None
    refine_starts: int | None = None
    hidden: tuple[int, ...] = (64, 64)
    device: str = "auto"
    seed: int = 0
    min_fidelity: float | None = None
    label_chunk_rows: int = DEFAULT_CHUNK_ROWS
    baseline: bool = True
    safe: bool = False
    student_format: str = "joblib"
    early_stop: bool = True
    selection_rounds: int = 0
    selection_share: float = 0.5
    selection_pool: int = 4
    time_budget: float | None = None
    cache: bool = True
    cache_dir: str | None = None
    selection_spread: float = 0.0
    few_shot: bool = False
    forest_trees: int = 16
    adversarial: bool = False
    adversarial_weight: float = 0.5
    temperature_start: float = 1.0
    temperature_end: float = 0.1
    tsc: bool = True

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first bad option."""
        def positive(name: str, value: Any, allow_none: bool = False) -> None:
            if value is None and allow_none:
                return
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise InputError(f"--{name.replace('_', '-')} must be a whole number >= 1, got {value}")

        if self.generator != "auto":
            check_generator_name(self.generator)  # raises InputError naming --generator
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
        if self.refine_passes is not None and (not isinstance(self.refine_passes, (int, np.integer))
                                               or isinstance(self.refine_passes, bool) or self.refine_passes < 0):
            raise InputError(f"--refine-passes must be a whole number >= 0, got {self.refine_passes}")
        if self.refine_starts is not None and (not isinstance(self.refine_starts, (int, np.integer))
                                               or isinstance(self.refine_starts, bool) or self.refine_starts < 1):
            raise InputError(f"--refine-starts must be a whole number >= 1, got {self.refine_starts}")
        if not self.hidden or any((not isinstance(h, (int, np.integer))) or h < 1 for h in self.hidden):
            raise InputError(f"--hidden must be layer widths >= 1 such as 64,64, got {self.hidden}")
        if self.min_fidelity is not None and not 0.0 <= self.min_fidelity <= 1.0:
            raise InputError(f"--min-fidelity must be between 0 and 1, got {self.min_fidelity}")
        positive("label_chunk_rows", self.label_chunk_rows)
        positive("synthetic_max_rows", self.synthetic_max_rows, allow_none=True)
        student_file(self.student_format)  # raises InputError naming --student-format
        self.selection_settings().validate()
        positive("forest_trees", self.forest_trees)
        if self.adversarial and self.student != "mlp":
            raise InputError("--adversarial trains MLP students only; add --student mlp")
        if self.time_budget is not None and not (self.time_budget > 0 and np.isfinite(self.time_budget)):
            raise InputError(f"--time-budget must be a number of seconds > 0, got {self.time_budget}")

    def selection_settings(self, rounds: int | None = None) -> SelectionSettings:
        return SelectionSettings(rounds=self.selection_rounds if rounds is None else rounds,
                                 share=self.selection_share, pool=self.selection_pool, spread=self.selection_spread)

    def n_synthetic(self, n_real: int) -> int:
        """Synthetic rows for ``n_real`` training rows: ``synthetic_rows``, else the ratio, capped."""
        if self.synthetic_rows is not None:
            return int(self.synthetic_rows)
        n = int(round(self.synthetic_ratio * n_real))
        return min(n, self.synthetic_max_rows) if self.synthetic_max_rows is not None else n

    def student_options(self) -> dict[str, Any]:
        if self.student == "tree":
            return {"max_depth": self.max_depth, "max_leaf_nodes": self.max_leaf_nodes,
                    "refine_passes": self.refine_passes, "refine_starts": self.refine_starts,
                    "random_state": self.seed}
        options = {"hidden": tuple(self.hidden), "device": self.device, "random_state": self.seed}
        if self.adversarial:
            options.update(adversarial=True, adversarial_weight=self.adversarial_weight,
                           temperature_start=self.temperature_start, temperature_end=self.temperature_end)
        return options


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


def distill(teacher: str | Path | Teacher, data: str | Path | pd.DataFrame | None = None,
            config: DistillConfig | None = None, *, out_dir: str | Path | None = None,
            progress: Progress | None = None,
            eval_data: str | Path | pd.DataFrame | None = None) -> DistillResult:
    """Distil ``teacher`` into a small student using ``data`` (a CSV path or a DataFrame).

    Three modes:

    * ``data`` holds real rows: a share is held out for scoring (all are used for training when
      ``eval_data`` is given) and synthetic rows are generated from the rest;
    * ``data`` is None: *data-free*, rows are sampled from the teacher's own trees
      (:mod:`tabcompress.generators.forest`);
    * ``config.few_shot``: ``data`` holds a few prototype rows per class (:mod:`tabcompress.methods.fewshot`).

    ``eval_data`` (real rows) scores the student without entering training. Without it, data-free and
    few-shot runs are scored on fresh rows sampled from the teacher's trees, which the report says.

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
    if data is None and config.few_shot:
        raise InputError("--few-shot needs DATA: the prototype rows (k per class) to grow synthetic rows from")
    mode = "data-free" if data is None else ("few-shot" if config.few_shot else "data")
    if mode != "data" and config.time_budget is not None:
        raise InputError(f"--time-budget plans runs with real rows; a {mode} run does not take it")
    device = _run_device(config)

    # -- teacher and data ---------------------------------------------------------------------
    with stages.run("load_teacher", "loading the teacher"):
        if not isinstance(teacher, Teacher):
            teacher = load_teacher(teacher, safe=config.safe)
    notes: list[str] = []

    def read(rows: str | Path | pd.DataFrame, key: str, what: str) -> tuple[data_mod.Dataset, str]:
        where = str(rows) if not isinstance(rows, pd.DataFrame) else "<DataFrame>"
        with stages.run(key, f"reading the {what}", where):
            frame = rows if isinstance(rows, pd.DataFrame) else data_mod.read_csv(rows)
            dataset = data_mod.align(frame, teacher, target=config.target, categorical=config.categorical,
                                     source=where)
        for note in dataset.notes:
            notes.append(note if what == "data" else f"{what}: {note}")
            progress.note(notes[-1])
        return dataset, where

    def label(X: pd.DataFrame, key: str, what: str, source: str) -> np.ndarray:
        with stages.run(key, f"labelling the {what} with the teacher", f"{len(X):,} rows"):
            try:
                return label_rows(teacher, X, chunk_rows=config.label_chunk_rows)
            except (ValueError, TypeError, KeyError) as exc:  # the teacher rejects the data: say so on one line
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                raise InputError(f"data file {source}: the teacher cannot predict on it "
                                 f"({type(exc).__name__}: {first})") from exc

    held_out = None
    if eval_data is not None:
        held_out, eval_source = read(eval_data, "read_eval_data", "evaluation rows")
    space = None
    if mode != "data" and (config.generator != "auto" or config.selection_rounds):
        notes.append(f"a {mode} run makes its own rows: --generator and the selection options are not used"
                     if mode == "few-shot" else "a data-free run samples the teacher's trees: --generator is not used")
        progress.note(notes[-1])
    if mode == "data-free" or (mode == "few-shot" and held_out is None):
        with stages.run("read_teacher_space", "reading the feature space from the teacher's trees"):
            try:
                space = feature_space(teacher)
            except InputError as exc:
                if mode == "data-free":
                    raise
                raise InputError(f"--few-shot without --eval-data scores on rows sampled from the teacher's "
                                 f"trees, which this teacher does not allow ({exc}); give --eval-data") from exc
        if mode == "data-free":
            for note in space.notes:
                notes.append(note)
                progress.note(note)
    if mode == "data-free":
        source, schema, dataset = None, space.schema, None
        if held_out is not None and teacher.feature_names is None:
            # a teacher without names takes columns in file order; the student knows them by the derived names
            held_out.X.columns = schema.names
    else:
        dataset, source = read(data, "read_data", "data" if mode == "data" else "prototype rows")
        schema = dataset.schema
        if held_out is not None and held_out.X.columns.tolist() != dataset.X.columns.tolist():
            raise InputError(f"data file {eval_source}: its columns do not line up with {source}'s")
    if held_out is not None:
        held_out.schema = schema

    # -- training and held-out rows --------------------------------------------------------------
    stratified, scored_on = None, "held-out real rows"
    if mode == "data":
        X = dataset.X
        real_targets = label(X, "label_real", "real rows", source)
        if held_out is None:
            teacher_labels = teacher.classes_[np.argmax(real_targets, axis=1)] if teacher.is_classifier else None
            train_idx, test_idx, stratified = data_mod.holdout_split(len(X), config.test_size, config.seed,
                                                                     stratify=teacher_labels)
            if teacher.is_classifier and not stratified:
                notes.append("a teacher class has a single row: the hold-out split is not stratified")
                progress.note(notes[-1])
            X_train, X_test = X.iloc[train_idx].reset_index(drop=True), X.iloc[test_idx].reset_index(drop=True)
            T_train, T_test = real_targets[train_idx], real_targets[test_idx]
            y_test = dataset.y.iloc[test_idx].reset_index(drop=True) if dataset.y is not None else None
        else:
            X_train, T_train = X, real_targets
        time_left = None
        if config.time_budget is not None:
            # scoring takes a few teacher and student calls on the held-out rows: keep its share back
            n_scored = len(held_out.X) if held_out is not None else len(X_test)
            time_left = (config.time_budget - (time.perf_counter() - started)
                         - _scoring_allowance(stages.seconds, X, n_scored))
        trained = train_student(teacher, X_train, T_train, schema, config, progress=progress, device=device,
                                time_left=time_left)
    elif mode == "few-shot":
        X_train = dataset.X
        T_train = label(X_train, "label_real", "prototype rows", source)
        trained = train_few_shot(teacher, X_train, T_train, schema, config, progress=progress, device=device)
    else:
        X_train, T_train = schema.conform(pd.DataFrame({c: [] for c in schema.names})), None
        trained = train_data_free(teacher, config, space=space, progress=progress, device=device)
    stages.seconds.update(trained.timings_s)
    student, baseline, n_synthetic = trained.student, trained.baseline, trained.n_synthetic

    if held_out is not None:
        X_test, y_test, scored_on = held_out.X, held_out.y, f"evaluation rows ({eval_source})"
        T_test = label(X_test, "label_eval", "evaluation rows", eval_source)
    elif mode != "data":  # data-free or few-shot without --eval-data: rows from the trees
        X_test, y_test, scored_on = _teacher_space_rows(space, config, notes, progress)
        T_test = label(X_test, "label_eval", "rows sampled for scoring", "(sampled from the teacher's trees)")

    # -- evaluation ---------------------------------------------------------------------------
    with stages.run("evaluate", f"scoring on {scored_on}", f"{len(X_test):,} rows"):
        scored = {"student": student, **({"baseline": baseline} if baseline is not None else {})}
        metrics, teacher_section, student_section, eval_notes = evaluation.evaluate(
            teacher, scored, X_test, T_test, y_test)
    for note in eval_notes:
        notes.append(note)
        progress.note(note)
    if config.adversarial and getattr(student, "adversarial_", None):
        student_section["adversarial"] = _adversarial_summary(student.adversarial_)

    tsc = None
    if config.tsc and n_synthetic and len(X_train) and trained.X_synth is not None:
        with stages.run("tsc", "TSC score of the synthetic rows", f"{n_synthetic:,} rows"):
            tsc = tsc_mod.score_generated(teacher, trained.X_synth, trained.T_synth, X_train, T_train, X_test,
                                          T_test, y_test, seed=config.seed, categorical=schema.categorical)

    fid = metrics["student"]["fidelity"]
    gate = None
    if config.min_fidelity is not None:
        gate = {"min_fidelity": config.min_fidelity, "passed": bool(fid >= config.min_fidelity)}
    stages.seconds["total"] = round(time.perf_counter() - started, 3)
    report: dict[str, Any] = {
        "task": teacher.task,
        "classes": [_jsonable(c) for c in teacher.classes_] if teacher.is_classifier else None,
        "mode": mode,
        "metrics": metrics,
        "teacher": teacher_section,
        "student": student_section,
        "data": {
            "path": source,
            "rows": int(len(dataset.X)) if dataset is not None else 0,
            "features": int(len(schema.columns)),
            "target": dataset.target if dataset is not None else None,
            "ignored_columns": dataset.ignored_columns if dataset is not None else [],
            "train_rows": int(len(X_train)),
            "test_rows": int(len(X_test)),
            "scored_on": scored_on,
            "eval_path": eval_source if held_out is not None else None,
            "stratified": stratified,
            "synthetic_rows": int(n_synthetic),
            "schema": schema.to_dict(),
        },
        "generator": trained.generator_info,
        "selection": trained.selection,
        "tsc": tsc,
        "budget": _budget_report(config, trained.budget, stages.seconds["total"]),
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


def _teacher_space_rows(space: FeatureSpace, config: DistillConfig, notes: list[str],
                        progress: Progress) -> tuple[pd.DataFrame, None, str]:
    """Rows to score a run that has no real held-out rows: fresh draws from the teacher's trees (a seed
    no training draw uses), which measure agreement where the teacher's training data lay — an estimate;
    ``--eval-data`` gives the real figure."""
    rows = ForestSampler(space, trees_per_row=config.forest_trees).sample(SCORING_ROWS,
                                                                          random_state=config.seed + 7919)
    notes.append(f"no --eval-data: scored on {SCORING_ROWS:,} fresh rows sampled from the teacher's trees, "
                 "not on real rows")
    progress.note(notes[-1])
    return rows, None, "rows sampled from the teacher's trees (no --eval-data)"


def _student_options(config: DistillConfig, device: str | None) -> dict[str, Any]:
    """The student's options, with the run's resolved torch device for an MLP."""
    options = config.student_options()
    if device is not None and config.student == "mlp":
        options["device"] = device
    return options


def _adversarial_summary(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if k != "history"}


#: synthetic rows of a data-free run (measured on magic: 100,000 rows scored as 60,000 did)
DATA_FREE_ROWS = 60_000
#: synthetic rows of a few-shot run (bench/fewshot_trial.py)
FEW_SHOT_ROWS = 20_000
#: rows sampled to score a run that has no real held-out rows
SCORING_ROWS = 5_000


def train_data_free(teacher: Teacher, config: DistillConfig, *, space: FeatureSpace | None = None,
                    progress: Progress | None = None, device: str | None = None) -> TrainedStudent:
    """Train a student without real rows: rows sampled from the teacher's trees
    (:class:`~tabcompress.generators.forest.ForestSampler`), labelled by the teacher, optionally through
    ``config.selection_rounds`` rounds of bounded-disagreement selection."""
    config.validate()
    progress = progress or Progress()
    stages = _Stages(progress)
    space = space or feature_space(teacher)
    schema = space.schema
    n = config.synthetic_rows if config.synthetic_rows is not None else DATA_FREE_ROWS
    if n < 1:
        raise InputError("--synthetic-rows must be >= 1 for a data-free run: the synthetic rows are all it has")
    classes = teacher.classes_ if teacher.is_classifier else None
    fit_kwargs = {"classes": classes, "categorical": schema.categorical}
    options = _student_options(config, device)
    sampler = ForestSampler(space, trees_per_row=config.forest_trees)
    empty = schema.conform(pd.DataFrame({c: [] for c in schema.names}))
    no_targets = np.zeros((0, len(classes))) if classes is not None else np.zeros(0)
    result = train_with_selection(
        make=lambda: make_student(config.student, **options), fit_kwargs=fit_kwargs,
        label=lambda rows: label_rows(teacher, rows, chunk_rows=config.label_chunk_rows), generator=sampler,
        X_real=empty, T_real=no_targets, n_synthetic=n, seed=config.seed, stage=stages.run,
        student_name=config.student, settings=config.selection_settings())
    info = {"name": "forest", "trees_per_row": config.forest_trees, "teacher_space": space.describe()}
    return TrainedStudent(student=result.student, baseline=None, generator=sampler, generator_info=info,
                          n_synthetic=int(len(result.X_synth)), timings_s=stages.seconds, selection=result.info,
                          X_synth=result.X_synth, T_synth=result.T_synth)


def train_few_shot(teacher: Teacher, prototypes: pd.DataFrame, T_prototypes: np.ndarray, schema: Schema,
                   config: DistillConfig, *, progress: Progress | None = None,
                   device: str | None = None) -> TrainedStudent:
    """Train a student from a few prototype rows per class: rows grown around them
    (:func:`tabcompress.methods.fewshot.synthesize_around_prototypes`), weighted by forest proximity, plus the
    prototypes at full weight. The baseline is the same student on the prototypes alone."""
    config.validate()
    progress = progress or Progress()
    stages = _Stages(progress)
    classes = teacher.classes_ if teacher.is_classifier else None
    fit_kwargs = {"classes": classes, "categorical": schema.categorical}

    options = _student_options(config, device)

    def make() -> Student:
        return make_student(config.student, **options)

    baseline = None
    if config.baseline:
        with stages.run("baseline_fit", "training the prototypes-only baseline", f"{len(prototypes):,} rows"):
            baseline = make().fit(prototypes, T_prototypes, **fit_kwargs)
    n = config.synthetic_rows if config.synthetic_rows is not None else FEW_SHOT_ROWS
    with stages.run("generate", "growing rows around the prototypes", f"{n:,} rows"):
        grown = synthesize_around_prototypes(teacher, prototypes, schema, n, random_state=config.seed)
    rows = pd.concat([prototypes, grown.X], ignore_index=True)
    with stages.run("student_fit", f"training the {config.student} student",
                    f"{len(prototypes):,} prototypes + {len(grown.X):,} grown rows"):
        student = make().fit(rows, np.concatenate([T_prototypes, grown.T]),
                             sample_weight=np.concatenate([np.ones(len(prototypes)), grown.weight]), **fit_kwargs)
    info = {"name": "few-shot", **grown.info}
    return TrainedStudent(student=student, baseline=baseline, generator=None, generator_info=info,
                          n_synthetic=int(len(grown.X)), timings_s=stages.seconds,
                          X_synth=grown.X, T_synth=grown.T)


@dataclass
class TrainedStudent:
    """What :func:`train_student` returns: the student, the optional baseline, and how they were made."""

    student: Student
    baseline: Student | None
    generator: Generator | None
    generator_info: dict[str, Any]
    n_synthetic: int
    timings_s: dict[str, float]
    selection: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    X_synth: pd.DataFrame | None = field(default=None, repr=False)
    T_synth: np.ndarray | None = field(default=None, repr=False)


def train_student(teacher: Teacher, X_train: pd.DataFrame, T_train: np.ndarray, schema: Schema,
                  config: DistillConfig, *, generator: Generator | None = None,
                  progress: Progress | None = None, device: str | None = None,
                  time_left: float | None = None) -> TrainedStudent:
    """The training half of :func:`distill`: synthetic rows, teacher labels, student (and baseline).

    ``T_train`` holds the teacher's soft targets for ``X_train``. A ``generator`` that is already
    fitted on ``X_train`` is used as it is (its fit is skipped), so a caller who distils several
    teachers or students from the same rows — the benchmark does — fits it once. Otherwise the
    generator comes from the cache (``config.cache``) or is fitted and stored there.

    ``time_left`` (default: ``config.time_budget``) is the seconds this call may take; the run is then
    planned to fit (see :mod:`tabcompress.methods.budget`).
    """
    config.validate()
    started = time.perf_counter()
    progress = progress or Progress()
    stages = _Stages(progress)
    device = device or _run_device(config)
    if time_left is None:
        time_left = config.time_budget
    reused = generator is not None and hasattr(generator, "schema_")
    name = generator.name if generator is not None else resolve_generator(config, schema)
    classes = teacher.classes_ if teacher.is_classifier else None
    fit_kwargs = {"classes": classes, "categorical": schema.categorical}

    deadline = started + time_left if time_left is not None else None
    fits_left = [1]  # student fits still to come; set from the plan

    def make(time_limit: float | None = None) -> Student:
        options = config.student_options()
        if config.student == "mlp" and deadline is not None:
            # An MLP's epochs are not known in advance: under a budget, each fit gets its share of
            # what is left and stops there (keeping its best weights so far).
            if time_limit is None:
                time_limit = (deadline - time.perf_counter()) / max(1, fits_left[0])
                fits_left[0] -= 1
            options["time_limit"] = max(0.5, time_limit)
        return make_student(config.student, **options)

    def label(rows: pd.DataFrame) -> np.ndarray:
        return label_rows(teacher, rows, chunk_rows=config.label_chunk_rows)

    n_synthetic = 0 if name == "none" else config.n_synthetic(len(X_train))
    rounds = config.selection_rounds

    # -- the baseline first: under a time budget its fit also measures the student's cost per row ----
    baseline, student_rate = None, None
    if config.baseline:
        with stages.run("baseline_fit", "training the real-rows-only baseline", f"{len(X_train):,} rows"):
            limit = BASELINE_SHARE * time_left if time_left is not None else None
            baseline = make(limit).fit(X_train, T_train, **fit_kwargs)
        student_rate = stages.seconds["baseline_fit"] / len(X_train)

    # -- the plan, when there is a budget -----------------------------------------------------------
    cache = _cache(config)
    rates = None
    parts = name.split("+")
    trainable = name != "none" and not reused and any(p in TIME_LIMITED_GENERATORS for p in parts)
    if time_left is not None and not reused and "tvae" in parts:
        progress.note("time budget: TVAE trains all its --epochs (it takes no time limit); lower them if it overruns")
    if trainable and cache is not None and _cached(cache, build_generator(name, config, device, teacher=teacher),
                                                   X_train, schema, config.seed):
        trainable = False  # a cached fit costs no training time
    plan = None
    if time_left is not None and n_synthetic:
        with stages.run("plan", "planning the time budget", f"{time_left:.0f} s left"):
            rates = _measure_rates(teacher, X_train, T_train, make, fit_kwargs, student_rate, config)
            plan = budget_mod.plan(time_left - (time.perf_counter() - started), n_real=len(X_train),
                                   n_synthetic=n_synthetic, rounds=rounds, share=config.selection_share,
                                   pool=config.selection_pool, rates=rates, trainable_generator=trainable)
        n_synthetic, rounds = plan.n_synthetic, plan.rounds
        for note in plan.adjustments:
            progress.note(f"time budget: {note}")
    fits_left[0] = 1 + (rounds if n_synthetic and config.selection_share > 0 else 0)

    # -- the generator ----------------------------------------------------------------------------
    generator_info: dict[str, Any] = {"name": name}
    X_synth, T_synth, selection_info = X_train.iloc[:0], T_train[:0], None
    if name != "none" and n_synthetic > 0:
        if generator is None:
            time_limit = plan.generator_time_limit if plan is not None else None
            generator = build_generator(name, config, device, time_limit=time_limit, teacher=teacher)
        if reused:
            if generator.schema_.names != schema.names:
                raise ValueError("the fitted generator was fitted on other columns than X_train's")
        else:
            fit_rows = min(len(X_train), config.generator_rows or len(X_train))
            with stages.run("generator_fit", f"fitting {name.upper()}", f"{fit_rows:,} rows"):
                generator, cache_info = fit_generator(generator, X_train, schema, random_state=config.seed,
                                                      cache=cache, progress=progress.advance)
            if cache_info:
                generator_info["cache"] = cache_info
            for info in cache_info.values():
                if info.get("note"):
                    progress.note(f"generator cache: {info['note']}")
        generator_info.update(fit_rows=int(generator.n_fit_rows_), reused=bool(reused), **training_facts(generator))
        if plan is not None and trainable:
            # The generator is done (perhaps early, or from the cache): plan the rows again with the
            # time actually left, so its unused time goes to rows instead of being lost.
            requested = config.n_synthetic(len(X_train))
            replan = budget_mod.plan(deadline - time.perf_counter(), n_real=len(X_train), n_synthetic=requested,
                                     rounds=config.selection_rounds, share=config.selection_share,
                                     pool=config.selection_pool, rates=rates, trainable_generator=False)
            n_synthetic, rounds = replan.n_synthetic, replan.rounds
            plan.replanned = {"n_synthetic": n_synthetic, "rounds": rounds, "adjustments": replan.adjustments}
            fits_left[0] = 1 + (rounds if n_synthetic and config.selection_share > 0 else 0)

        # -- synthetic rows, teacher labels, student ------------------------------------------------
        result = train_with_selection(
            make=make, fit_kwargs=fit_kwargs, label=label, generator=generator, X_real=X_train,
            T_real=T_train, n_synthetic=n_synthetic, seed=config.seed, stage=stages.run,
            student_name=config.student, settings=config.selection_settings(rounds))
        student, X_synth, T_synth = result.student, result.X_synth, result.T_synth
        selection_info = result.info
    else:
        with stages.run("student_fit", f"training the {config.student} student", f"{len(X_train):,} real rows"):
            student = make().fit(X_train, T_train, **fit_kwargs)
    budget_info = None
    if time_left is not None:
        budget_info = {"seconds": round(float(time_left), 2), "plan": plan.to_dict() if plan else None,
                       "spent_s": round(time.perf_counter() - started, 2)}
        if hasattr(student, "stop_reason_"):
            budget_info["student_stop_reason"] = student.stop_reason_
    return TrainedStudent(student=student, baseline=baseline, generator=generator,
                          generator_info=generator_info, n_synthetic=int(len(X_synth)),
                          timings_s=stages.seconds, selection=selection_info, budget=budget_info,
                          X_synth=X_synth, T_synth=T_synth)


#: share of a time budget the real-rows-only baseline (an MLP) may take
BASELINE_SHARE = 0.15
#: generators that train with torch (epochs)
TRAINABLE_GENERATORS = ("ctgan", "tvae")
#: those that take a time limit, so a time budget can plan their training
TIME_LIMITED_GENERATORS = ("ctgan",)


def resolve_generator(config: DistillConfig, schema: Schema | None = None) -> str:
    """The generator a run uses: ``config.generator``, or for ``auto`` the benchmark's pick (README,
    "Choosing a generator"): MUNGE for tree students, whose few splits must follow the real rows'
    distribution, which MUNGE's rows keep and CTGAN's do not. For an MLP: CTGAN when at least a third
    of the columns are categorical (MUNGE's nearest neighbours are poor when most of the distance is
    category mismatches); half MUNGE and half CTGAN rows when some are (CTGAN covers category
    combinations MUNGE's rows miss, MUNGE keeps rows close to the real ones); MUNGE when none are.
    Measured on the benchmark's five datasets with categorical columns: adult and bank_marketing
    (half the columns) did best with CTGAN alone; california_housing, covertype_75k and
    credit_default (one column in eight to twelve) with the mixture.
    """
    if config.generator != "auto":
        return config.generator
    if config.student == "mlp" and schema is not None and schema.categorical:
        if len(schema.categorical) >= len(schema.columns) / 3:
            return "ctgan"
        return "munge+ctgan"
    return "munge"


def build_generator(name: str, config: DistillConfig, device: str, *, time_limit: float | None = None,
                    teacher: Teacher | None = None) -> Generator:
    """The generator ``name`` with the run's settings; ``teacher`` is needed by ``forest`` (its trees)."""
    parts = name.split("+")
    n_trainable = sum(p in TIME_LIMITED_GENERATORS for p in parts) or 1
    options = {"epochs": config.epochs, "batch_size": config.batch_size, "max_rows": config.generator_rows,
               "device": device, "early_stop": config.early_stop, "teacher": teacher,
               "trees_per_row": config.forest_trees}
    if time_limit is not None:  # shared by the trainable parts of a mixture
        options["time_limit"] = max(0.1, time_limit / n_trainable)  # at least one epoch runs anyway
    return make_generator(name, **options)


def fit_generator(generator: Generator, X: pd.DataFrame, schema: Schema, *, random_state: int,
                  cache: GeneratorCache | None, progress=None) -> tuple[Generator, dict[str, dict[str, Any]]]:
    """Fit ``generator`` on ``X`` (each part of a mixture on its own), through ``cache`` where a fit is
    worth caching. Returns the fitted generator and, per cached part, the cache's report."""
    parts = generator.parts if isinstance(generator, MixtureGenerator) else [generator]
    fitted, infos = [], {}
    for part in parts:
        if cache is not None and worth_caching(part):
            part, infos[part.name] = cache.fit_or_load(part, X, schema, random_state=random_state, progress=progress)
        else:
            part.fit(X, schema, random_state=random_state, progress=progress)
        fitted.append(part)
    if isinstance(generator, MixtureGenerator):
        return MixtureGenerator.from_fitted(fitted, generator.shares, schema), infos
    return fitted[0], infos


def _cached(cache: GeneratorCache, generator: Generator, X: pd.DataFrame, schema: Schema,
            seed: int) -> bool:
    """Whether every trainable part of ``generator`` has a cache entry for this fit."""
    parts = generator.parts if isinstance(generator, MixtureGenerator) else [generator]
    return all(cache.has(p, X, schema, random_state=seed) for p in parts if p.name in TRAINABLE_GENERATORS)


def training_facts(generator: Generator) -> dict[str, Any]:
    """Epochs asked and run, and why training stopped, for each trainable part."""
    facts: dict[str, Any] = {}
    parts = generator.parts if isinstance(generator, MixtureGenerator) else [generator]
    for part in parts:
        if part.name in TRAINABLE_GENERATORS:
            facts[part.name] = {k: getattr(part, attr) for k, attr in (
                ("epochs", "epochs"), ("epochs_run", "epochs_run_"), ("stop_reason", "stop_reason_"),
                ("time_limit", "time_limit"), ("batch_size", "batch_size"), ("device", "device"))
                if getattr(part, attr, None) is not None}
    return facts


def _measure_rates(teacher: Teacher, X_train: pd.DataFrame, T_train: np.ndarray, make, fit_kwargs,
                   student_rate: float | None, config: DistillConfig) -> budget_mod.Rates:
    """Seconds per row of labelling (timed on a slice of the real rows), of a student fit (the
    baseline's, else a fit on a slice) and of sampling (a conservative constant: CTGAN's decoder,
    the slowest we have, samples about 100,000 rows a second on 2 cores)."""
    probe = X_train.iloc[: min(len(X_train), 2000)]
    start = time.perf_counter()
    label_rows(teacher, probe, chunk_rows=config.label_chunk_rows)
    label_rate = (time.perf_counter() - start) / len(probe)
    if student_rate is None:
        start = time.perf_counter()
        make(BASELINE_SHARE * 0.5 * (config.time_budget or 60.0)).fit(probe, T_train[: len(probe)], **fit_kwargs)
        student_rate = (time.perf_counter() - start) / len(probe)
    return budget_mod.Rates(label=label_rate, student=student_rate, sample=1e-5)


def _cache(config: DistillConfig) -> GeneratorCache | None:
    return GeneratorCache(config.cache_dir) if config.cache else None


def _run_device(config: DistillConfig) -> str:
    """The torch device of a run; "cpu" when nothing in it uses torch (so --device cuda is not checked)."""
    parts = resolve_generator(config).split("+")  # "auto" needs torch only with an MLP, which is checked
    if config.student == "mlp" or any(p in TRAINABLE_GENERATORS for p in parts):
        from tabcompress.students.mlp import resolve_device

        return resolve_device(config.device)
    return "cpu"


def _scoring_allowance(seconds: dict[str, float], X: pd.DataFrame, n_test: int) -> float:
    """Seconds to keep for scoring: the teacher's time on the held-out rows (from labelling the real
    rows), twice over for the latency probes and the students, plus a second for writing."""
    return 2.0 * seconds.get("label_real", 0.0) * n_test / max(1, len(X)) + 1.0


def _budget_report(config: DistillConfig, trained: dict[str, Any] | None, total: float) -> dict[str, Any] | None:
    if config.time_budget is None:
        return None
    return {"seconds": config.time_budget, "total_s": round(total, 2), "within": bool(total <= config.time_budget),
            "training": trained}


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
