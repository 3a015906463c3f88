"""Merge benchmark results that were run as separate processes (e.g. half the datasets each, side by
side on a 2-core machine) into one results file, with its summary recomputed.

    python bench/merge.py bench/results/full_a.json bench/results/full_b.json --out bench/results/full.json

The parts must come from the same settings apart from their datasets; the merged file keeps every
part's command, start and finish time, machine and elapsed seconds under ``parts``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import summary as summary_mod  # noqa: E402
from run import write_json  # noqa: E402

# settings that may differ between parts; everything else must match
PER_PART = {"datasets"}


def merge(parts: list[dict], name: str) -> dict:
    first = parts[0]
    for part in parts[1:]:
        for key, value in first["settings"].items():
            if key not in PER_PART and part["settings"].get(key) != value:
                raise SystemExit(f"merge: setting {key!r} differs between {first['name']} and {part['name']}")
        if part["versions"] != first["versions"]:
            raise SystemExit(f"merge: package versions differ between {first['name']} and {part['name']}")
    merged = {
        "name": name,
        "command": " & ".join(p["command"] for p in parts),
        "started": min(p["started"] for p in parts),
        "finished": max(p["finished"] or "" for p in parts) or None,
        "machine": first["machine"],
        "versions": first["versions"],
        "settings": {**first["settings"], "datasets": [d for p in parts for d in p["settings"]["datasets"]]},
        "datasets": {k: v for p in parts for k, v in p["datasets"].items()},
        "generators": [g for p in parts for g in p["generators"]],
        "teachers": [t for p in parts for t in p["teachers"]],
        "runs": [r for p in parts for r in p["runs"]],
        "elapsed_s": max(p.get("elapsed_s") or 0 for p in parts),
        "parts": [{k: p.get(k) for k in ("name", "command", "started", "finished", "elapsed_s", "machine")}
                  for p in parts],
    }
    merged["summary"] = summary_mod.summarise(merged)
    return merged


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("parts", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    parts = [json.loads(path.read_text()) for path in a.parts]
    write_json(a.out, merge(parts, a.out.stem))
    print(f"merged {len(parts)} parts into {a.out}")


if __name__ == "__main__":
    main()
