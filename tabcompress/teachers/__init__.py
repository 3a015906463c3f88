"""Teachers: a fitted model loaded from disk behind one interface (see :mod:`tabcompress.teachers.base`),
one module per model family (:mod:`~tabcompress.teachers.sklearn`, :mod:`~tabcompress.teachers.xgboost`)."""

from tabcompress.teachers.base import Teacher, load_teacher
from tabcompress.teachers.labeling import label_rows

__all__ = ["Teacher", "label_rows", "load_teacher"]
