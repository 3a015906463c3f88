"""How validation fidelity compares with fidelity on rows the teacher never saw.

A run chooses its student on validation rows carved from DATA. When DATA is the teacher's own training
data, the teacher answers those rows with their labels, and validation fidelity reads low. This script
runs the search of ``--target-fidelity`` (one family) on TRAIN and scores every candidate three ways: on
its validation rows, on fresh rows from the run's generator, and on TEST (rows neither saw).

    python bench/validation_bias.py TEACHER TRAIN.csv TEST.csv [--student gbdt]
"""

from __future__ import annotations

import argparse

import joblib
import numpy as np
import pandas as pd

from tabcompress import Settings, Teacher
from tabcompress.run.modes import train_student
from tabcompress.schema import Schema
from tabcompress.teachers.labeling import label_rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("teacher")
    p.add_argument("train")
    p.add_argument("test")
    p.add_argument("--student", default="gbdt")
    p.add_argument("--target-column", default="target")
    args = p.parse_args()
    teacher = Teacher.from_model(joblib.load(args.teacher))
    X_train = pd.read_csv(args.train).drop(columns=args.target_column)
    X_test = pd.read_csv(args.test).drop(columns=args.target_column)
    settings = Settings.from_options(student=args.student, target_fidelity=0.999, baseline=False, tsc=False)
    trained = train_student(teacher, X_train, label_rows(teacher, X_train), Schema.infer(X_train), settings)
    X_synth = trained.generator.sample(5000, random_state=12345)
    reference = {name: np.argmax(label_rows(teacher, X), axis=1) for name, X in (("synthetic", X_synth),
                                                                               ("unseen", X_test))}
    print(f"{'candidate':28s} {'rows':6s} validation synthetic unseen  bytes")
    for c in trained.candidates:
        scores = {name: np.mean(np.argmax(c.student.predict_proba(X), axis=1) == reference[name])
                  for name, X in (("synthetic", X_synth), ("unseen", X_test))}
        print(f"{c.name:28s} {c.generator:6s} {c.fidelity:10.4f} {scores['synthetic']:9.4f} "
              f"{scores['unseen']:6.4f} {c.bytes:6d}")


if __name__ == "__main__":
    main()
