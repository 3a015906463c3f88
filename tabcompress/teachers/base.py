"""The teacher interface: a fitted model behind one face, whatever its family.

A :class:`Teacher` knows its task (binary, multiclass, regression), its classes, the feature names
it expects, and answers ``predict`` / ``predict_proba`` / ``soft_targets`` on a DataFrame whose
columns are already aligned to those names (see :mod:`tabcompress.data`). A tree ensemble also shows
its trees and what its inputs are, which data-free distillation reads
(:mod:`tabcompress.teachers.space`).

Each model family is one subclass in its own module (:mod:`tabcompress.teachers.sklearn`,
:mod:`tabcompress.teachers.xgboost`), listed in :func:`model_families`; :meth:`Teacher.from_model`
picks the one that takes a model. The base class checks the facts a family reads and shapes what it
predicts, so a family writes only how its model answers.
"""

from __future__ import annotations

import contextlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import pandas as pd

from tabcompress.errors import InputError
from tabcompress.registry import TEACHERS

TASKS = ("binary", "multiclass", "regression")
# How one input of the ensemble relates to a raw column: the column's own value, a one-hot indicator
# of one of its categories, or the ordinal code of its category.
NUMERIC, INDICATOR, CODE = 0, 1, 2
# Rows per leaf lookup: the answer is a (rows × trees) int matrix, kept to tens of megabytes.
LEAF_CHUNK_ROWS = 20_000


def model_families() -> tuple[type[Teacher], ...]:
    """The concrete teachers, in the order :meth:`Teacher.from_model` tries them and messages list
    their types. A new model family is one module holding one subclass, registered in
    :data:`tabcompress.registry.TEACHERS`."""
    return tuple(TEACHERS.classes().values())


def supported_types() -> str:
    """The model types tabcompress takes, for messages."""
    names = [name for family in model_families() for name in family.supported_types]
    return ", ".join(names + ["Pipeline ending in one of these"])


def missing_library(module: str, extra: str | None, where: str) -> str:
    """One line for a model that needs a library which is not installed."""
    install = f"pip install 'tabcompress[{extra}]'" if extra else f"pip install {module}"
    return f"{where}: needs {module}, which is not installed; {install}"


def is_catboost_json(path: Path) -> bool:
    """Whether a .json model file is CatBoost's (it opens with ``features_info`` or ``model_info``)
    rather than XGBoost's (which opens with ``learner`` or ``version``)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return False
    keys = re.findall(r'"([A-Za-z_]+)"\s*:', head)
    return bool(keys) and keys[0] in ("features_info", "model_info", "oblivious_trees", "scale_and_bias")


def describe_model(model: Any, bare: str) -> str:
    """How messages and reports name a model: "Pipeline(ColumnTransformer → RandomForestClassifier)"
    for a scikit-learn Pipeline (its steps that are estimators), else ``bare``."""
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return bare
    steps = (type(step).__name__ for _, step in model.steps if not isinstance(step, str) and step is not None)
    return f"Pipeline({' → '.join(steps)})"


def describe_source(source: Path | None) -> str:
    """How messages name the teacher: its file, when it came from one."""
    return f"teacher file {source}" if source else "teacher"


def final_step(model: Any) -> Any:
    """The estimator that predicts: the last step of a scikit-learn Pipeline, else the model itself."""
    from sklearn.pipeline import Pipeline

    return model.steps[-1][1] if isinstance(model, Pipeline) else model


# -- what data-free distillation reads --------------------------------------------------------------
class TreeNodes(NamedTuple):
    """One tree as parallel node arrays, node 0 its root.

    A row goes left at node ``i`` when ``x[feature[i]] <= threshold[i]``; ``feature`` is -1 at leaves
    (whose ``left`` and ``right`` are never followed); ``weight`` is the training weight that reached
    the node (scikit-learn: bootstrap-weighted row counts; XGBoost: hessian cover).
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    weight: np.ndarray


@dataclass(frozen=True)
class RawColumn:
    """A column of the rows the teacher takes; ``categories`` is None for a numeric column."""

    name: str
    categories: list[Any] | None = None
    dtype: str = "float64"


@dataclass
class InputMap:
    """Where each input of the ensemble comes from.

    columns : the raw columns the teacher takes, in its order.
    kind : per input, NUMERIC (a raw column's value), INDICATOR (a one-hot indicator of a category)
        or CODE (the ordinal code of a categorical column).
    column : per input, its raw column's position in ``columns``.
    category : per input, the category's position in its column's categories (indicators; else -1).
    """

    columns: list[RawColumn]
    kind: np.ndarray
    column: np.ndarray
    category: np.ndarray

    @classmethod
    def from_inputs(cls, columns: list[RawColumn], inputs: Sequence[tuple[int, int, int]]) -> InputMap:
        """From one ``(kind, column, category)`` triple per input."""
        table = np.array(inputs, dtype=np.int64).reshape(len(inputs), 3).T.copy()
        return cls(columns=columns, kind=table[0], column=table[1], category=table[2])

    @classmethod
    def identity(cls, names: Sequence[str]) -> InputMap:
        """Input ``j`` is raw numeric column ``j``: a model that takes its columns as they are."""
        return cls.from_inputs([RawColumn(name) for name in names], [(NUMERIC, j, -1) for j in range(len(names))])

    @property
    def n_inputs(self) -> int:
        return len(self.kind)


# -- the interface ----------------------------------------------------------------------------------
class Teacher(ABC):
    """A fitted model with the facts distillation needs.

    Build one with :meth:`from_model` (or :func:`~tabcompress.teachers.load_teacher`), which picks the
    subclass for the model's family.

    Attributes
    ----------
    model : the user's object (estimator, Pipeline, Booster), untouched.
    task : "binary", "multiclass" or "regression".
    classes_ : the class labels, in the order of ``predict_proba``'s columns; None for regression.
    feature_names : the columns the model expects, in order; None when it was fitted without names.
    n_features : how many columns it expects.
    kind : a human-readable type, e.g. "Pipeline(ColumnTransformer → RandomForestClassifier)".
    source : the file it was loaded from, if any.

    A subclass sets ``supported_types`` and implements :meth:`handles`, its constructor (which reads the
    facts above from the model and passes them to this one), ``_predict_proba``, ``_predict_values``
    and :meth:`complexity`; a tree ensemble also ``_leaves``, :meth:`trees` and :meth:`input_map`.
    """

    #: The model types the family takes, as "unsupported model type" messages list them.
    supported_types: tuple[str, ...] = ()
    #: Suffixes of the library's own model files, which the family reads (:meth:`read_file`). None of
    #: them runs code when read, so ``--safe`` takes them.
    file_suffixes: tuple[str, ...] = ()
    #: The library the family's models come from (its top-level module), and the extra of
    #: tabcompress that installs it; None when it is one of tabcompress's own dependencies.
    library: str | None = None
    extra: str | None = None
    #: Whether the weight its trees record at a node is the number of training rows that reached it
    #: (so rows drawn from the trees follow its training data); XGBoost's cover is a sum of hessians.
    counts_rows: bool = False

    def __init__(self, model: Any, *, task: str, classes: Any, feature_names: Sequence[Any] | None,
                 n_features: int, kind: str, source: Path | None = None):
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if task != "regression":
            classes = np.asarray(classes)
            if len(classes) < 2:
                which = f"only one class ({classes[0]!r})" if len(classes) else "no classes"
                raise InputError(f"{describe_source(source)}: the classifier knows {which}")
        self.model = model
        self.task = task
        self.classes_: np.ndarray | None = classes if task != "regression" else None
        self.feature_names: list[str] | None = [str(n) for n in feature_names] if feature_names is not None else None
        self.n_features = int(n_features)
        self.kind = kind
        self.source = source

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def handles(cls, model: Any) -> bool:
        """Whether this family takes ``model``."""
        return False

    @classmethod
    def from_model(cls, model: Any, source: Path | None = None) -> Teacher:
        """Wrap a fitted model in the teacher of its family; an :class:`InputError` when none takes it."""
        for family in model_families():
            if family.handles(model):
                return family(model, source=source)
        found = f"{type(model).__module__}.{type(model).__qualname__}"
        final = final_step(model)
        if final is not model:
            found = f"Pipeline ending in {type(final).__module__}.{type(final).__qualname__}"
        raise InputError(f"{describe_source(source)}: unsupported model type {found}; supported: {supported_types()}")

    @classmethod
    def claims_file(cls, path: Path) -> bool:
        """Whether ``path`` is a model file of this family's library (by its suffix)."""
        return path.suffix.lower() in cls.file_suffixes

    @classmethod
    def read_file(cls, path: Path, where: str) -> Any:
        """The model in ``path``, one of the library's own files; an :class:`InputError` naming
        ``where`` when it cannot be read."""
        raise NotImplementedError(f"{cls.__name__} reads no model files")

    @classmethod
    def import_library(cls, where: str) -> Any:
        """The family's library, or an :class:`InputError` naming the extra that installs it."""
        import importlib

        try:
            return importlib.import_module(cls.library)
        except ImportError:
            raise InputError(missing_library(cls.library, cls.extra, where)) from None

    def __repr__(self) -> str:
        source = f", source={str(self.source)!r}" if self.source else ""
        return f"{type(self).__name__}(kind={self.kind!r}, task={self.task!r}, n_features={self.n_features}{source})"

    # -- facts -----------------------------------------------------------------------------------
    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"

    @property
    def accepts_text(self) -> bool:
        """Whether the model may take text columns: a Pipeline may hold an encoder for them; a bare
        model takes numbers only (and text in its :attr:`categorical_features`)."""
        from sklearn.pipeline import Pipeline

        return isinstance(self.model, Pipeline)

    @property
    def categorical_features(self) -> list[str]:
        """Columns the model takes as native categories (text allowed there even without an encoder)."""
        return []

    # -- prediction ------------------------------------------------------------------------------
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``, columns in the order of ``classes_``."""
        if not self.is_classifier:
            raise AttributeError("a regression teacher has no predict_proba")
        proba = np.asarray(self._predict_proba(X))
        if self.task == "binary" and (proba.ndim == 1 or proba.shape[1] == 1):
            # The second class's probability alone; the first is the rest, in the model's own precision.
            positive = proba.ravel()
            proba = np.column_stack([1.0 - positive, positive])
        return np.asarray(proba.reshape(len(X), len(self.classes_)), dtype=np.float64)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Labels in the teacher's own label space (classification), or values (regression)."""
        if self.is_classifier:
            # argmax of the probabilities, so "the teacher's class" always agrees with its soft labels.
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return np.asarray(self._predict_values(X), dtype=np.float64).ravel()

    def soft_targets(self, X: pd.DataFrame) -> np.ndarray:
        """What the student learns from: probabilities (classification) or values (regression)."""
        return self.predict_proba(X) if self.is_classifier else self.predict(X)

    def reproducible(self) -> contextlib.AbstractContextManager[None]:
        """A block inside which the teacher's answers are bit-for-bit repeatable.

        Most models always are; one that sums its trees' votes over threads in whatever order they
        finish is not, and its family makes it single-threaded for the block.
        :func:`tabcompress.teachers.labeling.label_rows` parallelises over chunks of rows instead.
        """
        return contextlib.nullcontext()

    def leaves(self, X: pd.DataFrame) -> np.ndarray | None:
        """The leaf each row reaches in each tree, shape ``(n, n_trees)``; None when the model cannot say."""
        out = []
        with self.reproducible():
            for start in range(0, len(X), LEAF_CHUNK_ROWS):
                part = X.iloc[start:start + LEAF_CHUNK_ROWS]
                found = self._leaves(part)
                if found is None:
                    return None
                out.append(np.asarray(found).reshape(len(part), -1).astype(np.int32))
        return np.concatenate(out) if out else np.empty((0, 0), dtype=np.int32)

    # -- description -----------------------------------------------------------------------------
    @abstractmethod
    def complexity(self) -> dict[str, int]:
        """The model's size; for a tree ensemble its number of trees, nodes and leaves."""

    # -- what data-free distillation reads ---------------------------------------------------------
    def trees(self) -> list[TreeNodes]:
        """The ensemble's trees in its own input space (after a Pipeline's encoder, if any)."""
        raise self._unreadable()

    def input_map(self) -> InputMap:
        """The raw columns behind the ensemble's inputs (see :class:`InputMap`)."""
        raise self._unreadable()

    # -- what a family implements ----------------------------------------------------------------
    @abstractmethod
    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities ``(n, n_classes)``; for a binary task the second class's alone may do, ``(n,)``."""

    @abstractmethod
    def _predict_values(self, X: pd.DataFrame) -> np.ndarray:
        """Regression values, ``(n,)``."""

    def _leaves(self, X: pd.DataFrame) -> np.ndarray | None:
        """Leaf indices of one chunk of rows, one column per tree; None when the model cannot say."""
        return None

    # -- shared by the families --------------------------------------------------------------------
    def _model_input(self, X: pd.DataFrame) -> Any:
        """``X`` as the model was fitted: a plain array when it was fitted on one, so that scikit-learn
        does not warn about feature names."""
        if self.feature_names is None:
            return X.to_numpy()
        return X

    def _column_names(self) -> list[str]:
        """The raw columns' names; ``x0``, ``x1``, ... for a model fitted without names."""
        return self.feature_names or [f"x{i}" for i in range(self.n_features)]

    def _identity_map(self) -> InputMap:
        """The input map of a model that takes the raw columns as they are."""
        return InputMap.identity(self._column_names())

    def _unreadable(self) -> InputError:
        return InputError(f"teacher: data-free distillation reads the trees of a tree ensemble, which this "
                          f"teacher ({self.kind}) does not offer; give real rows (DATA)")
