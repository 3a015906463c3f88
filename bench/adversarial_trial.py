"""Side trial: does KDGAN-style adversarial training (MLPStudent ``adversarial=True``) raise fidelity?

Per dataset and seed: 3,000 training rows and 5,000 held-out real rows (stratified by class); a
300-tree random forest teacher fitted on the training rows; 20× MUNGE rows made from them and
labelled with the teacher's probabilities; then the same 64×64 MLP student fitted on real + synthetic
rows, once plain and once per adversarial weight λ. Fidelity is the share of held-out rows where the
student's class is the teacher's. One line per (dataset, seed) on stdout, a mean per setting at the end.

    OMP_NUM_THREADS=1 python bench/adversarial_trial.py --datasets magic,adult --seeds 0,1 --weights 0.1,0.5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from tabcompress.generators import make_generator
from tabcompress.schema import Schema
from tabcompress.students import MLPStudent

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"
# Integer-coded categorical columns (see the datasets' README); declared as a user would.
CATEGORICAL = {"adult": ("workclass", "education", "marital-status", "occupation", "relationship", "race",
                         "sex", "native-country")}


def split(y: np.ndarray, seed: int, n_train: int = 3000, n_test: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    rest, test = train_test_split(np.arange(len(y)), test_size=n_test, random_state=seed, stratify=y)
    train, _ = train_test_split(rest, train_size=n_train, random_state=seed, stratify=y[rest])
    return train, test


def run(name: str, seed: int, weights: list[float], ratio: int, max_epochs: int) -> dict[str, float]:
    frame = pd.read_csv(DATA_DIR / f"{name}.csv")
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    train, test = split(y, seed)
    X_train, X_test = X.iloc[train].reset_index(drop=True), X.iloc[test].reset_index(drop=True)
    teacher = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1).fit(X_train, y[train])
    schema = Schema.infer(X_train, categorical=frozenset(CATEGORICAL.get(name, ())))
    rows = make_generator("munge").fit(X_train, schema, random_state=seed).sample(ratio * len(X_train),
                                                                                  random_state=seed + 1)
    X_fit = pd.concat([X_train, rows], ignore_index=True)
    targets = teacher.predict_proba(X_fit)
    teacher_test = teacher.predict(X_test)

    scores: dict[str, float] = {}
    for weight in [None, *weights]:
        label = "plain" if weight is None else f"adv λ={weight:g}"
        extra = {} if weight is None else {"adversarial": True, "adversarial_weight": weight}
        started = time.perf_counter()
        student = MLPStudent(hidden=(64, 64), max_epochs=max_epochs, device="cpu", random_state=seed, **extra)
        student.fit(X_fit, targets, classes=teacher.classes_, categorical=schema.categorical)
        scores[label] = float(np.mean(student.predict(X_test) == teacher_test))
        facts = student.adversarial_ or {}
        detail = (f" τ_final={facts['temperature_final']:.3f} D_acc={facts['discriminator_accuracy']:.3f}"
                  if facts else "")
        print(f"  {name} seed {seed} {label:12s} fidelity {scores[label]:.4f}  epochs {student.n_epochs_:3d} "
              f"({student.stop_reason_}) {time.perf_counter() - started:5.1f}s{detail}", flush=True)
    return scores


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="magic,adult")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--weights", default="0.1,0.5", help="adversarial weights λ to try, comma-separated")
    p.add_argument("--ratio", type=int, default=20, help="MUNGE rows per real training row")
    p.add_argument("--max-epochs", type=int, default=200)
    a = p.parse_args()
    weights = [float(w) for w in a.weights.split(",") if w]
    table: dict[str, list[float]] = {}
    for name in a.datasets.split(","):
        for seed in map(int, a.seeds.split(",")):
            scores = run(name, seed, weights, a.ratio, a.max_epochs)
            print(name, seed, {k: round(v, 4) for k, v in scores.items()}, flush=True)
            for label, value in scores.items():
                table.setdefault(f"{name} {label}", []).append(value)
    for key, values in table.items():
        print(f"mean {key:22s} {np.mean(values):.4f}  (n={len(values)})")


if __name__ == "__main__":
    main()
