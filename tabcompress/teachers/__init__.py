"""Teachers: a fitted model loaded from disk behind one interface (see :mod:`tabcompress.teachers.base`),
one module per model family (:mod:`~tabcompress.teachers.sklearn`, :mod:`~tabcompress.teachers.xgboost`)."""

from tabcompress.teachers.base import Teacher
from tabcompress.teachers.labeling import label_rows
from tabcompress.teachers.load import load_teacher

__all__ = ["Teacher", "label_rows", "load_teacher"]
