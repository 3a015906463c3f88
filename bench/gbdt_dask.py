"""The gbdt student boosted on a Dask cluster (``xgboost.dask``) against the same run boosted here.

Starts a scheduler and two single-threaded workers on 127.0.0.1 (as tests/test_dask.py does), fits small
forest teachers on the test slices (tests/data), and per teacher runs ``tabcompress distill --student gbdt``
three times with ``--seed 0``: here, on the cluster, and on the cluster again. It prints, per teacher and
``--trees``: both runs' fidelity on their held-out rows (report.json), how often the two students agree on
the slice's rows (the same class; R² of one's values against the other's for regression), and whether the
two cluster runs gave the same student (the same arrays, bit for bit).

    .venv/bin/python bench/gbdt_dask.py --trees 10 100
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
BIN = Path(sys.executable).parent


def start_cluster(root: Path) -> tuple[str, list[subprocess.Popen]]:
    file, log = root / "scheduler.json", open(root / "cluster.log", "w")
    dask = str(BIN / "dask")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(file)], stdout=log, stderr=log)]
    while not (file.exists() and file.read_text()):
        time.sleep(0.2)
    procs += [subprocess.Popen([dask, "worker", "--scheduler-file", str(file), "--nthreads", "1", "--no-nanny",
                                "--no-dashboard", "--host", "127.0.0.1"], stdout=log, stderr=log) for _ in range(2)]
    address = json.loads(file.read_text())["address"]
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=90)
    return address, procs


def teachers(root: Path) -> dict[str, tuple[Path, Path]]:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    out = {}
    for name, csv, model in (("magic (binary)", "magic_1200.csv",
                              RandomForestClassifier(n_estimators=40, random_state=0)),
                             ("house16h (regression)", "house16h_1200.csv",
                              RandomForestRegressor(n_estimators=30, random_state=0))):
        df = pd.read_csv(DATA / csv)
        path = root / f"{csv}.joblib"
        joblib.dump(model.fit(df.drop(columns="target"), df["target"]), path)
        out[name] = (path, DATA / csv)
    # multiclass: covertype's numeric columns (a forest takes no text columns)
    df = pd.read_csv(DATA / "covertype_1500.csv").drop(columns=["Wilderness_Area", "Soil_Type"])
    df.to_csv(root / "covertype_numeric.csv", index=False)
    path = root / "covertype.joblib"
    joblib.dump(RandomForestClassifier(n_estimators=30, random_state=0).fit(df.drop(columns="target"), df["target"]),
                path)
    out["covertype (7 classes)"] = (path, root / "covertype_numeric.csv")
    return out


def distill(teacher: Path, data: Path, out: Path, trees: int, *extra: str) -> dict:
    done = subprocess.run([str(BIN / "tabcompress"), "distill", str(teacher), str(data), "--student", "gbdt",
                           "--trees", str(trees), "--seed", "0", "--json", "--out", str(out), *extra],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout)


def same_student(a, b) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k))
               for k in ("feature_", "threshold_", "missing_left_", "leaf_", "base_margin_"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trees", type=int, nargs="+", default=[10, 100])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        address, procs = start_cluster(root)
        try:
            for name, (teacher, data) in teachers(root).items():
                X = pd.read_csv(data).drop(columns="target")
                for trees in args.trees:
                    runs = {}
                    for run in ("here", "dask", "dask2"):
                        out = root / f"{teacher.stem}-{trees}-{run}"
                        extra = () if run == "here" else ("--dask", address)
                        report = distill(teacher, data, out, trees, *extra)
                        runs[run] = (report, joblib.load(out / "student.joblib"))
                    (local, a), (remote, b), (_, c) = runs["here"], runs["dask"], runs["dask2"]
                    assert (local["student"]["trained_on"], remote["student"]["trained_on"]) == ("here", "dask")
                    if a.task_ == "regression":
                        pa, pb = a.predict(X), b.predict(X)
                        agreement = f"R² {1 - np.sum((pb - pa) ** 2) / np.sum((pa - pa.mean()) ** 2):.4f}"
                    else:
                        agreement = f"same class {np.mean(a.predict(X) == b.predict(X)):.4f}"
                    print(f"{name}, --trees {trees}: fidelity here {local['metrics']['student']['fidelity']:.4f}, "
                          f"on the cluster {remote['metrics']['student']['fidelity']:.4f}; "
                          f"students on the {len(X):,} rows: {agreement}; "
                          f"two cluster runs give the same student: {same_student(b, c)}; "
                          f"the cluster's equals here's: {same_student(a, b)}", flush=True)
        finally:
            for proc in procs[::-1]:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
