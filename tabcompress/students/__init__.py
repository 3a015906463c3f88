"""Students: small models that learn to mimic the teacher, chosen by name with ``--student``."""

from __future__ import annotations

from tabcompress.errors import InputError
from tabcompress.students.base import Student
from tabcompress.students.mlp import MLPStudent
from tabcompress.students.tree import TreeStudent

STUDENT_NAMES = ("tree", "mlp")


def make_student(name: str, **options) -> Student:
    """A new, unfitted student called ``name``, built with the options it understands."""
    if name == "tree":
        return TreeStudent(**options)
    if name == "mlp":
        return MLPStudent(**options)
    raise InputError(f"--student: unknown student {name!r}; choose one of {', '.join(STUDENT_NAMES)}")


__all__ = ["STUDENT_NAMES", "MLPStudent", "Student", "TreeStudent", "make_student"]
