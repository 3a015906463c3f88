"""Export: write the student and the report atomically.

Each file is written under a temporary name in the output directory and renamed into place only when
complete, so an interrupted or failed run never leaves a half-written ``student.joblib`` or
``report.json`` (a rename within one directory is atomic). The files take the user's umask, as files
a program creates usually do (0644 under umask 022), so another user can read CI artefacts.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from tabcompress.errors import InputError, SettingError, require_file
from tabcompress.report import to_json

REPORT_FILE = "report.json"
STUDENT_FORMATS = ("joblib", "skops")
STUDENT_SUFFIXES = tuple(f".{name}" for name in STUDENT_FORMATS)
# Beyond skops's defaults and the registered students (:func:`trusted_student_types`), the types a
# saved student is made of (the rest is numpy arrays and plain values).
SKOPS_TRUSTED_PARTS = ("tabcompress.students.encoding.TabularEncoder",)
# What a tree student saved before trees were compiled into arrays holds besides: it still loads (its
# scikit-learn tree is compiled on loading). Teachers trust the same type.
SKOPS_TRUSTED_EARLIER = ("sklearn.tree._tree.Tree",)
# A student file with this suffix is read with skops (:func:`load_student`), any other as a pickle.
SKOPS_SUFFIX = ".skops"


def trusted_student_types() -> tuple[str, ...]:
    """The types a ``.skops`` student may hold: every registered student class and its parts."""
    from tabcompress.registry import STUDENTS

    return (tuple(f"{cls.__module__}.{cls.__qualname__}" for cls in STUDENTS.classes().values())
            + SKOPS_TRUSTED_PARTS + SKOPS_TRUSTED_EARLIER)


def student_file(student_format: str = "joblib") -> str:
    """The student's file name in ``--out`` for a format: ``student.joblib`` or ``student.skops``."""
    if student_format not in STUDENT_FORMATS:
        raise SettingError("student_format", f"must be one of {', '.join(STUDENT_FORMATS)}, got {student_format!r}")
    return f"student.{student_format}"


def load_student(path: str | Path, *, safe: bool = False) -> Any:
    """Load a student written by tabcompress. A ``.skops`` file is read without running stored code
    (only the student types are trusted); a ``.joblib`` file is a pickle: load only files you trust.
    With ``safe``, pickles are refused. Anything but a fitted student is an :class:`InputError` naming
    the file.

    Loading a ``.joblib`` student imports joblib, numpy and the student's module, nothing heavier:
    neither scikit-learn, scipy, XGBoost nor torch (tests/test_light_runtime.py). skops itself imports
    scikit-learn, so a ``.skops`` student costs that import."""
    from tabcompress.students.base import Student

    path = Path(path)
    where = f"student file {path}"
    require_file(path, where, "a student file")
    suffix = path.suffix.lower()
    if suffix == SKOPS_SUFFIX:
        from tabcompress.teachers.load import load_skops

        student = load_skops(path, trusted_student_types(), where)
    elif safe:
        raise InputError(f"{where}: --safe refuses pickle and joblib files, which run code when loaded; "
                         f"distil with --safe to save the student as .skops")
    else:
        import joblib

        try:
            student = joblib.load(path)
        except ModuleNotFoundError as exc:
            raise InputError(f"{where}: needs the module {exc.name!r}, which is not installed") from None
        except Exception as exc:  # not a pickle, or a damaged one: unpickling can raise almost anything
            expected = "" if suffix in STUDENT_SUFFIXES else f" (expected {', '.join(STUDENT_SUFFIXES)})"
            raise InputError(f"{where}: cannot be unpickled{expected} ({type(exc).__name__}: "
                             f"{str(exc)[:200]})") from None
    if not isinstance(student, Student):
        found = f"{type(student).__module__}.{type(student).__qualname__}"
        raise InputError(f"{where}: holds a {found}, not a tabcompress student (a student.joblib or "
                         f"student.skops that distill wrote)")
    if not hasattr(student, "feature_names_in_"):
        raise InputError(f"{where}: holds a {type(student).__name__} that was never fitted")
    return student


def check_out_dir(out_dir: str | Path) -> Path:
    """Fail early, before any training, when ``out_dir`` cannot receive the outputs."""
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise SettingError("out_dir", f"{path}: exists and is not a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise SettingError("out_dir", f"{path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingError("out_dir", f"{path}: cannot write in {existing} (permission denied)")
    # Permission bits do not tell everything (root, read-only mounts, /proc): try a file for real.
    try:
        fd, probe = tempfile.mkstemp(prefix=".tabcompress-probe.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise SettingError("out_dir", f"{path}: cannot write in {existing} ({exc.strerror or exc})") from exc
    return path


@contextlib.contextmanager
def _output_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` while the outputs take their names.

    Two runs writing the same ``--out`` at once then leave one run's student and report, never one of
    each. The lock is on the directory itself, so no lock file is left behind.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock on Windows: renames stay atomic one by one
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def output_paths(out_dir: str | Path, student_format: str = "joblib") -> dict[str, str]:
    """The absolute paths :func:`write_outputs` writes: ``{"student": ..., "report": ...}``."""
    path = Path(out_dir).resolve()
    return {"student": str(path / student_file(student_format)), "report": str(path / REPORT_FILE)}


def write_outputs(out_dir: str | Path, student: Any, report: dict[str, Any],
                  student_format: str = "joblib") -> dict[str, str]:
    """Write the student (``student.joblib`` or ``student.skops``) and ``report.json`` into
    ``out_dir``; returns their paths (:func:`output_paths`)."""
    import joblib

    path = check_out_dir(out_dir)
    created = not path.exists()
    temps: list[str] = []
    name = student_file(student_format)
    targets = {key: Path(value) for key, value in output_paths(path, student_format).items()}
    try:
        path.mkdir(parents=True, exist_ok=True)
        student_tmp = _temp_name(path, name)
        temps.append(student_tmp)
        if student_format == "skops":
            import skops.io

            with open(student_tmp, "wb") as fh:
                skops.io.dump(student, fh)
        else:
            joblib.dump(student, student_tmp)
        report_tmp = _temp_name(path, REPORT_FILE)
        temps.append(report_tmp)
        with open(report_tmp, "w", encoding="utf-8") as fh:
            fh.write(to_json(report))
            fh.flush()
            os.fsync(fh.fileno())
        for tmp in temps:
            os.chmod(tmp, _file_mode())
        # Both files are complete: only now do they take their real names, together.
        with _output_lock(path):
            os.replace(student_tmp, targets["student"])
            os.replace(report_tmp, targets["report"])
        temps.clear()
    except OSError as exc:
        raise SettingError("out_dir", f"{path}: cannot write the outputs ({exc.strerror or exc})") from exc
    finally:
        for tmp in temps:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if created and path.exists() and not any(path.iterdir()):
            try:
                path.rmdir()
            except OSError:  # another run has just put its files there
                pass
    return {name: str(p) for name, p in targets.items()}


def _file_mode() -> int:
    """The mode a new file gets under the process's umask (mkstemp's files are 0600 whatever it is)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temp_name(directory: Path, final_name: str) -> str:
    fd, name = tempfile.mkstemp(prefix=f".{final_name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    return name


def write_file_atomic(path: str | Path, write: Callable[[str], None], option: str = "out") -> Path:
    """Write one file through ``write(temporary_path)`` next to ``path``, then rename it into place, so a
    failed or interrupted run leaves no half-written file. Errors name the setting ``option``."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise SettingError(option, f"{path}: is a directory; give a file name")
    if not directory.is_dir():
        raise SettingError(option, f"{path}: the directory {directory} does not exist")
    tmp = None
    try:
        tmp = _temp_name(directory, path.name)
        write(tmp)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise SettingError(option, f"{path}: cannot write it ({exc.strerror or exc})") from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path
