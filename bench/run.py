"""make bench: tabcompress side by side with the published recipes, on the same held-out real rows.

For each dataset, seed, teacher and student, in one process:

* B0     the student on the real training rows with their true labels;
* B1     the student on the real training rows with the teacher's probabilities (values, regression);
* B2     GAN-TSC (Liu, Fusi & Mackey 2018): CTGAN at the package's default settings (300 epochs,
         batch 500), 9× the training rows, added to the real rows, teacher probabilities;
* B3     MUNGE (Bucilă, Caruana & Niculescu-Mizil 2006): 10× the training rows plus the real ones,
         teacher probabilities;
* tabcompress  the library's defaults, through ``tabcompress.run.modes.train_student`` — the code
         ``tabcompress distill`` runs between the hold-out and the evaluation; with
         ``--validation-share``, choosing on that share of the held-out rows (``--validation-data``);
         with ``--candidates``, every student its search tried is scored on the held-out rows too (what
         another rule would have shipped);
* tabcompress-own  with ``--validation-share``: the same, choosing on its own training rows as a default
         run does, scored on the same rows (the paired comparison; the generator fit is shared);
* oracle the student fitted on the teacher's labels of the held-out rows themselves: what the
         student's capacity allows, not a method;
* B4     the teacher itself cut to the student's bytes: its first k boosting rounds (XGBoost) or k of
         its trees (RandomForest), the largest k whose pickled size is at most the tabcompress
         student's (``bench/baselines.py``);
* B5     the student's own family and size on the real training rows with their true labels (for the
         students of STUDENTS this is B0; the frontier needs it for every size the search tried);
* frontier  tabcompress's search over students (``--student auto``, student spec ``auto``): every
         candidate the search trained, scored on the held-out rows, the chosen one marked, each with B4
         at its bytes and B5 of its family and size. Opt-in (``--methods ...,frontier`` or
         ``--students ...,auto``); it needs a tabcompress whose ``train_student`` returns ``candidates``.

Two regimes: ``small`` (the default) trains on 3,000 random rows and holds out 5,000; ``full`` holds
out 20 % of each dataset's rows (stratified) and trains on the rest, at most ``--max-train-rows``.

Each generator is fitted once per dataset and seed and reused across teachers and students. Results
go to ``bench/results/<name>.json``, rewritten after every dataset and seed so a long run that is
stopped keeps what it measured; ``bench/render.py`` turns the file into BENCHMARKS.md and plots.

    python bench/run.py                          # the full matrix (see --help for the knobs)
    python bench/run.py --quick --datasets tests/data/magic_1200.csv --out /tmp/q
    python bench/run.py --regime full --students tree4,tree8,mlp64x64,gbdt,linear,auto \
        --methods B0,B1,B3,B4,B5,tabcompress,oracle,frontier --name frontier_full   # make bench-frontier
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import summary as summary_mod  # noqa: E402
from baselines import CutTeacher, baseline_student, params_key, score_predictions, true_targets  # noqa: E402

from tabcompress import Settings, Teacher, evaluation  # noqa: E402
from tabcompress.errors import SettingError  # noqa: E402
from tabcompress.evaluation.metrics import serialized_bytes  # noqa: E402
from tabcompress.generators import CTGANGenerator, MUNGEGenerator  # noqa: E402
from tabcompress.generators.cache import fit_generator  # noqa: E402
from tabcompress.generators.registry import GENERATORS, build_generator, generator_parts, resolve_generator  # noqa: E402
from tabcompress.report import environment, to_json, versions  # noqa: E402
from tabcompress.run import modes  # noqa: E402
from tabcompress.run.modes import train_student  # noqa: E402
from tabcompress.schema import Schema  # noqa: E402
from tabcompress.students import student_class, student_names  # noqa: E402
from tabcompress.teachers.labeling import label_rows  # noqa: E402

DEFAULT_DATA_DIR = ROOT.parent / "shared" / "datasets"
ALL_DATASETS = ("adult", "magic", "letter", "bank_marketing", "covertype_75k", "credit_default",
                "california_housing", "house_16H")
METHODS = ("B0", "B1", "B2", "B3", "B4", "B5", "tabcompress", "tabcompress-own", "oracle", "frontier")
DEFAULT_METHODS = ("B0", "B1", "B2", "B3", "B4", "B5", "tabcompress", "oracle")
STUDENTS = {
    "tree4": {"student": "tree", "max_depth": 4},
    "tree8": {"student": "tree", "max_depth": 8},
    "mlp64x64": {"student": "mlp", "hidden": (64, 64)},
    # boosted trees and a linear model: tabcompress's "gbdt" and "linear" students (asking for one that
    # this tabcompress does not register stops the run before any work, saying so). The gbdt's size is
    # spelled out (its defaults: 50 trees of depth 4), so that the spec says what the figures measure.
    "gbdt": {"student": "gbdt", "trees": 50, "max_depth": 4},
    "linear": {"student": "linear"},
    # tabcompress's search over students and sizes (--student auto): the frontier method's student
    "auto": {"student": "auto"},
}
DEFAULT_STUDENTS = ("tree4", "tree8", "mlp64x64")
FRONTIER = "frontier"
FRONTIER_STUDENT = "auto"
TEACHERS = ("rf", "xgb", "lgbm", "catboost")
REGIMES = ("small", "full")
#: --quick's most epochs for an MLP student (the library's: 200, with early stopping): a smoke test's
#: students need to train, not to converge, and the MLP cells were most of its time
QUICK_MLP_EPOCHS = 20
#: the full regime's held-out share of each dataset's rows
FULL_TEST_SHARE = 0.2
#: the small regime's rows per dataset and seed
SMALL_TRAIN_ROWS, SMALL_TEST_ROWS = 3000, 5000
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


def gnu_time(stderr: str) -> tuple[str, float, int]:
    """What ``/usr/bin/time -v`` wrote on ``stderr``: the wall time as printed, in seconds, and the peak
    resident set in KiB."""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", stderr).group(1)
    seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
    return wall, seconds, int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1))


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


def split(X: pd.DataFrame, y: pd.Series, classify: bool, train_rows: int | None, test_rows: int | float,
          seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random train and test row indices (stratified by class for classification).

    ``test_rows`` is a number of rows (at most half the data), or a share of the rows when below 1
    (the full regime's 0.2); the training rows are the rest, at most ``train_rows`` (None: all)."""
    from sklearn.model_selection import train_test_split

    n = len(X)
    n_test = test_rows if isinstance(test_rows, float) and test_rows < 1 else min(int(test_rows), n // 2)
    idx = np.arange(n)
    strat = y.to_numpy() if classify and y.value_counts().min() >= 2 else None
    rest, test = train_test_split(idx, test_size=n_test, random_state=seed, stratify=strat)
    n_train = len(rest) if train_rows is None else min(train_rows, len(rest))
    if n_train < len(rest):
        strat_rest = strat[rest] if strat is not None and pd.Series(strat[rest]).value_counts().min() >= 2 else None
        rest, _ = train_test_split(rest, train_size=n_train, random_state=seed, stratify=strat_rest)
    return np.sort(rest), np.sort(test)


def held_out_validation(X_test: pd.DataFrame, y_test: pd.Series, classify: bool, share: float,
                        seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """``share`` of the held-out rows (random, stratified by class, as :func:`split` holds rows out) as rows
    to choose on, and the rest to score on."""
    scored, chosen_on = split(X_test, y_test, classify, None, share, seed)
    return (X_test.iloc[chosen_on].reset_index(drop=True), X_test.iloc[scored].reset_index(drop=True),
            y_test.iloc[scored].reset_index(drop=True))


def regime_rows(regime: str, train_rows: int | None = None, test_rows: int | None = None,
                max_train_rows: int | None = None) -> tuple[int | None, int | float]:
    """``split``'s training cap and test size for a regime: ``small``, ``train_rows`` (3,000) and
    ``test_rows`` (5,000) rows; ``full``, 20 % of the rows held out and the rest trained on. Either way
    at most ``max_train_rows`` training rows."""
    if regime == "full":
        train, test = None, FULL_TEST_SHARE
    elif regime == "small":
        train = SMALL_TRAIN_ROWS if train_rows is None else train_rows
        test = SMALL_TEST_ROWS if test_rows is None else test_rows
    else:
        raise SystemExit(f"bench: unknown regime {regime!r}; choose from {', '.join(REGIMES)}")
    if max_train_rows is not None:
        train = max_train_rows if train is None else min(train, max_train_rows)
    return train, test


def build_teacher(kind: str, classify: bool, text_columns: list[str], seed: int, quick: bool):
    """RandomForest (300 trees) or XGBoost (400 trees, depth 6), with a Pipeline and a one-hot encoder in
    front when the data has text columns; LightGBM (400 rounds, its defaults otherwise) or CatBoost
    (400 rounds of depth 6), which take text columns natively as their users give them: LightGBM as
    pandas categoricals (:func:`fit_teacher`), CatBoost as ``cat_features``. Fit it with
    :func:`fit_teacher`."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rounds = 40 if quick else 400
    if kind == "rf":
        cls = RandomForestClassifier if classify else RandomForestRegressor
        model = cls(n_estimators=30 if quick else 300, n_jobs=-1, random_state=seed)
    elif kind == "xgb":
        from xgboost import XGBClassifier, XGBRegressor

        cls = XGBClassifier if classify else XGBRegressor
        model = cls(n_estimators=rounds, max_depth=6, tree_method="hist", random_state=seed)
    elif kind == "lgbm":
        from lightgbm import LGBMClassifier, LGBMRegressor

        cls = LGBMClassifier if classify else LGBMRegressor
        return cls(n_estimators=rounds, random_state=seed, verbose=-1)
    elif kind == "catboost":
        from catboost import CatBoostClassifier, CatBoostRegressor

        cls = CatBoostClassifier if classify else CatBoostRegressor
        return cls(iterations=rounds, depth=6, random_seed=seed, verbose=0, thread_count=-1,
                   cat_features=list(text_columns) or None, allow_writing_files=False)
    else:
        raise SystemExit(f"bench: unknown teacher {kind!r}; choose from {', '.join(TEACHERS)}")
    if not text_columns:
        return model
    encode = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text_columns)],
                               remainder="passthrough", sparse_threshold=0.0)
    return Pipeline([("encode", encode), (kind, model)])


def fit_teacher(model: Any, X: pd.DataFrame, y: pd.Series) -> Any:
    """Fit a teacher of :func:`build_teacher`: LightGBM gets the text columns as pandas categoricals;
    CatBoost, which refuses a missing categorical cell, gets them as text with "nan" there (what
    ``astype(str)`` writes, the usual way users make such columns acceptable to it)."""
    library = type(model).__module__.split(".")[0]
    text = [c for c in X.columns if X[c].dtype == object]
    if library == "lightgbm":
        X = X.assign(**{c: X[c].astype("category") for c in text})
    elif library == "catboost":
        X = X.assign(**{c: X[c].astype(str) for c in text})
    return model.fit(X, y)


def trial_teacher(kind: str, data: "Split", seed: int) -> Teacher:
    """The benchmark's teacher of ``kind`` fitted on ``data``'s training rows, as the side trials use it."""
    model = build_teacher(kind, data.classify, data.text_columns, seed, False)
    return Teacher.from_model(fit_teacher(model, data.X_train, data.y_train))


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


def load_split(name: str, path: Path, seed: int, train_rows: int | None = SMALL_TRAIN_ROWS,
               test_rows: int | None = SMALL_TEST_ROWS, target: str = "target", *, regime: str = "small",
               max_train_rows: int | None = None) -> Split:
    """Read ``path``, code a classification target as 0..k-1 (which every teacher, XGBoost included,
    accepts), and split it (stratified by class) into training and held-out rows for ``seed``: the
    ``regime``'s rows (:func:`regime_rows`)."""
    frame = pd.read_csv(path)
    if target not in frame.columns:
        raise SystemExit(f"bench: {path} has no {target!r} column")
    X, y = frame.drop(columns=target), frame[target]
    classify = is_classification(y)
    if classify:
        y = pd.Series(pd.Categorical(y).codes, name=target)
    n_train, n_test = regime_rows(regime, train_rows, test_rows, max_train_rows)
    train_idx, test_idx = split(X, y, classify, n_train, n_test, seed)
    X_train = X.iloc[train_idx].reset_index(drop=True)
    return Split(frame=frame, y=y, X_train=X_train, X_test=X.iloc[test_idx].reset_index(drop=True),
                 y_train=y.iloc[train_idx].reset_index(drop=True), y_test=y.iloc[test_idx].reset_index(drop=True),
                 schema=Schema.infer(X_train, categorical=frozenset(KNOWN_CATEGORICAL.get(name, ()))),
                 classify=classify, text_columns=[c for c in X.columns if X[c].dtype == object])


# -- one dataset and seed -----------------------------------------------------------------------

def cell_students(args: argparse.Namespace) -> list[str]:
    """The students of the per-student cells: every one asked for but the frontier's search."""
    return [s for s in args.students if s != FRONTIER_STUDENT]


def cell_methods(args: argparse.Namespace) -> list[str]:
    """The methods of a cell, in order, B4 last: it is cut to the size of a student the others trained."""
    methods = [m for m in args.methods if m != FRONTIER]
    return sorted(methods, key=lambda m: m == "B4")


def run_dataset_seed(name: str, path: Path, seed: int, args: argparse.Namespace, meter: PeakRSS,
                     results: dict[str, Any]) -> None:
    data = load_split(name, path, seed, args.train_rows, args.test_rows, args.target, regime=args.regime,
                      max_train_rows=args.max_train_rows)
    frame, classify, schema, text_columns = data.frame, data.classify, data.schema, data.text_columns
    X_train, X_test, y_train, y_test = data.X_train, data.X_test, data.y_train, data.y_test
    y = data.y
    X_chosen_on = None  # tabcompress's --validation-data: held-out rows no method is then scored on
    if args.validation_share:
        X_chosen_on, X_test, y_test = held_out_validation(X_test, y_test, classify, args.validation_share, seed)
    results["datasets"].setdefault(name, {
        "path": str(path), "task": "classification" if classify else "regression", "rows": int(len(frame)),
        "features": int(X_train.shape[1]), "categorical": schema.categorical, "text_columns": text_columns,
        "classes": int(y.nunique()) if classify else None, "train_rows": int(len(X_train)),
        "test_rows": int(len(X_test)), "regime": args.regime,
        "validation_rows": 0 if X_chosen_on is None else int(len(X_chosen_on)),
    })
    n = len(X_train)
    log(f"{name} seed {seed}: {n:,} training rows, {len(X_test):,} held-out rows ({args.regime} regime)")

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
    # tabcompress's generator depends on the student and the teacher (``--generator auto``): each one it
    # picks is fitted once per dataset and seed (and teacher, for one that reads the teacher's trees), as
    # the library would, without the cache. (The frontier's search fits its own generators inside
    # train_student.)
    tc_gens: dict[str, Any] = {}

    def tabcompress_generator(config: Settings, teacher: Teacher, teacher_kind: str) -> tuple[str | None, Any]:
        """The generator's key in ``tc_gens`` and the fitted generator; (None, None) for real rows only."""
        gname = resolve_generator(config, schema, teacher)
        if gname == "none":
            return None, None
        reads_teacher = any(GENERATORS.get(part).needs_teacher for part in generator_parts(gname))
        key = f"{gname}@{teacher_kind}" if reads_teacher else gname
        if key not in tc_gens:
            stage = f"tabcompress_generator_fit:{key}"
            with meter.stage(shared, stage):
                tc_gens[key], _ = fit_generator(build_generator(gname, config, device="cpu", teacher=teacher),
                                                X_train, schema, random_state=seed, cache=None)
            log(f"  tabcompress {key}: {shared[stage]['s']:.1f} s")
        return key, tc_gens[key]

    # -- students on the true labels (B0, B5): they do not depend on the teacher, so each family and
    # size is fitted once per dataset and seed and scored against each teacher ---------------------
    true_fits: dict[tuple, tuple[Any, dict[str, Any]]] = {}

    def fit_true_label(family: str, params: dict[str, Any], classes: np.ndarray | None,
                       rows: np.ndarray | None = None) -> tuple[Any, dict, bool]:
        """The student of ``family`` and ``params`` on the true labels of the training rows (of those
        numbered ``rows``, when given), its fit's timings, and whether an earlier cell had fitted it."""
        key = (params_key(family, params), None if classes is None else tuple(np.asarray(classes).tolist()),
               None if rows is None else hash(np.asarray(rows).tobytes()))
        if key in true_fits:
            return (*true_fits[key], True)
        student = baseline_student(family, params, seed)
        timings: dict[str, Any] = {}
        X, y = (X_train, y_train) if rows is None else (X_train.iloc[rows], y_train.iloc[rows])
        with meter.stage(timings, "student_fit"):
            student.fit(X, true_targets(y, classes), classes=classes, categorical=schema.categorical)
        true_fits[key] = (student, timings)
        return student, timings, False

    for teacher_kind in args.teachers:
        t: dict[str, Any] = {}
        model = build_teacher(teacher_kind, classify, text_columns, seed, args.quick)
        with meter.stage(t, "teacher_fit"):
            fit_teacher(model, X_train, y_train)
        teacher = Teacher.from_model(model)
        with meter.stage(t, "label_real"):
            T_train = label_rows(teacher, X_train)
        T_test = label_rows(teacher, X_test)
        chosen_on = None if X_chosen_on is None else (X_chosen_on, label_rows(teacher, X_chosen_on))
        labels = {}
        for method, rows in generated.items():
            with meter.stage(t, f"{method}_label"):
                labels[method] = label_rows(teacher, rows)
        teacher_pred = teacher.classes_[np.argmax(T_test, axis=1)] if classify else T_test
        y_true = y_test.to_numpy()
        teacher_bytes = evaluation.serialized_bytes(model)
        results["teachers"].append({
            "dataset": name, "seed": seed, "teacher": teacher_kind, "type": teacher.kind,
            "serialized_bytes": teacher_bytes, **teacher.complexity(),
            **{f"target_{k}": v for k, v in evaluation.against_target(teacher.task, y_true,
                                                                         teacher_pred).items()},
            "timings": t,
        })
        log(f"  teacher {teacher_kind}: fitted in {t['teacher_fit']['s']:.1f} s, {teacher_bytes / 2**20:.1f} MiB")
        classes = teacher.classes_ if classify else None
        cutter = CutTeacher(model, teacher.task) if {"B4", FRONTIER} & set(args.methods) else None
        if cutter is not None:
            # the teacher cut to the page's size budget (1 % of its bytes): what its own trees keep there
            share = summary_mod.BYTES_SHARE
            results["teachers"][-1]["cut_to_share"] = {
                "share": share, **cutter.at_bytes(int(share * teacher_bytes), X_test, teacher_pred, y_true)}

        def record(student_name: str, method: str, scores: dict[str, Any], size: int, complexity: dict[str, Any],
                   real_rows: int, synthetic: int, timings: dict[str, Any], **extra: Any) -> dict[str, Any]:
            return {"dataset": name, "seed": seed, "teacher": teacher_kind, "student": student_name,
                    "method": method, **scores, "serialized_bytes": int(size), **complexity,
                    "real_rows": int(real_rows), "synthetic_rows": int(synthetic),
                    "end_to_end_s": end_to_end(timings, method),
                    "peak_rss_mib": max((v.get("peak_rss_mib") or 0) for v in timings.values()) or None,
                    "timings": timings, **extra}

        for student_name in cell_students(args):
            spec = STUDENTS[student_name]
            family = spec["student"]
            options = {k: v for k, v in spec.items() if k != "student"}
            inputs = {
                "B1": (X_train, T_train),
                **{m: (pd.concat([X_train, rows], ignore_index=True), np.concatenate([T_train, labels[m]]))
                   for m, rows in generated.items()},
                "oracle": (X_test, T_test),
            }
            made: dict[str, dict[str, Any]] = {}
            for method in cell_methods(args):
                timings: dict[str, Any] = {}
                extra: dict[str, Any] = {}
                if method == "B4":
                    # the teacher cut to the size of tabcompress's student (else of the same student on
                    # the true labels)
                    budget_from = next((m for m in ("tabcompress", "B5", "B0") if m in made), None)
                    if budget_from is None:
                        budget_from = "B5"
                        budget = serialized_bytes(fit_true_label(family, options, classes)[0])
                    else:
                        budget = made[budget_from]["serialized_bytes"]
                    with meter.stage(timings, "cut"):
                        b4 = cutter.at_bytes(budget, X_test, teacher_pred, y_true)
                    b4["b4"]["budget_from"] = budget_from
                    scores = {k: v for k, v in b4.items() if k not in ("serialized_bytes", "b4", "n_trees",
                                                                        "n_nodes", "n_leaves")}
                    complexity = {k: b4[k] for k in ("n_trees", "n_nodes", "n_leaves") if k in b4}
                    made[method] = record(student_name, method, scores, b4["serialized_bytes"], complexity,
                                          len(X_train), 0, timings, b4=b4["b4"])
                    results["runs"].append(made[method])
                    continue
                if method in ("tabcompress", "tabcompress-own"):
                    config = tabcompress_config(args, seed, student_name)
                    gen_key, gen = tabcompress_generator(config, teacher, teacher_kind)
                    with meter.stage(timings, "train_student"), kept_refits() as refits:
                        trained = train_student(teacher, X_train, T_train, schema, config, generator=gen,
                                                validation_rows=chosen_on if method == "tabcompress" else None)
                    student = trained.student
                    timings.update({k: {"s": v} for k, v in trained.timings_s.items()})
                    if gen is not None:
                        timings["generator_fit"] = shared[f"tabcompress_generator_fit:{gen_key}"]
                    timings["label_real"] = t["label_real"]
                    synthetic = trained.n_synthetic
                    extra["shipped_generator"] = trained.chosen.get("generator") if trained.chosen else None
                    if trained.search is not None and trained.search.refit is not None:
                        # whether the student trained again shipped, and how it does on the held-out rows
                        extra["refit"] = {**trained.search.refit, **{
                            f"heldout_{k}": v for k, v in score_predictions(
                                teacher.task, teacher_pred, refits[-1].predict(X_test), y_true).items()}}
                    if args.candidates and trained.candidates:
                        # every candidate as the search judged it (fitted on its fit rows) and on the
                        # held-out rows: what another rule would have shipped, measured in the same run
                        extra["candidates"] = [
                            {"name": c.name, "rows": c.rows, "generator": c.generator, "chosen": c.chosen,
                             "validation_fidelity": c.fidelity, "bytes": int(c.bytes),
                             **score_predictions(teacher.task, teacher_pred, c.student.predict(X_test), y_true)}
                            for c in trained.candidates]
                elif method in ("B0", "B5"):
                    # B5 is the student's family and size on the true labels: for a cell's own student, B0
                    student, fit_timings, reused = fit_true_label(family, options, classes)
                    timings.update(fit_timings)
                    extra["reused_fit"] = reused
                    synthetic = 0
                else:
                    rows, targets = inputs[method]
                    student = baseline_student(family, options, seed)
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
                made[method] = record(student_name, method, score_predictions(teacher.task, teacher_pred, pred, y_true),
                                      evaluation.serialized_bytes(student), student.complexity(),
                                      len(X_test) if method == "oracle" else len(X_train), synthetic, timings, **extra)
                results["runs"].append(made[method])
            log(f"    {student_name}: " + "  ".join(f"{m} {r['fidelity']:.4f}" for m, r in made.items()))

        if FRONTIER in args.methods:
            config = tabcompress_config(args, seed, FRONTIER_STUDENT)
            if args.frontier_share and not config.target.sizing:
                # the done-when's question (the most faithful student within a share of the teacher's
                # bytes) as the user would ask it; the bound also ends each family's sweep
                config = config.replace(max_size=max(1, int(args.frontier_share * teacher_bytes)))
            timings = {}
            with meter.stage(timings, "train_student"):
                trained = train_student(teacher, X_train, T_train, schema, config, validation_rows=chosen_on)
            timings.update({k: {"s": v} for k, v in trained.timings_s.items()})
            timings["label_real"] = t["label_real"]
            # the search's candidates trained on its fit rows: their B5 trains on the same real rows
            fit_rows = None if trained.validation is None else trained.validation[0]
            measured = measure_frontier(trained, config, task=teacher.task, classes=classes, X_test=X_test,
                                        teacher_pred=teacher_pred, y_test=y_true, cutter=cutter,
                                        fit_true_label=fit_true_label, fit_rows=fit_rows)
            results["frontier"].append({
                "dataset": name, "seed": seed, "teacher": teacher_kind, "student": FRONTIER_STUDENT,
                "settings": dict(args.set), "frontier_share": args.frontier_share, "teacher_bytes": teacher_bytes,
                "real_rows": int(len(X_train)),
                "n_synthetic": int(getattr(trained, "n_synthetic", 0) or 0),
                "end_to_end_s": end_to_end(timings, "tabcompress"), "timings": timings, **measured})
            shipped = measured["shipped"]
            log(f"    frontier: {len(measured['candidates'])} candidate(s), chosen {measured['chosen']}"
                + (f", shipped {shipped['fidelity']:.4f} ({shipped['serialized_bytes'] / 1024:.1f} KiB)" if shipped else "")
                + ": " + "  ".join(f"{c['label']} {c['fidelity']:.4f} ({c['serialized_bytes'] / 1024:.1f} KiB)"
                                   for c in measured["candidates"]))

    results["generators"].append({
        "dataset": name, "seed": seed,
        **gen_records,
        "tabcompress": {key: {"fit_rows": int(gen.n_fit_rows_), **training_facts(gen),
                              "fit": shared[f"tabcompress_generator_fit:{key}"]}
                        for key, gen in tc_gens.items()},
    })


@contextmanager
def mlp_epochs_at_most(epochs: int | None) -> Iterator[None]:
    """Every MLP student built while it runs (the baselines' and the one ``train_student`` builds) trains
    at most ``epochs`` epochs; None leaves the library's own."""
    from tabcompress.students.mlp import MLPStudent

    build = MLPStudent.__dict__["from_settings"]

    def capped(cls, *a: Any, **kw: Any) -> MLPStudent:
        student = build.__func__(cls, *a, **kw)
        student.max_epochs = min(student.max_epochs, epochs)
        return student

    if epochs is not None:
        MLPStudent.from_settings = classmethod(capped)
    try:
        yield
    finally:
        MLPStudent.from_settings = build


@contextmanager
def kept_refits() -> Iterator[list[Any]]:
    """The students ``train_student`` trained again on every training row, kept while it runs, so that a
    refit that does not ship (``modes._refit_or_chosen``) is scored on the held-out rows too."""
    kept: list[Any] = []
    decide = modes._refit_or_chosen

    def keep(search: Any, searched: Any, refit: Any, note: Any) -> Any:
        kept.append(refit)
        return decide(search, searched, refit, note)

    modes._refit_or_chosen = keep
    try:
        yield kept
    finally:
        modes._refit_or_chosen = decide


# -- the frontier: every student tabcompress's search tried ----------------------------------------

def frontier_candidates(trained: Any, config: Settings) -> tuple[list[Any], bool]:
    """The candidates ``train_student`` reports (``trained.candidates``), and True; for a run that
    reports none (a plain student, or a tabcompress without the search), the one student it trained as
    the only, chosen candidate, and False."""
    candidates = list(getattr(trained, "candidates", None) or [])
    if candidates:
        return candidates, True
    family, params = shipped_size(trained, config)
    from types import SimpleNamespace

    return [SimpleNamespace(name=family, family=family, params=params,
                            generator=(getattr(trained, "generator_info", None) or {}).get("name"),
                            synthetic_ratio=config.generator.synthetic_ratio, validation=None, bytes=None,
                            latency=None, student=trained.student, chosen=True)], False


def shipped_size(trained: Any, config: Settings) -> tuple[str, dict[str, Any]]:
    """The family and the options of its size of the student ``train_student`` returned: as the run
    reports them (``trained.chosen``), else the student's own registry name and the size the settings
    give it (``size_of``), else the settings named like its parameters."""
    chosen = getattr(trained, "chosen", None)
    if isinstance(chosen, dict) and chosen.get("student"):
        return chosen["student"], {k: v for k, v in chosen.items() if k not in ("student", "generator")}
    family = getattr(trained.student, "name", None) or config.student.name
    try:
        cls = student_class(family)
    except SettingError:
        return family, {}
    if hasattr(cls, "size_of"):
        return family, dict(cls.size_of(config.replace(student=family)))
    options = config.options()
    return family, {k: options[k] for k in sorted({f.name for f in fields(cls)} & set(options))
                    if k not in ("seed", "device")}


def candidate_label(name: str, generator: str | None, ratio: float | None) -> str:
    """A candidate's name and the rows it trained on: ``tree depth 6 · munge ×20``; a search tries one
    size on several sets of rows, so the name alone does not tell its candidates apart."""
    if not ratio or generator in (None, "none"):
        return f"{name} · real rows only"
    return f"{name} · {generator} ×{ratio:.3g}"


def measure_frontier(trained: Any, config: Settings, *, task: str, classes: np.ndarray | None,
                     X_test: pd.DataFrame, teacher_pred: np.ndarray, y_test: np.ndarray | None,
                     cutter: CutTeacher | None, fit_true_label, fit_rows: np.ndarray | None = None) -> dict[str, Any]:
    """Every candidate of a search scored on the held-out rows as the other methods are (fidelity,
    pickled bytes), with B4 at its bytes and B5 of its family and size (``fit_true_label(family, params,
    classes, rows)`` → student, timings, reused); and the same for the student the search shipped (the
    chosen candidate trained again on every training row). A candidate trained on the search's fit rows
    (``fit_rows``, numbers of training rows) is compared with B5 trained on the same real rows; the
    shipped student with B5 on every training row. A baseline that cannot be made (a family this
    tabcompress cannot build on the true labels, say) is recorded as its error."""
    candidates, searched = frontier_candidates(trained, config)
    if not any(getattr(c, "chosen", False) for c in candidates):
        for c in candidates:  # the search did not say: the student it returned is the chosen one
            c.chosen = c.student is getattr(trained, "student", None)

    def scored(student: Any, family: str, params: dict[str, Any], rows: np.ndarray | None = None) -> dict[str, Any]:
        size = serialized_bytes(student)
        rec = {**score_predictions(task, teacher_pred, student.predict(X_test), y_test), "serialized_bytes": size,
               **(student.complexity() if hasattr(student, "complexity") else {})}
        if cutter is not None:
            try:
                rec["B4"] = cutter.at_bytes(size, X_test, teacher_pred, y_test)
            except Exception as exc:  # noqa: BLE001 - a baseline that fails is recorded, the run goes on
                rec["B4"] = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            b5, fit_timings, reused = fit_true_label(family, params, classes, rows)
            rec["B5"] = {**score_predictions(task, teacher_pred, b5.predict(X_test), y_test),
                         "serialized_bytes": serialized_bytes(b5), "fit_s": fit_timings["student_fit"]["s"],
                         "reused_fit": reused, "rows": "fit" if rows is not None else "all"}
        except Exception as exc:  # noqa: BLE001
            rec["B5"] = {"error": f"{type(exc).__name__}: {exc}"}
        return rec

    out = []
    for c in candidates:
        family, params = str(c.family), dict(getattr(c, "params", None) or {})
        generator, ratio = getattr(c, "generator", None), getattr(c, "synthetic_ratio", None)
        out.append({"name": str(c.name), "label": candidate_label(str(c.name), generator, ratio),
                    "family": family, "params": params, "generator": generator, "synthetic_ratio": ratio,
                    "validation": getattr(c, "validation", None), "reported_bytes": getattr(c, "bytes", None),
                    "latency": getattr(c, "latency", None), "chosen": bool(getattr(c, "chosen", False)),
                    **scored(c.student, family, params, fit_rows if searched else None)})
    chosen = next((r for r in out if r["chosen"]), None)
    shipped = None
    if searched and getattr(trained, "student", None) is not None:
        family, params = shipped_size(trained, config)
        shipped = {"name": chosen["name"] if chosen else family, "label": chosen["label"] if chosen else family,
                   "family": family, "params": params, **scored(trained.student, family, params)}
    search = getattr(trained, "search", None)
    info = search.to_dict() if hasattr(search, "to_dict") else {}
    return {"searched": searched, "chosen": chosen["label"] if chosen else None, "shipped": shipped,
            "search": {k: info[k] for k in ("rule", "fit_rows", "validation_rows", "sizes_searched", "notes")
                       if k in info},
            "candidates": out}


def _stage_pair(shared: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {"fit": shared[f"{prefix}_generator_fit"], "generate": shared[f"{prefix}_generate"]}


def end_to_end(timings: dict[str, Any], method: str) -> float | None:
    """Seconds from real rows to a fitted student: every stage the method needs, shared ones included.
    None for the oracle and for B4 (the teacher cut: it trains nothing; its search is in ``timings``)."""
    if method in ("oracle", "B4"):
        return None
    if method in ("tabcompress", "tabcompress-own"):
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
    p.add_argument("--students", type=names(tuple(STUDENTS)), default=list(DEFAULT_STUDENTS),
                   help=f"comma-separated, from {', '.join(STUDENTS)} (default: {','.join(DEFAULT_STUDENTS)}); "
                        f"'{FRONTIER_STUDENT}' is the frontier method's search")
    p.add_argument("--methods", type=names(METHODS), default=list(DEFAULT_METHODS),
                   help=f"comma-separated, from {', '.join(METHODS)} (default: all but {FRONTIER})")
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--frontier-share", type=float, default=None,
                   help="the frontier method's search asks for the most faithful student of at most this share "
                        "of the teacher's bytes (--max-size), e.g. 0.01; default: --student auto's own rule")
    p.add_argument("--regime", choices=REGIMES, default="small",
                   help=f"small: {SMALL_TRAIN_ROWS:,} training and {SMALL_TEST_ROWS:,} held-out rows per dataset "
                        f"(--train-rows, --test-rows); full: {FULL_TEST_SHARE:.0%} of each dataset's rows held out "
                        "(stratified), the rest for training")
    p.add_argument("--train-rows", type=int, default=None,
                   help=f"small regime: real training rows per dataset (random, stratified; default "
                        f"{SMALL_TRAIN_ROWS:,}); the teacher is fitted on them")
    p.add_argument("--test-rows", type=int, default=None,
                   help=f"small regime: held-out real rows per dataset (default {SMALL_TEST_ROWS:,})")
    p.add_argument("--max-train-rows", type=int, default=None,
                   help="at most this many training rows (a random, stratified subset), in either regime: a "
                        "time cap for the full regime; recorded in the results")
    p.add_argument("--validation-share", type=float, default=0.0,
                   help="give tabcompress this share of the held-out rows (random, stratified) as rows the "
                        "teacher never saw to choose on (--validation-data), all its training rows training; "
                        "every method is scored on the rest (default 0: it chooses on its own training rows)")
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
                   help=f"smoke test: first dataset, one seed, small slices, few epochs and trees (MLP students "
                        f"at most {QUICK_MLP_EPOCHS} epochs)")
    p.add_argument("--candidates", action="store_true",
                   help="tabcompress cells also record every candidate of the search, scored on the held-out rows")
    p.add_argument("--name", default=None, help="results name (default: full, or quick with --quick)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    args.set = dict(args.set)
    if args.datasets is None:
        args.datasets = list(ALL_DATASETS)
    if args.regime == "full" and (args.train_rows is not None or args.test_rows is not None):
        p.error(f"--train-rows and --test-rows are the small regime's; the full regime holds out "
                f"{FULL_TEST_SHARE:.0%} of the rows and trains on the rest (cap it with --max-train-rows)")
    if args.max_train_rows is not None and args.max_train_rows < 2:
        p.error("--max-train-rows must be at least 2")
    if not 0 <= args.validation_share < 1:
        p.error("--validation-share must be at least 0 and below 1")
    if "tabcompress-own" in args.methods and not args.validation_share:
        p.error("method tabcompress-own goes with --validation-share")
    if args.regime == "small":
        args.train_rows = SMALL_TRAIN_ROWS if args.train_rows is None else args.train_rows
        args.test_rows = SMALL_TEST_ROWS if args.test_rows is None else args.test_rows
    # the frontier method and its student come together
    if FRONTIER in args.methods and FRONTIER_STUDENT not in args.students:
        args.students.append(FRONTIER_STUDENT)
    if FRONTIER_STUDENT in args.students and FRONTIER not in args.methods:
        args.methods.append(FRONTIER)
    if args.quick:
        args.datasets = args.datasets[:1]
        args.seeds = args.seeds[:1]
        if args.regime == "small":
            args.train_rows = min(args.train_rows, 600)
            args.test_rows = min(args.test_rows, 300)
        else:
            args.max_train_rows = min(args.max_train_rows or 600, 600)
        args.b2_epochs = min(args.b2_epochs, 3)
        args.tabcompress_epochs = 3 if args.tabcompress_epochs is None else args.tabcompress_epochs
    args.mlp_max_epochs = QUICK_MLP_EPOCHS if args.quick else None
    args.name = args.name or ("quick" if args.quick else "full")
    return args


def check_students(names: list[str]) -> None:
    """Stop before any work when a student asked for is not in this tabcompress: a family its registry
    does not have (the gbdt and linear students, before they land), settings it does not know, or
    ``auto`` without the search."""
    known = student_names()
    for name in names:
        spec = STUDENTS[name]
        family = spec["student"]
        if family != "auto" and family not in known:
            raise SystemExit(f"bench: student {name!r} needs tabcompress's {family!r} student, which this "
                             f"tabcompress does not register (it has {', '.join(known)}); leave {name} out of "
                             "--students")
        try:
            Settings.from_options(**spec).validate()
        except SettingError as exc:
            what = ("the frontier method needs tabcompress's --student auto (its search over students), "
                    "which this tabcompress does not have" if family == "auto"
                    else f"its settings {spec} are not all settings of this tabcompress")
            raise SystemExit(f"bench: student {name!r}: {what} ({exc})") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_students(args.students)
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
            "regime": args.regime, "train_rows": args.train_rows, "test_rows": args.test_rows,
            "test_share": FULL_TEST_SHARE if args.regime == "full" else None,
            "max_train_rows": args.max_train_rows, "validation_share": args.validation_share, "quick": args.quick,
            "mlp_max_epochs": args.mlp_max_epochs,
            "B2": {"epochs": args.b2_epochs, "batch_size": 500, "max_rows": args.b2_max_rows, "ratio": args.b2_ratio},
            "B3": {"p": args.munge_p, "s": args.munge_s, "ratio": args.munge_ratio},
            "tabcompress": {k: (list(v) if isinstance(v, tuple) else v)
                            for k, v in tabcompress_config(args, 0, (cell_students(args) or args.students)[0])
                            .options().items()
                            if k not in {"seed", "student", "baseline", *(o for spec in STUDENTS.values() for o in spec)}},
            "known_categorical": {k: list(v) for k, v in KNOWN_CATEGORICAL.items()},
        },
        "datasets": {}, "generators": [], "teachers": [], "runs": [], "frontier": [],
    }
    meter = PeakRSS()
    started = time.perf_counter()
    # Seeds outermost: a run stopped part-way still has every dataset for the seeds it finished.
    with mlp_epochs_at_most(args.mlp_max_epochs):
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
