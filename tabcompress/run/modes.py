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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabcompress import data as data_mod
from tabcompress.config import Settings
from tabcompress.errors import InputError, SettingError
from tabcompress.evaluation.metrics import LATENCY_BATCH_ROWS, LATENCY_REPEATS
from tabcompress.evaluation.realism import detection_auc
from tabcompress.generators.cache import GeneratorCache, fit_generator, fit_is_cached
from tabcompress.generators.forest import ForestSampler
from tabcompress.generators.registry import build_generator, resolve_generator, trains
from tabcompress.methods import budget as budget_mod
from tabcompress.methods import search as search_mod
from tabcompress.methods.fewshot import synthesize_around_prototypes
from tabcompress.methods.selection import SelectionRule, train_with_selection
from tabcompress.progress import Progress, Stages
from tabcompress.run.context import Rows, Run, TrainedStudent
from tabcompress.schema import Schema
from tabcompress.students.encoding import RowStream, StackedFrames
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
#: full-size student fits of the validation search, for a time budget's plan: on all the synthetic rows,
#: on a quarter of them, and the chosen student again on every training row
SEARCH_FITS = 2.5
#: further full-size fits of the search where it may weigh the rows --generator auto uses against the settings'
#: (rows that look unreal): on a quarter and on all of as many rows again, which are drawn and labelled too
DEFAULT_ROWS_FITS = 1.25
#: the teacher's calls in scoring's latency probes (evaluation.metrics.latency): a warm-up and the timed
#: calls, on the held-out rows and on one row
LATENCY_CALLS = (LATENCY_REPEATS[0] + 1, LATENCY_REPEATS[1] + 1)
#: seconds kept for scoring the students and writing the outputs: the frontier plot alone (matplotlib's import
#: and drawing) takes about a second on 2 cores, and the report's total counts it
WRITING_SECONDS = 2.0
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
    if mode.name != "data" and search_mod.searches_sizes(settings):
        option = next((o for o in ("target_fidelity", "max_size", "max_latency") if settings.get(o) is not None),
                      "student")
        what = "auto chooses" if option == "student" else "chooses"
        raise SettingError(option, f"{what} the student on validation rows kept aside from real training rows; "
                                   f"a {mode.name} run has none")
    return mode


def check_settings(settings: Settings) -> None:
    """Every setting's own check, then the student's parameters as the settings make them: all before
    any work, so a bad value costs no time."""
    settings.validate()
    for family in search_mod.families(settings):
        student_class(family).from_settings(settings.replace(student=family)).check_parameters()


def run_device(settings: Settings) -> str:
    """The torch device of a run; "cpu" when nothing in it uses torch (so --device cuda is not checked)."""
    # "auto" needs torch only with an MLP, which is checked through the student
    torch_students = any(student_class(family).uses_torch for family in search_mod.families(settings))
    if torch_students or trains(resolve_generator(settings)):
        from tabcompress.students.mlp import resolve_device

        return resolve_device(settings.device)
    return "cpu"


class Mode:
    """How a run gets its rows and trains (see the module's docstring)."""

    name = ""

    def rows(self, run: Run, teacher: Teacher, data: Source | None, eval_data: Source | None,
             validation_data: Source | None = None) -> Rows:
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
        dataset, source = run.read(data, teacher, "read_data", what,
                                   held_out_share=0.0 if held_out is not None else run.settings.data.test_size)
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

    def rows(self, run: Run, teacher: Teacher, data: Source | None, eval_data: Source | None,
             validation_data: Source | None = None) -> Rows:
        settings = run.settings
        held_out, eval_source = self._eval_rows(run, teacher, eval_data)
        dataset, source = self._read_data(run, teacher, data, "data", held_out, eval_source)
        X = dataset.X
        chosen_on = (None, None, None) if validation_data is None else self._validation_rows(
            run, teacher, validation_data, X.columns.tolist(), source)  # read before DATA is labelled: fail fast
        targets = run.label(teacher, X, "label_real", "real rows", source)
        rows = Rows(schema=dataset.schema, X_train=X, T_train=targets, dataset=dataset, source=source,
                    held_out=held_out, eval_source=eval_source)
        rows.X_val, rows.T_val, rows.validation_source = chosen_on
        labels = teacher.classes_[np.argmax(targets, axis=1)] if teacher.is_classifier else None
        test_idx = None
        train_idx = np.arange(len(X))
        if held_out is None and dataset.held_out is not None:  # a --max-rows sample: held out by each row's hash
            train_idx, test_idx = np.flatnonzero(~dataset.held_out), np.flatnonzero(dataset.held_out)
            rows.stratified = False
            if not len(train_idx) or not len(test_idx):
                raise InputError(f"data file {source}: --max-rows kept {len(train_idx):,} training and "
                                 f"{len(test_idx):,} held-out rows; both are needed")
        elif held_out is None:
            train_idx, test_idx, rows.stratified = data_mod.holdout_split(len(X), settings.data.test_size,
                                                                          settings.seed, stratify=labels)
            if teacher.is_classifier and not rows.stratified:
                run.note("a teacher class has a single row: the hold-out split is not stratified")
        # The training rows are laid out as [fit rows | validation rows], the split train_student would
        # make, so that it takes both as views instead of copies; the rows read are split column by
        # column and given up, so the run holds its real rows once however many there are.
        split = None if rows.X_val is not None else search_mod.validation_split(
            len(train_idx), settings, labels[train_idx] if labels is not None else None)
        if split is not None:
            train_idx = np.concatenate([train_idx[split[0]], train_idx[split[1]]])
            rows.validation = (slice(0, len(split[0])), slice(len(split[0]), len(train_idx)))
        parts = data_mod.take_rows(X, [train_idx] if test_idx is None else [train_idx, test_idx], consume=True)
        rows.X_train, rows.T_train = parts[0], targets[train_idx]
        if test_idx is not None:
            rows.X_test, rows.T_test = parts[1], targets[test_idx]
            rows.y_test = dataset.y.iloc[test_idx].reset_index(drop=True) if dataset.y is not None else None
        return rows

    @staticmethod
    def _validation_rows(run: Run, teacher: Teacher, validation_data: Source, columns: list[str],
                         data_source: str) -> tuple[pd.DataFrame, np.ndarray, str]:
        """``--validation-data``'s rows, the teacher's targets for them and their path: rows to choose the
        student on in place of a share of DATA's (which the teacher has usually trained on, and answers
        with their labels); they never enter training."""
        dataset, source = run.read(validation_data, teacher, "read_validation_data", "validation rows")
        if dataset.X.columns.tolist() != columns:
            raise InputError(f"data file {source}: its columns do not line up with {data_source}'s")
        if len(dataset.X) < search_mod.MIN_VALIDATION_ROWS:
            raise InputError(f"data file {source}: holds {len(dataset.X):,} rows; validation rows are at least "
                             f"{search_mod.MIN_VALIDATION_ROWS}")
        return dataset.X, run.label(teacher, dataset.X, "label_validation", "validation rows", source), source

    @staticmethod
    def _stream(run: Run, teacher: Teacher, rows: Rows) -> RowStream | None:
        """Every training row of a ``--max-rows`` sample's file, with the teacher's targets, for a student
        that trains past memory; None when the rows were not sampled."""
        dataset = rows.dataset
        if dataset.training_side is None:
            return None

        def chunks():
            for read, raw in dataset.training_side():
                X = dataset.features(raw, teacher, rows.source)
                yield X, run.answers(teacher, X, rows.source)
                run.progress.advance(read, dataset.n_rows)

        return RowStream(chunks, replaces=len(rows.X_train))

    def train(self, run: Run, teacher: Teacher, rows: Rows, device: str) -> TrainedStudent:
        time_left = None
        if run.settings.budget.time_budget is not None:
            # scoring takes a few teacher and student calls on the held-out rows: keep its share back
            n_test = len(rows.held_out.X) if rows.held_out is not None else len(rows.X_test)
            allowance = _scoring_allowance(run.stages.seconds, rows.dataset.n_rows, n_test,
                                           _one_row_seconds(teacher, rows.X_train))
            time_left = run.settings.budget.time_budget - run.elapsed() - allowance
        trained = train_student(teacher, rows.X_train, rows.T_train, rows.schema, run.settings,
                                progress=run.progress, device=device, time_left=time_left,
                                validation=rows.validation, cluster=run.cluster,
                                stream=self._stream(run, teacher, rows),
                                validation_rows=None if rows.X_val is None else (rows.X_val, rows.T_val))
        run.notes.extend(trained.notes)
        return trained


class FewShot(Mode):
    name = "few-shot"

    def rows(self, run: Run, teacher: Teacher, data: Source | None, eval_data: Source | None,
             validation_data: Source | None = None) -> Rows:
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

    def rows(self, run: Run, teacher: Teacher, data: Source | None, eval_data: Source | None,
             validation_data: Source | None = None) -> Rows:
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
        return train_data_free(teacher, run.settings, space=rows.space, progress=run.progress, device=device,
                               cluster=run.cluster)


def _scoring_allowance(seconds: dict[str, float], n_rows: int, n_test: int, one_row_s: float) -> float:
    """Seconds to keep for scoring: the teacher's calls in the latency probes (:data:`LATENCY_CALLS`) on the
    held-out rows, timed by labelling the real rows, and on one row, ``one_row_s`` each (on a busy machine
    the one-row calls cost the most), plus :data:`WRITING_SECONDS` for the students and the outputs."""
    batch = seconds.get("label_real", 0.0) * min(n_test, LATENCY_BATCH_ROWS) / max(1, n_rows)
    return LATENCY_CALLS[0] * batch + LATENCY_CALLS[1] * one_row_s + WRITING_SECONDS


def _one_row_seconds(teacher: Teacher, X: pd.DataFrame) -> float:
    """The teacher's time on one row, the median of three calls (one may land on a burst of load)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        teacher.predict(X.iloc[:1])
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


# -- training ------------------------------------------------------------------------------------

def _check_synthetic_rows_fit(n: int, teacher: Teacher, schema: Schema, settings: Settings) -> None:
    setting = "synthetic_rows" if settings.generator.synthetic_rows is not None else "synthetic_ratio"
    outputs = len(teacher.classes_) if teacher.is_classifier else 1
    budget_mod.check_rows_fit(n, len(schema.names), outputs, setting)


def _fit_kwargs(teacher: Teacher, schema: Schema) -> dict[str, Any]:
    return {"classes": teacher.classes_ if teacher.is_classifier else None, "categorical": schema.categorical}


def _on_cluster(student: Any, cluster: Any) -> Any:
    """``student``, told to train on ``cluster`` (``--dask``) when its family can (a gbdt student: through
    ``xgboost.dask``); the others train here."""
    if cluster is not None and hasattr(type(student), "cluster"):
        student.cluster = cluster
    return student


def train_data_free(teacher: Teacher, settings: Settings, *, space: FeatureSpace | None = None,
                    progress: Progress | None = None, device: str | None = None,
                    cluster: Any = None) -> TrainedStudent:
    """Train a student without real rows: rows sampled from the teacher's trees
    (:class:`~tabcompress.generators.forest.ForestSampler`), labelled by the teacher, optionally through
    ``selection.rounds`` rounds of bounded-disagreement selection. With ``cluster``
    (:class:`tabcompress.cluster.Cluster`) the teacher labels the rows on its workers."""
    check_settings(settings)
    stages = Stages(progress or Progress())
    space = space or feature_space(teacher)
    schema = space.schema
    n = settings.generator.synthetic_rows if settings.generator.synthetic_rows is not None else DATA_FREE_ROWS
    if n < 1:
        raise SettingError("synthetic_rows", "must be >= 1 for a data-free run: the synthetic rows are all it has")
    _check_synthetic_rows_fit(n, teacher, schema, settings)
    student = student_class(settings.student_name)
    sampler = ForestSampler(space, trees_per_row=settings.generator.forest_trees)
    empty = schema.conform(pd.DataFrame({c: [] for c in schema.names}))
    no_targets = np.zeros((0, len(teacher.classes_))) if teacher.is_classifier else np.zeros(0)
    result = train_with_selection(
        make=lambda: _on_cluster(student.from_settings(settings, device=device), cluster),
        fit_kwargs=_fit_kwargs(teacher, schema),
        label=lambda rows: label_rows(teacher, rows, chunk_rows=settings.budget.label_chunk_rows, cluster=cluster),
        generator=sampler,
        X_real=empty, T_real=no_targets, n_synthetic=n, seed=settings.seed, stage=stages.run,
        student_name=settings.student_name, settings=SelectionRule.from_settings(settings))
    info = {"name": "forest", "trees_per_row": sampler.trees_per_row, "teacher_space": space.describe()}
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
    student_cls = student_class(settings.student_name)

    def make():
        return student_cls.from_settings(settings, device=device)

    baseline = None
    if settings.output.baseline:
        with stages.run("baseline_fit", "training the prototypes-only baseline", f"{len(prototypes):,} rows"):
            baseline = make().fit(prototypes, T_prototypes, **fit_kwargs)
    n = settings.generator.synthetic_rows if settings.generator.synthetic_rows is not None else FEW_SHOT_ROWS
    _check_synthetic_rows_fit(n, teacher, schema, settings)
    with stages.run("generate", "growing rows around the prototypes", f"{n:,} rows"):
        grown = synthesize_around_prototypes(teacher, prototypes, schema, n, random_state=settings.seed)
    rows = pd.concat([prototypes, grown.X], ignore_index=True)
    with stages.run("student_fit", f"training the {settings.student_name} student",
                    f"{len(prototypes):,} prototypes + {len(grown.X):,} grown rows"):
        student = make().fit(rows, np.concatenate([T_prototypes, grown.T]),
                             sample_weight=np.concatenate([np.ones(len(prototypes)), grown.weight]), **fit_kwargs)
    info = {"name": "few-shot", **grown.info}
    return TrainedStudent(student=student, baseline=baseline, generator=None, generator_info=info,
                          n_synthetic=int(len(grown.X)), timings_s=stages.seconds,
                          X_synth=grown.X, T_synth=grown.T)


def train_student(teacher: Teacher, X_train: pd.DataFrame, T_train: np.ndarray, schema: Schema,
                  settings: Settings, *, generator: Any = None, progress: Progress | None = None,
                  device: str | None = None, time_left: float | None = None,
                  validation: tuple[Any, Any] | None = None, cluster: Any = None,
                  stream: RowStream | None = None,
                  validation_rows: tuple[pd.DataFrame, np.ndarray] | None = None) -> TrainedStudent:
    """The training half of a run with real rows: validation rows, synthetic rows, teacher labels, the
    search for the student (:mod:`tabcompress.methods.search`), the chosen student trained on every
    training row (unless that fit agrees less with the teacher on the validation rows than the one judged:
    :func:`_refit_or_chosen`), and the baseline.

    ``T_train`` holds the teacher's soft targets for ``X_train``. ``--validation-size`` of the rows are kept
    aside to choose on; the generator is fitted on the others. A ``generator`` that is already fitted is
    used as it is (its fit is skipped), so a caller who distils several teachers or students from the same
    rows — the benchmark does — fits it once (fitted on every training row, it has seen the validation
    rows). Otherwise the generator comes from the cache (``generator.cache``) or is fitted and stored there.

    ``time_left`` (default: ``budget.time_budget``) is the seconds this call may take; the run is then
    planned to fit (see :mod:`tabcompress.methods.budget`).

    ``validation`` gives the fit rows and the validation rows of ``X_train`` (index arrays or slices) as
    :func:`tabcompress.methods.search.validation_split` would choose them; slices are taken as views, not
    copied (a run with real rows lays its training rows out so). ``validation_rows`` (``--validation-data``:
    rows and the teacher's soft targets for them) are chosen on instead, and every row of ``X_train`` is a
    fit row; they never enter training.

    With ``cluster`` (:class:`tabcompress.cluster.Cluster`, ``--dask``) the teacher labels the synthetic rows
    on the cluster's workers, and a gbdt student boosts there; everything else runs here.

    ``stream`` (a ``--max-rows`` run) holds every training row of the file, of which ``X_train`` is a
    sample: when the search chooses a family that trains past memory (gbdt), its last fit trains on
    the stream in place of the sample.
    """
    check_settings(settings)
    started = time.perf_counter()
    progress = progress or Progress()
    stages = Stages(progress)
    notes: list[str] = []

    def note(message: str) -> None:
        notes.append(message)
        progress.note(message)

    device = device or run_device(settings)
    if time_left is None:
        time_left = settings.budget.time_budget
    reused = generator is not None and hasattr(generator, "schema_")
    name = generator.name if generator is not None else resolve_generator(settings, schema, teacher)
    fit_kwargs = _fit_kwargs(teacher, schema)
    deadline = started + time_left if time_left is not None else None

    # -- the validation rows ------------------------------------------------------------------------
    if validation is None and validation_rows is None:
        labels = teacher.classes_[np.argmax(T_train, axis=1)] if teacher.is_classifier else None
        validation = search_mod.validation_split(len(X_train), settings, labels)
    split = None if validation_rows is not None else validation
    families = search_mod.families(settings)
    X_val = T_val = None
    if validation_rows is not None:
        X_fit, T_fit = X_train, T_train
        X_val, T_val = validation_rows
    elif split is None:
        X_fit, T_fit = X_train, T_train
        if len(families) > 1 or settings.target.sizing:
            why = ("--validation-size 0 keeps no validation rows" if settings.data.validation_size == 0 else
                   f"{len(X_train):,} training rows are too few to keep validation rows aside")
            note(f"{why}: the student is trained as set{', a tree' if len(families) > 1 else ''}, without a search")
            families = ["tree"] if len(families) > 1 else families
    else:
        X_fit, X_val = data_mod.take_rows(X_train, split)
        T_fit, T_val = T_train[split[0]], T_train[split[1]]
    reference = student_class(families[0]).size_of(settings.replace(student=families[0]))

    fits_left = [1]  # student fits still to come; set from the plan

    def make(family: str, params: dict[str, Any], time_limit: float | None = None):
        cls = student_class(family)
        if cls.takes_time_limit and deadline is not None and time_limit is None:
            # A student that stops when told (an MLP: its epochs are not known in advance) gets its share
            # of what is left under a budget, and stops there keeping its best weights so far.
            time_limit = (deadline - time.perf_counter()) / max(1, fits_left[0])
            fits_left[0] -= 1
        if time_limit is not None and cls.takes_time_limit:
            time_limit = max(0.5, time_limit)
        return _on_cluster(cls.from_settings(settings.replace(student=family, **params), device=device,
                                             time_limit=time_limit), cluster)

    def label(rows: pd.DataFrame) -> np.ndarray:
        return label_rows(teacher, rows, chunk_rows=settings.budget.label_chunk_rows, cluster=cluster)

    # the ratio is per training row: the shipped student trains on all of them
    n_synthetic = 0 if name == "none" else settings.generator.n_synthetic(len(X_train))
    _check_synthetic_rows_fit(n_synthetic, teacher, schema, settings)
    rounds = settings.selection.rounds
    search_fits = 0 if X_val is None else len(search_mod.data_options(name, n_synthetic)) + 1 + (
        len(search_mod.sizes(families[0], settings)) if search_mod.searches_sizes(settings) else 0)

    # -- the plan, when there is a budget -----------------------------------------------------------
    cache = GeneratorCache(settings.generator.cache_dir) if settings.generator.cache else None
    candidate = None if reused or name == "none" else build_generator(name, settings, device=device, teacher=teacher)
    time_limited = candidate is not None and any(p.takes_time_limit for p in candidate.parts)
    if time_left is not None and candidate is not None and any(p.name == "tvae" for p in candidate.parts):
        progress.note("time budget: TVAE trains all its --epochs (it takes no time limit); lower them if it overruns")
    if time_limited and cache is not None and fit_is_cached(cache, candidate, X_fit, schema,
                                                            random_state=settings.seed):
        time_limited = False  # a cached fit costs no training time
    if time_left is not None and time_limited:
        with stages.run("preload", "importing the generator's libraries"):
            for part in candidate.parts:
                part.preload()
    plan = rates = None
    selection = settings.selection

    # the rows --generator auto uses, which the search may weigh against the settings' (see default_rows below)
    default = resolve_generator(settings.replace(generator="auto"), schema, teacher) if X_val is not None else None
    weighs_default = default is not None and default not in (name, "none") and not trains(default)

    def timed_rates(sample: Any = None, student: float | None = None) -> budget_mod.Rates:
        """The rates, timed now, per row the plan counts; ``sample``: the fitted generator's draw;
        ``student``: that rate kept."""
        probe_limit = BASELINE_SHARE * 0.5 * (settings.budget.time_budget or 60.0)
        timed = budget_mod.measure_rates(X_fit, T_fit, label=label, sample=sample, student_rate=student,
                                         fit=lambda X, T: make(families[0], reference, probe_limit).fit(
                                             X, T, **fit_kwargs))
        if X_val is not None and student is None:  # the search fits the student several times over
            fits = SEARCH_FITS + (DEFAULT_ROWS_FITS if weighs_default else 0.0)
            timed = replace(timed, student=timed.student * fits)
        if weighs_default:  # and may draw and label as many rows again
            timed = replace(timed, label=2 * timed.label, sample=2 * timed.sample)
        return timed

    if time_left is not None and n_synthetic:
        with stages.run("plan", "planning the time budget", f"{time_left:.0f} s left"):
            rates = timed_rates()
            plan = budget_mod.plan(time_left - (time.perf_counter() - started), n_real=len(X_fit),
                                   n_synthetic=n_synthetic, rounds=rounds, share=selection.share,
                                   pool=selection.pool, rates=rates, trainable_generator=time_limited)
        n_synthetic, rounds = plan.n_synthetic, plan.rounds
        for message in plan.adjustments:
            progress.note(f"time budget: {message}")
    fits_left[0] = 1 + (rounds if n_synthetic and selection.share > 0 else 0) + search_fits + 1

    # -- the generator ----------------------------------------------------------------------------
    generator_info: dict[str, Any] = {"name": name}
    X_synth, T_synth, selection_info, first = X_fit.iloc[:0], T_fit[:0], None, None
    if name != "none" and n_synthetic > 0:
        if generator is None:  # the candidate, unless the plan gives the generator a time limit
            time_limit = plan.generator_time_limit if plan is not None else None
            generator = candidate if time_limit is None else build_generator(
                name, settings, device=device, time_limit=time_limit, teacher=teacher)
        if reused:
            if generator.schema_.names != schema.names:
                raise ValueError("the fitted generator was fitted on other columns than X_train's")
        else:
            fit_rows = min(len(X_fit), settings.generator.fit_rows or len(X_fit))
            with stages.run("generator_fit", f"fitting {name.upper()}", f"{fit_rows:,} rows"):
                generator, cache_info = fit_generator(generator, X_fit, schema, random_state=settings.seed,
                                                      cache=cache, progress=progress.advance)
            if cache_info:
                generator_info["cache"] = cache_info
            for info in cache_info.values():
                if info.get("note"):
                    progress.note(f"generator cache: {info['note']}")
        generator_info.update(fit_rows=int(generator.n_fit_rows_), reused=bool(reused),
                              **{p.name: p.training_facts() for p in generator.parts if p.trains})
        if plan is not None:
            # The generator is done (perhaps early, or from the cache): plan the rows again with the
            # time actually left, so its unused time goes to rows instead of being lost, and with the
            # rates timed again: its draw can be timed now rather than assumed, and the machine may be
            # busier than when they were first timed. A student that stops when told keeps its rate (its
            # fits share what is left anyway; timing it again could take its whole probe limit).
            kept = rates.student if student_class(families[0]).takes_time_limit else None
            if deadline > time.perf_counter():  # else no rows fit, however fast
                with stages.run("replan", "planning the rows again", "the generator's draw timed"):
                    rates = timed_rates(sample=lambda n: generator.sample(n, random_state=settings.seed),
                                        student=kept)
            requested = settings.generator.n_synthetic(len(X_train))
            replan = budget_mod.plan(deadline - time.perf_counter(), n_real=len(X_fit), n_synthetic=requested,
                                     rounds=selection.rounds, share=selection.share, pool=selection.pool,
                                     rates=rates, trainable_generator=False)
            n_synthetic, rounds = replan.n_synthetic, replan.rounds
            plan.replanned = {"n_synthetic": n_synthetic, "rounds": rounds, "adjustments": replan.adjustments}

        # -- synthetic rows, teacher labels, and the first student on them ---------------------------
        # with validation rows this first student is the search's first candidate
        as_candidate = search_mod.candidate_options(families[0], settings) if X_val is not None else {}
        result = train_with_selection(
            make=lambda: make(families[0], {**reference, **as_candidate}), fit_kwargs=fit_kwargs, label=label,
            generator=generator,
            X_real=X_fit, T_real=T_fit, n_synthetic=n_synthetic, seed=settings.seed, stage=stages.run,
            student_name=families[0], settings=SelectionRule.from_settings(settings, rounds))
        first, X_synth, T_synth = result.student, result.X_synth, result.T_synth
        selection_info = result.info

    # -- the search, then the chosen student on every training row --------------------------------
    searched = None
    if X_val is None:
        chosen_family, chosen_params, n_used, shipped = families[0], reference, len(X_synth), name
        if first is not None:
            student = first
        else:
            with stages.run("student_fit", f"training the {chosen_family} student", f"{len(X_fit):,} real rows"):
                student = make(chosen_family, reference).fit(X_fit, T_fit, **fit_kwargs)
    else:
        pools = {name: (X_synth, T_synth)}  # synthetic rows by generator: the settings', and auto's if tried

        def fit(family: str, params: dict[str, Any], data: search_mod.DataOption) -> Any:
            X, T = _with_synthetic(X_fit, T_fit, *pools.get(data.generator, (X_synth, T_synth)), data.n_synthetic)
            return make(family, {**params, **search_mod.candidate_options(family, settings)}).fit(X, T, **fit_kwargs)

        default_rows = None
        if len(X_synth) and weighs_default:
            # CTGAN's rows (or another generator's) that look unlike the real ones are weighed against the
            # rows a run without --generator would use; those cost seconds, not a generator's training
            def default_rows() -> list[search_mod.DataOption]:
                # under a budget, only where the time left covers drawing, labelling and fitting as many rows
                # again, then the refit: twice what the settings' rows took (timed in this run)
                rows_s = sum(stages.seconds.get(k, 0.0) for k in ("generate", "label_synthetic", "student_fit"))
                if deadline is not None and time.perf_counter() + 2 * rows_s > deadline:
                    note(f"time budget: the rows --generator auto uses ({default}) were not tried")
                    return []
                with stages.run("default_rows", f"fitting {default.upper()}, the rows --generator auto uses",
                                f"{len(X_fit):,} rows"):
                    fitted, _ = fit_generator(build_generator(default, settings, device=device, teacher=teacher),
                                              X_fit, schema, random_state=settings.seed, cache=None)
                    X_more = fitted.sample(len(X_synth), random_state=settings.seed + 1)
                    pools[default] = (X_more, label(X_more))
                generator_info["default"] = {"name": default, "fit_rows": int(fitted.n_fit_rows_)}
                return search_mod.data_options(default, len(X_more))[1:]

        def realism() -> float | None:
            from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

            # on one thread: the detector is small, and on a busy machine its OpenMP threads wait for each
            # other's turn on a core at every step (14 s against 0.3 s on a loaded 2-core machine)
            with threadpool_limits(1):
                return detection_auc(X_fit, X_synth, schema, seed=settings.seed)

        search = search_mod.Search(settings, fit=fit, X_val=X_val, T_val=T_val, n_real=len(X_fit),
                                   classes=teacher.classes_ if teacher.is_classifier else None,
                                   deadline=deadline, note=note, n_train=len(X_train), realism=realism,
                                   default_rows=default_rows)
        options = search_mod.data_options(name, len(X_synth))
        with stages.run("search", "choosing the student on the validation rows",
                        f"{len(X_fit):,} fit rows, {len(X_val):,} validation rows"):
            if first is not None:
                first = search.judge(families[0], reference, options[-1], student=first,
                                     fit_s=stages.seconds.get("student_fit"))
            searched = search.run(options, first)
        if search.detection_auc is not None:  # measured only where the search needed it
            generator_info["detection_auc"] = round(search.detection_auc, 4)
        chosen = searched.chosen
        chosen_family, chosen_params, n_used, shipped = chosen.family, chosen.params, chosen.data.n_synthetic, \
            chosen.generator
        student = make(chosen_family, chosen_params)
        streamed = stream is not None and hasattr(type(student), "stream")
        real = "every training row of the file, streamed," if streamed else f"{len(X_train):,} real"
        if "default" in generator_info:
            generator_info["default"]["used"] = shipped == default
        X_synth, T_synth = pools.get(shipped, (X_synth, T_synth))
        if validation_rows is not None and not streamed and not search_mod.candidate_options(chosen_family, settings):
            student = chosen.student  # trained on every training row already: the validation rows are apart
        else:
            with stages.run("student_refit", f"training the chosen student ({chosen.name}) on every training row",
                            f"{real} + {n_used:,} synthetic rows"):
                X, T = _with_synthetic(X_train, T_train, X_synth, T_synth, n_used)
                if streamed:
                    student.stream = stream
                student = student.fit(X, T, **fit_kwargs)
            if not streamed and validation_rows is None:
                student = _refit_or_chosen(search, searched, student, note)
        if streamed:
            note(f"--max-rows: the {chosen_family} student trained on every training row of the file and the "
                 f"synthetic rows ({student.streamed_rows_:,}, from disk); the search, the generator and the "
                 f"baseline used the sample")
        X_synth, T_synth = X_synth.iloc[:n_used], T_synth[:n_used]
    # the search may prefer the real rows alone, or the rows --generator auto uses
    generator_info["used"] = bool(n_used) and shipped == name

    baseline = None
    if settings.output.baseline:
        with stages.run("baseline_fit", "training the real-rows-only baseline", f"{len(X_train):,} rows"):
            limit = BASELINE_SHARE * time_left if time_left is not None else None
            baseline = make(chosen_family, chosen_params, limit).fit(X_train, T_train, **fit_kwargs)
    budget_info = None
    if time_left is not None:
        budget_info = {"seconds": round(float(time_left), 2), "plan": plan.to_dict() if plan else None,
                       "spent_s": round(time.perf_counter() - started, 2)}
        if hasattr(student, "stop_reason_"):
            budget_info["student_stop_reason"] = student.stop_reason_
    return TrainedStudent(student=student, baseline=baseline, generator=generator,
                          generator_info=generator_info, n_synthetic=int(len(X_synth)),
                          timings_s=stages.seconds, selection=selection_info, budget=budget_info,
                          X_synth=X_synth, T_synth=T_synth, search=searched, notes=notes, validation=split,
                          chosen={"student": chosen_family, **chosen_params,
                                  "generator": shipped if n_used else "none"})


def _refit_or_chosen(search: search_mod.Search, searched: search_mod.SearchResult, refit: Any,
                     note: Any) -> Any:
    """The student to ship: the chosen one trained again on every training row, unless it agrees less with
    the teacher on the validation rows than the chosen one trained on the fit rows alone. It trained on
    those rows, so a loss there means the fit came out worse (a small tree can change its top split when
    rows are added), not that it saw less; then the student that was judged ships."""
    chosen = searched.chosen
    fidelity = search.score(refit)
    kept = fidelity >= chosen.fidelity
    searched.refit = {"validation_fidelity": round(fidelity, 6), "shipped": kept}
    if kept:
        return refit
    note(f"the chosen student ({chosen.name}) trained again on every training row agreed less with the teacher "
         f"on the validation rows ({fidelity:.4f}) than trained on the fit rows alone ({chosen.fidelity:.4f}), "
         f"though it trained on them: it ships as trained on the {searched.fit_rows:,} fit rows")
    return chosen.student


def _with_synthetic(X: pd.DataFrame, T: np.ndarray, X_synth: pd.DataFrame, T_synth: np.ndarray,
                    n: int) -> tuple[Any, np.ndarray]:
    """Real rows plus the first ``n`` synthetic rows, stacked for a student's fit (not copied into one
    frame)."""
    if not n:
        return X, T
    return StackedFrames.of([X, X_synth.iloc[:n]]), np.concatenate([T, T_synth[:n]])
