"""tabcompress: distil big tabular models into small, fast students.

The command line (``tabcompress distill``) is a thin layer over :func:`tabcompress.distill`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tabcompress")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from tabcompress.errors import FidelityGateError, InputError, TabcompressError  # noqa: E402
from tabcompress.export import load_student  # noqa: E402
from tabcompress.run.distill import DistillConfig, DistillResult, distill  # noqa: E402
from tabcompress.teachers import Teacher, load_teacher  # noqa: E402

__all__ = [
    "DistillConfig",
    "DistillResult",
    "FidelityGateError",
    "InputError",
    "TabcompressError",
    "Teacher",
    "__version__",
    "distill",
    "load_student",
    "load_teacher",
]
