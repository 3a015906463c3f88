"""CatBoost models: ``CatBoostClassifier``, ``CatBoostRegressor`` or a bare ``catboost.CatBoost``, pickled
or in CatBoost's own files (.cbm, .json), bare or at the end of a scikit-learn Pipeline.

The task comes from the model's loss function, since a bare ``CatBoost`` (what ``catboost.train`` returns
and what a model file holds) knows no other. Losses that are neither one classification nor one
regression (ranking, several targets, several labels, several quantiles, a value with its uncertainty)
are refused: a student has one answer per row.

CatBoost takes its categorical features as text or whole numbers only, and refuses a float or a missing
value there (:func:`category_text` explains how rows are brought to that form). CatBoost's trees are
read for data-free distillation from its JSON export; a model with categorical features cannot be
read so, as its splits are on statistics of categories (CTRs), not on raw values.

(``import catboost`` in this package still finds the library: imports are absolute.) Nothing here
imports catboost before a model or file asks for it, as it is an optional extra.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from tabcompress.errors import InputError
from tabcompress.teachers.base import (
    InputMap,
    Teacher,
    TreeNodes,
    describe_model,
    describe_source,
    final_step,
    is_catboost_json,
    supported_types,
)

# Loss functions by the task they imply; a loss may carry parameters after a colon ("Quantile:alpha=0.9").
_BINARY_LOSSES = ("Logloss", "CrossEntropy")
_MULTICLASS_LOSSES = ("MultiClass", "MultiClassOneVsAll")
_REGRESSION_LOSSES = ("RMSE", "MAE", "Quantile", "Expectile", "LogLinQuantile", "MAPE", "Poisson", "Tweedie",
                      "Huber", "Lq", "LogCosh", "RMSPE")
# Regression losses whose model answers exp(raw sum), as CatBoostRegressor.predict itself gives them.
_EXPONENT_LOSSES = ("Poisson", "Tweedie")
#: How a missing cell of a categorical column is given to CatBoost (see :func:`category_text`).
MISSING_CATEGORY = "nan"
_CTR_REFUSAL = ("teacher: data-free distillation cannot map CatBoost's categorical splits (CTRs) back to raw "
                "values; give real rows (DATA)")


def _supported_losses() -> str:
    return (f"binary ({', '.join(_BINARY_LOSSES)}), multiclass ({', '.join(_MULTICLASS_LOSSES)}), "
            f"regression ({', '.join(_REGRESSION_LOSSES)})")


def _task_of(loss: str, where: str) -> str:
    """The task a loss function implies; an :class:`InputError` for one that is none of the three."""
    name = loss.split(":")[0]
    if name in _BINARY_LOSSES:
        return "binary"
    if name in _MULTICLASS_LOSSES:
        return "multiclass"
    if name in _REGRESSION_LOSSES:
        return "regression"
    return _refuse_loss(loss, where)


def _refuse_loss(loss: str, where: str) -> NoReturn:
    raise InputError(f"{where}: CatBoost loss function {loss!r} is not supported (tabcompress distils one class "
                     f"or one value per row); supported: {_supported_losses()}")


def _loss_of(model: Any, where: str) -> str:
    """The loss function the model was trained with, as CatBoost names it."""
    loss = None
    try:
        loss = model.get_all_params().get("loss_function")
    except Exception:  # a model saved without its training parameters: try what it was built with
        pass
    loss = loss or model.get_params().get("loss_function")
    if not isinstance(loss, str) or not loss:
        raise InputError(f"{where}: the CatBoost model does not say its loss function (a custom objective?); "
                         f"supported: {_supported_losses()}")
    return loss


def category_text(values: pd.Series) -> pd.Series:
    """A categorical column as the text CatBoost saw at training.

    CatBoost takes a categorical value as a string or a whole number, which it hashes as its decimal
    text (3 as "3", True as "1"), and refuses a float or a missing value there. So a whole number
    keeps its text, also when pandas read it as a float because the column has empty cells (3.0 is
    "3"); another float becomes Python's text of it ("2.5").

    A missing cell becomes ``"nan"`` (:data:`MISSING_CATEGORY`). CatBoost would have refused it at
    training, so the training rows held some text in its place; "nan" is what pandas' ``astype(str)``
    writes for a missing value, the usual way such columns are made acceptable to CatBoost. A model
    trained with another placeholder ("NA", "missing") sees a category it never met, which it scores
    as any unseen category.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    missing = values.isna().to_numpy()
    if pd.api.types.is_bool_dtype(values):
        text = np.where(values.to_numpy(dtype=bool), "1", "0").astype(object)
    elif pd.api.types.is_integer_dtype(values):
        text = values.astype(str).to_numpy(dtype=object)
    elif pd.api.types.is_float_dtype(values):
        text = np.array([_number_text(v) for v in values.to_numpy(dtype=np.float64)], dtype=object)
    elif pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        text = values.to_numpy(dtype=object)
    else:  # mixed object column: each value by its own type
        text = np.array([_value_text(v) for v in values.to_numpy(dtype=object)], dtype=object)
    text[missing] = MISSING_CATEGORY
    return pd.Series(text, index=values.index, name=values.name, dtype=object)


def _number_text(value: float) -> str:
    if not np.isfinite(value):
        return MISSING_CATEGORY if np.isnan(value) else str(value)
    return str(int(value)) if value == np.round(value) and abs(value) < 2**63 else str(value)


def _value_text(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return _number_text(float(value))
    return value if isinstance(value, str) else str(value)


class CatBoostTeacher(Teacher):
    """A CatBoost model, bare or at the end of a Pipeline, its task read from its loss function."""

    name = "catboost"

    supported_types = ("catboost.CatBoostClassifier", "catboost.CatBoostRegressor", "catboost.CatBoost")
    file_suffixes = (".cbm", ".json")
    library = "catboost"
    extra = "catboost"
    counts_rows = True  # a leaf's weight: the learning rows (their weights) that reached it

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def handles(cls, model: Any) -> bool:
        # By module name, so that deciding imports nothing: catboost is an optional extra.
        return type(final_step(model)).__module__.split(".")[0] == "catboost"

    @classmethod
    def claims_file(cls, path: Path) -> bool:
        # XGBoost writes .json models too; CatBoost's open with its own keys.
        suffix = path.suffix.lower()
        return suffix == ".cbm" or (suffix == ".json" and is_catboost_json(path))

    @classmethod
    def read_file(cls, path: Path, where: str) -> Any:
        catboost = cls.import_library(where)
        model = catboost.CatBoost()
        as_json = path.suffix.lower() == ".json"
        try:
            model.load_model(str(path), format="json" if as_json else "cbm")
        except Exception as exc:  # CatBoostError mostly, but a damaged JSON file can raise others
            reason = _json_fault(path) if as_json else None
            raise InputError(f"{where}: not a readable CatBoost model ({reason or _reason(exc)})") from None
        if as_json and not _json_ends(path):
            # CatBoost's JSON reader takes a file cut short without a word and builds a model that fails
            # only on the rows, blaming them; a whole JSON object ends with its closing brace.
            raise InputError(f"{where}: not a readable CatBoost model (it is cut short: the JSON does not end)")
        # The scikit-learn face of the model, so that its classes and predict_proba are at hand.
        if _task_of(_loss_of(model, where), where) == "regression":
            return catboost.to_regressor(model)
        return catboost.to_classifier(model)

    def __init__(self, model: Any, source: Path | None = None):
        import catboost
        from sklearn.pipeline import Pipeline

        where = describe_source(source)
        estimator = final_step(model)
        if not isinstance(estimator, catboost.CatBoost):
            found = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
            raise InputError(f"{where}: unsupported model type {found}; supported: {supported_types()}")
        if not estimator.is_fitted():
            raise InputError(f"{where}: the {type(estimator).__name__} in it is not fitted")
        if estimator.get_embedding_feature_indices():
            raise InputError(f"{where}: the CatBoost model takes embedding features (a list of numbers per cell), "
                             f"which rows from a CSV cannot hold")
        self._loss = _loss_of(estimator, where)
        task = _task_of(self._loss, where)
        n_outputs = _n_outputs(estimator)
        if task == "regression":
            classes = None
            if n_outputs != 1:
                _refuse_loss(self._loss, where)
        else:
            classes = np.asarray(estimator.classes_ if estimator.classes_ is not None else [])
            if classes.size == 0:  # a model that kept no class names: its classes are numbered
                classes = np.arange(2 if task == "binary" else n_outputs)
        self._estimator = estimator
        self._pipeline = isinstance(model, Pipeline)
        inputs = [str(n) for n in (estimator.feature_names_ or [])]
        self._n_inputs = len(inputs)
        # Columns given to CatBoost as text: its categorical features, and its text features.
        self._text_inputs = sorted(set(estimator.get_cat_feature_indices()) | set(estimator.get_text_feature_indices()))
        if self._pipeline:
            names = getattr(model, "feature_names_in_", None)
            n_features = getattr(model, "n_features_in_", None)
            if n_features is None:
                n_features = len(names) if names is not None else self._n_inputs
            kind = describe_model(model, type(model).__name__)
        else:
            # A model fitted on a bare array calls its features "0", "1", ...: it has no names.
            names = None if inputs == [str(i) for i in range(len(inputs))] else inputs
            n_features = len(inputs)
            kind = type(estimator).__name__
        super().__init__(model, task=task, classes=classes, feature_names=names, n_features=n_features, kind=kind,
                         source=source)

    # -- facts -----------------------------------------------------------------------------------
    @property
    def accepts_text(self) -> bool:
        # A Pipeline's own steps take the raw rows; a bare model takes text in its categorical columns
        # only (categorical_features), named as the data names them; a model fitted without names
        # cannot name them, so it takes text in any column and CatBoost refuses what it cannot read.
        return self._pipeline or (self.feature_names is None and bool(self._text_inputs))

    @property
    def categorical_features(self) -> list[str]:
        if self._pipeline:
            return []
        names = self._column_names()
        return [names[i] for i in self._text_inputs]

    # -- prediction ------------------------------------------------------------------------------
    def _model_rows(self, X: pd.DataFrame) -> Any:
        """``X`` as the CatBoost model takes it: through the Pipeline's earlier steps, or with its
        categorical columns as text (:func:`category_text`). A Pipeline's steps gave the model its
        training rows, so what they give is passed on as it is."""
        if self._pipeline:
            return self.model[:-1].transform(X)
        if self._text_inputs:
            X = X.copy()
            for i in self._text_inputs:
                X.isetitem(i, category_text(X.iloc[:, i]))
        return self._model_input(X)

    def _ask(self, X: pd.DataFrame, prediction_type: str) -> np.ndarray:
        import catboost

        try:
            return np.asarray(self._estimator.predict(self._model_rows(X), prediction_type=prediction_type))
        except catboost.CatBoostError as exc:
            raise InputError(f"{describe_source(self.source)}: CatBoost refused the rows ({_reason(exc)})") from None

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = self._ask(X, "Probability")
        if self._loss.split(":")[0] == "MultiClassOneVsAll":
            # One sigmoid per class, which need not add up to 1; scaled so they do (the argmax, CatBoost's
            # own class, is unchanged) since students learn a distribution over the classes.
            proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
        return proba

    def _predict_values(self, X: pd.DataFrame) -> np.ndarray:
        exponent = self._loss.split(":")[0] in _EXPONENT_LOSSES
        return self._ask(X, "Exponent" if exponent else "RawFormulaVal").ravel()

    def _leaves(self, X: pd.DataFrame) -> np.ndarray:
        return self._estimator.calc_leaf_indexes(self._model_rows(X))

    # -- description -----------------------------------------------------------------------------
    def complexity(self) -> dict[str, int]:
        leaves = int(np.sum(self._estimator.get_tree_leaf_counts()))
        n_trees = int(self._estimator.tree_count_)
        # Every split has two children, so a tree of L leaves has L - 1 splits.
        return {"n_trees": n_trees, "n_nodes": 2 * leaves - n_trees, "n_leaves": leaves}

    # -- what data-free distillation reads ---------------------------------------------------------
    def trees(self) -> list[TreeNodes]:
        self._check_data_free()
        spec = self.model_json()
        index = {f["feature_index"]: f["flat_feature_index"] for f in spec["features_info"].get("float_features", [])}
        if "oblivious_trees" in spec:
            return [oblivious_tree(tree, index) for tree in spec["oblivious_trees"]]
        return [non_symmetric_tree(tree, index) for tree in spec.get("trees", [])]

    def input_map(self) -> InputMap:
        self._check_data_free()
        return self._identity_map()

    def model_json(self) -> dict[str, Any]:
        """The model as CatBoost exports it to JSON (its trees, borders, leaf values and weights)."""
        with tempfile.TemporaryDirectory(prefix="tabcompress-catboost-") as folder:
            path = Path(folder) / "model.json"
            self._estimator.save_model(str(path), format="json")
            return json.loads(path.read_text(encoding="utf-8"))

    def _check_data_free(self) -> None:
        if self._pipeline:
            raise InputError(f"teacher: data-free distillation reads a bare CatBoost model, not a {self.kind}; "
                             f"give real rows (DATA)")
        if self._estimator.get_cat_feature_indices():
            raise InputError(_CTR_REFUSAL)
        if self._estimator.get_text_feature_indices():
            raise InputError("teacher: data-free distillation cannot map CatBoost's text features back to raw "
                             "values; give real rows (DATA)")


def _reason(exc: Exception) -> str:
    """CatBoost's message in one short line, without the C++ source position it starts with
    ("catboost/libs/model/model.cpp:1185: Incorrect model file descriptor")."""
    lines = str(exc).strip().splitlines()
    text = re.sub(r"^\S+\.(?:cpp|h):\d+: ", "", lines[-1].strip()) if lines else ""
    return (text or type(exc).__name__)[:200]


def _json_ends(path: Path) -> bool:
    """Whether the file's last character other than white space is the closing brace of a JSON object."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 256))
        return handle.read().rstrip().endswith(b"}")


def _json_fault(path: Path) -> str | None:
    """Why a .json model file is not JSON at all (cut short, say), which CatBoost's own message hides;
    None when it parses."""
    try:
        with open(path, encoding="utf-8") as handle:
            json.load(handle)
    except (ValueError, OSError) as exc:
        return f"not valid JSON: {str(exc)[:160]}"
    return None


def _n_outputs(model: Any) -> int:
    """How many raw values the model gives per row (one per class for MultiClass, else one unless the
    loss has several targets)."""
    _, bias = model.get_scale_and_bias()
    return len(bias) if isinstance(bias, (list, tuple, np.ndarray)) else 1


# -- CatBoost's JSON trees as node arrays ---------------------------------------------------------
def border_threshold(border: float) -> float:
    """The threshold ``t`` for which ``x <= t`` exactly when CatBoost sends ``x`` left at ``border``.

    CatBoost compares a feature as a float32 with a float32 border and goes right when the value is
    greater. A float64 ``x`` goes left when it rounds (to nearest, ties to even) to the border or
    below, i.e. up to the midpoint between the border and the next float32, and at the midpoint itself
    when the border is the even one of the two.
    """
    b = np.float32(border)
    above = np.nextafter(b, np.float32(np.inf))
    if not np.isfinite(above):
        return float(np.inf)
    middle = (float(b) + float(above)) / 2.0  # exact: a float64 holds a float32's bits and one more
    even = int(np.array(b).view(np.uint32)) % 2 == 0
    return middle if even else float(np.nextafter(middle, -np.inf))


def _split_feature(split: dict[str, Any], index: dict[int, int]) -> int:
    if split.get("split_type") != "FloatFeature":
        raise InputError(_CTR_REFUSAL)
    return int(index[split["float_feature_index"]])


def oblivious_tree(tree: dict[str, Any], index: dict[int, int]) -> TreeNodes:
    """A symmetric tree from CatBoost's JSON as node arrays.

    Every level of an oblivious tree asks one question of all its nodes. CatBoost numbers a leaf by
    its splits' answers, split ``i`` (in the JSON's order) giving bit ``i`` (1: the value is above the
    border). Here the root asks the last split and each level the one before, so the nodes are a
    complete tree in breadth-first order (children of ``i`` at ``2i + 1``, left, and ``2i + 2``) whose
    leaves come in CatBoost's leaf order. ``index`` maps the JSON's float feature index to the
    feature's position among all the model's features.
    """
    splits = tree.get("splits", [])
    depth = len(splits)
    n_inner, n_leaves = 2**depth - 1, 2**depth
    n = n_inner + n_leaves
    feature = np.full(n, -1, dtype=np.int64)
    threshold = np.zeros(n)
    left = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    for level in range(depth):
        split = splits[depth - 1 - level]
        nodes = np.arange(2**level - 1, 2 ** (level + 1) - 1)
        feature[nodes] = _split_feature(split, index)
        threshold[nodes] = border_threshold(split["border"])
        left[nodes], right[nodes] = 2 * nodes + 1, 2 * nodes + 2
    weight = np.zeros(n)
    leaf_weights = np.asarray(tree.get("leaf_weights", np.zeros(n_leaves)), dtype=np.float64)
    weight[n_inner:] = leaf_weights if leaf_weights.size == n_leaves else 0.0
    for i in range(n_inner - 1, -1, -1):  # a node holds the weight of the leaves below it
        weight[i] = weight[2 * i + 1] + weight[2 * i + 2]
    return TreeNodes(feature, threshold, left, right, weight)


def non_symmetric_tree(tree: dict[str, Any], index: dict[int, int]) -> TreeNodes:
    """A tree of grow policy Depthwise or Lossguide from CatBoost's JSON (nested ``split``/``left``/
    ``right`` nodes, leaves with ``value`` and ``weight``) as node arrays, nodes in depth-first order."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    weight: list[float] = []

    def add(node: dict[str, Any]) -> int:
        i = len(feature)
        feature.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        weight.append(0.0)
        if "split" not in node:
            weight[i] = float(node.get("weight", 0.0))
            return i
        feature[i] = _split_feature(node["split"], index)
        threshold[i] = border_threshold(node["split"]["border"])
        left[i] = add(node["left"])
        right[i] = add(node["right"])
        weight[i] = weight[left[i]] + weight[right[i]]
        return i

    add(tree)
    return TreeNodes(np.array(feature, dtype=np.int64), np.array(threshold), np.array(left, dtype=np.int64),
                     np.array(right, dtype=np.int64), np.array(weight))
