"""``tabcompress export``: a fitted student as a model that runs without tabcompress.

Each format is a module with ``SUFFIXES`` (the files it writes, the first being the one ``--out``
names) and ``render(portable, name) -> {suffix: text or bytes}``, written from the student's portable
description (:mod:`tabcompress.students.portable`) alone. Files are written under temporary names and
renamed into place when all are complete.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from tabcompress.errors import SettingError

#: ``--to`` → the module that writes it
FORMATS = {"onnx": "tabcompress.export.onnx_format", "c": "tabcompress.export.c_format",
           "python": "tabcompress.export.python_format"}


def format_module(to: str) -> Any:
    if to not in FORMATS:
        raise SettingError("to", f"must be one of {', '.join(FORMATS)}, got {to!r}")
    return import_module(FORMATS[to])


def default_path(student_path: str | Path, to: str) -> Path:
    """Where ``export`` writes without ``--out``: beside the student, named after it (``student.onnx``)."""
    student_path = Path(student_path)
    return student_path.with_name(student_path.stem + format_module(to).SUFFIXES[0])


def export_student(student: Any, to: str, out: str | Path) -> list[Path]:
    """Write ``student`` in format ``to`` at ``out`` (and, for C, the header beside it); returns the
    paths written."""
    from tabcompress.export.files import write_file_atomic

    module = format_module(to)
    out = Path(out)
    stem = out.name[: -len(module.SUFFIXES[0])] if out.name.endswith(module.SUFFIXES[0]) else out.name
    contents = module.render(student.portable(), stem)
    paths = []
    for suffix, content in contents.items():
        path = out if suffix == module.SUFFIXES[0] else out.with_name(stem + suffix)

        def write(tmp: str, content=content) -> None:
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(tmp, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as fh:
                fh.write(content)

        paths.append(write_file_atomic(path, write, option="out"))
    return paths
