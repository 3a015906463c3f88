"""The scikit-learn estimator contract without scikit-learn.

A student, and the encoder inside it, are scikit-learn-style estimators: their parameters are the
arguments of ``__init__``, :meth:`Estimator.get_params` and :meth:`Estimator.set_params` read and write
them, and :func:`sklearn.base.clone` copies them (it builds a new object from ``get_params``). Inheriting
``sklearn.base.BaseEstimator`` for that would import scikit-learn — and through it scipy, a second or
more — whenever a fitted student is loaded, so this module gives the same contract with the standard
library alone. What scikit-learn's base adds beyond it (an HTML repr for notebooks, version warnings on
unpickling, metadata routing) a student does not need; :meth:`Estimator.__sklearn_tags__` imports
scikit-learn only when scikit-learn itself asks for the tags.
"""

from __future__ import annotations

import inspect
import math
from typing import Any


class Estimator:
    """get_params / set_params / repr from the parameters of ``__init__``, as scikit-learn's
    ``BaseEstimator`` defines them."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The parameters of ``__init__`` (a dataclass's fields), sorted, as scikit-learn lists them."""
        init = cls.__init__
        if init is object.__init__:
            return []
        parameters = [p for p in inspect.signature(init).parameters.values()
                      if p.name != "self" and p.kind != p.VAR_KEYWORD]
        for p in parameters:
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(f"{cls.__name__} should not take *args in __init__: its parameters are "
                                   f"its __init__ arguments")
        return sorted(p.name for p in parameters)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters by name; with ``deep``, those of parameters that are estimators too, as
        ``name__parameter``."""
        out: dict[str, Any] = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params: Any) -> "Estimator":
        """Set parameters by name (``name__parameter`` for a nested estimator's); returns ``self``."""
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            key, delim, sub_key = key.partition("__")
            if key not in valid:
                raise ValueError(f"Invalid parameter {key!r} for estimator {self}. "
                                 f"Valid parameters are: {self._get_param_names()!r}.")
            if delim:
                nested.setdefault(key, {})[sub_key] = value
            else:
                setattr(self, key, value)
                valid[key] = value
        for key, sub_params in nested.items():
            valid[key].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        """``Name(parameter=value, ...)`` with the parameters that differ from their defaults, as
        scikit-learn prints an estimator (on one line)."""
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        shown = []
        for name, value in self.get_params(deep=False).items():
            default = defaults.get(name, inspect.Parameter.empty)
            if repr(value) != repr(default) and not (_is_nan(value) and _is_nan(default)):
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags of a plain estimator, or of a transformer (only scikit-learn asks for
        them, so importing it here costs nothing it had not paid)."""
        from sklearn.utils import Tags, TargetTags, TransformerTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    transformer_tags=TransformerTags() if hasattr(self, "transform") else None,
                    regressor_tags=None, classifier_tags=None)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
