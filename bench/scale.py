"""Labelling on a two-worker local Dask cluster against one process (issue 19's cluster benchmark).

N synthetic rows (real rows resampled with small noise, as bench/label_memory.py draws them) are
labelled by a 500-tree random forest twice, each time in a fresh child process:

* ``local``: ``label_rows`` in one process, one thread per available core (what a run without
  ``--dask`` does);
* ``dask``: the same rows through ``tabcompress.cluster.Cluster`` (what ``--dask`` does) on a
  ``LocalCluster`` of two worker processes with one thread each, started in the child (its start-up is
  reported apart; sending the teacher to the workers is inside the labelling time).

Reported per mode: wall time of the labelling, and peak RSS (the process's own high-water mark,
:func:`peak_rss_mib`: the interpreter, the libraries, the teacher and the rows count too) of the labelling
process and, for ``dask``, of each worker process. The answers of the two modes are checked to be identical.

    python bench/scale.py [--rows 1000000] [--trees 500] [--data PATH] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "magic.csv"


def peak_rss_mib() -> float:
    """This process's peak RSS in MiB: on Linux the high-water mark of its own memory (``VmHWM``), not
    ``ru_maxrss``, which a spawned process (a Dask worker, a child of this script) inherits from the
    process that spawned it (a worker started beside 10M rows reported their memory as its own);
    elsewhere ``ru_maxrss`` (macOS reports bytes)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 2**10
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare(args: argparse.Namespace, work: Path) -> dict:
    """The teacher and the rows, written to ``work`` for the children (neither is timed)."""
    import joblib
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    frame = pd.read_csv(args.data)
    X_real, y = frame.drop(columns="target"), frame["target"]
    if X_real.select_dtypes("number").shape[1] != X_real.shape[1]:
        raise SystemExit("bench: scale takes a dataset with numeric columns only")
    started = time.perf_counter()
    model = RandomForestClassifier(n_estimators=args.trees, n_jobs=-1, random_state=0).fit(X_real, y)
    fit_s = time.perf_counter() - started
    joblib.dump(model, work / "teacher.joblib")
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(X_real), size=args.rows)
    scale = X_real.std().to_numpy() * 0.05
    X = X_real.to_numpy()[picks] + rng.normal(0.0, 1.0, (args.rows, X_real.shape[1])) * scale
    np.save(work / "rows.npy", X)
    (work / "columns.json").write_text(json.dumps(list(X_real.columns)))
    leaves = sum(int(t.tree_.n_leaves) for t in model.estimators_)
    return {"data": str(args.data), "real_rows": len(X_real), "columns": X_real.shape[1], "trees": args.trees,
            "leaves": leaves, "teacher_fit_s": round(fit_s, 1),
            "teacher_pickle_mib": round((work / "teacher.joblib").stat().st_size / 2**20, 1)}


def child(mode: str, work: Path, chunk_rows: int) -> dict:
    """One measurement, in its own process: load, label (timed), save the answers, report."""
    import pandas as pd

    from tabcompress import Teacher
    from tabcompress.teachers.labeling import label_rows

    teacher = Teacher.from_model(__import__("joblib").load(work / "teacher.joblib"))
    X = pd.DataFrame(np.load(work / "rows.npy"), columns=json.loads((work / "columns.json").read_text()))
    out: dict = {"mode": mode, "rss_before_mib": round(peak_rss_mib(), 1)}
    if mode == "local":
        started = time.perf_counter()
        T = label_rows(teacher, X, chunk_rows=chunk_rows)
        out["label_s"] = round(time.perf_counter() - started, 2)
        out["threads"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    else:
        from distributed import LocalCluster

        from tabcompress.cluster import Cluster

        started = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
            with Cluster(local.scheduler_address) as cluster:
                out["cluster_start_s"] = round(time.perf_counter() - started, 2)
                started = time.perf_counter()
                T = label_rows(teacher, X, chunk_rows=chunk_rows, cluster=cluster)
                out["label_s"] = round(time.perf_counter() - started, 2)
                peaks = cluster.client.run(peak_rss_mib)
                out["worker_peak_rss_mib"] = [round(v, 1) for v in peaks.values()]
                out["threads"] = cluster.threads()
    out["peak_rss_mib"] = round(peak_rss_mib(), 1)
    np.save(work / f"answers_{mode}.npy", T)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--trees", type=int, default=500)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--chunk-rows", type=int, default=50_000)
    p.add_argument("--out", type=Path, help="also write the results here as JSON")
    p.add_argument("--child", choices=("local", "dask"), help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.work, args.chunk_rows)))
        return 0

    with tempfile.TemporaryDirectory(prefix="tabcompress-scale-") as tmp:
        work = Path(tmp)
        log(f"fitting a {args.trees}-tree forest on {args.data.name}, drawing {args.rows:,} rows")
        results = {"rows": args.rows, "chunk_rows": args.chunk_rows, "teacher": prepare(args, work), "modes": []}
        for mode in ("local", "dask"):
            log(f"labelling: {mode}")
            done = subprocess.run([sys.executable, __file__, "--child", mode, "--work", str(work),
                                   "--chunk-rows", str(args.chunk_rows)], capture_output=True, text=True)
            if done.returncode:
                sys.stderr.write(done.stderr)
                raise SystemExit(f"bench: the {mode} child failed")
            results["modes"].append(json.loads(done.stdout.strip().splitlines()[-1]))
        same = np.array_equal(np.load(work / "answers_local.npy"), np.load(work / "answers_dask.npy"))
    results["answers_identical"] = bool(same)
    local, dask = results["modes"]
    results["dask_over_local_time"] = round(dask["label_s"] / local["label_s"], 2)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if not same:
        log("the cluster's answers differ from the local ones")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
