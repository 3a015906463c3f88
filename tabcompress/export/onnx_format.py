"""``--to onnx``: a fitted student as one ONNX model, computing what the Python student computes.

The graph is written from the portable description alone (:mod:`tabcompress.students.portable`, whose
docstring is the specification followed here), with ``onnx.helper``; onnx and onnxruntime are the
``export`` extra and are imported only when needed.

Opsets: the default domain at opset 21 and ``ai.onnx.ml`` at opset 5 (IR version 10, as ONNX 1.16
pairs them): ``TreeEnsemble`` (ai.onnx.ml 5) is the tree operator that reads, compares and adds in
double precision, and ``StringConcat`` needs opset 20. onnxruntime runs ``TreeEnsemble`` from its
release 1.21 on (checked with 1.32).

Inputs: one per student column, named by the column's name, shape ``[N, 1]``: ``tensor(double)`` for a
numeric column (NaN is missing), ``tensor(string)`` for a categorical one (the empty string is
missing, any text not among the column's categories unseen; a category whose text is empty is therefore
read as missing). :func:`feed` builds them from a DataFrame.

Outputs: classification, ``label`` ``[N]`` (int64 when every class is an int, else the classes' text:
``"True"``/``"False"`` for booleans, ``"1.5"`` for floats) and ``probabilities`` ``[N, n_classes]``
double, columns in the order of the classes; regression, ``value`` ``[N]`` double. An output whose name
a column already has takes a trailing ``_`` (the names are in the metadata, key ``outputs``).

The graph, everything in double precision:

* numeric columns: one ``Concat``; with ``standardize``, ``IsNaN`` → ``Where`` (the median) → the
  missing indicators (``Gather`` of the mask, ``Cast``) → ``Sub`` the means → ``Div`` the scales;
* categorical columns: one ``Concat`` of the text, ``StringConcat`` with a per-column prefix
  (``"3:"``), then one ``LabelEncoder`` for all columns: ordinal, text → code as a double, NaN for
  missing and unseen; one-hot, text → the position of its 1 in the one-hot block (the missing column's
  for the empty text, -1 for unseen), then ``Gather`` (each position reads its column's position) and
  ``Equal`` with the positions → ``Cast``;
* ``Concat`` of the two blocks: the vector ``z``;
* trees: ``Cast`` to float and back (every ``z`` a tree reads is rounded to float32, as scikit-learn
  and XGBoost do), one ``TreeEnsemble`` in double (``BRANCH_LEQ`` on double thresholds for
  ``compare`` ``"<="``, ``BRANCH_LT`` on the float32 thresholds for ``"<"``, a NaN follows
  ``missing_left``; a tree whose leaves hold several outputs is written once per output), ``Add`` the
  base scores; dense: ``MatMul`` + ``Add`` per layer, ``Relu`` between layers;
* the link: ``Relu`` / ``ReduceSum`` / ``Div`` / ``Where`` (normalize, uniform when the sum is 0),
  ``Sigmoid`` (probabilities ``[1 - p, p]``), ``Softmax``, or ``* scale + shift`` (regression);
* ``ArgMax`` (the first on a tie) of the raw scores or the probabilities, ``Gather`` of the classes.
"""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tabcompress.errors import SettingError
from tabcompress.students.portable import category_text, is_missing

SUFFIXES = (".onnx",)

#: the default domain's opset, the ``ai.onnx.ml`` opset and the IR version the models declare
OPSET = 21
ML_OPSET = 5
IR_VERSION = 10
ML = "ai.onnx.ml"
PRODUCER = "tabcompress"
EXTRA = "onnx needs the export extra: pip install 'tabcompress[export]'"

# onnx's TensorProto element types (fixed by the ONNX standard), so that this module imports without onnx
_FLOAT, _DOUBLE, _STRING, _INT64 = 1, 11, 8, 7


def _need(module: str) -> Any:
    """Import ``module`` (onnx, onnxruntime), or say in one line how to install it."""
    try:
        return import_module(module)
    except ImportError as exc:
        raise SettingError("to", f"{EXTRA} ({module} is not installed)") from exc


# -- the model ---------------------------------------------------------------------------------------
def render(portable: dict[str, Any], name: str) -> dict[str, bytes]:
    """The ONNX model of ``portable``, serialised, under its one suffix."""
    return {".onnx": build(portable, name).SerializeToString()}


def build(portable: dict[str, Any], name: str = "student") -> Any:
    """The ``onnx.ModelProto`` of a portable description (checked with ``onnx.checker``)."""
    onnx = _need("onnx")
    from onnx import helper

    graph = _Graph(helper, portable)
    z = graph.encode()
    raw = graph.scores(z)
    graph.finish(raw)
    columns = [c["name"] for c in portable["columns"]]
    doc = _docstring(portable, graph.output_names)
    model = helper.make_model(
        helper.make_graph(graph.nodes, name or "student", graph.inputs, graph.outputs, graph.initializers,
                          doc_string=doc),
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(ML, ML_OPSET)],
        ir_version=IR_VERSION, producer_name=PRODUCER, producer_version=_version(), doc_string=doc)
    metadata = {"family": portable["family"], "task": portable["task"], "columns": json.dumps(columns),
                "classes": json.dumps(portable.get("classes")), "outputs": json.dumps(graph.output_names),
                "portable_format": f"{portable.get('format')} {portable.get('version')}"}
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model


def _version() -> str:
    from tabcompress import __version__

    return __version__


def _docstring(portable: dict[str, Any], outputs: list[str]) -> str:
    task = portable["task"]
    what = (f"{outputs[0]} [N] and {outputs[1]} [N, {len(portable['classes'])}] (double, in the order of the "
            f"classes)" if task != "regression" else f"{outputs[0]} [N] (double)")
    return (f"A tabcompress {portable['family']} student ({task}). Inputs: one per column, named after it, "
            f"shape [N, 1]: double for numbers (NaN = missing), string for categories (\"\" = missing). "
            f"Outputs: {what}.")


class _Graph:
    """Nodes, initializers, inputs and outputs of one model, under names no column has."""

    def __init__(self, helper: Any, portable: dict[str, Any]):
        self.helper, self.portable = helper, portable
        self.nodes: list = []
        self.initializers: list = []
        self.inputs: list = []
        self.outputs: list = []
        self.output_names: list[str] = []
        self.columns = portable["columns"]
        self.taken = {c["name"] for c in self.columns}
        if "" in self.taken:
            raise SettingError("to", "onnx cannot take a column whose name is empty (ONNX reads an empty "
                                     "name as no input)")
        self.count = 0
        for column in self.columns:
            kind = _DOUBLE if column["type"] == "numeric" else _STRING
            self.inputs.append(helper.make_tensor_value_info(column["name"], kind, ["N", 1]))

    def name(self, hint: str) -> str:
        """A fresh tensor name, ``hint`` with a number, that no column and no other tensor has."""
        while True:
            self.count += 1
            candidate = f"tabcompress/{hint}_{self.count}"
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate

    def const(self, hint: str, values: Any, kind: int | None = None) -> str:
        name = self.name(hint)
        array = np.asarray(values)
        if kind == _STRING or array.dtype.kind in "OUS":
            flat = [str(v).encode("utf-8") for v in array.ravel()]
            tensor = self.helper.make_tensor(name, _STRING, array.shape, flat)
        else:
            kind = kind if kind is not None else (_INT64 if array.dtype.kind in "iub" else _DOUBLE)
            dtype = {_INT64: np.int64, _DOUBLE: np.float64}[kind]
            tensor = self.helper.make_tensor(name, kind, array.shape, array.astype(dtype).ravel().tolist())
        self.initializers.append(tensor)
        return name

    def node(self, op: str, inputs: Sequence[str], hint: str | None = None, domain: str = "", out: str | None = None,
             **attributes) -> str:
        """Add a node; returns its output: ``out``, or a fresh name from ``hint``."""
        out = out or self.name(hint or op.lower())
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], domain=domain or None, **attributes))
        return out

    def tensor_attr(self, values: np.ndarray) -> Any:
        """An array as a TensorProto attribute (double, uint8, int64 or text)."""
        from onnx import numpy_helper

        return numpy_helper.from_array(values)

    # -- columns → z -------------------------------------------------------------------------------
    def encode(self) -> str:
        enc = self.portable["encoding"]
        blocks = []
        numeric = [self.columns[i]["name"] for i in enc["numeric"]]
        if numeric:
            blocks.append(self.numbers(numeric, enc["standardize"]))
        if enc["categorical"]:
            block = self.categories(enc)
            if block is not None:
                blocks.append(block)
        if not blocks:
            raise SettingError("to", "onnx needs a student with at least one column")
        return blocks[0] if len(blocks) == 1 else self.node("Concat", blocks, "z", axis=1)

    def numbers(self, names: list[str], standardize: dict[str, Any] | None) -> str:
        x = names[0] if len(names) == 1 else self.node("Concat", names, "numbers", axis=1)
        if standardize is None:
            return x
        missing = self.node("IsNaN", [x], "missing")
        values = self.node("Where", [missing, self.const("median", np.asarray(standardize["median"], float)), x],
                           "filled")
        if standardize["indicators"]:
            picked = self.node("Gather", [missing, self.const("indicators", np.asarray(standardize["indicators"],
                                                                                         np.int64))],
                               "indicator", axis=1)
            values = self.node("Concat", [values, self.node("Cast", [picked], "indicator", to=_DOUBLE)],
                               "with_indicators", axis=1)
        centred = self.node("Sub", [values, self.const("mean", np.asarray(standardize["mean"], float))], "centred")
        return self.node("Div", [centred, self.const("scale", np.asarray(standardize["scale"], float))],
                         "standardized")

    def categories(self, enc: dict[str, Any]) -> str | None:
        """The categorical block of ``z`` (None when it is empty: one-hot, no category and no missing cell
        seen). Each column's text takes the prefix ``"j:"`` (j its place among the categorical columns),
        so that one ``LabelEncoder`` serves them all: prefixes end at their colon, so no two columns' keys
        can meet."""
        positions = enc["categorical"]
        ordinal = enc["categories"] == "ordinal"
        prefixes = [f"{j}:" for j in range(len(positions))]
        keys: list[str] = []
        values: list[float] = []
        owner: list[int] = []  # one-hot: the categorical column (0-based) each position of the block belongs to
        for j, i in enumerate(positions):
            categories = self.columns[i]["categories"]
            seen: set[str] = set()
            for code, category in enumerate(categories):
                # "" is the missing cell's text, and a category listed twice is matched at its first code
                if category != "" and category not in seen:
                    seen.add(category)
                    keys.append(prefixes[j] + category)
                    values.append(code if ordinal else len(owner) + code)
            if ordinal:
                continue
            width = len(categories)
            if enc["missing_column"][j]:
                keys.append(prefixes[j])  # the text of a missing cell, prefixed
                values.append(len(owner) + width)
                width += 1
            owner += [j] * width
        if not ordinal and not owner:
            return None
        if not keys:  # every prefixed text has its prefix, so "" matches none: all take the default
            keys, values = [""], [np.nan if ordinal else -1]
        names = [self.columns[i]["name"] for i in positions]
        text = names[0] if len(names) == 1 else self.node("Concat", names, "text", axis=1)
        keyed = self.node("StringConcat", [self.const("prefix", np.asarray(prefixes, dtype=object)), text], "keyed")
        key_tensor = self.tensor_attr(np.asarray(keys, dtype=object))
        if ordinal:  # the code as a double, NaN when missing or unseen
            return self.node("LabelEncoder", [keyed], "codes", domain=ML, keys_tensor=key_tensor,
                             values_tensor=self.tensor_attr(np.asarray(values, dtype=np.float64)),
                             default_tensor=self.tensor_attr(np.asarray([np.nan])))
        # one-hot: the position of the column's 1 in the block (-1 when unseen), spread over the column's
        # positions, compared with each position
        where = self.node("LabelEncoder", [keyed], "position", domain=ML, keys_tensor=key_tensor,
                          values_tensor=self.tensor_attr(np.asarray(values, dtype=np.int64)),
                          default_tensor=self.tensor_attr(np.asarray([-1], dtype=np.int64)))
        spread = self.node("Gather", [where, self.const("owner", np.asarray(owner, np.int64))], "spread", axis=1)
        hot = self.node("Equal", [spread, self.const("slot", np.arange(len(owner), dtype=np.int64))], "hot")
        return self.node("Cast", [hot], "onehot", to=_DOUBLE)

    # -- z → raw scores ----------------------------------------------------------------------------
    def scores(self, z: str) -> str:
        model = self.portable["model"]
        if model["kind"] == "dense":
            h = z
            for i, layer in enumerate(model["layers"]):
                weight = np.asarray(layer["weight"], dtype=np.float64)
                h = self.node("MatMul", [h, self.const("weight", weight)], "product")
                h = self.node("Add", [h, self.const("bias", np.asarray(layer["bias"], dtype=np.float64))], "layer")
                if i < len(model["layers"]) - 1:
                    h = self.node("Relu", [h], "relu")
            return h
        if model["kind"] != "trees":
            raise SettingError("to", f"onnx cannot write a model of kind {model['kind']!r}")
        rounded = self.node("Cast", [self.node("Cast", [z], "float32", to=_FLOAT)], "rounded", to=_DOUBLE)
        raw = self.node("TreeEnsemble", [rounded], "trees", domain=ML, **self.tree_attributes(model))
        base = np.asarray(model["base"], dtype=np.float64)
        if np.any(base != 0.0):
            raw = self.node("Add", [raw, self.const("base", base)], "raw")
        return raw

    def tree_attributes(self, model: dict[str, Any]) -> dict[str, Any]:
        """``TreeEnsemble``'s attributes for the trees of ``model``: interior nodes in ``nodes_*``, leaves
        in ``leaf_*``; a tree whose leaves hold ``k`` values is written ``k`` times, once per output."""
        mode = 0 if model["compare"] == "<=" else 1  # BRANCH_LEQ or BRANCH_LT
        nodes: dict[str, list] = {key: [] for key in ("featureids", "splits", "truenodeids", "trueleafs",
                                                      "falsenodeids", "falseleafs", "missing")}
        roots: list[int] = []
        leaf_target: list[int] = []
        leaf_weight: list[float] = []
        for tree in model["trees"]:
            left, right = tree["left"], tree["right"]
            leaves = [i for i, child in enumerate(left) if child < 0]
            for k in range(len(tree["value"][leaves[0]])):
                leaf_at = {}
                for i in leaves:
                    leaf_at[i] = len(leaf_weight)
                    leaf_weight.append(float(tree["value"][i][k]))
                    leaf_target.append(int(tree["output"]) + k)
                interior = [i for i, child in enumerate(left) if child >= 0]
                node_at = {i: len(nodes["featureids"]) + n for n, i in enumerate(interior)}
                if not interior:  # a lone leaf: one node whose both branches reach it
                    roots.append(len(nodes["featureids"]))
                    self._add_node(nodes, 0, 0.0, (leaf_at[0], 1), (leaf_at[0], 1), False)
                    continue
                roots.append(node_at[0])
                for i in interior:
                    true = (leaf_at[left[i]], 1) if left[i] in leaf_at else (node_at[left[i]], 0)
                    false = (leaf_at[right[i]], 1) if right[i] in leaf_at else (node_at[right[i]], 0)
                    self._add_node(nodes, tree["feature"][i], tree["threshold"][i], true, false,
                                   tree["missing_left"][i])
        n = len(nodes["featureids"])
        return {"n_targets": int(model["n_outputs"]), "aggregate_function": 1, "post_transform": 0,
                "tree_roots": roots, "nodes_featureids": nodes["featureids"],
                "nodes_splits": self.tensor_attr(np.asarray(nodes["splits"], dtype=np.float64)),
                "nodes_modes": self.tensor_attr(np.full(n, mode, dtype=np.uint8)),
                "nodes_truenodeids": nodes["truenodeids"], "nodes_trueleafs": nodes["trueleafs"],
                "nodes_falsenodeids": nodes["falsenodeids"], "nodes_falseleafs": nodes["falseleafs"],
                "nodes_missing_value_tracks_true": nodes["missing"],
                "leaf_targetids": leaf_target,
                "leaf_weights": self.tensor_attr(np.asarray(leaf_weight, dtype=np.float64))}

    @staticmethod
    def _add_node(nodes: dict[str, list], feature: int, threshold: float, true: tuple[int, int],
                  false: tuple[int, int], missing_left: bool) -> None:
        nodes["featureids"].append(int(feature))
        nodes["splits"].append(float(threshold))
        nodes["truenodeids"].append(true[0])
        nodes["trueleafs"].append(true[1])
        nodes["falsenodeids"].append(false[0])
        nodes["falseleafs"].append(false[1])
        nodes["missing"].append(int(bool(missing_left)))

    # -- raw scores → outputs ----------------------------------------------------------------------
    def output(self, wanted: str, kind: int, shape: list) -> str:
        """Declare a graph output named ``wanted`` (with trailing ``_`` while a column has that name); the
        node computing it writes to the name returned."""
        name = wanted
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        self.outputs.append(self.helper.make_tensor_value_info(name, kind, shape))
        self.output_names.append(name)
        return name

    def finish(self, raw: str) -> None:
        out = self.portable["output"]
        link = out["link"]
        if link == "identity":
            value = self.output("value", _DOUBLE, ["N"])
            scale, shift = float(out["scale"]), float(out["shift"])
            first = self.node("Gather", [raw, self.const("first", np.asarray(0, dtype=np.int64))], "value", axis=1,
                              out=value if scale == 1.0 and shift == 0.0 else None)
            if scale != 1.0:
                first = self.node("Mul", [first, self.const("scale", np.asarray(scale))], "scaled",
                                  out=value if shift == 0.0 else None)
            if shift != 0.0:
                self.node("Add", [first, self.const("shift", np.asarray(shift))], out=value)
            return
        classes = self.portable["classes"]
        integers = all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
        label = self.output("label", _INT64 if integers else _STRING, ["N"])
        proba = self.output("probabilities", _DOUBLE, ["N", len(classes)])
        if link == "normalize":
            clipped = self.node("Relu", [raw], "clipped")
            total = self.node("ReduceSum", [clipped, self.const("axis", np.asarray([1], dtype=np.int64))], "total",
                              keepdims=1)
            share = self.node("Div", [clipped, total], "share")
            positive = self.node("Greater", [total, self.const("zero", np.asarray(0.0))], "positive")
            self.node("Where", [positive, share, self.const("uniform", np.asarray(1.0 / len(classes)))], out=proba)
        elif link == "sigmoid":
            p = self.node("Sigmoid", [raw], "p")
            self.node("Concat", [self.node("Sub", [self.const("one", np.asarray(1.0)), p], "q"), p], axis=1, out=proba)
        elif link == "softmax":
            self.node("Softmax", [raw], axis=1, out=proba)
        else:
            raise SettingError("to", f"onnx cannot write the link {link!r}")
        decide = raw if out["argmax"] == "raw" else proba
        index = self.node("ArgMax", [decide], "index", axis=1, keepdims=0, select_last_index=0)
        if integers:
            table = self.const("classes", np.asarray(classes, dtype=np.int64), _INT64)
        else:
            table = self.const("classes", np.asarray([str(c) for c in classes], dtype=object), _STRING)
        self.node("Gather", [table, index], axis=0, out=label)


# -- running it ----------------------------------------------------------------------------------------
def feed(portable: dict[str, Any], frame: Any) -> dict[str, np.ndarray]:
    """The inputs of the exported model for the rows of ``frame`` (a DataFrame with the student's
    columns, read by name, as the student takes them): numbers as doubles (missing → NaN), categories as
    the text of each value, ``category_text(value)`` (missing, i.e. None, NaN or pandas' NA, → ``""``),
    each ``[N, 1]``."""
    names = [c["name"] for c in portable["columns"]]
    absent = [n for n in names if n not in frame.columns]
    if absent:
        raise ValueError(f"the frame is missing {len(absent)} column(s) the student needs: {', '.join(absent)}")
    inputs: dict[str, np.ndarray] = {}
    for column in portable["columns"]:
        cells = frame[column["name"]]
        if column["type"] == "numeric":
            if isinstance(cells.dtype, np.dtype) and cells.dtype.kind in "fiub":  # NaN already, and quick
                numbers = cells.to_numpy(dtype=np.float64)
            else:  # pandas' nullable types, objects: pd.NA and None become NaN
                numbers = cells.to_numpy(dtype=np.float64, na_value=np.nan)
            inputs[column["name"]] = numbers.reshape(-1, 1)
        else:
            values = cells.to_numpy(dtype=object)
            inputs[column["name"]] = np.fromiter(map(_text, values), dtype=object, count=len(values)).reshape(-1, 1)
    return inputs


def _text(cell: Any) -> str:
    """A categorical cell as the model's input: its text, or "" when missing (as the portable evaluator
    reads missing: None, NaN, pandas' NA and NaT)."""
    if isinstance(cell, str):
        return cell
    if is_missing(cell):
        return ""
    return category_text(cell)


def session(source: str | Path | bytes, *, threads: int | None = None) -> Any:
    """An onnxruntime ``InferenceSession`` (CPU) of an exported model: a path or the model's bytes.
    ``threads`` sets onnxruntime's intra-op threads (its default: one per core)."""
    ort = _need("onnxruntime")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    model = source if isinstance(source, bytes) else str(source)
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
