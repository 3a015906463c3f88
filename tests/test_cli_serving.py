"""Using a saved student: `predict`, `evaluate`, `inspect` and `export`, through the installed console
script, on students a quick `distill` wrote; bad input exits 2 with one line and writes nothing (checked
in this process, through the console script's ``main``)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import DATA, assert_bad_input, run_cli

# Enough for a student to read and write: no synthetic rows, no baseline, no TSC score, no search of sizes.
QUICK = ["--generator", "none", "--no-baseline", "--no-tsc", "--validation-size", "0", "--seed", "0", "--quiet"]
BANK, MAGIC, HOUSE = DATA / "bank_1500.csv", DATA / "magic_1200.csv", DATA / "house16h_1200.csv"


@pytest.fixture(scope="module")
def students(teachers, tmp_path_factory) -> dict[str, object]:
    """Students distilled by the command line: a tree of the bank pipeline (text columns), a small
    gbdt of the magic forest, a linear student of the house regressor."""
    root = tmp_path_factory.mktemp("students")
    runs = {"tree_bank": ("pipe_bank", BANK, ["--student", "tree"]),
            "gbdt_magic": ("rf_magic", MAGIC, ["--student", "gbdt", "--trees", "10"]),
            "linear_house": ("rf_house", HOUSE, ["--student", "linear"])}
    out = {}
    for name, (teacher, data, options) in runs.items():
        done = run_cli("distill", teachers[teacher], data, "--out", root / name, *QUICK, *options)
        assert done.returncode == 0, done.stderr
        out[name] = root / name / "student.joblib"
    return out


def read_predictions(path) -> pd.DataFrame:
    return pd.read_csv(path, float_precision="round_trip")  # the floats exactly as written


# -- predict ----------------------------------------------------------------------------------------
def test_predict_writes_what_the_student_predicts_in_row_order(students, tmp_path, bank):
    student = joblib.load(students["tree_bank"])
    rows = bank.drop(columns="target")
    shuffled = rows[list(reversed(rows.columns))].assign(comment="ignored")  # any order, extra columns
    shuffled.loc[[3, 700], "job"] = np.nan  # missing and unseen categories, a missing number
    shuffled.loc[5, "job"] = "astronaut"
    shuffled.loc[8, "balance"] = np.nan
    data = tmp_path / "rows.csv.gz"
    shuffled.to_csv(data, index=False)
    out = tmp_path / "preds.csv"
    done = run_cli("predict", students["tree_bank"], data, "--proba", "--out", out, "--chunk-rows", "400")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "1,500 rows scored" in done.stderr
    written = read_predictions(out)
    assert list(written.columns) == ["prediction", "proba_0", "proba_1"]
    X = pd.read_csv(data)
    np.testing.assert_array_equal(written["prediction"].to_numpy(), student.predict(X))
    np.testing.assert_array_equal(written[["proba_0", "proba_1"]].to_numpy(), student.predict_proba(X))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.csv", "rows.csv.gz"]  # no temporary left


def test_predict_to_stdout_and_regression(students, tmp_path, house, cli):
    student = joblib.load(students["linear_house"])
    done = run_cli("predict", students["linear_house"], HOUSE, "--chunk-rows", "500", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    from io import StringIO

    written = pd.read_csv(StringIO(done.stdout), float_precision="round_trip")
    assert list(written.columns) == ["prediction"]
    np.testing.assert_array_equal(written["prediction"].to_numpy(), student.predict(house.drop(columns="target")))
    assert_bad_input(cli("predict", students["linear_house"], HOUSE, "--proba"), "--proba", "regressor")


def test_predict_matches_categories_that_are_not_text(tmp_path):
    """A numeric column distilled as categorical (--categorical), with missing cells: its text in the
    CSV is matched to the student's categories, so chunks read alone still hit them."""
    from tabcompress.run.predict import predict_csv
    from tabcompress.students import TreeStudent

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"code": rng.integers(1, 6, 400).astype(float), "flag": rng.random(400) < 0.5,
                      "x": rng.normal(size=400)})
    X.loc[::7, "code"] = np.nan
    T = np.column_stack([(X["code"].fillna(0) % 2) * 0.8 + 0.1, 1 - ((X["code"].fillna(0) % 2) * 0.8 + 0.1)])
    student = TreeStudent(max_depth=4).fit(X, T, classes=["a", "b"], categorical=["code", "flag"])
    data = tmp_path / "rows.csv"
    X.to_csv(data, index=False)
    out = tmp_path / "out.csv"
    predict_csv(student, data, out, proba=True, chunk_rows=7)  # chunks of one class of code only, too
    written = read_predictions(out)
    np.testing.assert_array_equal(written["prediction"].to_numpy(), student.predict(X))
    np.testing.assert_array_equal(written[["proba_a", "proba_b"]].to_numpy(), student.predict_proba(X))


# -- evaluate ---------------------------------------------------------------------------------------
def test_evaluate_reports_fidelity_and_accuracy_and_gates(students, teachers, bank, cli):
    done = run_cli("evaluate", students["tree_bank"], teachers["pipe_bank"], BANK, "--json", "--chunk-rows", "400")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    student, teacher = joblib.load(students["tree_bank"]), joblib.load(teachers["pipe_bank"])
    X, y = bank.drop(columns="target"), bank["target"].to_numpy()
    teacher_pred = teacher.classes_[np.argmax(teacher.predict_proba(X), axis=1)]
    student_pred = student.predict(X)
    scored = report["metrics"]
    assert scored["student"]["fidelity"] == pytest.approx(np.mean(student_pred == teacher_pred), abs=1e-12)
    assert scored["student"]["target_accuracy"] == pytest.approx(np.mean(student_pred == y), abs=1e-12)
    assert scored["teacher"]["target_accuracy"] == pytest.approx(np.mean(teacher_pred == y), abs=1e-12)
    assert report["data"]["rows"] == len(bank) and report["data"]["target"] == "target"
    assert report["student"]["family"] == "tree" and report["gate"] is None
    assert "fidelity (agreement with the teacher)" in done.stderr

    fidelity = scored["student"]["fidelity"]
    above = f"{min(1.0, fidelity + 0.01):.4f}"
    gated = cli("evaluate", students["tree_bank"], teachers["pipe_bank"], BANK, "--json", "--min-fidelity", above)
    assert gated.returncode == 3, gated.stderr
    assert json.loads(gated.stdout)["gate"] == {"min_fidelity": float(above), "passed": False}
    assert gated.stderr.strip().splitlines()[-1].startswith("tabcompress: error: student fidelity")
    passed = cli("evaluate", students["tree_bank"], teachers["pipe_bank"], BANK, "-q", "--min-fidelity", "0.5")
    assert passed.returncode == 0 and passed.stdout == "" and passed.stderr == ""


def test_evaluate_regression_without_a_target(students, teachers, house, tmp_path):
    data = tmp_path / "no_target.csv"
    house.drop(columns="target").to_csv(data, index=False)
    done = run_cli("evaluate", students["linear_house"], teachers["rf_house"], data, "--json", "-q")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    student, teacher = joblib.load(students["linear_house"]), joblib.load(teachers["rf_house"])
    X = house.drop(columns="target")
    t, s = teacher.predict(X), student.predict(X)
    r2 = 1 - np.sum((t - s) ** 2) / np.sum((t - t.mean()) ** 2)
    assert report["metrics"]["student"]["fidelity"] == pytest.approx(r2, abs=1e-9)
    assert "teacher" not in report["metrics"] and report["data"]["target"] is None
    assert any("no target column" in note for note in report["notes"])


# -- inspect ----------------------------------------------------------------------------------------
def _holds(condition: str, row: pd.Series, columns: dict[str, list[str]]) -> bool:
    """Whether ``row`` meets one condition of inspect's rules (the forms a tree student's rules take)."""
    missing_or_unseen = re.fullmatch(r"(\S+) is missing or unseen", condition)
    if missing_or_unseen:
        value = row[missing_or_unseen[1]]
        return pd.isna(value) or str(value) not in columns[missing_or_unseen[1]]
    number = re.fullmatch(r"(\S+) (<=|>|<|>=) (\S+)( or \S+ is missing)?", condition)
    if number:
        name, op, cut, or_missing = number.groups()
        value = row[name]
        if pd.isna(value):
            return bool(or_missing)
        value, cut = float(np.float32(value)), float(cut)
        return {"<=": value <= cut, ">": value > cut, "<": value < cut, ">=": value >= cut}[op]
    within = re.fullmatch(r"(\S+) in \{(.*)\}( or \S+ is missing or unseen)?", condition)
    assert within, condition
    name, listed, or_missing = within.groups()
    value = row[name]
    if pd.isna(value) or str(value) not in columns[name]:
        return bool(or_missing)
    return str(value) in json.loads(f"[{listed}]")


def test_inspect_tree_rules_decide_as_the_student(students, bank):
    done = run_cli("inspect", students["tree_bank"], "--json")
    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout)
    student = joblib.load(students["tree_bank"])
    assert described["family"] == "tree" and described["classes"] == [0, 1]
    assert described["bytes"]["file"] == students["tree_bank"].stat().st_size
    assert len(described["rules"]["leaves"]) == described["size"]["n_leaves"]
    columns = {c["name"]: c["categories"] for c in described["columns"]}
    split_on = {e["column"] for e in described["importance"]}
    assert {c["name"] for c in described["columns"] if c["used"]} == split_on

    rows = bank.drop(columns="target").head(300).copy()
    rows.loc[[1, 2], "job"] = [np.nan, "astronaut"]  # missing and unseen: they follow the rules' "missing" side
    rows.loc[[3, 4], "duration"] = np.nan
    predicted = student.predict(rows)
    for r, (_, row) in enumerate(rows.iterrows()):
        reached = [leaf for leaf in described["rules"]["leaves"]
                   if all(_holds(c, row, columns) for c in leaf["conditions"])]
        assert len(reached) == 1, (r, reached)
        assert reached[0]["class"] == predicted[r], r

    text = run_cli("inspect", students["tree_bank"])
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("tree student (binary; classes 0, 1)")
    assert described["rules"]["text"][0] in text.stdout and "else:  #" in text.stdout


def test_inspect_gbdt_and_linear(students):
    done = run_cli("inspect", students["gbdt_magic"], "--json")
    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout)
    assert described["family"] == "gbdt" and "rules" not in described
    importance = described["importance"]
    assert sum(e["splits"] for e in importance) == described["size"]["n_nodes"] - described["size"]["n_leaves"]
    assert all(0 < e["trees"] <= 10 and e["leaf_weight"] > 0 for e in importance)
    text = run_cli("inspect", students["gbdt_magic"]).stdout
    assert "leaf weight" in text and importance[0]["column"] in text

    linear = json.loads(run_cli("inspect", students["linear_house"], "--json").stdout)
    assert linear["task"] == "regression" and linear["classes"] is None
    assert linear["layers"] == [{"inputs": linear["size"]["n_parameters"] - 1, "outputs": 1}]
    assert "layers:" in run_cli("inspect", students["linear_house"]).stdout


def test_threshold_text_splits_float32_numbers_as_the_model():
    from tabcompress.evaluation.describe import _threshold_text

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1e3, 200), rng.normal(0, 1e-3, 200), [0.0, 280.0, 0.35, 1e20]])
    for value in values.astype(np.float32):
        below, above = np.nextafter(value, np.float32(-np.inf)), np.nextafter(value, np.float32(np.inf))
        midpoint = (float(value) + float(above)) / 2  # a threshold as scikit-learn sets it
        for compare, threshold in (("<=", midpoint), ("<=", float(value)), ("<", float(value))):
            cut = float(_threshold_text(threshold, compare))
            for x in (below, value, above):
                x = float(x)
                assert (x <= threshold) == (x <= cut) if compare == "<=" else (x < threshold) == (x < cut)


# -- export -----------------------------------------------------------------------------------------
def test_export_option_handling(students, teachers, tmp_path, cli):
    done = cli("export", students["tree_bank"], "--to", "xml", "--out", tmp_path / "model.xml")
    assert_bad_input(done, "--to", "xml")
    done = cli("export", teachers["pipe_bank"], "--to", "python", "--out", tmp_path / "model.py")
    assert_bad_input(done, str(teachers["pipe_bank"]), "not a tabcompress student")
    assert list(tmp_path.iterdir()) == []


def _exporter(name: str) -> None:
    pytest.importorskip(f"tabcompress.export.{name}_format")


@pytest.mark.parametrize("which", ["tree_bank", "gbdt_magic"])
def test_export_python_predicts_as_the_student(students, tmp_path, which, bank, magic):
    _exporter("python")
    out = tmp_path / "model.py"
    done = run_cli("export", students[which], "--to", "python", "--out", out, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"format": "python", "files": [str(out.resolve())]}
    spec = importlib.util.spec_from_file_location("exported_student", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    student = joblib.load(students[which])
    frame = (bank if which == "tree_bank" else magic).drop(columns="target").head(25)
    rows = frame.to_dict("records")  # {column: cell}; the module reads the student's columns by name
    expected = list(student.predict(frame))
    assert module.predict_many(rows) == expected
    assert module.predict(rows[0]) == expected[0]


def test_export_c_writes_source_and_header(students, tmp_path):
    _exporter("c")
    out = tmp_path / "model.c"
    done = run_cli("export", students["tree_bank"], "--to", "c", "--out", out)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0 and (tmp_path / "model.h").stat().st_size > 0
    assert str(out.resolve()) in done.stderr
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler:
        checked = subprocess.run([compiler, "-fsyntax-only", "-I", str(tmp_path), str(out)], capture_output=True,
                                 text=True)
        assert checked.returncode == 0, checked.stderr


def test_export_onnx_runs_in_onnxruntime(students, tmp_path, bank, cli):
    _exporter("onnx")
    done = cli("export", students["tree_bank"], "--to", "onnx", "--out", tmp_path / "nodir" / "model.onnx")
    assert_bad_input(done, "--out", "does not exist")
    shutil.copy(students["tree_bank"], tmp_path / "student.joblib")
    done = run_cli("export", tmp_path / "student.joblib", "--to", "onnx")  # default: beside the student
    assert done.returncode == 0, done.stderr
    out = tmp_path / "student.onnx"
    assert out.exists()
    onnxruntime = pytest.importorskip("onnxruntime")
    session = onnxruntime.InferenceSession(str(out))
    student = joblib.load(students["tree_bank"])
    frame = bank.drop(columns="target").head(25)
    # One input per column, named after it (the columns mix text and numbers).
    feeds = {}
    for given in session.get_inputs():
        assert given.name in frame.columns, f"ONNX input {given.name!r} is not a column"
        column = frame[given.name]
        values = column.astype(str).to_numpy(dtype=object) if "string" in given.type else \
            column.to_numpy(dtype=np.float64 if "double" in given.type else np.float32)
        feeds[given.name] = values.reshape(len(frame), 1) if len(given.shape) == 2 else values
    labels = session.run(None, feeds)[0]
    assert [str(v) for v in np.ravel(labels)] == [str(v) for v in student.predict(frame)]


# -- bad input: exit 2, one line naming the file, column or option, nothing written ------------------
def test_not_a_student_file(teachers, tmp_path, cli):
    garbage = tmp_path / "student.joblib"
    garbage.write_text("not a pickle")
    out = tmp_path / "preds.csv"
    assert_bad_input(cli("predict", garbage, BANK, "--out", out), str(garbage), "cannot be unpickled")
    assert_bad_input(cli("inspect", teachers["pipe_bank"]), str(teachers["pipe_bank"]), "not a tabcompress student")
    assert_bad_input(cli("evaluate", teachers["pipe_bank"], teachers["pipe_bank"], BANK),
                     str(teachers["pipe_bank"]), "not a tabcompress student")
    assert not out.exists()


def test_csv_missing_a_column_the_student_needs(students, teachers, tmp_path, bank, cli):
    data = tmp_path / "rows.csv"
    bank.drop(columns=["job", "balance"]).to_csv(data, index=False)
    out = tmp_path / "preds.csv"
    assert_bad_input(cli("predict", students["tree_bank"], data, "--out", out), str(data), "job", "balance")
    assert_bad_input(cli("evaluate", students["tree_bank"], teachers["pipe_bank"], data), str(data), "job")
    assert not out.exists()


def test_text_in_a_numeric_column(students, teachers, tmp_path, bank, cli):
    bad = bank.copy()
    bad["balance"] = bad["balance"].astype(object)
    bad.loc[1200, "balance"] = "n/a?"
    data = tmp_path / "rows.csv"
    bad.to_csv(data, index=False)
    out = tmp_path / "preds.csv"
    done = cli("predict", students["tree_bank"], data, "--out", out, "--chunk-rows", "500")
    assert_bad_input(done, str(data), "'balance'", "n/a?", "row 1,201")
    assert not out.exists() and list(tmp_path.iterdir()) == [data]  # no temporary file left either
    done = cli("evaluate", students["tree_bank"], teachers["pipe_bank"], data)
    assert_bad_input(done, str(data), "'balance'", "n/a?")


def test_student_and_teacher_that_do_not_match(students, teachers, cli):
    done = cli("evaluate", students["tree_bank"], teachers["rf_house"], HOUSE)
    assert_bad_input(done, "is a classifier", "is a regressor", "not distilled from this teacher")
    done = cli("evaluate", students["gbdt_magic"], teachers["pipe_bank"], BANK)
    assert_bad_input(done, str(students["gbdt_magic"]), "FLength", "does not take")


def test_out_in_a_missing_directory(students, tmp_path, cli):
    out = tmp_path / "nowhere" / "preds.csv"
    done = cli("predict", students["tree_bank"], BANK, "--out", out)
    assert_bad_input(done, "--out", "does not exist")
    assert not (tmp_path / "nowhere").exists()


def test_safe_refuses_a_pickled_student_and_reads_a_skops_one(students, tmp_path, cli):
    import skops.io

    assert_bad_input(cli("inspect", students["tree_bank"], "--safe"), "--safe refuses pickle")
    path = tmp_path / "student.skops"
    skops.io.dump(joblib.load(students["tree_bank"]), path)
    done = cli("predict", path, BANK, "--safe", "--quiet")  # here: skops, imported above, is slow to import anew
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 + 1500
