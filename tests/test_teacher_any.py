"""Teachers of any kind: the "model" family (any fitted model with predict_proba or predict) and the
"onnx" family (an ONNX model run by onnxruntime).

End to end through the console script as in test_cli_end_to_end.py: each run's student, loaded in a
fresh Python process, predicts the held-out rows, and the test recomputes fidelity against the teacher
and checks the report's. Then the refusals: one line, exit code 2, nothing written.
"""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import DATA, assert_bad_input, heldout_rows, predict_in_fresh_process, run_cli

from tabcompress.errors import InputError
from tabcompress.teachers import Teacher, label_rows, load_teacher

# Runs about reading the teacher: no size search, baseline or TSC score.
FAST = ["--epochs", "2", "--synthetic-ratio", "2", "--seed", "0", "--validation-size", "0", "--no-baseline", "--no-tsc"]


# -- teachers ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("any-teachers")


@pytest.fixture(scope="module")
def bank_holes(root, bank):
    """bank with missing cells in two text columns and a numeric one, as a CSV."""
    frame = bank.copy()
    rng = np.random.default_rng(0)
    for name in ("job", "education", "balance"):
        frame.loc[rng.random(len(frame)) < 0.05, name] = np.nan
    path = root / "bank_holes.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def stack_bank(root, bank_holes):
    """Imputers and a one-hot encoder in front of a stack of a forest (two threads) and a logistic
    regression: text columns, missing cells, trees inside a meta-estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, StackingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.read_csv(bank_holes)
    X, y = frame.drop(columns="target"), frame["target"]
    text = [c for c in X.columns if X[c].dtype == object]
    numbers = [c for c in X.columns if c not in text]
    encode = ColumnTransformer([
        ("text", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                               OneHotEncoder(handle_unknown="ignore")), text),
        ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numbers),
    ])
    stack = StackingClassifier([("forest", RandomForestClassifier(n_estimators=20, random_state=0, n_jobs=2)),
                                ("linear", LogisticRegression(max_iter=500))], cv=3)
    model = Pipeline([("encode", encode), ("stack", stack)]).fit(X, y)
    path = root / "stack_bank.joblib"
    joblib.dump(model, path)
    return path


@pytest.fixture(scope="module")
def stack_run(root, stack_bank, bank_holes):
    """One distillation of the stack, shared by its end-to-end test and the test that exports its
    student to ONNX and distils that."""
    out = root / "stack-out"
    return run_cli("distill", stack_bank, bank_holes, "--out", out, "--json", *FAST), out


def _onnx_forest(frame: pd.DataFrame, forest, path):
    """``forest`` fitted on ``frame`` and converted by skl2onnx: one float tensor input [N, F]."""
    from skl2onnx import to_onnx

    X = frame.drop(columns="target").to_numpy(np.float32)
    forest.fit(X, frame["target"])
    path.write_bytes(to_onnx(forest, X[:1]).SerializeToString())
    return path


@pytest.fixture(scope="module")
def onnx_magic(root, magic):
    from sklearn.ensemble import RandomForestClassifier

    return _onnx_forest(magic, RandomForestClassifier(n_estimators=20, random_state=0), root / "rf_magic.onnx")


@pytest.fixture(scope="module")
def onnx_house(root, house):
    from sklearn.ensemble import RandomForestRegressor

    return _onnx_forest(house, RandomForestRegressor(n_estimators=20, random_state=0), root / "rf_house.onnx")


# -- end to end -------------------------------------------------------------------------------------------
def _check_run(done, data, teacher: Teacher, tmp_path) -> dict:
    """The run succeeded, and the fidelity its report gives is the one recomputed here: the student
    (in a fresh process) against the teacher, on the rows tabcompress holds out."""
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    df = pd.read_csv(data)
    held = heldout_rows(df, teacher, classifier=teacher.is_classifier)
    assert report["data"]["test_rows"] == len(held)
    X_held = held.drop(columns="target")
    student_pred = predict_in_fresh_process(report["outputs"]["student"], X_held, tmp_path)
    teacher_pred = teacher.predict(X_held)
    if teacher.is_classifier:
        assert set(np.unique(student_pred)) <= set(teacher.classes_)
        expected = float(np.mean(student_pred == teacher_pred))
        assert report["metrics"]["student"]["fidelity"] == pytest.approx(expected, abs=1e-12)
        assert expected > 0.6
    else:
        r2 = 1 - np.sum((teacher_pred - student_pred) ** 2) / np.sum((teacher_pred - teacher_pred.mean()) ** 2)
        assert report["metrics"]["student"]["fidelity"] == pytest.approx(r2, abs=1e-9)
        assert r2 > 0.3
    assert report["teacher"]["type"] == teacher.kind
    return report


def test_a_stack_behind_imputers_and_a_one_hot_encoder(stack_run, stack_bank, bank_holes, tmp_path):
    done, _ = stack_run
    teacher = load_teacher(stack_bank)
    assert type(teacher).__name__ == "AnyModelTeacher" and teacher.accepts_text
    report = _check_run(done, bank_holes, teacher, tmp_path)
    assert report["teacher"]["type"] == "Pipeline(ColumnTransformer → StackingClassifier)"
    assert report["teacher"]["n_trees"] == 20  # the stack's forest, found inside it
    # the forest inside runs on two threads; labelling stays the same however the rows are chunked
    X = pd.read_csv(bank_holes).drop(columns="target")
    with teacher.reproducible():
        assert teacher.model[-1].estimators_[0].n_jobs == 1
        soft = teacher.soft_targets(X)
    assert teacher.model[-1].estimators_[0].n_jobs == 2
    np.testing.assert_array_equal(label_rows(teacher, X, chunk_rows=97, workers=2), soft)


def test_a_vote_of_knn_and_ridge_regressors(root, house, tmp_path):
    from sklearn.ensemble import VotingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor

    X, y = house.drop(columns="target"), house["target"]
    path = root / "vote_house.joblib"
    joblib.dump(VotingRegressor([("knn", KNeighborsRegressor(n_jobs=2)), ("ridge", Ridge())]).fit(X, y), path)
    done = run_cli("distill", path, DATA / "house16h_1200.csv", "--out", tmp_path / "out", "--json", *FAST)
    teacher = load_teacher(path)
    report = _check_run(done, DATA / "house16h_1200.csv", teacher, tmp_path)
    assert teacher.task == "regression" and not teacher.accepts_text
    assert report["teacher"]["type"] == "VotingRegressor" and report["teacher"]["n_trees"] == 0


def test_an_svc_without_probabilities_teaches_its_labels(root, magic, tmp_path):
    from sklearn.svm import SVC

    X, y = magic.drop(columns="target"), magic["target"]
    svc = SVC().fit(X, y)
    path = root / "svc_magic.joblib"
    joblib.dump(svc, path)
    done = run_cli("distill", path, DATA / "magic_1200.csv", "--out", tmp_path / "out", "--json", *FAST)
    teacher = load_teacher(path)
    assert teacher.kind == "SVC (labels only: no predict_proba)"
    proba = teacher.predict_proba(X)
    np.testing.assert_array_equal(teacher.predict(X), svc.predict(X))
    assert set(np.unique(proba)) == {0.0, 1.0} and (proba.sum(axis=1) == 1).all()
    _check_run(done, DATA / "magic_1200.csv", teacher, tmp_path)


@pytest.mark.parametrize("name,data", [("onnx_magic", "magic_1200.csv"), ("onnx_house", "house16h_1200.csv")])
def test_a_forest_converted_by_skl2onnx(request, name, data, tmp_path):
    path = request.getfixturevalue(name)
    done = run_cli("distill", path, DATA / data, "--out", tmp_path / "out", "--json", *FAST)
    teacher = load_teacher(path)
    assert teacher.feature_names is None and teacher.kind.startswith("ONNX model (skl2onnx")
    report = _check_run(done, DATA / data, teacher, tmp_path)
    assert report["teacher"]["n_trees"] == 20
    assert any("no feature names" in note for note in report["notes"])


def test_an_exported_student_teaches_through_onnx_under_safe(stack_run, bank_holes, tmp_path):
    """Per-column inputs, text ones among them: the student of the stack, exported to ONNX, is itself a
    teacher, read with --safe (an ONNX file runs no code)."""
    done, out = stack_run
    assert done.returncode == 0, done.stderr
    exported = tmp_path / "student.onnx"
    done = run_cli("export", out / "student.joblib", "--to", "onnx", "--out", exported, "--quiet")
    assert done.returncode == 0, done.stderr
    teacher = load_teacher(exported, safe=True)
    frame = pd.read_csv(bank_holes)
    text = [c for c in frame.columns if frame[c].dtype == object]
    assert teacher.feature_names == [c for c in frame.columns if c != "target"]
    assert teacher.categorical_features == text and list(teacher.classes_) == [0, 1]
    # it answers what the student it was exported from answers
    student = joblib.load(out / "student.joblib")
    X = frame.drop(columns="target")
    np.testing.assert_allclose(teacher.predict_proba(X), student.predict_proba(X), atol=1e-12)
    # the student as joblib: --safe's .skops student is test_safe.py's; skops' import is slow in each process
    done = run_cli("distill", exported, bank_holes, "--out", tmp_path / "out", "--json", "--safe",
                   "--student-format", "joblib", *FAST)
    _check_run(done, bank_holes, teacher, tmp_path)


# -- in-process -------------------------------------------------------------------------------------------
def _session(path, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def test_onnx_teacher_answers_what_onnxruntime_answers(onnx_magic, onnx_house, magic, house):
    X = magic.drop(columns="target")
    teacher = load_teacher(onnx_magic)
    assert teacher.task == "binary" and list(teacher.classes_) == [0, 1]
    proba = teacher.predict_proba(X)
    direct = _session(onnx_magic, threads=1).run(["output_probability"], {"X": X.to_numpy(np.float32)})[0]
    np.testing.assert_array_equal(proba, np.array([[row[0], row[1]] for row in direct], dtype=np.float64))
    # onnxruntime's own threads add the trees in another order: the same up to the last bits
    direct = _session(onnx_magic).run(["output_probability"], {"X": X.to_numpy(np.float32)})[0]
    np.testing.assert_allclose(proba, [[row[0], row[1]] for row in direct], atol=1e-6)
    np.testing.assert_array_equal(label_rows(teacher, X, chunk_rows=101, workers=2), proba)

    X = house.drop(columns="target")
    teacher = load_teacher(onnx_house)
    assert teacher.task == "regression" and teacher.n_features == X.shape[1]
    values = _session(onnx_house, threads=1).run(None, {"X": X.to_numpy(np.float32)})[0]
    np.testing.assert_array_equal(teacher.predict(X), values.astype(np.float64).ravel())

    # a session given directly is a teacher too, and a teacher pickles (the report counts its size)
    session = _session(onnx_magic)
    from_session = Teacher.from_model(session)
    assert type(from_session).__name__ == "OnnxTeacher"
    copy = pickle.loads(pickle.dumps(from_session))
    np.testing.assert_array_equal(copy.predict_proba(magic.drop(columns="target")), proba)


def test_skl2onnx_per_column_inputs_with_text(bank):
    """skl2onnx with one initial type per column: the string inputs are the teacher's categories."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = bank.drop(columns="target"), bank["target"]
    text = [c for c in X.columns if X[c].dtype == object]
    numbers = [c for c in X.columns if c not in text]
    X = X.astype({c: np.float32 for c in numbers})
    model = Pipeline([("encode", ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text),
                                                    ("numbers", StandardScaler(), numbers)])),
                      ("linear", LogisticRegression(max_iter=500))]).fit(X, y)
    types = [(c, StringTensorType([None, 1]) if c in text else FloatTensorType([None, 1])) for c in X.columns]
    teacher = Teacher.from_model(_session_of(convert_sklearn(model, initial_types=types)))
    assert teacher.feature_names == list(X.columns) and teacher.categorical_features == text
    assert teacher.complexity() == {"n_trees": 0, "n_nodes": 0, "n_leaves": 0}
    np.testing.assert_allclose(teacher.predict_proba(X), model.predict_proba(X), atol=1e-5)


def _session_of(proto):
    import onnxruntime as ort

    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def _graph(inputs, outputs, nodes):
    """A small ONNX model from (name, element type, shape) inputs and outputs and onnx.helper nodes."""
    from onnx import helper

    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(*i) for i in inputs],
                              [helper.make_tensor_value_info(*o) for o in outputs])
    return _session_of(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_onnx_graphs_of_other_shapes():
    from onnx import TensorProto, helper

    FLOAT, DOUBLE, INT64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64
    # a matrix in, one column of values out: a regressor (the sum of the row's squares)
    teacher = Teacher.from_model(_graph([("X", DOUBLE, ["N", 3])], [("Y", DOUBLE, ["N", 1])],
                                        [helper.make_node("ReduceSumSquare", ["X"], ["Y"], axes=[1])]))
    rows = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0], "c": [1.0, np.nan]})
    assert teacher.task == "regression" and teacher.feature_names is None and teacher.n_features == 3
    np.testing.assert_array_equal(teacher.predict(rows.iloc[:1]), [2.0])
    # one input per column, an integer one among them: a missing cell there cannot be fed
    teacher = Teacher.from_model(_graph(
        [("count", INT64, ["N", 1]), ("size", DOUBLE, ["N", 1])], [("Y", DOUBLE, ["N", 1])],
        [helper.make_node("Cast", ["count"], ["c"], to=DOUBLE), helper.make_node("Add", ["c", "size"], ["Y"])]))
    assert teacher.feature_names == ["count", "size"] and teacher.categorical_features == []
    rows = pd.DataFrame({"size": [0.5, 1.0], "count": [2, 3]})
    np.testing.assert_array_equal(teacher.predict(rows), [2.5, 4.0])
    with pytest.raises(InputError, match="onnxruntime cannot run the model on the rows .*takes integers"):
        teacher.predict(rows.assign(count=[1.0, np.nan]))
    # refused in one line
    identity = [helper.make_node("Identity", ["X"], ["Y"])]
    refusals = {
        "cannot tell what the ONNX model's outputs are": _graph([("X", FLOAT, ["N", 3])], [("Y", FLOAT, ["N", 3])],
                                                                 identity),
        "a fixed number of columns F": _graph([("X", FLOAT, ["N", "F"])], [("Y", FLOAT, ["N", "F"])], identity),
        "takes a fixed 1 row": _graph([("X", FLOAT, [1, 3])], [("Y", FLOAT, [1, 3])], identity),
        "one input [N, 1] per column": _graph([("A", FLOAT, ["N", 2]), ("B", FLOAT, ["N", 2])],
                                              [("Y", FLOAT, ["N", 2])], [helper.make_node("Add", ["A", "B"], ["Y"])]),
    }
    for needle, session in refusals.items():
        with pytest.raises(InputError, match=re.escape(needle)) as refused:
            Teacher.from_model(session)
        assert str(refused.value).startswith("teacher: ") and "\n" not in str(refused.value)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_any_model_facts_and_refusals(magic):
    from sklearn.cluster import KMeans
    from sklearn.linear_model import RidgeClassifier
    from sklearn.neural_network import MLPClassifier

    X, y = magic.drop(columns="target"), magic["target"]
    with pytest.raises(InputError, match="unsupported model type builtins.dict"):
        Teacher.from_model({"predict": None})
    with pytest.raises(InputError, match="the KMeans is a scikit-learn clusterer, not a classifier or a regressor"):
        Teacher.from_model(KMeans(2, n_init=1, random_state=0).fit(X))
    teacher = Teacher.from_model(RidgeClassifier().fit(X, y))
    assert teacher.kind == "RidgeClassifier (labels only: no predict_proba)" and not teacher.accepts_text
    unnamed = Teacher.from_model(MLPClassifier((4,), max_iter=20, random_state=0).fit(X.to_numpy(), y))
    assert unnamed.feature_names is None and unnamed.n_features == X.shape[1]

    class Follows:  # another library's model: classes_, n_features_in_ and predict_proba
        classes_ = np.array(["a", "b", "c"])
        n_features_in_ = 2

        def predict_proba(self, rows):
            return np.tile([0.2, 0.5, 0.3], (len(rows), 1))

    teacher = Teacher.from_model(Follows())
    assert teacher.task == "multiclass" and list(teacher.predict(pd.DataFrame(np.zeros((2, 2))))) == ["b", "b"]

    class NoClasses:
        n_features_in_ = 2

        def predict_proba(self, rows):
            return np.zeros((len(rows), 2))

    with pytest.raises(InputError, match="a classifier without classes_"):
        Teacher.from_model(NoClasses())
    Follows.n_features_in_ = None
    with pytest.raises(InputError, match="neither feature_names_in_ nor n_features_in_"):
        Teacher.from_model(Follows())

    class Raises(Follows):
        n_features_in_ = 2

        def predict_proba(self, rows):
            raise RuntimeError("out of licences\nsecond line")

    with pytest.raises(InputError, match=r"^teacher: Raises.predict_proba failed on the rows \(RuntimeError: "
                                         r"out of licences\)$"):
        Teacher.from_model(Raises()).predict_proba(pd.DataFrame(np.zeros((2, 2))))


# -- refusals through the command line ----------------------------------------------------------------------



@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_onnx_file(onnx_magic, damage, tmp_path, cli):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"not a model at all" if damage == "garbage" else onnx_magic.read_bytes()[:400])
    out = tmp_path / "out"
    done = cli("distill", path, DATA / "magic_1200.csv", "--out", out)
    assert_bad_input(done, f"teacher file {path}: not a readable ONNX model", out=out)


def test_without_onnxruntime_the_message_names_the_extra(onnx_magic, tmp_path):
    out = tmp_path / "out"
    code = ("import sys; sys.modules['onnxruntime'] = None\n"
            "from tabcompress.cli import main\n"
            f"sys.argv = ['tabcompress', 'distill', {str(onnx_magic)!r}, {str(DATA / 'magic_1200.csv')!r}, "
            f"'--out', {str(out)!r}]\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert_bad_input(done, "needs onnxruntime, which is not installed", "pip install 'tabcompress[export]'",
                     out=out)


def test_a_model_that_fails_on_the_rows(root, magic, tmp_path, cli):
    """A Pipeline may take text (it may hold an encoder); this one's scaler cannot, and says so in one
    line that names the data, the teacher and its error."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = magic.drop(columns="target"), magic["target"]
    teacher = root / "scaled_linear.joblib"
    joblib.dump(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), teacher)
    data = tmp_path / "text.csv"
    magic.assign(FSize=magic["FSize"].astype(object).where(magic.index != 5, "big")).to_csv(data, index=False)
    out = tmp_path / "out"
    done = cli("distill", teacher, data, "--out", out)
    assert_bad_input(done, f"data file {data}", f"teacher file {teacher}: Pipeline.predict_proba failed on the "
                     f"rows (ValueError: could not convert string to float", out=out)


@pytest.mark.parametrize("which", ["onnx_magic", "stack_bank"])
def test_data_free_refuses_in_one_line(request, which, tmp_path, cli):
    out = tmp_path / "out"
    safe = ["--safe"] if which == "onnx_magic" else []  # an ONNX file passes --safe, and is refused after
    done = cli("distill", request.getfixturevalue(which), "--out", out, *safe)
    assert_bad_input(done, "data-free distillation reads the trees of a tree ensemble", "give real rows (DATA)",
                     out=out)
