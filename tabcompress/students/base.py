"""The student contract.

A student is a plain scikit-learn-style estimator (:class:`~tabcompress.students.estimator.Estimator`)
that carries its own preprocessing: it takes the same raw DataFrame as the teacher, and offers
``predict`` (labels in the teacher's label space, or values) and ``predict_proba``. It is fitted on
*soft targets* — the teacher's class probabilities, or its predicted values — so ``fit`` is told the
classes explicitly.

As in imbalanced-learn, the public methods validate and shape once; each student writes ``_fit``,
``_predict_raw`` and ``_complexity``, declares its parameters as dataclass fields with their
constraints (:func:`tabcompress.config.parameter`; :meth:`Student.fit` checks them first), and says in
:meth:`Student.from_settings` how a run's settings become its parameters.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from dataclasses import is_dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from tabcompress.config import check_parameters
from tabcompress.students.estimator import Estimator

if TYPE_CHECKING:
    import pandas as pd

    from tabcompress.config import Settings


def is_frame(X: Any) -> bool:
    """Whether ``X`` is a pandas DataFrame, without importing pandas (were it not imported, ``X`` could
    not be one)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(X, pandas.DataFrame)


class Student(Estimator, ABC):
    """Base class of distilled students.

    A fitted student holds numpy arrays and plain values only, and its module imports numpy alone:
    loading one and predicting imports neither scikit-learn, scipy, XGBoost nor torch (pandas comes with
    the DataFrame it is given). Training may import what it needs, inside ``_fit``.
    """

    #: the name ``--student`` knows it by (tabcompress/students/registry.py)
    name: str = ""
    #: whether it trains with torch, so that a run resolves ``--device`` for it
    uses_torch: bool = False
    #: whether it can stop when a time limit runs out, so a time budget gives each fit a share
    takes_time_limit: bool = False
    #: the sizes a search tries (``--target-fidelity``, ``--max-size``, ``--student auto``), smallest first,
    #: each as the options that set it (tabcompress/methods/search.py)
    sizes: tuple[dict[str, Any], ...] = ()
    #: ways of training the same size that a search tries against each other (classification only, and
    #: only while the options they set are ``auto``), each as the options that set it
    variants: tuple[dict[str, Any], ...] = ()

    @classmethod
    def size_of(cls, settings: "Settings") -> dict[str, Any]:
        """The options of ``settings`` that set this student's size, as in :attr:`sizes`."""
        return {}

    @classmethod
    def more_sizes(cls, fitted: Sequence[tuple[dict[str, Any], "Student", int, float]],
                   max_bytes: int | None) -> list[dict[str, Any]]:
        """Sizes beyond :attr:`sizes` worth a search's fits, worked out from students of this family
        already fitted on the same rows (each: its options, the student, its pickled bytes and its
        validation fidelity) and the size bound (None: none); by default none."""
        return []

    @classmethod
    def from_settings(cls, settings: "Settings", *, device: str | None = None,
                      time_limit: float | None = None) -> "Student":
        """A new student with a run's settings; ``device`` is the run's resolved torch device and
        ``time_limit`` the seconds its fit may take (students that cannot stop early ignore both)."""
        raise NotImplementedError

    def check_parameters(self) -> None:
        """Raise :class:`~tabcompress.errors.SettingError` naming the first parameter with a value it
        cannot take (:meth:`fit` calls it first; a run calls it before any work). Students are dataclasses
        whose fields declare their constraints (:func:`tabcompress.config.parameter`)."""
        if is_dataclass(self):
            check_parameters(self)

    def fit(self, X: pd.DataFrame, targets: np.ndarray, *, classes: Sequence[Any] | None = None,
            categorical: Sequence[str] = (), sample_weight: np.ndarray | None = None) -> "Student":
        """Fit on rows ``X`` (a DataFrame, or :class:`~tabcompress.students.encoding.StackedFrames` of
        several) and the teacher's soft targets.

        ``classes`` given: classification, ``targets`` has shape ``(n, len(classes))``.
        ``classes`` None: regression, ``targets`` has shape ``(n,)``.
        ``categorical`` names the columns of ``X`` to treat as categories.
        ``sample_weight``: one non-negative weight per row (to weigh real rows against synthetic ones,
        say); None weighs every row alike.
        """
        from tabcompress.students.encoding import StackedFrames

        self.check_parameters()
        if not is_frame(X) and not isinstance(X, StackedFrames):
            raise TypeError("X must be a pandas DataFrame")
        targets = np.asarray(targets, dtype=np.float64)
        if len(X) != len(targets):
            raise ValueError(f"X has {len(X)} rows but targets has {len(targets)}")
        if len(X) == 0:
            raise ValueError("cannot fit a student on zero rows")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (len(X),):
                raise ValueError(f"sample_weight must have shape ({len(X)},), got {sample_weight.shape}")
            if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0) or sample_weight.sum() <= 0:
                raise ValueError("sample_weight must be finite, non-negative and not all zero")
        if classes is not None:
            self.classes_ = np.asarray(classes)
            if targets.ndim != 2 or targets.shape[1] != len(self.classes_):
                raise ValueError(f"targets must have shape (n, {len(self.classes_)}) for "
                                 f"{len(self.classes_)} classes, got {targets.shape}")
            self.task_ = "binary" if len(self.classes_) == 2 else "multiclass"
        else:
            targets = targets.ravel() if targets.ndim == 2 and targets.shape[1] == 1 else targets
            if targets.ndim != 1:
                raise ValueError(f"regression targets must be one-dimensional, got shape {targets.shape}")
            self.task_ = "regression"
        unknown = [c for c in categorical if c not in X.columns]
        if unknown:
            raise ValueError(f"categorical columns not in X: {unknown}")
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.categorical_ = [str(c) for c in categorical]
        self._fit(X, targets, sample_weight)
        return self

    # -- prediction ----------------------------------------------------------------------------
    def _check_X(self, X: Any) -> pd.DataFrame:
        if not hasattr(self, "feature_names_in_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet")
        names = list(self.feature_names_in_)
        if is_frame(X):
            missing = [c for c in names if c not in X.columns]
            if missing:
                raise ValueError(f"X is missing {len(missing)} column(s) the student needs: {', '.join(missing)}")
            return X  # students read their columns by name
        array = np.asarray(X, dtype=object)
        if array.ndim != 2 or array.shape[1] != len(names):
            raise ValueError(f"X must be a DataFrame or a 2-D array with {len(names)} columns")
        import pandas as pd

        return pd.DataFrame(array, columns=names).infer_objects()

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (in the teacher's label space) or regression values."""
        return self._labels(self._predict_raw(self._check_X(X)))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        self._need_classes()
        return self._probabilities(self._predict_raw(self._check_X(X)))

    def predict_with_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(predict(X), predict_proba(X))`` from one pass over the rows (batch scoring wants both)."""
        self._need_classes()
        raw = self._predict_raw(self._check_X(X))
        return self._labels(raw), self._probabilities(raw)

    def _need_classes(self) -> None:
        if self.task_ == "regression":
            raise AttributeError("a regression student has no predict_proba")

    def _labels(self, raw: np.ndarray) -> np.ndarray:
        if self.task_ == "regression":
            return raw.ravel()
        return self.classes_[np.argmax(raw, axis=1)]

    @staticmethod
    def _probabilities(raw: np.ndarray) -> np.ndarray:
        raw = np.clip(raw, 0.0, None)
        total = raw.sum(axis=1, keepdims=True)
        uniform = np.full_like(raw, 1.0 / raw.shape[1])
        return np.divide(raw, total, out=uniform, where=total > 0)

    def complexity(self) -> dict[str, int]:
        """Size figures for the report: nodes and leaves, or parameters."""
        return self._complexity()

    def portable(self) -> dict[str, Any]:
        """The fitted student as plain data, the description every export format is written from
        (:mod:`tabcompress.students.portable`)."""
        from tabcompress.students import portable

        if not hasattr(self, "feature_names_in_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet")
        columns, encoding = portable.columns_and_encoding(self.encoder_, self.feature_names_in_)
        model, output = self._portable_model()
        classes = None if self.task_ == "regression" else [portable.plain(c) for c in self.classes_]
        return {"format": portable.FORMAT, "version": portable.VERSION, "family": self.name, "task": self.task_,
                "classes": classes, "columns": columns, "encoding": encoding, "model": model, "output": output}

    def fitted_settings(self) -> dict[str, Any]:
        """Settings (by option name) whose value the fit settled, for the report: a tree's refinement
        passes and starts, say. None left open by default."""
        return {}

    # -- for subclasses ------------------------------------------------------------------------
    @abstractmethod
    def _fit(self, X: pd.DataFrame, targets: np.ndarray, sample_weight: np.ndarray | None) -> None:
        """Fit preprocessing and model; ``self.task_``, ``self.categorical_`` are set."""

    @abstractmethod
    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Scores ``(n, n_classes)`` (any non-negative scale) or values ``(n,)``."""

    @abstractmethod
    def _complexity(self) -> dict[str, int]:
        ...

    @abstractmethod
    def _portable_model(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ``model`` and ``output`` parts of :meth:`portable` (:mod:`tabcompress.students.portable`)."""


def most_probable_one_hot(targets: np.ndarray) -> np.ndarray:
    """The teacher's most probable class of each row, one-hot: what a student grown "on classes" learns
    instead of the probability vectors ``targets``."""
    return np.eye(targets.shape[1])[np.argmax(targets, axis=1)]
