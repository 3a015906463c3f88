"""Reading a teacher from disk: pickle/joblib, skops, or XGBoost's own model files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabcompress.errors import InputError, require_file
from tabcompress.teachers.base import Teacher, supported_types

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
                             f"supported: {supported_types()}") from None
        except Exception as exc:  # a damaged pickle can raise almost anything
            raise InputError(f"{where}: cannot be unpickled ({type(exc).__name__}: {str(exc)[:200]})") from None
        return Teacher.from_model(model, source=path)
    raise InputError(f"{where}: unknown extension {suffix or '(none)'!r}; "
                     f"expected one of {', '.join(PICKLE_SUFFIXES + SKOPS_SUFFIXES + XGBOOST_SUFFIXES)}")
