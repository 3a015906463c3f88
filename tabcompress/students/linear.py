"""A linear student: logistic regression on the teacher's probabilities, or ridge regression on its
values. The smallest student: one weight per encoded input and class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tabcompress.config import Number, parameter
from tabcompress.students.base import Student
from tabcompress.students.encoding import TabularEncoder

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_L2 = 1e-4
# L-BFGS-B's limit on iterations; a fit that reaches it keeps the best weights so far.
MAX_ITERATIONS = 1000


@dataclass(eq=False, repr=False)  # the estimator's repr (students/estimator.py) and equality by identity
class LinearStudent(Student):
    """Linear student.

    Inputs are standardised numbers (missing cells take the median, with a missing-indicator column)
    and one-hot categories. Classification: multinomial logistic regression fitted to the teacher's
    probability vectors by minimising the weighted mean cross-entropy plus ``l2``·‖W‖² (intercepts are
    not penalised) with L-BFGS-B and the analytic gradient; a binary student has one weight vector (the
    logit of the second class). Regression: ridge regression, the weighted mean squared error plus
    ``l2``·‖W‖², solved in closed form. The fitted student holds ``coef_`` and ``intercept_``.
    """

    name = "linear"
    l2: float = parameter(DEFAULT_L2, Number(0.0))

    @classmethod
    def from_settings(cls, settings, *, device=None, time_limit=None) -> LinearStudent:
        return cls()

    def _fit(self, X: pd.DataFrame, targets: np.ndarray, sample_weight: np.ndarray | None) -> None:
        self.encoder_ = TabularEncoder(self.categorical_, numeric="standardize", categories="onehot")
        Z = self.encoder_.fit(X).transform(X)
        w = np.full(len(Z), 1.0 / len(Z)) if sample_weight is None else sample_weight / sample_weight.sum()
        if self.task_ == "regression":
            self.coef_, self.intercept_ = _ridge(Z, targets, w, float(self.l2))
        else:
            self.coef_, self.intercept_, self.optimizer_ = _logistic(Z, targets, w, float(self.l2))

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        scores = self.encoder_.transform(X) @ self.coef_ + self.intercept_
        if self.task_ == "regression":
            return scores[:, 0]
        return _probabilities(scores, len(self.classes_))

    def _complexity(self) -> dict[str, int]:
        return {"n_parameters": int(self.coef_.size + self.intercept_.size)}

    def _portable_model(self) -> tuple[dict, dict]:
        from tabcompress.students.portable import floats, output

        model = {"kind": "dense", "layers": [{"weight": floats(self.coef_), "bias": floats(self.intercept_)}]}
        return model, output(self.task_, "sigmoid" if self.task_ == "binary" else "softmax")


def _probabilities(scores: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities from the linear scores (:func:`_log_probabilities`)."""
    return np.exp(_log_probabilities(scores, n_classes))


def _log_probabilities(scores: np.ndarray, n_classes: int) -> np.ndarray:
    """Log-softmax of the linear scores: a binary student's one score is the second class's logit (the
    first class's is 0)."""
    if n_classes == 2:
        scores = np.column_stack([np.zeros(len(scores)), scores[:, 0]])
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _logistic(Z: np.ndarray, targets: np.ndarray, w: np.ndarray, l2: float
              ) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """Weights ``(d, m)`` and intercepts ``(m,)`` minimising Σ w·CE(targets, softmax) + l2·‖W‖²
    (``w`` sums to 1; m = 1 for two classes, else one per class), and what the optimiser reported."""
    from scipy.optimize import minimize

    n_classes = targets.shape[1]
    d, m = Z.shape[1], (1 if n_classes == 2 else n_classes)
    weighted = w[:, None] * targets
    mean = np.clip(weighted.sum(axis=0), 1e-6, None)
    start = np.zeros((d + 1, m))  # the intercepts start at the mean target's log-odds
    start[d] = np.log(mean[1] / mean[0]) if m == 1 else np.log(mean)

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = theta[:-m].reshape(d, m), theta[-m:]
        log_p = _log_probabilities(Z @ W + b, n_classes)
        loss = -np.sum(weighted * log_p) + l2 * np.sum(W * W)
        residual = w[:, None] * np.exp(log_p) - weighted  # w · (p − t)
        if m == 1:
            residual = residual[:, 1:]
        gradient = np.concatenate([(Z.T @ residual + 2.0 * l2 * W).ravel(), residual.sum(axis=0)])
        return float(loss), gradient

    result = minimize(loss_and_gradient, start.ravel(), jac=True, method="L-BFGS-B",
                      options={"maxiter": MAX_ITERATIONS, "ftol": 1e-12, "gtol": 1e-8})
    facts = {"iterations": int(result.nit), "converged": bool(result.success), "loss": float(result.fun)}
    return result.x[:-m].reshape(d, m), result.x[-m:].copy(), facts


def _ridge(Z: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(d, 1)`` and intercept ``(1,)`` minimising Σ w·(y − Z·β − b)² + l2·‖β‖² (``w`` sums to 1)."""
    z_mean, y_mean = w @ Z, float(w @ y)
    Zc, yc = Z - z_mean, y - y_mean
    A = Zc.T @ (w[:, None] * Zc) + l2 * np.eye(Z.shape[1])
    beta = np.linalg.lstsq(A, Zc.T @ (w * yc), rcond=None)[0]
    return beta[:, None], np.array([y_mean - z_mean @ beta])
