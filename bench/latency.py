"""make bench-latency: serving latency and bytes of the teacher and of its student, side by side.

For each dataset, in one process and one run, so that every ratio compares figures measured together:

* the teacher as ``bench/run.py`` trains it in the full regime (20 % of the rows held out, stratified;
  at most ``--max-train-rows`` training rows): RF300 (``rf``), and XGBoost (``xgb``, 400 rounds of depth
  6) when asked for; a Pipeline with a one-hot encoder in front where the data has text columns;
* the student ``tabcompress distill`` makes with its defaults on those training rows (a depth-6 tree):
  ``tabcompress.distill(teacher, train, eval_data=held_out, seed=0)``, the same run as ``tabcompress
  distill teacher.joblib train.csv --eval-data held_out.csv --seed 0 --no-tsc --no-baseline`` (every
  training row trains; the held-out rows score it; neither the TSC score nor the baseline changes the
  student);

and, for each way of serving it, the bytes it ships and its latency on held-out rows:

========================  =====================================================================================
teacher, as loaded        ``model.predict_proba(frame)`` (``predict`` for regression): scikit-learn or
                          XGBoost on a one-row (or 10,000-row) DataFrame, the threads the model was fitted
                          with (``n_jobs=-1``; XGBoost's own default). Bytes: pickled.
teacher, onnxruntime      the model converted by skl2onnx (forests, pipelines) or onnxmltools (XGBoost),
                          ``session.run`` on input arrays built beforehand. Bytes: the .onnx file.
student, Python wrapper   ``student.predict_proba(frame)`` (``predict`` for regression): the object
                          ``tabcompress.load_student`` returns. Bytes: ``student.joblib`` as distill writes it.
student, ONNX             ``export_student(student, "onnx", path)``, ``session.run`` on the input dict that
                          ``onnx_format.feed(portable, frame)`` builds beforehand. Bytes: the .onnx file.
student, C                ``export_student(student, "c", path)`` compiled with ``cc -O2`` into a harness
                          (:data:`C_HARNESS`) that times, in C, category coding (``<prefix>_category_code``)
                          and ``<prefix>_predict_proba`` per row. Bytes: the .c and .h sources, and the
                          compiled object (``cc -O2 -c``).
student, Python export    ``export_student(student, "python", path)``, imported, ``predict_proba(row)`` on a
                          dict per row (a loop of one-row calls for 10,000 rows). Bytes: the .py file.
========================  =====================================================================================

One row: the median over ``--row-calls`` calls (1,000; ``--teacher-row-calls``, 200, for the teacher as
loaded, whose calls take milliseconds), each on one row drawn at random from the held-out rows. 10,000
rows: the median of ``--batch-calls`` (5) calls on 10,000 held-out rows drawn at random (with
replacement where fewer are held out). Each timing starts after warm-up calls, with Python's garbage
collector off (as ``timeit`` does). onnxruntime runs with one intra-op thread for one row and its
default (every core) for 10,000 rows, the same for teacher and student; the other setting is measured
too and kept in the JSON and the tables. The C figures are measured in C, single-threaded, on rows
already parsed into memory; the Python and onnxruntime figures are measured from Python and include the
call from Python.

    python bench/latency.py                        # 8 datasets, RF300 teacher: bench/results/latency.{json,md}
    python bench/latency.py --teachers rf,xgb --datasets magic,adult --name latency_xgb
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
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

#: serving ways, in table order: (key, who, label)
WAYS = (
    ("teacher_loaded", "teacher", "teacher, as loaded"),
    ("teacher_onnx", "teacher", "teacher, onnxruntime"),
    ("student_wrapper", "student", "student, Python wrapper"),
    ("student_onnx", "student", "student, ONNX in onnxruntime"),
    ("student_c", "student", "student, compiled C"),
    ("student_python", "student", "student, Python export"),
)
#: the comparisons of the done-when: exported student against the teacher in onnxruntime
HEADLINE = (("student_onnx", "teacher_onnx"), ("student_c", "teacher_onnx"))
#: what each timing includes (the module docstring's paragraph, kept in the results)
TIMING = " ".join(next(p for p in __doc__.split("\n\n") if p.startswith("One row:")).split())
#: onnxruntime's intra-op threads in the headline figures (0: onnxruntime's default, every core)
ORT_THREADS = {"one_row": 1, "batch": 0}


# -- timing -------------------------------------------------------------------------------------

def stats_ns(times_ns: list[int]) -> dict[str, Any]:
    """Median, spread and count of call times (nanoseconds in, microseconds out)."""
    us = np.asarray(times_ns, dtype=np.float64) / 1000.0
    return {"median_us": float(np.median(us)), "p10_us": float(np.percentile(us, 10)),
            "p90_us": float(np.percentile(us, 90)), "min_us": float(us.min()), "mean_us": float(us.mean()),
            "calls": int(len(us))}


def time_calls(call: Callable[[Any], Any], inputs: list[Any], warmup: int = 3) -> dict[str, Any]:
    """Time ``call(x)`` once for each of ``inputs``, after ``warmup`` calls on the first ones; the garbage
    collector is off while it runs."""
    for x in inputs[:warmup]:
        call(x)
    times = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        clock = time.perf_counter_ns
        for x in inputs:
            start = clock()
            call(x)
            times.append(clock() - start)
    finally:
        if enabled:
            gc.enable()
    return stats_ns(times)


def time_repeated(call: Callable[[], Any], calls: int, warmup: int = 1) -> dict[str, Any]:
    return time_calls(lambda _: call(), [None] * calls, warmup)


# -- rows -----------------------------------------------------------------------------------------

@dataclass
class Rows:
    """The held-out rows the timings draw from: one-row draws and the batch."""

    held_out: pd.DataFrame
    one_row_index: np.ndarray
    batch_index: np.ndarray
    one_rows: list[pd.DataFrame] = field(default_factory=list)
    batch: pd.DataFrame | None = None

    @classmethod
    def draw(cls, held_out: pd.DataFrame, row_calls: int, batch_rows: int, seed: int) -> Rows:
        rng = np.random.default_rng(seed)
        n = len(held_out)
        one = rng.choice(n, size=row_calls, replace=row_calls > n)
        batch = rng.choice(n, size=batch_rows, replace=batch_rows > n)
        rows = cls(held_out, one, batch)
        rows.one_rows = [held_out.iloc[[i]] for i in one]
        rows.batch = held_out.iloc[batch].reset_index(drop=True)
        return rows


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
            onx = skl2onnx.convert_sklearn(model, initial_types=teacher_inputs(model, X_train, text_columns), options=options,
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
    """The output to fetch: the probability tensor (classification) or the values (regression)."""
    outputs = session.get_outputs()
    if classify:
        for o in outputs:
            if "prob" in o.name.lower() or o.type == "tensor(float)" and len(o.shape or []) == 2:
                return o.name
    return outputs[-1].name if classify else outputs[0].name


# -- the C harness ------------------------------------------------------------------------------

C_HARNESS = r"""
/* bench/latency.py's harness: times the exported student in C. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "@HEADER@"

#define N_COLUMNS @N_COLUMNS@
#define N_OUTPUTS @N_OUTPUTS@
static const int IS_CATEGORICAL[N_COLUMNS] = {@IS_CATEGORICAL@};

typedef struct { double number[N_COLUMNS]; const char *text[N_COLUMNS]; } row_t;

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof(double), compare);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* one row: code its categories, then predict */
static volatile double sink;
static void predict_row(const row_t *row, double *out) {
@PREDICT_ROW@
}

/* rows file: one row a line, cells tab-separated in the student's column order, empty when missing */
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
        for (int c = 0; c < N_COLUMNS; c++) {
            char *end = strchr(cell, '\t');
            if (end) *end = 0;
            rows[n].text[c] = NULL;
            if (IS_CATEGORICAL[c]) rows[n].text[c] = *cell ? strdup(cell) : NULL;
            rows[n].number[c] = *cell ? strtod(cell, NULL) : NAN_VALUE;
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
    if (argc != 7) {
        fprintf(stderr, "usage: %s ONE_ROWS BATCH_ROWS ROW_PASSES BATCH_CALLS OUTPUTS_FILE RESULT_FILE\n", argv[0]);
        return 2;
    }
    int n_one, n_batch;
    row_t *one = read_rows(argv[1], &n_one);
    row_t *batch = read_rows(argv[2], &n_batch);
    int passes = atoi(argv[3]), batch_calls = atoi(argv[4]);
    double out[N_OUTPUTS];

    /* the outputs of the one-row draws, for the check against the Python student */
    FILE *check = fopen(argv[5], "w");
    for (int i = 0; i < n_one; i++) {
        predict_row(&one[i], out);
        for (int k = 0; k < N_OUTPUTS; k++) fprintf(check, k ? "\t%.17g" : "%.17g", out[k]);
        fprintf(check, "\n");
    }
    fclose(check);

    /* one row: every draw timed on its own, the whole set passed over ROW_PASSES times */
    int n_times = n_one * passes;
    double *times = malloc(sizeof(double) * n_times);
    for (int i = 0; i < 100 && i < n_one; i++) predict_row(&one[i], out); /* warm-up */
    for (int p = 0; p < passes; p++) {
        for (int i = 0; i < n_one; i++) {
            double start = now_ns();
            predict_row(&one[i], out);
            times[p * n_one + i] = now_ns() - start;
            sink += out[0];
        }
    }
    /* the clock's own cost: an empty timed block */
    double *empty = malloc(sizeof(double) * n_one);
    for (int i = 0; i < n_one; i++) { double start = now_ns(); empty[i] = now_ns() - start; }
    /* the batch: every row in a loop, BATCH_CALLS times */
    double *batch_times = malloc(sizeof(double) * batch_calls);
    for (int i = 0; i < n_batch; i++) predict_row(&batch[i], out); /* warm-up */
    for (int b = 0; b < batch_calls; b++) {
        double start = now_ns();
        for (int i = 0; i < n_batch; i++) { predict_row(&batch[i], out); sink += out[0]; }
        batch_times[b] = now_ns() - start;
    }
    double total = 0;
    for (int i = 0; i < n_times; i++) total += times[i];
    double mean = total / n_times;
    double row_median = median(times, n_times);
    double row_p10 = times[(int)(0.1 * (n_times - 1))], row_p90 = times[(int)(0.9 * (n_times - 1))];
    double row_min = times[0];
    FILE *result = fopen(argv[6], "w");
    fprintf(result, "{\"one_row\": {\"median_us\": %.6f, \"p10_us\": %.6f, \"p90_us\": %.6f, \"min_us\": %.6f, "
            "\"mean_us\": %.6f, \"calls\": %d, \"clock_overhead_median_us\": %.6f}, ",
            row_median / 1e3, row_p10 / 1e3, row_p90 / 1e3, row_min / 1e3, mean / 1e3, n_times,
            median(empty, n_one) / 1e3);
    fprintf(result, "\"batch\": {\"median_us\": %.6f, \"min_us\": %.6f, \"calls\": %d, \"rows\": %d}}\n",
            median(batch_times, batch_calls) / 1e3, batch_times[0] / 1e3, batch_calls, n_batch);
    fclose(result);
    return 0;
}
"""


# -- one dataset and teacher --------------------------------------------------------------------

def measure_teacher(kind: str, data: bench.Split, rows: Rows, args: argparse.Namespace, work: Path,
                    log: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
    """Fit the teacher as the benchmark does; its bytes, its conversion to ONNX and its latencies."""
    classify = data.classify
    model = bench.build_teacher(kind, classify, data.text_columns, args.seed, args.quick)
    started = time.perf_counter()
    model.fit(data.X_train, data.y_train)
    record: dict[str, Any] = {"teacher": kind, "type": type(final_estimator(model)).__name__,
                              "pipeline": hasattr(model, "steps"), "fit_s": round(time.perf_counter() - started, 2)}
    predict = model.predict_proba if classify else model.predict
    record["ways"] = ways = {}
    ways["teacher_loaded"] = {"bytes": serialized_bytes(model), "bytes_what": "pickled (highest protocol)",
                              "threads": _threads_of(model)}
    onnx_path = work / f"teacher_{kind}.onnx"
    conversion = convert_teacher(kind, model, data.X_train, data.text_columns, classify, onnx_path)
    ways["teacher_onnx"] = {"conversion": conversion, "bytes": conversion.get("bytes"), "bytes_what": ".onnx file"}
    log(f"  teacher {kind}: fitted in {record['fit_s']:.1f} s, {ways['teacher_loaded']['bytes'] / 2**20:.1f} MiB "
        f"pickled; ONNX: " + (f"{conversion['bytes'] / 2**20:.1f} MiB in {conversion['convert_s']:.1f} s"
                              if "error" not in conversion else conversion["error"]))

    # as loaded: one-row frames and the 10,000-row frame
    calls = rows.one_rows[: args.teacher_row_calls]
    ways["teacher_loaded"]["one_row"] = time_calls(predict, calls)
    ways["teacher_loaded"]["batch"] = time_repeated(lambda: predict(rows.batch), args.batch_calls)
    reference = np.asarray(predict(rows.held_out), dtype=np.float64)

    if "error" not in conversion:
        ort = ways["teacher_onnx"]
        feeds = [teacher_feed(r, data.text_columns) for r in rows.one_rows]
        batch_feed = teacher_feed(rows.batch, data.text_columns)
        for threads in (1, 0):
            session = ort_session(onnx_path, threads)
            output = [ort_output(session, classify)]
            tag = _threads_tag(threads)
            ort[f"one_row_{tag}"] = time_calls(lambda f: session.run(output, f), feeds)
            ort[f"batch_{tag}"] = time_repeated(lambda: session.run(output, batch_feed), args.batch_calls)
            if threads == 1:
                got = np.asarray(session.run(output, teacher_feed(rows.held_out, data.text_columns))[0], np.float64)
                ort["agreement"] = agreement(reference, got, classify)
        ort["one_row"] = ort[f"one_row_{_threads_tag(ORT_THREADS['one_row'])}"]
        ort["batch"] = ort[f"batch_{_threads_tag(ORT_THREADS['batch'])}"]
    return model, record


def _threads_tag(threads: int) -> str:
    return "threads_default" if threads == 0 else f"threads_{threads}"


def _threads_of(model: Any) -> Any:
    estimator = final_estimator(model)
    return getattr(estimator, "n_jobs", None)


def agreement(reference: np.ndarray, got: np.ndarray, classify: bool) -> dict[str, Any]:
    """How closely a serving way reproduces a reference on the held-out rows: the share of rows with the
    same class (classification) and the largest difference of a probability (value)."""
    got = got.reshape(reference.shape)
    out: dict[str, Any] = {"rows": int(len(reference)), "max_abs_diff": float(np.nanmax(np.abs(reference - got)))}
    if classify:
        out["same_class"] = float(np.mean(reference.argmax(axis=1) == got.argmax(axis=1)))
    else:
        spread = float(np.std(reference)) or 1.0
        out["max_abs_diff_over_sd"] = out["max_abs_diff"] / spread
    return out


def distill_student(teacher_model: Any, name: str, data: bench.Split, work: Path) -> tuple[Any, dict[str, Any]]:
    """The default student of ``tabcompress distill`` on the training rows, scored on the held-out rows."""
    import tabcompress

    train = data.X_train.assign(target=data.y_train.to_numpy())
    held_out = data.X_test.assign(target=data.y_test.to_numpy())
    teacher = tabcompress.Teacher.from_model(teacher_model)
    categorical = list(bench.KNOWN_CATEGORICAL.get(name, ())) or None
    out_dir = work / "student"
    started = time.perf_counter()
    result = tabcompress.distill(teacher, train, eval_data=held_out, seed=0, tsc=False, baseline=False,
                                 cache=False, categorical=categorical, out_dir=out_dir)
    report = result.report
    info = {"distill_s": round(time.perf_counter() - started, 2), "student": report["student"].get("type"),
            "complexity": result.student.complexity(), "categorical": categorical,
            "fidelity": report["metrics"]["student"]["fidelity"],
            "joblib": str(out_dir / "student.joblib")}
    return tabcompress.load_student(out_dir / "student.joblib"), info


def measure_student(student: Any, info: dict[str, Any], data: bench.Split, rows: Rows, args: argparse.Namespace,
                    work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    classify = data.classify
    ways: dict[str, Any] = {}
    predict = student.predict_proba if classify else student.predict
    ways["student_wrapper"] = {"bytes": Path(info["joblib"]).stat().st_size, "bytes_what": "student.joblib",
                               "one_row": time_calls(predict, rows.one_rows),
                               "batch": time_repeated(lambda: predict(rows.batch), args.batch_calls)}
    reference = np.asarray(predict(rows.held_out), dtype=np.float64)
    for key, measure in (("student_onnx", student_onnx), ("student_c", student_c),
                         ("student_python", student_python)):
        try:
            ways[key] = measure(student, data, rows, args, work, reference)
        except Exception as exc:  # noqa: BLE001 - a format that fails is reported, the run goes on
            ways[key] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"  {key}: {ways[key]['error']}")
    return ways


def student_onnx(student: Any, data: bench.Split, rows: Rows, args: argparse.Namespace, work: Path,
                 reference: np.ndarray) -> dict[str, Any]:
    from tabcompress.export import onnx_format
    from tabcompress.export.formats import export_student

    path = work / "student.onnx"
    export_student(student, "onnx", path)
    portable = student.portable()
    way: dict[str, Any] = {"bytes": path.stat().st_size, "bytes_what": ".onnx file"}
    feeds = [onnx_format.feed(portable, r) for r in rows.one_rows]
    batch_feed = onnx_format.feed(portable, rows.batch)
    for threads in (1, 0):
        session = ort_session(path, threads)
        output = [student_ort_output(session, data.classify)]
        tag = _threads_tag(threads)
        way[f"one_row_{tag}"] = time_calls(lambda f: session.run(output, f), feeds)
        way[f"batch_{tag}"] = time_repeated(lambda: session.run(output, batch_feed), args.batch_calls)
        if threads == 1:
            got = np.asarray(session.run(output, onnx_format.feed(portable, rows.held_out))[0], np.float64)
            way["agreement"] = agreement(reference, got, data.classify)
    way["one_row"] = way[f"one_row_{_threads_tag(ORT_THREADS['one_row'])}"]
    way["batch"] = way[f"batch_{_threads_tag(ORT_THREADS['batch'])}"]
    return way


def student_ort_output(session: Any, classify: bool) -> str:
    names = [o.name for o in session.get_outputs()]
    for want in (("probabilities", "proba") if classify else ("value", "values", "variable", "prediction")):
        for n in names:
            if want in n.lower():
                return n
    return names[-1] if classify else names[0]


def student_python(student: Any, data: bench.Split, rows: Rows, args: argparse.Namespace, work: Path,
                   reference: np.ndarray) -> dict[str, Any]:
    import importlib.util

    from tabcompress.export.formats import export_student

    path = work / "student_export.py"
    export_student(student, "python", path)
    spec = importlib.util.spec_from_file_location(f"latency_student_{os.getpid()}_{id(path)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    predict = module.predict_proba if data.classify else module.predict
    dict_rows = lambda frame: [dict(zip(frame.columns, values)) for values in frame.itertuples(index=False)]  # noqa: E731
    one = [d for r in rows.one_rows for d in dict_rows(r)]
    batch = dict_rows(rows.batch)
    got = np.asarray([_as_vector(predict(r)) for r in dict_rows(rows.held_out)], dtype=np.float64)
    return {"bytes": path.stat().st_size, "bytes_what": ".py file",
            "one_row": time_calls(predict, one),
            "batch": time_repeated(lambda: [predict(r) for r in batch], args.batch_calls),
            "batch_is": "a Python loop of one-row calls",
            "agreement": agreement(reference, got, data.classify)}


def _as_vector(value: Any) -> Any:
    if isinstance(value, dict):
        return list(value.values())
    return value


def student_c(student: Any, data: bench.Split, rows: Rows, args: argparse.Namespace, work: Path,
              reference: np.ndarray) -> dict[str, Any]:
    raise NotImplementedError("the C harness waits for tabcompress.export.c_format")


# -- the whole run ------------------------------------------------------------------------------

def run_dataset(name: str, path: Path, args: argparse.Namespace, log: Callable[[str], None]) -> list[dict[str, Any]]:
    data = bench.load_split(name, path, args.seed, regime="full", max_train_rows=args.max_train_rows)
    log(f"{name}: {len(data.X_train):,} training rows, {len(data.X_test):,} held-out rows")
    rows = Rows.draw(data.X_test, args.row_calls, args.batch_rows, args.seed)
    out = []
    for kind in args.teachers:
        with tempfile.TemporaryDirectory(prefix=f"latency_{name}_{kind}_", dir=args.work) as tmp:
            work = Path(tmp)
            model, record = measure_teacher(kind, data, rows, args, work, log)
            student, info = distill_student(model, name, data, work)
            log(f"  student: {info['student']}, fidelity {info['fidelity']:.4f} on the held-out rows "
                f"(distilled in {info['distill_s']:.1f} s)")
            record["student"] = {k: v for k, v in info.items() if k != "joblib"}
            record["ways"].update(measure_student(student, info, data, rows, args, work, log))
            record.update(dataset=name, task="classification" if data.classify else "regression",
                          train_rows=int(len(data.X_train)), held_out_rows=int(len(data.X_test)),
                          text_columns=data.text_columns, missing_cells=int(data.X_test.isna().to_numpy().sum()))
            record["ratios"] = ratios(record["ways"])
            log("  " + "  ".join(f"{way} {w['one_row']['median_us']:.1f} µs/row, {w['batch']['median_us'] / 1e3:.2f} ms/batch"
                                 for way, w in record["ways"].items() if "one_row" in w))
            out.append(record)
            del model, student
            gc.collect()
    return out


def ratios(ways: dict[str, Any]) -> dict[str, Any]:
    """Teacher over student, for every pair of a teacher way and a student way: one-row and batch
    latency, and bytes."""
    out: dict[str, Any] = {}
    for t, who_t, _ in WAYS:
        if who_t != "teacher" or "one_row" not in ways.get(t, {}):
            continue
        for s, who_s, _ in WAYS:
            if who_s != "student" or "one_row" not in ways.get(s, {}):
                continue
            a, b = ways[t], ways[s]
            out[f"{t}/{s}"] = {
                "one_row": a["one_row"]["median_us"] / b["one_row"]["median_us"],
                "batch": a["batch"]["median_us"] / b["batch"]["median_us"],
                "bytes": a["bytes"] / b["bytes"] if a.get("bytes") and b.get("bytes") else None,
            }
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=",".join(bench.ALL_DATASETS),
                   help="comma-separated dataset names (in --data-dir) or CSV paths; default: all 8")
    p.add_argument("--data-dir", type=Path, default=bench.DEFAULT_DATA_DIR)
    p.add_argument("--teachers", default="rf", help="comma-separated, from rf, xgb (default: rf)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-train-rows", type=int, default=20_000)
    p.add_argument("--row-calls", type=int, default=1000, help="one-row calls per serving way (default 1000)")
    p.add_argument("--teacher-row-calls", type=int, default=200,
                   help="one-row calls of the teacher as loaded (default 200: each takes milliseconds)")
    p.add_argument("--c-passes", type=int, default=10,
                   help="the C harness times each one-row draw this many times (default 10)")
    p.add_argument("--batch-rows", type=int, default=10_000)
    p.add_argument("--batch-calls", type=int, default=5)
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
    return args


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    datasets = [bench.resolve_dataset(d, args.data_dir) for d in args.datasets]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    import onnxruntime

    results: dict[str, Any] = {
        "name": args.name,
        "command": "python bench/latency.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished": None,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
                    "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
                    "cc": _cc_version()},
        "versions": {**versions(), **_extra_versions()},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in ("work",)},
        "method": {"ort_threads": {k: v or "default (every core)" for k, v in ORT_THREADS.items()},
                   "onnxruntime_providers": onnxruntime.get_available_providers(),
                   "timing": TIMING},
        "runs": [],
    }
    started = time.perf_counter()
    for name, path in datasets:
        results["runs"].extend(run_dataset(name, path, args, log))
        results["elapsed_s"] = round(time.perf_counter() - started, 1)
        write(args.out, args.name, results)
    results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["summary"] = summarise(results["runs"])
    write(args.out, args.name, results)
    log(f"wrote {args.out / (args.name + '.json')} and .md ({results['elapsed_s']:.0f} s)")
    return 0


def _cc_version() -> str | None:
    cc = shutil.which("cc")
    if cc is None:
        return None
    out = subprocess.run([cc, "--version"], capture_output=True, text=True)
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

#: the done-when's bars: exported student against the teacher in onnxruntime
BARS = {"one_row": 10.0, "batch": 100.0, "bytes": 100.0}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per teacher, the median over datasets of every ratio, and the done-when's rows: the exported
    student (ONNX, C) against the teacher in onnxruntime (bytes also against the pickled teacher)."""
    out: dict[str, Any] = {}
    for kind in sorted({r["teacher"] for r in runs}):
        mine = [r for r in runs if r["teacher"] == kind]
        medians: dict[str, Any] = {}
        for pair in sorted({p for r in mine for p in r["ratios"]}):
            values = {m: [r["ratios"][pair][m] for r in mine if pair in r["ratios"] and r["ratios"][pair][m]]
                      for m in ("one_row", "batch", "bytes")}
            medians[pair] = {m: {"median": statistics.median(v), "min": min(v), "max": max(v), "datasets": len(v)}
                             for m, v in values.items() if v}
        done = {}
        for student, teacher in HEADLINE:
            pair = f"{teacher}/{student}"
            if pair not in medians:
                continue
            row = {m: medians[pair][m]["median"] for m in ("one_row", "batch") if m in medians[pair]}
            pickled = medians.get(f"teacher_loaded/{student}", {}).get("bytes")
            row["bytes_vs_onnx"] = medians[pair].get("bytes", {}).get("median")
            row["bytes_vs_pickled"] = pickled["median"] if pickled else None
            row["datasets"] = medians[pair]["one_row"]["datasets"]
            row["met"] = {"one_row": row.get("one_row", 0) >= BARS["one_row"],
                          "batch": row.get("batch", 0) >= BARS["batch"],
                          "bytes": min(x for x in (row["bytes_vs_onnx"], row["bytes_vs_pickled"]) if x) >= BARS["bytes"]}
            done[student] = row
        out[kind] = {"medians": medians, "done_when": done, "datasets": [r["dataset"] for r in mine]}
    return out


def _us(stats: dict[str, Any] | None) -> str:
    if not stats:
        return "–"
    v = stats["median_us"]
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


def render(results: dict[str, Any]) -> str:
    runs = results["runs"]
    lines = ["# Serving latency: teacher against student", "",
             f"Written by `bench/latency.py` (`make bench-latency`); do not edit by hand.", "",
             f"**Command:** `{results['command']}`", "",
             f"**When and where:** started {results['started']}, finished {results['finished'] or '(running)'}, "
             f"{results.get('elapsed_s', 0) / 60:.1f} min; {results['machine']['cpu_count']} cores, load average at "
             f"start {', '.join(f'{x:.2f}' for x in results['machine']['load_average_at_start'] or [])}; "
             f"{results['machine']['platform']}; {results['machine']['cc'] or 'no C compiler'}. Versions: "
             + ", ".join(f"{k} {v}" for k, v in results["versions"].items() if v) + ".", "",
             "## What each figure is", "", results["method"]["timing"], "",
             "onnxruntime: one intra-op thread for one row, its default (every core) for 10,000 rows, for teacher "
             "and student alike; the other setting is in the per-dataset tables. The C harness runs on one thread. "
             "Ratios are teacher ÷ student from the same run; medians are over datasets.", ""]
    summary = results.get("summary") or summarise(runs)
    for kind, s in summary.items():
        lines += [f"## Summary: {kind} teacher, median over {len(s['datasets'])} datasets", "",
                  "| student | one row vs teacher in ORT | 10,000 rows vs teacher in ORT | bytes vs teacher .onnx | "
                  "bytes vs teacher pickled | bars (10× / 100× / 100×) |", "|---|---:|---:|---:|---:|---|"]
        for student, row in s["done_when"].items():
            met = row["met"]
            lines.append(f"| {_label(student)} | {_x(row.get('one_row'))} | {_x(row.get('batch'))} | "
                         f"{_x(row['bytes_vs_onnx'])} | {_x(row['bytes_vs_pickled'])} | "
                         + " / ".join("met" if met[m] else "**not met**" for m in ("one_row", "batch", "bytes")) + " |")
        lines += ["", "Every pair (teacher way ÷ student way), median over datasets (min–max):", "",
                  "| teacher | student | one row | 10,000 rows | bytes |", "|---|---|---:|---:|---:|"]
        for pair, m in s["medians"].items():
            t, st = pair.split("/")
            cells = [f"{_x(m[k]['median'])} ({_x(m[k]['min'])}–{_x(m[k]['max'])})" if k in m else "–"
                     for k in ("one_row", "batch", "bytes")]
            lines.append(f"| {_label(t)} | {_label(st)} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Per dataset", ""]
    for r in runs:
        ways = r["ways"]
        base = ways.get("teacher_onnx", {})
        lines += [f"### {r['dataset']}, {r['teacher']} teacher", "",
                  f"{r['task']}; {r['train_rows']:,} training rows, {r['held_out_rows']:,} held-out rows"
                  + (f", text columns {', '.join(r['text_columns'])}" if r["text_columns"] else "")
                  + (f", {r['missing_cells']:,} missing cells held out" if r["missing_cells"] else "")
                  + f". Teacher: {'Pipeline(one-hot → ' if r['pipeline'] else ''}{r['type']}"
                  + (")" if r["pipeline"] else "") + f", fitted in {r['fit_s']:.0f} s. Student: {r['student']['student']}, "
                  f"fidelity {r['student']['fidelity']:.4f} on the held-out rows.", "",
                  "| serving way | bytes | one row | 10,000 rows | one row, other ORT threads | "
                  "10,000 rows, other ORT threads | teacher ORT ÷ this, one row | ÷ this, 10,000 rows | "
                  "agreement on held-out rows |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for key, _, label in WAYS:
            w = ways.get(key)
            if w is None:
                continue
            if "one_row" not in w:
                why = w.get("error") or (w.get("conversion") or {}).get("error") or "not measured"
                lines.append(f"| {label} | {_bytes(w.get('bytes'))} | not measured: {why} | | | | | | |")
                continue
            other_one = w.get(f"one_row_{_threads_tag(ORT_THREADS['batch'])}")
            other_batch = w.get(f"batch_{_threads_tag(ORT_THREADS['one_row'])}")
            vs = ("", "")
            if "one_row" in base and key.startswith("student"):
                vs = (_x(base["one_row"]["median_us"] / w["one_row"]["median_us"]),
                      _x(base["batch"]["median_us"] / w["batch"]["median_us"]))
            lines.append(f"| {label} | {_bytes(w.get('bytes'))} | {_us(w['one_row'])} | {_us(w['batch'])} | "
                         f"{_us(other_one) + ' (default)' if other_one else ''} | "
                         f"{_us(other_batch) + ' (1 thread)' if other_batch else ''} | {vs[0]} | {vs[1]} | "
                         f"{_agreement(w.get('agreement'), key)} |")
        notes = []
        conv = base.get("conversion") or {}
        if conv.get("converter"):
            notes.append(f"teacher converted by {conv['converter']}" + (f" in {conv['convert_s']:.0f} s" if "convert_s" in conv else ""))
        if conv.get("missing_flags_set") is not None:
            notes.append(f"skl2onnx writes no missing-value direction for a forest's splits: "
                         f"{conv['missing_flags_set']:,} splits set to send NaN left, as scikit-learn does")
        if "student_c" in ways and "compiled_bytes" in ways["student_c"]:
            c = ways["student_c"]
            notes.append(f"C bytes are the .c and .h sources; compiled (`cc -O2 -c`) the student is "
                         f"{_bytes(c['compiled_bytes'])}")
        lines += ["", *(f"- {n}" for n in notes), ""] if notes else [""]
    return "\n".join(lines).rstrip() + "\n"


def _label(key: str) -> str:
    return {k: label for k, _, label in WAYS}.get(key, key)


def _agreement(a: dict[str, Any] | None, key: str) -> str:
    if not a:
        return ""
    against = "the model's own" if key.startswith("teacher") else "the wrapper's"
    if "same_class" in a:
        return f"{a['same_class']:.2%} same class as {against}; max probability diff. {a['max_abs_diff']:.1e}"
    return f"max diff {a['max_abs_diff_over_sd']:.1e} SD of {against} values"


if __name__ == "__main__":
    sys.exit(main())
