"""Side trials behind the defaults: variants of the synthetic rows, scored like ``bench/run.py``.

Same splits (3,000 training rows, 5,000 held out), teachers and students as the benchmark, but only
the variants named, and one line per (dataset, seed, teacher, student) on stdout. The figures quoted in
docs/measurements.md ("Teacher-aware selection", "Generators and auto's rule", "Tree refinement") came
from runs of this script.

    python bench/trials.py --datasets magic,california_housing --students tree4,tree8 --variants B3,SEL
    python bench/trials.py --datasets adult --teachers rf --students mlp64x64 --variants B3,SEL,MIX

Variants: B1 (real rows only, teacher probabilities); B3 (10× MUNGE, as the benchmark); M20 (20×
MUNGE); M50 (50× MUNGE); SEL (10× MUNGE, half of it chosen by two rounds of teacher-aware
selection); SELr3 (three rounds, 70 % selected); SELnoU (SEL without the uncertainty term); COP (10×
copula); CT (10× CTGAN at the library's settings); MIX (10× munge+ctgan); CT20 and MIX20 (the same at
20×); F20 (20× rows sampled from the teacher's trees, as data-free runs make them); MF20 (10× MUNGE plus
10× such rows); MF40 (20× of each). A trailing ``h`` (e.g. ``B3h``) trains on the teacher's hard
classes instead of its probabilities. Tree students are CART's greedy trees unless the variant ends in ``+R`` (e.g.
``M20+R``): then the grown tree's splits are refined (``refine_passes=3``) from the library's default
number of starting trees; ``+R1``, ``+R2``, ... sets that number (``refine_starts``). Unrefined trees
look ahead at the root as the library does unless ``--lookahead`` says how many roots to try (1: CART's
greedy tree, as every trial before the lookahead measured).

    python bench/trials.py --datasets magic,letter,adult --seeds 0,1,2 --variants M20,M20+R
    python bench/trials.py --datasets adult,magic --variants M20+R1,M20+R2,M20+R
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
from baselines import baseline_student, teacher_predictions  # noqa: E402

from tabcompress import evaluation  # noqa: E402
from tabcompress.config import Settings  # noqa: E402
from tabcompress.errors import InputError  # noqa: E402
from tabcompress.generators.registry import build_generator  # noqa: E402
from tabcompress.methods.selection import SelectionRule, train_with_selection  # noqa: E402
from tabcompress.students import make_student  # noqa: E402
from tabcompress.teachers.labeling import label_rows  # noqa: E402

# name → (generator, synthetic rows per real row, selection settings or None)
VARIANTS = {
    "B3": ("munge", 10, None),
    "M20": ("munge", 20, None),
    "M50": ("munge", 50, None),
    "SEL": ("munge", 10, SelectionRule(rounds=2, share=0.5)),
    "SELr3": ("munge", 10, SelectionRule(rounds=3, share=0.7)),
    "SELnoU": ("munge", 10, SelectionRule(rounds=2, share=0.5, uncertainty=0.0)),
    "COP": ("copula", 10, None),
    "CT": ("ctgan", 10, None),
    "MIX": ("munge+ctgan", 10, None),
    "CT20": ("ctgan", 20, None),
    "MIX20": ("munge+ctgan", 20, None),
    "F20": ("forest", 20, None),
    "MF20": ("munge+forest", 20, None),
    "MF40": ("munge+forest", 40, None),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="magic,california_housing")
    p.add_argument("--data-dir", type=Path, default=bench.DEFAULT_DATA_DIR)
    p.add_argument("--seeds", default="0")
    p.add_argument("--teachers", default="rf,xgb")
    p.add_argument("--students", default="tree4,tree8")
    p.add_argument("--variants", default="B1,B3,SEL")
    p.add_argument("--lookahead", type=int, help="tree students: root splits tried (1: CART's tree); "
                   "default: the library's")
    p.add_argument("--out", type=Path, help="also append one JSON line per run here")
    a = p.parse_args()
    sink = a.out.open("a") if a.out else None
    for seed in map(int, a.seeds.split(",")):
        for spec in a.datasets.split(","):
            run_dataset(spec, seed, a, sink)


def run_dataset(spec: str, seed: int, a: argparse.Namespace, sink) -> None:
    name, path = bench.resolve_dataset(spec, a.data_dir)
    data = bench.load_split(name, path, seed)
    X_train, X_test, schema, classify = data.X_train, data.X_test, data.schema, data.classify
    generators: dict[str, object] = {}
    settings = Settings().replace(early_stop=True)
    for kind in a.teachers.split(","):
        teacher = bench.trial_teacher(kind, data, seed)
        T_train = label_rows(teacher, X_train)
        teacher_pred = teacher_predictions(teacher, X_test)
        for student_name in a.students.split(","):
            options = {k: v for k, v in bench.STUDENTS[student_name].items() if k != "student"}
            kind_of_student = bench.STUDENTS[student_name]["student"]

            def make(refine: bool = False, starts: int | None = None):
                if kind_of_student != "tree":  # built from its options as a run builds it, on the CPU
                    return baseline_student(kind_of_student, options, seed)
                return make_student("tree", random_state=seed, **options, refine_passes=3 if refine else 0,
                                    refine_starts=starts, lookahead=a.lookahead)

            fit_kwargs = {"classes": teacher.classes_ if classify else None, "categorical": schema.categorical}
            scores = {}
            for variant in a.variants.split(","):
                plain, refine, starts = variant, False, None
                if "+R" in variant:
                    plain, _, count = variant.partition("+R")
                    refine, starts = True, int(count) if count else None
                hard = plain.endswith("h") and classify
                base = plain[:-1] if plain.endswith("h") else plain
                def make_this(refine=refine, starts=starts):
                    return make(refine, starts)
                targets = (lambda T: np.eye(T.shape[1])[np.argmax(T, axis=1)]) if hard else (lambda T: T)
                start = time.perf_counter()
                if base == "B1":
                    student = make_this().fit(X_train, targets(T_train), **fit_kwargs)
                else:
                    gen_name, ratio, selection = VARIANTS[base]
                    key = f"{gen_name}:{kind}"  # rows from the teacher's trees are this teacher's
                    if key not in generators:
                        # as a run builds it (--generator NAME): CTGAN stops early, the forest's rows
                        # come from this teacher's trees
                        try:
                            generators[key] = build_generator(gen_name, settings, teacher=teacher).fit(
                                X_train, schema, random_state=seed)
                        except InputError as err:  # trees the forest's rows cannot be read from
                            generators[key] = None
                            print(f"{name} {seed} {kind}: {gen_name}: {err}", file=sys.stderr)
                    gen = generators[key]
                    if gen is None:
                        continue
                    n = ratio * len(X_train)
                    if selection is None:
                        rows = gen.sample(n, random_state=seed + 1)
                        student = make_this().fit(pd.concat([X_train, rows], ignore_index=True),
                                             targets(np.concatenate([T_train, label_rows(teacher, rows)])),
                                             **fit_kwargs)
                    else:
                        student = train_with_selection(
                            make=make_this, fit_kwargs=fit_kwargs, label=lambda rows: label_rows(teacher, rows),
                            generator=gen, X_real=X_train, T_real=T_train, n_synthetic=n, settings=selection,
                            seed=seed).student
                fidelity = evaluation.fidelity(teacher.task, teacher_pred, student.predict(X_test))["fidelity"]
                scores[variant] = round(fidelity, 4)
                if sink:
                    sink.write(json.dumps({"dataset": name, "seed": seed, "teacher": kind, "student": student_name,
                                           "variant": variant, "fidelity": fidelity,
                                           "seconds": round(time.perf_counter() - start, 2)}) + "\n")
                    sink.flush()
            print(name, seed, kind, student_name, scores, flush=True)


if __name__ == "__main__":
    main()
