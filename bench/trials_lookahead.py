"""Side trial behind the tree student's root lookahead (``--lookahead``): which roots, which margin.

The benchmark's splits (3,000 training rows, 5,000 held out), its forest and XGBoost teachers, and the
rows a default run gives a tree student (``auto``'s generator for the teacher, 20 synthetic rows per
real one). Per (dataset, seed, teacher, depth) the student's own code ranks the root splits
(``TreeStudent._root_splits``) and grows greedy subtrees under each (``_grow_sides``); each candidate's
training loss and held-out fidelity are written as one JSON line. Then a table: for k roots tried and a
margin m, the mean change in held-out fidelity against CART's tree when the candidate of lowest
training loss among the first k ships only if its loss is more than m below CART's.

With ``--levels 1,2,3`` it trials instead how many levels from the root look ahead (the student's
``LOOKAHEAD_LEVELS``, the other defaults as shipped): per run, each level's held-out fidelity, fit
seconds and nodes changed; the table gives each level's mean change against the first.

    OMP_NUM_THREADS=1 python bench/trials_lookahead.py --datasets magic,adult,letter,bank_marketing --out A.jsonl
    python bench/trials_lookahead.py --table A.jsonl B.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
from baselines import teacher_predictions  # noqa: E402

from tabcompress import evaluation  # noqa: E402
from tabcompress.config import Settings  # noqa: E402
from tabcompress.generators.registry import auto_generator, build_generator  # noqa: E402
from tabcompress.students import tree  # noqa: E402
from tabcompress.students.tree import TreeStudent, _goes_left, _prediction_loss  # noqa: E402
from tabcompress.teachers.labeling import label_rows  # noqa: E402

ROOTS = 8
RATIO = 20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="magic,adult")
    p.add_argument("--data-dir", type=Path, default=bench.DEFAULT_DATA_DIR)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--teachers", default="rf,xgb")
    p.add_argument("--depths", default="4,8")
    p.add_argument("--levels", help="levels from the root that look ahead, to compare (e.g. 1,2,3)")
    p.add_argument("--out", type=Path, help="append one JSON line per (dataset, seed, teacher, depth)")
    p.add_argument("--table", type=Path, nargs="+", help="print the table of rules from these files")
    a = p.parse_args()
    if a.table:
        table([json.loads(line) for path in a.table for line in path.open()])
        return
    with a.out.open("a") as sink:
        for seed in map(int, a.seeds.split(",")):
            for spec in a.datasets.split(","):
                run_dataset(spec, seed, a, sink)


def run_dataset(spec: str, seed: int, a: argparse.Namespace, sink) -> None:
    name, path = bench.resolve_dataset(spec, a.data_dir)
    data = bench.load_split(name, path, seed)
    X_train, X_test, schema, classify = data.X_train, data.X_test, data.schema, data.classify
    for kind in a.teachers.split(","):
        teacher = bench.trial_teacher(kind, data, seed)
        wanted = teacher_predictions(teacher, X_test)
        generator_name = auto_generator("tree", schema, teacher)
        generator = build_generator(generator_name, Settings(), teacher=teacher).fit(X_train, schema,
                                                                                   random_state=seed)
        rows = generator.sample(RATIO * len(X_train), random_state=seed + 1)
        X = pd.concat([X_train, rows], ignore_index=True)
        T = np.concatenate([label_rows(teacher, X_train), label_rows(teacher, rows)])
        fit = {"classes": teacher.classes_ if classify else None, "categorical": schema.categorical}
        for depth in map(int, a.depths.split(",")):
            if a.levels:
                record = {"dataset": name, "seed": seed, "teacher": kind, "depth": depth, "generator": generator_name,
                          "levels": compare_levels(a.levels, depth, X, T, X_test, fit, seed, teacher, wanted)}
                sink.write(json.dumps(record) + "\n")
                sink.flush()
                print(name, seed, kind, depth, [(v["levels"], round(v["fidelity"], 4), v["nodes_changed"])
                                                for v in record["levels"]], flush=True)
                continue
            cart = TreeStudent(max_depth=depth, lookahead=1, random_state=seed).fit(X, T, **fit)
            Z, Z_test = cart.encoder_.transform(X, dtype=np.float32), cart.encoder_.transform(X_test, dtype=np.float32)
            T2 = T.reshape(len(T), -1)

            def fidelity(predicted: np.ndarray) -> float:
                pred = teacher.classes_[np.argmax(predicted, axis=1)] if classify else predicted[:, 0]
                return evaluation.fidelity(teacher.task, wanted, pred)["fidelity"]

            candidates = []  # CART's own root first, then the next best features' roots
            for feature, threshold, missing_left in cart._root_splits(Z, T2, None, ROOTS):
                left, left_test = (_goes_left(M[:, feature], threshold, missing_left) for M in (Z, Z_test))
                train, test = np.empty(T2.shape), np.empty((len(Z_test), T2.shape[1]))
                sides = cart._grow_sides(Z, T2, None, left)  # a stump's split has rows on both sides
                for side, side_test, grown in zip((left, ~left), (left_test, ~left_test), sides):
                    train[side] = grown.predict(Z[side]).reshape(int(side.sum()), -1)
                    if side_test.any():
                        test[side_test] = grown.predict(Z_test[side_test]).reshape(int(side_test.sum()), -1)
                candidates.append({"loss": _prediction_loss(train, T2, classify, None), "fidelity": fidelity(test)})
            record = {"dataset": name, "seed": seed, "teacher": kind, "depth": depth, "generator": generator_name,
                      "cart_fidelity": fidelity(cart.predict_proba(X_test) if classify
                                                else cart.predict(X_test)[:, None]),
                      "candidates": candidates}
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            print(name, seed, kind, depth, round(record["cart_fidelity"], 4),
                  [round(c["fidelity"], 4) for c in candidates], flush=True)


def compare_levels(levels: str, depth: int, X: pd.DataFrame, T: np.ndarray, X_test: pd.DataFrame, fit: dict,
                   seed: int, teacher, wanted: np.ndarray) -> list[dict]:
    """The default tree student grown with each number of lookahead levels: held-out fidelity, fit
    seconds, nodes changed."""
    shipped = tree.LOOKAHEAD_LEVELS
    results = []
    try:
        for level in map(int, levels.split(",")):
            tree.LOOKAHEAD_LEVELS = level
            start = time.perf_counter()
            student = TreeStudent(max_depth=depth, random_state=seed).fit(X, T, **fit)
            seconds = time.perf_counter() - start
            predicted = np.asarray(student.predict(X_test))
            if not teacher.is_classifier:
                predicted = predicted.reshape(-1)
            fidelity = evaluation.fidelity(teacher.task, wanted, predicted)["fidelity"]
            results.append({"levels": level, "fidelity": fidelity, "seconds": seconds,
                            "nodes_changed": (student.lookahead_ or {}).get("nodes_changed", 0)})
    finally:
        tree.LOOKAHEAD_LEVELS = shipped
    return results


def table(records: list[dict]) -> None:
    """Mean held-out change against CART's tree per (k, margin) and depth: runs up / down."""
    if "levels" in records[0]:
        levels_table(records)
        return
    print("| roots | margin | " + " | ".join(f"depth {d}" for d in sorted({r['depth'] for r in records})) + " |")
    print("|---:|---:|" + "---|" * len({r["depth"] for r in records}))
    for k in (3, 5, 8):
        for margin in (0.0, 0.01, 0.02, 0.03):
            by_depth = defaultdict(list)
            for r in records:
                cart, tried = r["candidates"][0], r["candidates"][:k]
                best = min(tried, key=lambda c: c["loss"])
                shipped = best if best["loss"] < (1 - margin) * cart["loss"] else cart
                by_depth[r["depth"]].append(shipped["fidelity"] - cart["fidelity"])
            cells = [f"{np.mean(v):+.4f} ({sum(x > 0 for x in v)} up, {sum(x < 0 for x in v)} down)"
                     for _, v in sorted(by_depth.items())]
            print(f"| {k} | {margin:.0%} | " + " | ".join(cells) + " |")


def levels_table(records: list[dict]) -> None:
    """Mean held-out change of each number of lookahead levels against the first, per depth: runs up /
    down, and the fit's time as a multiple of the first's."""
    depths = sorted({r["depth"] for r in records})
    print("| levels | " + " | ".join(f"depth {d}" for d in depths) + " | fit time (× the first) |")
    print("|---:|" + "---|" * len(depths) + "---:|")
    for i, level in enumerate(v["levels"] for v in records[0]["levels"]):
        cells = []
        for depth in depths:
            change = np.array([r["levels"][i]["fidelity"] - r["levels"][0]["fidelity"]
                               for r in records if r["depth"] == depth])
            cells.append(f"{change.mean():+.4f} ({(change > 0).sum()} up, {(change < 0).sum()} down)")
        ratios = [r["levels"][i]["seconds"] / r["levels"][0]["seconds"] for r in records]
        print(f"| {level} | " + " | ".join(cells) + f" | {np.mean(ratios):.2f} |")


if __name__ == "__main__":
    main()
