"""An ONNX model, run by onnxruntime: what skl2onnx and onnxmltools make of scikit-learn, LightGBM or
XGBoost models, what ``tabcompress export --to onnx`` writes, or any graph of the same shape.

Inputs, either
  * one tensor ``[N, F]`` of floats or doubles (skl2onnx's and onnxmltools' usual input): the model
    knows no column names (skl2onnx keeps none), so the data's columns besides the target are taken in
    file order; or
  * one input per column, shape ``[N, 1]``, named after the column (what tabcompress's export writes,
    and skl2onnx with one initial type per column): numbers as floats, doubles or integers, text as
    strings (a missing cell is the empty string). The text inputs are the model's categorical columns.

Outputs: a classifier gives a label and probabilities (a ``[N, k]`` tensor, or skl2onnx's ZipMap, a
list of one ``{class: probability}`` map per row); a regressor gives one tensor of values, ``[N]`` or
``[N, 1]``. The classes are read from the graph (the ZipMap's or the classifier node's class labels;
tabcompress's export lists them in its metadata), else they are 0 .. k-1.

An ONNX file runs no Python code when read, so ``--safe`` takes it. onnx (to read the graph) and
onnxruntime (to run it) are the ``export`` extra.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabcompress.errors import InputError, first_line
from tabcompress.students.portable import category_text, is_missing
from tabcompress.teachers.base import Teacher, describe_source, missing_library

# onnxruntime's names of tensor types, and how rows are fed to each
_NUMBERS = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
            "tensor(int32)": np.int32}
_TEXT = "tensor(string)"
_FLOATS = ("tensor(float)", "tensor(double)")
# Nodes of the ai.onnx.ml domain that know the classes a classifier's outputs are in the order of.
_CLASSIFIER_OPS = ("ZipMap", "TreeEnsembleClassifier", "LinearClassifier", "SVMClassifier")
_CLASS_ATTRIBUTES = ("classlabels_int64s", "classlabels_ints", "classlabels_strings")


class OnnxModel:
    """An ONNX model kept as its bytes, with the onnxruntime session that runs it.

    The bytes are what pickles (a session cannot be pickled, and the report counts the teacher's pickled
    size); an unpickled copy opens its own session. The session is single-threaded: label_rows already
    runs one chunk of rows per core, and with threads of its own onnxruntime adds a tree ensemble's
    trees in an order that depends on how many rows it is asked about at once (a skl2onnx forest's
    probabilities then move in the last bit with the chunking, which would break ``--seed``).
    """

    def __init__(self, content: bytes, where: str = "teacher"):
        self.content = content
        self.session = _open_session(content, where)

    def __getstate__(self) -> dict[str, Any]:
        return {"content": self.content}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.content = state["content"]
        self.session = _open_session(self.content, "teacher")


def _open_session(content: bytes, where: str) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError(missing_library("onnxruntime", OnnxTeacher.extra, where)) from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings would break the one-line stderr of a run
    try:
        return ort.InferenceSession(content, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for a damaged file or an unknown operator
        raise InputError(f"{where}: not a readable ONNX model ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {first_line(exc)}"


def _is_session(model: Any) -> bool:
    """An onnxruntime InferenceSession, told by its type's module so that onnxruntime is not imported
    to ask about every other model."""
    kind = type(model)
    return kind.__name__ == "InferenceSession" and kind.__module__.startswith("onnxruntime")


class OnnxTeacher(Teacher):
    """An ONNX model (a file, an :class:`OnnxModel`, or an onnxruntime ``InferenceSession``) run by
    onnxruntime on the CPU."""

    name = "onnx"

    supported_types = ("ONNX model (.onnx)",)
    file_suffixes = (".onnx",)
    library = "onnxruntime"
    extra = "export"

    @classmethod
    def read_file(cls, path: Path, where: str) -> Any:
        cls.import_library(where)
        return OnnxModel(path.read_bytes(), where)

    @classmethod
    def handles(cls, model: Any) -> bool:
        return isinstance(model, OnnxModel) or _is_session(model)

    def __init__(self, model: Any, source: Path | None = None):
        where = describe_source(source)
        if _is_session(model):
            model = OnnxModel(_session_bytes(model, where), where)
        proto = _read_proto(model.content, where)
        graph = proto.graph
        session = model.session
        # tabcompress's export lists its classes in the metadata; another maker's keys may mean otherwise
        ours = proto.producer_name == "tabcompress"
        custom = {p.key: p.value for p in proto.metadata_props} if ours else {}
        self._where = where
        self._inputs = _inputs(session.get_inputs(), where)
        # One input is a matrix [N, F], unless it is one column by its type (text) or by its maker
        # (tabcompress's export names its inputs after the columns, however many there are).
        first = session.get_inputs()[0]
        per_column = len(self._inputs) > 1 or (_is_column(first) and (first.type == _TEXT or ours))
        if per_column:
            names: list[str] | None = [name for name, _ in self._inputs]
            n_features = len(names)
        else:
            names, n_features = None, _width(session.get_inputs()[0], where)
        self._per_column = per_column
        self._text = [name for name, kind in self._inputs if kind == _TEXT] if per_column else []

        task, self._output, classes = _read_outputs(session.get_outputs(), graph, custom, where)
        self._zipmap = next(o for o in session.get_outputs() if o.name == self._output).type.startswith("seq(")
        self._trees = _tree_counts(graph)
        producer = " ".join(part for part in (proto.producer_name, proto.producer_version) if part)
        kind = f"ONNX model ({producer})" if producer else "ONNX model"
        super().__init__(model, task=task, classes=classes, feature_names=names, n_features=n_features, kind=kind,
                         source=source)

    @property
    def categorical_features(self) -> list[str]:
        return list(self._text)

    # -- prediction ------------------------------------------------------------------------------
    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        out = self._run(X)
        if self._zipmap:  # one {class: probability} map per row
            keys = list(out[0].keys()) if len(out) else []
            if len(out) and set(keys) != set(self.classes_.tolist()):
                raise InputError(f"{self._where}: its probabilities are keyed by {keys[:10]}, not by its classes "
                                 f"{self.classes_.tolist()[:10]}")
            order = self.classes_.tolist()
            return np.array([[row[c] for c in order] for row in out], dtype=np.float64).reshape(len(X), -1)
        return np.asarray(out, dtype=np.float64)

    def _predict_values(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self._run(X), dtype=np.float64).ravel()

    def _run(self, X: pd.DataFrame) -> Any:
        try:
            return self.model.session.run([self._output], self._feed(X))[0]
        except Exception as exc:  # onnxruntime's own error types, or cells its inputs cannot take: one line
            raise InputError(f"{self._where}: onnxruntime cannot run the model on the rows ({_first_line(exc)})") \
                from exc

    def _feed(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """The rows as the model's inputs, each in the type it declares."""
        if not self._per_column:
            name, kind = self._inputs[0]
            return {name: _numbers(X.to_numpy(dtype=np.float64, na_value=np.nan), kind, name)}
        feed = {}
        for name, kind in self._inputs:
            cells = X[name]
            if kind == _TEXT:
                values = cells.to_numpy(dtype=object)
                feed[name] = np.array([_text(v) for v in values], dtype=object).reshape(-1, 1)
            else:
                feed[name] = _numbers(cells.to_numpy(dtype=np.float64, na_value=np.nan), kind, name).reshape(-1, 1)
        return feed

    # -- description -----------------------------------------------------------------------------
    def complexity(self) -> dict[str, int]:
        """The trees of the graph's tree-ensemble nodes (zero for a graph without any); the summary's
        table reads ``n_trees`` and ``n_leaves`` of every teacher."""
        return dict(self._trees)


# -- reading the model ----------------------------------------------------------------------------------
def _session_bytes(session: Any, where: str) -> bytes:
    """The model an InferenceSession was opened from (onnxruntime keeps the path or the bytes)."""
    content = getattr(session, "_model_bytes", None)
    if content:
        return bytes(content)
    path = getattr(session, "_model_path", None)
    if path:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise InputError(f"{where}: cannot read the ONNX model the session was opened from ({exc})") from None
    raise InputError(f"{where}: the InferenceSession does not say which model it runs; give the .onnx file")


def _read_proto(content: bytes, where: str) -> Any:
    """The model's ``onnx.ModelProto``: onnxruntime runs the graph but does not show its nodes, whose
    attributes hold the classes and the trees."""
    try:
        import onnx
    except ImportError:
        raise InputError(missing_library("onnx", OnnxTeacher.extra, where)) from None
    try:
        return onnx.load_model_from_string(content)
    except Exception as exc:  # onnxruntime read it, so this is unlikely; still one line
        raise InputError(f"{where}: not a readable ONNX model ({_first_line(exc)})") from None


def _inputs(inputs: list[Any], where: str) -> list[tuple[str, str]]:
    """(name, type) of each input, checked: one matrix ``[N, F]``, or columns ``[N, 1]`` (or ``[N]``)."""
    if not inputs:
        raise InputError(f"{where}: the ONNX model has no inputs")
    out = []
    for item in inputs:
        if item.type not in _NUMBERS and item.type != _TEXT:
            raise InputError(f"{where}: the ONNX model's input {item.name!r} is {item.type}; tabcompress feeds "
                             f"float, double, int64, int32 or string tensors")
        shape = list(item.shape)
        if len(inputs) > 1 and not _is_column(item):
            raise InputError(f"{where}: the ONNX model has {len(inputs)} inputs and {item.name!r} has shape "
                             f"{shape}; tabcompress reads one input [N, F] or one input [N, 1] per column")
        if len(shape) not in (1, 2):
            raise InputError(f"{where}: the ONNX model's input {item.name!r} has shape {shape}; tabcompress reads "
                             f"one input [N, F] or one input [N, 1] per column")
        if isinstance(shape[0], int) and shape[0] > 0:
            raise InputError(f"{where}: the ONNX model's input {item.name!r} takes a fixed {shape[0]} row(s) "
                             f"(shape {shape}); tabcompress needs a model whose first dimension is free")
        out.append((item.name, item.type))
    return out


def _is_column(item: Any) -> bool:
    """Whether an input has the shape of one column, ``[N, 1]`` or ``[N]``."""
    shape = list(item.shape)
    return len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)


def _width(item: Any, where: str) -> int:
    """F of a single input ``[N, F]``, which must be a fixed number."""
    shape = list(item.shape)
    if item.type == _TEXT:
        raise InputError(f"{where}: the ONNX model takes one string tensor {shape}; tabcompress feeds text "
                         f"only as one input [N, 1] per column")
    if len(shape) == 1:
        return 1
    if len(shape) != 2 or not isinstance(shape[1], int) or shape[1] < 1:
        raise InputError(f"{where}: the ONNX model's input {item.name!r} has shape {shape}; tabcompress needs "
                         f"[N, F] with a fixed number of columns F")
    return int(shape[1])


def _read_outputs(outputs: list[Any], graph: Any, metadata: dict[str, str],
                  where: str) -> tuple[str, str, np.ndarray | None]:
    """The task, the output to read (probabilities or values) and the classes."""
    def rank(item: Any) -> int:
        return len(item.shape) if item.type.startswith("tensor(") else -1

    def column(item: Any) -> bool:  # [N] or [N, 1]
        return rank(item) == 1 or (rank(item) == 2 and item.shape[1] == 1)

    shown = ", ".join(f"{o.name} {o.type} {list(o.shape)}" for o in outputs)
    if len(outputs) == 1 and outputs[0].type in _FLOATS and column(outputs[0]):
        return "regression", outputs[0].name, None
    probabilities = [o for o in outputs if o.type.startswith("seq(map(")
                     or (o.type in _FLOATS and rank(o) == 2 and o.shape[1] != 1)]
    labels = [o for o in outputs if o not in probabilities and column(o)]
    if len(outputs) == 2 and not probabilities and len(labels) == 2:
        # a label and the second class's probability alone ([N, 1] floats), as some converters give
        floats = [o for o in labels if o.type in _FLOATS and rank(o) == 2]
        if len(floats) == 1:
            probabilities, labels = floats, [o for o in labels if o is not floats[0]]
    if len(outputs) != 2 or len(probabilities) != 1 or len(labels) != 1:
        raise InputError(f"{where}: cannot tell what the ONNX model's outputs are ({shown}); tabcompress reads "
                         f"a label and probabilities (a classifier) or one tensor of values (a regressor)")
    proba, label = probabilities[0], labels[0]
    width = proba.shape[1] if rank(proba) == 2 and isinstance(proba.shape[1], int) else None
    classes = _classes(graph, metadata)
    if classes is None:
        if width is None:
            raise InputError(f"{where}: the ONNX model does not say its classes (no class labels in the graph "
                             f"and no fixed number of probability columns)")
        k = 2 if width == 1 else width
        classes = np.array([str(i) for i in range(k)]) if label.type == _TEXT else np.arange(k)
    if width is not None and width != len(classes) and not (width == 1 and len(classes) == 2):
        raise InputError(f"{where}: the ONNX model gives {width} probability columns for {len(classes)} classes")
    return ("binary" if len(classes) == 2 else "multiclass"), proba.name, classes


def _classes(graph: Any, metadata: dict[str, str]) -> np.ndarray | None:
    """The classes in the order of the probabilities: tabcompress's export lists them in its metadata;
    otherwise the ZipMap's, else the last classifier node's class labels."""
    if "classes" in metadata:
        try:
            listed = json.loads(metadata["classes"])
        except ValueError:
            listed = None
        if isinstance(listed, list) and listed:
            return np.asarray(listed)
    from onnx import helper

    found = None
    for node in graph.node:
        if node.op_type not in _CLASSIFIER_OPS:
            continue
        for attribute in node.attribute:
            if attribute.name in _CLASS_ATTRIBUTES:
                values = helper.get_attribute_value(attribute)
                if len(values):
                    labels = [v.decode("utf-8") if isinstance(v, bytes) else int(v) for v in values]
                    found = np.asarray(labels)
                    if node.op_type == "ZipMap":  # what keys the probabilities: no later node overrides it
                        return found
    return found


def _tree_counts(graph: Any) -> dict[str, int]:
    """Trees, nodes and leaves of the graph's tree-ensemble nodes (ai.onnx.ml)."""
    from onnx import helper

    trees = nodes = leaves = 0
    for node in graph.node:
        attributes = {a.name: a for a in node.attribute}
        if node.op_type in ("TreeEnsembleClassifier", "TreeEnsembleRegressor") and "nodes_modes" in attributes:
            modes = helper.get_attribute_value(attributes["nodes_modes"])
            tree_ids = helper.get_attribute_value(attributes["nodes_treeids"]) if "nodes_treeids" in attributes else []
            trees += len(set(tree_ids))
            nodes += len(modes)
            leaves += sum(1 for mode in modes if mode in (b"LEAF", "LEAF"))
        elif node.op_type == "TreeEnsemble" and "tree_roots" in attributes:  # ai.onnx.ml 5: leaves apart
            trees += len(helper.get_attribute_value(attributes["tree_roots"]))
            interior = len(helper.get_attribute_value(attributes["nodes_featureids"]))
            leaf_count = len(helper.get_attribute_value(attributes["leaf_targetids"]))
            nodes += interior + leaf_count
            leaves += leaf_count
    return {"n_trees": trees, "n_nodes": nodes, "n_leaves": leaves}


# -- feeding rows -----------------------------------------------------------------------------------------
def _numbers(values: np.ndarray, kind: str, name: str) -> np.ndarray:
    dtype = _NUMBERS[kind]
    if np.issubdtype(dtype, np.integer):
        if np.isnan(values).any():
            raise ValueError(f"the ONNX model's input {name!r} takes integers and the rows hold missing cells")
        if not np.array_equal(values, np.round(values)):
            raise ValueError(f"the ONNX model's input {name!r} takes integers and the rows hold fractions")
    return values.astype(dtype)


def _text(cell: Any) -> str:
    """A cell as a string input: text as it is, a number as tabcompress's export writes categories
    ("2" for 2 and 2.0), "" when missing."""
    if isinstance(cell, str):
        return cell
    if is_missing(cell):
        return ""
    return category_text(cell)
