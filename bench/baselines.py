"""The two baselines at a student's size (bench/run.py's B4 and B5).

* **B4**, the teacher cut to the student's bytes: the teacher itself with only its first k trees — an
  XGBoost, LightGBM or CatBoost teacher's first k boosting rounds (a multiclass round holds one tree
  per class in XGBoost and LightGBM), k of a
  RandomForest's trees — for the largest k whose pickled size (:func:`serialized_bytes`, the measure the
  tool reports for its students) is at most the student's. A Pipeline teacher is measured as the
  pipeline with the cut model in it. When even one tree (round) is bigger than the student, k is 1 and
  the record says so (``over_budget``): that figure is not at equal bytes.
* **B5**, the student's own family and size trained on the real training rows with their true labels
  (one-hot for classification, the values for regression): any registered student, built as a run
  builds it (``student_class(family).from_settings``) from its option names and values.

Both are scored as every other method is: :func:`score_predictions` against the full teacher's classes
(values) on the held-out rows.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tabcompress import Settings, Teacher, evaluation
from tabcompress.evaluation.metrics import serialized_bytes
from tabcompress.students.registry import student_class
from tabcompress.teachers.labeling import label_rows

# The baselines grow scikit-learn's greedy CART tree, as the published recipes do; the refinement of a
# grown tree's splits (TreeStudent's refine_passes) and the lookahead at its root are tabcompress's own.
BASELINE_TREE_OPTIONS = {"refine_passes": 0, "lookahead": 1}


def score_predictions(task: str, teacher_pred: np.ndarray, pred: np.ndarray,
                      y_test: np.ndarray | None) -> dict[str, float]:
    """Fidelity to the teacher and, when the true target is known, the score against it: the figures
    every method's run records."""
    scores = dict(evaluation.fidelity(task, teacher_pred, pred))
    if y_test is not None:
        scores.update({f"target_{k}": v for k, v in evaluation.against_target(task, y_test, pred).items()})
    return scores


def teacher_predictions(teacher: Teacher, X: pd.DataFrame) -> np.ndarray:
    """The teacher's classes (values, regression) on ``X``, as the benchmark scores them."""
    T = label_rows(teacher, X)
    return teacher.classes_[np.argmax(T, axis=1)] if teacher.is_classifier else T


# -- B4: the teacher cut to k trees ---------------------------------------------------------------

def _final(model: Any) -> tuple[Any, Any]:
    """The ensemble at the end of ``model`` (a Pipeline's last step, or the model) and the pipeline."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        return model.steps[-1][1], model
    return model, None


def _is_xgboost(estimator: Any) -> bool:
    try:
        from xgboost import XGBModel
    except ImportError:  # pragma: no cover - xgboost is a dependency of the benchmark
        return False
    return isinstance(estimator, XGBModel)


def _library(estimator: Any) -> str:
    return type(estimator).__module__.split(".")[0]


def n_units(model: Any) -> int:
    """How many units the teacher can be cut into: boosting rounds (XGBoost, LightGBM, CatBoost) or
    trees (a forest)."""
    estimator, _ = _final(model)
    if _is_xgboost(estimator):
        return int(estimator.get_booster().num_boosted_rounds())
    if _library(estimator) == "lightgbm":
        return int(estimator.booster_.current_iteration())
    if _library(estimator) == "catboost":
        return int(estimator.tree_count_)
    if hasattr(estimator, "estimators_"):
        return len(estimator.estimators_)
    raise TypeError(f"B4 cuts XGBoost, LightGBM, CatBoost and RandomForest teachers; got {type(estimator).__name__}")


def cut_teacher(model: Any, k: int) -> Any:
    """A copy of ``model`` holding only its first ``k`` boosting rounds (XGBoost: the booster sliced
    ``booster[:k]``) or ``k`` of its trees (a forest: ``estimators_[:k]``, ``n_estimators = k``); the
    fitted model itself is not changed. A Pipeline comes back as a pipeline around the cut model (its
    other steps shared, not copied)."""
    estimator, pipeline = _final(model)
    total = n_units(model)
    if not 1 <= k <= total:
        raise ValueError(f"k must be between 1 and {total}, got {k}")
    cut = copy.copy(estimator)
    if _is_xgboost(estimator):
        cut._Booster = estimator.get_booster()[:k]
    elif _library(estimator) == "lightgbm":
        import lightgbm

        cut._Booster = lightgbm.Booster(model_str=estimator.booster_.model_to_string(num_iteration=k))
    elif _library(estimator) == "catboost":
        cut = estimator.copy()
        cut.shrink(k)
        return cut if pipeline is None else _in_pipeline(pipeline, cut)
    else:
        cut.estimators_ = list(estimator.estimators_[:k])
    cut.n_estimators = k
    return cut if pipeline is None else _in_pipeline(pipeline, cut)


def _in_pipeline(pipeline: Any, cut: Any) -> Any:
    """A copy of ``pipeline`` with ``cut`` as its last step (the other steps shared, not copied)."""
    whole = copy.copy(pipeline)
    whole.steps = [*pipeline.steps[:-1], (pipeline.steps[-1][0], cut)]
    return whole


@dataclass
class CutTeacher:
    """One fitted teacher, cut to sizes on demand. Sizes and scores are remembered per k, so the
    students of a cell (and the candidates of a search) at similar sizes share the work."""

    model: Any
    task: str
    _bytes: dict[int, int] = field(default_factory=dict)
    _scores: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self):
        self.units = n_units(self.model)
        estimator, _ = _final(self.model)
        self.unit = "round" if _is_xgboost(estimator) or _library(estimator) in ("lightgbm", "catboost") else "tree"

    def bytes_at(self, k: int) -> int:
        if k not in self._bytes:
            self._bytes[k] = serialized_bytes(cut_teacher(self.model, k))
        return self._bytes[k]

    def choose_k(self, budget: int) -> tuple[int, bool]:
        """The largest k whose cut teacher's bytes are at most ``budget``, and whether it fits; (1, False)
        when even one tree (round) is bigger. Sizes grow with k, so the search doubles k until a cut is
        too big, then halves the gap: a few pickles of cuts near the budget, never of the whole teacher
        unless it fits."""
        if self.bytes_at(1) > budget:
            return 1, False
        good, bad = 1, None
        k = 2
        while k <= self.units:
            if self.bytes_at(k) > budget:
                bad = k
                break
            good, k = k, 2 * k
        if bad is None:
            if good == self.units or self.bytes_at(self.units) <= budget:
                return self.units, True
            bad = self.units
        while bad - good > 1:
            mid = (good + bad) // 2
            if self.bytes_at(mid) <= budget:
                good = mid
            else:
                bad = mid
        return good, True

    def score(self, k: int, X_test: pd.DataFrame, teacher_pred: np.ndarray,
              y_test: np.ndarray | None) -> dict[str, Any]:
        """The cut teacher's scores on the held-out rows (cached per k: the rows are the cell's own)."""
        if k not in self._scores:
            cut = Teacher.from_model(cut_teacher(self.model, k))
            started = time.perf_counter()
            pred = teacher_predictions(cut, X_test)
            self._scores[k] = {**score_predictions(self.task, teacher_pred, pred, y_test),
                               **cut.complexity(), "predict_s": round(time.perf_counter() - started, 3)}
        return self._scores[k]

    def at_bytes(self, budget: int, X_test: pd.DataFrame, teacher_pred: np.ndarray,
                 y_test: np.ndarray | None) -> dict[str, Any]:
        """B4 at ``budget`` bytes: the fields of a run record (fidelity, target score, serialized_bytes,
        trees) and ``b4``, what was cut: k, the unit, the budget and whether k=1 was already over it."""
        started = time.perf_counter()
        k, fits = self.choose_k(int(budget))
        search_s = time.perf_counter() - started
        scores = self.score(k, X_test, teacher_pred, y_test)
        return {**{key: v for key, v in scores.items() if key != "predict_s"},
                "serialized_bytes": self.bytes_at(k),
                "b4": {"k": k, "unit": self.unit, "of": self.units, "budget_bytes": int(budget),
                       "over_budget": not fits, "bytes_at_1": self.bytes_at(1),
                       "search_s": round(search_s, 3), "predict_s": scores["predict_s"]}}


# -- B5 (and B0): the student's family and size on the true labels ---------------------------------

def true_targets(y_train: pd.Series, classes: np.ndarray | None) -> np.ndarray:
    """One-hot rows of the true classes (in the teacher's class order), or the true values."""
    if classes is not None:
        return (y_train.to_numpy()[:, None] == np.asarray(classes)[None, :]).astype(np.float64)
    return y_train.to_numpy(dtype=np.float64)


def baseline_student(family: str, params: dict[str, Any], seed: int):
    """A new student of ``family`` with ``params`` (option names → values, as ``--student`` and its
    settings take them), built as a run builds it, on the CPU; a tree is CART's (not refined)."""
    options = {**params, **(BASELINE_TREE_OPTIONS if family == "tree" else {})}
    settings = Settings.from_options(seed=seed, device="cpu", student=family, **options)
    return student_class(family).from_settings(settings, device="cpu")


def params_key(family: str, params: dict[str, Any]) -> str:
    """A hashable name for a (family, size): ``tree max_depth=4``."""
    return " ".join([family, *(f"{k}={_plain(v)}" for k, v in sorted(params.items()))])


def _plain(value: Any) -> Any:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
