"""Trials behind the defaults of the gbdt and linear students: a grid of their parameters, scored like
``bench/trials.py``'s B3 variant.

Same splits as the benchmark (3,000 training rows, 5,000 held out), the same teachers (fitted on the
training rows), and the B3 recipe: the student learns the teacher's probabilities (or values) on the
training rows plus 10× as many MUNGE rows. Each grid point is scored as fidelity on the held-out rows
(agreement with the teacher's class; R² to its values for regression), with the student's pickled
size and its one-row latency. A depth-6 tree student on the same rows is the reference line. One JSON
line per (dataset, seed, teacher, grid point) goes to ``--out``; the summary (mean fidelity per grid
point over every cell) goes to stdout.

    python bench/trials_gbdt.py --family gbdt --datasets magic,adult,california_housing,covertype_75k \\
        --seeds 0,1 --teachers rf,xgb --out gbdt.jsonl
    python bench/trials_gbdt.py --family linear --datasets magic,adult,california_housing,covertype_75k \\
        --seeds 0,1 --teachers rf,xgb --out linear.jsonl

``--sizes 500x6,300x8`` replaces the grid by those trees × depths (learning rate 0.3), and ``--regime full``
takes the full regime's rows (20 % held out, at most ``--max-train-rows`` training rows) with ``--ratio``
MUNGE rows per training row, at most 100,000; ``--grow-on probabilities,classes`` tries each size both
ways. The trials behind depth 8 in the ladder of sizes and gbdt's ``--grow-on`` (docs/measurements.md,
"Compact boosted trees, depth 8 and trees grown on classes")::

    python bench/trials_gbdt.py --regime full --ratio 5 --datasets adult,magic --teachers rf \\
        --sizes 500x6,1000x6,300x8,600x8
    python bench/trials_gbdt.py --regime full --ratio 5 --datasets letter,covertype_75k,magic,adult \\
        --teachers rf,xgb --sizes 20x4,57x3 --grow-on probabilities,classes

``--rows munge,real,true`` trains each grid point three ways: as above, on the real rows alone with the
teacher's targets, and on the real rows with their true labels (the benchmark's B5). The trial behind
docs/measurements.md's "Why B5 is level at full size"::

    python bench/trials_gbdt.py --regime full --ratio 5 --datasets letter,covertype_75k --teachers xgb,rf \
        --sizes 94x3,170x3 --rows true,real,munge

Grids: gbdt, trees 25, 50, 100, 200, 400 (per class) × learning rate 0.1, 0.2, 0.3, 0.5 at depth 4;
linear, l2 0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1. Reading the defaults off the summary: gbdt's learning rate
is the one with the best mean fidelity at each number of trees, and linear's l2 the one with the best
mean fidelity. Fidelity keeps rising with the trees up to the grid's edge while the size doubles with
each step, so the number of trees is a choice of size against fidelity, not a maximum: the figures and
the choice are in docs/measurements.md ("Boosted-trees and linear students").
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
from baselines import true_targets  # noqa: E402

from tabcompress import evaluation  # noqa: E402
from tabcompress.evaluation.metrics import latency, serialized_bytes  # noqa: E402
from tabcompress.generators import make_generator  # noqa: E402
from tabcompress.students import make_student  # noqa: E402
from tabcompress.teachers.labeling import label_rows  # noqa: E402

GRIDS = {
    "gbdt": [{"n_trees": t, "learning_rate": r, "max_depth": 4}
             for t, r in itertools.product((25, 50, 100, 200, 400), (0.1, 0.2, 0.3, 0.5))],
    "linear": [{"l2": v} for v in (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)],
}
REFERENCE = ("tree", {"max_depth": 6, "refine_passes": 0})
RATIO = 10
MAX_SYNTHETIC = 100_000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", choices=sorted(GRIDS), default="gbdt")
    p.add_argument("--datasets", default="magic,adult,california_housing,covertype_75k")
    p.add_argument("--data-dir", type=Path, default=bench.DEFAULT_DATA_DIR)
    p.add_argument("--seeds", default="0")
    p.add_argument("--teachers", default="rf,xgb")
    p.add_argument("--out", type=Path, help="also append one JSON line per grid point and cell here")
    p.add_argument("--regime", choices=("small", "full"), default="small")
    p.add_argument("--max-train-rows", type=int, default=20000, help="the full regime's most training rows")
    p.add_argument("--ratio", type=float, default=RATIO, help="MUNGE rows per training row (at most 100,000)")
    p.add_argument("--sizes", help="gbdt only: trees x depths to try instead of the grid, e.g. 500x6,300x8")
    p.add_argument("--rows", default="munge",
                   help="what each grid point trains on, comma-separated: munge (the real rows with the teacher's "
                        "targets plus --ratio MUNGE rows), real (the real rows alone, the teacher's targets), "
                        "true (the real rows with their true labels or values: the benchmark's B5)")
    p.add_argument("--grow-on", default="probabilities",
                   help="gbdt with --sizes: what the trees learn: probabilities, classes, or both comma-separated")
    a = p.parse_args()
    if a.sizes:
        GRIDS["gbdt"] = [{"n_trees": int(t), "learning_rate": 0.3, "max_depth": int(d), "grow_on": way}
                         for t, d in (size.split("x") for size in a.sizes.split(","))
                         for way in a.grow_on.split(",")]
    sink = a.out.open("a") if a.out else None
    records: list[dict] = []
    for seed in map(int, a.seeds.split(",")):
        for spec in a.datasets.split(","):
            records += run_dataset(spec, seed, a, sink)
    summarise(records, a.family)


def run_dataset(spec: str, seed: int, a: argparse.Namespace, sink) -> list[dict]:
    name, path = bench.resolve_dataset(spec, a.data_dir)
    data = bench.load_split(name, path, seed, regime=a.regime,
                            max_train_rows=a.max_train_rows if a.regime == "full" else None)
    X_train, X_test, schema = data.X_train, data.X_test, data.schema
    n_rows = min(MAX_SYNTHETIC, int(a.ratio * len(X_train)))
    rows = make_generator("munge").fit(X_train, schema, random_state=seed).sample(n_rows, random_state=seed + 1)
    X = pd.concat([X_train, rows], ignore_index=True)
    kinds_of_rows = a.rows.split(",")
    one_row = X_test.iloc[:1]
    records = []
    for kind in a.teachers.split(","):
        teacher = bench.trial_teacher(kind, data, seed)
        T, T_test = label_rows(teacher, X), label_rows(teacher, X_test)
        teacher_pred = teacher.classes_[np.argmax(T_test, axis=1)] if data.classify else T_test
        if data.classify:  # how closely the teacher answers its own training rows with their labels
            on_train = np.mean(teacher.classes_[np.argmax(T[:len(X_train)], axis=1)] == data.y_train.to_numpy())
            print(f"{name} {seed} {kind}: the teacher agrees with the true class on {on_train:.4f} of the "
                  f"training rows, {np.mean(teacher_pred == data.y_test.to_numpy()):.4f} of the held-out rows",
                  file=sys.stderr, flush=True)
        fit_kwargs = {"classes": teacher.classes_ if data.classify else None, "categorical": schema.categorical}
        training = {"munge": (X, T), "real": (X_train, T[:len(X_train)]),
                    "true": (X_train, true_targets(data.y_train, teacher.classes_ if data.classify else None))}
        points = [(REFERENCE[0], REFERENCE[1])] + [(a.family, params) for params in GRIDS[a.family]]
        for (student_name, params), rows_kind in itertools.product(points, kinds_of_rows):
            start = time.perf_counter()
            seeded = {} if student_name == "linear" else {"random_state": seed}
            student = make_student(student_name, **seeded, **params).fit(*training[rows_kind], **fit_kwargs)
            seconds = time.perf_counter() - start
            record = {"dataset": name, "seed": seed, "teacher": kind, "student": student_name, **params,
                      **({"rows": rows_kind} if len(kinds_of_rows) > 1 else {}),
                      "fidelity": evaluation.fidelity(teacher.task, teacher_pred, student.predict(X_test))["fidelity"],
                      "fit_s": round(seconds, 3), "bytes": serialized_bytes(student),
                      "one_row_ms": round(latency(student.predict, one_row, batch_repeats=1,
                                                  single_repeats=50)["single_row_ms"], 3),
                      **{f"size_{key}": value for key, value in student.complexity().items()}}
            records.append(record)
            if sink:
                sink.write(json.dumps(record) + "\n")
                sink.flush()
            print(name, seed, kind, student_name, params, rows_kind, f"fidelity {record['fidelity']:.4f}",
                  f"{seconds:.1f} s", flush=True)
    return records


def summarise(records: list[dict], family: str) -> None:
    """Mean fidelity (over every dataset, seed and teacher) per grid point, with its size and latency."""
    keys = ["student", *GRIDS[family][0], *(["rows"] if "rows" in records[0] else [])]
    frame = pd.DataFrame(records)
    frame[keys] = frame[keys].astype(object).where(frame[keys].notna(), "-")  # the reference tree has none
    table = (frame.groupby(keys)
             .agg(fidelity=("fidelity", "mean"), cells=("fidelity", "size"), kib=("bytes", lambda b: b.mean() / 1024),
                  one_row_ms=("one_row_ms", "median"), fit_s=("fit_s", "mean"))
             .reset_index())
    by_dataset = frame.pivot_table(index=keys, columns="dataset", values="fidelity", aggfunc="mean").reset_index()
    print(table.merge(by_dataset, on=keys).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
