"""Few-shot trial: does a student grown from prototypes + synthetic rows beat one on the prototypes alone?

For each classification dataset and seed: 3,000 training rows and 5,000 held-out rows, a 300-tree
random forest teacher (min_samples_leaf=2) on the training rows, the training rows condensed to K
prototypes per class, then the held-out fidelity (student class == teacher class) of a depth-6 tree
student trained on

* ``protos``: the prototypes alone, labelled with the teacher's soft targets;
* ``fewshot``: the prototypes (weight 1) plus rows from :func:`synthesize_around_prototypes`.

    OMP_NUM_THREADS=1 python bench/fewshot_trial.py --seeds 0,1 --per-class 1,5,10

``--cuts`` hands the generator the forest's split thresholds per raw numeric column (read here from
the fitted trees; in the library another module supplies them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tabcompress.methods.condense import condense  # noqa: E402
from tabcompress.methods.fewshot import synthesize_around_prototypes  # noqa: E402
from tabcompress.schema import Schema  # noqa: E402
from tabcompress.students import make_student  # noqa: E402
from tabcompress.teachers import Teacher  # noqa: E402
from tabcompress.teachers.labeling import label_rows  # noqa: E402

# scikit-learn warns when a forest predicts inside label_rows's threads; the answers are unaffected.
warnings.filterwarnings("ignore", message=".*sklearn.utils.parallel.delayed.*")

DATASETS = ("magic", "adult", "letter", "bank_marketing", "covertype_75k", "credit_default")
DATA_DIR = Path("/work/shared/datasets")


def split(y: pd.Series, train_rows: int, test_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=test_rows, random_state=seed, stratify=y)
    train, _ = train_test_split(rest, train_size=train_rows, random_state=seed, stratify=y.iloc[rest])
    return np.sort(train), np.sort(test)


def build_teacher(X: pd.DataFrame, y: pd.Series, seed: int) -> Teacher:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    forest = RandomForestClassifier(n_estimators=300, min_samples_leaf=2, n_jobs=1, random_state=seed)
    text = [c for c in X.columns if X[c].dtype == object]
    model = forest
    if text:
        encode = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text)],
                                   remainder="passthrough", sparse_threshold=0.0)
        model = Pipeline([("encode", encode), ("rf", forest)])
    return Teacher.from_model(model.fit(X, y))


def forest_cuts(teacher: Teacher, schema: Schema) -> dict[str, np.ndarray]:
    """Split thresholds of every tree, per raw numeric column (passthrough columns of a Pipeline)."""
    from sklearn.pipeline import Pipeline

    model = teacher.model
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if isinstance(model, Pipeline):
        names = [str(n).split("__", 1)[-1] for n in model[:-1].get_feature_names_out()]
    else:
        names = list(teacher.feature_names or schema.names)
    found: dict[int, list[np.ndarray]] = {}
    for tree in final.estimators_:
        t = tree.tree_
        split_nodes = t.feature >= 0
        for f in np.unique(t.feature[split_nodes]):
            found.setdefault(int(f), []).append(t.threshold[split_nodes & (t.feature == f)])
    numeric = set(schema.numeric)
    return {names[f]: np.unique(np.concatenate(v)) for f, v in found.items() if names[f] in numeric}


def fidelity(student, teacher_class: np.ndarray, X: pd.DataFrame) -> float:
    return float(np.mean(student.predict(X) == teacher_class))


def run(name: str, seed: int, args: argparse.Namespace) -> list[dict]:
    frame = pd.read_csv(DATA_DIR / f"{name}.csv")
    X, y = frame.drop(columns="target"), frame["target"]
    train, test = split(y, args.train_rows, args.test_rows, seed)
    Xtr, ytr = X.iloc[train].reset_index(drop=True), y.iloc[train].reset_index(drop=True)
    Xte = X.iloc[test].reset_index(drop=True)
    start = time.time()
    teacher = build_teacher(Xtr, ytr, seed)
    schema = Schema.infer(Xtr)
    categorical = schema.categorical
    teacher_test = teacher.predict(Xte)
    cuts = forest_cuts(teacher, schema) if args.cuts else None
    rows = []
    for k in args.per_class:
        P = condense(Xtr, ytr, per_class=k, schema=schema, method=args.method, seed=seed)[schema.names]
        TP = label_rows(teacher, P)
        protos = make_student("tree", max_depth=6, random_state=seed).fit(P, TP, classes=teacher.classes_,
                                                                        categorical=categorical)
        t0 = time.time()
        few = synthesize_around_prototypes(teacher, P, schema, args.n_rows, cuts=cuts, confidence=args.confidence,
                                           boundary_share=args.boundary_share, change_share=args.change_share,
                                           floor=args.floor, random_state=seed)
        gen_s = time.time() - t0
        weight = few.weight if args.weights else np.ones(len(few.X))
        Xs = pd.concat([P, few.X], ignore_index=True)
        Ts = np.vstack([TP, few.T])
        ws = np.concatenate([np.ones(len(P)), weight])
        student = make_student("tree", max_depth=6, random_state=seed).fit(Xs, Ts, classes=teacher.classes_,
                                                                         categorical=categorical, sample_weight=ws)
        row = {"dataset": name, "seed": seed, "K": k, "n_protos": len(P),
               "protos": fidelity(protos, teacher_test, Xte), "fewshot": fidelity(student, teacher_test, Xte),
               "rows": len(few.X), "boundary": few.info["boundary_rows"], "candidates": few.info["candidates"],
               "proximity": few.info["mean_proximity"], "gen_s": round(gen_s, 1)}
        rows.append(row)
        print(f"{name:15s} seed {seed} K={k:2d} protos {row['protos']:.3f} fewshot {row['fewshot']:.3f} "
              f"rows {row['rows']} boundary {row['boundary']} cand {row['candidates']} "
              f"prox {row['proximity']:.2f} gen {gen_s:.1f}s (total {time.time() - start:.0f}s)", flush=True)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS), type=lambda s: s.split(","))
    parser.add_argument("--seeds", default="0,1", type=lambda s: [int(v) for v in s.split(",")])
    parser.add_argument("--per-class", default="1,5,10", type=lambda s: [int(v) for v in s.split(",")])
    parser.add_argument("--train-rows", type=int, default=3000)
    parser.add_argument("--test-rows", type=int, default=5000)
    parser.add_argument("--n-rows", type=int, default=20000)
    parser.add_argument("--method", default="kmeans", choices=("kmeans", "herding"))
    parser.add_argument("--confidence", type=float, default=0.6)
    parser.add_argument("--boundary-share", type=float, default=0.25)
    parser.add_argument("--change-share", type=float, default=0.3)
    parser.add_argument("--floor", type=float, default=0.2)
    parser.add_argument("--cuts", action="store_true", help="give the generator the forest's split thresholds")
    parser.add_argument("--no-weights", dest="weights", action="store_false", help="weigh every row 1")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = [row for name in args.datasets for seed in args.seeds for row in run(name, seed, args)]
    table = pd.DataFrame(rows)
    summary = table.groupby(["dataset", "K"])[["protos", "fewshot"]].mean()
    summary["gain"] = summary["fewshot"] - summary["protos"]
    summary["wins"] = (table.assign(win=table["fewshot"] > table["protos"])
                       .groupby(["dataset", "K"])["win"].sum().astype(int))
    print(summary.round(3).to_string())
    if args.out:
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
