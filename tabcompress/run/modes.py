"""The three ways a run gets its rows and trains its student.

* :class:`WithData`: real rows; a share is held out for scoring (all train when ``eval_data`` is
  given), a generator makes synthetic rows from the rest (:func:`train_student`);
* :class:`FewShot`: a few prototype rows per class; rows are grown around them
  (:func:`train_few_shot`, :mod:`tabcompress.methods.fewshot`);
* :class:`DataFree`: no rows at all; rows are sampled from the teacher's own trees
  (:func:`train_data_free`, :class:`tabcompress.generators.forest.ForestSampler`).

Each mode's ``rows`` reads and splits what the run was given; its ``train`` trains the student. The
``train_*`` functions are public: the benchmark calls them with rows it prepared itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabcompress import data as data_mod
from tabcompress.config import Settings
from tabcompress.errors import InputError, SettingError
from tabcompress.generators.cache import GeneratorCache, fit_generator, fit_is_cached
from tabcompress.generators.forest import ForestSampler
from tabcompress.generators.registry import build_generator, resolve_generator, trains
from tabcompress.methods import budget as budget_mod
from tabcompress.methods.fewshot import synthesize_around_prototypes
from tabcompress.methods.selection import SelectionRule, train_with_selection
from tabcompress.progress import Progress, Stages
from tabcompress.run.context import Rows, Run, TrainedStudent
from tabcompress.schema import Schema
from tabcompress.students.registry import student_class
from tabcompress.teachers import Teacher, label_rows
from tabcompress.teachers.space import FeatureSpace, feature_space

#: synthetic rows of a data-free run, and of a few-shot run (docs/measurements.md, "Without the training data")
DATA_FREE_ROWS = 60_000
FEW_SHOT_ROWS = 20_000
#: rows sampled to score a run that has no real held-out rows
SCORING_ROWS = 5_000
#: share of a time budget the real-rows-only baseline (an MLP) may take
BASELINE_SHARE = 0.15
#: a seed offset for the scoring rows of a run without real ones, which no training draw uses
SCORING_SEED_OFFSET = 7919

Source = str | Path | pd.DataFrame


def choose_mode(data: Source | None, settings: Settings) -> "Mode":
    """The mode for ``data`` (None: data-free) and the settings; refuses combinations that cannot run."""
    if data is None and settings.data.few_shot:
        raise SettingError("few_shot", "needs DATA: the prototype rows (k per class) to grow synthetic rows from")
    mode = DataFree() if data is None else (FewShot() if settings.data.few_shot else WithData())
    if mode.name != "data" and settings.budget.time_budget is not None:
        raise SettingError("time_budget", f"plans runs with real rows; a {mode.name} run does not take it")
    return mode


def check_settings(settings: Settings) -> None:
    """Every setting's own check, then the student's parameters as the settings make them: all before
    any work, so a bad value costs no time."""
    settings.validate()
    student_class(settings.student.name).from_settings(settings).check_parameters()


def run_device(settings: Settings) -> str:
    """The torch device of a run; "cpu" when nothing in it uses torch (so --device cuda is not checked)."""
    # "auto" needs torch only with an MLP, which is checked through the student
    if student_class(settings.student.name).uses_torch or trains(resolve_generator(settings)):
        from tabcompress.students.mlp import resolve_device

        return resolve_device(settings.device)
    return "cpu"


class Mode:
    """How a run gets its rows and trains (see the module's docstring)."""

    name = ""

    def rows(self, run: Run, teacher: Teacher, data: Source | None, eval_data: Source | None) -> Rows:
        raise NotImplementedError

    def train(self, run: Run, teacher: Teacher, rows: Rows, device: str) -> TrainedStudent:
        raise NotImplementedError

    def test_rows(self, run: Run, teacher: Teacher, rows: Rows) -> None:
        """The rows to score on, for a run without a hold-out: ``--eval-data``, else rows sampled from the
        teacher's trees. Called after training, so that labelling them is timed apart."""
        if rows.X_test is not None:
            return
        if rows.held_out is not None:
            rows.held_out.schema = rows.schema
            rows.X_test, rows.y_test = rows.held_out.X, rows.held_out.y
            rows.scored_on = f"evaluation rows ({rows.eval_source})"
            rows.T_test = run.label(teacher, rows.X_test, "label_eval", "evaluation rows", rows.eval_source)
            return
        settings = run.settings
        sampler = ForestSampler(rows.space, trees_per_row=settings.generator.forest_trees)
        rows.X_test = sampler.sample(SCORING_ROWS, random_state=settings.seed + SCORING_SEED_OFFSET)
        run.note(f"no --eval-data: scored on {SCORING_ROWS:,} fresh rows sampled from the teacher's trees, "
                 "not on real rows")
        rows.scored_on = "rows sampled from the teacher's trees (no --eval-data)"
        rows.T_test = run.label(teacher, rows.X_test, "label_eval", "rows sampled for scoring",
                                "(sampled from the teacher's trees)")

    @staticmethod
    def _eval_rows(run: Run, teacher: Teacher, eval_data: Source | None) -> tuple[data_mod.Dataset | None, str | None]:
        if eval_data is None:
            return None, None
        return run.read(eval_data, teacher, "read_eval_data", "evaluation rows")

    @staticmethod
    def _read_data(run: Run, teacher: Teacher, data: Source, what: str, held_out: data_mod.Dataset | None,
                   eval_source: str | None) -> tuple[data_mod.Dataset, str]:
        """DATA as read and aligned, and its path; ``--eval-data``'s columns must line up with it."""
        dataset, source = run.read(data, teacher, "read_data", what)
        if held_out is not None and held_out.X.columns.tolist() != dataset.X.columns.tolist():
            raise InputError(f"data file {eval_source}: its columns do not line up with {source}'s")
        return dataset, source

    @staticmethod
    def _note_unused_options(run: Run, mode: str) -> None:
        settings = run.settings
        if settings.generator.name != "auto" or settings.selection.rounds:
            run.note(f"a {mode} run makes its own rows: --generator and the selection options are not used"
                     if mode == "few-shot" else
                     "a data-free run samples the teacher's trees: --generator is not used")


class WithData(Mode):
    name = "data"

    def rows(self, run: Run, teacher: Teacher, data: Source | None, eval_data: Source | None) -> Rows:
        settings = run.settings
        held_out, eval_source = self._eval_rows(run, teacher, eval_data)
        dataset, source = self._read_data(run, teacher, data, "data", held_out, eval_source)
        X = dataset.X
        targets = run.label(teacher, X, "label_real", "real rows", source)
        rows = Rows(schema=dataset.schema, X_train=X, T_train=targets, dataset=dataset, source=source,
                    held_out=held_out, eval_source=eval_source)
        if held_out is not None:
            return rows
        labels = teacher.classes_[np.argmax(targets, axis=1)] if teacher.is_classifier else None
        train_idx, test_idx, rows.stratified = data_mod.holdout_split(len(X), settings.data.test_size,
                                                                      settings.seed, stratify=labels)
        if teacher.is_classifier and not rows.stratified:
            run.note("a teacher class has a single row: the hold-out split is not stratified")
        rows.X_train, rows.X_test = (X.iloc[idx].reset_index(drop=True) for idx in (train_idx, test_idx))
        rows.T_train, rows.T_test = targets[train_idx], targets[test_idx]
        rows.y_test = dataset.y.iloc[test_idx].reset_index(drop=True) if dataset.y is not None else None
        return rows

    def train(self, run: Run, teacher: Teacher, rows: Rows, device: str) -> TrainedStudent:
        time_left = None
        if run.settings.budget.time_budget is not None:
            # scoring takes a few teacher and student calls on the held-out rows: keep its share back
            n_test = len(rows.held_out.X) if rows.held_out is not None else len(rows.X_test)
            time_left = (run.settings.budget.time_budget - run.elapsed()
                         - _scoring_allowance(run.stages.seconds, len(rows.dataset.X), n_test))
        return train_student(teacher, rows.X_train, rows.T_train, rows.schema, run.settings, progress=run.progress,
                             device=device, time_left=time_left)


class FewShot(Mode):
    name = "few-shot"

    def rows(self, run: Run, teacher: Teacher, data: Source | None, eval_data: Source | None) -> Rows:
        held_out, eval_source = self._eval_rows(run, teacher, eval_data)
        self._note_unused_options(run, self.name)
        space = None
        if held_out is None:
            with run.stages.run("read_teacher_space", "reading the feature space from the teacher's trees"):
                try:
                    space = feature_space(teacher)
                except InputError as exc:
                    problem = (f"without {{eval_data}} scores on rows sampled from the teacher's trees, which this "
                               f"teacher does not allow ({exc}); give {{eval_data}}")
                    raise SettingError("few_shot", problem, mentions=("eval_data",)) from exc
        dataset, source = self._read_data(run, teacher, data, "prototype rows", held_out, eval_source)
        T = run.label(teacher, dataset.X, "label_real", "prototype rows", source)
        return Rows(schema=dataset.schema, X_train=dataset.X, T_train=T, dataset=dataset, source=source,
                    space=space, held_out=held_out, eval_source=eval_source)

    def train(self, run: Run, teacher: Teacher, rows: Rows, device: str) -> TrainedStudent:
        return train_few_shot(teacher, rows.X_train, rows.T_train, rows.schema, run.settings,
                              progress=run.progress, device=device)


class DataFree(Mode):
    name = "data-free"

    def rows(self, run: Run, teacher: Teacher, data: Source | None, eval_data: Source | None) -> Rows:
        held_out, eval_source = self._eval_rows(run, teacher, eval_data)
        self._note_unused_options(run, self.name)
        with run.stages.run("read_teacher_space", "reading the feature space from the teacher's trees"):
            space = feature_space(teacher)
        for note in space.notes:
            run.note(note)
        schema = space.schema
        if held_out is not None and teacher.feature_names is None:
            # a teacher without names takes columns in file order; the student knows them by the derived names
            held_out.X.columns = schema.names
        empty = schema.conform(pd.DataFrame({c: [] for c in schema.names}))
        return Rows(schema=schema, X_train=empty, T_train=None, space=space, held_out=held_out,
                    eval_source=eval_source)

    def train(self, run: Run, teacher: Teacher, rows: Rows, device: str) -> TrainedStudent:
        return train_data_free(teacher, run.settings, space=rows.space, progress=run.progress, device=device)


def _scoring_allowance(seconds: dict[str, float], n_rows: int, n_test: int) -> float:
    """Seconds to keep for scoring: the teacher's time on the held-out rows (from labelling the real
    rows), twice over for the latency probes and the students, plus a second for writing."""
    return 2.0 * seconds.get("label_real", 0.0) * n_test / max(1, n_rows) + 1.0


# -- training ------------------------------------------------------------------------------------

def _fit_kwargs(teacher: Teacher, schema: Schema) -> dict[str, Any]:
    return {"classes": teacher.classes_ if teacher.is_classifier else None, "categorical": schema.categorical}


def train_data_free(teacher: Teacher, settings: Settings, *, space: FeatureSpace | None = None,
                    progress: Progress | None = None, device: str | None = None) -> TrainedStudent:
    """Train a student without real rows: rows sampled from the teacher's trees
    (:class:`~tabcompress.generators.forest.ForestSampler`), labelled by the teacher, optionally through
    ``selection.rounds`` rounds of bounded-disagreement selection."""
    check_settings(settings)
    stages = Stages(progress or Progress())
    space = space or feature_space(teacher)
    schema = space.schema
    n = settings.generator.synthetic_rows if settings.generator.synthetic_rows is not None else DATA_FREE_ROWS
    if n < 1:
        raise SettingError("synthetic_rows", "must be >= 1 for a data-free run: the synthetic rows are all it has")
    student = student_class(settings.student.name)
    sampler = ForestSampler(space, trees_per_row=settings.generator.forest_trees)
    empty = schema.conform(pd.DataFrame({c: [] for c in schema.names}))
    no_targets = np.zeros((0, len(teacher.classes_))) if teacher.is_classifier else np.zeros(0)
    result = train_with_selection(
        make=lambda: student.from_settings(settings, device=device), fit_kwargs=_fit_kwargs(teacher, schema),
        label=lambda rows: label_rows(teacher, rows, chunk_rows=settings.budget.label_chunk_rows), generator=sampler,
        X_real=empty, T_real=no_targets, n_synthetic=n, seed=settings.seed, stage=stages.run,
        student_name=settings.student.name, settings=SelectionRule.from_settings(settings))
    info = {"name": "forest", "trees_per_row": settings.generator.forest_trees, "teacher_space": space.describe()}
    return TrainedStudent(student=result.student, baseline=None, generator=sampler, generator_info=info,
                          n_synthetic=int(len(result.X_synth)), timings_s=stages.seconds, selection=result.info,
                          X_synth=result.X_synth, T_synth=result.T_synth)


def train_few_shot(teacher: Teacher, prototypes: pd.DataFrame, T_prototypes: np.ndarray, schema: Schema,
                   settings: Settings, *, progress: Progress | None = None,
                   device: str | None = None) -> TrainedStudent:
    """Train a student from a few prototype rows per class: rows grown around them
    (:func:`tabcompress.methods.fewshot.synthesize_around_prototypes`), weighted by forest proximity,
    plus the prototypes at full weight. The baseline is the same student on the prototypes alone."""
    check_settings(settings)
    stages = Stages(progress or Progress())
    fit_kwargs = _fit_kwargs(teacher, schema)
    student_cls = student_class(settings.student.name)

    def make():
        return student_cls.from_settings(settings, device=device)

    baseline = None
    if settings.output.baseline:
        with stages.run("baseline_fit", "training the prototypes-only baseline", f"{len(prototypes):,} rows"):
            baseline = make().fit(prototypes, T_prototypes, **fit_kwargs)
    n = settings.generator.synthetic_rows if settings.generator.synthetic_rows is not None else FEW_SHOT_ROWS
    with stages.run("generate", "growing rows around the prototypes", f"{n:,} rows"):
        grown = synthesize_around_prototypes(teacher, prototypes, schema, n, random_state=settings.seed)
    rows = pd.concat([prototypes, grown.X], ignore_index=True)
    with stages.run("student_fit", f"training the {settings.student.name} student",
                    f"{len(prototypes):,} prototypes + {len(grown.X):,} grown rows"):
        student = make().fit(rows, np.concatenate([T_prototypes, grown.T]),
                             sample_weight=np.concatenate([np.ones(len(prototypes)), grown.weight]), **fit_kwargs)
    info = {"name": "few-shot", **grown.info}
    return TrainedStudent(student=student, baseline=baseline, generator=None, generator_info=info,
                          n_synthetic=int(len(grown.X)), timings_s=stages.seconds,
                          X_synth=grown.X, T_synth=grown.T)


def train_student(teacher: Teacher, X_train: pd.DataFrame, T_train: np.ndarray, schema: Schema,
                  settings: Settings, *, generator: Any = None, progress: Progress | None = None,
                  device: str | None = None, time_left: float | None = None) -> TrainedStudent:
    """The training half of a run with real rows: synthetic rows, teacher labels, student (and baseline).

    ``T_train`` holds the teacher's soft targets for ``X_train``. A ``generator`` that is already
    fitted on ``X_train`` is used as it is (its fit is skipped), so a caller who distils several
    teachers or students from the same rows — the benchmark does — fits it once. Otherwise the
    generator comes from the cache (``generator.cache``) or is fitted and stored there.

    ``time_left`` (default: ``budget.time_budget``) is the seconds this call may take; the run is then
    planned to fit (see :mod:`tabcompress.methods.budget`).
    """
    check_settings(settings)
    started = time.perf_counter()
    progress = progress or Progress()
    stages = Stages(progress)
    device = device or run_device(settings)
    if time_left is None:
        time_left = settings.budget.time_budget
    reused = generator is not None and hasattr(generator, "schema_")
    name = generator.name if generator is not None else resolve_generator(settings, schema)
    fit_kwargs = _fit_kwargs(teacher, schema)
    student_cls = student_class(settings.student.name)

    deadline = started + time_left if time_left is not None else None
    fits_left = [1]  # student fits still to come; set from the plan

    def make(time_limit: float | None = None):
        if student_cls.takes_time_limit and deadline is not None and time_limit is None:
            # A student that stops when told (an MLP: its epochs are not known in advance) gets its share
            # of what is left under a budget, and stops there keeping its best weights so far.
            time_limit = (deadline - time.perf_counter()) / max(1, fits_left[0])
            fits_left[0] -= 1
        if time_limit is not None and student_cls.takes_time_limit:
            time_limit = max(0.5, time_limit)
        return student_cls.from_settings(settings, device=device, time_limit=time_limit)

    def label(rows: pd.DataFrame) -> np.ndarray:
        return label_rows(teacher, rows, chunk_rows=settings.budget.label_chunk_rows)

    n_synthetic = 0 if name == "none" else settings.generator.n_synthetic(len(X_train))
    rounds = settings.selection.rounds

    # -- the baseline first: under a time budget its fit also measures the student's cost per row ----
    baseline, student_rate = None, None
    if settings.output.baseline:
        with stages.run("baseline_fit", "training the real-rows-only baseline", f"{len(X_train):,} rows"):
            limit = BASELINE_SHARE * time_left if time_left is not None else None
            baseline = make(limit).fit(X_train, T_train, **fit_kwargs)
        student_rate = stages.seconds["baseline_fit"] / len(X_train)

    # -- the plan, when there is a budget -----------------------------------------------------------
    cache = GeneratorCache(settings.generator.cache_dir) if settings.generator.cache else None
    candidate = None if reused or name == "none" else build_generator(name, settings, device=device, teacher=teacher)
    time_limited = candidate is not None and any(p.takes_time_limit for p in candidate.parts)
    if time_left is not None and candidate is not None and any(p.name == "tvae" for p in candidate.parts):
        progress.note("time budget: TVAE trains all its --epochs (it takes no time limit); lower them if it overruns")
    if time_limited and cache is not None and fit_is_cached(cache, candidate, X_train, schema,
                                                            random_state=settings.seed):
        time_limited = False  # a cached fit costs no training time
    plan = rates = None
    selection = settings.selection
    if time_left is not None and n_synthetic:
        with stages.run("plan", "planning the time budget", f"{time_left:.0f} s left"):
            probe_limit = BASELINE_SHARE * 0.5 * (settings.budget.time_budget or 60.0)
            rates = budget_mod.measure_rates(X_train, T_train, label=label, student_rate=student_rate,
                                             fit=lambda X, T: make(probe_limit).fit(X, T, **fit_kwargs))
            plan = budget_mod.plan(time_left - (time.perf_counter() - started), n_real=len(X_train),
                                   n_synthetic=n_synthetic, rounds=rounds, share=selection.share,
                                   pool=selection.pool, rates=rates, trainable_generator=time_limited)
        n_synthetic, rounds = plan.n_synthetic, plan.rounds
        for note in plan.adjustments:
            progress.note(f"time budget: {note}")
    fits_left[0] = 1 + (rounds if n_synthetic and selection.share > 0 else 0)

    # -- the generator ----------------------------------------------------------------------------
    generator_info: dict[str, Any] = {"name": name}
    X_synth, T_synth, selection_info = X_train.iloc[:0], T_train[:0], None
    if name != "none" and n_synthetic > 0:
        if generator is None:  # the candidate, unless the plan gives the generator a time limit
            time_limit = plan.generator_time_limit if plan is not None else None
            generator = candidate if time_limit is None else build_generator(
                name, settings, device=device, time_limit=time_limit, teacher=teacher)
        if reused:
            if generator.schema_.names != schema.names:
                raise ValueError("the fitted generator was fitted on other columns than X_train's")
        else:
            fit_rows = min(len(X_train), settings.generator.fit_rows or len(X_train))
            with stages.run("generator_fit", f"fitting {name.upper()}", f"{fit_rows:,} rows"):
                generator, cache_info = fit_generator(generator, X_train, schema, random_state=settings.seed,
                                                      cache=cache, progress=progress.advance)
            if cache_info:
                generator_info["cache"] = cache_info
            for info in cache_info.values():
                if info.get("note"):
                    progress.note(f"generator cache: {info['note']}")
        generator_info.update(fit_rows=int(generator.n_fit_rows_), reused=bool(reused),
                              **{p.name: p.training_facts() for p in generator.parts if p.trains})
        if plan is not None and time_limited:
            # The generator is done (perhaps early, or from the cache): plan the rows again with the
            # time actually left, so its unused time goes to rows instead of being lost.
            requested = settings.generator.n_synthetic(len(X_train))
            replan = budget_mod.plan(deadline - time.perf_counter(), n_real=len(X_train), n_synthetic=requested,
                                     rounds=selection.rounds, share=selection.share, pool=selection.pool,
                                     rates=rates, trainable_generator=False)
            n_synthetic, rounds = replan.n_synthetic, replan.rounds
            plan.replanned = {"n_synthetic": n_synthetic, "rounds": rounds, "adjustments": replan.adjustments}
            fits_left[0] = 1 + (rounds if n_synthetic and selection.share > 0 else 0)

        # -- synthetic rows, teacher labels, student ------------------------------------------------
        result = train_with_selection(
            make=make, fit_kwargs=fit_kwargs, label=label, generator=generator, X_real=X_train, T_real=T_train,
            n_synthetic=n_synthetic, seed=settings.seed, stage=stages.run, student_name=settings.student.name,
            settings=SelectionRule.from_settings(settings, rounds))
        student, X_synth, T_synth = result.student, result.X_synth, result.T_synth
        selection_info = result.info
    else:
        with stages.run("student_fit", f"training the {settings.student.name} student",
                        f"{len(X_train):,} real rows"):
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
