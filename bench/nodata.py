"""The methods that do without the training rows, beside the data-based ones, on bench/run.py's splits.

For each dataset, seed and teacher — the same 3,000 training rows, 5,000 held-out rows and teacher as
``bench/run.py`` (its functions are reused) — the held-out fidelity of:

* ``datafree``     ``tabcompress.run.modes.train_data_free``: rows sampled from the teacher's trees,
                   no real row at all (students tree4, tree8, mlp64x64);
* ``fewshotK``     ``train_few_shot`` from K prototypes per class (or per target bin, regression) made by
                   ``tabcompress.methods.condense.condense`` from the training rows, K = 1, 5, 10;
* ``protosK``      the same student on the K-per-class prototypes alone (``train_few_shot``'s baseline);
* ``plain``        ``train_student`` with the library's defaults for the MLP (the data-based default);
* ``adversarial``  the same with ``adversarial=True`` (adversarial_weight 0.5), the same fitted generator.

Results go to ``--out`` (JSON), rewritten after every teacher of every dataset; progress on stderr.
``bench/render.py --nodata PATH`` renders them beside full.json's tabcompress and B1 cells.

    OMP_NUM_THREADS=1 python bench/nodata.py --datasets adult,magic --out bench/results/nodata_a.json
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import traceback
import warnings
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402

from tabcompress import Teacher, evaluation  # noqa: E402
from tabcompress.generators.cache import fit_generator  # noqa: E402
from tabcompress.generators.registry import build_generator, resolve_generator  # noqa: E402
from tabcompress.methods.condense import condense  # noqa: E402
from tabcompress.run.modes import train_data_free, train_few_shot, train_student  # noqa: E402
from tabcompress.teachers.labeling import label_rows  # noqa: E402

warnings.filterwarnings("ignore", message=".*sklearn.utils.parallel.delayed.*")

RUN_ARGS = SimpleNamespace(tabcompress_epochs=None, set={})  # what run.tabcompress_config reads: the defaults


def config_for(seed: int, student: str, **changes: Any):
    return run.tabcompress_config(RUN_ARGS, seed, student).replace(**changes)


def scores(teacher: Teacher, teacher_pred: np.ndarray, y_test: pd.Series, student, X_test: pd.DataFrame):
    pred = student.predict(X_test)
    return {**evaluation.fidelity(teacher.task, teacher_pred, pred),
            **{f"target_{k}": v for k, v in evaluation.against_target(teacher.task, y_test.to_numpy(), pred).items()}}


def run_dataset(name: str, path: Path, seed: int, a: argparse.Namespace, results: dict[str, Any],
                out: Path) -> None:
    data = run.load_split(name, path, seed)
    X_train, X_test, y_train, y_test = data.X_train, data.X_test, data.y_train, data.y_test
    schema, classify, text_columns = data.schema, data.classify, data.text_columns
    task = "classification" if classify else "regression"
    results["datasets"].setdefault(name, {"task": task, "train_rows": len(X_train), "test_rows": len(X_test)})
    run.log(f"{name} seed {seed}: {len(X_train):,} training rows, {len(X_test):,} held-out rows ({task})")

    teachers = {}
    for kind in a.teachers:
        start = time.perf_counter()
        model = run.build_teacher(kind, classify, text_columns, seed, False)
        run.fit_teacher(model, X_train, y_train)
        teacher = Teacher.from_model(model)
        T_train, T_test = label_rows(teacher, X_train), label_rows(teacher, X_test)
        teacher_pred = teacher.classes_[np.argmax(T_test, axis=1)] if classify else T_test
        target = {f"target_{k}": v for k, v in
                  evaluation.against_target(teacher.task, y_test.to_numpy(), teacher_pred).items()}
        results["teachers"].append({"dataset": name, "seed": seed, "teacher": kind, **target,
                                    "fit_s": round(time.perf_counter() - start, 3)})
        run.log(f"  teacher {kind}: {target}")
        teachers[kind] = (teacher, T_train, teacher_pred)

    def record(kind: str, student: str, method: str, fn) -> None:
        teacher, _, teacher_pred = teachers[kind]
        start = time.perf_counter()
        try:
            model, synthetic, extra = fn()
            row = {**scores(teacher, teacher_pred, y_test, model, X_test), "synthetic_rows": int(synthetic), **extra}
        except Exception as exc:  # noqa: BLE001 -- record it and carry on; the traceback goes to the log
            row = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            run.log(f"    FAILED {kind} {student} {method}:\n{row['traceback']}")
        row = {"dataset": name, "seed": seed, "teacher": kind, "student": student, "method": method, **row,
               "wall_s": round(time.perf_counter() - start, 3)}
        results["runs"].append(row)
        if "fidelity" in row:
            run.log(f"    {kind} {student} {method}: fidelity {row['fidelity']:.4f} ({row['wall_s']:.1f} s, "
                    f"{row['synthetic_rows']:,} synthetic rows)")

    def datafree(kind: str, student: str) -> None:
        def fn():
            trained = train_data_free(teachers[kind][0], config_for(seed, student))
            return trained.student, trained.n_synthetic, {}
        record(kind, student, "datafree", fn)

    def fewshot(kind: str, student: str) -> None:
        teacher = teachers[kind][0]
        for k in a.per_class:
            start = time.perf_counter()
            try:
                protos = condense(X_train, y_train, per_class=k, schema=schema, task=task, seed=seed)
                protos = protos.drop(columns="target").reset_index(drop=True)
                T_protos = label_rows(teacher, protos)
                trained = train_few_shot(teacher, protos, T_protos, schema, config_for(seed, student, baseline=True))
            except Exception as exc:  # noqa: BLE001
                tb = traceback.format_exc()
                run.log(f"    FAILED {kind} {student} few-shot K={k}:\n{tb}")
                for method in (f"fewshot{k}", f"protos{k}"):
                    results["runs"].append({"dataset": name, "seed": seed, "teacher": kind, "student": student,
                                            "method": method, "error": f"{type(exc).__name__}: {exc}",
                                            "traceback": tb, "wall_s": round(time.perf_counter() - start, 3)})
                continue
            wall = time.perf_counter() - start
            base_s = trained.timings_s.get("baseline_fit", 0.0)
            extra = {"prototypes": int(len(protos)), "timings_s": trained.timings_s}
            record(kind, student, f"fewshot{k}", lambda: (trained.student, trained.n_synthetic, extra))
            results["runs"][-1]["wall_s"] = round(wall - base_s, 3)
            record(kind, student, f"protos{k}", lambda: (trained.baseline, 0, {"prototypes": int(len(protos))}))
            results["runs"][-1]["wall_s"] = round(base_s, 3)

    gens: dict[str, Any] = {}

    def adversarial(kind: str) -> None:
        teacher, T_train, _ = teachers[kind]
        gname = resolve_generator(config_for(seed, "mlp64x64"), schema)
        if gname not in gens:
            start = time.perf_counter()
            gen, _ = fit_generator(build_generator(gname, config_for(seed, "mlp64x64"), device="cpu"), X_train, schema,
                                   random_state=seed, cache=None)
            gens[gname] = gen
            fit_s = round(time.perf_counter() - start, 3)
            results["generators"].append({"dataset": name, "seed": seed, "generator": gname, "fit_s": fit_s})
            run.log(f"  generator {gname}: {fit_s:.1f} s")
        gen = gens[gname]
        for method, adv in (("plain", False), ("adversarial", True)):
            def fn(adv=adv):
                trained = train_student(teacher, X_train, T_train, schema,
                                        config_for(seed, "mlp64x64", adversarial=adv), generator=gen)
                return trained.student, trained.n_synthetic, {"generator": gname, "timings_s": trained.timings_s}
            record(kind, "mlp64x64", method, fn)

    # the fast tree cells first for every teacher, then the MLP cells
    for kind in a.teachers:
        for student in ("tree4", "tree8"):
            if "datafree" in a.parts and student in a.datafree_students:
                datafree(kind, student)
            if "fewshot" in a.parts and student in a.fewshot_students:
                fewshot(kind, student)
        write(out, results)
    for kind in a.teachers:
        if "datafree" in a.parts and "mlp64x64" in a.datafree_students:
            datafree(kind, "mlp64x64")
        if "fewshot" in a.parts and "mlp64x64" in a.fewshot_students:
            fewshot(kind, "mlp64x64")
        if "adversarial" in a.parts:
            adversarial(kind)
        write(out, results)


def write(path: Path, results: dict[str, Any]) -> None:
    results["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run.write_json(path, results)


def main(argv: list[str] | None = None) -> int:
    def items(text: str) -> list[str]:
        return [t.strip() for t in text.split(",") if t.strip()]

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", type=items, default=list(run.ALL_DATASETS))
    p.add_argument("--data-dir", type=Path, default=run.DEFAULT_DATA_DIR)
    p.add_argument("--seeds", type=lambda s: [int(x) for x in items(s)], default=[0])
    p.add_argument("--teachers", type=items, default=list(run.TEACHERS))
    p.add_argument("--parts", type=items, default=["datafree", "fewshot", "adversarial"])
    p.add_argument("--per-class", type=lambda s: [int(x) for x in items(s)], default=[1, 5, 10])
    p.add_argument("--fewshot-students", type=items, default=["tree4", "tree8"])
    p.add_argument("--datafree-students", type=items, default=["tree4", "tree8", "mlp64x64"])
    p.add_argument("--set", type=run.parse_setting, action="append", default=[], metavar="SETTING=VALUE",
                   help="a tabcompress setting for every method, e.g. --set forest_trees=64 (repeatable)")
    p.add_argument("--out", type=Path, default=run.ROOT / "bench" / "results" / "nodata.json")
    a = p.parse_args(argv)
    RUN_ARGS.set = dict(a.set)
    datasets = [run.resolve_dataset(d, a.data_dir) for d in a.datasets]
    import torch

    results: dict[str, Any] = {
        "command": "OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "(unset)") + " python bench/nodata.py "
                   + " ".join(shlex.quote(x) for x in (argv if argv is not None else sys.argv[1:])),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "finished": None,
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "load_average_at_start": list(os.getloadavg())},
        "settings": {"datasets": [n for n, _ in datasets], "seeds": a.seeds, "teachers": a.teachers,
                     "parts": a.parts, "per_class": a.per_class, "fewshot_students": a.fewshot_students,
                     "set": dict(a.set)},
        "datasets": {}, "teachers": [], "generators": [], "runs": [],
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for seed in a.seeds:
        for name, path in datasets:
            run_dataset(name, path, seed, a, results, a.out)
            results["elapsed_s"] = round(time.perf_counter() - started, 1)
            write(a.out, results)
    results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write(a.out, results)
    run.log(f"wrote {a.out} ({results['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
