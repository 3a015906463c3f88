"""A new user's first runs: a teacher fitted on a whole file, distilled with the default students.

Three cases stand for the newcomer trials of issue 17: MAGIC with an XGBoost teacher, california_housing
with the forest Pipeline of ``make demo`` (one-hot text columns, then 300 trees), credit_default with
an XGBoost teacher. Each teacher is fitted on the whole file; ``tabcompress distill`` then runs through
the console script on the same file (it holds out 20 % itself), once per generator, under
``/usr/bin/time -v``. One JSON line per run: the shipped student's and the baseline's fidelity on the
held-out rows, what shipped, wall time and peak memory.

    python bench/newcomer.py --generators auto,ctgan --out bench/results/newcomer.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402

#: each case's file under the data directory
CASES = {"magic_xgb": "magic.csv", "california_pipeline": "california_housing.csv", "credit_xgb": "credit_default.csv"}


def fit_teacher(case: str, data: Path, out: Path) -> None:
    """XGBoost at its defaults, or the forest Pipeline of ``make demo`` (sample_data/train_teacher.py)."""
    if case == "california_pipeline":
        script = bench.ROOT / "sample_data" / "train_teacher.py"
        subprocess.run([sys.executable, str(script), str(data), str(out)], check=True)
        return
    from xgboost import XGBClassifier

    df = pd.read_csv(data)
    joblib.dump(XGBClassifier(random_state=0, n_jobs=2).fit(df.drop(columns="target"), df["target"]), out)


def run_case(case: str, generator: str, data: Path, teacher: Path, work: Path, seed: int) -> dict:
    out = work / f"{case}_{generator}"
    cmd = ["/usr/bin/time", "-v", str(Path(sys.executable).with_name("tabcompress")), "distill", str(teacher),
           str(data), "--generator", generator, "--seed", str(seed), "--out", str(out), "--json"]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{case} {generator}: exit {done.returncode}\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    _, seconds, rss_kb = bench.gnu_time(done.stderr)
    metrics = report["metrics"]
    return {"case": case, "generator": generator, "seed": seed,
            "fidelity": metrics["student"]["fidelity"],
            "baseline": metrics.get("baseline", {}).get("fidelity"),
            "synthetic_rows": report["data"]["synthetic_rows"],
            "student": (report["search"] or {}).get("chosen"), "rule": (report["search"] or {}).get("rule"),
            "generator_info": report["generator"], "notes": report["notes"],
            "timings_s": report["timings_s"], "wall_s": round(seconds, 1), "max_rss_mb": round(rss_kb / 1024)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--generators", default="auto,ctgan")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=bench.DEFAULT_DATA_DIR)
    p.add_argument("--out", type=Path, help="also append one JSON line per run here")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for case in a.cases.split(","):
            data = a.data_dir / CASES[case]
            teacher = work / f"{case}.joblib"
            fit_teacher(case, data, teacher)
            for generator in a.generators.split(","):
                row = run_case(case, generator, data, teacher, work, a.seed)
                print(json.dumps(row), flush=True)
                if a.out:
                    with a.out.open("a") as sink:
                        sink.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
