"""Data-free against data-based `tabcompress distill`, with the CLI's defaults, on the same real rows.

For each dataset: shuffle the rows (seed 0), keep 5,000 as evaluation rows, fit a 300-tree random forest
(min_samples_leaf=2, as sample_data/train_teacher.py does; one-hot for text columns) on the rest, then run

    tabcompress distill TEACHER --eval-data eval.csv                  # data-free: no training rows
    tabcompress distill TEACHER train.csv --eval-data eval.csv        # data-based: every other row

and print fidelity (R² to the teacher for regression), wall time and peak memory (`/usr/bin/time -v`).

    python bench/datafree_gap.py --datasets magic,adult,credit_default,house_16H --work /tmp/gap \\
        > bench/results/datafree_gap.md
    python bench/render.py bench/results/full.json --nodata ... --append bench/results/datafree_gap.md
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import joblib
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import run as bench  # noqa: E402


def prepare(name: str, data_dir: Path, work: Path) -> tuple[Path, Path, Path]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    teacher, train, held = work / f"{name}_rf.joblib", work / f"{name}_train.csv", work / f"{name}_eval.csv"
    if teacher.exists() and train.exists() and held.exists():
        return teacher, train, held
    frame = pd.read_csv(data_dir / f"{name}.csv").sample(frac=1, random_state=0).reset_index(drop=True)
    frame.iloc[:5000].to_csv(held, index=False)
    frame.iloc[5000:].to_csv(train, index=False)
    X, y = frame.iloc[5000:].drop(columns="target"), frame.iloc[5000:]["target"]
    forest_cls = RandomForestClassifier if bench.is_classification(y) else RandomForestRegressor
    forest = forest_cls(n_estimators=300, min_samples_leaf=2, n_jobs=2, random_state=0)
    text = [c for c in X.columns if X[c].dtype == object]
    model = Pipeline([("encode", ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text)],
                                                   remainder="passthrough")), ("forest", forest)]) if text else forest
    joblib.dump(model.fit(X, y), teacher)
    return teacher, train, held


def distill(teacher: Path, train: Path | None, held: Path, out: Path) -> dict:
    command = ["/usr/bin/time", "-v", str(Path(sys.executable).parent / "tabcompress"), "distill", str(teacher),
               *([str(train)] if train else []), "--eval-data", str(held), "--out", str(out), "--seed", "0",
               "--json", "--no-cache", "-q"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    wall, _, peak_kib = bench.gnu_time(done.stderr)
    rss = peak_kib / 2**20
    return {"fidelity": report["metrics"]["student"]["fidelity"], "wall": wall, "peak_gib": round(rss, 2),
            "train_rows": report["data"]["train_rows"], "synthetic_rows": report["data"]["synthetic_rows"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="magic,adult,credit_default,house_16H")
    p.add_argument("--data-dir", type=Path, default=bench.DEFAULT_DATA_DIR)
    p.add_argument("--work", type=Path, default=Path("/tmp/tabcompress-gap"))
    p.add_argument("--note", default="", help="a sentence for the table's heading, e.g. what else was running")
    a = p.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    print("### Data-free against data-based `tabcompress distill`, the CLI's defaults\n")
    print(f"`python bench/datafree_gap.py --datasets {a.datasets}`, started {started}. Each dataset shuffled "
          "with seed 0; 5,000 rows kept as `--eval-data`; a 300-tree random forest (min_samples_leaf=2) fitted "
          "on the rest; data-free: no training rows; data-based: all the other rows as DATA. Fidelity: agreement "
          "with the teacher's class, R² to its predictions for regression (house_16H). " + a.note + "\n")
    print("| dataset | data-free fidelity | data-based fidelity | gap | data-free wall, peak | data-based wall, peak |")
    print("|---|---:|---:|---:|---|---|")
    for name in a.datasets.split(","):
        teacher, train, held = prepare(name, a.data_dir, a.work)
        free = distill(teacher, None, held, a.work / f"out_{name}_free")
        based = distill(teacher, train, held, a.work / f"out_{name}_data")
        print(f"| {name} | {free['fidelity']:.4f} | {based['fidelity']:.4f} | "
              f"{based['fidelity'] - free['fidelity']:.4f} | {free['wall']}, {free['peak_gib']} GiB | "
              f"{based['wall']}, {based['peak_gib']} GiB ({based['train_rows']:,} rows) |", flush=True)


if __name__ == "__main__":
    main()
