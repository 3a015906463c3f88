"""Export: write the student and the report atomically.

Each file is written under a temporary name in the output directory and renamed into place only when
complete, so an interrupted or failed run never leaves a half-written ``student.joblib`` or
``report.json`` (a rename within one directory is atomic). The files take the user's umask, as files
a program creates usually do (0644 under umask 022), so another user can read CI artefacts.

A temporary file is named ``.<final name>.<8 characters>.tmp`` and held under an exclusive ``flock``
from its creation to its rename, so that a later run can tell the leftovers of a killed run (kill -9
leaves them) from a live run's files and remove them (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from tabcompress.errors import InputError, SettingError, require_file
from tabcompress.report import FRONTIER_PLOT, to_json

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock: renames stay atomic one by one, and
    fcntl = None  # no leftover can be told from a live run's file, so none is removed

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


def check_out_dir(out_dir: str | Path, student_format: str = "joblib") -> Path:
    """Fail early, before any training, when ``out_dir`` cannot receive the outputs: when it, or a
    directory on its way, is a symbolic link that leads nowhere; when it, or a directory on its way, is
    a file; when a file the run writes there (``student.<student_format>``, ``report.json``,
    ``frontier.png``) is a directory; when the directory it is in (or will be made in) cannot be written.

    The temporary files are written in ``out_dir`` itself, never in a temporary directory elsewhere, so
    renaming them into place never crosses filesystems, and a read-only or full filesystem shows up in
    the write probed here."""
    path = Path(out_dir)
    existing = _existing_part(path, "out_dir")
    if existing == path and not path.is_dir():
        raise SettingError("out_dir", f"{path}: exists and is not a directory")
    if not existing.is_dir():
        raise SettingError("out_dir", f"{path}: {existing} is not a directory")
    if existing == path:
        for name in (student_file(student_format), REPORT_FILE, FRONTIER_PLOT):
            target = path / name
            # A link is replaced itself, whatever it points to; a real directory cannot be.
            if target.is_dir() and not target.is_symlink():
                raise SettingError("out_dir", f"{path}: {target} is a directory; the run writes a file by "
                                              f"that name")
    _probe(existing, path, "out_dir")
    return path


def _existing_part(path: Path, option: str) -> Path:
    """The longest part of ``path`` that exists (``path`` itself, or a directory above it where it is
    still to be made); a symbolic link there that leads nowhere is a :class:`SettingError` on ``option``."""
    existing = path
    while not os.path.lexists(existing):
        existing = existing.parent
    if existing.is_symlink():
        try:
            os.stat(existing)
        except OSError as exc:
            where = "is" if existing == path else f"{existing} is"
            why = "a loop of links" if exc.errno == errno.ELOOP else "which does not exist"
            raise SettingError(option, f"{path}: {where} a symbolic link to {os.readlink(existing)}, {why}") from None
    return existing


def _probe(directory: Path, path: Path, option: str) -> None:
    """Raise :class:`SettingError` on ``option`` unless a file can be created in ``directory``."""
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SettingError(option, f"{path}: cannot write in {directory} (permission denied)")
    # Permission bits do not tell everything (root, read-only mounts, /proc): try a file for real.
    try:
        fd, probe = tempfile.mkstemp(prefix=".tabcompress-probe.", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise SettingError(option, f"{path}: cannot write in {directory} ({exc.strerror or exc})") from exc


def check_out_file(path: str | Path, option: str = "out") -> Path:
    """Fail early, before the work whose result goes to ``path``, when ``path`` cannot be written: it is
    a directory, its directory does not exist (or a part of its way is a file, or a link that leads
    nowhere), or nothing can be created there. Errors name the setting ``option``. The temporary file
    is written beside ``path`` (:func:`write_file_atomic`), so its rename never crosses filesystems."""
    path = Path(path)
    directory = path.parent  # "." for a bare file name
    if path.is_dir():
        raise SettingError(option, f"{path}: is a directory; give a file name")
    existing = _existing_part(path, option)
    if existing == path:
        existing = directory
    if not existing.is_dir():
        raise SettingError(option, f"{path}: {existing} is not a directory")
    if existing != directory:
        raise SettingError(option, f"{path}: the directory {directory} does not exist")
    _probe(directory, path, option)
    return path


@contextlib.contextmanager
def _output_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` while the outputs take their names.

    Two runs writing the same ``--out`` at once then leave one run's student and report, never one of
    each. The lock is on the directory itself, so no lock file is left behind.
    """
    if fcntl is None:  # pragma: no cover
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
                  student_format: str = "joblib", *, started: float | None = None,
                  before_report: Callable[[], None] | None = None) -> dict[str, str]:
    """Write the student (``student.joblib`` or ``student.skops``) and ``report.json`` into
    ``out_dir``; returns their paths (:func:`output_paths`). Temporary files that a killed run left
    there and that were last written before ``started`` (a :func:`time.time`; default now) are removed
    first (:func:`remove_stale_temps`). ``before_report()`` is called once the student is written, just
    before the report is (a run stamps its total time into the report there)."""
    import joblib

    path = check_out_dir(out_dir, student_format)
    created = not path.exists()
    temps: list[str] = []
    name = student_file(student_format)
    targets = {key: Path(value) for key, value in output_paths(path, student_format).items()}
    try:
        path.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path, OUT_DIR_FILES, time.time() if started is None else started)
        with contextlib.ExitStack() as held:
            student_tmp = held.enter_context(_locked_temp(path, name))
            temps.append(student_tmp)
            if student_format == "skops":
                import skops.io

                with open(student_tmp, "wb") as fh:
                    skops.io.dump(student, fh)
            else:
                joblib.dump(student, student_tmp)
            if before_report is not None:
                before_report()
            report_tmp = held.enter_context(_locked_temp(path, REPORT_FILE))
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


#: the files a run writes into ``--out``, whose temporary files :func:`write_outputs` cleans up
OUT_DIR_FILES = (*(student_file(name) for name in STUDENT_FORMATS), REPORT_FILE, FRONTIER_PLOT)


def _file_mode() -> int:
    """The mode a new file gets under the process's umask (mkstemp's files are 0600 whatever it is)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temp_pattern(final_name: str) -> re.Pattern[str]:
    """The names :func:`_locked_temp` gives the temporary files of ``final_name``: mkstemp's 8 random
    characters between the final name and ``.tmp``."""
    return re.compile(rf"\.{re.escape(final_name)}\.[a-z0-9_]{{8}}\.tmp")


@contextlib.contextmanager
def _locked_temp(directory: Path, final_name: str) -> Iterator[str]:
    """A new temporary file for ``final_name`` in ``directory``, under an exclusive flock until the block
    ends (after the rename), so that :func:`remove_stale_temps` leaves it alone while this process lives."""
    fd, name = tempfile.mkstemp(prefix=f".{final_name}.", suffix=".tmp", dir=directory)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield name
    finally:
        os.close(fd)  # closing releases the lock


def remove_stale_temps(directory: str | Path, final_names: tuple[str, ...] | list[str],
                       older_than: float) -> list[Path]:
    """Remove the temporary files of ``final_names`` that a killed run (kill -9, a power cut) left in
    ``directory``; returns the paths removed.

    A file is removed only when all of these hold, so that nothing else is touched:

    * its name is one this module gives a temporary file of one of ``final_names``
      (``.report.json.k3j9x_2a.tmp``: the name, mkstemp's 8 random characters, ``.tmp``);
    * it is a regular file (not a link, a directory or a pipe);
    * it was last written before ``older_than`` (a :func:`time.time`: the start of the run that cleans);
    * no live process holds a lock on it: every run holds an exclusive flock on its temporary files
      until they are renamed, and the system releases a process's locks when it dies, so a file this
      call can lock at once belongs to no running process.

    Without flock (Windows) nothing is removed: a live run's files could not be told apart.
    """
    if fcntl is None:  # pragma: no cover
        return []
    patterns = [_temp_pattern(name) for name in final_names]
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not any(pattern.fullmatch(entry.name) for pattern in patterns):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue  # a link, gone already, or not ours to read
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode) or before.st_mtime >= older_than:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live run is writing it
            now = os.stat(entry.path, follow_symlinks=False)
            if (now.st_ino, now.st_dev) == (before.st_ino, before.st_dev):  # not replaced meanwhile
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


def write_file_atomic(path: str | Path, write: Callable[[str], None], option: str = "out", *,
                      started: float | None = None) -> Path:
    """Write one file through ``write(temporary_path)`` next to ``path``, then rename it into place, so a
    failed or interrupted run leaves no half-written file. Errors name the setting ``option``.
    Temporary files of ``path`` that a killed run left beside it, last written before ``started`` (a
    :func:`time.time`; default now), are removed first (:func:`remove_stale_temps`)."""
    path = check_out_file(path, option)
    directory = path.parent  # "." for a bare file name
    tmp = None
    try:
        remove_stale_temps(directory, (path.name,), time.time() if started is None else started)
        with _locked_temp(directory, path.name) as tmp:
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
