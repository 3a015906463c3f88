"""Teachers: load a fitted tree ensemble from disk and give it one uniform face.

A :class:`Teacher` knows its task (binary, multiclass, regression), its classes, the feature names
it expects, and answers ``predict`` / ``predict_proba`` / ``soft_targets`` on a DataFrame whose
columns are already aligned to those names (see :mod:`tabcompress.data`).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from tabcompress.errors import InputError, require_file

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
XGBOOST_SUFFIXES = (".json", ".ubj")
SKOPS_SUFFIXES = (".skops",)
# Beyond what skops trusts by default (scikit-learn's estimators and transformers, numpy, builtins),
# the types a supported teacher is made of. A .skops file holding any other type is refused.
SKOPS_TRUSTED_TEACHER_TYPES = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBRFClassifier",
    "xgboost.sklearn.XGBRFRegressor",
)

_SKLEARN_TYPES = (
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
)
# Forests add their trees' votes from several threads when n_jobs != 1 (see Teacher.reproducible).
_FOREST_TYPES = ("RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor")
_XGB_SKLEARN_TYPES = ("XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor")
SUPPORTED_TYPES = _SKLEARN_TYPES + _XGB_SKLEARN_TYPES + ("xgboost.Booster", "Pipeline ending in one of these")


def _supported_list() -> str:
    return ", ".join(SUPPORTED_TYPES)


def _sklearn_estimator_classes(names: tuple[str, ...] = _SKLEARN_TYPES) -> tuple[type, ...]:
    import sklearn.ensemble

    return tuple(getattr(sklearn.ensemble, name) for name in names)


def _final_estimator(model: Any) -> Any:
    """The estimator that predicts: the last step of a Pipeline, else the model itself."""
    from sklearn.pipeline import Pipeline

    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def _xgb_sklearn_classes() -> tuple[type, ...]:
    import xgboost

    return tuple(getattr(xgboost, name) for name in _XGB_SKLEARN_TYPES)


# Objectives of a bare Booster, by the task they imply.
_BINARY_OBJECTIVES = {"binary:logistic", "binary:logitraw", "binary:hinge"}
_MULTICLASS_OBJECTIVES = {"multi:softprob", "multi:softmax"}
_REGRESSION_PREFIXES = ("reg:", "count:", "survival:")


@dataclass
class Teacher:
    """A fitted tree-ensemble model with the facts distillation needs.

    ``model`` is the user's object (estimator, Pipeline or Booster), untouched.
    """

    model: Any
    task: str  # "binary", "multiclass" or "regression"
    classes_: np.ndarray | None
    feature_names: list[str] | None  # None when the model was fitted without names
    n_features: int
    kind: str  # human-readable type, e.g. "Pipeline(ColumnTransformer → RandomForestClassifier)"
    source: Path | None = None
    _objective: str | None = field(default=None, repr=False)
    _categorical_features: list[str] = field(default_factory=list, repr=False)

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_model(cls, model: Any, source: Path | None = None) -> "Teacher":
        import xgboost as xgb
        from sklearn.pipeline import Pipeline

        where = f"teacher file {source}" if source else "teacher"
        in_pipeline = isinstance(model, Pipeline)
        final = _final_estimator(model)
        if in_pipeline:
            steps = " → ".join(type(step).__name__ for _, step in model.steps if not isinstance(step, str))
            kind = f"Pipeline({steps})"
        else:
            kind = type(model).__name__

        if isinstance(final, xgb.Booster):
            if in_pipeline:
                raise InputError(f"{where}: a Pipeline ending in a bare xgboost.Booster cannot predict; "
                                 "use XGBClassifier/XGBRegressor in the Pipeline")
            return cls._from_booster(final, source)

        if not isinstance(final, _sklearn_estimator_classes() + _xgb_sklearn_classes()):
            found = f"{type(model).__module__}.{type(model).__qualname__}"
            if in_pipeline:
                found = f"Pipeline ending in {type(final).__module__}.{type(final).__qualname__}"
            raise InputError(f"{where}: unsupported model type {found}; supported: {_supported_list()}")

        from sklearn.base import is_classifier
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(final)
        except NotFittedError:
            raise InputError(f"{where}: the {type(final).__name__} in it is not fitted") from None

        if is_classifier(final):
            classes = np.asarray(getattr(model, "classes_", final.classes_))
            task = "binary" if len(classes) == 2 else "multiclass"
            if len(classes) < 2:
                raise InputError(f"{where}: the classifier knows only one class ({classes[0]!r})")
        else:
            classes, task = None, "regression"

        names = getattr(model, "feature_names_in_", None)
        if names is None and isinstance(final, _xgb_sklearn_classes()):
            names = final.get_booster().feature_names
        n_features = getattr(model, "n_features_in_", None)
        if n_features is None:
            n_features = len(names) if names is not None else final.get_booster().num_features()
        return cls(
            model=model,
            task=task,
            classes_=classes,
            feature_names=[str(n) for n in names] if names is not None else None,
            n_features=int(n_features),
            kind=kind,
            source=source,
        )

    @classmethod
    def _from_booster(cls, booster: Any, source: Path | None) -> "Teacher":
        where = f"teacher file {source}" if source else "teacher"
        config = json.loads(booster.save_config())
        objective = config["learner"]["objective"]["name"]
        params = config["learner"]["learner_model_param"]
        if objective in _BINARY_OBJECTIVES:
            task, classes = "binary", np.array([0, 1])
        elif objective in _MULTICLASS_OBJECTIVES:
            n_class = int(params.get("num_class", "0"))
            task, classes = "multiclass", np.arange(n_class)
        elif objective.startswith(_REGRESSION_PREFIXES):
            task, classes = "regression", None
        else:
            raise InputError(f"{where}: XGBoost objective {objective!r} is not supported; "
                             "supported: binary:*, multi:softprob, multi:softmax, reg:*, count:*, survival:*")
        names = booster.feature_names
        types = booster.feature_types or []
        categorical = [n for n, t in zip(names or [], types) if t == "c"]
        return cls(
            model=booster,
            task=task,
            classes_=classes,
            feature_names=list(names) if names else None,
            n_features=int(booster.num_features()),
            kind="xgboost.Booster",
            source=source,
            _objective=objective,
            _categorical_features=categorical,
        )

    # -- prediction ----------------------------------------------------------------------------
    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"

    @property
    def accepts_text(self) -> bool:
        """Whether the model may take text columns (a Pipeline can encode them; a bare forest cannot)."""
        from sklearn.pipeline import Pipeline

        return isinstance(self.model, Pipeline)

    def _model_input(self, X: pd.DataFrame) -> Any:
        if self.feature_names is None:
            # Fitted on a plain array: give it one, so scikit-learn does not warn about names.
            return X.to_numpy()
        return X

    def booster_matrix(self, X: pd.DataFrame) -> Any:
        """``X`` as the ``xgboost.DMatrix`` a bare Booster teacher predicts on (its categorical columns typed)."""
        import xgboost as xgb

        data = X
        if self._categorical_features:
            data = X.copy()
            for col in self._categorical_features:
                data[col] = data[col].astype("category")
        return xgb.DMatrix(self._model_input(data), enable_categorical=bool(self._categorical_features))

    def _booster_predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(self.booster_matrix(X)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        if not self.is_classifier:
            raise AttributeError("a regression teacher has no predict_proba")
        if self._objective is None:
            return np.asarray(self.model.predict_proba(self._model_input(X)), dtype=np.float64)
        out = self._booster_predict(X)
        if self._objective == "binary:logitraw":
            out = 1.0 / (1.0 + np.exp(-out))
        if self._objective in ("binary:hinge", "multi:softmax"):
            # These objectives emit hard labels: one-hot them.
            labels = out.astype(int).ravel()
            return np.eye(len(self.classes_))[labels]
        if self.task == "binary":
            out = out.ravel()
            return np.column_stack([1.0 - out, out])
        return out.reshape(len(X), len(self.classes_)).astype(np.float64)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Labels in the teacher's own label space (classification), or values (regression)."""
        if self.is_classifier:
            # argmax of the probabilities, so "the teacher's class" always agrees with its soft labels.
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        if self._objective is not None:
            return self._booster_predict(X).ravel().astype(np.float64)
        return np.asarray(self.model.predict(self._model_input(X)), dtype=np.float64).ravel()

    def soft_targets(self, X: pd.DataFrame) -> np.ndarray:
        """What the student learns from: probabilities (classification) or values (regression)."""
        return self.predict_proba(X) if self.is_classifier else self.predict(X)

    @contextlib.contextmanager
    def reproducible(self) -> Iterator[None]:
        """Make the teacher's answers bit-for-bit repeatable inside the block.

        A scikit-learn forest with ``n_jobs`` other than 1 adds up its trees' votes in whatever order
        its threads finish, so the same row can get probabilities that differ in the last bit from
        one call to the next — enough to move a student's split and break ``--seed``. Inside the
        block the forest runs single-threaded; :func:`tabcompress.teachers.labeling.label_rows` parallelises
        over chunks of rows instead.
        """
        final = _final_estimator(self.model)
        if not isinstance(final, _sklearn_estimator_classes(_FOREST_TYPES)) or final.n_jobs in (None, 1):
            yield
            return
        n_jobs = final.n_jobs
        final.n_jobs = 1
        try:
            yield
        finally:
            final.n_jobs = n_jobs

    # -- description ---------------------------------------------------------------------------
    def complexity(self) -> dict[str, int]:
        """Number of trees, nodes and leaves in the ensemble."""
        return _ensemble_complexity(self.model)


def _ensemble_complexity(model: Any) -> dict[str, int]:
    import xgboost as xgb
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )

    model = _final_estimator(model)
    if isinstance(model, _xgb_sklearn_classes()):
        model = model.get_booster()
    if isinstance(model, xgb.Booster):
        dumps = model.get_dump()
        leaves = sum(d.count("leaf=") for d in dumps)
        nodes = sum(d.count("\n") for d in dumps)
        return {"n_trees": len(dumps), "n_nodes": nodes, "n_leaves": leaves}
    if isinstance(model, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        predictors = [p for stage in model._predictors for p in stage]
        return {
            "n_trees": len(predictors),
            "n_nodes": int(sum(len(p.nodes) for p in predictors)),
            "n_leaves": int(sum(p.nodes["is_leaf"].sum() for p in predictors)),
        }
    trees = np.asarray(model.estimators_, dtype=object).ravel()
    return {
        "n_trees": len(trees),
        "n_nodes": int(sum(t.tree_.node_count for t in trees)),
        "n_leaves": int(sum(t.tree_.n_leaves for t in trees)),
    }


def load_skops(path: Path, trusted: tuple[str, ...], where: str) -> Any:
    """Load a .skops file, refusing any type outside skops's defaults and ``trusted``.

    skops rebuilds objects from a description instead of running stored code, so a file that is not
    what it claims fails here rather than running something.
    """
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:  # not a zip, a damaged schema, ...: skops raises many types
        raise InputError(f"{where}: not a readable skops file ({type(exc).__name__}: {str(exc)[:200]})") from None
    refused = sorted(set(untrusted) - set(trusted))
    if refused:
        raise InputError(f"{where}: holds types tabcompress does not trust: {', '.join(refused[:10])}")
    try:
        return skops.io.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise InputError(f"{where}: cannot be loaded ({type(exc).__name__}: {str(exc)[:200]})") from None


def load_teacher(path: str | Path, *, safe: bool = False) -> Teacher:
    """Load a teacher from a pickle/joblib file, a .skops file or an XGBoost native model file.

    Loading a pickle runs code stored in it: only load files you trust. With ``safe``, pickles are
    refused and only formats that cannot run code are read (.skops with a list of trusted types,
    XGBoost .json/.ubj).
    """
    path = Path(path)
    where = f"teacher file {path}"
    require_file(path, where, "a model file")
    suffix = path.suffix.lower()
    if suffix in SKOPS_SUFFIXES:
        return Teacher.from_model(load_skops(path, SKOPS_TRUSTED_TEACHER_TYPES, where), source=path)
    if safe and suffix in PICKLE_SUFFIXES:
        raise InputError(f"{where}: --safe refuses pickle and joblib files, which run code when loaded; "
                         f"save the teacher with skops (.skops) or, for XGBoost, as .json/.ubj")
    if suffix in XGBOOST_SUFFIXES:
        import xgboost as xgb

        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
        except xgb.core.XGBoostError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{where}: not a readable XGBoost model ({first[:200]})") from None
        return Teacher.from_model(booster, source=path)
    if suffix in PICKLE_SUFFIXES:
        import joblib

        try:
            model = joblib.load(path)
        except ModuleNotFoundError as exc:
            raise InputError(f"{where}: needs the module {exc.name!r}, which is not installed; "
                             f"supported: {_supported_list()}") from None
        except Exception as exc:  # a damaged pickle can raise almost anything
            raise InputError(f"{where}: cannot be unpickled ({type(exc).__name__}: {str(exc)[:200]})") from None
        return Teacher.from_model(model, source=path)
    raise InputError(f"{where}: unknown extension {suffix or '(none)'!r}; "
                     f"expected one of {', '.join(PICKLE_SUFFIXES + SKOPS_SUFFIXES + XGBOOST_SUFFIXES)}")
