"""A bare ``xgboost.Booster`` (what ``xgboost.train`` returns and ``save_model`` writes).

It knows no classes and no task: its objective implies them, and some objectives answer with margins
or hard labels rather than probabilities. Columns typed ``"c"`` are native categories, given to it
as pandas categoricals. The functions reading a Booster's trees and size also serve XGBoost's
scikit-learn wrappers (:mod:`tabcompress.teachers.sklearn`).

(``import xgboost`` in this package still finds the library: imports are absolute.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabcompress.errors import InputError, first_line
from tabcompress.teachers.base import InputMap, Teacher, TreeNodes, describe_source, final_step, is_catboost_json

# Objectives of a bare Booster, by the task they imply.
_BINARY_OBJECTIVES = {"binary:logistic", "binary:logitraw", "binary:hinge"}
_MULTICLASS_OBJECTIVES = {"multi:softprob", "multi:softmax"}
_REGRESSION_PREFIXES = ("reg:", "count:", "survival:")
# Objectives whose predictions are class labels, not probabilities.
_HARD_LABEL_OBJECTIVES = {"binary:hinge", "multi:softmax"}


class XGBoostTeacher(Teacher):
    """A bare ``xgboost.Booster``, its task read from its objective. (XGBoost's scikit-learn wrappers
    are taken by :class:`~tabcompress.teachers.sklearn.SklearnTeacher`.)"""

    name = "xgboost"

    supported_types = ("xgboost.Booster",)
    file_suffixes = (".json", ".ubj")

    @classmethod
    def claims_file(cls, path: Path) -> bool:
        # CatBoost writes .json models too; its files open with its own keys.
        return super().claims_file(path) and not (path.suffix.lower() == ".json" and is_catboost_json(path))

    @classmethod
    def read_file(cls, path: Path, where: str) -> Any:
        import xgboost as xgb

        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
        except xgb.core.XGBoostError as exc:
            raise InputError(f"{where}: not a readable XGBoost model ({first_line(exc) or type(exc).__name__})") \
                from None
        except UnicodeDecodeError:  # XGBoost's message quotes the file's first bytes, which are not text
            raise InputError(f"{where}: not a readable XGBoost model (neither its JSON nor its UBJSON format)") \
                from None
        return booster

    @classmethod
    def handles(cls, model: Any) -> bool:
        import xgboost as xgb

        # A Pipeline ending in a Booster too, to refuse it with a reason rather than as an unknown type.
        return isinstance(final_step(model), xgb.Booster)

    def __init__(self, model: Any, source: Path | None = None):
        where = describe_source(source)
        if final_step(model) is not model:
            raise InputError(f"{where}: a Pipeline ending in a bare xgboost.Booster cannot predict; "
                             "use XGBClassifier/XGBRegressor in the Pipeline")
        config = json.loads(model.save_config())
        objective = config["learner"]["objective"]["name"]
        params = config["learner"]["learner_model_param"]
        if objective in _BINARY_OBJECTIVES:
            task, classes = "binary", np.array([0, 1])
        elif objective in _MULTICLASS_OBJECTIVES:
            task, classes = "multiclass", np.arange(int(params.get("num_class", "0")))
        elif objective.startswith(_REGRESSION_PREFIXES):
            task, classes = "regression", None
        else:
            raise InputError(f"{where}: XGBoost objective {objective!r} is not supported; "
                             "supported: binary:*, multi:softprob, multi:softmax, reg:*, count:*, survival:*")
        names = model.feature_names
        types = model.feature_types or []
        self._objective = objective
        self._categorical = [n for n, t in zip(names or [], types) if t == "c"]
        super().__init__(model, task=task, classes=classes, feature_names=list(names) if names else None,
                         n_features=model.num_features(), kind="xgboost.Booster", source=source)

    @property
    def categorical_features(self) -> list[str]:
        return list(self._categorical)

    def _matrix(self, X: pd.DataFrame) -> Any:
        """``X`` as the ``xgboost.DMatrix`` the Booster predicts on, its categorical columns typed."""
        import xgboost as xgb

        data = X
        if self._categorical:
            data = X.copy()
            for col in self._categorical:
                data[col] = data[col].astype("category")
        return xgb.DMatrix(self._model_input(data), enable_categorical=bool(self._categorical))

    # -- prediction ------------------------------------------------------------------------------
    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        out = np.asarray(self.model.predict(self._matrix(X)))
        if self._objective in _HARD_LABEL_OBJECTIVES:
            return np.eye(len(self.classes_))[out.astype(int).ravel()]
        if self._objective == "binary:logitraw":  # margins
            return 1.0 / (1.0 + np.exp(-out))
        return out

    def _predict_values(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(self._matrix(X)))

    def _leaves(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict(self._matrix(X), pred_leaf=True)

    # -- description -----------------------------------------------------------------------------
    def complexity(self) -> dict[str, int]:
        return booster_complexity(self.model)

    # -- what data-free distillation reads ---------------------------------------------------------
    def trees(self) -> list[TreeNodes]:
        if self._categorical:
            raise InputError("teacher: data-free distillation cannot read XGBoost's native categorical features; "
                             "give real rows (DATA)")
        return booster_trees(self.model, self.n_features)

    def input_map(self) -> InputMap:
        return self._identity_map()


def booster_complexity(booster: Any) -> dict[str, int]:
    """Number of trees, nodes and leaves of a Booster, from its text dump."""
    dumps = booster.get_dump()
    leaves = sum(d.count("leaf=") for d in dumps)
    nodes = sum(d.count("\n") for d in dumps)
    return {"n_trees": len(dumps), "n_nodes": nodes, "n_leaves": leaves}


def booster_trees(booster: Any, n_features: int) -> list[TreeNodes]:
    """A Booster's trees as node arrays over its ``n_features`` inputs."""
    frame = booster.trees_to_dataframe()
    if "Category" in frame and frame["Category"].notna().any():
        raise InputError("teacher: data-free distillation cannot read XGBoost's categorical splits; "
                         "give real rows (DATA)")
    names = booster.feature_names
    index = {name: i for i, name in enumerate(names)} if names else {f"f{i}": i for i in range(n_features)}
    out = []
    for _, tree in frame.groupby("Tree", sort=True):
        tree = tree.sort_values("Node")
        position = {node_id: i for i, node_id in enumerate(tree["ID"])}
        leaf = (tree["Feature"] == "Leaf").to_numpy()
        feature = np.array([-1 if is_leaf else index[f] for f, is_leaf in zip(tree["Feature"], leaf)], np.int64)
        # XGBoost goes left ("yes") when x < split; the largest float below the split gives <=.
        split = tree["Split"].to_numpy(dtype=np.float64)
        threshold = np.where(leaf, 0.0, np.nextafter(np.nan_to_num(split), -np.inf))
        left = np.array([-1 if is_leaf else position[y] for y, is_leaf in zip(tree["Yes"], leaf)], np.int64)
        right = np.array([-1 if is_leaf else position[n] for n, is_leaf in zip(tree["No"], leaf)], np.int64)
        out.append(TreeNodes(feature, threshold, left, right, tree["Cover"].to_numpy(dtype=np.float64)))
    return out
