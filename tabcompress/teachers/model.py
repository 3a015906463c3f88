"""Any other fitted model that answers ``predict_proba`` or ``predict``: a scikit-learn estimator of any
kind (an SVC, a KNN, an MLP, a StackingClassifier, a VotingRegressor), a Pipeline ending in one, or an
object of another library that follows the same contract.

Tried after every other family (it is last in :data:`tabcompress.registry.TEACHERS`), so a model that a
family knows better (a forest, a Booster) still goes to that family. Nothing here reads trees:
data-free distillation refuses these models, and a run needs real rows.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from tabcompress.errors import InputError, first_line
from tabcompress.teachers.base import Teacher, describe_model, describe_source

# Members of a model that complexity() and reproducible() look inside, at most: a meta-estimator of
# forests holds thousands of trees, each a handful of attributes.
_WALK_LIMIT = 100_000


def _is_sklearn(model: Any) -> bool:
    """Whether ``model`` speaks scikit-learn's estimator API (its tags), so that scikit-learn's own
    checks apply to it; they raise on an object that merely has ``predict``."""
    return hasattr(model, "__sklearn_tags__")


class AnyModelTeacher(Teacher):
    """A fitted model with ``predict_proba`` (a classifier) or ``predict`` (a regressor, or a classifier
    that gives labels only), bare or at the end of a Pipeline."""

    name = "model"

    supported_types = ("any fitted model with predict_proba or predict",)

    @classmethod
    def handles(cls, model: Any) -> bool:
        # Only looks: every model that reaches this family (the last) is asked.
        return hasattr(model, "predict_proba") or hasattr(model, "predict")

    def __init__(self, model: Any, source: Path | None = None):

        where = describe_source(source)
        kind = describe_model(model, type(model).__name__)
        self._where, self._model_kind = where, kind
        _check_fitted(model, kind, where)

        self._labels_only = False
        if _is_classifier(model, kind, where):
            classes = getattr(model, "classes_", None)
            if classes is None:
                raise InputError(f"{where}: the {kind} is a classifier without classes_, so the order of its "
                                 f"classes is unknown; give a model that sets classes_ when fitted")
            classes = np.asarray(classes)
            if classes.ndim != 1 or (classes.dtype == object and any(isinstance(c, np.ndarray) for c in classes)):
                raise InputError(f"{where}: the {kind} predicts several targets at once (classes_ is not one list); "
                                 f"tabcompress distils one target")
            task = "binary" if len(classes) == 2 else "multiclass"
            if not hasattr(model, "predict_proba"):
                # Its labels as probabilities of 0 or 1: the student learns hard labels, and the kind
                # says so wherever the teacher is named (the report, the summary).
                self._labels_only = True
                kind = f"{kind} (labels only: no predict_proba)"
        else:
            classes, task = None, "regression"
        names = getattr(model, "feature_names_in_", None)
        n_features = getattr(model, "n_features_in_", None)
        if n_features is None and names is not None:
            n_features = len(names)
        if n_features is None:
            raise InputError(f"{where}: the {self._model_kind} says neither feature_names_in_ nor n_features_in_, "
                             f"so the columns it takes are unknown; give a model that sets one of them when "
                             f"fitted (scikit-learn estimators do)")
        super().__init__(model, task=task, classes=classes, feature_names=names, n_features=int(n_features),
                         kind=kind, source=source)

    # -- prediction ------------------------------------------------------------------------------
    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self._labels_only:
            labels = np.asarray(self._ask("predict", X)).ravel()
            at = pd.Index(self.classes_).get_indexer(labels)
            if (at < 0).any():
                raise InputError(f"{self._where}: the {self._model_kind} predicted {labels[at < 0][0]!r}, which "
                                 f"is not among its classes_")
            return np.eye(len(self.classes_))[at]
        proba = self._ask("predict_proba", X)
        if isinstance(proba, list):  # scikit-learn's answer for several targets: one array each
            raise InputError(f"{self._where}: the {self._model_kind} predicts several targets at once; tabcompress "
                             f"distils one target")
        return np.asarray(proba, dtype=np.float64)

    def _predict_values(self, X: pd.DataFrame) -> np.ndarray:
        values = np.asarray(self._ask("predict", X), dtype=np.float64)
        if values.ndim > 1 and values.shape[1:] != (1,):
            raise InputError(f"{self._where}: the {self._model_kind} predicts {values.shape[1]} values per row; "
                             f"tabcompress distils one target")
        return values.ravel()

    def _ask(self, method: str, X: pd.DataFrame) -> Any:
        """The model's answer to ``method`` on ``X``; whatever it raises becomes one line naming the
        teacher, since a model of any kind may raise any kind of error (and label_rows runs it in
        threads, far from the command that reports it)."""
        try:
            return getattr(self.model, method)(self._model_input(X))
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{self._where}: {type(self.model).__name__}.{method} failed on the rows "
                             f"({type(exc).__name__}: {first_line(exc)})") from exc

    @contextlib.contextmanager
    def reproducible(self) -> Iterator[None]:
        """A forest inside the model (in a stack, a vote, a Pipeline) with ``n_jobs`` other than 1 adds its
        trees' votes in whatever order its threads finish; inside the block it runs single-threaded, as
        :meth:`tabcompress.teachers.sklearn.SklearnTeacher.reproducible` does for a bare one. Other models
        (a KNN with ``n_jobs``, say) split the rows, not the sums, between threads, and answer the same."""
        from tabcompress.teachers.sklearn import _FOREST_TYPES, _sklearn_classes

        types = _sklearn_classes(_FOREST_TYPES)
        forests = [m for m in _members(self.model) if isinstance(m, types) and m.n_jobs not in (None, 1)]
        saved = [forest.n_jobs for forest in forests]
        for forest in forests:
            forest.n_jobs = 1
        try:
            yield
        finally:
            for forest, n_jobs in zip(forests, saved):
                forest.n_jobs = n_jobs

    # -- description -----------------------------------------------------------------------------
    def complexity(self) -> dict[str, int]:
        """The scikit-learn trees found inside the model (a stack or vote of forests, a bagged tree),
        counted as a forest's are; zero for a model without trees (a KNN, an SVC). The summary's table
        reads ``n_trees`` and ``n_leaves`` of every teacher."""
        trees = nodes = leaves = 0
        for member in _members(self.model):
            tree = getattr(member, "tree_", None)
            if tree is not None and hasattr(tree, "node_count") and hasattr(tree, "n_leaves"):
                trees, nodes, leaves = trees + 1, nodes + int(tree.node_count), leaves + int(tree.n_leaves)
            for stage in getattr(member, "_predictors", None) or []:  # HistGradientBoosting
                for predictor in stage:
                    trees += 1
                    nodes += len(predictor.nodes)
                    leaves += int(predictor.nodes["is_leaf"].sum())
        return {"n_trees": trees, "n_nodes": nodes, "n_leaves": leaves}


def _is_classifier(model: Any, kind: str, where: str) -> bool:
    """A classifier by scikit-learn's tags, or, for an object of another library, by answering
    ``predict_proba`` or calling itself one (``_estimator_type``, scikit-learn's former mark). A
    scikit-learn clusterer, outlier detector or density estimator also answers ``predict`` (a cluster,
    -1 or 1) or ``predict_proba`` (a mixture's components), but not about a target: refused."""
    if _is_sklearn(model):
        from sklearn.utils import get_tags

        estimator_type = get_tags(model).estimator_type
        if estimator_type in ("classifier", "regressor"):
            return estimator_type == "classifier"
        if estimator_type is not None:
            raise InputError(f"{where}: the {kind} is a scikit-learn {estimator_type.replace('_', ' ')}, not a "
                             f"classifier or a regressor: it predicts no target to distil")
    elif getattr(model, "_estimator_type", None) == "classifier":
        return True
    return hasattr(model, "predict_proba")


def _check_fitted(model: Any, kind: str, where: str) -> None:
    """One line for an unfitted scikit-learn model (an object of another library cannot be checked)."""
    if not _is_sklearn(model):
        return
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        raise InputError(f"{where}: the {kind} in it is not fitted") from None
    except (TypeError, AttributeError):  # an estimator check_is_fitted cannot judge: let it answer for itself
        pass


def _members(model: Any) -> Iterator[Any]:
    """``model`` and the fitted estimators inside it: what scikit-learn keeps in fitted attributes (their
    names end in ``_``: ``estimators_``, ``final_estimator_``, ``transformers_``) and a Pipeline's steps.
    Parameters (``estimators``, ``estimator``) are not followed: they hold the unfitted templates, or
    the user's own copies of what was fitted again, which would count twice."""
    from sklearn.pipeline import Pipeline

    seen: set[int] = set()
    stack = [model]
    while stack and len(seen) < _WALK_LIMIT:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (list, tuple)):
            stack.extend(item)
            continue
        if isinstance(item, dict):
            stack.extend(item.values())
            continue
        if isinstance(item, np.ndarray):
            if item.dtype == object:
                stack.extend(item.ravel())
            continue
        if not _is_sklearn(item):
            continue
        yield item
        if isinstance(item, Pipeline):
            stack.extend(step for _, step in item.steps)
        for attribute, value in vars(item).items():
            if attribute.endswith("_") and not attribute.startswith("_"):
                stack.append(value)
