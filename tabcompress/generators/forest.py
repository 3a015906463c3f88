"""Rows sampled from the teacher's own trees, as a generator for runs that also have real rows.

Data-free runs sample their rows this way (:mod:`tabcompress.datafree`); here the same rows join a run
with real rows — ``--generator munge+forest``, say — brought inside the real rows' schema (their
categories and observed ranges). A forest's trees record how many training rows reached each node, so
the rows follow the teacher's training data, which may be far larger than the rows at hand.
"""

from __future__ import annotations

import pandas as pd

from tabcompress.generators.base import Generator, ProgressCallback


class TeacherTreesGenerator(Generator):
    """Rows from the regions of the teacher's training data (see :class:`~tabcompress.datafree.ForestSampler`).

    Parameters
    ----------
    teacher : the :class:`~tabcompress.teachers.Teacher` whose trees are sampled.
    trees_per_row : trees each row descends (``--forest-trees``).
    """

    name = "forest"

    def __init__(self, teacher=None, trees_per_row: int = 16):
        self.teacher = teacher
        self.trees_per_row = trees_per_row

    def _fit(self, X: pd.DataFrame, random_state: int | None, progress: ProgressCallback | None) -> None:
        from tabcompress.datafree import ForestSampler
        from tabcompress.teacher_space import feature_space

        if self.teacher is None:
            raise ValueError("the forest generator samples a teacher's trees: build it with teacher=")
        self.sampler_ = ForestSampler(feature_space(self.teacher), trees_per_row=self.trees_per_row)
        self.n_fit_rows_ = 0  # nothing is learnt from the rows; the trees are the model
        if progress is not None:
            progress(1, 1)

    def _sample(self, n: int, random_state: int | None) -> pd.DataFrame:
        rows = self.sampler_.sample(n, random_state=random_state)
        return rows[self.schema_.names]  # Generator.sample brings them inside the real rows' schema
