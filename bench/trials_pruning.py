"""Trial behind the pruned sizes a search tries (docs/measurements.md, "Pruned trees"): does a tree
pruned on its cost-complexity path, the pruning chosen on validation rows, agree with the teacher as
well as the tree as grown, and how much smaller is it?

The benchmark's 3,000-row splits and teachers. 20 % of the training rows are validation rows; the tree
student (depth 8 by default) learns the teacher's probabilities (or values) on the other rows plus 20×
as many MUNGE rows, as a default run does. The search's pruned sizes of it (``TreeStudent.more_sizes``:
about a half, a quarter and an eighth of its leaves) are fitted on the same rows; the one most faithful
on the validation rows (ties to the smaller) is compared with the grown tree on the held-out rows. One
line per cell to stdout, then the means.

    python bench/trials_pruning.py --datasets magic,adult,california_housing,letter,house_16H,bank_marketing,credit_default,covertype_75k --teachers rf,xgb --seeds 0
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402

from tabcompress import evaluation  # noqa: E402
from tabcompress.generators import make_generator  # noqa: E402
from tabcompress.students import TreeStudent  # noqa: E402
from tabcompress.teachers.labeling import label_rows  # noqa: E402

RATIO = 20


def cell(name: str, path: Path, kind: str, seed: int, depth: int) -> dict:
    data = bench.load_split(name, path, seed)
    teacher = bench.trial_teacher(kind, data, seed)
    order = np.random.default_rng(seed).permutation(len(data.X_train))
    n_val = len(order) // 5
    X_val = data.X_train.iloc[order[:n_val]].reset_index(drop=True)
    X_fit = data.X_train.iloc[order[n_val:]].reset_index(drop=True)
    rows = make_generator("munge").fit(X_fit, data.schema, random_state=seed).sample(RATIO * len(X_fit),
                                                                                     random_state=seed + 1)
    X = pd.concat([X_fit, rows], ignore_index=True)
    T, T_val, T_test = (label_rows(teacher, frame) for frame in (X, X_val, data.X_test))
    reference = {"val": T_val, "test": T_test}
    if data.classify:
        reference = {k: teacher.classes_[np.argmax(v, axis=1)] for k, v in reference.items()}
    fit = {"classes": teacher.classes_ if data.classify else None, "categorical": data.schema.categorical}

    def scored(student: TreeStudent) -> dict:
        return {"val": evaluation.fidelity(teacher.task, reference["val"], student.predict(X_val))["fidelity"],
                "test": evaluation.fidelity(teacher.task, reference["test"], student.predict(data.X_test))["fidelity"],
                "leaves": student.complexity()["n_leaves"]}

    grown = TreeStudent(max_depth=depth, random_state=seed).fit(X, T, **fit)
    tried = [scored(grown)]
    for size in TreeStudent.more_sizes([({"max_depth": depth}, grown, 0, tried[0]["val"])], None):
        tried.append(scored(TreeStudent(max_depth=depth, ccp_alpha=size["ccp_alpha"], random_state=seed)
                            .fit(X, T, **fit)))
    chosen = max(tried[1:], key=lambda t: (t["val"], -t["leaves"]), default=tried[0])
    return {"dataset": name, "teacher": kind, "seed": seed, "grown": tried[0], "pruned": chosen,
            "shares": [t["leaves"] for t in tried]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="magic,adult,california_housing,letter")
    p.add_argument("--data-dir", type=Path, default=bench.DEFAULT_DATA_DIR)
    p.add_argument("--teachers", default="rf,xgb")
    p.add_argument("--seeds", default="0")
    p.add_argument("--max-depth", type=int, default=8)
    a = p.parse_args()
    out = []
    for seed in map(int, a.seeds.split(",")):
        for spec in a.datasets.split(","):
            name, path = bench.resolve_dataset(spec, a.data_dir)
            for kind in a.teachers.split(","):
                r = cell(name, path, kind, seed, a.max_depth)
                out.append(r)
                g, c = r["grown"], r["pruned"]
                print(f"{name:20s} {kind:4s} seed {seed}  grown {g['test']:.4f} ({g['leaves']} leaves)  "
                      f"pruned {c['test']:.4f} ({c['leaves']} leaves, {c['leaves'] / g['leaves']:.0%})  "
                      f"difference {c['test'] - g['test']:+.4f}", flush=True)
    diffs = [r["pruned"]["test"] - r["grown"]["test"] for r in out]
    shares = [r["pruned"]["leaves"] / r["grown"]["leaves"] for r in out]
    print(f"{len(out)} cells: held-out fidelity pruned minus grown, mean {statistics.fmean(diffs):+.4f}, "
          f"min {min(diffs):+.4f}, max {max(diffs):+.4f}; leaves kept, median {statistics.median(shares):.0%}, "
          f"range {min(shares):.0%}-{max(shares):.0%}")


if __name__ == "__main__":
    main()
