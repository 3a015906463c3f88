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

from tabcompress import budget as budget_mod
from tabcompress import data as data_mod
from tabcompress import evaluation
from tabcompress.cache import GeneratorCache, worth_caching
from tabcompress.errors import FidelityGateError, InputError
from tabcompress.export import REPORT_FILE, check_out_dir, student_file, write_outputs
from tabcompress.generators import Generator, check_generator_name, make_generator
from tabcompress.generators.mixture import MixtureGenerator
from tabcompress.labeling import DEFAULT_CHUNK_ROWS, label_rows
from tabcompress.progress import Progress
from tabcompress.selection import SelectionSettings, train_with_selection
from tabcompress.report import environment, versions
from tabcompress.students import STUDENT_NAMES, Student, make_student
from tabcompress.teachers import Teacher, load_teacher


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
        if not self.hidden or any((not isinstance(h, (int, np.integer))) or h < 1 for h in self.hidden):
            raise InputError(f"--hidden must be layer widths >= 1 such as 64,64, got {self.hidden}")
        if self.min_fidelity is not None and not 0.0 <= self.min_fidelity <= 1.0:
            raise InputError(f"--min-fidelity must be between 0 and 1, got {self.min_fidelity}")
        positive("label_chunk_rows", self.label_chunk_rows)
        positive("synthetic_max_rows", self.synthetic_max_rows, allow_none=True)
        student_file(self.student_format)  # raises InputError naming --student-format
        SelectionSettings(rounds=self.selection_rounds, share=self.selection_share,
                          pool=self.selection_pool).validate()
        if self.time_budget is not None and not (self.time_budget > 0 and np.isfinite(self.time_budget)):
            raise InputError(f"--time-budget must be a number of seconds > 0, got {self.time_budget}")

    def n_synthetic(self, n_real: int) -> int:
        """Synthetic rows for ``n_real`` training rows: ``synthetic_rows``, else the ratio, capped."""
        if self.synthetic_rows is not None:
            return int(self.synthetic_rows)
        n = int(round(self.synthetic_ratio * n_real))
        return min(n, self.synthetic_max_rows) if self.synthetic_max_rows is not None else n

    def student_options(self) -> dict[str, Any]:
        if self.student == "tree":
            return {"max_depth": self.max_depth, "max_leaf_nodes": self.max_leaf_nodes,
                    "refine_passes": self.refine_passes, "random_state": self.seed}
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
    time_left = None
    if config.time_budget is not None:
        # scoring takes a few teacher and student calls on the held-out rows: keep its share back
        time_left = config.time_budget - (time.perf_counter() - started) - _scoring_allowance(stages.seconds, X, X_test)
    trained = train_student(teacher, X_train, T_train, schema, config, progress=progress, device=device,
                            time_left=time_left)
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
        "selection": trained.selection,
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


def train_student(teacher: Teacher, X_train: pd.DataFrame, T_train: np.ndarray, schema: data_mod.Schema,
                  config: DistillConfig, *, generator: Generator | None = None,
                  progress: Progress | None = None, device: str | None = None,
                  time_left: float | None = None) -> TrainedStudent:
    """The training half of :func:`distill`: synthetic rows, teacher labels, student (and baseline).

    ``T_train`` holds the teacher's soft targets for ``X_train``. A ``generator`` that is already
    fitted on ``X_train`` is used as it is (its fit is skipped), so a caller who distils several
    teachers or students from the same rows — the benchmark does — fits it once. Otherwise the
    generator comes from the cache (``config.cache``) or is fitted and stored there.

    ``time_left`` (default: ``config.time_budget``) is the seconds this call may take; the run is then
    planned to fit (see :mod:`tabcompress.budget`).
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
    if trainable and cache is not None and _cached(cache, build_generator(name, config, device), X_train, schema,
                                                   config.seed):
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
            generator = build_generator(name, config, device, time_limit=time_limit)
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
            student_name=config.student,
            settings=SelectionSettings(rounds=rounds, share=config.selection_share, pool=config.selection_pool))
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
                          timings_s=stages.seconds, selection=selection_info, budget=budget_info)


#: share of a time budget the real-rows-only baseline (an MLP) may take
BASELINE_SHARE = 0.15
#: generators that train with torch (epochs)
TRAINABLE_GENERATORS = ("ctgan", "tvae")
#: those that take a time limit, so a time budget can plan their training
TIME_LIMITED_GENERATORS = ("ctgan",)


def resolve_generator(config: DistillConfig, schema: data_mod.Schema | None = None) -> str:
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


def build_generator(name: str, config: DistillConfig, device: str, *, time_limit: float | None = None) -> Generator:
    parts = name.split("+")
    n_trainable = sum(p in TIME_LIMITED_GENERATORS for p in parts) or 1
    options = {"epochs": config.epochs, "batch_size": config.batch_size, "max_rows": config.generator_rows,
               "device": device, "early_stop": config.early_stop}
    if time_limit is not None:  # shared by the trainable parts of a mixture
        options["time_limit"] = max(0.1, time_limit / n_trainable)  # at least one epoch runs anyway
    return make_generator(name, **options)


def fit_generator(generator: Generator, X: pd.DataFrame, schema: data_mod.Schema, *, random_state: int,
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


def _cached(cache: GeneratorCache, generator: Generator, X: pd.DataFrame, schema: data_mod.Schema,
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


def _scoring_allowance(seconds: dict[str, float], X: pd.DataFrame, X_test: pd.DataFrame) -> float:
    """Seconds to keep for scoring: the teacher's time on the held-out rows (from labelling the real
    rows), twice over for the latency probes and the students, plus a second for writing."""
    return 2.0 * seconds.get("label_real", 0.0) * len(X_test) / max(1, len(X)) + 1.0


def _budget_report(config: DistillConfig, trained: dict[str, Any] | None, total: float) -> dict[str, Any] | None:
    if config.time_budget is None:
        return None
    return {"seconds": config.time_budget, "total_s": round(total, 2), "within": bool(total <= config.time_budget),
            "training": trained}


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
