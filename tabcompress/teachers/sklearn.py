"""scikit-learn tree ensembles, Pipelines ending in one, and XGBoost's scikit-learn wrappers
(XGBClassifier etc.): the models that answer ``predict_proba`` themselves.

A Pipeline's encoder (one ``ColumnTransformer``) also says, for data-free distillation, which raw
column and category each input of the ensemble comes from.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from tabcompress.errors import InputError
from tabcompress.teachers.base import (
    CODE,
    INDICATOR,
    NUMERIC,
    InputMap,
    RawColumn,
    Teacher,
    TreeNodes,
    describe_model,
    describe_source,
    final_step,
)
from tabcompress.teachers.xgboost import booster_complexity, booster_trees

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
# Forests add their trees' votes from several threads when n_jobs != 1 (see SklearnTeacher.reproducible).
_FOREST_TYPES = ("RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor")
_HIST_TYPES = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor")
_XGB_SKLEARN_TYPES = ("XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor")


def _sklearn_classes(names: tuple[str, ...]) -> tuple[type, ...]:
    import sklearn.ensemble

    return tuple(getattr(sklearn.ensemble, name) for name in names)


def _xgb_sklearn_classes() -> tuple[type, ...]:
    import xgboost

    return tuple(getattr(xgboost, name) for name in _XGB_SKLEARN_TYPES)


class SklearnTeacher(Teacher):
    """A scikit-learn tree ensemble or XGBoost scikit-learn wrapper, bare or at the end of a Pipeline."""

    name = "sklearn"

    supported_types = _SKLEARN_TYPES + _XGB_SKLEARN_TYPES

    @classmethod
    def handles(cls, model: Any) -> bool:
        return isinstance(final_step(model), _sklearn_classes(_SKLEARN_TYPES) + _xgb_sklearn_classes())

    def __init__(self, model: Any, source: Path | None = None):
        from sklearn.base import is_classifier
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        estimator = final_step(model)
        try:
            check_is_fitted(estimator)
        except NotFittedError:
            raise InputError(f"{describe_source(source)}: the {type(estimator).__name__} in it is not fitted") from None
        if is_classifier(estimator):
            classes = getattr(model, "classes_", estimator.classes_)
            task = "binary" if len(classes) == 2 else "multiclass"
        else:
            classes, task = None, "regression"
        names = getattr(model, "feature_names_in_", None)
        if names is None and isinstance(estimator, _xgb_sklearn_classes()):
            names = estimator.get_booster().feature_names
        n_features = getattr(model, "n_features_in_", None)
        if n_features is None:
            n_features = len(names) if names is not None else estimator.get_booster().num_features()
        kind = describe_model(model, type(model).__name__)
        self._estimator = estimator
        # scikit-learn's trees count (weighted) rows at each node; an XGBoost wrapper's hold its cover
        self.counts_rows = not isinstance(estimator, _xgb_sklearn_classes())
        super().__init__(model, task=task, classes=classes, feature_names=names, n_features=n_features, kind=kind,
                         source=source)

    # -- prediction ------------------------------------------------------------------------------
    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(self._model_input(X))

    def _predict_values(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict(self._model_input(X))

    @contextlib.contextmanager
    def reproducible(self) -> Iterator[None]:
        """A forest with ``n_jobs`` other than 1 adds up its trees' votes in whatever order its threads
        finish, so the same row can get probabilities that differ in the last bit from one call to the
        next — enough to move a student's split and break ``--seed``. Inside the block it runs
        single-threaded."""
        forest = self._estimator
        if not isinstance(forest, _sklearn_classes(_FOREST_TYPES)) or forest.n_jobs in (None, 1):
            yield
            return
        n_jobs = forest.n_jobs
        forest.n_jobs = 1
        try:
            yield
        finally:
            forest.n_jobs = n_jobs

    def _leaves(self, X: pd.DataFrame) -> np.ndarray | None:
        # HistGradientBoosting has no apply.
        if not hasattr(self._estimator, "apply"):
            return None
        return self._estimator.apply(self._ensemble_input(X))

    def _ensemble_input(self, X: pd.DataFrame) -> Any:
        """``X`` as the ensemble itself sees it: through the Pipeline's earlier steps, if any."""
        from sklearn.pipeline import Pipeline

        return self.model[:-1].transform(X) if isinstance(self.model, Pipeline) else self._model_input(X)

    # -- description -----------------------------------------------------------------------------
    def complexity(self) -> dict[str, int]:
        estimator = self._estimator
        if isinstance(estimator, _xgb_sklearn_classes()):
            return booster_complexity(estimator.get_booster())
        if isinstance(estimator, _sklearn_classes(_HIST_TYPES)):
            predictors = [p for stage in estimator._predictors for p in stage]
            return {
                "n_trees": len(predictors),
                "n_nodes": int(sum(len(p.nodes) for p in predictors)),
                "n_leaves": int(sum(p.nodes["is_leaf"].sum() for p in predictors)),
            }
        trees = np.asarray(estimator.estimators_, dtype=object).ravel()
        return {
            "n_trees": len(trees),
            "n_nodes": int(sum(t.tree_.node_count for t in trees)),
            "n_leaves": int(sum(t.tree_.n_leaves for t in trees)),
        }

    # -- what data-free distillation reads ---------------------------------------------------------
    def trees(self) -> list[TreeNodes]:
        estimator = self._estimator
        if isinstance(estimator, _xgb_sklearn_classes()):
            return booster_trees(estimator.get_booster(), self._n_inputs())
        if isinstance(estimator, _sklearn_classes(_HIST_TYPES)):
            return _hist_trees(estimator)
        out = []
        for member in np.asarray(estimator.estimators_, dtype=object).ravel():
            tree = member.tree_
            feature = np.where(tree.children_left < 0, -1, tree.feature).astype(np.int64)
            out.append(TreeNodes(feature, tree.threshold.astype(np.float64), tree.children_left.astype(np.int64),
                                 tree.children_right.astype(np.int64),
                                 tree.weighted_n_node_samples.astype(np.float64)))
        return out

    def input_map(self) -> InputMap:
        return pipeline_input_map(self.model, self._column_names(), self._n_inputs())

    def _n_inputs(self) -> int:
        """How many inputs the ensemble takes (after the Pipeline's encoder, if any)."""
        n = getattr(self._estimator, "n_features_in_", None)
        return int(n) if n is not None else int(self._estimator.get_booster().num_features())


def pipeline_input_map(model: Any, names: list[str], n_inputs: int) -> InputMap:
    """The raw columns behind the ``n_inputs`` inputs of the ensemble at the end of ``model``: its own
    columns ``names`` when it has no encoder in front, else what its one ColumnTransformer says."""
    from sklearn.pipeline import Pipeline

    steps = []
    if isinstance(model, Pipeline):
        steps = [step for _, step in model.steps[:-1] if step not in (None, "passthrough")]
    if not steps:
        return InputMap.identity(names)
    if len(steps) > 1 or type(steps[0]).__name__ != "ColumnTransformer":
        found = " → ".join(type(s).__name__ for s in steps)
        raise InputError(f"teacher: data-free distillation reads a Pipeline whose encoder is one "
                         f"ColumnTransformer (one-hot or ordinal encoders, passthrough); this one has {found}; "
                         f"give real rows (DATA)")
    return _column_transformer_map(steps[0], names, n_inputs)


def _hist_trees(estimator: Any) -> list[TreeNodes]:
    out = []
    for stage in estimator._predictors:
        for predictor in stage:
            nodes = predictor.nodes
            if "is_categorical" in nodes.dtype.names and nodes["is_categorical"].any():
                raise InputError("teacher: data-free distillation cannot read native categorical splits "
                                 "of a HistGradientBoosting model; give real rows (DATA)")
            leaf = nodes["is_leaf"].astype(bool)
            feature = np.where(leaf, -1, nodes["feature_idx"]).astype(np.int64)
            out.append(TreeNodes(feature, nodes["num_threshold"].astype(np.float64), nodes["left"].astype(np.int64),
                                 nodes["right"].astype(np.int64), nodes["count"].astype(np.float64)))
    return out


# -- raw columns behind the ensemble's inputs -------------------------------------------------------
def _column_transformer_map(transformer: Any, names: list[str], n_inputs: int) -> InputMap:
    """Read a fitted ColumnTransformer over the raw columns ``names``: the categories of the columns it
    encodes, and for each of its ``n_inputs`` outputs (the ensemble's inputs) the raw column and
    category it comes from."""
    raws = [RawColumn(name) for name in names]
    position = {name: i for i, name in enumerate(names)}
    inputs: list[tuple[int, int, int] | None] = [None] * n_inputs
    for name, part, columns in transformer.transformers_:
        if part == "drop" or name not in transformer.output_indices_:
            continue
        out = transformer.output_indices_[name]
        columns = [names[c] if isinstance(c, (int, np.integer)) else c for c in np.atleast_1d(columns)]
        cols = [position[c] for c in columns]
        if not cols:
            continue
        part = _unwrap(part, name)
        kind = type(part).__name__ if not isinstance(part, str) else part
        if kind == "FunctionTransformer" and part.func is None:  # how a fitted remainder="passthrough" looks
            kind = "passthrough"
        if kind in ("passthrough", "SimpleImputer"):
            for k, c in enumerate(cols):
                inputs[out.start + k] = (NUMERIC, c, -1)
        elif kind == "OneHotEncoder":
            if getattr(part, "_infrequent_enabled", False):
                raise InputError(f"teacher: data-free distillation cannot read the OneHotEncoder {name!r}: it groups "
                                 f"infrequent categories; give real rows (DATA)")
            drop = getattr(part, "drop_idx_", None)
            at = out.start
            for k, c in enumerate(cols):
                categories = list(part.categories_[k])
                raws[c] = RawColumn(names[c], categories, _dtype_of(part.categories_[k]))
                dropped = None if drop is None or drop[k] is None else int(drop[k])
                for j in range(len(categories)):
                    if j != dropped:
                        inputs[at] = (INDICATOR, c, j)
                        at += 1
        elif kind == "OrdinalEncoder":
            for k, c in enumerate(cols):
                raws[c] = RawColumn(names[c], list(part.categories_[k]), _dtype_of(part.categories_[k]))
                inputs[out.start + k] = (CODE, c, -1)
        else:
            raise InputError(f"teacher: data-free distillation cannot invert the {kind} {name!r} in the teacher's "
                             f"ColumnTransformer (it reads passthrough, SimpleImputer, OneHotEncoder and "
                             f"OrdinalEncoder); give real rows (DATA)")
    if any(i is None for i in inputs):
        raise InputError("teacher: cannot map every input of the ensemble back to a raw column; give real rows (DATA)")
    return InputMap.from_inputs(raws, inputs)  # type: ignore[arg-type]


def _unwrap(part: Any, name: str) -> Any:
    """A Pipeline inside the ColumnTransformer counts as its last step when the steps before it are
    imputers (which leave observed values as they are)."""
    from sklearn.pipeline import Pipeline

    if not isinstance(part, Pipeline):
        return part
    inner = [step for _, step in part.steps if step not in (None, "passthrough")]
    if any(type(step).__name__ != "SimpleImputer" for step in inner[:-1]):
        found = " → ".join(type(s).__name__ for s in inner)
        raise InputError(f"teacher: data-free distillation cannot invert the Pipeline {name!r} ({found}) in the "
                         f"teacher's ColumnTransformer; give real rows (DATA)")
    return inner[-1] if inner else "passthrough"


def _dtype_of(values: np.ndarray) -> str:
    values = np.asarray(values)
    if values.dtype.kind in "iub":
        return "int64" if values.dtype.kind != "b" else "bool"
    if values.dtype.kind == "f":
        return "float64"
    return "object"
