"""A cache of fitted generators, so that a rerun on unchanged rows skips the generator's fit.

An entry is one fitted :class:`~tabcompress.generators.base.Generator`, stored under a key that hashes
everything its fit depends on (see :func:`generator_key`): the training rows, the schema, the
generator's class and settings, the seed and the versions of the libraries that made it. Unchanged
inputs give the same key, and the stored generator then samples exactly the rows a fresh fit would.

Layout of the cache directory (``--cache-dir``, default :func:`default_cache_dir`)::

    <key>.joblib          one entry: {"format", "key", "generator"} written with joblib
    <key>.lock            the entry's lock file (empty; flock'd while the entry is checked, fitted, stored)
    .<key>.<random>.tmp   an entry being written; renamed onto <key>.joblib once complete

Only files named like that are ever read or deleted, so pointing ``--cache-dir`` at a directory that
holds other files is harmless.

Guarantees:

* **Atomic entries.** An entry is written to a temporary file in the same directory, fsync'd and
  renamed into place, so a reader sees a whole entry or none.
* **Concurrent runs.** A run holds the key's lock (``fcntl.flock``) from checking for the entry until it
  is stored, so a second run with the same key waits and then loads the entry instead of fitting
  again; runs with different keys do not wait for each other. Where ``fcntl`` is missing (Windows)
  there is no lock: two runs may both fit, and the last rename wins, still never a torn entry.
* **Never fatal.** An entry that cannot be loaded (truncated, not a pickle, another class, a
  different key) is deleted and refitted, reported as status ``"refit"``. A cache directory that cannot
  be created, locked or written only means the run fits without caching (status ``"miss"`` and a
  ``note`` saying why). Errors of the fit itself are not the cache's business and propagate.
* **Bounded.** After a store, entries beyond ``max_entries`` are deleted, least recently used first
  (an entry's mtime is refreshed when it is loaded).

Security and privacy. Entries are pickles, and loading a pickle can run code written into it. An
entry is therefore only ever read from the cache directory, and that directory is used only if it
belongs to the current user and others cannot write in it (POSIX; a directory that others can write
in — ``/tmp`` itself, say — is refused with a note, since anyone could plant an entry there). New
directories are created ``0700`` and entries ``0600``. Entries hold what the fitted generator holds:
a MUNGE entry keeps a copy of the training rows themselves, and a CTGAN entry keeps the model and the
per-column statistics of its encoder. Callers may cache only generators whose fit is costly, which
:func:`worth_caching` decides.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import numbers
import os
import re
import stat
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from tabcompress.config import Whole, check
from tabcompress.errors import one_line
from tabcompress.generators.base import Generator, ProgressCallback
from tabcompress.schema import Schema

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; entries stay atomic, runs may both fit
    fcntl = None  # type: ignore[assignment]

#: Bumped when the layout of an entry, or how the key is computed, changes: old entries then miss.
CACHE_FORMAT = 1
DEFAULT_MAX_ENTRIES = 20
#: Packages whose version is part of the key: a new version may fit differently or unpickle badly.
KEYED_PACKAGES = ("tabcompress", "ctgan", "torch", "scikit-learn", "numpy", "pandas")

_ENTRY = re.compile(r"^([0-9a-f]{64})\.joblib$")
_LOCK = re.compile(r"^([0-9a-f]{64})\.lock$")
_TEMP = re.compile(r"^\.([0-9a-f]{64})\..+\.tmp$")


# -- where ------------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """The per-user cache directory of tabcompress.

    ``$TABCOMPRESS_CACHE_DIR`` when set; otherwise the platform's user cache directory:
    ``%LOCALAPPDATA%\\tabcompress\\Cache`` on Windows, ``~/Library/Caches/tabcompress`` on macOS, and
    ``$XDG_CACHE_HOME/tabcompress`` (``~/.cache/tabcompress`` when unset or relative, as the XDG
    specification says) elsewhere. Raises :class:`RuntimeError` when the home directory is unknown.
    """
    override = os.environ.get("TABCOMPRESS_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return (Path(local) if local else Path.home() / "AppData" / "Local") / "tabcompress" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "tabcompress"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache") / "tabcompress"


def worth_caching(generator: Generator) -> bool:
    """Whether ``generator``'s fit costs enough to be worth a cache entry: its class's ``cache_worthy``
    trait. CTGAN and TVAE train for seconds to hours; MUNGE's fit is one nearest-neighbour search, about
    as quick as loading an entry, and its entry would be a copy of the training rows."""
    return bool(getattr(type(generator), "cache_worthy", False))


# -- key --------------------------------------------------------------------------------------
def generator_key(X: pd.DataFrame, schema: Schema, generator: Generator, random_state: int | None) -> str:
    """The cache key (64 hex digits) of fitting ``generator`` on ``X`` with ``schema`` and ``random_state``.

    It is the SHA-256 of:

    * **the rows**: ``pd.util.hash_pandas_object(X, index=False)`` (one 64-bit hash per row, over the
      cells in column order), so a changed cell or a reordered, added or dropped row changes the key
      while the row index does not count (``Generator.fit`` resets it anyway);
    * **the columns**: their names and dtypes in order, so a renamed or reordered column, or ``1``
      stored as float instead of int, changes it (the row hashes alone do not see names);
    * **the schema**: ``schema.to_dict()`` plus each categorical column's actual categories (to_dict only
      counts them), each written with its type, so ``1`` and ``"1"`` differ;
    * **the generator**: its class (module and name) and its settings, read like scikit-learn's
      ``get_params``: each parameter of ``type(generator).__init__`` and the attribute of the same name.
      ``device`` is one of them, on purpose: a model trained on CUDA is not the one trained on the CPU.
      A class may list settings that do not change the fitted result in a class attribute
      ``cache_ignored_params`` (none do today);
    * **random_state**;
    * **versions** of the packages in :data:`KEYED_PACKAGES` and :data:`CACHE_FORMAT`: a new tabcompress,
      ctgan or torch may fit differently, and scikit-learn, numpy or pandas may not unpickle an older
      entry faithfully, so any version change starts afresh.

    Raises :class:`ValueError` when something cannot be keyed faithfully: a cell pandas cannot hash,
    a setting stored under another name than its parameter, a setting or seed of an unsupported type.
    """
    if random_state is not None and not isinstance(random_state, numbers.Integral):
        raise ValueError(f"random_state of type {type(random_state).__name__} cannot be part of a cache key")
    try:
        row_hashes = pd.util.hash_pandas_object(X, index=False).to_numpy()
    except TypeError as exc:  # e.g. a list in a cell
        raise ValueError(f"the rows cannot be hashed ({one_line(str(exc))})") from exc
    manifest = {
        "format": CACHE_FORMAT,
        "n_rows": len(X),
        "columns": [[repr(name), str(dtype)] for name, dtype in X.dtypes.items()],
        "schema": [_spec_manifest(spec) for spec in schema.columns],
        "generator": f"{type(generator).__module__}.{type(generator).__qualname__}",
        "settings": generator_settings(generator),
        "random_state": None if random_state is None else int(random_state),
        "versions": _versions(),
    }
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
    digest.update(row_hashes.astype("<u8", copy=False).tobytes())
    return digest.hexdigest()


def generator_settings(generator: Generator) -> dict[str, Any]:
    """The constructor settings of ``generator`` as JSON-ready values, by parameter name."""
    cls = type(generator)
    ignored = set(getattr(cls, "cache_ignored_params", ()))
    settings: dict[str, Any] = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or name in ignored or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if not hasattr(generator, name):
            # Keying without it would let two different settings share an entry.
            raise ValueError(f"{cls.__name__} does not keep its setting {name!r} in an attribute of that name")
        settings[name] = _canonical(getattr(generator, name), f"setting {name!r}")
    return settings


def _spec_manifest(spec) -> dict[str, Any]:
    out = spec.to_dict()
    if spec.is_categorical:
        out["categories"] = [[type(v).__name__, repr(v)] for v in spec.categories]
    return out


def _canonical(value: Any, what: str) -> Any:
    """``value`` as JSON that tells apart what fits differently (1 from "1" from True)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_canonical(v, what) for v in value]
    if isinstance(value, dict):
        return {repr(k): _canonical(v, what) for k, v in value.items()}
    # An arbitrary object's repr may hold its address, and its state is unknown: refuse rather than
    # key it by something that does not describe it.
    raise ValueError(f"{what} of type {type(value).__name__} cannot be part of a cache key")


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    out = {}
    for package in KEYED_PACKAGES:
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "absent"
    return out


# -- locks --------------------------------------------------------------------------------------
def _acquire(path: Path, *, blocking: bool = True) -> int | None:
    """Lock the file ``path`` (creating it); returns the descriptor holding the lock.

    Returns None when ``blocking`` is False and another holder has it. Where there is no ``fcntl``,
    returns -1 (no lock). Closing the descriptor (:func:`_release`) releases the lock.
    """
    if fcntl is None:  # pragma: no cover - Windows
        return -1
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        # clear() and pruning delete a lock file while holding it. A run that opened it just before
        # then holds a lock on a file nobody else can open: it must start again on the current one.
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _release(fd: int | None) -> None:
    if fd is not None and fd >= 0:
        os.close(fd)


# -- the cache ------------------------------------------------------------------------------------
class CacheEntry(NamedTuple):
    path: Path
    size: int  # bytes
    mtime: float  # seconds since the epoch; refreshed when the entry is loaded


class GeneratorCache:
    """Fitted generators stored in ``directory`` (default: :func:`default_cache_dir`).

    At most ``max_entries`` entries are kept; the least recently used go first.
    """

    def __init__(self, directory: Path | str | None = None, *, max_entries: int = DEFAULT_MAX_ENTRIES):
        check("max_entries", max_entries, Whole(1))
        self.max_entries = max_entries
        self.unavailable: str | None = None  # why there is no directory at all
        if directory is None:
            try:
                directory = default_cache_dir()
            except RuntimeError as exc:  # no home directory: run without a cache rather than fail
                self.unavailable = f"no default cache directory ({one_line(str(exc))})"
                directory = None
        # absolute, so that the entry paths a report records do not depend on the working directory
        self.directory = Path(directory).expanduser().absolute() if directory is not None else None

    def __repr__(self) -> str:
        return f"GeneratorCache({str(self.directory)!r}, max_entries={self.max_entries})"

    # -- paths --
    def has(self, generator: Generator, X: pd.DataFrame, schema: Schema, *, random_state: int | None) -> bool:
        """Whether an entry for this fit exists (it may still turn out damaged when loaded)."""
        if random_state is None or self._unusable() is not None:
            return False
        try:
            key = generator_key(X, schema, generator, random_state)
        except ValueError:
            return False
        return self.entry_path(key).is_file()

    def entry_path(self, key: str) -> Path:
        return self._dir() / f"{key}.joblib"

    def _dir(self) -> Path:
        if self.directory is None:
            raise RuntimeError(self.unavailable or "no cache directory")
        return self.directory

    # -- the one call a run makes --
    def fit_or_load(self, generator: Generator, X: pd.DataFrame, schema: Schema, *, random_state: int | None,
                    progress: ProgressCallback | None = None) -> tuple[Generator, dict[str, Any]]:
        """The generator fitted on ``X``: loaded from the cache when an entry exists, else fitted
        (``generator.fit(X, schema, random_state=..., progress=...)``) and stored.

        Returns the fitted generator — on a hit, the loaded one, not ``generator`` (which is left
        unfitted) — and a dict for the report: ``status`` ("hit", "miss" or "refit": the entry was
        damaged and was replaced), ``key`` (its first 16 hex digits), ``path`` (the entry's file),
        ``load_s`` on a hit or ``fit_s`` otherwise, and a one-line ``note`` when an entry was damaged or
        the cache could not be used. ``progress`` is passed to the fit and is not called on a hit.
        """
        try:
            key = generator_key(X, schema, generator, random_state)
        except ValueError as exc:
            return self._fit_uncached(generator, X, schema, random_state, progress, None,
                                      f"not cached: {exc}")
        if random_state is None:
            # An unseeded fit is meant to differ from run to run; a stored one would not.
            return self._fit_uncached(generator, X, schema, random_state, progress, key,
                                      "not cached: random_state is None, so the fit is not reproducible")
        problem = self._unusable()
        if problem is not None:
            return self._fit_uncached(generator, X, schema, random_state, progress, key,
                                      f"caching skipped: {problem}")
        directory = self._dir()
        path = directory / f"{key}.joblib"
        try:
            lock = _acquire(directory / f"{key}.lock")
        except OSError as exc:
            return self._fit_uncached(generator, X, schema, random_state, progress, key,
                                      f"caching skipped: cannot lock an entry in {directory} ({_why(exc)})")
        info: dict[str, Any] = {"status": "miss", "key": key[:16], "path": str(path)}
        try:
            start = time.perf_counter()
            loaded, damage = self._load(path, key, type(generator))
            if loaded is not None:
                try:
                    os.utime(path)  # recently used: pruned last
                except OSError:
                    pass
                info.update(status="hit", load_s=round(time.perf_counter() - start, 3))
                return loaded, info
            notes = []
            if damage is not None:
                info["status"] = "refit"
                notes.append(f"cache entry was damaged ({damage}); refitted")
                _unlink(path)
            start = time.perf_counter()
            generator.fit(X, schema, random_state=random_state, progress=progress)
            info["fit_s"] = round(time.perf_counter() - start, 3)
            try:
                self._store(path, key, generator)
            except Exception as exc:  # disk full, read-only, an unpicklable attribute: never fatal
                notes.append(f"caching skipped: could not store the entry ({_why(exc)})")
            if notes:
                info["note"] = one_line("; ".join(notes))
        finally:
            _release(lock)
        self._prune(keep=path)
        return generator, info

    def _fit_uncached(self, generator, X, schema, random_state, progress, key, note):
        start = time.perf_counter()
        generator.fit(X, schema, random_state=random_state, progress=progress)
        path = self.entry_path(key) if key is not None and self.directory is not None else self.directory
        return generator, {"status": "miss", "key": key[:16] if key else None,
                           "path": str(path) if path is not None else None,
                           "fit_s": round(time.perf_counter() - start, 3), "note": one_line(note)}

    def _unusable(self) -> str | None:
        """Why the cache directory cannot be used (None when it can), creating it when missing."""
        if self.directory is None:
            return self.unavailable
        directory = self.directory
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = directory.stat()
        except OSError as exc:
            return f"cannot create the cache directory {directory} ({_why(exc)})"
        if not stat.S_ISDIR(info.st_mode):
            return f"{directory} is not a directory"
        if hasattr(os, "getuid"):
            if info.st_uid != os.getuid():
                return f"the cache directory {directory} belongs to another user"
            if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                # Anyone who can write there can plant an entry, and loading it runs their code.
                return f"the cache directory {directory} is writable by other users"
        return None

    # -- entries --
    def _load(self, path: Path, key: str, cls: type) -> tuple[Generator | None, str | None]:
        """``(generator, None)`` from a sound entry; ``(None, None)`` when there is none;
        ``(None, why)`` when it is damaged."""
        import joblib

        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            return None, f"cannot be read: {_why(exc)}"
        with fh:
            try:
                payload = joblib.load(fh)
            except Exception as exc:  # truncated, not a pickle, a class that no longer exists, ...
                return None, f"cannot be unpickled: {type(exc).__name__}"
        if not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT:
            return None, "not a tabcompress cache entry"
        if payload.get("key") != key:  # a file copied or renamed under another key's name
            return None, "stored under another key"
        generator = payload.get("generator")
        if type(generator) is not cls:
            return None, f"holds a {type(generator).__name__}, not a {cls.__name__}"
        if not hasattr(generator, "schema_"):
            return None, "holds an unfitted generator"
        try:
            _restore_device(generator)
        except Exception as exc:
            return None, f"its model cannot be put on device {getattr(generator, 'device', '?')}: {_why(exc)}"
        return generator, None

    def _store(self, path: Path, key: str, generator: Generator) -> None:
        """Write the entry under a temporary name, fsync it, rename it onto ``path``.

        Runs under the key's lock, so any temporary file of this key already there was left by a run
        that died mid-write: it is removed first.
        """
        import joblib

        directory = path.parent
        for leftover in directory.glob(f".{key}.*.tmp"):
            _unlink(leftover)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=directory)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                joblib.dump({"format": CACHE_FORMAT, "key": key, "generator": generator}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            tmp = None
        finally:
            if tmp is not None:
                _unlink(Path(tmp))
        _fsync_dir(directory)  # make the rename itself survive a crash

    def entries(self) -> list[CacheEntry]:
        """The stored entries, most recently used first."""
        if self.directory is None:
            return []
        found = []
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        for name in names:
            if not _ENTRY.match(name):
                continue
            path = self.directory / name
            try:
                info = path.stat()
            except OSError:  # removed meanwhile
                continue
            found.append(CacheEntry(path, info.st_size, info.st_mtime))
        return sorted(found, key=lambda e: e.mtime, reverse=True)

    def clear(self) -> int:
        """Delete every entry (and lock and leftover temporary files); returns the entries removed.

        An entry that a run is loading or writing right now is left alone.
        """
        if self.directory is None:
            return 0
        try:
            names = os.listdir(self.directory)
        except OSError:
            return 0
        keys = set()
        for name in names:
            match = _ENTRY.match(name) or _LOCK.match(name) or _TEMP.match(name)
            if match:
                keys.add(match.group(1))
        return sum(self._remove(key) for key in sorted(keys))

    def _prune(self, keep: Path) -> None:
        """Delete the least recently used entries beyond ``max_entries`` (never ``keep``)."""
        try:
            for entry in self.entries()[self.max_entries:]:
                if entry.path != keep:
                    self._remove(_ENTRY.match(entry.path.name).group(1))
        except OSError:
            pass  # pruning is housekeeping: the next store tries again

    def _remove(self, key: str) -> bool:
        """Delete ``key``'s entry, temporary files and lock file unless a run holds its lock.
        Returns whether an entry was deleted."""
        directory = self._dir()
        lock_path = directory / f"{key}.lock"
        try:
            fd = _acquire(lock_path, blocking=False)
        except OSError:
            return False
        if fd is None:  # in use
            return False
        try:
            removed = _unlink(directory / f"{key}.joblib")
            for leftover in directory.glob(f".{key}.*.tmp"):
                _unlink(leftover)
            _unlink(lock_path)  # while held: see _acquire for why waiters cope
        finally:
            _release(fd)
        return removed


def fit_generator(generator: Generator, X: pd.DataFrame, schema: Schema, *, random_state: int,
                  cache: GeneratorCache | None, progress: ProgressCallback | None = None,
                  ) -> tuple[Generator, dict[str, dict[str, Any]]]:
    """Fit ``generator`` on ``X`` (each part of a mixture on its own), through ``cache`` where a part is
    worth caching. Returns the fitted generator and, per cached part, the cache's report."""
    from tabcompress.generators.mixture import MixtureGenerator

    fitted, infos = [], {}
    for part in generator.parts:
        if cache is not None and worth_caching(part):
            part, infos[part.name] = cache.fit_or_load(part, X, schema, random_state=random_state, progress=progress)
        else:
            part.fit(X, schema, random_state=random_state, progress=progress)
        fitted.append(part)
    if isinstance(generator, MixtureGenerator):
        return MixtureGenerator.from_fitted(fitted, generator.shares, schema), infos
    return fitted[0], infos


def fit_is_cached(cache: GeneratorCache, generator: Generator, X: pd.DataFrame, schema: Schema, *,
                  random_state: int) -> bool:
    """Whether every part of ``generator`` that trains has a cache entry for this fit (so fitting it
    costs no training time)."""
    return all(cache.has(p, X, schema, random_state=random_state) for p in generator.parts if p.trains)


def _restore_device(generator: Generator) -> None:
    """Put a loaded torch model back on the device the generator was configured for.

    ctgan's unpickling moves its model to CUDA whenever CUDA is available, even for a model trained
    with ``device="cpu"``; sampling there would draw other random numbers than a fresh fit does.
    """
    model = getattr(generator, "model_", None)
    device = getattr(generator, "device", None)
    if model is None or not isinstance(device, str) or not callable(getattr(model, "set_device", None)):
        return
    import torch

    model.set_device(torch.device(device))


def _unlink(path: Path) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:  # already gone, or not ours to delete: either way nothing more to do
        return False


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return one_line(str(exc)) or type(exc).__name__


__all__ = ["CACHE_FORMAT", "CacheEntry", "GeneratorCache", "default_cache_dir", "fit_generator", "fit_is_cached",
           "generator_key", "generator_settings", "worth_caching"]
