"""make bench-latency: serving latency and bytes of the teacher and of its student, side by side.

For each dataset, in one process and one run, so that every ratio compares figures measured together:

* the teacher as ``bench/run.py`` trains it in the full regime (20 % of the rows held out, stratified;
  at most ``--max-train-rows`` training rows): RF300 (``rf``), and XGBoost (``xgb``, 400 rounds of depth
  6) when asked for; a Pipeline with a one-hot encoder in front where the data has text columns;
* the student ``tabcompress distill`` makes with its defaults on those training rows (a depth-6 tree):
  ``tabcompress.distill(teacher, train, eval_data=held_out, seed=0)``, the same run as ``tabcompress
  distill teacher.joblib train.csv --eval-data held_out.csv --seed 0 --no-tsc --no-baseline`` (every
  training row trains; the held-out rows score it; neither the TSC score nor the baseline changes the
  student); adult's and credit_default's integer-coded categories are declared as bench/run.py declares
  them (``--categorical``);

and, for each way of serving them, the bytes it ships and its latency on held-out rows (:data:`WAYS`):

========================  =====================================================================================
teacher, as loaded        ``model.predict_proba(frame)`` (``predict`` for regression): scikit-learn or
                          XGBoost on a one-row (or 10,000-row) DataFrame, with the threads the model was
                          fitted with (a forest's ``n_jobs=-1``, XGBoost's default). Bytes: pickled.
teacher, onnxruntime      the model converted by skl2onnx (forests, pipelines) or onnxmltools (XGBoost),
                          ``session.run`` on input arrays built beforehand (float32; text as strings, one
                          input per column for a Pipeline). Bytes: the .onnx file.
student, Python wrapper   ``student.predict_proba(frame)`` (``predict`` for regression) of the student
                          ``tabcompress.load_student`` loads. Bytes: ``student.joblib`` as distill writes it.
student, ONNX             ``export_student(student, "onnx", path)``, ``session.run`` on the input dict that
                          ``onnx_format.feed(portable, frame)`` built beforehand. Bytes: the .onnx file.
student, C                ``export_student(student, "c", path)`` compiled with ``cc -O2`` with a harness
                          (:data:`C_HARNESS`) that times, in C, per row: the categories' codes
                          (``<prefix>_category_code`` on the cell's text) and ``<prefix>_predict_proba``
                          (``<prefix>_predict`` for regression). Bytes: the .c and .h sources, and the
                          compiled object (``cc -O2 -c``).
student, Python export    ``export_student(student, "python", path)``, imported; ``predict_proba(row)``
                          (``predict``) on a dict per row; 10,000 rows: ``predict_proba_many`` of the dicts.
                          Bytes: the .py file.
========================  =====================================================================================

One row: the median over ``--row-calls`` calls (1,000; ``--teacher-row-calls``, 200, for the teacher as
loaded, whose calls take milliseconds), each on one row drawn at random from the held-out rows; the C
harness times each draw ``--c-passes`` (10) times. 10,000 rows: the median of ``--batch-calls`` (5)
calls on 10,000 held-out rows drawn at random (with replacement where fewer are held out). The ways are
timed in interleaved rounds (a tenth of each way's one-row calls, in turn; then one 10,000-row call of
each, in turn), after warm-up calls, with Python's garbage collector off, so that a change in the
machine's load falls on all of them alike. onnxruntime runs at one intra-op thread and at its default
(one per core), for teacher and student alike (one inter-op thread, sequential execution, every graph
optimisation); a model's figure is the faster of the two, and the tables keep both. The C figures are
measured in C (``clock_gettime`` around each call; the clock's own cost, some tens of nanoseconds, is
measured and left in), single-threaded, on rows already parsed into memory. The Python and onnxruntime
figures are measured from Python and include the call from Python; no figure includes reading the rows
or building the inputs, except the wrapper's and the Python export's own work on a frame or dict.

    python bench/latency.py                        # 8 datasets, RF300 teacher: bench/results/latency.{json,md}
    python bench/latency.py --teachers rf,xgb --datasets magic,adult --name latency_xgb
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib.util
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import run as bench  # noqa: E402

from tabcompress.evaluation.metrics import serialized_bytes  # noqa: E402
from tabcompress.report import to_json, versions  # noqa: E402

#: serving ways, in table order: (key, label)
WAYS = (
    ("teacher_loaded", "teacher, as loaded"),
    ("teacher_onnx", "teacher, onnxruntime"),
    ("teacher_fastest", "teacher, its fastest way"),
    ("student_wrapper", "student, Python wrapper"),
    ("student_onnx", "student, ONNX in onnxruntime"),
    ("student_c", "student, compiled C"),
    ("student_python", "student, Python export"),
)
#: the done-when's comparisons: the exported student against the teacher in onnxruntime
HEADLINE_STUDENTS = ("student_onnx", "student_c")
#: ... and its bars: teacher ÷ student, median over datasets
BARS = {"one_row": 10.0, "batch": 100.0, "bytes": 100.0}
#: onnxruntime's intra-op thread settings (0: its default, one per core)
ORT_THREADS = (1, 0)
#: what each timing includes (the docstring's paragraph, kept in the results)
TIMING = " ".join(next(p for p in __doc__.split("\n\n") if p.startswith("One row:")).split()).replace("``", "`")


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- timing -------------------------------------------------------------------------------------

def stats_ns(times_ns: list[int]) -> dict[str, Any]:
    """Median, spread and count of call times (nanoseconds in, microseconds out)."""
    us = np.asarray(times_ns, dtype=np.float64) / 1000.0
    return {"median_us": float(np.median(us)), "p10_us": float(np.percentile(us, 10)),
            "p90_us": float(np.percentile(us, 90)), "min_us": float(us.min()), "mean_us": float(us.mean()),
            "calls": int(len(us))}


@dataclass
class Timer:
    """One serving way at one setting, ready to time: ``one(i)`` serves one-row draw ``i`` and
    ``batch()`` the 10,000 rows, each timed from Python; or ``external(kind, start, count)`` times
    ``count`` one-row draws from ``start`` (``kind`` "one") or one 10,000-row call ("batch") itself and
    returns the times in nanoseconds (the C harness)."""

    way: str
    setting: str
    calls: int
    one: Callable[[int], Any] | None = None
    batch: Callable[[], Any] | None = None
    external: Callable[[str, int, int], list[int]] | None = None


def time_all(timers: list[Timer], rounds: int, batch_calls: int) -> dict[tuple[str, str], dict[str, Any]]:
    """Time every timer in interleaved rounds; ``{(way, setting): {"one_row": stats, "batch": stats}}``."""
    one: dict[int, list[int]] = {i: [] for i in range(len(timers))}
    batch: dict[int, list[int]] = {i: [] for i in range(len(timers))}
    clock = time.perf_counter_ns
    for t in timers:  # warm-up: first calls pay for lazy imports, allocations and caches
        if t.external is None:
            for i in range(min(3, t.calls)):
                t.one(i)
            t.batch()

    def rotated(r: int) -> list[int]:
        order = list(range(len(timers)))
        return order[r % len(order):] + order[: r % len(order)]

    enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            for k in rotated(r):
                t = timers[k]
                lo, hi = r * t.calls // rounds, (r + 1) * t.calls // rounds
                if t.external is not None:
                    one[k] += t.external("one", lo, hi - lo)
                    continue
                for i in range(lo, hi):
                    start = clock()
                    t.one(i)
                    one[k].append(clock() - start)
            gc.collect()
        for b in range(batch_calls):
            for k in rotated(b):
                t = timers[k]
                if t.external is not None:
                    batch[k] += t.external("batch", 0, 1)
                    continue
                start = clock()
                t.batch()
                batch[k].append(clock() - start)
                gc.collect()
    finally:
        if enabled:
            gc.enable()
    return {(t.way, t.setting): {"one_row": stats_ns(one[k]), "batch": stats_ns(batch[k])}
            for k, t in enumerate(timers)}


# -- rows -----------------------------------------------------------------------------------------

@dataclass
class Rows:
    """The held-out rows the timings draw from: the one-row draws and the 10,000-row batch."""

    held_out: pd.DataFrame
    one_rows: list[pd.DataFrame] = field(default_factory=list)
    batch: pd.DataFrame | None = None

    @classmethod
    def draw(cls, held_out: pd.DataFrame, row_calls: int, batch_rows: int, seed: int) -> Rows:
        rng = np.random.default_rng(seed)
        n = len(held_out)
        one = rng.choice(n, size=row_calls, replace=row_calls > n)
        batch = rng.choice(n, size=batch_rows, replace=batch_rows > n)
        return cls(held_out, [held_out.iloc[[i]] for i in one], held_out.iloc[batch].reset_index(drop=True))

    @property
    def one_frame(self) -> pd.DataFrame:
        """The one-row draws as one frame, in draw order."""
        return pd.concat(self.one_rows, ignore_index=True)


def agreement(reference: np.ndarray, got: np.ndarray, classify: bool) -> dict[str, Any]:
    """How closely a serving way reproduces a reference on the held-out rows: the share of rows with the
    same class (classification) and the largest difference of a probability (of a value, also in
    standard deviations of the reference's values)."""
    got = np.asarray(got, dtype=np.float64).reshape(reference.shape)
    out: dict[str, Any] = {"rows": int(len(reference)), "max_abs_diff": float(np.nanmax(np.abs(reference - got)))}
    if classify:
        out["same_class"] = float(np.mean(reference.argmax(axis=1) == got.argmax(axis=1)))
    else:
        out["max_abs_diff_over_sd"] = out["max_abs_diff"] / (float(np.std(reference)) or 1.0)
    return out


# -- the teacher in onnxruntime ------------------------------------------------------------------

def ort_session(path_or_bytes: Any, threads: int):
    """An onnxruntime session on the CPU with ``threads`` intra-op threads (0: onnxruntime's default),
    one inter-op thread, sequential execution, every graph optimisation: the same for teacher and
    student."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = str(path_or_bytes) if isinstance(path_or_bytes, Path) else path_or_bytes
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def final_estimator(model: Any) -> Any:
    return model.steps[-1][1] if hasattr(model, "steps") else model


def _register_xgboost_converters() -> None:
    """Let skl2onnx convert a Pipeline ending in XGBoost, with onnxmltools's XGBoost converters."""
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (calculate_linear_classifier_output_shapes,
                                                  calculate_linear_regressor_output_shapes)
    from xgboost import XGBClassifier, XGBRegressor

    update_registered_converter(XGBClassifier, "XGBoostXGBClassifier", calculate_linear_classifier_output_shapes,
                                convert_xgboost, options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
    update_registered_converter(XGBRegressor, "XGBoostXGBRegressor", calculate_linear_regressor_output_shapes,
                                convert_xgboost)


def teacher_inputs(model: Any, X: pd.DataFrame, text_columns: list[str]):
    """The converter's input types: one float tensor ``X`` for a bare model; one tensor per column for
    a Pipeline (text columns as strings), named as the columns."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    if not text_columns:
        return [("X", FloatTensorType([None, X.shape[1]]))]
    return [(c, StringTensorType([None, 1]) if c in text_columns else FloatTensorType([None, 1])) for c in X.columns]


def teacher_feed(X: pd.DataFrame, text_columns: list[str]) -> dict[str, np.ndarray]:
    """The input arrays of the converted teacher for the rows of ``X`` (float32 numbers, text as str)."""
    if not text_columns:
        return {"X": X.to_numpy(dtype=np.float32)}
    return {c: (X[[c]].to_numpy().astype(str) if c in text_columns else X[[c]].to_numpy(dtype=np.float32))
            for c in X.columns}


def patch_forest_missing(onx: Any, model: Any) -> int:
    """Carry a scikit-learn forest's missing-value directions into its converted tree ensemble.

    skl2onnx (1.20) writes ``nodes_missing_value_tracks_true`` as 0 for every node of a forest, so a NaN
    goes right where scikit-learn (which learns where missing values go) may send it left. This sets
    each split's flag from ``tree_.missing_go_to_left``; returns how many flags it turned on."""
    from onnx import helper

    estimator = final_estimator(model)
    trees = [e.tree_ for e in estimator.estimators_]
    changed = 0
    for node in onx.graph.node:
        if node.op_type not in ("TreeEnsembleClassifier", "TreeEnsembleRegressor"):
            continue
        attrs = {a.name: a for a in node.attribute}
        tree_ids = helper.get_attribute_value(attrs["nodes_treeids"])
        node_ids = helper.get_attribute_value(attrs["nodes_nodeids"])
        modes = helper.get_attribute_value(attrs["nodes_modes"])
        flags = []
        for t, i, mode in zip(tree_ids, node_ids, modes):
            left = mode != b"LEAF" and bool(trees[t].missing_go_to_left[i])
            flags.append(int(left))
        changed += sum(flags)
        new = helper.make_attribute("nodes_missing_value_tracks_true", flags)
        kept = [a for a in node.attribute if a.name != "nodes_missing_value_tracks_true"]
        del node.attribute[:]
        node.attribute.extend([*kept, new])
    return changed


def convert_teacher(kind: str, model: Any, X_train: pd.DataFrame, text_columns: list[str], classify: bool,
                    path: Path) -> dict[str, Any]:
    """Convert the teacher to ONNX at ``path``: skl2onnx for a forest or a Pipeline (classifiers without
    ZipMap, so the output is a probability tensor), onnxmltools for a bare XGBoost model. Returns what
    was done, or the error."""
    started = time.perf_counter()
    info: dict[str, Any] = {"converter": None}
    try:
        estimator = final_estimator(model)
        if kind == "xgb" and not text_columns:
            import onnxmltools
            from onnxmltools.convert.common.data_types import FloatTensorType

            # onnxmltools reads features by the names f0, f1, ...: a copy without the DataFrame's names
            unnamed = copy.deepcopy(model)
            unnamed.get_booster().feature_names = None
            info["converter"] = f"onnxmltools {onnxmltools.__version__} (convert_xgboost)"
            onx = onnxmltools.convert_xgboost(unnamed, initial_types=[("X", FloatTensorType([None, X_train.shape[1]]))],
                                              target_opset=15)
        else:
            import skl2onnx

            if kind == "xgb":
                _register_xgboost_converters()
            info["converter"] = f"skl2onnx {skl2onnx.__version__} (convert_sklearn)" + (
                " with onnxmltools's XGBoost converter" if kind == "xgb" else "")
            options = {id(estimator): {"zipmap": False}} if classify else None
            onx = skl2onnx.convert_sklearn(model, initial_types=teacher_inputs(model, X_train, text_columns),
                                           options=options,
                                           target_opset={"": 17, "ai.onnx.ml": 3})
        if kind == "rf" and bool(X_train.isna().to_numpy().any()):
            info["missing_flags_set"] = patch_forest_missing(onx, model)
        path.write_bytes(onx.SerializeToString())
    except Exception as exc:  # noqa: BLE001 - a teacher that does not convert is reported, the run goes on
        info["error"] = f"{type(exc).__name__}: {exc}"
        return info
    info["convert_s"] = round(time.perf_counter() - started, 2)
    info["bytes"] = path.stat().st_size
    return info


def ort_output(session: Any, classify: bool) -> str:
    """The output to fetch, teacher's or student's: the probabilities (classification), the values
    (regression)."""
    names = [o.name for o in session.get_outputs()]
    if classify:
        return next(n for n in names if "prob" in n.lower())
    return names[0]


# -- the C harness ------------------------------------------------------------------------------

#: times the exported C student in C; @P@ is the functions' prefix, @M@ the header's macro prefix
C_HARNESS = r"""/* bench/latency.py's harness: times an exported student in C.
 *   harness check ROWS OUT              the outputs of every row of ROWS, one line each
 *   harness one ROWS START COUNT PASSES each of rows START..START+COUNT timed on its own, PASSES times
 *   harness batch ROWS CALLS            every row of ROWS in a loop, timed as one call, CALLS times
 *   harness clock COUNT                 an empty timed block, COUNT times: the clock's own cost
 * Times (nanoseconds) go to stdout, one a line. Each timing runs after one untimed pass (warm-up).
 * ROWS: one row a line, cells tab-separated in the student's feature order, empty when missing. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "@P@.h"

#define N_FEATURES @M@_N_FEATURES
#define N_OUT (@M@_N_CLASSES > 0 ? @M@_N_CLASSES : 1)

typedef struct { double number[N_FEATURES]; char *text[N_FEATURES]; } row_t;

static volatile double sink;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* one row as a caller holds it: numbers, and the text of each category; code the categories, predict */
static void predict_row(const row_t *row, double *out) {
    double x[N_FEATURES];
    for (int c = 0; c < N_FEATURES; c++) {
        if (@P@_is_categorical[c])
            x[c] = row->text[c] ? (double)@P@_category_code(c, row->text[c]) : NAN;
        else
            x[c] = row->number[c];
    }
#if @M@_N_CLASSES > 0
    @P@_predict_proba(x, out);
#else
    out[0] = @P@_predict(x);
#endif
}

static row_t *read_rows(const char *path, int *n_rows) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); exit(2); }
    int cap = 1024, n = 0;
    row_t *rows = malloc(sizeof(row_t) * cap);
    char *line = NULL;
    size_t len = 0;
    while (getline(&line, &len, f) > 0) {
        if (n == cap) { cap *= 2; rows = realloc(rows, sizeof(row_t) * cap); }
        line[strcspn(line, "\n")] = 0;
        char *cell = line;
        for (int c = 0; c < N_FEATURES; c++) {
            char *end = strchr(cell, '\t');
            if (end) *end = 0;
            rows[n].text[c] = (@P@_is_categorical[c] && *cell) ? strdup(cell) : NULL;
            rows[n].number[c] = *cell ? strtod(cell, NULL) : NAN;
            cell = end ? end + 1 : cell + strlen(cell);
        }
        n++;
    }
    free(line);
    fclose(f);
    *n_rows = n;
    return rows;
}

int main(int argc, char **argv) {
    double out[N_OUT];
    if (argc == 3 && !strcmp(argv[1], "clock")) {
        int count = atoi(argv[2]);
        for (int i = 0; i < count; i++) { long long start = now_ns(); printf("%lld\n", now_ns() - start); }
        return 0;
    }
    if (argc < 4) { fprintf(stderr, "usage: see the opening comment of the harness\n"); return 2; }
    int n;
    row_t *rows = read_rows(argv[2], &n);
    if (!strcmp(argv[1], "check")) {
        FILE *f = fopen(argv[3], "w");
        for (int i = 0; i < n; i++) {
            predict_row(&rows[i], out);
            for (int k = 0; k < N_OUT; k++) fprintf(f, k ? "\t%.17g" : "%.17g", out[k]);
            fprintf(f, "\n");
        }
        fclose(f);
        return 0;
    }
    if (!strcmp(argv[1], "one") && argc == 6) {
        int start = atoi(argv[3]), count = atoi(argv[4]), passes = atoi(argv[5]);
        long long *times = malloc(sizeof(long long) * (size_t)count * passes);
        for (int i = start; i < start + count; i++) { predict_row(&rows[i], out); sink += out[0]; }
        for (int p = 0; p < passes; p++)
            for (int i = 0; i < count; i++) {
                long long t0 = now_ns();
                predict_row(&rows[start + i], out);
                times[p * count + i] = now_ns() - t0;
                sink += out[0];
            }
        for (int i = 0; i < count * passes; i++) printf("%lld\n", times[i]);
        return 0;
    }
    if (!strcmp(argv[1], "batch")) {
        int calls = atoi(argv[3]);
        for (int i = 0; i < n; i++) { predict_row(&rows[i], out); sink += out[0]; }
        for (int b = 0; b < calls; b++) {
            long long t0 = now_ns();
            for (int i = 0; i < n; i++) { predict_row(&rows[i], out); sink += out[0]; }
            printf("%lld\n", now_ns() - t0);
        }
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
"""


def cell_text(value: Any, categorical: bool) -> str:
    """A cell of the C harness's rows file: a number exactly (``repr``), a category as the text the
    exported models match (``portable.category_text``), empty when missing."""
    from tabcompress.students.portable import category_text, is_missing

    if is_missing(value):
        return ""
    if categorical:
        text = value if isinstance(value, str) else category_text(value)
        if "\t" in text or "\n" in text:
            raise ValueError(f"the C harness's rows file cannot hold the category {text!r} (a tab or line break)")
        return text
    return repr(float(value))


def write_rows(frame: pd.DataFrame, columns: list[dict[str, Any]], path: Path) -> None:
    kinds = [(c["name"], c["type"] == "categorical") for c in columns]
    with open(path, "w", encoding="utf-8") as fh:
        for row in frame[[name for name, _ in kinds]].itertuples(index=False):
            fh.write("\t".join(cell_text(v, cat) for v, (_, cat) in zip(row, kinds)) + "\n")


def c_compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


# -- the serving ways, each made ready to time --------------------------------------------------

@dataclass
class Way:
    """A serving way: what it ships and how it agrees with its reference (``record``), and its timers."""

    record: dict[str, Any]
    timers: list[Timer] = field(default_factory=list)


def _predict(model: Any, classify: bool) -> Callable[[Any], Any]:
    return model.predict_proba if classify else model.predict


def _tag(threads: int) -> str:
    return "ort_threads_default" if threads == 0 else f"ort_threads_{threads}"


def ort_timers(way: str, path: Path, classify: bool, feeds: list[dict[str, np.ndarray]],
               batch_feed: dict[str, np.ndarray], calls: int) -> tuple[list[Timer], Callable[[dict], Any]]:
    """A timer per onnxruntime thread setting, and the one-thread session's run (for the agreement)."""
    runs = []
    for threads in ORT_THREADS:
        session = ort_session(path, threads)
        runs.append((threads, _Run(session, [ort_output(session, classify)])))
    timers = [Timer(way, _tag(threads), calls, one=lambda i, run=run: run(feeds[i]),
                    batch=lambda run=run: run(batch_feed)) for threads, run in runs]
    return timers, runs[0][1]


@dataclass
class _Run:
    """``session.run`` of one output, the call every onnxruntime timing makes."""

    session: Any
    output: list[str]

    def __call__(self, feed: dict[str, np.ndarray]) -> Any:
        return self.session.run(self.output, feed)[0]


def teacher_ways(kind: str, data: bench.Split, rows: Rows, args: argparse.Namespace,
                 work: Path) -> tuple[Any, dict[str, Any], dict[str, Way]]:
    """Fit the teacher as the benchmark does; the teacher as loaded and in onnxruntime, ready to time."""
    classify = data.classify
    model = bench.build_teacher(kind, classify, data.text_columns, args.seed, args.quick)
    started = time.perf_counter()
    model.fit(data.X_train, data.y_train)
    estimator = final_estimator(model)
    meta = {"teacher": kind, "type": type(estimator).__name__, "pipeline": hasattr(model, "steps"),
            "fit_s": round(time.perf_counter() - started, 2),
            "n_estimators": getattr(estimator, "n_estimators", None)}
    predict = _predict(model, classify)
    loaded = Way({"bytes": serialized_bytes(model), "bytes_what": "pickled (highest protocol)",
                  "threads": getattr(estimator, "n_jobs", None)})
    loaded.timers.append(Timer("teacher_loaded", "as loaded", args.teacher_row_calls,
                               one=lambda i: predict(rows.one_rows[i]), batch=lambda: predict(rows.batch)))
    path = work / f"teacher_{kind}.onnx"
    conversion = convert_teacher(kind, model, data.X_train, data.text_columns, classify, path)
    onnx = Way({"bytes": conversion.get("bytes"), "bytes_what": ".onnx file", "conversion": conversion})
    log(f"  teacher {kind}: fitted in {meta['fit_s']:.1f} s, {loaded.record['bytes'] / 2**20:.1f} MiB pickled; "
        + (f"ONNX {conversion['bytes'] / 2**20:.1f} MiB in {conversion['convert_s']:.1f} s"
           if "error" not in conversion else f"not converted: {conversion['error']}"))
    if "error" not in conversion:
        feeds = [teacher_feed(r, data.text_columns) for r in rows.one_rows]
        onnx.timers, run = ort_timers("teacher_onnx", path, classify, feeds,
                                      teacher_feed(rows.batch, data.text_columns), args.row_calls)
        reference = np.asarray(predict(data.X_test), dtype=np.float64)
        onnx.record["agreement"] = agreement(reference, run(teacher_feed(data.X_test, data.text_columns)), classify)
    return model, meta, {"teacher_loaded": loaded, "teacher_onnx": onnx}


def distill_student(model: Any, name: str, data: bench.Split, work: Path) -> tuple[Any, dict[str, Any]]:
    """The default student of ``tabcompress distill`` on the training rows, scored on the held-out rows,
    written by distill and loaded back as a user would."""
    import tabcompress

    train = data.X_train.assign(target=data.y_train.to_numpy())
    held_out = data.X_test.assign(target=data.y_test.to_numpy())
    categorical = list(bench.KNOWN_CATEGORICAL.get(name, ())) or None
    out_dir = work / "student"
    started = time.perf_counter()
    result = tabcompress.distill(tabcompress.Teacher.from_model(model), train, eval_data=held_out, seed=0,
                                 tsc=False, baseline=False, cache=False, categorical=categorical, out_dir=out_dir)
    info = {"distill_s": round(time.perf_counter() - started, 2), "type": type(result.student).__name__,
            "complexity": result.student.complexity(), "categorical": categorical,
            "fidelity": result.report["metrics"]["student"]["fidelity"]}
    return tabcompress.load_student(out_dir / "student.joblib"), info


def wrapper_way(student: Any, data: bench.Split, rows: Rows, args: argparse.Namespace, work: Path) -> Way:
    predict = _predict(student, data.classify)
    way = Way({"bytes": (work / "student" / "student.joblib").stat().st_size, "bytes_what": "student.joblib"})
    way.timers.append(Timer("student_wrapper", "as loaded", args.row_calls,
                            one=lambda i: predict(rows.one_rows[i]), batch=lambda: predict(rows.batch)))
    return way


def onnx_way(student: Any, data: bench.Split, rows: Rows, args: argparse.Namespace, work: Path,
             reference: np.ndarray) -> Way:
    from tabcompress.export import onnx_format
    from tabcompress.export.formats import export_student

    path = work / "student.onnx"
    export_student(student, "onnx", path)
    portable = student.portable()
    way = Way({"bytes": path.stat().st_size, "bytes_what": ".onnx file"})
    feeds = [onnx_format.feed(portable, r) for r in rows.one_rows]
    way.timers, run = ort_timers("student_onnx", path, data.classify, feeds, onnx_format.feed(portable, rows.batch),
                                 args.row_calls)
    way.record["agreement"] = agreement(reference, run(onnx_format.feed(portable, data.X_test)), data.classify)
    return way


def c_way(student: Any, data: bench.Split, rows: Rows, args: argparse.Namespace, work: Path,
          reference: np.ndarray) -> Way:
    from tabcompress.export import c_format
    from tabcompress.export.formats import export_student

    cc = c_compiler()
    if cc is None:
        raise RuntimeError("no C compiler (cc) on this machine")
    folder = work / "c"
    folder.mkdir()
    paths = export_student(student, "c", folder / "student.c")
    prefix = c_format.c_prefix("student") if hasattr(c_format, "c_prefix") else "student"
    (folder / "harness.c").write_text(C_HARNESS.replace("@P@", prefix).replace("@M@", prefix.upper()))
    flags = ["-O2", "-std=c99"]
    subprocess.run([cc, *flags, "-c", "student.c", "-o", "student.o"], cwd=folder, check=True, capture_output=True)
    subprocess.run([cc, *flags, "-o", "harness", "harness.c", "student.o", "-lm"], cwd=folder, check=True,
                   capture_output=True, text=True)
    columns = student.portable()["columns"]
    for file, frame in (("one.tsv", rows.one_frame), ("batch.tsv", rows.batch), ("held_out.tsv", data.X_test)):
        write_rows(frame, columns, folder / file)
    harness = str(folder / "harness")

    def call(*argv: str) -> list[int]:
        done = subprocess.run([harness, *argv], cwd=folder, check=True, capture_output=True, text=True)
        return [int(line) for line in done.stdout.split()]

    call("check", "held_out.tsv", "held_out.out")
    got = np.loadtxt(folder / "held_out.out", dtype=np.float64, ndmin=2)
    clock = stats_ns(call("clock", "1000"))
    way = Way({"bytes": sum(p.stat().st_size for p in paths), "bytes_what": ".c and .h sources",
               "files": {p.name: p.stat().st_size for p in paths},
               "compiled_bytes": (folder / "student.o").stat().st_size,
               "compiler": f"{cc} {' '.join(flags)}", "passes": args.c_passes, "clock_overhead": clock,
               "agreement": agreement(reference, got[:, 0] if not data.classify else got, data.classify)})

    def external(kind: str, start: int, count: int) -> list[int]:
        if kind == "one":
            return call("one", "one.tsv", str(start), str(count), str(args.c_passes)) if count else []
        return call("batch", "batch.tsv", str(count))

    way.timers.append(Timer("student_c", "in C", args.row_calls, external=external))
    return way


def python_way(student: Any, data: bench.Split, rows: Rows, args: argparse.Namespace, work: Path,
               reference: np.ndarray) -> Way:
    from tabcompress.export.formats import export_student

    path = work / "student_export.py"
    export_student(student, "python", path)
    spec = importlib.util.spec_from_file_location(f"latency_student_{os.getpid()}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    one = module.predict_proba if data.classify else module.predict
    many = getattr(module, "predict_proba_many" if data.classify else "predict_many", None)
    batch_is = "predict_proba_many" if data.classify else "predict_many"
    if many is None:
        many, batch_is = (lambda rs: [one(r) for r in rs]), "a loop of one-row calls"
    one_dicts = rows.one_frame.to_dict("records")
    batch_dicts = rows.batch.to_dict("records")
    got = np.asarray([one(r) for r in data.X_test.to_dict("records")], dtype=np.float64)
    way = Way({"bytes": path.stat().st_size, "bytes_what": ".py file", "batch_is": batch_is,
               "agreement": agreement(reference, got, data.classify)})
    way.timers.append(Timer("student_python", "as imported", args.row_calls, one=lambda i: one(one_dicts[i]),
                            batch=lambda: many(batch_dicts)))
    return way


STUDENT_WAYS = {"student_onnx": onnx_way, "student_c": c_way, "student_python": python_way}


# -- one dataset --------------------------------------------------------------------------------

def run_dataset(name: str, path: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    data = bench.load_split(name, path, args.seed, regime="full", max_train_rows=args.max_train_rows)
    log(f"{name}: {len(data.X_train):,} training rows, {len(data.X_test):,} held-out rows")
    rows = Rows.draw(data.X_test, args.row_calls, args.batch_rows, args.seed)
    out = []
    for kind in args.teachers:
        with tempfile.TemporaryDirectory(prefix=f"latency_{name}_{kind}_", dir=args.work) as tmp:
            work = Path(tmp)
            model, meta, ways = teacher_ways(kind, data, rows, args, work)
            student, info = distill_student(model, name, data, work)
            log(f"  student: {info['type']}, fidelity {info['fidelity']:.4f} on the held-out rows "
                f"(distilled in {info['distill_s']:.1f} s)")
            reference = np.asarray(_predict(student, data.classify)(data.X_test), dtype=np.float64)
            ways["student_wrapper"] = wrapper_way(student, data, rows, args, work)
            for key, make in STUDENT_WAYS.items():
                try:
                    ways[key] = make(student, data, rows, args, work, reference)
                except Exception as exc:  # noqa: BLE001 - a format that fails is reported, the run goes on
                    ways[key] = Way({"error": f"{type(exc).__name__}: {exc}"})
                    log(f"  {key}: not measured: {ways[key].record['error']}")
            load = os.getloadavg() if hasattr(os, "getloadavg") else None
            timed = time_all([t for w in ways.values() for t in w.timers], args.rounds, args.batch_calls)
            record = {"dataset": name, **meta, "task": "classification" if data.classify else "regression",
                      "train_rows": int(len(data.X_train)), "held_out_rows": int(len(data.X_test)),
                      "text_columns": data.text_columns,
                      "missing_cells_held_out": int(data.X_test.isna().to_numpy().sum()),
                      "teacher_threads_after_distill": getattr(final_estimator(model), "n_jobs", None),
                      "load_average_before_timing": list(load) if load else None,
                      "student": info, "ways": {}}
            for key, way in ways.items():
                record["ways"][key] = merge_timings(key, way, timed)
            record["ratios"] = ratios(record["ways"])
            log("  " + "; ".join(f"{key} {_us(w['one_row'])}/row, {_us(w['batch'])}/batch"
                                 for key, w in record["ways"].items() if "one_row" in w))
            out.append(record)
            del model, student, ways
            gc.collect()
    return out


def merge_timings(key: str, way: Way, timed: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """A way's record with its timings: per setting, and its figure (the faster setting's, for one row
    and for 10,000 rows apart)."""
    record = dict(way.record)
    settings = {setting: figures for (k, setting), figures in timed.items() if k == key}
    if not settings:
        return record
    record["settings"] = settings
    for size in ("one_row", "batch"):
        best = min(settings, key=lambda s: settings[s][size]["median_us"])
        record[size], record[f"{size}_setting"] = settings[best][size], best
    return record


def ratios(ways: dict[str, Any]) -> dict[str, Any]:
    """Teacher ÷ student for every teacher way and student way: one-row and 10,000-row latency (each at
    its faster setting; between two onnxruntime ways also at each thread setting alike) and bytes."""
    out: dict[str, Any] = {}
    for t, _ in WAYS:
        for s, _ in WAYS:
            a, b = ways.get(t, {}), ways.get(s, {})
            if not (t.startswith("teacher") and s.startswith("student") and "one_row" in a and "one_row" in b):
                continue
            pair = {size: a[size]["median_us"] / b[size]["median_us"] for size in ("one_row", "batch")}
            pair["bytes"] = a["bytes"] / b["bytes"] if a.get("bytes") and b.get("bytes") else None
            if b.get("compiled_bytes") and a.get("bytes"):
                pair["bytes_compiled"] = a["bytes"] / b["compiled_bytes"]
            for setting in set(a["settings"]) & set(b["settings"]) - {"as loaded"}:
                for size in ("one_row", "batch"):
                    pair[f"{size}_{setting}"] = (a["settings"][setting][size]["median_us"]
                                                 / b["settings"][setting][size]["median_us"])
            out[f"{t}/{s}"] = pair
    # against the teacher's fastest way on each dataset (for one row and for 10,000 rows apart) and its
    # smallest file: the comparison that no choice of the teacher's serving way flatters
    teachers = [ways[t] for t, _ in WAYS if t.startswith("teacher") and "one_row" in ways.get(t, {})]
    for s, _ in WAYS:
        b = ways.get(s, {})
        if not (s.startswith("student") and "one_row" in b and teachers):
            continue
        pair = {size: min(a[size]["median_us"] for a in teachers) / b[size]["median_us"]
                for size in ("one_row", "batch")}
        smallest = min(a["bytes"] for a in teachers if a.get("bytes"))
        pair["bytes"] = smallest / b["bytes"] if b.get("bytes") else None
        if b.get("compiled_bytes"):
            pair["bytes_compiled"] = smallest / b["compiled_bytes"]
        out[f"teacher_fastest/{s}"] = pair
    return out


# -- the whole run ------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=",".join(bench.ALL_DATASETS),
                   help="comma-separated dataset names (in --data-dir) or CSV paths; default: all 8")
    p.add_argument("--data-dir", type=Path, default=bench.DEFAULT_DATA_DIR)
    p.add_argument("--teachers", default="rf", help="comma-separated, from rf, xgb (default: rf)")
    p.add_argument("--seed", type=int, default=0, help="the split's, the teacher's and the draws' seed")
    p.add_argument("--max-train-rows", type=int, default=20_000)
    p.add_argument("--row-calls", type=int, default=1000, help="one-row calls per serving way (default 1000)")
    p.add_argument("--teacher-row-calls", type=int, default=200,
                   help="one-row calls of the teacher as loaded (default 200: each takes milliseconds)")
    p.add_argument("--c-passes", type=int, default=10,
                   help="the C harness times each one-row draw this many times (default 10)")
    p.add_argument("--batch-rows", type=int, default=10_000)
    p.add_argument("--batch-calls", type=int, default=5)
    p.add_argument("--rounds", type=int, default=10, help="interleaved rounds of one-row calls (default 10)")
    p.add_argument("--quick", action="store_true", help="smoke test: 30-tree teachers (bench/run.py's --quick)")
    p.add_argument("--name", default="latency")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: the system's temporary one)")
    args = p.parse_args(argv)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    args.teachers = [t.strip() for t in args.teachers.split(",") if t.strip()]
    bad = [t for t in args.teachers if t not in bench.TEACHERS]
    if bad:
        p.error(f"unknown teacher {', '.join(bad)}; choose from {', '.join(bench.TEACHERS)}")
    args.teacher_row_calls = min(args.teacher_row_calls, args.row_calls)
    args.rounds = max(1, min(args.rounds, args.teacher_row_calls))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    datasets = [bench.resolve_dataset(d, args.data_dir) for d in args.datasets]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    import onnxruntime

    results: dict[str, Any] = {
        "name": args.name,
        "command": " ".join(["python bench/latency.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished": None,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
                    "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
                    "cc": _cc_version()},
        "versions": {**versions(), **_extra_versions()},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "work"},
        "method": {"ort_threads": [t or "default (one per core)" for t in ORT_THREADS],
                   "onnxruntime_providers": onnxruntime.get_available_providers(), "timing": TIMING,
                   "bars": BARS},
        "runs": [],
    }
    started = time.perf_counter()
    for name, path in datasets:
        results["runs"].extend(run_dataset(name, path, args))
        results["elapsed_s"] = round(time.perf_counter() - started, 1)
        write(args.out, args.name, results)
    results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["summary"] = summarise(results["runs"])
    write(args.out, args.name, results)
    log(f"wrote {args.out / args.name}.json and .md ({results['elapsed_s']:.0f} s)")
    return 0


def _cc_version() -> str | None:
    cc = c_compiler()
    if cc is None:
        return None
    out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.returncode == 0 and out.stdout else None


def _extra_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("onnx", "onnxruntime", "skl2onnx", "onnxmltools"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def write(out: Path, name: str, results: dict[str, Any]) -> None:
    for suffix, text in ((".json", to_json(results)), (".md", render(results))):
        path = out / f"{name}{suffix}"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


# -- summary and tables ---------------------------------------------------------------------------

def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per teacher, the median over datasets of every ratio, and the done-when's rows: the exported
    student (ONNX, C) against the teacher in onnxruntime, and against the teacher's fastest way; bytes
    also against the pickled teacher, and the C student's also compiled."""
    out: dict[str, Any] = {}
    for kind in sorted({r["teacher"] for r in runs}):
        mine = [r for r in runs if r["teacher"] == kind]
        medians: dict[str, Any] = {}
        order = {key: i for i, (key, _) in enumerate(WAYS)}
        pairs = {p for r in mine for p in r["ratios"]}
        for pair in sorted(pairs, key=lambda p: tuple(order.get(k, 99) for k in p.split("/"))):
            measures = sorted({m for r in mine for m in r["ratios"].get(pair, {})})
            medians[pair] = {}
            for m in measures:
                values = [r["ratios"][pair][m] for r in mine if r["ratios"].get(pair, {}).get(m)]
                if values:
                    medians[pair][m] = {"median": statistics.median(values), "min": min(values), "max": max(values),
                                        "datasets": len(values)}
        done = []
        for teacher in ("teacher_onnx", "teacher_fastest"):
            for student in HEADLINE_STUDENTS:
                m = medians.get(f"{teacher}/{student}")
                if not m:
                    continue
                row = {"teacher": teacher, "student": student, "one_row": m["one_row"]["median"],
                       "batch": m["batch"]["median"], "bytes": m["bytes"]["median"],
                       "bytes_vs_pickled": medians.get(f"teacher_loaded/{student}", {}).get("bytes", {}).get("median"),
                       "bytes_compiled": m.get("bytes_compiled", {}).get("median"),
                       "datasets": m["one_row"]["datasets"]}
                sizes = [v for k, v in row.items() if k.startswith("bytes") and v]
                row["met"] = {"one_row": row["one_row"] >= BARS["one_row"], "batch": row["batch"] >= BARS["batch"],
                              "bytes": min(sizes) >= BARS["bytes"]}
                done.append(row)
        out[kind] = {"datasets": [r["dataset"] for r in mine], "medians": medians, "done_when": done}
    return out


def _us(stats: dict[str, Any] | None) -> str:
    if not stats:
        return ""
    v = stats["median_us"]
    if v < 1:
        return f"{v * 1000:,.0f} ns"
    return f"{v:,.2f} µs" if v < 1000 else f"{v / 1000:,.2f} ms" if v < 1e6 else f"{v / 1e6:,.2f} s"


def _bytes(n: int | None) -> str:
    if not n:
        return "–"
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} B"


def _x(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}×" if v >= 100 else f"{v:,.1f}×" if v >= 1 else f"{v:.2f}×"


def _label(key: str) -> str:
    return dict(WAYS).get(key, key)


def _setting(s: str) -> str:
    return {"ort_threads_1": "1 thread", "ort_threads_default": "default threads"}.get(s, s)


def _agreement(a: dict[str, Any] | None, key: str) -> str:
    if not a:
        return ""
    against = "the model's own" if key.startswith("teacher") else "the wrapper's"
    if "same_class" in a:
        return f"{a['same_class']:.2%} same class as {against}; largest probability difference {a['max_abs_diff']:.1e}"
    return f"largest difference {a['max_abs_diff_over_sd']:.1e} SD from {against} values"


def render(results: dict[str, Any]) -> str:
    runs = results["runs"]
    machine = results["machine"]
    rows = f"{results['settings']['batch_rows']:,} rows"
    lines = ["# Serving latency: teacher against student", "",
             "Written by `bench/latency.py` (`make bench-latency`) with its JSON; do not edit by hand.", "",
             f"**Command:** `{results['command']}`", "",
             f"**When and where:** started {results['started']}, finished {results['finished'] or '(still running)'}, "
             f"{results.get('elapsed_s', 0) / 60:.1f} min; {machine['cpu_count']} cores, load average at start "
             + ", ".join(f"{x:.2f}" for x in machine["load_average_at_start"] or [])
             + f"; {machine['platform']}; {machine['cc'] or 'no C compiler'}. Versions: "
             + ", ".join(f"{k} {v}" for k, v in results["versions"].items() if v) + ".", "",
             "## What each figure is", "",
             *(f"- **{label}**: {WAY_NOTES[key]}" for key, label in WAYS), "",
             results["method"]["timing"], "",
             "Ratios are teacher ÷ student, from the same run; medians are over datasets.", ""]
    summary = results.get("summary") or summarise(runs)
    for kind, s in summary.items():
        lines += [f"## Summary: {kind} teacher, median over {len(s['datasets'])} datasets", "",
                  f"The exported student against the teacher (bars: one row ≥ {BARS['one_row']:.0f}×, {rows} ≥ "
                  f"{BARS['batch']:.0f}×, bytes ≥ {BARS['bytes']:.0f}×, against the teacher in onnxruntime):", "",
                  f"| teacher | student | one row | {rows} | bytes | bytes vs the pickled teacher | bytes, compiled | "
                  "bars |", "|---|---|---:|---:|---:|---:|---:|---|"]
        for row in s["done_when"]:
            met = row["met"]
            bars = ", ".join(f"{m.replace('_', ' ')} {'met' if met[m] else '**not met**'}"
                             for m in ("one_row", "batch", "bytes"))
            lines.append(f"| {_label(row['teacher'])} | {_label(row['student'])} | {_x(row['one_row'])} "
                         f"| {_x(row['batch'])} "
                         f"| {_x(row['bytes'])} | {_x(row['bytes_vs_pickled'])} | {_x(row['bytes_compiled'])} | "
                         + (bars if row["teacher"] == "teacher_onnx" else "") + " |")
        lines += ["", "Every pair, median over datasets (min–max); each model at its faster onnxruntime thread "
                  "setting, then both at the same setting:", "",
                  f"| teacher | student | one row | {rows} | bytes | one row, 1 thread each | {rows}, default "
                  "threads each |", "|---|---|---:|---:|---:|---:|---:|"]
        for pair, m in s["medians"].items():
            t, st = pair.split("/")

            def cell(k: str, m: dict[str, Any] = m) -> str:
                return f"{_x(m[k]['median'])} ({_x(m[k]['min'])}–{_x(m[k]['max'])})" if k in m else ""

            lines.append(f"| {_label(t)} | {_label(st)} | {cell('one_row')} | {cell('batch')} | {cell('bytes')} | "
                         f"{cell('one_row_ort_threads_1')} | {cell('batch_ort_threads_default')} |")
        lines.append("")
    lines += ["## Per dataset", ""]
    for r in runs:
        lines += _dataset_table(r, rows)
    return "\n".join(lines).rstrip() + "\n"


def _dataset_table(r: dict[str, Any], rows: str) -> list[str]:
    ways = r["ways"]
    base = ways.get("teacher_onnx", {})
    teacher = f"{'Pipeline(one-hot → ' if r['pipeline'] else ''}{r['type']}{')' if r['pipeline'] else ''}"
    lines = [f"### {r['dataset']}, {r['teacher']} teacher", "",
             f"{r['task']}; {r['train_rows']:,} training rows, {r['held_out_rows']:,} held-out rows"
             + (f"; text columns {', '.join(r['text_columns'])}" if r["text_columns"] else "")
             + (f"; {r['missing_cells_held_out']:,} missing cells in the held-out rows"
                if r["missing_cells_held_out"] else "")
             + f". Teacher: {teacher}, {r['n_estimators']} trees, fitted in {r['fit_s']:.0f} s. Student: "
             f"{r['student']['type']}, fidelity {r['student']['fidelity']:.4f} on the held-out rows.", "",
             f"| serving way | bytes | one row | {rows} | one row at each setting | {rows} at each setting "
             f"| teacher in ORT ÷ this: one row | {rows} | bytes | agreement on the held-out rows |",
             "|---|---:|---:|---:|---|---|---:|---:|---:|---|"]
    for key, label in WAYS:
        w = ways.get(key)
        if w is None:
            continue
        if "one_row" not in w:
            why = w.get("error") or (w.get("conversion") or {}).get("error") or "not measured"
            lines.append(f"| {label} | {_bytes(w.get('bytes'))} | not measured: {why} | | | | | | | |")
            continue
        per = w.get("settings", {})
        each = {size: "; ".join(f"{_us(v[size])} ({_setting(s)})" for s, v in per.items()) if len(per) > 1 else ""
                for size in ("one_row", "batch")}
        vs = ["", "", ""]
        if "one_row" in base and key.startswith("student"):
            vs = [_x(base["one_row"]["median_us"] / w["one_row"]["median_us"]),
                  _x(base["batch"]["median_us"] / w["batch"]["median_us"]),
                  _x(base["bytes"] / w["bytes"]) if base.get("bytes") and w.get("bytes") else ""]
        lines.append(f"| {label} | {_bytes(w.get('bytes'))} | {_us(w['one_row'])} | {_us(w['batch'])} "
                     f"| {each['one_row']} "
                     f"| {each['batch']} | {vs[0]} | {vs[1]} | {vs[2]} | {_agreement(w.get('agreement'), key)} |")
    notes = []
    conv = base.get("conversion") or {}
    if conv.get("converter"):
        notes.append(f"teacher converted by {conv['converter']}"
                     + (f" in {conv['convert_s']:.0f} s" if "convert_s" in conv else ""))
    if conv.get("missing_flags_set") is not None:
        notes.append("skl2onnx writes no missing-value direction for a forest's splits (a NaN would go right): "
                     f"{conv['missing_flags_set']:,} splits set to send it left, as scikit-learn does")
    c = ways.get("student_c", {})
    if "compiled_bytes" in c:
        notes.append(f"C bytes: the .c and .h sources; compiled (`{c['compiler']} -c`) the student is "
                     f"{_bytes(c['compiled_bytes'])}; the clock's own cost in the harness, median "
                     f"{c['clock_overhead']['median_us'] * 1000:.0f} ns, is inside its one-row figure")
    return lines + [""] + [f"- {n}" for n in notes] + [""]


#: what each serving way's figures include, for the tables (the module docstring says the same)
WAY_NOTES = {
    "teacher_fastest": "on each dataset, the faster of the two above (for one row and for many rows apart), "
                       "and the smaller of their files.",
    "teacher_loaded": "`predict_proba` (`predict` for regression) of the fitted model on a DataFrame, with the "
                      "threads it was fitted with (a forest's n_jobs=-1). Bytes: pickled.",
    "teacher_onnx": "the model converted by skl2onnx (forests, pipelines) or onnxmltools (XGBoost); `session.run` "
                    "on float32 (and string) arrays built beforehand. Bytes: the .onnx file.",
    "student_wrapper": "`predict_proba` (`predict`) of the student `tabcompress.load_student` loads, on a "
                       "DataFrame. Bytes: student.joblib.",
    "student_onnx": "`export_student(student, \"onnx\", path)`; `session.run` on the inputs `onnx_format.feed` "
                    "built beforehand. Bytes: the .onnx file.",
    "student_c": "`export_student(student, \"c\", path)`, `cc -O2`; timed in C per row: the categories' codes "
                 "(`student_category_code` on the cell's text) and `student_predict_proba` (`student_predict`), on "
                 "rows already in memory, one thread; 10,000 rows: the same in a loop. Bytes: the .c and .h files.",
    "student_python": "`export_student(student, \"python\", path)`, imported; `predict_proba(row)` (`predict`) on "
                      "a dict; 10,000 rows: `predict_proba_many` (`predict_many`) of the dicts. Bytes: the .py file.",
}


if __name__ == "__main__":
    sys.exit(main())
