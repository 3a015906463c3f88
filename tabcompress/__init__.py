"""tabcompress: distil big tabular models into small, fast students.

The command line (``tabcompress distill``) is a thin layer over :func:`tabcompress.distill`. Names
here load on first use, so that ``tabcompress --help`` imports neither scikit-learn nor torch.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from tabcompress.errors import FidelityGateError, InputError, SettingError, TabcompressError

try:
    __version__ = version("tabcompress")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

_LAZY = {
    "Settings": "tabcompress.config",
    "DistillResult": "tabcompress.run.distill",
    "distill": "tabcompress.run.distill",
    "load_student": "tabcompress.export",
    "Teacher": "tabcompress.teachers",
    "load_teacher": "tabcompress.teachers",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DistillResult", "FidelityGateError", "InputError", "SettingError", "Settings", "TabcompressError",
           "Teacher", "__version__", "distill", "load_student", "load_teacher"]
