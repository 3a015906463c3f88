"""Batch scoring: a student's predictions for every row of a CSV file, in chunks.

The file is read ``chunk_rows`` rows at a time (only the student's columns are parsed), each chunk is
scored and written out before the next is read, so memory stays flat however many rows the file
holds. The student's numeric columns are read as float64 and its categorical columns as text, then
matched to its categories (:func:`student_frame`), so that a chunk reads the same whatever pandas
would have guessed from its rows alone.
"""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path
from typing import IO, Any

import pandas as pd

from tabcompress.config import DEFAULT_CHUNK_ROWS, Whole, check
from tabcompress.data import missing_columns, read_csv_chunks, read_header
from tabcompress.errors import SettingError

#: the first column of the output; with ``proba``, one ``proba_<class>`` column per class follows
PREDICTION_COLUMN = "prediction"


def student_columns(student: Any) -> tuple[list[str], list[str]]:
    """The student's input columns, numeric and categorical, each in the student's order."""
    categorical = {str(c) for c in student.categorical_}
    names = [str(c) for c in student.feature_names_in_]
    return [n for n in names if n not in categorical], [n for n in names if n in categorical]


def category_lookup(student: Any) -> dict[str, dict[str, Any]]:
    """For each categorical column whose categories are not all text (numbers or bools the student saw
    in a column pandas read as such), the category each text form stands for: ``"1"`` → ``1``, ``"3"``
    → ``3.0``, ``"True"`` / ``"true"`` → ``True``. Text columns need none: their text is the category."""
    from tabcompress.students.portable import plain

    encoder = student.encoder_
    lookup: dict[str, dict[str, Any]] = {}
    for name, categories in zip(encoder.categorical_columns_, encoder.categories_):
        if all(isinstance(c, str) for c in categories):
            continue
        table: dict[str, Any] = {}
        for category in categories:
            for form in _text_forms(plain(category)):
                table.setdefault(form, category)
        lookup[str(name)] = table
    return lookup


def _text_forms(value: Any) -> list[str]:
    forms = [str(value)]
    if isinstance(value, bool):
        forms += [str(value).lower(), str(value).upper()]
    elif isinstance(value, float) and value.is_integer():
        forms.append(str(int(value)))
    elif isinstance(value, int):
        forms.append(str(float(value)))
    return forms


def student_frame(chunk: pd.DataFrame, lookup: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """``chunk`` with each categorical column of ``lookup`` matched to the student's categories; text
    that stands for no category (an unseen value) is kept as it is, so it stays unseen, not missing."""
    if not lookup:
        return chunk
    chunk = chunk.copy()
    for name, table in lookup.items():
        column = chunk[name]
        matched = column.map(table)
        chunk[name] = matched.where(matched.notna(), column)
    return chunk


def output_columns(student: Any, proba: bool) -> list[str]:
    """The output's header: ``prediction``, then with ``proba`` ``proba_<class>`` per class."""
    from tabcompress.students.portable import plain

    extra = [f"proba_{plain(c)}" for c in student.classes_] if proba else []
    return [PREDICTION_COLUMN, *extra]


def predict_csv(student: Any, data: str | Path, out: str | Path | None = None, *, proba: bool = False,
                chunk_rows: int = DEFAULT_CHUNK_ROWS, safe: bool = False,
                stream: IO[str] | None = None) -> dict[str, Any]:
    """Write ``student``'s prediction for every row of CSV ``data`` as CSV, rows in the file's order.

    ``student``: a fitted student or the path of one (``safe`` refuses pickles). ``data`` needs the
    student's columns (any order; others are ignored); ``.csv.gz`` and the other compressions pandas
    infers from the name are read as well. Output columns: ``prediction`` (the class label, or the
    value), and with ``proba`` one ``proba_<class>`` column per class (classification only).

    With ``out``, the CSV is written under a temporary name beside it and renamed into place once
    complete (gzip-compressed when the name ends in ``.gz``), so a failure leaves no partial file.
    Without it, rows go to ``stream`` (default stdout) chunk by chunk, as they are scored.

    Returns ``{"rows", "columns", "out", "seconds"}``.
    """
    from tabcompress.export.files import check_out_file, load_student, write_file_atomic

    start = time.perf_counter()
    check("chunk_rows", chunk_rows, Whole(1))  # the options first, before any file is read
    if out is not None:
        check_out_file(out, "out")  # before any row is read: a bad --out fails at once
    if isinstance(student, (str, Path)):
        student = load_student(student, safe=safe)
    if proba and student.task_ == "regression":
        raise SettingError("proba", "needs a classifier; this student is a regressor")
    numeric, categorical = student_columns(student)
    names = [str(c) for c in student.feature_names_in_]
    missing_columns(read_header(data), names, data, "the student")
    chunks = read_csv_chunks(data, names, numbers=numeric, text=categorical, chunk_rows=chunk_rows)
    lookup = category_lookup(student)
    columns = output_columns(student, proba)
    rows = 0

    def write_rows(fh: IO[str]) -> None:
        nonlocal rows
        for chunk in chunks:
            X = student_frame(chunk, lookup)
            if proba:
                labels, probabilities = student.predict_with_proba(X)
            else:
                labels, probabilities = student.predict(X), None
            scored = pd.DataFrame({PREDICTION_COLUMN: labels})
            for j, name in enumerate(columns[1:]):
                scored[name] = probabilities[:, j]
            scored.to_csv(fh, header=rows == 0, index=False)
            rows += len(scored)

    if out is None:
        write_rows(stream if stream is not None else sys.stdout)
    else:
        def write(tmp: str) -> None:
            opener = gzip.open if str(out).endswith(".gz") else open
            with opener(tmp, "wt", encoding="utf-8", newline="") as fh:
                write_rows(fh)

        write_file_atomic(out, write, option="out")
    return {"rows": rows, "columns": columns, "out": None if out is None else str(Path(out).resolve()),
            "seconds": time.perf_counter() - start}
