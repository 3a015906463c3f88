"""Why CTGAN's rows do not help students: the quality of a generator's rows, where they fall on the
teacher's decision surface, and what they do to tree students (issue 17, item 1).

Same splits as the benchmark (3,000 training rows, 5,000 held out). Each generator configuration is
fitted on the training rows and samples ``--ratio`` rows per training row (the product's default, 20).
Its rows are judged against the held-out real rows, and the training rows get the same measures, so
each figure has a floor (what real rows from the same distribution score):

* marginals: the mean Kolmogorov-Smirnov statistic over numeric columns, the mean total-variation
  distance over categorical ones;
* pairwise dependence: the mean absolute difference of the Spearman correlation matrices (categorical
  columns as their codes);
* detection: the cross-validated ROC AUC of a classifier (scikit-learn's histogram gradient boosting)
  that tells the rows from held-out real rows (0.5: it cannot);
* the teacher's view (per teacher): its mean probability vector on the rows against the held-out rows'
  (total variation; for regression, the shift of the mean and the ratio of the spreads of its
  values), and the share of rows near its decision boundary (the top two classes within 0.2);
* students: CART trees of depth 4 and 8 (the benchmark's reference learner, lookahead off) trained on
  the real rows plus 1, 5 and ``--ratio`` synthetic rows per real row, against the real rows alone
  (B1), fidelity on the held-out rows. ``--weights`` adds trees on the same rows weighed (``balanced``:
  the synthetic rows together as heavy as the real ones; ``ratio``: each by a classifier's odds that it
  is real) or filtered (of ``--reject-pool`` times as many rows, unweighted: ``reject``, those that
  classifier finds likeliest to be real; ``uncertain``, those nearest the teacher's decision boundary).

Configurations: ``munge``; ``ctgan`` (as a run builds it: at most 100 epochs, stopping early);
``ctgan300`` (the package's 300 epochs, no early stop: B2's GAN); ``ctgan_b100`` (batches of 100 rows
instead of 500: five times the optimiser steps per epoch); ``ctgan_cls`` (CTGAN fitted with the
teacher's class as one more discrete column and sampled with the classes balanced, as GAN-TSC's AC-GAN
sampled; classification only; fitted once per teacher).

    python bench/ctgan_diagnosis.py --datasets magic,adult,credit_default,california_housing \\
        --configs munge,ctgan,ctgan300,ctgan_cls --out bench/results/ctgan_diagnosis.jsonl
    python bench/ctgan_diagnosis.py --table bench/results/ctgan_diagnosis.jsonl

``--realism`` prints only the score a run computes on its rows (:mod:`tabcompress.evaluation.realism`,
against the rows the generator was fitted on), for generators that need no GAN fit as well:

    python bench/ctgan_diagnosis.py --realism --teachers rf,lgbm --configs munge,munge+forest,forest,copula \
        --datasets magic,adult,credit_default,california_housing,covertype_75k,letter,bank_marketing,house_16H
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.model_selection import cross_val_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
from baselines import teacher_predictions  # noqa: E402

from tabcompress import evaluation  # noqa: E402
from tabcompress.config import Settings  # noqa: E402
from tabcompress.errors import InputError  # noqa: E402
from tabcompress.evaluation.realism import as_numbers, detection_auc, detector  # noqa: E402
from tabcompress.generators.ctgan import CTGANGenerator  # noqa: E402
from tabcompress.generators.registry import build_generator  # noqa: E402
from tabcompress.schema import Schema  # noqa: E402
from tabcompress.students import make_student  # noqa: E402
from tabcompress.teachers.labeling import label_rows  # noqa: E402

CLASS_COLUMN = "__teacher_class"
#: CTGAN configurations by name: the settings that differ from a run's
CTGAN_CONFIGS = {"ctgan300": {"epochs": 300, "early_stop": False}, "ctgan_b100": {"batch_size": 100}}
RATIOS = (1, 5)
DEPTHS = (4, 8)
DETECTION_ROWS = 5000
BOUNDARY = 0.2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="magic,adult,credit_default,california_housing")
    p.add_argument("--data-dir", type=Path, default=bench.DEFAULT_DATA_DIR)
    p.add_argument("--seeds", default="0")
    p.add_argument("--teachers", default="rf,xgb")
    p.add_argument("--configs", default="munge,ctgan,ctgan300,ctgan_cls")
    p.add_argument("--ratio", type=int, default=20, help="synthetic rows per training row")
    p.add_argument("--weights", default="none",
                   help="how the synthetic rows are weighed in the trees' fits: none, balanced, ratio, "
                        "reject, uncertain (comma-separated)")
    p.add_argument("--reject-pool", type=int, default=4,
                   help="with --weights reject or uncertain: sample this many times the rows and keep a "
                        "share 1/N of them (default 4)")
    p.add_argument("--rows-cache", type=Path, help="keep each configuration's rows here, and reuse them")
    p.add_argument("--out", type=Path, help="append one JSON line per (dataset, seed, config, teacher) here")
    p.add_argument("--table", nargs="+", type=Path, help="print the tables of these JSON-lines files and stop")
    p.add_argument("--realism", action="store_true",
                   help="only the score a run computes: per teacher and configuration, the detection AUC "
                        "(tabcompress.evaluation.realism) of the rows against the training rows they came from")
    a = p.parse_args()
    if a.table:
        table([json.loads(line) for path in a.table for line in path.read_text().splitlines() if line])
        return
    sink = a.out.open("a") if a.out else None
    for seed in map(int, a.seeds.split(",")):
        for spec in a.datasets.split(","):
            (realism if a.realism else run_dataset)(spec, seed, a, sink)


def realism(spec: str, seed: int, a: argparse.Namespace, sink) -> None:
    """The detection AUC a run computes (against its fit rows) for each configuration's rows."""
    name, path = bench.resolve_dataset(spec, a.data_dir)
    data = bench.load_split(name, path, seed)
    for kind in a.teachers.split(","):
        teacher = bench.trial_teacher(kind, data, seed)
        for config in a.configs.split(","):
            try:
                _, sample = fit_config(config, data, seed, teacher)
            except InputError as err:  # trees whose rows cannot be read
                print(f"{name} {kind} {config}: {err}", file=sys.stderr)
                continue
            rows = sample(a.ratio * len(data.X_train), seed + 1)
            record = {"dataset": name, "seed": seed, "teacher": kind, "config": config,
                      "detection_auc": detection_auc(data.X_train, rows, data.schema, seed=seed)}
            print(json.dumps(record), flush=True)
            if sink:
                sink.write(json.dumps(record) + "\n")
                sink.flush()


def quality(rows: pd.DataFrame, real: pd.DataFrame, schema: Schema, seed: int) -> dict[str, float]:
    """Marginals, pairwise dependence and a detection score of ``rows`` against ``real``."""
    ks, tv = [], []
    for spec in schema.columns:
        if spec.is_categorical:
            a = pd.Series(spec.codes(rows[spec.name])).value_counts(normalize=True)
            b = pd.Series(spec.codes(real[spec.name])).value_counts(normalize=True)
            tv.append(0.5 * float(a.sub(b, fill_value=0.0).abs().sum()))
        else:
            x, y = rows[spec.name].to_numpy(np.float64), real[spec.name].to_numpy(np.float64)
            x, y = x[~np.isnan(x)], y[~np.isnan(y)]
            if len(x) and len(y):
                ks.append(float(ks_2samp(x, y).statistic))
    A, B = as_numbers(rows, schema), as_numbers(real, schema)
    with np.errstate(invalid="ignore", divide="ignore"):
        ca = pd.DataFrame(A).corr(method="spearman").to_numpy()
        cb = pd.DataFrame(B).corr(method="spearman").to_numpy()
    upper = np.triu_indices(len(schema.names), k=1)
    pair = float(np.nanmean(np.abs(ca[upper] - cb[upper]))) if len(upper[0]) else float("nan")
    rng = np.random.default_rng(seed)
    n = min(DETECTION_ROWS, len(A), len(B))
    X = np.vstack([A[rng.choice(len(A), n, replace=False)], B[rng.choice(len(B), n, replace=False)]])
    y = np.r_[np.ones(n), np.zeros(n)]
    auc = float(cross_val_score(detector(schema, seed), X, y, cv=3, scoring="roc_auc").mean())
    return {"marginal_ks": float(np.mean(ks)) if ks else None, "marginal_tv": float(np.mean(tv)) if tv else None,
            "pair_spearman": pair, "detection_auc": auc}


def density_ratio(rows: pd.DataFrame, real: pd.DataFrame, schema: Schema, seed: int) -> np.ndarray:
    """Per synthetic row, how much likelier real rows are there than synthetic ones: p / (1 - p) of a
    classifier of real against synthetic rows (Bickel, Brückner & Scheffer 2007), fitted on the real rows
    and as many synthetic ones, cross-fitted in two halves; clipped to [1e-3, 1e3]."""
    A, B = as_numbers(rows, schema), as_numbers(real, schema)
    rng = np.random.default_rng(seed)
    halves = np.array_split(rng.permutation(len(A)), 2)
    out = np.empty(len(A))
    for i, half in enumerate(halves):
        train = rng.choice(halves[1 - i], min(len(B), len(halves[1 - i])), replace=False)
        fitted = detector(schema, seed).fit(np.vstack([A[train], B]), np.r_[np.zeros(len(train)), np.ones(len(B))])
        p = fitted.predict_proba(A[half])[:, 1]
        out[half] = np.clip(p / np.maximum(1 - p, 1e-12), 1e-3, 1e3)
    return out


def class_gap(T: np.ndarray) -> np.ndarray:
    """Per row, the gap between the teacher's two likeliest classes' probabilities (small: near its
    decision boundary)."""
    top2 = np.sort(T, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def teacher_view(T_rows: np.ndarray, T_real: np.ndarray, classify: bool) -> dict[str, float]:
    """Where the rows fall on the teacher's surface, against the real rows."""
    if classify:
        return {"class_tv": 0.5 * float(np.abs(T_rows.mean(0) - T_real.mean(0)).sum()),
                "near_boundary": float(np.mean(class_gap(T_rows) < BOUNDARY)),
                "near_boundary_real": float(np.mean(class_gap(T_real) < BOUNDARY))}
    t, r = T_rows.ravel(), T_real.ravel()
    return {"value_shift_sd": float((t.mean() - r.mean()) / r.std()), "value_spread_ratio": float(t.std() / r.std())}


def fit_config(config: str, data, seed: int, teacher=None):
    """A fitted generator for ``config``, and its sampler: n → rows in the data's columns."""
    X, schema = data.X_train, data.schema
    if config == "ctgan_cls":
        classes = teacher.classes_
        labels = classes[np.argmax(label_rows(teacher, X), axis=1)].astype(str)
        X_aug = X.assign(**{CLASS_COLUMN: labels})
        schema_aug = Schema.infer(X_aug, categorical=set(schema.categorical) | {CLASS_COLUMN})
        gen = CTGANGenerator(early_stop=True).fit(X_aug, schema_aug, random_state=seed)
        spec = schema_aug[CLASS_COLUMN]

        def sample(n: int, random_state: int) -> pd.DataFrame:
            # as many rows of each class the teacher gives (CTGAN's condition vector), the class column dropped
            gen.model_.set_random_state(random_state)
            k = len(spec.categories)
            parts = [gen.model_.sample(n // k + (i < n % k), condition_column=CLASS_COLUMN, condition_value=i)
                     for i in range(k)]
            out = gen._decode(pd.concat(parts, ignore_index=True), n)
            return schema.conform(out.drop(columns=CLASS_COLUMN))  # the dtypes a generator's rows have

        return gen, sample
    settings = Settings().replace(**CTGAN_CONFIGS[config]) if config in CTGAN_CONFIGS else Settings()
    gen = build_generator("ctgan" if config in CTGAN_CONFIGS else config, settings, teacher=teacher).fit(
        X, schema, random_state=seed)
    return gen, lambda n, random_state: gen.sample(n, random_state=random_state)


def run_dataset(spec: str, seed: int, a: argparse.Namespace, sink) -> None:
    name, path = bench.resolve_dataset(spec, a.data_dir)
    data = bench.load_split(name, path, seed)
    X_train, X_test, schema, classify = data.X_train, data.X_test, data.schema, data.classify
    floor = quality(X_train, X_test, schema, seed)
    teachers = {kind: bench.trial_teacher(kind, data, seed) for kind in a.teachers.split(",")}
    labelled = {kind: (label_rows(t, X_train), label_rows(t, X_test), teacher_predictions(t, X_test))
                for kind, t in teachers.items()}
    weighings = a.weights.split(",")
    # reject and uncertain keep a share of a pool --reject-pool times as large, unweighted
    pool = a.reject_pool if {"reject", "uncertain"} & set(weighings) else 1
    n_rows = a.ratio * len(X_train) * pool
    fit_kwargs = {"categorical": schema.categorical}
    real_only: dict[tuple[str, int], float] = {}
    for config in a.configs.split(","):
        if config == "ctgan_cls" and not classify:
            continue
        per_teacher = config == "ctgan_cls"
        shared = None
        for kind, teacher in teachers.items():
            T_train, T_test, teacher_pred = labelled[kind]
            if shared is None or per_teacher:
                kept = a.rows_cache / f"{name}_{seed}_{config}{'_' + kind if per_teacher else ''}_{n_rows}.pkl" \
                    if a.rows_cache else None
                if kept is not None and kept.exists():
                    rows, fit_s, facts = pd.read_pickle(kept)
                else:
                    start = time.perf_counter()
                    gen, sample = fit_config(config, data, seed, teacher)
                    fit_s = time.perf_counter() - start
                    rows = sample(n_rows, seed + 1)
                    facts = {k: v for p in gen.parts if p.trains for k, v in p.training_facts().items()
                             if k in ("epochs_run", "stop_reason")}
                    if kept is not None:
                        kept.parent.mkdir(parents=True, exist_ok=True)
                        pd.to_pickle((rows, fit_s, facts), kept)
                shared = (rows, fit_s, facts, quality(rows, X_test, schema, seed),
                          density_ratio(rows, X_train, schema, seed)
                          if {"ratio", "reject"} & set(weighings) else None)
            rows, fit_s, facts, rows_quality, ratio_w = shared
            T_rows = label_rows(teacher, rows)
            gap = class_gap(T_rows) if classify and "uncertain" in weighings else None
            record = {"dataset": name, "seed": seed, "config": config, "teacher": kind, "fit_s": round(fit_s, 1),
                      **facts, **rows_quality, **{f"floor_{k}": v for k, v in floor.items()},
                      **teacher_view(T_rows, T_test, classify)}
            kwargs = {**fit_kwargs, "classes": teacher.classes_ if classify else None}
            for depth in DEPTHS:
                def fidelity_on(X: pd.DataFrame, T: np.ndarray, weight: np.ndarray | None = None,
                                depth: int = depth, teacher=teacher, teacher_pred=teacher_pred, kwargs=kwargs) -> float:
                    student = make_student("tree", random_state=seed, max_depth=depth, refine_passes=0,
                                           lookahead=1).fit(X, T, sample_weight=weight, **kwargs)
                    scored = evaluation.fidelity(teacher.task, teacher_pred, student.predict(X_test))
                    return round(scored["fidelity"], 4)
                if (kind, depth) not in real_only:
                    real_only[(kind, depth)] = fidelity_on(X_train, T_train)
                record[f"tree{depth}_real"] = real_only[(kind, depth)]
                for ratio in (*RATIOS, a.ratio):
                    n, n_real = ratio * len(X_train), len(X_train)
                    X, T = pd.concat([X_train, rows.iloc[:n]], ignore_index=True), np.concatenate([T_train, T_rows[:n]])
                    for weighing in weighings:
                        suffix = "" if weighing == "none" else f"_{weighing}"
                        w = None
                        if weighing in ("reject", "uncertain"):  # of pool × n rows, unweighted, the n that
                            # the detector finds likeliest to be real, or that lie nearest the teacher's
                            # boundary (the smallest gap between its two likeliest classes; classification only)
                            if weighing == "uncertain" and not classify:
                                continue
                            preferred = ratio_w[:pool * n] if weighing == "reject" else -gap[:pool * n]
                            kept = np.sort(np.argsort(-preferred, kind="stable")[:n])
                            record[f"tree{depth}_x{ratio}{suffix}"] = fidelity_on(
                                pd.concat([X_train, rows.iloc[kept]], ignore_index=True),
                                np.concatenate([T_train, T_rows[kept]]))
                            continue
                        if weighing == "balanced":  # the synthetic rows weigh as much as the real ones together
                            w = np.r_[np.ones(n_real), np.full(n, n_real / n)]
                        elif weighing == "ratio":
                            w = np.r_[np.ones(n_real), ratio_w[:n] * n_real / ratio_w[:n].sum()]
                        record[f"tree{depth}_x{ratio}{suffix}"] = fidelity_on(X, T, w)
            print(json.dumps(record), flush=True)
            if sink:
                sink.write(json.dumps(record) + "\n")
                sink.flush()


def table(records: list[dict]) -> None:
    """Per configuration: row quality (means over datasets and seeds), the teacher's view and the trees."""
    frame = pd.DataFrame(records)
    quality_cols = ["marginal_ks", "marginal_tv", "pair_spearman", "detection_auc"]
    floors = frame.drop_duplicates(["dataset", "seed"])[[f"floor_{c}" for c in quality_cols]].mean()
    first = frame.drop_duplicates(["dataset", "seed", "config"])
    print("row quality against held-out real rows (mean over datasets; floor = the real training rows):")
    q = first.groupby("config")[quality_cols + ["fit_s"]].mean()
    q.loc["(floor: real rows)"] = [*floors.to_numpy(), np.nan]
    print(q.to_string(float_format=lambda v: f"{v:.3f}"))
    print("\nper dataset, detection AUC:")
    print(first.pivot_table(index="dataset", columns="config", values="detection_auc").to_string(
        float_format=lambda v: f"{v:.3f}"))
    tree_cols = [c for c in frame.columns if c.startswith("tree")]
    view = [c for c in ("class_tv", "near_boundary", "near_boundary_real", "value_shift_sd", "value_spread_ratio")
            if c in frame]
    print("\nteacher's view and tree fidelity (mean over datasets, seeds and teachers):")
    print(frame.groupby("config")[view + tree_cols].mean().to_string(float_format=lambda v: f"{v:.4f}"))
    for depth in DEPTHS:
        ratio = max(_ratio(c) for c in tree_cols if c.startswith(f"tree{depth}_x"))
        wins = (frame[f"tree{depth}_x{ratio}"] >= frame[f"tree{depth}_real"]).groupby(frame["config"]).agg(
            ["sum", "size"])
        print(f"\ntree{depth}: cells where ×{ratio} rows ≥ real rows alone:",
              ", ".join(f"{c} {int(r['sum'])}/{int(r['size'])}" for c, r in wins.iterrows()))
    print("\nper cell, tree8 at the largest ratio minus real rows alone:")
    ratio = max(_ratio(c) for c in tree_cols if c.startswith("tree8_x"))
    frame["gain8"] = frame[f"tree8_x{ratio}"] - frame["tree8_real"]
    print(frame.pivot_table(index=["dataset", "teacher"], columns="config", values="gain8").to_string(
        float_format=lambda v: f"{v:+.4f}"))


def _ratio(column: str) -> int:
    """``tree8_x20`` or ``tree8_x20_ratio`` (weighed or filtered) → 20."""
    return int(column.split("_x")[1].split("_")[0])


if __name__ == "__main__":
    main()
