"""Evaluation on held-out real rows: fidelity to the teacher, accuracy, size, latency."""

from __future__ import annotations

import pickle
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd


def fidelity(task: str, teacher_pred: np.ndarray, student_pred: np.ndarray) -> dict[str, float]:
    """Agreement with the teacher.

    Classification: share of rows where the student's class equals the teacher's (``fidelity``).
    Regression: R² and RMSE of the student against the teacher's predictions; ``fidelity`` is the R².
    """
    if task == "regression":
        r2, rmse = _r2_rmse(np.asarray(teacher_pred, float), np.asarray(student_pred, float))
        return {"fidelity": r2, "r2": r2, "rmse": rmse}
    return {"fidelity": float(np.mean(np.asarray(teacher_pred) == np.asarray(student_pred)))}


def against_target(task: str, y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy (classification) or R² and RMSE (regression) against the true target."""
    if task == "regression":
        r2, rmse = _r2_rmse(np.asarray(y_true, float), np.asarray(pred, float))
        return {"r2": r2, "rmse": rmse}
    return {"accuracy": float(np.mean(np.asarray(y_true) == np.asarray(pred)))}


def _r2_rmse(reference: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    residual = float(np.sum((reference - pred) ** 2))
    spread = float(np.sum((reference - reference.mean()) ** 2))
    r2 = 1.0 - residual / spread if spread > 0 else (1.0 if residual == 0 else 0.0)
    return r2, float(np.sqrt(residual / len(reference)))


def align_target(y: pd.Series, classes: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """The true labels in the teacher's label space, or ``(None, reason)`` when they do not match.

    A CSV often reads labels as integers while a teacher was fitted on strings, or the other way
    round; values are matched through their text when the raw values do not match.
    """
    values = y.to_numpy()
    known = set(classes.tolist())
    if all(v in known for v in pd.unique(values)):
        return values, None
    by_text = {str(c): c for c in classes}
    as_text = pd.Series(values).map(lambda v: str(int(v)) if isinstance(v, float) and float(v).is_integer() else str(v))
    if as_text.isin(list(by_text)).all():
        return as_text.map(by_text).to_numpy(), None
    unknown = sorted({str(v) for v in as_text if v not in by_text})[:5]
    return None, (f"target values {', '.join(unknown)} are not among the teacher's classes "
                  f"({', '.join(map(str, classes[:10]))}): accuracy is not scored")


class _ByteCounter:
    """A write-only file that counts bytes, so a big teacher is measured without a copy in memory."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data) -> int:
        size = memoryview(data).nbytes  # protocol 5 hands over large arrays as PickleBuffers
        self.count += size
        return size


def serialized_bytes(obj: Any) -> int:
    """Size of ``obj`` pickled with the highest protocol (what joblib stores, uncompressed)."""
    counter = _ByteCounter()
    pickle.dump(obj, counter, protocol=pickle.HIGHEST_PROTOCOL)
    return counter.count


#: the most held-out rows a batch is timed on: rows per second are steady long before, and timing a
#: 300-tree teacher six times on a million rows would be the longest stage of a run
LATENCY_BATCH_ROWS = 10_000
#: timed calls of :func:`latency` by default (each after one warm-up call): on the batch, and on one row
LATENCY_REPEATS = (5, 25)


def latency(predict: Callable[[pd.DataFrame], Any], X: pd.DataFrame, *, batch_repeats: int = LATENCY_REPEATS[0],
            single_repeats: int = LATENCY_REPEATS[1]) -> dict[str, float]:
    """Median wall time of ``predict`` on the first :data:`LATENCY_BATCH_ROWS` rows of ``X`` (batch) and
    on one row, in milliseconds."""
    X = X.iloc[:LATENCY_BATCH_ROWS]
    def timed(frame: pd.DataFrame, repeats: int) -> float:
        predict(frame)  # warm-up: first calls pay for lazy imports and caches
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            predict(frame)
            times.append(time.perf_counter() - start)
        return 1000.0 * statistics.median(times)

    return {
        "batch_rows": int(len(X)),
        "batch_ms": timed(X, batch_repeats),
        "single_row_ms": timed(X.iloc[:1], single_repeats),
    }


def evaluate(teacher, students: dict[str, Any], X_test: pd.DataFrame, teacher_outputs: np.ndarray,
             y_test: pd.Series | None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]:
    """Score ``students`` (e.g. ``{"student": ..., "baseline": ...}``) on the held-out rows.

    ``teacher_outputs`` are the teacher's soft targets for ``X_test``. Returns ``(metrics, teacher
    section, section of the first student, notes)``: fidelity and target scores per model; size,
    complexity and latency of the teacher and of the first student (the one that is shipped).
    """
    task = teacher.task
    teacher_pred = teacher.classes_[np.argmax(teacher_outputs, axis=1)] if teacher.is_classifier else teacher_outputs
    notes: list[str] = []
    y_true = None
    if y_test is not None:
        if teacher.is_classifier:
            y_true, note = align_target(y_test, teacher.classes_)
        else:
            y_true = pd.to_numeric(y_test, errors="coerce").to_numpy(dtype=float)
            note = None
            if np.isnan(y_true).any():
                y_true, note = None, "the target column holds non-numeric or missing values: R² is not scored"
        if note:
            notes.append(note)

    def on_target(pred: np.ndarray) -> dict[str, float]:
        if y_true is None:
            return {}
        return {f"target_{k}": v for k, v in against_target(task, y_true, pred).items()}

    metrics: dict[str, Any] = {}
    for name, model in students.items():
        pred = model.predict(X_test)
        metrics[name] = {**fidelity(task, teacher_pred, pred), **on_target(pred)}
    if y_true is not None:
        metrics["teacher"] = on_target(teacher_pred)

    shipped = next(iter(students.values()))
    teacher_section = {
        "path": str(Path(teacher.source).resolve()) if teacher.source else None,
        "type": teacher.kind,
        "task": task,
        "file_bytes": teacher.source.stat().st_size if teacher.source else None,
        "serialized_bytes": serialized_bytes(teacher.model),
        **teacher.complexity(),
        "latency": latency(teacher.predict, X_test),
    }
    student_section = {
        "type": type(shipped).__name__,
        "serialized_bytes": serialized_bytes(shipped),
        **shipped.complexity(),
        "latency": latency(shipped.predict, X_test),
    }
    if hasattr(shipped, "refinement_"):  # a tree student: say whether its splits were refined
        student_section["refined"] = shipped.refinement_ is not None
        if shipped.refinement_ is not None:
            student_section["refinement"] = shipped.refinement_
    if getattr(shipped, "lookahead_", None):  # a tree student whose root was chosen by lookahead
        student_section["lookahead"] = shipped.lookahead_
    return metrics, teacher_section, student_section, notes
