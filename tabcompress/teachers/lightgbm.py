"""LightGBM: ``LGBMClassifier`` / ``LGBMRegressor`` (bare or at the end of a scikit-learn Pipeline), a
bare ``lightgbm.Booster``, and the text model file ``Booster.save_model`` writes (``.txt``).

A model fitted on a DataFrame with pandas ``category`` columns keeps those columns' categories
(``pandas_categorical``) and splits on them natively; such a column may hold text in DATA, and is
handed to LightGBM as a categorical with the training categories, so a category it never saw goes
where LightGBM sends unseen ones. The library is an extra (``tabcompress[lightgbm]``): nothing here
imports it until a LightGBM model is in hand.

(``import lightgbm`` in this package still finds the library: imports are absolute.)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabcompress.errors import InputError, first_line
from tabcompress.teachers.base import InputMap, Teacher, TreeNodes, describe_model, describe_source, final_step

# Objectives by the task they imply, under every alias LightGBM accepts (its docs, "objective").
_BINARY = {"binary"}
_MULTICLASS = {"multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr"}
_REGRESSION = {
    "regression", "regression_l2", "l2", "mean_squared_error", "mse", "l2_root", "root_mean_squared_error", "rmse",
    "regression_l1", "l1", "mean_absolute_error", "mae", "huber", "fair", "poisson", "quantile", "mape",
    "mean_absolute_percentage_error", "gamma", "tweedie", "cross_entropy", "xentropy", "cross_entropy_lambda",
    "xentlambda",
}
# LightGBM names columns Column_0, Column_1, ... when it was fitted on an array.
_UNNAMED = re.compile(r"Column_\d+")


def _is_lightgbm(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "lightgbm"


class LightGBMTeacher(Teacher):
    """A LightGBM model: the scikit-learn wrappers (bare or at the end of a Pipeline) or a bare Booster,
    its task read from its objective."""

    name = "lightgbm"
    supported_types = ("LGBMClassifier", "LGBMRegressor", "lightgbm.Booster")
    file_suffixes = (".txt",)
    library = "lightgbm"
    extra = "lightgbm"
    counts_rows = True  # a node's count

    @classmethod
    def handles(cls, model: Any) -> bool:
        # The type's module is checked first, so that a model of another family never imports lightgbm.
        return _is_lightgbm(final_step(model))

    @classmethod
    def read_file(cls, path: Path, where: str) -> Any:
        lightgbm = cls.import_library(where)
        _logs_to_stderr(lightgbm)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{where}: not a readable LightGBM model ({type(exc).__name__})") from None
        _check_complete(text, where)
        try:
            return lightgbm.Booster(model_str=text)
        except Exception as exc:  # LightGBMError for a damaged file; a text file of anything else too
            raise InputError(f"{where}: not a readable LightGBM model ({first_line(exc) or type(exc).__name__})") \
                from None

    def __init__(self, model: Any, source: Path | None = None):
        import lightgbm
        from sklearn.pipeline import Pipeline

        _logs_to_stderr(lightgbm)
        where = describe_source(source)
        estimator = final_step(model)
        if type(estimator).__name__ == "Booster":
            booster = estimator
            if estimator is not model:
                raise InputError(f"{where}: a Pipeline ending in a bare lightgbm.Booster cannot predict; "
                                 "use LGBMClassifier/LGBMRegressor in the Pipeline")
        else:
            booster = getattr(estimator, "_Booster", None)
            if booster is None:
                raise InputError(f"{where}: the {type(estimator).__name__} in it is not fitted")
        # The first tree's dump is cheap whatever the model's size, and says the objective in its canonical
        # spelling ("binary sigmoid:1", "multiclass num_class:3") and each feature's values.
        head = booster.dump_model(num_iteration=1)
        objective = str(head.get("objective", "")).split(" ")[0]
        if objective in _BINARY:
            task = "binary"
        elif objective in _MULTICLASS:
            task = "multiclass"
        elif objective in _REGRESSION:
            task = "regression"
        else:
            shown = objective or "a custom objective"
            raise InputError(f"{where}: LightGBM objective {shown!r} is not supported; supported: binary, "
                             f"multiclass, multiclassova and the regression objectives (regression, l1, huber, "
                             f"poisson, quantile, gamma, tweedie, ...)")
        if task == "regression":
            classes = None
        elif hasattr(estimator, "classes_") and booster is not estimator:
            classes = estimator.classes_
        else:
            classes = np.arange(2 if task == "binary" else int(head.get("num_class", 0)))
        names = list(head.get("feature_names") or booster.feature_name())
        if all(_UNNAMED.fullmatch(n) for n in names) and getattr(model, "feature_names_in_", None) is None:
            names = None
        elif isinstance(model, Pipeline):
            names = getattr(model, "feature_names_in_", None)
        infos = head.get("feature_infos", {})
        categorical = [n for n in booster.feature_name() if infos.get(n, {}).get("values")]
        stored = booster.pandas_categorical or []
        if len(stored) == len(categorical) and not isinstance(model, Pipeline):
            # Fitted on pandas categoricals: these columns take their categories (text allowed).
            self._categories = dict(zip(categorical, stored))
        else:
            # Fitted on integer codes (categorical_feature=[...]): the columns take the codes as numbers.
            self._categories = {}
        self._booster = booster
        self._estimator = estimator
        kind = describe_model(model, type(model).__name__ if booster is not model else "lightgbm.Booster")
        super().__init__(model, task=task, classes=classes, feature_names=names,
                         n_features=getattr(model, "n_features_in_", None) or booster.num_feature(), kind=kind,
                         source=source)

    @property
    def categorical_features(self) -> list[str]:
        return list(self._categories)

    # -- prediction ------------------------------------------------------------------------------
    def _frame(self, X: pd.DataFrame) -> Any:
        """``X`` as the model takes it: its categorical columns as pandas categoricals over the training
        categories (a cell outside them is missing to LightGBM, as an unseen category is)."""
        if not self._categories:
            return self._model_input(X)
        X = X.copy()
        for name, categories in self._categories.items():
            X[name] = pd.Categorical(_like(X[name], categories), categories=categories)
        return X

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self._booster is self.model:
            return self._booster.predict(self._frame(X))
        return self.model.predict_proba(self._frame(X))

    def _predict_values(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict(self._frame(X))

    def _leaves(self, X: pd.DataFrame) -> np.ndarray | None:
        return self._booster.predict(self._ensemble_input(X), pred_leaf=True)

    def _ensemble_input(self, X: pd.DataFrame) -> Any:
        """``X`` as the booster sees it: through the Pipeline's earlier steps, if any."""
        from sklearn.pipeline import Pipeline

        return self.model[:-1].transform(X) if isinstance(self.model, Pipeline) else self._frame(X)

    # -- description -----------------------------------------------------------------------------
    def complexity(self) -> dict[str, int]:
        # Every tree is binary: a tree of L leaves has L - 1 splits.
        text = self._booster.model_to_string()
        leaves = [int(n) for n in re.findall(r"^num_leaves=(\d+)$", text, flags=re.M)]
        return {"n_trees": len(leaves), "n_nodes": int(2 * sum(leaves) - len(leaves)), "n_leaves": int(sum(leaves))}

    # -- what data-free distillation reads ---------------------------------------------------------
    def trees(self) -> list[TreeNodes]:
        frame = self._booster.trees_to_dataframe()
        if (frame["decision_type"] == "==").any():
            raise InputError("teacher: data-free distillation cannot read LightGBM's categorical splits "
                             "(a set of categories, not a threshold); give real rows (DATA)")
        index = {name: i for i, name in enumerate(self._booster.feature_name())}
        out = []
        for _, tree in frame.groupby("tree_index", sort=True):
            position = {node: i for i, node in enumerate(tree["node_index"])}
            leaf = tree["split_feature"].isna().to_numpy()
            feature = np.array([-1 if is_leaf else index[f] for f, is_leaf in zip(tree["split_feature"], leaf)],
                               np.int64)
            # LightGBM goes left when x <= threshold, as TreeNodes does.
            threshold = np.where(leaf, 0.0, pd.to_numeric(tree["threshold"], errors="coerce").fillna(0.0))
            left = np.array([-1 if is_leaf else position[c] for c, is_leaf in zip(tree["left_child"], leaf)], np.int64)
            right = np.array([-1 if is_leaf else position[c] for c, is_leaf in zip(tree["right_child"], leaf)],
                             np.int64)
            out.append(TreeNodes(feature, threshold.astype(np.float64), left, right,
                                 tree["count"].to_numpy(dtype=np.float64)))
        return out

    def input_map(self) -> InputMap:
        from sklearn.pipeline import Pipeline

        from tabcompress.teachers.sklearn import pipeline_input_map

        if isinstance(self.model, Pipeline):
            return pipeline_input_map(self.model, self._column_names(), self._booster.num_feature())
        return self._identity_map()


def _check_complete(text: str, where: str) -> None:
    """Refuse a model text that is cut short before LightGBM reads it: LightGBM 4.x crashes the process
    (a segmentation fault) on a file truncated anywhere before its "end of trees" line. The header's
    ``tree_sizes`` says how many ``Tree=`` blocks must follow."""
    if not text.startswith("tree\n"):
        raise InputError(f"{where}: not a readable LightGBM model (it does not start with LightGBM's 'tree' header)")
    sizes = re.search(r"^tree_sizes=(.*)$", text, flags=re.M)
    blocks = len(re.findall(r"^Tree=\d+$", text, flags=re.M))
    if "\nend of trees" not in text or (sizes is not None and len(sizes.group(1).split()) != blocks):
        raise InputError(f"{where}: not a readable LightGBM model (it is cut short: its trees do not end)")


def _logs_to_stderr(lightgbm: Any) -> None:
    """LightGBM prints its own warnings to stdout unless a logger is registered; stdout carries
    tabcompress's results, so they go to a logger on stderr instead — unless the caller registered one."""
    import logging

    basic = getattr(lightgbm, "basic", None)
    dummy = getattr(basic, "_DummyLogger", None)
    if dummy is None or not isinstance(getattr(basic, "_LOGGER", None), dummy):
        return
    logger = logging.getLogger("tabcompress.lightgbm")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[LightGBM] %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    lightgbm.register_logger(logger)


def _like(values: pd.Series, categories: list[Any]) -> pd.Series:
    """``values`` in the type of ``categories``: a CSV reads the category "3" as the number 3 (or 3.0
    beside a missing cell), which would match no text category."""
    if not categories or not isinstance(categories[0], str) or values.dtype == object:
        return values
    whole = values.notna() & (values == values.round())

    def text(v: Any) -> Any:
        return v if pd.isna(v) else str(v)

    return values.astype(object).where(~whole, values[whole].astype(np.int64).astype(str)).map(text)
