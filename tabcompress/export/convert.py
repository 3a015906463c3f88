"""A saved student file converted to a format that runs without tabcompress (``tabcompress export``).

:func:`export_file` loads the student, chooses where the files go, and hands the student to
:func:`tabcompress.export.formats.export_student`; a format whose module or package is not installed
is a :class:`~tabcompress.errors.SettingError` on ``to`` that says what to install.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

from tabcompress.errors import SettingError


@contextlib.contextmanager
def _installed(to: str) -> Iterator[None]:
    """Turn a missing module behind format ``to`` into a message naming the format and the fix."""
    from tabcompress.export.formats import FORMATS

    try:
        yield
    except ModuleNotFoundError as exc:
        if exc.name is not None and FORMATS[to].startswith(exc.name):
            raise SettingError("to", f"{to}: this installation of tabcompress has no {to} exporter "
                                     f"({FORMATS[to]} is missing)") from None
        raise SettingError("to", f"{to} needs the Python package {exc.name!r}, which is not installed: "
                                 f"pip install 'tabcompress[export]'") from None


def export_file(student: str | Path, to: str, out: str | Path | None = None, *, safe: bool = False) -> dict[str, Any]:
    """Write the student saved at ``student`` in format ``to`` (``onnx``, ``c``, ``python``) at ``out``
    (default: beside the student, named after it: ``student.onnx``). ``safe`` refuses a pickled
    student. Returns ``{"format": to, "files": [absolute paths written]}``."""
    from tabcompress.export.files import check_out_file, load_student
    from tabcompress.export.formats import default_path, export_student, format_module

    loaded = load_student(student, safe=safe)
    with _installed(to):
        format_module(to)
    path = Path(out) if out is not None else default_path(student, to)
    # A format may write several files (C: the source and its header), all in one directory: check it
    # once, before rendering any of them, so a bad --out leaves none behind.
    check_out_file(path, "out")
    with _installed(to):
        written = export_student(loaded, to, path)
    return {"format": to, "files": [str(Path(p).resolve()) for p in written]}
