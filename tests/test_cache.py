"""The cache of fitted generators: keys, hits and misses, damaged entries, unusable directories,
concurrent runs and pruning. MUNGE (instant) serves most tests; CTGAN runs once, 2 epochs on a
small slice, to show a loaded GAN samples what the fresh one does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest

from tabcompress.generators import CTGANGenerator, MUNGEGenerator
from tabcompress.generators import cache as cache_mod
from tabcompress.generators.cache import (
    GeneratorCache,
    default_cache_dir,
    generator_key,
    generator_settings,
    worth_caching,
)
from tabcompress.schema import Schema


@pytest.fixture(scope="module")
def rows(magic):
    X = magic.drop(columns="target").iloc[:300].reset_index(drop=True)
    return X, Schema.infer(X)


@pytest.fixture
def fits(monkeypatch):
    """Counts MUNGE fits (a hit must not fit)."""
    calls = []
    original = MUNGEGenerator._fit

    def counting(self, X, random_state, progress):
        calls.append(random_state)
        return original(self, X, random_state, progress)

    monkeypatch.setattr(MUNGEGenerator, "_fit", counting)
    return calls


def key_of(X, schema, generator=None, random_state=0):
    return generator_key(X, schema, generator or MUNGEGenerator(), random_state)


# -- hits and misses ---------------------------------------------------------------------------------
def test_miss_then_hit_loads_without_fitting(tmp_path, rows, fits):
    X, schema = rows
    cache = GeneratorCache(tmp_path / "cache")
    first, info = cache.fit_or_load(MUNGEGenerator(), X, schema, random_state=0)
    assert info["status"] == "miss" and "note" not in info and info["fit_s"] >= 0
    assert len(info["key"]) == 16 and Path(info["path"]).name.startswith(info["key"])
    assert Path(info["path"]).is_file() and len(fits) == 1

    fresh = MUNGEGenerator()
    loaded, info2 = cache.fit_or_load(fresh, X, schema, random_state=0)
    assert info2["status"] == "hit" and info2["load_s"] >= 0 and info2["key"] == info["key"]
    assert len(fits) == 1  # no second fit
    assert loaded is not fresh and not hasattr(fresh, "schema_")
    pd.testing.assert_frame_equal(first.sample(500, random_state=7), loaded.sample(500, random_state=7))
    # New directories are private: entries can hold training rows.
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
    assert Path(info["path"]).stat().st_mode & 0o777 == 0o600


def test_loaded_ctgan_samples_the_rows_a_fresh_fit_samples(tmp_path, magic):
    X = magic.drop(columns="target").iloc[:200, :4].reset_index(drop=True)
    schema = Schema.infer(X)
    cache = GeneratorCache(tmp_path)
    fitted, info = cache.fit_or_load(CTGANGenerator(epochs=2, batch_size=100), X, schema, random_state=0)
    loaded, info2 = cache.fit_or_load(CTGANGenerator(epochs=2, batch_size=100), X, schema, random_state=0)
    assert (info["status"], info2["status"]) == ("miss", "hit")
    assert str(loaded.model_._device) == "cpu"
    pd.testing.assert_frame_equal(fitted.sample(300, random_state=1), loaded.sample(300, random_state=1))
    # Loading again (and sampling the first copy again) changes nothing.
    again, _ = cache.fit_or_load(CTGANGenerator(epochs=2, batch_size=100), X, schema, random_state=0)
    pd.testing.assert_frame_equal(again.sample(300, random_state=1), fitted.sample(300, random_state=1))


def test_progress_is_passed_to_the_fit(tmp_path, rows):
    X, schema = rows
    ticks = []
    GeneratorCache(tmp_path).fit_or_load(MUNGEGenerator(), X, schema, random_state=0,
                                         progress=lambda done, total: ticks.append((done, total)))
    assert ticks == [(1, 1)]


def test_unseeded_fit_is_not_cached(tmp_path, rows):
    X, schema = rows
    gen, info = GeneratorCache(tmp_path).fit_or_load(MUNGEGenerator(), X, schema, random_state=None)
    assert info["status"] == "miss" and "random_state is None" in info["note"] and hasattr(gen, "schema_")
    assert not list(tmp_path.glob("*.joblib"))


# -- keys ---------------------------------------------------------------------------------------------
def test_key_is_stable_across_calls_copies_and_row_index(rows):
    X, schema = rows
    key = key_of(X, schema)
    assert len(key) == 64 and key == key_of(X, schema) == key_of(X.copy(), Schema.infer(X))
    shifted = X.copy()
    shifted.index = shifted.index + 1000
    assert key_of(shifted, schema) == key


def test_key_changes_with_what_changes_the_fit(rows):
    X, schema = rows
    key = key_of(X, schema)

    one_cell = X.copy()
    one_cell.iloc[17, 3] += 0.001
    renamed = X.rename(columns={X.columns[0]: "renamed"})
    reordered = X[list(X.columns[::-1])]
    as_float32 = X.astype({X.columns[0]: "float32"})
    fewer_rows = X.iloc[:-1]
    variants = {
        "one cell": key_of(one_cell, schema),
        "renamed column": key_of(renamed, Schema.infer(renamed)),
        "column order": key_of(reordered, Schema.infer(reordered)),
        "dtype": key_of(as_float32, Schema.infer(as_float32)),
        "one row fewer": key_of(fewer_rows, schema),
        "random_state": key_of(X, schema, random_state=1),
        "munge p": key_of(X, schema, MUNGEGenerator(p=0.4)),
        "ctgan": key_of(X, schema, CTGANGenerator()),
        "ctgan epochs": key_of(X, schema, CTGANGenerator(epochs=101)),
        "ctgan device": key_of(X, schema, CTGANGenerator(device="cuda")),
    }
    assert key not in variants.values()
    assert len(set(variants.values())) == len(variants)


def test_key_sees_the_categories_not_only_their_count():
    X = pd.DataFrame({"colour": ["red", "blue", "red", "green"], "x": [1.0, 2.0, 3.0, 4.0]})
    schema = Schema.infer(X)
    other = Schema.infer(X)
    other.columns[0].categories = ["blue", "green", "yellow"]  # same count, same to_dict()
    assert schema.to_dict() == other.to_dict()
    assert key_of(X, schema) != key_of(X, other)


def test_key_tells_apart_settings_of_different_types(rows):
    X, schema = rows
    assert key_of(X, schema, MUNGEGenerator(max_rows=1)) != key_of(X, schema, MUNGEGenerator(max_rows=True))
    settings = generator_settings(CTGANGenerator(epochs=3))
    assert {k: settings[k] for k in ("epochs", "batch_size", "max_rows", "device")} == {
        "epochs": 3, "batch_size": 500, "max_rows": None, "device": "cpu"}
    # a time limit decides only when a fit stops, and a cached fit is reused whatever it was
    assert "time_limit" not in settings


class RenamesItsSetting(MUNGEGenerator):
    def __init__(self, neighbours: int = 1):
        super().__init__()
        self.k = neighbours  # not under its parameter's name: cannot be keyed


def test_a_generator_that_cannot_be_keyed_is_fitted_without_caching(tmp_path, rows):
    X, schema = rows
    with pytest.raises(ValueError, match="neighbours"):
        key_of(X, schema, RenamesItsSetting())
    gen, info = GeneratorCache(tmp_path).fit_or_load(RenamesItsSetting(), X, schema, random_state=0)
    assert info["status"] == "miss" and info["note"].startswith("not cached") and hasattr(gen, "schema_")
    assert not list(tmp_path.iterdir())


# -- damaged entries -----------------------------------------------------------------------------------
def _truncate(path: Path, key: str) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path: Path, key: str) -> None:
    path.write_bytes(b"\x00not a pickle at all\xff" * 10)


def _empty(path: Path, key: str) -> None:
    path.write_bytes(b"")


def _other_class(path: Path, key: str) -> None:
    joblib.dump({"format": cache_mod.CACHE_FORMAT, "key": key, "generator": CTGANGenerator()}, path)


def _other_key(path: Path, key: str) -> None:
    payload = joblib.load(path)
    payload["key"] = "0" * 64
    joblib.dump(payload, path)


def _not_an_entry(path: Path, key: str) -> None:
    joblib.dump([1, 2, 3], path)


@pytest.mark.parametrize("damage", [_truncate, _garbage, _empty, _other_class, _other_key, _not_an_entry])
def test_a_damaged_entry_is_refitted_not_fatal(tmp_path, rows, fits, damage):
    X, schema = rows
    cache = GeneratorCache(tmp_path)
    _, info = cache.fit_or_load(MUNGEGenerator(), X, schema, random_state=0)
    path = Path(info["path"])
    damage(path, key_of(X, schema))

    gen, info2 = cache.fit_or_load(MUNGEGenerator(), X, schema, random_state=0)
    assert info2["status"] == "refit" and "damaged" in info2["note"] and len(fits) == 2
    assert "\n" not in info2["note"]
    _, info3 = cache.fit_or_load(MUNGEGenerator(), X, schema, random_state=0)
    assert info3["status"] == "hit" and len(fits) == 2  # the refit was stored soundly


# -- unusable directories -----------------------------------------------------------------------------
def test_a_cache_dir_under_a_file_only_skips_caching(tmp_path, rows):
    X, schema = rows
    (tmp_path / "a-file").write_text("x")
    gen, info = GeneratorCache(tmp_path / "a-file" / "cache").fit_or_load(MUNGEGenerator(), X, schema,
                                                                          random_state=0)
    assert info["status"] == "miss" and "caching skipped" in info["note"] and hasattr(gen, "schema_")


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_a_cache_dir_in_proc_only_skips_caching(rows):
    X, schema = rows
    gen, info = GeneratorCache("/proc/tabcompress-cache").fit_or_load(MUNGEGenerator(), X, schema,
                                                                      random_state=0)
    assert info["status"] == "miss" and "caching skipped" in info["note"]
    gen.sample(10, random_state=0)


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_cache_dir_others_can_write_in_is_not_used(tmp_path, rows):
    X, schema = rows
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    _, info = GeneratorCache(shared).fit_or_load(MUNGEGenerator(), X, schema, random_state=0)
    assert info["status"] == "miss" and "writable by other users" in info["note"]
    assert not list(shared.iterdir())


def test_a_failed_store_only_skips_caching_and_leaves_no_temp_file(tmp_path, rows, monkeypatch):
    X, schema = rows

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(joblib, "dump", disk_full)
    gen, info = GeneratorCache(tmp_path).fit_or_load(MUNGEGenerator(), X, schema, random_state=0)
    assert info["status"] == "miss" and "No space left on device" in info["note"] and hasattr(gen, "schema_")
    assert not [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")]


def test_leftover_temp_files_of_the_key_are_removed_on_store(tmp_path, rows):
    X, schema = rows
    leftover = tmp_path / f".{key_of(X, schema)}.abc123.tmp"
    leftover.write_bytes(b"half an entry")
    GeneratorCache(tmp_path).fit_or_load(MUNGEGenerator(), X, schema, random_state=0)
    assert not leftover.exists()


# -- concurrency -----------------------------------------------------------------------------------------
RACER = """
import json, os, sys, time
from pathlib import Path
import pandas as pd
from tabcompress.generators.cache import GeneratorCache
from tabcompress.schema import Schema
from tabcompress.generators import MUNGEGenerator

cache_dir, data, marker, ready, go = sys.argv[1:]

class SlowMUNGE(MUNGEGenerator):
    def _fit(self, X, random_state, progress):
        with open(marker, "a") as fh:  # one line per fit
            fh.write(f"{os.getpid()}\\n")
        time.sleep(1.0)  # long enough for the other run to arrive while this one fits
        super()._fit(X, random_state, progress)

X = pd.read_csv(data)
schema = Schema.infer(X)
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.005)
gen, info = GeneratorCache(cache_dir).fit_or_load(SlowMUNGE(), X, schema, random_state=0)
print(json.dumps({"status": info["status"], "sample": gen.sample(50, random_state=3).to_json()}))
"""


def test_two_runs_at_once_fit_once(tmp_path, rows):
    X, _ = rows
    script, data, marker, go = tmp_path / "racer.py", tmp_path / "rows.csv", tmp_path / "fits.txt", tmp_path / "go"
    script.write_text(RACER)
    X.iloc[:200].to_csv(data, index=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs, ready = [], []
    for i in range(2):
        ready.append(tmp_path / f"ready{i}")
        procs.append(subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), str(data), str(marker),
                                       str(ready[i]), str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=env))
    try:
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready):  # both imported and read the rows: start together
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
                [p.communicate() for p in procs if p.poll() is not None]
            time.sleep(0.02)
        go.touch()
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert sorted(r["status"] for r in results) == ["hit", "miss"]
    assert len(marker.read_text().splitlines()) == 1  # exactly one fit
    assert results[0]["sample"] == results[1]["sample"]
    assert len(GeneratorCache(tmp_path / "cache").entries()) == 1


_GATE = threading.Event()


class GatedMUNGE(MUNGEGenerator):
    """A MUNGE whose fit waits for _GATE, to hold a key's lock as long as a test wants."""

    def _fit(self, X, random_state, progress):
        assert _GATE.wait(timeout=20), "gate never opened"
        super()._fit(X, random_state, progress)


def _in_thread(fn):
    box = {}
    thread = threading.Thread(target=lambda: box.update(result=fn()), daemon=True)
    thread.start()
    return thread, box


def test_the_same_key_waits_other_keys_do_not(tmp_path, rows):
    X, schema = rows
    cache = GeneratorCache(tmp_path)
    _GATE.clear()
    try:
        slow, slow_box = _in_thread(lambda: cache.fit_or_load(GatedMUNGE(), X, schema, random_state=0))
        time.sleep(0.3)  # the slow run now holds key 0's lock, inside its fit
        same, same_box = _in_thread(lambda: cache.fit_or_load(GatedMUNGE(), X, schema, random_state=0))
        other, other_box = _in_thread(lambda: cache.fit_or_load(MUNGEGenerator(), X, schema, random_state=1))
        other.join(timeout=15)
        assert not other.is_alive() and other_box["result"][1]["status"] == "miss"  # did not wait
        same.join(timeout=0.3)
        assert same.is_alive() and slow.is_alive()  # waits for the slow run's lock
    finally:
        _GATE.set()
    slow.join(timeout=15)
    same.join(timeout=15)
    assert slow_box["result"][1]["status"] == "miss" and same_box["result"][1]["status"] == "hit"


@pytest.mark.skipif(cache_mod.fcntl is None, reason="needs flock")
def test_a_waiter_on_a_deleted_lock_file_locks_the_current_one(tmp_path):
    lock = tmp_path / ("a" * 64 + ".lock")
    holder = cache_mod._acquire(lock)
    waiter, box = _in_thread(lambda: cache_mod._acquire(lock))
    time.sleep(0.2)  # the waiter has opened the file and blocks on it
    os.unlink(lock)  # what clear() and pruning do while holding the lock
    cache_mod._release(holder)
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    try:
        # It holds the lock of the file now at that path, which a newcomer cannot take.
        assert os.path.samestat(os.fstat(box["result"]), os.stat(lock))
        assert cache_mod._acquire(lock, blocking=False) is None
    finally:
        cache_mod._release(box["result"])


# -- housekeeping ------------------------------------------------------------------------------------------
def test_least_recently_used_entries_are_pruned(tmp_path, rows, fits):
    X, schema = rows
    cache = GeneratorCache(tmp_path, max_entries=2)
    paths = {}
    for seed in (0, 1):
        paths[seed] = Path(cache.fit_or_load(MUNGEGenerator(), X, schema, random_state=seed)[1]["path"])
    now = time.time()
    os.utime(paths[0], (now - 100, now - 100))
    os.utime(paths[1], (now - 50, now - 50))
    assert cache.fit_or_load(MUNGEGenerator(), X, schema, random_state=0)[1]["status"] == "hit"  # touches 0
    paths[2] = Path(cache.fit_or_load(MUNGEGenerator(), X, schema, random_state=2)[1]["path"])

    assert {e.path for e in cache.entries()} == {paths[0], paths[2]}
    assert not paths[1].exists() and not paths[1].with_suffix(".lock").exists()
    assert len(fits) == 3


def test_entries_and_clear(tmp_path, rows):
    X, schema = rows
    cache = GeneratorCache(tmp_path)
    for seed in (0, 1):
        cache.fit_or_load(MUNGEGenerator(), X, schema, random_state=seed)
    (tmp_path / "notes.txt").write_text("not ours")
    entries = cache.entries()
    assert len(entries) == 2 and all(e.size > 0 and e.path.suffix == ".joblib" for e in entries)
    assert entries[0].mtime >= entries[1].mtime

    busy_key = entries[0].path.stem
    fd = cache_mod._acquire(tmp_path / f"{busy_key}.lock")  # a run is loading this entry right now
    try:
        assert cache.clear() == 1
    finally:
        cache_mod._release(fd)
    assert [e.path.stem for e in cache.entries()] == [busy_key]
    assert cache.clear() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_max_entries_must_be_positive():
    with pytest.raises(ValueError):
        GeneratorCache(max_entries=0)


# -- where, and what --------------------------------------------------------------------------------------
def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TABCOMPRESS_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    assert GeneratorCache().directory == tmp_path / "mine"
    monkeypatch.delenv("TABCOMPRESS_CACHE_DIR")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "tabcompress"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert default_cache_dir() == tmp_path / ".cache" / "tabcompress"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert default_cache_dir() == tmp_path / "Library" / "Caches" / "tabcompress"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert default_cache_dir() == tmp_path / "local" / "tabcompress" / "Cache"


def test_worth_caching():
    assert worth_caching(CTGANGenerator()) and not worth_caching(MUNGEGenerator())

    class Costly(MUNGEGenerator):
        cache_worthy = True

    assert worth_caching(Costly())
