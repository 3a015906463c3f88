"""Students: small models that learn to mimic the teacher, chosen by name with ``--student``
(:mod:`tabcompress.students.registry`). Importing this package imports no student class."""

from __future__ import annotations

from typing import Any

from tabcompress.students.registry import make_student, student_class, student_names


def __getattr__(name: str) -> Any:
    # The classes load on first use: they import numpy (their training imports scikit-learn, XGBoost
    # or torch, inside fit), and listing the names needs none of it.
    classes = {"Student": "tabcompress.students.base", "TreeStudent": "tabcompress.students.tree",
               "MLPStudent": "tabcompress.students.mlp", "GBDTStudent": "tabcompress.students.gbdt",
               "LinearStudent": "tabcompress.students.linear"}
    if name in classes:
        from importlib import import_module

        return getattr(import_module(classes[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GBDTStudent", "LinearStudent", "MLPStudent", "Student", "TreeStudent", "make_student", "student_class",
           "student_names"]
