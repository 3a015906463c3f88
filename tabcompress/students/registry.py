"""Students by name (``--student``): the registry's students (:data:`tabcompress.registry.STUDENTS`),
built with parameters."""

from __future__ import annotations

from typing import Any

from tabcompress.registry import STUDENTS


def student_names() -> tuple[str, ...]:
    return STUDENTS.names()


def student_class(name: str) -> type:
    return STUDENTS.get(name)


def make_student(name: str, **params: Any):
    """A new, unfitted student called ``name`` with the given parameters."""
    return STUDENTS.get(name)(**params)
