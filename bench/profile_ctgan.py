"""Where does a CTGAN fit's time go, and does a quicker fit lose fidelity?

For each dataset (default: adult and magic from ../shared/datasets) this script holds out 20% of the
rows (seed 0, as bench/run.py does), fits ``CTGANGenerator`` on the rest (or ``--rows`` of it) under one
or more named configurations, and reports per stage:

* ``gmm_s``       ctgan's DataTransformer fit (one Bayesian Gaussian mixture per continuous column),
* ``transform_s`` transforming every fit row with it,
* ``epoch_s``     median seconds per epoch (and the epochs run, with the stop reason),
* ``fit_s``       the whole ``fit``, and ``est_fit_s``: preprocessing + ``--extrapolate`` × the median
                  epoch, for configurations timed on a few epochs only (clearly an extrapolation),
* ``sample_s``    sampling as many rows as are held out,
* fidelity of those sampled rows against the held-out real rows: ``ks`` (mean per-column
  Kolmogorov-Smirnov statistic over numeric columns), ``tvd`` (mean total-variation distance over
  categorical columns), ``corr`` (mean absolute difference of the numeric columns' correlation
  matrices) and ``detect_auc`` (cross-validated AUC of a gradient-boosting classifier telling
  synthetic from real rows; 0.5 = indistinguishable). ``floor`` rows give the same measures for real
  training rows against the held-out rows: the best any generator can do at that sample size.

Configurations are ``NAME:key=value,...`` with ``CTGANGenerator`` keyword arguments (``none`` for
None); ``before`` and ``after`` are predefined. Runs are interleaved (repeat → dataset → configuration)
so that a machine whose load changes during the run treats each configuration alike; the 1-minute load
average, ``torch.get_num_threads()`` and ``os.cpu_count()`` are recorded before and after every run.

    .venv/bin/python bench/profile_ctgan.py --epochs 5 --repeats 2 --out bench/results/ctgan_profile.json
    .venv/bin/python bench/profile_ctgan.py --dataset magic --config t1:threads=1 --config t2:threads=2 --epochs 5
    .venv/bin/python bench/profile_ctgan.py --config after:early_stop=true --epochs 300 --checkpoints 25,50,100,200,300
    .venv/bin/python bench/profile_ctgan.py --dataset adult --max-rows 20000 --config plain:adam=plain \
        --config foreach:adam=foreach --config fused:adam=fused --epochs 6 --repeats 3 --no-quality
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tabcompress.generators.ctgan import CTGANGenerator  # noqa: E402
from tabcompress.schema import Schema  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"

try:  # the benchmark's list of integer-coded categorical columns (adult's), one source of truth
    from run import KNOWN_CATEGORICAL  # noqa: E402
except Exception:  # pragma: no cover - run.py moved or broke: fall back to the same facts
    KNOWN_CATEGORICAL = {"adult": ("workclass", "marital-status", "occupation", "relationship", "race",
                                   "sex", "native-country")}


def presets() -> dict[str, dict[str, Any]]:
    import torch

    return {
        # what CTGANGenerator did before: torch's default threads, mixtures fitted on every row,
        # the transform in joblib worker processes, all epochs
        "before": {"threads": torch.get_num_threads(), "transformer_rows": None},
        # the new defaults (threads=None, transformer_rows=5000), early stopping on
        "after": {"early_stop": True},
    }


def parse_config(text: str, known: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    name, _, body = text.partition(":")
    options = dict(known.get(name, {}))
    for item in filter(None, body.split(",")):
        key, _, raw = item.partition("=")
        options[key.strip()] = parse_value(raw.strip())
    return name, options


def parse_value(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


# -- data -----------------------------------------------------------------------------------------

def load(name_or_path: str, target: str, rows: int | None,
         data_dir: Path = DATASETS) -> tuple[str, pd.DataFrame, pd.DataFrame, Schema]:
    from sklearn.model_selection import train_test_split

    path = Path(name_or_path)
    if not path.suffix:
        path = data_dir / f"{name_or_path}.csv"
    name = path.stem
    frame = pd.read_csv(path)
    X = frame.drop(columns=[target]) if target in frame.columns else frame
    train, test = train_test_split(np.arange(len(X)), test_size=0.2, random_state=0)
    X_train, X_test = X.iloc[np.sort(train)].reset_index(drop=True), X.iloc[np.sort(test)].reset_index(drop=True)
    if rows is not None and rows < len(X_train):
        X_train = X_train.sample(rows, random_state=0).sort_index().reset_index(drop=True)
    schema = Schema.infer(X_train, categorical=frozenset(KNOWN_CATEGORICAL.get(name, ())))
    return name, X_train, X_test, schema


# -- fidelity -------------------------------------------------------------------------------------

def fidelity(real: pd.DataFrame, synth: pd.DataFrame, schema: Schema, *, detect: bool = True,
             seed: int = 0) -> dict[str, float | None]:
    """Marginal and joint distances between ``synth`` and ``real`` rows (lower is better)."""
    from scipy.stats import ks_2samp

    ks, tvd, numeric = [], [], []
    for spec in schema.columns:
        r, s = real[spec.name], synth[spec.name]
        if spec.is_categorical:
            p = r.value_counts(normalize=True, dropna=False)
            q = s.value_counts(normalize=True, dropna=False)
            tvd.append(0.5 * float(p.sub(q, fill_value=0).abs().sum()))
        else:
            ks.append(float(ks_2samp(r.dropna(), s.dropna()).statistic))
            numeric.append(spec.name)
    corr = None
    if len(numeric) > 1:
        a = real[numeric].astype(float).corr().to_numpy()
        b = synth[numeric].astype(float).corr().to_numpy()
        upper = np.triu_indices(len(numeric), k=1)
        corr = float(np.nanmean(np.abs(a[upper] - b[upper])))
    out = {"ks": float(np.mean(ks)) if ks else None, "tvd": float(np.mean(tvd)) if tvd else None,
           "corr": corr, "ks_by_column": dict(zip(numeric, [round(v, 4) for v in ks]))}
    if detect:
        out["detect_auc"] = detection_auc(real, synth, schema, seed)
    return out


def detection_auc(real: pd.DataFrame, synth: pd.DataFrame, schema: Schema, seed: int) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_score
    from threadpoolctl import threadpool_limits

    n = min(len(real), len(synth), 5000)
    both = pd.concat([real.sample(n, random_state=seed), synth.sample(n, random_state=seed)], ignore_index=True)
    for spec in schema.columns:  # categories as codes, which the booster treats as categorical
        if spec.is_categorical:
            both[spec.name] = pd.Categorical(both[spec.name], categories=spec.categories).codes
    mask = [spec.is_categorical for spec in schema.columns]
    y = np.r_[np.zeros(n), np.ones(n)]
    model = HistGradientBoostingClassifier(max_iter=100, categorical_features=mask if any(mask) else None,
                                           random_state=seed)
    # One OpenMP thread: on a busy 2-core machine two spin-waiting threads made this take minutes.
    with threadpool_limits(1):
        return float(np.mean(cross_val_score(model, both.astype(float), y, cv=3, scoring="roc_auc")))


# -- one run --------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    import torch

    return {"load1": round(os.getloadavg()[0], 2), "torch_threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count()}


def run_one(name: str, X_train: pd.DataFrame, X_test: pd.DataFrame, schema: Schema, config: str,
            options: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    # adam=plain|foreach|fused: how CTGAN's Adam updates the weights, to time what each saves (_adam)
    adam = options.get("adam")
    gen = CTGANGenerator(**{k: v for k, v in options.items() if k != "adam"})
    checkpoints = sorted(set(args.checkpoints))
    curve: list[dict[str, Any]] = []

    ticks: list[float] = []
    t0 = [0.0]

    def progress(done: int, total: int) -> None:
        ticks.append(round(time.perf_counter() - t0[0], 3))
        # Score fidelity while training goes on: CTGAN's sample keeps its random state apart from the
        # training stream, so this does not change what is learnt (only the wall time, which is why
        # fit_s excludes the scoring time).
        scored = False
        if done in checkpoints and done not in {c["epoch"] for c in curve} and gen.model_ is not None:
            begun = time.perf_counter()
            rows = gen.schema_.conform(gen._sample(len(X_test), args.seed + 1))
            curve.append({"epoch": done, **fidelity(X_test, rows, schema, detect=args.detect),
                          "_s": time.perf_counter() - begun})
            scored = True
        if args.out and (scored or not checkpoints):  # a run stopped part-way keeps what it measured
            losses = gen.model_.loss_values
            partial = {"dataset": name, "config": config, "options": options, "epochs_so_far": done,
                       "seconds_at_epoch_end": ticks, "curve": curve, "machine": machine(),
                       "loss": {k: [round(float(v), 4) for v in losses[col]] for k, col in
                                (("generator", "Generator Loss"), ("discriminator", "Discriminator Loss"))}}
            args.out.with_suffix(".partial.json").write_text(json.dumps(partial, indent=1))

    before = machine()
    begun, cpu = time.perf_counter(), time.process_time()
    t0[0] = begun
    with _adam(adam):
        gen.fit(X_train, schema, random_state=args.seed, progress=progress)
    cpu = time.process_time() - cpu  # this process's CPU seconds (all its threads), scoring included
    wall = time.perf_counter() - begun - sum(c.pop("_s") for c in curve)
    after_fit = machine()
    begun = time.perf_counter()
    synth = gen.sample(len(X_test), random_state=args.seed + 1)
    sample_s = time.perf_counter() - begun
    t = gen.timings_
    epochs = t["epoch_s"]
    prep = t["encode_s"] + t["transformer_fit_s"] + t["transform_s"] + t["setup_s"]
    record = {
        "dataset": name, "config": config, "options": options, "fit_rows": int(gen.n_fit_rows_),
        "columns": int(X_train.shape[1]), "gmm_rows": int(gen.transformer_fit_rows_),
        "threads": gen.resolved_threads,
        "gmm_s": round(t["transformer_fit_s"], 3), "transform_s": round(t["transform_s"], 3),
        "setup_s": round(t["setup_s"] + t["encode_s"], 3), "prep_s": round(prep, 3),
        "epoch_s": round(statistics.median(epochs), 4), "epoch_s_mean": round(statistics.fmean(epochs), 4),
        "epoch_s_all": [round(e, 4) for e in epochs],
        "epochs_run": gen.epochs_run_, "stop_reason": gen.stop_reason_,
        "fit_s": round(wall, 2), "fit_cpu_s": round(cpu, 2), "est_fit_s": round(prep + args.extrapolate * statistics.median(epochs), 1),
        "sample_s": round(sample_s, 3),
        "machine_before": before, "machine_after_fit": after_fit,
        "loss": {"generator": [round(float(v), 4) for v in gen.loss_history_["Generator Loss"]],
                 "discriminator": [round(float(v), 4) for v in gen.loss_history_["Discriminator Loss"]]},
        "curve": curve,
    }
    if args.quality:
        record["fidelity"] = fidelity(X_test, synth, schema, detect=args.detect)
    record["machine_after"] = machine()
    return record


@contextlib.contextmanager
def _adam(kind: str | None):
    """CTGAN's optimisers built as ``kind`` says: ``plain`` (torch's default on CPU, one weight tensor at a
    time), ``foreach`` (vectorised over the tensors) or ``fused`` (one kernel); None: as ctgan builds them.
    ``fit`` calls ``optim.Adam`` from its module, so that name is swapped for the call."""
    import functools
    import types

    import ctgan.synthesizers.ctgan as ctgan_module
    import torch

    if kind not in (None, "plain", "foreach", "fused"):
        raise SystemExit(f"profile_ctgan: adam={kind!r}: expected plain, foreach or fused")
    saved = ctgan_module.optim
    if kind in ("foreach", "fused"):
        ctgan_module.optim = types.SimpleNamespace(Adam=functools.partial(torch.optim.Adam, **{kind: True}))
    try:
        yield
    finally:
        ctgan_module.optim = saved


def floor(name: str, X_train: pd.DataFrame, X_test: pd.DataFrame, schema: Schema, args) -> dict[str, Any]:
    real = X_train.sample(min(len(X_test), len(X_train)), random_state=args.seed).reset_index(drop=True)
    return {"dataset": name, "config": "floor (real rows)", **fidelity(X_test, real, schema, detect=args.detect)}


# -- output ---------------------------------------------------------------------------------------

COLUMNS = ("dataset", "config", "fit_rows", "gmm_rows", "threads", "gmm_s", "transform_s", "epoch_s",
           "epochs_run", "stop_reason", "fit_s", "fit_cpu_s", "est_fit_s", "sample_s", "ks", "tvd", "corr", "detect_auc",
           "load")


def row_of(record: dict[str, Any]) -> dict[str, Any]:
    fid = record.get("fidelity", record)
    load = (f"{record['machine_before']['load1']:.1f}→{record['machine_after']['load1']:.1f}"
            if "machine_before" in record else "")
    out = {k: record.get(k, "") for k in COLUMNS}
    out.update({k: fid.get(k) for k in ("ks", "tvd", "corr", "detect_auc")}, load=load)
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    cells = [[fmt(r[c]) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", action="append", help="name under ../shared/datasets or a CSV path "
                   "(repeatable; default: adult and magic)")
    p.add_argument("--data-dir", type=Path, default=DATASETS, help="where dataset names are looked up "
                   "(default: ../shared/datasets)")
    p.add_argument("--target", default="target", help="column dropped before fitting")
    p.add_argument("--rows", type=int, default=None, help="training rows (default: all 80%% not held out)")
    p.add_argument("--config", action="append", help="NAME:key=value,... (repeatable; default: before, after)")
    p.add_argument("--epochs", type=int, default=5, help="epochs for every configuration that does not set them")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--threads", type=parse_value, default="unset", help="threads for every configuration that "
                   "does not set them")
    p.add_argument("--transformer-rows", type=parse_value, default="unset")
    p.add_argument("--max-rows", type=int, default=None)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--extrapolate", type=int, default=300, help="epochs for est_fit_s (default 300, the "
                   "package's default)")
    p.add_argument("--checkpoints", type=lambda s: [int(x) for x in s.split(",") if x], default=[],
                   help="epochs at which to score fidelity during training, e.g. 25,50,100")
    p.add_argument("--no-quality", dest="quality", action="store_false", help="skip the fidelity scores")
    p.add_argument("--no-detect", dest="detect", action="store_false", help="skip the detection AUC")
    p.add_argument("--out", type=Path, help="write every record as JSON here")
    args = p.parse_args(argv)

    known = presets()
    configs = [parse_config(c, known) for c in (args.config or ["before", "after"])]
    for _, options in configs:
        options.setdefault("epochs", args.epochs)
        options.setdefault("batch_size", args.batch_size)
        options.setdefault("max_rows", args.max_rows)
        if args.threads != "unset":
            options.setdefault("threads", args.threads)
        if args.transformer_rows != "unset":
            options.setdefault("transformer_rows", args.transformer_rows)
    data = [load(d, args.target, args.rows, args.data_dir) for d in (args.dataset or ["adult", "magic"])]
    results: dict[str, Any] = {"argv": sys.argv[1:], "machine_start": machine(), "records": [], "floors": []}
    print(f"machine: {results['machine_start']}", flush=True)
    rows = []
    # A tiny fit first, so that torch's one-off start-up cost does not land on the first configuration.
    _, X_warm, _, warm_schema = data[0]
    CTGANGenerator(epochs=1, batch_size=100).fit(X_warm.iloc[:300], warm_schema, random_state=0).sample(10)
    if args.quality:
        for name, X_train, X_test, schema in data:
            results["floors"].append(floor(name, X_train, X_test, schema, args))
            rows.append(row_of(results["floors"][-1]))
    for repeat in range(args.repeats):
        for name, X_train, X_test, schema in data:
            for config, options in configs:
                record = run_one(name, X_train, X_test, schema, config, options, args)
                record["repeat"] = repeat
                results["records"].append(record)
                rows.append(row_of(record))
                print(f"[{repeat}] {name} {config}: fit {record['fit_s']} s, {record['epochs_run']} epochs "
                      f"({record['stop_reason']}), load {row_of(record)['load']}", file=sys.stderr, flush=True)
                if args.out:  # written as it goes, so a long run stopped part-way keeps what it measured
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(json.dumps(results, indent=1))
    results["machine_end"] = machine()
    print_table(rows)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
