"""Export parity on every held-out row of the benchmark's datasets: each student family exported to ONNX,
C and Python against the Python student, row by row.

For each dataset: the full regime's split (20 % held out, stratified; at most ``--max-train-rows``
training rows), a random-forest teacher (``--teacher-trees`` trees; parity does not depend on how good
it is) labelling the training rows, and each family fitted on those rows and the teacher's
probabilities (values, for regression) at its default size. Every held-out row is scored twice: as it
is, and damaged (each cell missing with probability 0.1, each categorical cell replaced by a category
never seen with probability 0.1). Reported per dataset, family and format: rows, rows whose class
differs from the Python student's, and the largest difference in probabilities (absolute) or values
(relative).

    python bench/export_parity.py --out bench/results/export_parity.json   # about 10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

from run import ALL_DATASETS, DEFAULT_DATA_DIR, build_teacher, load_split, resolve_dataset  # noqa: E402
from test_export_c_python import _cells, _load, _write_rows, compile_c  # noqa: E402

from tabcompress import Teacher  # noqa: E402
from tabcompress.export import onnx_format  # noqa: E402
from tabcompress.export.formats import export_student  # noqa: E402
from tabcompress.students import make_student  # noqa: E402
from tabcompress.teachers import label_rows  # noqa: E402

FAMILIES = ("tree", "gbdt", "linear", "mlp")
# The C test driver holds this many rows at a time.
C_BLOCK = 4000


def damaged(X: pd.DataFrame, categorical: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = X.copy().astype({c: object for c in categorical})
    for column in X.columns:
        holes = rng.random(len(X)) < 0.1
        if column in categorical:
            unseen = (rng.random(len(X)) < 0.1) & ~holes
            out.loc[unseen, column] = "never seen"
        out.loc[holes, column] = np.nan
    return out


def compare(classify: bool, classes, expected_label, expected_proba, label, proba) -> dict:
    if classify:
        wrong = int(np.sum(np.asarray(label, dtype=object) != np.asarray(expected_label, dtype=object)))
        gap = float(np.max(np.abs(np.asarray(proba, dtype=np.float64) - expected_proba)))
        return {"rows": len(label), "class_differs": wrong, "max_abs_proba_diff": gap}
    value, expected = np.asarray(label, dtype=np.float64), np.asarray(expected_label, dtype=np.float64)
    gap = float(np.max(np.abs(value - expected) / np.maximum(np.abs(expected), 1e-12)))
    return {"rows": len(value), "class_differs": 0, "max_rel_value_diff": gap}


def run_onnx(student, rows: pd.DataFrame, directory: Path):
    path = export_student(student, "onnx", directory / "student.onnx")[0]
    out = onnx_format.session(path).run(None, onnx_format.feed(student.portable(), rows))
    return (out[0], out[1]) if len(out) == 2 else (out[0], None)


def run_python(student, rows: pd.DataFrame, directory: Path):
    path = export_student(student, "python", directory / f"student_{time.monotonic_ns()}.py")[0]
    module = _load(path)
    cells = _cells(rows)
    proba = None if module.CLASSES is None else module.predict_proba_many(cells)
    return module.predict_many(cells), proba


def run_c(student, rows: pd.DataFrame, directory: Path):
    driver = compile_c(student, directory)
    categorical = [c["name"] for c in student.portable()["columns"] if c["type"] == "categorical"]
    lines = []
    for start in range(0, len(rows), C_BLOCK):
        _write_rows(directory / "rows.txt", rows.iloc[start:start + C_BLOCK], categorical)
        done = subprocess.run([str(driver), "rows.txt"], cwd=directory, capture_output=True, text=True, check=True)
        lines += [line.split() for line in done.stdout.splitlines()]
    if getattr(student, "task_", "") == "regression":
        return [float(line[0]) for line in lines], None
    classes = list(student.classes_)
    return [classes[int(line[0])] for line in lines], [[float(v) for v in line[1:]] for line in lines]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(ALL_DATASETS))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--max-train-rows", type=int, default=20_000)
    parser.add_argument("--teacher-trees", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "export_parity.json")
    args = parser.parse_args(argv)
    results = []
    for spec in args.datasets.split(","):
        name, path = resolve_dataset(spec, args.data_dir)
        data = load_split(name, path, args.seed, regime="full", max_train_rows=args.max_train_rows)
        model = build_teacher("rf", data.classify, data.text_columns, args.seed, quick=True)
        model.set_params(**{f"{model.steps[-1][0]}__n_estimators" if hasattr(model, "steps") else "n_estimators":
                            args.teacher_trees})
        teacher = Teacher.from_model(model.fit(data.X_train, data.y_train))
        targets = label_rows(teacher, data.X_train)
        categorical = data.schema.categorical
        rows = pd.concat([data.X_test, damaged(data.X_test, categorical, args.seed)], ignore_index=True)
        for family in FAMILIES:
            params = {} if family == "linear" else {"random_state": args.seed}
            if family == "mlp":
                params["device"] = "cpu"
            student = make_student(family, **params).fit(
                data.X_train, targets, classes=teacher.classes_ if data.classify else None, categorical=categorical)
            expected = student.predict(rows)
            expected_proba = student.predict_proba(rows) if data.classify else None
            for fmt, runner in (("onnx", run_onnx), ("c", run_c), ("python", run_python)):
                with tempfile.TemporaryDirectory() as tmp:
                    started = time.perf_counter()
                    label, proba = runner(student, rows, Path(tmp))
                    entry = {"dataset": name, "family": family, "format": fmt,
                             **compare(data.classify, None, expected, expected_proba, label, proba),
                             "seconds": round(time.perf_counter() - started, 2)}
                results.append(entry)
                print(json.dumps(entry), file=sys.stderr, flush=True)
        args.out.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()},
                                        "results": results}, indent=1) + "\n")
    total = sum(r["rows"] for r in results)
    wrong = sum(r["class_differs"] for r in results)
    print(f"{len(results)} cells, {total:,} rows scored: {wrong} with a different class; largest probability "
          f"difference {max((r.get('max_abs_proba_diff', 0) for r in results), default=0):.2g}, largest relative "
          f"value difference {max((r.get('max_rel_value_diff', 0) for r in results), default=0):.2g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
