"""Memory of labelling many synthetic rows: does peak memory stay flat as the row count grows?

For each row count, rows are drawn from a real dataset (resampled with small noise), then labelled by
``tabcompress.teachers.labeling.label_rows`` with a random-forest teacher. Reported per count: the process RSS
before labelling (the rows themselves are in memory by then), the peak RSS while labelling, and the
increase, next to the size of the rows and of the output array. Flat means the increase does not grow
with the row count beyond the output array, because the teacher sees at most ``chunk_rows`` rows at a
time.

    python bench/label_memory.py [--data PATH] [--rows 1000000,2000000,5000000,10000000] [--trees 100]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from run import DEFAULT_DATA_DIR, PeakRSS, log, write_json  # noqa: E402

from tabcompress import Teacher  # noqa: E402
from tabcompress.report import environment, versions  # noqa: E402
from tabcompress.teachers.labeling import DEFAULT_CHUNK_ROWS, label_rows  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR / "magic.csv")
    p.add_argument("--rows", default="1000000,2000000,5000000,10000000")
    p.add_argument("--trees", type=int, default=100)
    p.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "label_memory.json")
    args = p.parse_args(argv)
    from sklearn.ensemble import RandomForestClassifier

    frame = pd.read_csv(args.data)
    X_real, y = frame.drop(columns="target"), frame["target"]
    numeric = X_real.select_dtypes("number")
    if numeric.shape[1] != X_real.shape[1]:
        raise SystemExit("bench: label_memory takes a dataset with numeric columns only")
    model = RandomForestClassifier(n_estimators=args.trees, n_jobs=-1, random_state=0).fit(X_real, y)
    teacher = Teacher.from_model(model)
    meter = PeakRSS()
    rng = np.random.default_rng(0)
    scale = X_real.std().to_numpy() * 0.05
    results = []
    for n in (int(x) for x in args.rows.split(",")):
        gc.collect()
        picks = rng.integers(0, len(X_real), size=n)
        X = pd.DataFrame(X_real.to_numpy()[picks] + rng.normal(0.0, 1.0, (n, X_real.shape[1])) * scale,
                         columns=X_real.columns)
        del picks
        gc.collect()
        before = PeakRSS.read()
        record: dict = {}
        start = time.perf_counter()
        with meter.stage(record, "label"):
            out = label_rows(teacher, X, chunk_rows=args.chunk_rows)
        seconds = time.perf_counter() - start
        peak = record["label"]["peak_rss_mib"]
        row = {
            "rows": n, "seconds": round(seconds, 1), "rss_before_mib": round(before / 2**20, 1),
            "peak_rss_mib": peak, "increase_mib": round(peak - before / 2**20, 1),
            "rows_mib": round(X.memory_usage(index=False).sum() / 2**20, 1),
            "output_mib": round(out.nbytes / 2**20, 1),
        }
        row["increase_beyond_output_mib"] = round(row["increase_mib"] - row["output_mib"], 1)
        results.append(row)
        log(f"{n:>11,} rows: {seconds:6.1f} s, RSS before {row['rss_before_mib']:,.0f} MiB, peak "
            f"{peak:,.0f} MiB (+{row['increase_mib']:,.0f}; output {row['output_mib']:,.0f}, "
            f"rest {row['increase_beyond_output_mib']:,.0f})")
        del X, out
    write_json(args.out, {
        "command": "python bench/label_memory.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": str(args.data), "trees": args.trees, "chunk_rows": args.chunk_rows,
        "machine": environment("cpu"), "versions": versions(), "results": results,
    })
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
