"""The TSC score: how well a set of synthetic rows teaches a small student to mimic the teacher.

Liu, Fusi & Mackey ("Teacher-student compression with generative adversarial networks", 2018) judge
a generator by what it is for in distillation: draw rows from it, label them with the teacher, train a
student on those rows alone, and measure that student on held-out real data. Their *TSC score* is
that student's test accuracy, read against what the teacher's own data achieves (they use it to rank
GANs of images and of tabular data, and argue it rewards both diversity and class affinity, which the
Inception Score does not).

Here, for tabular data, :func:`tsc_score` and its two callers do the same with these choices:

* The reference student is small and fixed: by default CART's depth-6 tree (``make_student("tree",
  max_depth=6, refine_passes=0, lookahead=1)``). Refinement and lookahead stay off so the score
  measures the rows, not our optimiser; ``student`` / ``student_options`` choose another.
* The same student is trained twice, on the teacher's soft targets (probabilities, or values for a
  regressor): once on the synthetic rows, once on the real training rows. Both are scored on the same
  held-out real rows, which neither saw. The score is the synthetic-trained student's figure divided
  by the real-trained one's: 1 means the synthetic rows teach as well as the real rows they stand in
  for; below 1, worse; above 1, better (more rows, or rows where the teacher's boundary is).

Where this departs from Liu et al.:

* The denominator is a student of the same size trained on the real rows, not the teacher. A
  depth-6 tree cannot reach a 500-tree forest on any rows, so a ratio to the teacher would mostly
  measure the student's capacity; a ratio to the real-trained student isolates the rows.
* The headline figure is *fidelity* (agreement with the teacher's class; R² to the teacher's values
  for regression), which is what distillation optimises and needs no true labels. Accuracy against
  the true target (R² for regression), Liu et al.'s figure, is reported as a second ratio when the
  true labels are known.
* The student learns the teacher's soft targets (a regression of the probability vector), as
  tabcompress's students do, rather than the teacher's hard labels.
* Rows are not matched in number: the synthetic rows are used as given (``max_synthetic_rows`` caps
  them). Twenty times the real rows can score above 1 where the same number would not; both counts
  are in the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from tabcompress import data as data_mod
from tabcompress.config import Number, Whole, check
from tabcompress.errors import InputError, first_line
from tabcompress.evaluation import against_target, align_target, fidelity
from tabcompress.progress import Progress
from tabcompress.report import jsonable
from tabcompress.schema import Schema
from tabcompress.students import make_student, student_class
from tabcompress.teachers import Teacher, load_teacher
from tabcompress.teachers.labeling import DEFAULT_CHUNK_ROWS, label_rows

#: the reference tree's settings; ``random_state`` is the run's seed
REFERENCE_TREE_OPTIONS: dict[str, Any] = {"max_depth": 6, "refine_passes": 0, "lookahead": 1}


def reference_student_options(student: str = "tree", student_options: dict[str, Any] | None = None,
                              seed: int = 0) -> dict[str, Any]:
    """The options the reference student is built with: the defaults for ``student``, the seed,
    then ``student_options`` over them."""
    options = dict(REFERENCE_TREE_OPTIONS) if student == "tree" else {}
    options["random_state"] = seed
    options.update(student_options or {})
    return options


# -- public entry points ----------------------------------------------------------------------
def tsc_score(teacher: Teacher | Any, X_synthetic: pd.DataFrame, X_real_train: pd.DataFrame,
              X_real_test: pd.DataFrame, y_real_test: pd.Series | np.ndarray | None = None, *,
              student: str = "tree", student_options: dict[str, Any] | None = None, seed: int = 0,
              categorical: Sequence[str] = (), max_synthetic_rows: int | None = None,
              label_chunk_rows: int = DEFAULT_CHUNK_ROWS) -> dict[str, Any]:
    """The TSC score of ``X_synthetic`` (see the module's docstring for the definition).

    ``teacher`` is a :class:`Teacher` or a fitted model it can wrap. ``X_real_train`` are the real
    rows the synthetic rows stand in for; ``X_real_test`` real rows neither student sees, with their
    true labels ``y_real_test`` when known. All three frames need the same feature columns
    (``X_synthetic``'s are reordered to match; extra columns are ignored). ``categorical`` names
    columns to treat as categories besides text, bool and category columns.

    The teacher labels all three sets of rows here; :func:`score_generated` takes labels already
    computed. Returns the report described in :func:`score_generated`.
    """
    if not isinstance(teacher, Teacher):
        teacher = Teacher.from_model(teacher)
    _check_settings(student, student_options, seed, max_synthetic_rows)
    X_real_train = _frame(X_real_train, "real training rows")
    X_real_test = _match_columns(_frame(X_real_test, "held-out rows"), X_real_train, "held-out rows")
    X_synthetic = _match_columns(_frame(X_synthetic, "synthetic rows"), X_real_train, "synthetic rows")
    X_synthetic = _cap_rows(X_synthetic, max_synthetic_rows, seed)

    def label(X: pd.DataFrame, where: str) -> np.ndarray:
        return _label(teacher, X, where, label_chunk_rows)

    return _score(teacher, X_synthetic, label(X_synthetic, "synthetic rows"), X_real_train,
                  label(X_real_train, "real training rows"), X_real_test, label(X_real_test, "held-out rows"),
                  y_real_test, student=student, student_options=student_options, seed=seed,
                  categorical=categorical, max_synthetic_rows=max_synthetic_rows)


def score_generated(teacher: Teacher, X_synth: pd.DataFrame, T_synth: np.ndarray, X_train: pd.DataFrame,
                    T_train: np.ndarray, X_test: pd.DataFrame, T_test: np.ndarray,
                    y_test: pd.Series | np.ndarray | None = None, *, student: str = "tree",
                    student_options: dict[str, Any] | None = None, seed: int = 0,
                    categorical: Sequence[str] = (), max_synthetic_rows: int | None = None) -> dict[str, Any]:
    """The TSC score from rows the teacher has already labelled (``T_*``: its soft targets, as
    :func:`tabcompress.teachers.labeling.label_rows` returns them), so a caller that has them — the distill
    pipeline — does not label twice.

    Returns a JSON-able dict:

    * ``task``; ``classes`` (classification, else None);
    * ``score``: ``fidelity_ratio`` (the TSC score on fidelity), ``accuracy_ratio`` (on accuracy, R²
      for regression; None without true labels), ``fidelity_floor`` (classification: the fidelity of
      always answering the teacher's most frequent held-out class — on imbalanced data both students
      start near it; None for regression, whose floor is R² 0), ``fidelity_metric``, ``accuracy_metric``;
    * ``synthetic`` and ``real``: the two reference students: ``train_rows``, ``fidelity`` (plus
      ``fidelity_rmse`` for regression), ``target_accuracy`` or ``target_r2`` / ``target_rmse`` when
      the true labels are known, and the student's size (``complexity``); ``synthetic`` also counts
      ``copies_of_test_rows``, synthetic rows identical to a held-out row (a sign the generator saw
      them);
    * ``teacher``: its own accuracy (or R², RMSE) on the held-out rows, when the labels are known;
    * ``test_rows``; ``student``: ``name`` and ``options``; ``seed``; ``notes``.

    A ratio is None (with a note) when the real-trained student's figure is not above 0.
    """
    _check_settings(student, student_options, seed, max_synthetic_rows)
    X_train = _frame(X_train, "real training rows")
    X_test = _match_columns(_frame(X_test, "held-out rows"), X_train, "held-out rows")
    X_synth = _match_columns(_frame(X_synth, "synthetic rows"), X_train, "synthetic rows")
    T_synth = np.asarray(T_synth, dtype=np.float64)
    if max_synthetic_rows is not None and len(X_synth) > max_synthetic_rows:
        keep = _capped_index(len(X_synth), max_synthetic_rows, seed)
        X_synth, T_synth = X_synth.iloc[keep].reset_index(drop=True), T_synth[keep]
    return _score(teacher, X_synth, T_synth, X_train, T_train, X_test, T_test, y_test, student=student,
                  student_options=student_options, seed=seed, categorical=categorical,
                  max_synthetic_rows=max_synthetic_rows)


def score_files(synthetic_csv: str | Path, teacher_path: str | Path, real_csv: str | Path, *,
                target: str | None = None, categorical: Sequence[str] = (), test_size: float = 0.2,
                seed: int = 0, safe: bool = False, student: str = "tree",
                student_options: dict[str, Any] | None = None, max_synthetic_rows: int | None = None,
                label_chunk_rows: int = DEFAULT_CHUNK_ROWS, progress: Progress | None = None) -> dict[str, Any]:
    """The TSC score of the rows in ``synthetic_csv`` for the teacher in ``teacher_path``, against the
    real rows in ``real_csv`` (what ``tabcompress score`` runs). ``progress`` hears what the user should
    know as it happens (that a pickle teacher runs its code).

    Both CSVs are aligned to the teacher's features as ``distill`` aligns its data; the synthetic CSV
    may lack the target column, and its other extra columns are ignored. The real rows are split as
    ``distill`` splits them (``test_size`` held out, stratified by the teacher's class, ``seed``), so
    with the same real CSV, ``test_size`` and ``seed`` the held-out rows are the ones ``distill``
    scores on. The synthetic rows should come from a generator that never saw those held-out rows
    (fitted on the training share, or on other data); ``synthetic.copies_of_test_rows`` flags exact
    copies.

    Returns the report of :func:`score_generated` plus ``files``, ``data`` (row counts, split, ignored
    columns) and ``settings``. Bad input raises :class:`InputError` naming the file and column.
    """
    _check_settings(student, student_options, seed, max_synthetic_rows)
    check("test_size", test_size, Number(0.0, 1.0, open_low=True, open_high=True))
    synthetic_csv, teacher_path, real_csv = Path(synthetic_csv), Path(teacher_path), Path(real_csv)
    teacher = load_teacher(teacher_path, safe=safe, progress=progress)

    real = data_mod.align(data_mod.read_csv(real_csv), teacher, target=target, categorical=categorical,
                          source=str(real_csv))
    synth_frame = data_mod.read_csv(synthetic_csv)
    # The synthetic rows need not carry the target: name it only when the file has it.
    synth_target = target if target is not None and target in map(str, synth_frame.columns) else None
    synthetic = data_mod.align(synth_frame, teacher, target=synth_target, categorical=categorical,
                               source=str(synthetic_csv))
    where = f"data file {synthetic_csv}"
    X_synth = _match_columns(synthetic.X, real.X, where)
    n_read = len(X_synth)
    X_synth = _cap_rows(X_synth, max_synthetic_rows, seed)

    # Label the real rows first and split on the teacher's classes, as distill does.
    T_real = _label(teacher, real.X, f"data file {real_csv}", label_chunk_rows)
    stratify = teacher.classes_[np.argmax(T_real, axis=1)] if teacher.is_classifier else None
    train_idx, test_idx, stratified = data_mod.holdout_split(len(real.X), test_size, seed, stratify=stratify)
    T_synth = _label(teacher, X_synth, where, label_chunk_rows)
    X_train = real.X.iloc[train_idx].reset_index(drop=True)
    X_test = real.X.iloc[test_idx].reset_index(drop=True)
    y_test = real.y.iloc[test_idx].reset_index(drop=True) if real.y is not None else None

    report = _score(teacher, X_synth, T_synth, X_train, T_real[train_idx], X_test, T_real[test_idx], y_test,
                    student=student, student_options=student_options, seed=seed,
                    categorical=tuple(categorical), max_synthetic_rows=max_synthetic_rows)
    notes = list(real.notes)
    if teacher.is_classifier and not stratified:
        notes.append("a teacher class has a single row: the hold-out split is not stratified")
    if len(X_synth) < n_read:
        notes.append(f"scored {len(X_synth):,} of the {n_read:,} synthetic rows (--max-synthetic-rows)")
    report["notes"] = notes + report["notes"]
    files = {"synthetic": synthetic_csv, "teacher": teacher_path, "real": real_csv}
    report["files"] = {name: str(path.resolve()) for name, path in files.items()}  # absolute, as distill's report
    report["teacher"] = {"path": report["files"]["teacher"], "type": teacher.kind, **report["teacher"]}
    report["data"] = {
        "real_rows": int(len(real.X)),
        "train_rows": int(len(X_train)),
        "test_rows": int(len(X_test)),
        "synthetic_rows_read": int(n_read),
        "synthetic_rows_scored": int(len(X_synth)),
        "features": int(real.X.shape[1]),
        "target": real.target,
        "stratified": bool(stratified),
        "ignored_columns": {"real": real.ignored_columns, "synthetic": synthetic.ignored_columns},
    }
    report["settings"] = {
        "target": target, "categorical": list(categorical), "test_size": test_size, "seed": seed, "safe": safe,
        "student": student, "student_options": jsonable(student_options or {}),
        "max_synthetic_rows": max_synthetic_rows,
    }
    return report


# -- the shared core --------------------------------------------------------------------------
def _score(teacher: Teacher, X_synth: pd.DataFrame, T_synth: np.ndarray, X_train: pd.DataFrame,
           T_train: np.ndarray, X_test: pd.DataFrame, T_test: np.ndarray, y_test: Any, *, student: str,
           student_options: dict[str, Any] | None, seed: int, categorical: Sequence[str],
           max_synthetic_rows: int | None) -> dict[str, Any]:
    """Train the reference student on each set of labelled rows and score both on the held-out rows."""
    task = teacher.task
    classes = teacher.classes_ if teacher.is_classifier else None
    T_synth, T_train, T_test = (_targets(T, X, teacher, where) for T, X, where in (
        (T_synth, X_synth, "synthetic rows"), (T_train, X_train, "real training rows"),
        (T_test, X_test, "held-out rows")))
    for X, where in ((X_synth, "synthetic rows"), (X_train, "real training rows"), (X_test, "held-out rows")):
        if len(X) == 0:
            raise InputError(f"{where}: there are none to score with")
    notes: list[str] = []
    y_true, note = _true_target(teacher, y_test, len(X_test))
    if note:
        notes.append(note)
    teacher_pred = classes[np.argmax(T_test, axis=1)] if classes is not None else T_test
    # Text, bool and category columns are categories whatever the caller names (as distill treats them).
    categories = Schema.infer(X_train, categorical=set(categorical)).categorical
    options = reference_student_options(student, student_options, seed)

    def trained_on(X: pd.DataFrame, T: np.ndarray) -> dict[str, Any]:
        model = _build_student(student, options).fit(X, T, classes=classes, categorical=categories)
        pred = model.predict(X_test)
        figures = fidelity(task, teacher_pred, pred)
        out: dict[str, Any] = {"train_rows": int(len(X)), "fidelity": figures["fidelity"]}
        if task == "regression":
            out["fidelity_rmse"] = figures["rmse"]
        if y_true is not None:
            out.update({f"target_{k}": v for k, v in against_target(task, y_true, pred).items()})
        out["complexity"] = model.complexity()
        return out

    synthetic, real = trained_on(X_synth, T_synth), trained_on(X_train, T_train)
    synthetic["copies_of_test_rows"] = _copies(X_synth, X_test)
    if synthetic["copies_of_test_rows"]:
        notes.append(f"{synthetic['copies_of_test_rows']:,} synthetic rows are copies of held-out real rows: "
                     "the generator may have seen them, which flatters the score")
    accuracy_key = "target_r2" if task == "regression" else "target_accuracy"
    fidelity_ratio = _ratio(synthetic["fidelity"], real["fidelity"], "fidelity", notes)
    accuracy_ratio = None
    if y_true is not None:
        accuracy_ratio = _ratio(synthetic[accuracy_key], real[accuracy_key], accuracy_key.replace("_", " "), notes)
    # What a student gets by always answering the teacher's most frequent class: on imbalanced data
    # fidelity starts high, and both figures should be read against this.
    floor = None
    if classes is not None:
        floor = float(np.max(np.unique(teacher_pred, return_counts=True)[1]) / len(teacher_pred))
        if real["fidelity"] <= floor:
            notes.append(f"the real-trained student's fidelity ({real['fidelity']:.4f}) is no better than always "
                         f"answering the teacher's most frequent class ({floor:.4f}): the ratio says little")
    teacher_section = {}
    if y_true is not None:
        teacher_section = {f"target_{k}": v for k, v in against_target(task, y_true, teacher_pred).items()}
    return jsonable({
        "task": task,
        "classes": list(classes) if classes is not None else None,
        "score": {
            "fidelity_ratio": fidelity_ratio,
            "accuracy_ratio": accuracy_ratio,
            "fidelity_floor": floor,
            "fidelity_metric": "r2 to the teacher" if task == "regression" else "agreement with the teacher",
            "accuracy_metric": ("r2" if task == "regression" else "accuracy") if y_true is not None else None,
        },
        "synthetic": synthetic,
        "real": real,
        "teacher": teacher_section,
        "test_rows": int(len(X_test)),
        "student": {"name": student, "options": options},
        "seed": seed,
        "max_synthetic_rows": max_synthetic_rows,
        "notes": notes,
    })


# -- helpers ----------------------------------------------------------------------------------
def _check_settings(student: str, student_options: dict[str, Any] | None, seed: int,
                    max_synthetic_rows: int | None) -> None:
    student_class(student)  # names the setting when the student is unknown
    if student_options is not None and not isinstance(student_options, dict):
        raise InputError(f"student_options must be a dict of the student's settings, "
                         f"got {type(student_options).__name__}")
    check("seed", seed, Whole(0, 2**32 - 1))
    check("max_synthetic_rows", max_synthetic_rows, Whole(1, none=True))
    # its parameters checked now, so that a bad --max-depth is refused before the files are read
    _build_student(student, reference_student_options(student, student_options, int(seed))).check_parameters()


def _build_student(student: str, options: dict[str, Any]) -> Any:
    try:
        return make_student(student, **options)
    except TypeError as exc:  # an option the student does not take
        raise InputError(f"student options for {student!r}: {exc}") from None


def _frame(X: Any, where: str) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise InputError(f"{where}: expected a pandas DataFrame, got {type(X).__name__}")
    X = X.copy()
    X.columns = [str(c) for c in X.columns]
    return X.reset_index(drop=True)


def _match_columns(X: pd.DataFrame, reference: pd.DataFrame, where: str) -> pd.DataFrame:
    """``X``'s columns in ``reference``'s order; a missing column, or text where the reference holds
    numbers, is an InputError naming ``where`` and the column."""
    missing = [c for c in reference.columns if c not in X.columns]
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise InputError(f"{where}: missing {len(missing)} feature column(s) the real rows have: {shown}")
    X = X[list(reference.columns)].copy()
    for name in X.columns:
        ref, col = reference[name], X[name]
        numeric_ref = pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref)
        if not numeric_ref or (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)):
            continue
        converted = pd.to_numeric(col, errors="coerce")
        bad = col[converted.isna() & col.notna()]
        if len(bad):
            raise InputError(f"{where}: column {name!r} holds text ({str(bad.iloc[0])[:40]!r}) where the real "
                             "rows hold numbers")
        X[name] = converted
    return X


def _capped_index(n: int, cap: int, seed: int) -> np.ndarray:
    """``cap`` of ``n`` row numbers drawn without replacement from ``seed``, in their order."""
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def _cap_rows(X: pd.DataFrame, cap: int | None, seed: int) -> pd.DataFrame:
    if cap is None or len(X) <= cap:
        return X
    return X.iloc[_capped_index(len(X), cap, seed)].reset_index(drop=True)


def _label(teacher: Teacher, X: pd.DataFrame, where: str, chunk_rows: int) -> np.ndarray:
    try:
        return label_rows(teacher, X, chunk_rows=chunk_rows)
    except InputError as exc:  # the teacher said what went wrong, naming itself: add the rows' file
        raise InputError(f"{where}: {exc}") from exc
    except (ValueError, TypeError, KeyError) as exc:  # the teacher rejects the rows: say so on one line
        first = first_line(exc)
        raise InputError(f"{where}: the teacher cannot predict on it ({type(exc).__name__}: {first})") from exc


def _targets(T: Any, X: pd.DataFrame, teacher: Teacher, where: str) -> np.ndarray:
    """Check that ``T`` holds the teacher's soft targets for the rows of ``X``."""
    T = np.asarray(T, dtype=np.float64)
    shape = (len(X), len(teacher.classes_)) if teacher.is_classifier else (len(X),)
    if T.shape != shape:
        raise ValueError(f"{where}: teacher targets have shape {T.shape}, expected {shape}")
    return T


def _true_target(teacher: Teacher, y: Any, n_rows: int) -> tuple[np.ndarray | None, str | None]:
    """The held-out rows' true labels in the teacher's label space, or ``(None, why)``."""
    if y is None:
        return None, "no true labels for the held-out rows: only fidelity is scored"
    y = pd.Series(np.asarray(y) if not isinstance(y, pd.Series) else y.to_numpy())
    if len(y) != n_rows:
        raise InputError(f"the held-out rows number {n_rows} but their true labels {len(y)}")
    if teacher.is_classifier:
        return align_target(y, teacher.classes_)
    values = pd.to_numeric(y, errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        return None, "the true target holds non-numeric or missing values: R² is not scored"
    return values, None


def _copies(X_synth: pd.DataFrame, X_test: pd.DataFrame) -> int:
    """How many synthetic rows equal a held-out row in every column (numbers compared as floats)."""
    def hashes(X: pd.DataFrame) -> np.ndarray:
        frame = X.copy()
        for name in frame.columns:
            if pd.api.types.is_numeric_dtype(frame[name]):  # 3 and 3.0 are the same value
                frame[name] = frame[name].astype(np.float64)
            else:
                frame[name] = frame[name].astype(str).where(frame[name].notna(), None)
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()

    return int(np.isin(hashes(X_synth), hashes(X_test)).sum())


#: below this, a figure of the real-trained student makes its ratio swing with every row (R² on a hard target)
UNSTABLE_BELOW = 0.2


def _ratio(synthetic: float, real: float, what: str, notes: list[str]) -> float | None:
    if real <= 0:
        notes.append(f"the real-trained student's {what} is {real:.4f}: no ratio")
        return None
    if real < UNSTABLE_BELOW:
        notes.append(f"the real-trained student's {what} is only {real:.4f}: its ratio is unstable, "
                     "read the two figures instead")
    return synthetic / real
