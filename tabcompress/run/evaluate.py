"""Checking a saved student against its teacher on a CSV file: the nightly drift check.

:func:`evaluate_files` reads the file in chunks (memory stays flat however long it is), labels each
chunk with the teacher and scores it with the student, and reports fidelity (agreement with the
teacher's class; R² to its values for regression) and, where the file has the true target, accuracy
(R² for regression) of both, with the same measures and names as ``distill``'s report
(:mod:`tabcompress.evaluation.metrics`). What it keeps per row is one or two numbers (class indices,
or values), so ten million rows cost a few hundred megabytes at most.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabcompress.config import DEFAULT_CHUNK_ROWS, default, option_field
from tabcompress.data import missing_columns, numbers_for_teacher, read_csv_chunks, read_header
from tabcompress.errors import FidelityGateError, InputError, SettingError
from tabcompress.evaluation.metrics import against_target, align_target, fidelity
from tabcompress.progress import Progress
from tabcompress.report import COLUMNS_BY_POSITION


def check_match(student: Any, teacher: Any, student_where: str, teacher_where: str) -> None:
    """Raise :class:`InputError` unless ``student`` can stand for ``teacher``: the same task, the same
    classes, and only columns the teacher takes (a student distilled from another model fails here)."""
    task = student.task_
    if (task == "regression") != (teacher.task == "regression"):
        def kind(t: str) -> str:
            return "a regressor" if t == "regression" else "a classifier"
        raise InputError(f"{student_where} is {kind(task)} but {teacher_where} is {kind(teacher.task)}: "
                         f"the student was not distilled from this teacher")
    if task != "regression":
        mine, theirs = [str(c) for c in student.classes_], [str(c) for c in teacher.classes_]
        if sorted(mine) != sorted(theirs):
            raise InputError(f"{student_where} predicts classes {', '.join(mine[:10])} but {teacher_where} has "
                             f"{', '.join(theirs[:10])}: the student was not distilled from this teacher")
    if teacher.feature_names is not None:
        taken = set(teacher.feature_names)
        extra = [str(c) for c in student.feature_names_in_ if str(c) not in taken]
        if extra:
            shown = ", ".join(extra[:20]) + (f" and {len(extra) - 20} more" if len(extra) > 20 else "")
            raise InputError(f"{student_where} needs {len(extra)} column(s) {teacher_where} does not take: {shown}; "
                             f"the student was not distilled from this teacher")


def find_target(header: list[str], target: str | None, teacher: Any, data: str | Path) -> str | None:
    """The true-label column, by ``distill``'s rule (:func:`tabcompress.data.align`): ``target`` when
    given (it must exist and not be a feature), else a column named ``target`` that is not a feature."""
    features = teacher.feature_names or []
    if target is not None:
        if target not in header:
            raise SettingError("target", f"{target}: no such column in {data}")
        if target in features:
            raise SettingError("target", f"{target}: the teacher uses this column as a feature")
        return target
    return "target" if "target" in header and "target" not in features else None


def evaluate_files(student: Any, teacher: Any, data: str | Path, *, target: str | None = None,
                   min_fidelity: float | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                   label_chunk_rows: int = default("label_chunk_rows"), safe: bool = False,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Fidelity of ``student`` to ``teacher`` on every row of CSV ``data``, and accuracy of both where
    the file holds the true target; returns the report (JSON-able).

    ``student`` and ``teacher`` are paths (``safe`` refuses pickles) or loaded ones (a teacher may also be
    the fitted model itself). The file needs the
    teacher's and the student's columns; other columns are ignored. ``target`` names the true-label
    column (default: ``target`` when present, as ``distill`` has it). A student and teacher that do
    not match (task, classes, columns) are an :class:`InputError`.

    Report: ``student`` (path, family, task, classes), ``teacher`` (path, type, task), ``data`` (path,
    rows, target), ``metrics`` (``student``: ``fidelity`` (and ``r2``, ``rmse`` for regression), with
    the target ``target_accuracy`` or ``target_r2`` and ``target_rmse``; ``teacher``: the same target
    scores), ``gate`` (``min_fidelity``, ``passed``; None without ``min_fidelity``), ``notes`` and
    ``seconds``. Below ``min_fidelity`` a :class:`FidelityGateError` carrying the report is raised.
    """
    from tabcompress.config import Whole, check
    from tabcompress.export.files import load_student
    from tabcompress.run.predict import category_lookup, student_columns, student_frame
    from tabcompress.students.portable import plain
    from tabcompress.teachers import Teacher
    from tabcompress.teachers.labeling import label_rows
    from tabcompress.teachers.load import load_teacher

    start = time.perf_counter()
    progress = progress or Progress()
    check("min_fidelity", min_fidelity, option_field("min_fidelity").metadata["constraint"])
    check("chunk_rows", chunk_rows, Whole(1))  # before any file is read
    check("label_chunk_rows", label_chunk_rows, option_field("label_chunk_rows").metadata["constraint"])
    student_path = Path(student) if isinstance(student, (str, Path)) else None
    teacher_path = Path(teacher) if isinstance(teacher, (str, Path)) else getattr(teacher, "source", None)
    with progress.stage("loading the student and the teacher"):
        if student_path is not None:
            student = load_student(student_path, safe=safe)
        if isinstance(teacher, (str, Path)):
            teacher = load_teacher(teacher_path, safe=safe, progress=progress)
        elif not isinstance(teacher, Teacher):  # a fitted model itself
            teacher = Teacher.from_model(teacher)
    student_where = f"student file {student_path}" if student_path else "the student"
    teacher_where = f"teacher file {teacher_path}" if teacher_path else "the teacher"
    check_match(student, teacher, student_where, teacher_where)

    header = read_header(data)
    target = find_target(header, target, teacher, data)
    if teacher.feature_names is not None:
        teacher_columns = list(teacher.feature_names)
    else:  # fitted without names: the file's columns in order, as distill takes them
        teacher_columns = [c for c in header if c != target]
        if len(teacher_columns) != teacher.n_features:
            raise InputError(f"data file {data}: has {len(teacher_columns)} feature column(s) besides the target "
                             f"but the teacher was fitted on {teacher.n_features} unnamed features")
    student_names = [str(c) for c in student.feature_names_in_]
    missing_columns(header, teacher_columns, data, "the teacher")
    missing_columns(header, student_names, data, "the student")
    numeric, categorical = student_columns(student)
    columns = list(dict.fromkeys(teacher_columns + student_names + ([target] if target else [])))
    chunks = read_csv_chunks(data, columns, numbers=numeric, text=categorical, chunk_rows=chunk_rows)
    lookup = category_lookup(student)

    classify = teacher.task != "regression"
    if classify:
        # the student's class positions → the teacher's, matched through their text
        position = {str(c): i for i, c in enumerate(teacher.classes_)}
        to_teacher = np.array([position[str(c)] for c in student.classes_])
        student_classes = pd.Index(student.classes_)
    teacher_parts, student_parts, target_parts = [], [], []
    target_note = None
    where = f"data file {data}"
    with progress.stage("scoring the rows with the teacher and the student", str(data)):
        for chunk in chunks:
            chunk = student_frame(chunk, lookup)
            soft = label_rows(teacher, numbers_for_teacher(chunk[teacher_columns], teacher, where),
                              chunk_rows=label_chunk_rows)
            predicted = student.predict(chunk[student_names])
            if classify:
                teacher_parts.append(np.argmax(soft, axis=1).astype(np.int32))
                student_parts.append(to_teacher[student_classes.get_indexer(predicted)].astype(np.int32))
            else:
                teacher_parts.append(np.asarray(soft, dtype=np.float64))
                student_parts.append(np.asarray(predicted, dtype=np.float64))
            if target is not None and target_note is None:
                values, target_note = _target_values(chunk[target], teacher, classify)
                target_parts.append(values)

    teacher_pred, student_pred = np.concatenate(teacher_parts), np.concatenate(student_parts)
    task = teacher.task
    metrics: dict[str, Any] = {"student": fidelity(task, teacher_pred, student_pred)}
    notes = [] if teacher.feature_names is not None else [COLUMNS_BY_POSITION]
    if target is None:
        notes.append("no target column: accuracy against the true target is not scored")
    elif target_note is not None:
        notes.append(target_note)
    else:
        y = np.concatenate(target_parts)
        if classify and len(np.unique(y)) == 1:
            # distill refuses such a target (almost always the wrong column); a day's rows may hold one class
            notes.append(f"target column {target!r} holds a single class ({teacher.classes_[y[0]]}): accuracy on "
                         f"one class can mislead; is it the right column?")
        metrics["student"].update({f"target_{k}": v for k, v in against_target(task, y, student_pred).items()})
        metrics["teacher"] = {f"target_{k}": v for k, v in against_target(task, y, teacher_pred).items()}
    fidelity_value = metrics["student"]["fidelity"]
    gate = None if min_fidelity is None else {"min_fidelity": min_fidelity,
                                              "passed": bool(fidelity_value >= min_fidelity)}
    report = {
        "student": {"path": str(student_path.resolve()) if student_path else None, "family": student.name,
                    "task": student.task_,
                    "classes": None if not classify else [plain(c) for c in student.classes_]},
        "teacher": {"path": str(Path(teacher_path).resolve()) if teacher_path else None, "type": teacher.kind,
                    "task": teacher.task},
        "data": {"path": str(Path(data).resolve()), "rows": int(len(teacher_pred)), "target": target},
        "metrics": metrics,
        "gate": gate,
        "notes": notes,
        "seconds": time.perf_counter() - start,
    }
    if gate is not None and not gate["passed"]:
        raise FidelityGateError(f"student fidelity {fidelity_value:.4f} is below --min-fidelity {min_fidelity}",
                                result=report)
    return report


def _target_values(y: pd.Series, teacher: Any, classify: bool) -> tuple[np.ndarray | None, str | None]:
    """One chunk's true targets as the teacher's class positions (or values), or ``(None, reason)``
    when they cannot be scored (values that are no class, missing cells)."""
    if classify:
        labels, note = align_target(y.reset_index(drop=True), teacher.classes_)
        if labels is None:
            return None, note
        return pd.Index(teacher.classes_).get_indexer(labels).astype(np.int32), None
    values = pd.to_numeric(y, errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        return None, "the target column holds non-numeric or missing values: R² is not scored"
    return values, None


def render_summary(report: dict[str, Any]) -> list[str]:
    """The report in a few plain lines, for stderr."""
    student, metrics = report["student"], report["metrics"]
    scored = metrics["student"]
    data = report["data"]
    lines = [f"{student['family']} student ({student['task']}) against {report['teacher']['type']}, scored on "
             f"{data['rows']:,} rows of {data['path']}"]
    if student["task"] == "regression":
        lines.append(f"fidelity (R² to the teacher) {scored['fidelity']:.4f}, RMSE to the teacher {scored['rmse']:.4g}")
    else:
        lines.append(f"fidelity (agreement with the teacher) {scored['fidelity']:.4f}")
    if "teacher" in metrics:
        name = "R² to the target" if student["task"] == "regression" else "accuracy"
        key = "target_r2" if student["task"] == "regression" else "target_accuracy"
        lines.append(f"{name} (column {data['target']!r}): student {scored[key]:.4f}, "
                     f"teacher {metrics['teacher'][key]:.4f}")
    gate = report["gate"]
    if gate is not None:
        lines.append(f"fidelity gate ≥ {gate['min_fidelity']}: {'passed' if gate['passed'] else 'FAILED'}")
    lines += [f"note: {note}" for note in report["notes"]]
    return lines
