"""Students by name (``--student``). A new student is a :class:`~tabcompress.students.base.Student`
subclass with a ``name`` and one line here; the contract test in tests/test_contract.py then runs it
through every check."""

from __future__ import annotations

from typing import Any

from tabcompress.registry import Registry

STUDENTS = Registry("student", {
    "tree": "tabcompress.students.tree:TreeStudent",
    "mlp": "tabcompress.students.mlp:MLPStudent",
})


def student_names() -> tuple[str, ...]:
    return STUDENTS.names()


def student_class(name: str) -> type:
    return STUDENTS.get(name)


def make_student(name: str, **params: Any):
    """A new, unfitted student called ``name`` with the given parameters."""
    return STUDENTS.get(name)(**params)
