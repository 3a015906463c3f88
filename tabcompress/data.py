"""Data: read the CSV, align it to the teacher (its :class:`~tabcompress.schema.Schema` inferred), hold
out test rows."""

from __future__ import annotations

import lzma
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from tabcompress.config import DEFAULT_CHUNK_ROWS, Number, Whole, check
from tabcompress.errors import InputError, SettingError, first_line, require_file
from tabcompress.schema import Schema
from tabcompress.teachers import Teacher

MIN_ROWS = 10
#: rows parsed at a time by :func:`read_csv`
READ_CHUNK_ROWS = 200_000


# -- reading ----------------------------------------------------------------------------------
def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV with a header row, plain or compressed as pandas infers from the name (``.csv.gz``,
    ``.bz2``, ``.xz``, ``.zst``); every problem is an :class:`InputError` naming the file.

    The file is parsed :data:`READ_CHUNK_ROWS` rows at a time and each column joined once at the end, so
    memory peaks near the frame itself: pandas parsing a whole file at once holds its text buffers and
    the frame together, about twice the frame. Columns are typed as a whole-file read types them
    (:func:`_join_column`)."""
    path = Path(path)
    pieces: dict[str, list[np.ndarray]] = {}
    for _, chunk in _typed_chunks(path):
        for name in chunk.columns:
            pieces.setdefault(name, []).append(chunk[name].to_numpy())
    columns = {}
    for name in list(pieces):
        columns[name] = _join_column(path, name, pieces.pop(name))  # each column's pieces freed once joined
    return pd.DataFrame(columns, copy=False)


@dataclass
class Sample:
    """At most ``max_rows`` rows of a CSV chosen by a hash of each row (:func:`read_csv_sample`), in file
    order: ``frame``, whether each is a held-out row (``held_out``), and the rows the file holds."""

    frame: pd.DataFrame
    held_out: np.ndarray
    n_rows: int
    #: each column's dtype and kind (:func:`_kind`) in ``frame``: how :func:`read_csv_training_side` types
    #: the file's other rows
    types: dict[str, tuple[np.dtype, str]]


def _cut(held_out_share: float) -> np.uint64:
    """The hash below which a row is held out (see :func:`read_csv_sample`)."""
    return np.uint64(min(held_out_share, 1.0) * float(2**64 - 1)) if held_out_share > 0 else np.uint64(0)


def _hash_key(seed: int) -> str:
    return f"tabcompress{seed % 10**5:05d}"  # hash_pandas_object takes a 16-character key


def read_csv_sample(path: str | Path, max_rows: int, held_out_share: float, seed: int) -> Sample:
    """At most ``max_rows`` rows of a CSV (read as :func:`read_csv` reads it), with memory bounded by them
    however long the file is.

    Each row's content is hashed with a key from ``seed``. A row is held out when its hash, as a share
    of the hash's range, is below ``held_out_share``, so a row's side does not depend on the other rows,
    their order or how many there are: rows added to the file later leave the earlier ones where they
    were; copies of a row are on one side. Of each side, ``max_rows`` in proportion to the share are kept,
    ranked by the row's hash mixed with its position: a uniform random sample without replacement, the
    same on every run with the same seed, that rows appended to the file later do not change."""
    path = Path(path)
    wanted = {True: int(round(max_rows * held_out_share)), False: max_rows - int(round(max_rows * held_out_share))}
    cut, key = _cut(held_out_share), _hash_key(seed)
    kept: dict[bool, list[tuple[np.ndarray, np.ndarray, pd.DataFrame]]] = {True: [], False: []}
    kinds: dict[str, set[str]] = {}  # what pandas made of each column in every chunk, kept rows or not
    n_rows = 0
    for start, chunk in _typed_chunks(path):
        for name in chunk.columns:
            kinds.setdefault(name, set()).add(_kind(chunk[name]))
        hashes = _row_hashes(chunk, key)
        positions = np.arange(start, start + len(chunk))
        n_rows = start + len(chunk)
        held = hashes < cut
        # Within a side, rows are ranked by their hash mixed with their position: copies of one row are
        # held out together but sampled apart (by the hash alone a sample would keep all or none of them).
        ranks = _mix(hashes ^ _mix(positions.astype(np.uint64)))
        for side in (True, False):
            mine = held if side else ~held
            if wanted[side] and mine.any():
                kept[side].append((ranks[mine], positions[mine], chunk[mine]))
                if sum(len(h) for h, _, _ in kept[side]) > 2 * wanted[side]:  # trimmed now and then, not per chunk
                    kept[side] = [_smallest(kept[side], wanted[side])]
    parts = [(side, *_smallest(kept[side], wanted[side])) for side in (True, False) if kept[side]]
    positions = np.concatenate([p for _, _, p, _ in parts])
    held_out = np.concatenate([np.full(len(p), side) for side, _, p, _ in parts])
    order = np.argsort(positions, kind="stable")  # file order, whatever the chunking
    frames = [f for _, _, _, f in parts]
    columns = {}
    for name in frames[0].columns:
        values = np.concatenate([f[name].to_numpy(dtype=object if len(kinds[name]) > 1 else None) for f in frames])
        seen = kinds[name] - {"float missing"}  # a chunk of empty cells takes the other chunks' type
        if len(kinds[name]) > 1:  # typed as a whole-file read types the column (see _kind)
            if seen <= {"int", "float"}:
                values = values.astype(np.float64)
            elif len(seen) > 1 and not seen <= {"bool", "bool or missing"}:
                values = _column_as_text(path, name, positions)
        columns[name] = values[order]
    frame = pd.DataFrame(columns, copy=False)
    types = {name: (frame[name].dtype, _kind(frame[name])) for name in frame.columns}
    return Sample(frame=frame, held_out=held_out[order], n_rows=n_rows, types=types)


def read_csv_training_side(path: str | Path, held_out_share: float, seed: int,
                           types: dict[str, tuple[np.dtype, str]]) -> Iterator[tuple[int, pd.DataFrame]]:
    """Every row of a CSV that :func:`read_csv_sample` with the same ``held_out_share`` and ``seed`` does
    not hold out, a chunk at a time in file order, each with the rows of the file read so far: the
    training side of the whole file, for a student that trains on more rows than memory holds. Each
    column is typed as that sample's (its ``types``), whatever pandas made of it in the chunk; where a
    chunk read as numbers a column the sample holds as text, the chunk's cells of that column are read
    again as text (rare, and it costs a pass over that column of the file)."""
    path = Path(path)
    cut, key = _cut(held_out_share), _hash_key(seed)
    for start, chunk in _typed_chunks(path):
        keep = _row_hashes(chunk, key) >= cut
        if not keep.any():
            continue
        chunk = chunk[keep]
        columns = {}
        for name in chunk.columns:
            column, (dtype, kind) = chunk[name].to_numpy(), types[name]
            if column.dtype != dtype:
                if kind in ("float", "float missing") or chunk[name].isna().all():
                    column = column.astype(dtype)
                elif kind == "bool or missing":
                    column = column.astype(object)
                else:  # text in the sample, numbers or True/False here: the cells as written
                    column = _column_as_text(path, name, start + np.flatnonzero(keep))
            columns[name] = column
        yield start + len(keep), pd.DataFrame(columns, copy=False)


def _kind(column: pd.Series) -> str:
    """What pandas made of a column in one chunk, as far as typing the whole column goes: ``int``,
    ``float`` (``float missing`` when every cell is empty), ``bool``, ``bool or missing`` (True/False
    and empty cells), or ``text`` (anything else). A column of one kind in every chunk keeps it; whole
    numbers and decimals make decimals; True/False with empty cells make True/False/NaN objects; any
    other mix makes text, as pandas reading the whole file does."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(column.dtype):
        return "int"
    if pd.api.types.is_float_dtype(column.dtype):
        return "float missing" if column.isna().all() else "float"
    if pd.api.types.infer_dtype(column, skipna=True) == "boolean":
        return "bool or missing"
    return "text"


def _column_as_text(path: Path, name: Any, positions: np.ndarray) -> np.ndarray:
    """Column ``name`` of the rows at ``positions`` of the file, as text (empty cells NaN), in that order:
    read a chunk at a time, since the whole column may not fit in memory."""
    order = np.argsort(positions, kind="stable")
    out = np.empty(len(positions), dtype=object)
    done = 0
    with pd.read_csv(path, usecols=[name], dtype=object, encoding="utf-8-sig", chunksize=READ_CHUNK_ROWS) as reader:
        for chunk in reader:
            lo, hi = np.searchsorted(positions[order], [done, done + len(chunk)])
            out[order[lo:hi]] = chunk[name].to_numpy()[positions[order[lo:hi]] - done]
            done += len(chunk)
    return out


def _row_hashes(chunk: pd.DataFrame, key: str) -> np.ndarray:
    """A 64-bit hash of each row's values, whatever type pandas gave its column in this chunk: a cell
    that reads as a number (or is empty) is hashed as that float64, any other as its text; so a row
    hashes alike in a chunk where its column is numbers and in one where it is text."""
    from pandas.util import hash_array

    out = np.zeros(len(chunk), dtype=np.uint64)
    for name in chunk.columns:
        column = chunk[name]
        if pd.api.types.is_numeric_dtype(column.dtype):
            hashed = hash_array(column.to_numpy(dtype=np.float64, na_value=np.nan), hash_key=key)
        else:
            numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            hashed = hash_array(numbers, hash_key=key)
            text = np.isnan(numbers) & column.notna().to_numpy()
            if text.any():
                hashed[text] = hash_array(column.to_numpy()[text].astype(str).astype(object), hash_key=key)
        with np.errstate(over="ignore"):
            out = (out * np.uint64(0x100000001B3)) ^ hashed  # FNV's prime: each column's place counts
    return out


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele, Lea & Flood 2014): well-spread 64-bit values from any ``values``."""
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _smallest(kept: list[tuple[np.ndarray, np.ndarray, pd.DataFrame]], k: int
              ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Of kept (ranks, file positions, rows) pieces, the ``k`` rows of smallest rank as one piece (ties
    broken by position, so that the choice does not depend on the chunking)."""
    hashes = np.concatenate([h for h, _, _ in kept])
    positions = np.concatenate([p for _, p, _ in kept])
    rows = pd.concat([f for _, _, f in kept], ignore_index=True) if len(kept) > 1 else kept[0][2].reset_index(drop=True)
    if len(hashes) > k:
        chosen = np.lexsort((positions, hashes))[:k]
        hashes, positions, rows = hashes[chosen], positions[chosen], rows.iloc[chosen].reset_index(drop=True)
    return hashes, positions, rows


def _typed_chunks(path: Path) -> Iterator[tuple[int, pd.DataFrame]]:
    """The file's rows :data:`READ_CHUNK_ROWS` at a time, each with the position of its first row, typed
    by pandas chunk by chunk; the file, its header and last line are checked first
    (:func:`read_header`), and every reading problem is an :class:`InputError` naming the file."""
    where = f"data file {path}"
    read_header(path)  # the file, its header's names and its last line checked, each in one line
    done = 0
    try:
        # utf-8-sig drops a byte-order mark, which Excel likes to write.
        with pd.read_csv(path, encoding="utf-8-sig", chunksize=READ_CHUNK_ROWS, low_memory=False) as reader:
            for chunk in reader:
                yield done, chunk
                done += len(chunk)
    except (UnicodeDecodeError, pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise _unreadable(where, exc) from None
    except _damaged() as exc:  # a compressed file cut short or corrupted past its header
        raise InputError(f"{where}: cannot be read ({_why(exc)})") from None
    if not done:
        raise InputError(f"{where}: has a header but no rows")


def _join_column(path: Path, name: Any, pieces: list[np.ndarray]) -> np.ndarray:
    """One column from its chunks, typed as pandas types it reading the whole file: chunks of one type
    are joined; whole numbers and decimals become decimals, as they would; any other mix (text in one
    chunk, numbers or True/False in another) is read again as a whole, which is rare and costs time."""
    kinds = {piece.dtype for piece in pieces}
    if len(kinds) == 1 or kinds == {np.dtype(np.int64), np.dtype(np.float64)}:
        return np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    pieces.clear()
    return pd.read_csv(path, usecols=[name], encoding="utf-8-sig", low_memory=False)[name].to_numpy()


def _damaged() -> tuple[type[BaseException], ...]:
    """What reading a damaged or unreadable compressed file raises: gzip, bz2 and reading errors, zlib's
    and lzma's own, zstandard's once pandas has imported it, and pandas' ImportError naming a missing
    decompression module (zstandard)."""
    zstd = sys.modules.get("zstandard")
    return (OSError, EOFError, ImportError, zlib.error, lzma.LZMAError) + ((zstd.ZstdError,) if zstd else ())


def _why(exc: BaseException) -> str:
    return " ".join(first_line(exc).split()) or type(exc).__name__


def _unreadable(where: str, exc: Exception) -> InputError:
    """The one line for a CSV that pandas cannot read: not UTF-8, empty, or not CSV."""
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"{where}: is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                          f"{exc.start}); re-save it as UTF-8")
    if isinstance(exc, pd.errors.EmptyDataError):
        return InputError(f"{where}: is empty")
    return InputError(f"{where}: cannot be parsed as CSV ({str(exc).strip().splitlines()[-1]})")


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV file (plain or compressed as pandas infers from the name, e.g.
    ``.csv.gz``), checked as :func:`read_csv` checks them; every problem is an :class:`InputError`
    naming the file."""
    path = Path(path)
    where = f"data file {path}"
    require_file(path, where, "a CSV file")
    try:
        # The header read as a row of text, so that duplicate names are seen (pandas renames them).
        first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise _unreadable(where, exc) from None
    except _damaged() as exc:  # a damaged .gz, say
        raise InputError(f"{where}: cannot be read ({_why(exc)})") from None
    header = [str(name) for name in first.iloc[0].tolist()] if len(first) else []
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InputError(f"{where}: duplicate column names: {', '.join(duplicates)}")
    if len(header) == 1 and ";" in header[0]:
        raise InputError(f"{where}: has one column whose name contains ';' — the file looks "
                         "semicolon-delimited; tabcompress reads comma-separated files")
    _check_last_line(path, len(header), where)
    return header


def _check_last_line(path: Path, n_columns: int, where: str) -> None:
    """Refuse a plain CSV file cut short (a copy or a download that stopped): its last line has no line
    end and fewer cells than the header, which pandas would read as empty cells. A compressed file
    needs no such check: its decompressor notices the cut. A last line with a quote is not judged (a
    quoted cell may hold commas and line breaks)."""
    from pandas.io.common import infer_compression

    if infer_compression(str(path), "infer") is not None:
        return
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 65536))
        tail = handle.read()
    if tail.endswith((b"\n", b"\r")) or b"\n" not in tail:
        return
    last = tail.rsplit(b"\n", 1)[1]
    cells = last.count(b",") + 1
    if b'"' not in last and cells < n_columns:
        raise InputError(f"{where}: its last line has {cells} of the {n_columns} columns and no line end: the "
                         f"file looks cut short")


def missing_columns(header: Sequence[str], needed: Sequence[str], path: str | Path, who: str) -> None:
    """Raise :class:`InputError` naming the file and the columns of ``needed`` that ``header`` lacks;
    ``who`` says what needs them ("the student")."""
    missing = [c for c in needed if c not in header]
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise InputError(f"data file {path}: missing {len(missing)} column(s) {who} needs: {shown}")


def read_csv_chunks(path: str | Path, columns: Sequence[str], *, numbers: Sequence[str] = (),
                    text: Sequence[str] = (), chunk_rows: int = DEFAULT_CHUNK_ROWS,
                    numbers_for: str = "the student") -> Iterator[pd.DataFrame]:
    """The rows of a CSV file, ``chunk_rows`` at a time, so that memory stays flat however long it is.

    Only ``columns`` are read (the file's other columns are skipped unparsed), in that order, with a
    fresh index counting rows from 0 across chunks. ``numbers`` are read as float64 (an empty cell is
    NaN; text or an infinite value is an :class:`InputError` naming the column and ``numbers_for``,
    what takes numbers there); ``text`` as text (``object``; an empty cell is NaN); other columns as
    pandas infers them, chunk by chunk. The caller checks first that the header holds ``columns``
    (:func:`read_header`, :func:`missing_columns`).
    """
    check("chunk_rows", chunk_rows, Whole(1))  # here, not at the first chunk: before anything is written
    return _chunks(Path(path), list(columns), list(numbers), list(text), chunk_rows, numbers_for)


def _chunks(path: Path, columns: list[str], numbers: list[str], text: list[str], chunk_rows: int,
            numbers_for: str) -> Iterator[pd.DataFrame]:
    where = f"data file {path}"
    dtype: dict[str, Any] = {name: np.float64 for name in numbers}
    dtype.update({name: object for name in text})
    done = 0
    try:
        with pd.read_csv(path, usecols=columns, dtype=dtype, chunksize=chunk_rows, encoding="utf-8-sig") as reader:
            for chunk in reader:
                if len(chunk) == 0:
                    continue
                chunk.index = pd.RangeIndex(done, done + len(chunk))
                _check_finite(chunk, numbers, where, done, numbers_for)
                done += len(chunk)
                yield chunk[columns]
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}, after row {done:,}); "
                         f"re-save it as UTF-8") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{where}: cannot be parsed as CSV ({str(exc).strip().splitlines()[-1]})") from None
    except ValueError as exc:
        if not numbers or "convert" not in str(exc):
            raise
        # The parser names the value but not the column: find it (this pass runs only on failure).
        raise _text_in_numbers(path, numbers, chunk_rows, numbers_for, str(exc)) from None
    except _damaged() as exc:
        raise InputError(f"{where}: cannot be read after row {done:,} ({_why(exc)})") from None
    if done == 0:
        raise InputError(f"{where}: has a header but no rows")


def _check_finite(chunk: pd.DataFrame, numbers: Sequence[str], where: str, first_row: int, numbers_for: str) -> None:
    for name in numbers:
        values = chunk[name].to_numpy()
        infinite = np.isinf(values)
        if infinite.any():
            row = first_row + int(np.argmax(infinite)) + 1
            raise InputError(f"{where}: column {name!r} holds an infinite value (row {row:,}) where "
                             f"{numbers_for} takes finite numbers")


def _text_in_numbers(path: Path, numbers: list[str], chunk_rows: int, numbers_for: str, reason: str) -> InputError:
    """The error for text in a column read as numbers, naming the column, the value and its row."""
    where = f"data file {path}"
    done = 0
    for chunk in pd.read_csv(path, usecols=list(numbers), dtype=object, chunksize=chunk_rows, encoding="utf-8-sig"):
        for name in numbers:
            col = chunk[name]
            bad = col.notna() & pd.to_numeric(col, errors="coerce").isna()
            if bad.any():
                at = int(np.argmax(bad.to_numpy()))
                return InputError(f"{where}: column {name!r} holds text ({str(col.iloc[at])[:40]!r}, row "
                                  f"{done + at + 1:,}) where {numbers_for} takes numbers")
        done += len(chunk)
    return InputError(f"{where}: a column {numbers_for} takes as numbers holds text ({reason})")


# -- alignment --------------------------------------------------------------------------------
@dataclass
class Dataset:
    """The real rows, aligned to the teacher: features ``X``, target ``y`` (or None), schema."""

    X: pd.DataFrame
    y: pd.Series | None
    schema: Schema
    target: str | None
    ignored_columns: list[str]
    notes: list[str]
    n_rows: int = 0  # rows read: ``X`` is emptied once a run has split it into its parts
    held_out: np.ndarray | None = None  # rows held out by their hash (a --max-rows sample), else None
    sampled: bool = False  # ``X`` is a --max-rows sample of fewer rows than the file's ``n_rows``
    #: of a sample: every training row of the file, read again a chunk at a time (as read, not aligned),
    #: each chunk with the rows of the file read so far
    training_side: Callable[[], Iterator[tuple[int, pd.DataFrame]]] | None = None

    def features(self, rows: pd.DataFrame, teacher: Teacher, source: str) -> pd.DataFrame:
        """``rows`` read from this dataset's file (a chunk of :attr:`training_side`) as :attr:`X` holds its
        rows: the teacher's columns in its order, as the teacher takes them."""
        X = pd.DataFrame({name: rows[name] for name in self.schema.names}, copy=False).reset_index(drop=True)
        return numbers_for_teacher(X, teacher, f"data file {source}")


def align(df: pd.DataFrame, teacher: Teacher, *, target: str | None = None,
          categorical: tuple[str, ...] | list[str] = (), source: str = "data") -> Dataset:
    """Pick the teacher's feature columns out of ``df`` in the teacher's order.

    ``target`` names the true-label column (default: ``target`` when present); it is never a feature.
    """
    where = f"data file {source}"
    notes: list[str] = []
    # A frame of the same columns under text names: no cell is copied (the rows can be millions).
    df = pd.DataFrame({str(name): df.iloc[:, i] for i, name in enumerate(df.columns)}, copy=False)
    if target is not None and target not in df.columns:
        raise SettingError("target", f"{target}: no such column in {source}")
    if target is None and "target" in df.columns and (teacher.feature_names is None
                                                      or "target" not in teacher.feature_names):
        target = "target"
    if teacher.feature_names is not None:
        features = teacher.feature_names
        if target in features:
            raise SettingError("target", f"{target}: the teacher uses this column as a feature")
        missing = [c for c in features if c not in df.columns]
        if missing:
            have = [c for c in df.columns if c != target]
            if not have:
                raise InputError(f"{where}: holds no feature columns, only the target {target!r}; "
                                 f"the teacher expects {len(features)}")
            shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
            raise InputError(f"{where}: missing {len(missing)} column(s) the teacher expects: {shown}")
    else:
        features = [c for c in df.columns if c != target]
        if len(features) != teacher.n_features:
            raise InputError(f"{where}: has {len(features)} feature column(s) besides the target but the "
                             f"teacher was fitted on {teacher.n_features} unnamed features")
        notes.append("the teacher has no feature names: columns are taken in file order")
    if not features:
        raise InputError(f"{where}: holds no feature columns")
    ignored = [c for c in df.columns if c not in features and c != target]
    if ignored:
        notes.append(f"ignoring {len(ignored)} column(s) the teacher does not use: {', '.join(ignored[:20])}")
    unknown = [c for c in categorical if c not in features]
    if unknown:
        raise SettingError("categorical", f"names no feature column: {', '.join(map(repr, unknown))}")

    X = numbers_for_teacher(fresh_index(pd.DataFrame({name: df[name] for name in features}, copy=False)),
                            teacher, where)
    for name in X.columns:
        col = X[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            if np.isinf(col.to_numpy(dtype=np.float64, na_value=np.nan)).any():
                raise InputError(f"{where}: column {name!r} holds infinite values")
    y = fresh_index(df[target]) if target is not None else None
    if y is not None and y.isna().all():
        notes.append(f"target column {target!r} is empty: accuracy is not scored")
        y = None
    if y is not None and teacher.is_classifier and y.nunique(dropna=True) == 1:
        # Almost always the wrong column or a filtered file; accuracy on one class would mislead.
        raise InputError(f"{where}: target column {target!r} holds a single class ({y.dropna().iloc[0]}); "
                         f"name the right column with --target, or drop the column to distil without "
                         f"scoring accuracy")
    if y is None and target is None:
        notes.append("no target column: accuracy against the true target is not scored")
    # Columns the teacher splits on as categories are categorical even when they hold numbers.
    schema = Schema.infer(X, categorical=set(categorical) | set(teacher.categorical_features))
    return Dataset(X=X, y=y, schema=schema, target=target, ignored_columns=ignored, notes=notes,
                   n_rows=len(X))


def numbers_for_teacher(X: pd.DataFrame, teacher: Teacher, where: str) -> pd.DataFrame:
    """``X`` as the teacher takes it. A bare forest (no encoder in front) takes numbers only: its text
    columns become numbers, and text that is no number is an :class:`InputError` naming the column
    (not something to guess at). ``X`` itself is left as it is."""
    if teacher.accepts_text:
        return X
    converted = None
    for name in X.columns:
        col = X[name]
        if pd.api.types.is_numeric_dtype(col) or name in teacher.categorical_features:
            continue
        converted = X.copy() if converted is None else converted
        if pd.api.types.is_bool_dtype(col):
            converted[name] = col.astype(np.float64)
            continue
        numbers = pd.to_numeric(col, errors="coerce")
        bad = col[numbers.isna() & col.notna()]
        if len(bad):
            raise InputError(f"{where}: column {name!r} holds text ({str(bad.iloc[0])[:40]!r}) but the "
                             f"teacher ({teacher.kind}) takes numbers only")
        converted[name] = numbers
    return X if converted is None else converted


def fresh_index(frame: Any) -> Any:
    """``frame`` (or a Series) indexed 0, 1, ...: as ``reset_index(drop=True)``, without copying cells."""
    if not (isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1):
        frame = frame.copy(deep=False)
        frame.index = pd.RangeIndex(len(frame))
    return frame


def take_rows(X: pd.DataFrame, parts: Sequence[np.ndarray | slice], *, consume: bool = False) -> list[pd.DataFrame]:
    """Frames of the rows ``parts`` (index arrays or slices) of ``X``, each indexed from 0, built column by
    column. A slice gives views of ``X``'s cells; an index array copies them. With ``consume``, each of
    ``X``'s columns is dropped from it once taken, so splitting a large frame needs memory for the parts
    and one column, not for two frames (``X`` is left without columns)."""
    n_rows = len(X)
    indexes = [pd.RangeIndex(len(range(n_rows)[rows]) if isinstance(rows, slice) else len(rows)) for rows in parts]
    columns: list[dict[str, pd.Series]] = [{} for _ in parts]
    for name in list(X.columns):
        column = X.pop(name) if consume else X[name]
        for part, rows, index in zip(columns, parts, indexes):
            taken = column.iloc[rows]  # keeps the column's type, categories included
            taken.index = index
            part[name] = taken
        del column
    return [pd.DataFrame(part, index=index, copy=False) for part, index in zip(columns, indexes)]


# -- hold-out ---------------------------------------------------------------------------------
def holdout_split(n_rows: int, test_size: float, seed: int,
                  stratify: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Indices of training and held-out rows; stratified when ``stratify`` allows it.

    Returns ``(train_idx, test_idx, stratified)``.
    """
    check("test_size", test_size, Number(0.0, 1.0, open_low=True, open_high=True))
    if n_rows < MIN_ROWS:
        raise InputError(f"the data has {n_rows} rows; at least {MIN_ROWS} are needed to hold some out")
    n_test = int(np.ceil(test_size * n_rows))
    if n_test < 1 or n_rows - n_test < 2:
        raise SettingError("test_size", f"{test_size} leaves no rows to train or to test on ({n_rows} rows)")
    return split_rows(n_rows, test_size, seed, stratify)


def split_rows(n_rows: int, test_size: float | int, seed: int,
               stratify: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Sorted indices of two random parts of ``n_rows`` rows, the second of ``test_size`` (a share or a
    count), stratified by ``stratify`` unless a class is too small; returns whether it was."""
    from sklearn.model_selection import train_test_split

    index = np.arange(n_rows)
    if stratify is not None:
        try:
            train, test = train_test_split(index, test_size=test_size, random_state=seed, stratify=stratify)
            return np.sort(train), np.sort(test), True
        except ValueError:
            pass  # a class with a single row cannot be stratified: fall through
    train, test = train_test_split(index, test_size=test_size, random_state=seed)
    return np.sort(train), np.sort(test), False
