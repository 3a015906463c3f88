"""Reading a teacher from disk: pickle/joblib, skops, or a library's own model file (XGBoost .json/.ubj,
LightGBM .txt, CatBoost .cbm/.json, ONNX .onnx; each family says which it reads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabcompress.errors import InputError, require_file
from tabcompress.progress import Progress
from tabcompress.teachers.base import Teacher, missing_library, model_families, supported_types

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
#: said when a pickle teacher is loaded, at that moment (short enough for one line of a narrow console)
PICKLE_NOTE = "the teacher is a pickle: loading it runs its code (--safe avoids that)"
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


def native_suffixes() -> tuple[str, ...]:
    """The suffixes of the model files the teacher families read themselves."""
    return tuple(dict.fromkeys(s for family in model_families() for s in family.file_suffixes))


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


def load_teacher(path: str | Path, *, safe: bool = False, progress: Progress | None = None) -> Teacher:
    """Load a teacher from a pickle/joblib file, a .skops file or a library's own model file.

    Loading a pickle runs code stored in it: only load files you trust; ``progress`` is told so
    (:data:`PICKLE_NOTE`) just before it happens. With ``safe``, pickles are refused and only formats
    that cannot run code are read (.skops with a list of trusted types, and the libraries' own model
    files).
    """
    path = Path(path)
    where = f"teacher file {path}"
    require_file(path, where, "a model file")
    suffix = path.suffix.lower()
    if suffix in SKOPS_SUFFIXES:
        return Teacher.from_model(load_skops(path, SKOPS_TRUSTED_TEACHER_TYPES, where), source=path)
    if safe and suffix in PICKLE_SUFFIXES:
        raise InputError(f"{where}: --safe refuses pickle and joblib files, which run code when loaded; "
                         f"save the teacher with skops (.skops) or in its library's own format "
                         f"({', '.join(native_suffixes())})")
    for family in model_families():
        if family.claims_file(path):
            return family(family.read_file(path, where), source=path)
    if suffix in PICKLE_SUFFIXES:
        if progress is not None:
            progress.note(PICKLE_NOTE)
        return Teacher.from_model(_unpickle(path, where), source=path)
    raise InputError(f"{where}: unknown extension {suffix or '(none)'!r}; "
                     f"expected one of {', '.join(PICKLE_SUFFIXES + SKOPS_SUFFIXES + native_suffixes())}")


def _unpickle(path: Path, where: str) -> Any:
    import joblib

    try:
        return joblib.load(path)
    except ModuleNotFoundError as exc:
        module = (exc.name or "").split(".")[0]
        extras = {family.library: family.extra for family in model_families() if family.library}
        if module in extras:
            raise InputError(missing_library(module, extras[module], where)) from None
        raise InputError(f"{where}: needs the module {exc.name!r}, which is not installed; "
                         f"supported: {supported_types()}") from None
    except Exception as exc:  # a damaged pickle can raise almost anything
        raise InputError(f"{where}: cannot be unpickled ({type(exc).__name__}: {str(exc)[:200]})") from None
