"""``--to onnx``: the exported model computes what the Python student computes.

Every family on a binary slice with text categories (bank), a 7-class slice (covertype) and a regression
slice with missing cells (california), on the training rows and on the same rows with unseen categories
and extra missing cells: the same class on every row, probabilities and values equal to ~1e-12. Then
hand-written portable descriptions for what the slices do not reach: values next to a threshold either
side of float32 rounding, NaN routing, a one-leaf tree, several outputs per leaf, base scores, an all-zero
normalize, empty and repeated categories, text, boolean and float classes, names that clash.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tabcompress.errors import InputError, SettingError  # noqa: E402
from tabcompress.export import onnx_format  # noqa: E402
from tabcompress.export.formats import export_student, format_module  # noqa: E402
from tabcompress.schema import Schema  # noqa: E402
from tabcompress.students import make_student  # noqa: E402
from tabcompress.students import portable as reference  # noqa: E402

QUICK = {"tree": {"max_depth": 5, "random_state": 0}, "gbdt": {"n_trees": 15, "max_depth": 3, "random_state": 0},
         "linear": {}, "mlp": {"hidden": (8,), "max_epochs": 5, "random_state": 0, "device": "cpu"}}


def _odd(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """``X`` followed by a copy with unseen categories and many more missing cells."""
    rng = np.random.default_rng(0)
    odd = X.copy()
    for name in X.columns:
        if name in categorical:
            odd.loc[odd.index[::7], name] = "never seen"
            odd.loc[odd.index[3::11], name] = None
        else:
            odd[name] = odd[name].astype(np.float64)
            odd.loc[rng.random(len(odd)) < 0.1, name] = np.nan
    return pd.concat([X, odd], ignore_index=True)


@pytest.fixture(scope="module")
def slices(bank, covertype, california):
    out = {}
    for name, frame in (("binary", bank), ("multiclass", covertype), ("regression", california)):
        X, y = frame.drop(columns="target"), frame["target"]
        categorical = Schema.infer(X).categorical
        if name == "regression":
            fit = {"targets": y.to_numpy(np.float64), "classes": None}
        else:
            classes = np.unique(y)
            one_hot = (y.to_numpy()[:, None] == classes).astype(np.float64)
            fit = {"targets": 0.8 * one_hot + 0.2 / len(classes), "classes": classes}
        out[name] = {"X": X, "categorical": categorical, "rows": _odd(X, categorical), **fit}
    return out


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("family", ["tree", "gbdt", "linear", "mlp"])
def test_the_model_computes_what_the_student_computes(family, task, slices, tmp_path):
    data = slices[task]
    student = make_student(family, **QUICK[family]).fit(data["X"], data["targets"], classes=data["classes"],
                                                        categorical=data["categorical"])
    path = tmp_path / "s.onnx"
    assert export_student(student, "onnx", path) == [path]
    onnx.checker.check_model(str(path), full_check=True)
    description = student.portable()
    rows = data["rows"]
    outputs = onnx_format.session(path).run(None, onnx_format.feed(description, rows))
    if task == "regression":
        (value,) = outputs
        assert value.shape == (len(rows),) and value.dtype == np.float64
        np.testing.assert_allclose(value, student.predict(rows), rtol=1e-12, atol=1e-9)
        return
    label, probabilities = outputs
    assert label.dtype == np.int64 and probabilities.shape == (len(rows), len(data["classes"]))
    np.testing.assert_array_equal(label, student.predict(rows))  # every row, unseen and missing included
    np.testing.assert_allclose(probabilities, student.predict_proba(rows), rtol=0, atol=1e-12)


def test_the_model_describes_itself(slices):
    data = slices["binary"]
    student = make_student("tree", max_depth=3, random_state=0).fit(
        data["X"], data["targets"], classes=data["classes"], categorical=data["categorical"])
    model = onnx.load_from_string(onnx_format.render(student.portable(), "bank")[".onnx"])
    assert model.producer_name == "tabcompress" and model.doc_string and model.graph.name == "bank"
    assert {o.domain: o.version for o in model.opset_import} == {"": onnx_format.OPSET, "ai.onnx.ml": 5}
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["family"] == "tree" and meta["task"] == "binary"
    assert json.loads(meta["columns"]) == list(data["X"].columns) and json.loads(meta["classes"]) == [0, 1]
    assert json.loads(meta["outputs"]) == ["label", "probabilities"]
    kinds = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    assert [i.name for i in model.graph.input] == list(data["X"].columns)
    assert all(kinds[c] == onnx.TensorProto.STRING for c in data["categorical"])
    assert kinds["age"] == onnx.TensorProto.DOUBLE
    assert [n.op_type for n in model.graph.node].count("TreeEnsemble") == 1


# -- hand-written descriptions, checked against the reference evaluator ------------------------------
def _numeric(name="x"):
    return {"name": name, "type": "numeric", "categories": []}


def _raw_encoding(n_numeric, categorical=(), categories="ordinal", missing_column=()):
    return {"numeric": list(range(n_numeric)), "categorical": list(categorical), "standardize": None,
            "categories": categories, "missing_column": list(missing_column)}


def _leaf(value):
    return {"feature": [-1], "threshold": [0.0], "missing_left": [True], "left": [-1], "right": [-1],
            "value": [value], "output": 0}


def _stump(threshold, missing_left, low, high, output=0, feature=0):
    return {"feature": [feature, -1, -1], "threshold": [threshold, 0.0, 0.0],
            "missing_left": [missing_left, True, True], "left": [1, -1, -1], "right": [2, -1, -1],
            "value": [[0.0] * len(low), low, high], "output": output}


def _description(columns, encoding, model, output, task="binary", classes=(0, 1)):
    return {"format": "tabcompress-portable", "version": 1, "family": "tree", "task": task,
            "classes": None if task == "regression" else list(classes), "columns": columns, "encoding": encoding,
            "model": model, "output": output}


def _run(description, rows):
    """The ONNX model's outputs and the reference evaluator's, for rows in column order."""
    frame = pd.DataFrame(rows, columns=[c["name"] for c in description["columns"]], dtype=object)
    for column in description["columns"]:
        if column["type"] == "numeric":
            frame[column["name"]] = frame[column["name"]].astype(np.float64)
    model = onnx_format.render(description, "hand")[".onnx"]
    outputs = onnx_format.session(model).run(None, onnx_format.feed(description, frame))
    return outputs, reference.predict(description, rows)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # 1e300 as float32
def test_tree_reads_float32_and_routes_missing_values():
    t = 0.1  # not a float32: float32(0.1) > 0.1, so a value just below 0.1 goes right once rounded
    below = np.nextafter(np.float32(t), np.float32(0.0))
    rows = [[t - 1e-10], [t], [float(below)], [np.nan], [np.inf], [-np.inf], [1e300], [np.float32(t)]]
    for missing_left in (True, False):
        model = {"kind": "trees", "compare": "<=", "n_outputs": 2, "base": [0.0, 0.0],
                 "trees": [_stump(t, missing_left, [0.8, 0.2], [0.3, 0.7])]}
        description = _description([_numeric()], _raw_encoding(1), model,
                                   {"link": "normalize", "argmax": "raw", "scale": 1.0, "shift": 0.0})
        (label, proba), (expected, expected_proba) = _run(description, rows)
        assert list(label) == expected == [1, 1, 0, 0 if missing_left else 1, 1, 0, 1, 1]
        np.testing.assert_array_equal(proba, expected_proba)

    t32 = float(np.float32(0.3))  # XGBoost's "<" on float32 thresholds
    rows = [[t32], [float(np.nextafter(np.float32(t32), np.float32(0.0)))], [t32 - 1e-12], [np.nan]]
    model = {"kind": "trees", "compare": "<", "n_outputs": 1, "base": [0.25],
             "trees": [_stump(t32, False, [-1.0], [2.0]), _leaf([0.5])]}
    description = _description([_numeric()], _raw_encoding(1), model,
                               {"link": "sigmoid", "argmax": "probabilities", "scale": 1.0, "shift": 0.0},
                               classes=("no", "yes"))
    (label, proba), (expected, expected_proba) = _run(description, rows)
    assert list(label) == expected == ["yes", "no", "yes", "yes"]
    np.testing.assert_allclose(proba, expected_proba, rtol=0, atol=1e-15)


def test_trees_of_several_outputs_base_scores_and_an_all_zero_normalize():
    model = {"kind": "trees", "compare": "<=", "n_outputs": 3, "base": [0.0, 0.5, -0.25],
             "trees": [_stump(0.0, True, [0.0, -1.0, 0.0], [0.1, 0.2, 0.3], output=0),
                       _stump(2.0, False, [0.7], [-3.0], output=2, feature=1), _leaf([0.1, 0.2])]}
    model["trees"][2]["output"] = 1
    description = _description([_numeric("a"), _numeric("b")], _raw_encoding(2), model,
                               {"link": "normalize", "argmax": "probabilities", "scale": 1.0, "shift": 0.0},
                               task="multiclass", classes=(1.5, 2.5, 3.5))
    rows = [[-1.0, 3.0], [1.0, 1.0], [np.nan, np.nan], [5.0, np.nan]]
    (label, proba), (expected, expected_proba) = _run(description, rows)
    assert list(label) == [str(c) for c in expected]  # float classes are written as text
    np.testing.assert_allclose(proba, expected_proba, rtol=0, atol=1e-15)
    assert np.all(proba[0] == 1 / 3)  # raw [0, -0.4, -3.05]: nothing positive, uniform


def test_categories_empty_repeated_and_unseen():
    columns = [{"name": "c", "type": "categorical", "categories": ["a", "", "b", "a"]},
               {"name": "d", "type": "categorical", "categories": []},
               {"name": "e", "type": "categorical", "categories": ["1", "True"]}]
    rows = [["a", "x", 1], ["b", None, True], [None, "y", None], ["zz", None, "1"], ["", "", False]]
    # the portable evaluator reads "" as the category ""; the model reads it as missing (documented)
    as_missing = [[None if cell == "" else cell for cell in row] for row in rows]
    for categories in ("ordinal", "onehot"):
        missing_column = [True, False, True] if categories == "onehot" else []
        encoding = _raw_encoding(0, [0, 1, 2], categories, missing_column)
        if categories == "ordinal":
            trees = [_stump(0.5, True, [1.0, 0.0], [0.0, 1.0], feature=0), _stump(0.5, False, [0.0, 1.0], [1.0, 0.0],
                                                                                  feature=2)]
            model = {"kind": "trees", "compare": "<=", "n_outputs": 2, "base": [0.0, 0.0], "trees": trees}
            output = {"link": "normalize", "argmax": "raw", "scale": 1.0, "shift": 0.0}
        else:
            width = reference.encode({"columns": columns, "encoding": encoding}, rows).shape[1]
            weight = np.arange(1.0, 1.0 + 2 * width).reshape(width, 2) / 10
            model = {"kind": "dense", "layers": [{"weight": weight.tolist(), "bias": [0.0, 0.1]}]}
            output = {"link": "softmax", "argmax": "probabilities", "scale": 1.0, "shift": 0.0}
        description = _description(columns, encoding, model, output, classes=(True, False))
        (label, proba), _ = _run(description, rows)
        expected, expected_proba = reference.predict(description, as_missing)
        assert list(label) == [str(c) for c in expected]  # booleans are written as text
        np.testing.assert_allclose(proba, expected_proba, rtol=0, atol=1e-15)


def test_standardized_numbers_and_regression():
    columns = [_numeric("a"), {"name": "label", "type": "categorical", "categories": ["p", "q"]}, _numeric("value")]
    encoding = {"numeric": [0, 2], "categorical": [1], "categories": "onehot", "missing_column": [True],
                "standardize": {"median": [1.5, -2.0], "indicators": [1], "mean": [1.0, 0.5, 0.25],
                                "scale": [2.0, 3.0, 0.5]}}
    weights = [[[0.5, -1.0], [1.0, 2.0], [0.25, 0.0], [-1.0, 1.0], [0.0, 3.0], [2.0, 1.0]], [[1.5], [-0.5]]]
    model = {"kind": "dense", "layers": [{"weight": weights[0], "bias": [0.1, -0.2]},
                                         {"weight": weights[1], "bias": [0.3]}]}
    description = _description(columns, encoding, model, {"link": "identity", "argmax": "raw", "scale": 1e5,
                                                           "shift": 2e5}, task="regression")
    rows = [[0.5, "p", 1.0], [np.nan, "q", np.nan], [3.0, None, -4.0], [1e3, "new", np.nan]]
    (value,), (expected, _) = _run(description, rows)
    assert value.dtype == np.float64
    np.testing.assert_allclose(value, expected, rtol=1e-14)
    model = onnx.load_from_string(onnx_format.render(description, "s")[".onnx"])
    # the columns "label" and "value" keep their names; the output takes a trailing underscore
    assert [i.name for i in model.graph.input] == ["a", "label", "value"]
    assert [o.name for o in model.graph.output] == ["value_"]


def test_feed_takes_pandas_missing_markers():
    columns = [_numeric("n"), {"name": "c", "type": "categorical", "categories": ["1", "a"]}]
    frame = pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64"),
                          "c": pd.array(["a", None, "b"], dtype="string")})
    inputs = onnx_format.feed({"columns": columns}, frame)
    assert inputs["n"].dtype == np.float64 and inputs["n"].shape == (3, 1) and np.isnan(inputs["n"][1, 0])
    assert inputs["c"].tolist() == [["a"], [""], ["b"]]
    with pytest.raises(ValueError, match="missing 1 column"):
        onnx_format.feed({"columns": columns}, frame.drop(columns="c"))


def test_without_the_extra_the_error_says_how_to_install_it(monkeypatch):
    assert format_module("onnx").SUFFIXES == (".onnx",)

    def absent(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(onnx_format, "import_module", absent)
    for call in (lambda: onnx_format.render({}, "s"), lambda: onnx_format.session(b"")):
        with pytest.raises(SettingError) as caught:
            call()
        assert isinstance(caught.value, InputError) and caught.value.exit_code == 2
        assert "pip install 'tabcompress[export]'" in str(caught.value) and "\n" not in str(caught.value)


def test_whole_number_categories_match_as_the_student_matches_them():
    # A column of whole numbers declared categorical: once a cell is missing, pandas reads the others
    # as floats (2.0), which the Python student still finds among the categories [3, 2, 1, 0].
    X = pd.DataFrame({"a": [3, 2, 1, 0] * 25, "b": np.linspace(0.0, 1.0, 100)})
    high = (X["a"] >= 2).to_numpy() * 0.9 + 0.05
    rows = pd.DataFrame({"a": [3.0, 2.0, np.nan, 0.0, 1.0, 7.0], "b": [0.5] * 6})
    for family in ("tree", "linear"):
        student = make_student(family).fit(X, np.column_stack([high, 1 - high]), classes=np.array([0, 1]),
                                           categorical=["a"])
        description = student.portable()
        assert description["columns"][0]["categories"] == ["3", "2", "1", "0"] or family == "tree"
        model = onnx_format.session(onnx_format.render(description, "s")[".onnx"])
        label = model.run(None, onnx_format.feed(description, rows))[0]
        np.testing.assert_array_equal(label, student.predict(rows))
        cells = rows.astype(object).where(rows.notna(), None).values.tolist()
        assert reference.predict(description, cells)[0] == list(student.predict(rows))
