"""make bench: tabcompress side by side with the published recipes, on the same held-out real rows.

For each dataset, seed, teacher and student, in one process:

* B0     the student on the real training rows with their true labels;
* B1     the student on the real training rows with the teacher's probabilities (values, regression);
* B2     GAN-TSC (Liu, Fusi & Mackey 2018): CTGAN at the package's default settings (300 epochs,
         batch 500), 9× the training rows, added to the real rows, teacher probabilities;
* B3     MUNGE (Bucilă, Caruana & Niculescu-Mizil 2006): 10× the training rows plus the real ones,
         teacher probabilities;
* tabcompress  the library's defaults, through ``tabcompress.run.modes.train_student`` — the code
         ``tabcompress distill`` runs between the hold-out and the evaluation;
* oracle the student fitted on the teacher's labels of the held-out rows themselves: what the
         student's capacity allows, not a method.

Each generator is fitted once per dataset and seed and reused across teachers and students. Results
go to ``bench/results/<name>.json``, rewritten after every dataset and seed so a long run that is
stopped keeps what it measured; ``bench/render.py`` turns the file into BENCHMARKS.md and plots.

    python bench/run.py                          # the full matrix (see --help for the knobs)
    python bench/run.py --quick --datasets tests/data/magic_1200.csv --out /tmp/q
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import summary as summary_mod  # noqa: E402

from tabcompress import Settings, Teacher, evaluation  # noqa: E402
from tabcompress.generators import CTGANGenerator, MUNGEGenerator  # noqa: E402
from tabcompress.generators.cache import fit_generator  # noqa: E402
from tabcompress.generators.registry import build_generator, resolve_generator  # noqa: E402
from tabcompress.report import environment, to_json, versions  # noqa: E402
from tabcompress.run.modes import train_student  # noqa: E402
from tabcompress.schema import Schema  # noqa: E402
from tabcompress.students import make_student  # noqa: E402
from tabcompress.teachers.labeling import label_rows  # noqa: E402

DEFAULT_DATA_DIR = ROOT.parent / "shared" / "datasets"
ALL_DATASETS = ("adult", "magic", "letter", "bank_marketing", "covertype_75k", "credit_default",
                "california_housing", "house_16H")
METHODS = ("B0", "B1", "B2", "B3", "tabcompress", "oracle")
STUDENTS = {
    "tree4": {"student": "tree", "max_depth": 4},
    "tree8": {"student": "tree", "max_depth": 8},
    "mlp64x64": {"student": "mlp", "hidden": (64, 64)},
}
TEACHERS = ("rf", "xgb")
# The baselines and the oracle grow scikit-learn's greedy CART tree, as the published recipes do; the
# refinement of a grown tree's splits (TreeStudent's refine_passes) is tabcompress's own.
BASELINE_TREE_OPTIONS = {"refine_passes": 0}
# Integer-coded categorical columns, declared as a user would with --categorical. Text columns are
# categorical without being named.
KNOWN_CATEGORICAL = {
    "adult": ("workclass", "marital-status", "occupation", "relationship", "race", "sex", "native-country"),
    "credit_default": ("SEX", "EDUCATION", "MARRIAGE"),
}


# -- measuring ----------------------------------------------------------------------------------

class PeakRSS:
    """Peak resident memory of this process while a stage runs, sampled every few milliseconds.

    Absolute process RSS (the data, the teachers and everything else held count too): it is what a
    user's machine must have free for that stage.
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self._peak = self._current = self.read()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    @staticmethod
    def read() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # not Linux: the lifetime peak is the best available
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self.read())

    @contextmanager
    def stage(self, record: dict[str, Any], key: str) -> Iterator[None]:
        """Time the block and note its peak RSS: ``record[key] = {"s": ..., "peak_rss_mib": ...}``."""
        self._peak = self.read()
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - start
            peak = max(self._peak, self.read())
            record[key] = {"s": round(seconds, 3), "peak_rss_mib": round(peak / 2**20, 1)}


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- data and teachers --------------------------------------------------------------------------

def resolve_dataset(spec: str, data_dir: Path) -> tuple[str, Path]:
    path = Path(spec)
    if path.suffix == ".csv":
        if not path.is_file():
            raise SystemExit(f"bench: dataset file {spec} not found")
        return path.stem, path
    candidate = data_dir / f"{spec}.csv"
    if not candidate.is_file():
        raise SystemExit(f"bench: dataset {spec!r}: {candidate} not found (give a CSV path or --data-dir)")
    return spec, candidate


def is_classification(y: pd.Series) -> bool:
    if y.dtype == object or isinstance(y.dtype, pd.CategoricalDtype):
        return True
    values = y.dropna().to_numpy(dtype=float)
    return bool(np.all(values == np.round(values))) and y.nunique() <= 50


def split(X: pd.DataFrame, y: pd.Series, classify: bool, train_rows: int, test_rows: int,
          seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random train and test row indices (stratified by class for classification)."""
    from sklearn.model_selection import train_test_split

    n = len(X)
    n_test = min(test_rows, n // 2)
    n_train = min(train_rows, n - n_test)
    idx = np.arange(n)
    strat = y.to_numpy() if classify and y.value_counts().min() >= 2 else None
    rest, test = train_test_split(idx, test_size=n_test, random_state=seed, stratify=strat)
    if n_train < len(rest):
        strat_rest = strat[rest] if strat is not None and pd.Series(strat[rest]).value_counts().min() >= 2 else None
        rest, _ = train_test_split(rest, train_size=n_train, random_state=seed, stratify=strat_rest)
    return np.sort(rest), np.sort(test)


def build_teacher(kind: str, classify: bool, text_columns: list[str], seed: int, quick: bool):
    """RandomForest (300 trees) or XGBoost (400 trees, depth 6); a Pipeline with a one-hot encoder in
    front when the data has text columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder
    from xgboost import XGBClassifier, XGBRegressor

    if kind == "rf":
        cls = RandomForestClassifier if classify else RandomForestRegressor
        model = cls(n_estimators=30 if quick else 300, n_jobs=-1, random_state=seed)
    elif kind == "xgb":
        cls = XGBClassifier if classify else XGBRegressor
        model = cls(n_estimators=40 if quick else 400, max_depth=6, tree_method="hist", random_state=seed)
    else:
        raise SystemExit(f"bench: unknown teacher {kind!r}; choose from {', '.join(TEACHERS)}")
    if not text_columns:
        return model
    encode = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text_columns)],
                               remainder="passthrough", sparse_threshold=0.0)
    return Pipeline([("encode", encode), (kind, model)])


@dataclass
class Split:
    """One dataset's rows for one seed, as every bench script splits them."""

    frame: pd.DataFrame
    y: pd.Series  # the whole target, classes coded 0..k-1
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    schema: Schema
    classify: bool
    text_columns: list[str]


def load_split(name: str, path: Path, seed: int, train_rows: int = 3000, test_rows: int = 5000,
               target: str = "target") -> Split:
    """Read ``path``, code a classification target as 0..k-1 (which every teacher, XGBoost included,
    accepts), and split it (stratified by class) into training and held-out rows for ``seed``."""
    frame = pd.read_csv(path)
    if target not in frame.columns:
        raise SystemExit(f"bench: {path} has no {target!r} column")
    X, y = frame.drop(columns=target), frame[target]
    classify = is_classification(y)
    if classify:
        y = pd.Series(pd.Categorical(y).codes, name=target)
    train_idx, test_idx = split(X, y, classify, train_rows, test_rows, seed)
    X_train = X.iloc[train_idx].reset_index(drop=True)
    return Split(frame=frame, y=y, X_train=X_train, X_test=X.iloc[test_idx].reset_index(drop=True),
                 y_train=y.iloc[train_idx].reset_index(drop=True), y_test=y.iloc[test_idx].reset_index(drop=True),
                 schema=Schema.infer(X_train, categorical=frozenset(KNOWN_CATEGORICAL.get(name, ()))),
                 classify=classify, text_columns=[c for c in X.columns if X[c].dtype == object])


# -- one dataset and seed -----------------------------------------------------------------------

def run_dataset_seed(name: str, path: Path, seed: int, args: argparse.Namespace, meter: PeakRSS,
                     results: dict[str, Any]) -> None:
    data = load_split(name, path, seed, args.train_rows, args.test_rows, args.target)
    frame, classify, schema, text_columns = data.frame, data.classify, data.schema, data.text_columns
    X_train, X_test, y_train, y_test = data.X_train, data.X_test, data.y_train, data.y_test
    y = data.y
    results["datasets"].setdefault(name, {
        "path": str(path), "task": "classification" if classify else "regression", "rows": int(len(frame)),
        "features": int(X_train.shape[1]), "categorical": schema.categorical, "text_columns": text_columns,
        "classes": int(y.nunique()) if classify else None, "train_rows": int(len(X_train)),
        "test_rows": int(len(X_test)),
    })
    n = len(X_train)
    log(f"{name} seed {seed}: {n:,} training rows, {len(X_test):,} held-out rows")

    # -- generators: fitted once, reused for every teacher and student --------------------------
    shared: dict[str, Any] = {}
    # B2 keeps CTGAN's own recipe: every epoch, Gaussian mixtures fitted on all rows (no early stop,
    # no subsampled preprocessing); only the torch thread count is ours, the same as tabcompress's.
    # Only the generators of the methods asked for are fitted (a tabcompress-only run skips B2's
    # minutes of CTGAN).
    generated: dict[str, pd.DataFrame] = {}
    gen_records: dict[str, Any] = {}
    if "B2" in args.methods:
        b2 = CTGANGenerator(epochs=args.b2_epochs, batch_size=500, max_rows=args.b2_max_rows,
                            transformer_rows=None, early_stop=False)
        with meter.stage(shared, "B2_generator_fit"):
            b2.fit(X_train, schema, random_state=seed)
        with meter.stage(shared, "B2_generate"):
            generated["B2"] = b2.sample(int(round(args.b2_ratio * n)), random_state=seed + 1)
        log(f"  B2 CTGAN ({args.b2_epochs} epochs, {b2.n_fit_rows_:,} rows): {shared['B2_generator_fit']['s']:.1f} s")
        gen_records["B2"] = {"fit_rows": int(b2.n_fit_rows_), "epochs": args.b2_epochs,
                             "synthetic_rows": int(len(generated["B2"])), **_stage_pair(shared, "B2")}
    if "B3" in args.methods:
        munge = MUNGEGenerator(p=args.munge_p, s=args.munge_s)
        with meter.stage(shared, "B3_generator_fit"):
            munge.fit(X_train, schema, random_state=seed)
        with meter.stage(shared, "B3_generate"):
            generated["B3"] = munge.sample(int(round(args.munge_ratio * n)), random_state=seed + 1)
        gen_records["B3"] = {"fit_rows": int(munge.n_fit_rows_), "p": args.munge_p, "s": args.munge_s,
                             "synthetic_rows": int(len(generated["B3"])), **_stage_pair(shared, "B3")}
    # tabcompress's generator depends on the student (``--generator auto``): each one it picks is
    # fitted once per dataset and seed, as the library would, without the cache.
    tc_gens: dict[str, Any] = {}

    def tabcompress_generator(config: Settings):
        name = resolve_generator(config, schema)
        if name != "none" and name not in tc_gens:
            key = f"tabcompress_generator_fit:{name}"
            with meter.stage(shared, key):
                gen, _ = fit_generator(build_generator(name, config, device="cpu"), X_train, schema,
                                       random_state=seed, cache=None)
            tc_gens[name] = gen
            log(f"  tabcompress {name}: {shared[key]['s']:.1f} s")
        return tc_gens.get(name)

    if "tabcompress" in args.methods:
        for student_name in args.students:
            tabcompress_generator(tabcompress_config(args, seed, student_name))
    results["generators"].append({
        "dataset": name, "seed": seed,
        **gen_records,
        "tabcompress": {gname: {"fit_rows": int(gen.n_fit_rows_), **training_facts(gen),
                                "fit": shared[f"tabcompress_generator_fit:{gname}"]}
                        for gname, gen in tc_gens.items()},
    })

    for teacher_kind in args.teachers:
        t: dict[str, Any] = {}
        model = build_teacher(teacher_kind, classify, text_columns, seed, args.quick)
        with meter.stage(t, "teacher_fit"):
            model.fit(X_train, y_train)
        teacher = Teacher.from_model(model)
        with meter.stage(t, "label_real"):
            T_train = label_rows(teacher, X_train)
        T_test = label_rows(teacher, X_test)
        labels = {}
        for method, rows in generated.items():
            with meter.stage(t, f"{method}_label"):
                labels[method] = label_rows(teacher, rows)
        teacher_pred = teacher.classes_[np.argmax(T_test, axis=1)] if classify else T_test
        results["teachers"].append({
            "dataset": name, "seed": seed, "teacher": teacher_kind, "type": teacher.kind,
            "serialized_bytes": evaluation.serialized_bytes(model), **teacher.complexity(),
            **{f"target_{k}": v for k, v in evaluation.against_target(teacher.task, y_test.to_numpy(),
                                                                         teacher_pred).items()},
            "timings": t,
        })
        log(f"  teacher {teacher_kind}: fitted in {t['teacher_fit']['s']:.1f} s")
        classes = teacher.classes_ if classify else None
        if classify:
            hard = (y_train.to_numpy()[:, None] == teacher.classes_[None, :]).astype(np.float64)
        else:
            hard = y_train.to_numpy(dtype=np.float64)

        for student_name in args.students:
            spec = STUDENTS[student_name]
            options = {k: v for k, v in spec.items() if k != "student"}
            inputs = {
                "B0": (X_train, hard),
                "B1": (X_train, T_train),
                **{m: (pd.concat([X_train, rows], ignore_index=True), np.concatenate([T_train, labels[m]]))
                   for m, rows in generated.items()},
                "oracle": (X_test, T_test),
            }
            for method in args.methods:
                timings: dict[str, Any] = {}
                if method == "tabcompress":
                    config = tabcompress_config(args, seed, student_name)
                    gen = tabcompress_generator(config)
                    with meter.stage(timings, "train_student"):
                        trained = train_student(teacher, X_train, T_train, schema, config, generator=gen)
                    student = trained.student
                    timings.update({k: {"s": v} for k, v in trained.timings_s.items()})
                    if gen is not None:
                        timings["generator_fit"] = shared[f"tabcompress_generator_fit:{gen.name}"]
                    timings["label_real"] = t["label_real"]
                    synthetic = trained.n_synthetic
                else:
                    rows, targets = inputs[method]
                    student = make_student(spec["student"], random_state=seed, **options,
                                           **({"device": "cpu"} if spec["student"] == "mlp" else BASELINE_TREE_OPTIONS))
                    with meter.stage(timings, "student_fit"):
                        student.fit(rows, targets, classes=classes, categorical=schema.categorical)
                    if method in ("B1", "B2", "B3"):
                        timings["label_real"] = t["label_real"]
                    if method in ("B2", "B3"):
                        timings["generator_fit"] = shared[f"{method}_generator_fit"]
                        timings["generate"] = shared[f"{method}_generate"]
                        timings["label_synthetic"] = t[f"{method}_label"]
                    synthetic = len(rows) - len(X_train) if method in ("B2", "B3") else 0
                pred = student.predict(X_test)
                scores = {**evaluation.fidelity(teacher.task, teacher_pred, pred),
                          **{f"target_{k}": v for k, v in evaluation.against_target(
                              teacher.task, y_test.to_numpy(), pred).items()}}
                results["runs"].append({
                    "dataset": name, "seed": seed, "teacher": teacher_kind, "student": student_name,
                    "method": method, **scores,
                    "serialized_bytes": evaluation.serialized_bytes(student), **student.complexity(),
                    "real_rows": int(len(X_test) if method == "oracle" else len(X_train)),
                    "synthetic_rows": int(synthetic),
                    "end_to_end_s": end_to_end(timings, method),
                    "peak_rss_mib": max((v.get("peak_rss_mib") or 0) for v in timings.values()) or None,
                    "timings": timings,
                })
            done = [r for r in results["runs"] if r["dataset"] == name and r["seed"] == seed
                    and r["teacher"] == teacher_kind and r["student"] == student_name]
            log(f"    {student_name}: " + "  ".join(f"{r['method']} {r['fidelity']:.4f}" for r in done))


def _stage_pair(shared: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {"fit": shared[f"{prefix}_generator_fit"], "generate": shared[f"{prefix}_generate"]}


def end_to_end(timings: dict[str, Any], method: str) -> float | None:
    """Seconds from real rows to a fitted student: every stage the method needs, shared ones included."""
    if method == "oracle":
        return None
    if method == "tabcompress":
        keys = ("label_real", "generator_fit", "train_student")
    else:
        keys = ("label_real", "generator_fit", "generate", "label_synthetic", "student_fit")
    return round(sum(timings[k]["s"] for k in keys if k in timings), 3)


def tabcompress_config(args: argparse.Namespace, seed: int, student_name: str) -> Settings:
    """The library's defaults, with the student under test, the settings of ``--set`` and, for
    --quick, few epochs."""
    options = {**STUDENTS[student_name], **args.set}
    if args.tabcompress_epochs is not None:
        options["epochs"] = args.tabcompress_epochs
    return Settings.from_options(seed=seed, baseline=False, device="cpu", cache=False, **options)


def training_facts(generator) -> dict[str, Any]:
    """Epochs asked and run, and why training stopped, for each part of ``generator`` that trains."""
    return {part.name: part.training_facts() for part in generator.parts if part.trains}


def parse_setting(text: str) -> tuple[str, Any]:
    """``--set max_depth=4`` → ("max_depth", 4): the value read as TOML (true, 4, 0.5, "text")."""
    import tomllib

    key, _, value = text.partition("=")
    try:
        return key.strip().replace("-", "_"), tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key.strip().replace("-", "_"), value.strip()


# -- the whole run ------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def names(choices):
        def parse(text: str) -> list[str]:
            items = [t.strip() for t in text.split(",") if t.strip()]
            bad = [t for t in items if choices and t not in choices]
            if bad:
                raise argparse.ArgumentTypeError(f"unknown {', '.join(bad)}; choose from {', '.join(choices)}")
            return items
        return parse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", type=names(()), default=None,
                   help="comma-separated dataset names (in --data-dir) or CSV paths; default: all 8")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p.add_argument("--target", default="target")
    p.add_argument("--teachers", type=names(TEACHERS), default=list(TEACHERS))
    p.add_argument("--students", type=names(tuple(STUDENTS)), default=list(STUDENTS))
    p.add_argument("--methods", type=names(METHODS), default=list(METHODS))
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--train-rows", type=int, default=3000,
                   help="real training rows per dataset (random, stratified); the teacher is fitted on them")
    p.add_argument("--test-rows", type=int, default=5000, help="held-out real rows per dataset")
    p.add_argument("--b2-epochs", type=int, default=300, help="B2's CTGAN epochs (package default: 300)")
    p.add_argument("--b2-max-rows", type=int, default=None, help="fit B2's CTGAN on at most this many rows")
    p.add_argument("--b2-ratio", type=float, default=9.0)
    p.add_argument("--munge-p", type=float, default=0.5)
    p.add_argument("--munge-s", type=float, default=1.0)
    p.add_argument("--munge-ratio", type=float, default=10.0)
    p.add_argument("--tabcompress-epochs", type=int, default=None,
                   help="override the default's CTGAN epochs (only --quick does)")
    p.add_argument("--set", type=parse_setting, action="append", default=[], metavar="SETTING=VALUE",
                   help="a setting of tabcompress's cell other than its default (repeatable), e.g. refine=true")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: first dataset, one seed, small slices, few epochs and trees")
    p.add_argument("--name", default=None, help="results name (default: full, or quick with --quick)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    args.set = dict(args.set)
    if args.datasets is None:
        args.datasets = list(ALL_DATASETS)
    if args.quick:
        args.datasets = args.datasets[:1]
        args.seeds = args.seeds[:1]
        args.train_rows = min(args.train_rows, 600)
        args.test_rows = min(args.test_rows, 300)
        args.b2_epochs = min(args.b2_epochs, 3)
        args.tabcompress_epochs = 3 if args.tabcompress_epochs is None else args.tabcompress_epochs
    args.name = args.name or ("quick" if args.quick else "full")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    datasets = [resolve_dataset(d, args.data_dir) for d in args.datasets]
    args.out.mkdir(parents=True, exist_ok=True)
    out_file = args.out / f"{args.name}.json"
    import torch

    results: dict[str, Any] = {
        "name": args.name,
        "command": "python bench/run.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished": None,
        "machine": {**environment("cpu"), "processor": platform.processor(), "torch_threads": torch.get_num_threads(),
                    "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "versions": versions(),
        "settings": {
            "datasets": [n for n, _ in datasets], "seeds": args.seeds, "teachers": args.teachers,
            "students": {s: STUDENTS[s] for s in args.students}, "methods": args.methods,
            "train_rows": args.train_rows, "test_rows": args.test_rows, "quick": args.quick,
            "B2": {"epochs": args.b2_epochs, "batch_size": 500, "max_rows": args.b2_max_rows, "ratio": args.b2_ratio},
            "B3": {"p": args.munge_p, "s": args.munge_s, "ratio": args.munge_ratio},
            "tabcompress": {k: (list(v) if isinstance(v, tuple) else v)
                            for k, v in tabcompress_config(args, 0, args.students[0]).options().items()
                            if k not in ("seed", "student", "max_depth", "hidden", "baseline")},
            "known_categorical": {k: list(v) for k, v in KNOWN_CATEGORICAL.items()},
        },
        "datasets": {}, "generators": [], "teachers": [], "runs": [],
    }
    meter = PeakRSS()
    started = time.perf_counter()
    # Seeds outermost: a run stopped part-way still has every dataset for the seeds it finished.
    for seed in args.seeds:
        for name, path in datasets:
            run_dataset_seed(name, path, seed, args, meter, results)
            results["elapsed_s"] = round(time.perf_counter() - started, 1)
            write_json(out_file, results)
    results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["summary"] = summary_mod.summarise(results)
    write_json(out_file, results)
    log(f"wrote {out_file} ({results['elapsed_s']:.0f} s)")
    return 0


def write_json(path: Path, results: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(to_json(results))
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
