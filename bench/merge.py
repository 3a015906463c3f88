"""Merge benchmark results made by separate runs into one results file, summary recomputed.

Two uses: runs side by side on different datasets (half the datasets each), and runs of different
methods on the same datasets — e.g. rerunning only ``tabcompress`` after a change to the library and
keeping the baselines of an earlier run. The second is sound only when both runs saw the same splits
and teachers, so the merge checks it: for every (dataset, seed, teacher) two parts share, the
teacher's size (within :data:`BYTES_TOLERANCE`), node count and held-out score must be identical, or
the merge refuses.

    python bench/merge.py old.json:B0,B1,B2,B3,oracle tc_a.json tc_b.json --out bench/results/full.json

``--drop DATASET:TEACHER`` leaves out cells whose teachers could not be matched.

A part is ``PATH`` (all the methods it ran) or ``PATH:M1,M2`` (only those), optionally followed by
``!DATASET:TEACHER`` (repeatable) to leave that part's cells of that dataset and teacher out, and by
``@S1,S2`` to take only those students' runs from that part (e.g. ``old.json:tabcompress@mlp64x64``
keeps an earlier run's MLP cells when only the tree students were rerun). The merged file lists the
parts under ``parts`` (command, times, methods taken), so the page can say where each figure came from.
The frontier method's searches (``results["frontier"]``) come from the parts whose methods include
``frontier``. Parts of different regimes (``small``, ``full``) or training-row caps are never merged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import summary as summary_mod  # noqa: E402
from run import write_json  # noqa: E402

# settings that belong to one method: taken from the part that ran it
METHOD_SETTINGS = {"B2": "B2", "B3": "B3", "tabcompress": "tabcompress"}
# settings that may differ between parts
PER_PART = {"datasets", "methods", "teachers", "students", "seeds", *METHOD_SETTINGS.values()}
# settings added after some results were written: a part without one had its value
SETTING_DEFAULTS = {"regime": "small", "test_share": None, "max_train_rows": None}
METHOD_ORDER = ("B0", "B1", "B2", "B3", "B4", "B5", "tabcompress", "oracle", "frontier")


def _setting(settings: dict, key: str):
    return settings.get(key, SETTING_DEFAULTS.get(key))
# the teacher figures that must agree where two parts share a teacher
TEACHER_IDENTITY = ("type", "serialized_bytes", "n_trees", "n_nodes", "n_leaves", "target_accuracy", "target_r2")
# two fits of the same LightGBM model may pickle a few bytes apart (seen: 4 and 28 bytes of 1.4 and
# 6.6 MB, every node and score equal), so sizes agree within this share
BYTES_TOLERANCE = 1e-4


def _differs(key: str, before: Any, after: Any) -> bool:
    if key == "serialized_bytes" and before and after:
        return abs(before - after) > BYTES_TOLERANCE * max(before, after)
    return before != after


def _parse(spec: str) -> tuple[Path, list[str] | None, set[tuple[str, ...]], set[str] | None]:
    spec, _, students = spec.partition("@")
    spec, *drops = spec.split("!")
    path, _, methods = spec.partition(":")
    return (Path(path), ([m for m in methods.split(",") if m] or None), {tuple(d.split(":", 1)) for d in drops},
            {s for s in students.split(",") if s} or None)


def merge(parts: list[tuple[dict, list[str]]], name: str) -> dict:
    first = parts[0][0]
    for part, _ in parts[1:]:
        keys = (set(first["settings"]) | set(part["settings"]) | set(SETTING_DEFAULTS)) - PER_PART
        for key in sorted(keys, key=lambda k: (k != "regime", k)):
            if _setting(part["settings"], key) != _setting(first["settings"], key):
                raise SystemExit(f"merge: setting {key!r} differs between {first['name']} and {part['name']}")
    teachers: dict[tuple, dict] = {}
    for part, _ in parts:
        for t in part["teachers"]:
            key = (t["dataset"], t["seed"], t["teacher"])
            if key in teachers:
                before = teachers[key]
                differs = [k for k in TEACHER_IDENTITY if _differs(k, before.get(k), t.get(k))]
                if differs:
                    raise SystemExit(f"merge: teacher {key} differs between parts ({', '.join(differs)}): "
                                     "the runs did not see the same teachers")
            teachers[key] = t  # the later part's timings
    generators: dict[tuple, dict] = {}
    for part, methods in parts:
        for g in part["generators"]:
            entry = generators.setdefault((g["dataset"], g["seed"]), {"dataset": g["dataset"], "seed": g["seed"]})
            entry.update({k: v for k, v in g.items() if k in methods})
    settings = {**first["settings"],
                "datasets": list(dict.fromkeys(d for p, _ in parts for d in p["settings"]["datasets"])),
                "teachers": list(dict.fromkeys(t for p, _ in parts for t in p["settings"]["teachers"])),
                "students": {k: v for p, _ in parts for k, v in p["settings"]["students"].items()},
                "seeds": sorted({s for p, _ in parts for s in p["settings"]["seeds"]}),
                "methods": [m for m in METHOD_ORDER if any(m in methods for _, methods in parts)]}
    for part, methods in parts:
        for method, key in METHOD_SETTINGS.items():
            if method in methods and key in part["settings"]:
                settings[key] = part["settings"][key]
    runs = [r for part, methods in parts for r in part["runs"] if r["method"] in methods]
    seen = set()
    for r in runs:
        key = (r["dataset"], r["seed"], r["teacher"], r["student"], r["method"])
        if key in seen:
            raise SystemExit(f"merge: two parts both give {key}; name the methods to take from each")
        seen.add(key)
    frontier = [f for part, methods in parts if "frontier" in methods for f in part.get("frontier") or []]
    searched = set()
    for f in frontier:
        key = (f["dataset"], f["seed"], f["teacher"])
        if key in searched:
            raise SystemExit(f"merge: two parts both give the frontier of {key}; name the methods to take from each")
        searched.add(key)
    merged = {
        "name": name,
        # each run's command once, though a part that is itself a merge repeats its parts' commands
        "command": " & ".join(dict.fromkeys(c.strip() for p, _ in parts for c in p["command"].split(" & "))),
        "started": min(p["started"] for p, _ in parts),
        "finished": max(p["finished"] or "" for p, _ in parts) or None,
        "machine": parts[-1][0]["machine"],
        "versions": parts[-1][0]["versions"],
        "settings": settings,
        "datasets": {k: v for p, _ in parts for k, v in p["datasets"].items()},
        "generators": list(generators.values()),
        "teachers": list(teachers.values()),
        "runs": runs,
        "frontier": frontier,
        # a file taken as several parts (some methods from each) ran once
        "elapsed_s": sum({(p["name"], p["started"]): p.get("elapsed_s") or 0 for p, _ in parts}.values()),
        "parts": [{"name": p["name"], "command": p["command"], "started": p["started"], "finished": p["finished"],
                   "elapsed_s": p.get("elapsed_s"), "methods": methods,
                   "students": p.get("students_taken", "all"), "versions": p["versions"],
                   "load_average_at_start": p["machine"].get("load_average_at_start")} for p, methods in parts],
    }
    merged["summary"] = summary_mod.summarise(merged)
    return merged


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("parts", nargs="+", help="PATH[:METHOD,...][!DATASET:TEACHER...][@STUDENT,...]")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--drop", action="append", default=[], metavar="DATASET:TEACHER",
                   help="leave out every run and teacher of this dataset and teacher (repeatable)")
    a = p.parse_args()
    dropped = {tuple(d.split(":", 1)) for d in a.drop}
    parts = []
    for spec in a.parts:
        path, methods, part_drops, students = _parse(spec)
        data = json.loads(path.read_text())
        for key in ("runs", "teachers", "frontier"):
            data[key] = [x for x in data.get(key) or [] if (x["dataset"], x["teacher"]) not in dropped | part_drops]
        if students is not None:
            data["runs"] = [r for r in data["runs"] if r["student"] in students]
            data["frontier"] = [f for f in data["frontier"] if f["student"] in students]
            data["students_taken"] = sorted(students)
        parts.append((data, methods or list(data["settings"]["methods"])))
    write_json(a.out, merge(parts, a.out.stem))
    print(f"merged {len(parts)} parts into {a.out}")


if __name__ == "__main__":
    main()
