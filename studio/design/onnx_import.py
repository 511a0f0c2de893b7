"""Import an ONNX model as a design with its weights: operators are mapped onto catalogue layers.

Gemm and MatMul(+Add) become Linear, Conv and ConvTranspose the convolutions, LSTM/GRU/RNN the
recurrent layers (with the transposes around them that batch-first models need), Gather on a
weight table Embedding, and so on. Shape computations (Shape, Gather on shapes, Concat of sizes) are
evaluated or dropped. Operators that do not map are listed together in one error; nothing is built
from a model that does not map completely, and the result is checked against onnxruntime.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from studio.core.onnx._functions import DOMAIN as FUNCTION_DOMAIN
from studio.core.onnx._functions import layer_of

from .catalogue import CATALOGUE
from .document import Design
from .graph import NAME_RE, RESERVED_NAMES
from .onnx_mapping import GATE_FROM_ONNX, fold_constant

TOLERANCE = 1e-3


class OnnxImportError(ValueError):
    """An ONNX file that cannot become a design; `unmapped` lists each operator that does not map."""

    def __init__(self, message, unmapped=()):
        self.unmapped = list(unmapped)
        super().__init__(message)


@dataclass
class OnnxImport:
    design: Design
    state: dict  # state_dict of the built design: "node.param" -> numpy array
    operators: Counter = field(default_factory=Counter)  # ONNX operator -> how many were mapped
    input_name: str = "input"
    max_difference: float | None = None


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _dims(value_info):
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim)


def _ints(v):
    return [int(i) for i in v]


def _symmetric(pads, what):
    n = len(pads) // 2
    if list(pads[:n]) != list(pads[n:]):
        raise _Unmapped(f"asymmetric {what} padding {list(pads)}")
    return list(pads[:n])


class _Unmapped(Exception):
    """One node that does not map; the reason is added to the list of unmapped operators."""


class _Downstream(Exception):
    """A node fed by a node that did not map: not listed, its cause already is."""


class _Importer:
    def __init__(self, model):
        from onnx import numpy_helper

        self.model = model
        g = model.graph
        self.consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        self.shapes = {}
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            self.shapes[vi.name] = _dims(vi)
        from studio.core.onnx._export import live_nodes

        self.live = live_nodes(list(g.node), [o.name for o in g.output])  # dead branches are ignored
        self.consumers = Counter(n for node in self.live for n in node.input if n)
        self.design = Design()
        self.state: dict = {}
        self.src: dict = {}  # value name -> (design node id, port)
        self.shape_values: set = set()  # values computed from shapes only: not part of the network
        self.swapped: dict = {}  # value -> batch-first value it is the (L, N, ...) transpose of
        self.rnn_y: dict = {}  # recurrent output Y (L, D, N, H) -> design node id
        self.rnn_seq: dict = {}  # (L, N, D*H) sequence of a recurrent node -> node id
        self.rnn_h: dict = {}  # Y_h of a recurrent node -> node id
        self.rnn_layers: dict = {}  # node id -> number of layers so far
        self.unmapped: list = []
        self.failed: set = set()  # outputs of nodes that did not map
        self.operators: Counter = Counter()
        self.input_name = None
        self.skip: set = set()  # ids of Add nodes folded into the Linear before them
        self.functions = {(f.domain, f.name): f for f in model.functions}

    # ------------------------------------------------------------------ helpers
    def shape(self, name):
        s = self.shapes.get(name)
        if s is None:
            raise _Unmapped(f"the shape of {name!r} is unknown")
        return s

    def const(self, name):
        return self.consts.get(name) if name else None

    def data(self, name):
        if name in self.src:
            return self.src[name]
        if name in self.failed:
            raise _Downstream()
        if name in self.swapped or name in self.rnn_y or name in self.rnn_seq or name in self.rnn_h:
            raise _Unmapped("a transposed or per-direction recurrent output used by another layer")
        raise _Unmapped(f"the input {name!r} is not computed by a mapped layer")

    def node_name(self, hint: str, type_: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", hint or "").strip("_")
        if base and base[0].isdigit():
            base = f"{type_.lower()}_{base}"
        if not base or not NAME_RE.match(base[:60]) or base in RESERVED_NAMES:
            base = type_.lower()
        base = base[:60]
        taken = {n.name for n in self.design.nodes.values()}
        return base if base not in taken else self.design.unique_name(base)

    def add(self, type_, params, inputs, onnx_node, weights=None, hint=None, by_node_name=False):
        """A catalogue node fed by the values `inputs`; its weights go into the state dict."""
        feeds = [self.data(i) for i in inputs]
        names = [n for n in onnx_node.input if n in self.consts and "." in n and not by_node_name]
        parts = onnx_node.name.strip("/").split("/")
        if names:  # a parameter "block.conv1.weight" names its layer "block_conv1"
            hint = names[0].rsplit(".", 1)[0]
        elif len(parts) > 1:  # PyTorch's node names: "/block/conv1/Conv"
            hint = parts[-2]
        name = self.node_name(hint or type_.lower(), type_)
        node = self.design.add_node(type_, params, name)
        for port, (src, src_port) in enumerate(feeds):
            self.design.connect(src, node.id, src_port, port)
        for k, v in (weights or {}).items():
            self.state[f"{name}.{k}"] = np.array(v)
        return node

    def out(self, onnx_node, design_node, i=0):
        self.src[onnx_node.output[i]] = (design_node.id, 0)

    # ------------------------------------------------------------------ the walk
    def run(self):
        g = self.model.graph
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise OnnxImportError(
                f"a design has one input, but the model has {len(inputs)}: "
                + ", ".join(i.name for i in inputs)
            )
        self._add_input(inputs[0])
        for node in self.live:
            try:
                self._convert(node)
            except _Unmapped as e:
                self.unmapped.append(f"{node.op_type} (node {node.name or node.output[0]!r}: {e})")
                self.failed.update(node.output)
            except _Downstream:
                self.failed.update(node.output)
        if self.unmapped:
            raise OnnxImportError(
                f"{len(self.unmapped)} operator(s) do not map onto Studio's layers: "
                + "; ".join(self.unmapped),
                self.unmapped,
            )
        self._add_output(g.output)

    def _add_input(self, vi):
        from onnx import TensorProto

        dims = _dims(vi)
        if not dims or any(not isinstance(d, int) or d <= 0 for d in dims[1:]):
            raise OnnxImportError(
                f"the input {vi.name!r} needs a known size in every dimension but the batch, got {dims}"
            )
        elem = vi.type.tensor_type.elem_type
        if elem in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):
            dtype = "float32"
        elif elem in (TensorProto.INT64, TensorProto.INT32):
            dtype = "int64"
        else:
            raise OnnxImportError(f"the input {vi.name!r} has an element type Studio does not take ({elem})")
        node = self.design.add_node("Input", {"shape": list(dims[1:]), "dtype": dtype}, "inputs")
        self.src[vi.name] = (node.id, 0)
        self.input_name = vi.name

    def _add_output(self, outputs):
        if len(outputs) != 1:
            raise OnnxImportError(
                f"a design has one output, but the model has {len(outputs)}: "
                + ", ".join(o.name for o in outputs)
            )
        name = outputs[0].name
        src, port = self.data(name)
        rank = len(self.shapes.get(name) or ())
        last = self.design.nodes[src].type
        if rank == 2:
            params = {"task": "classification", "loss": "nll" if last == "LogSoftmax" else "cross_entropy"}
        else:
            params = {"task": "regression", "loss": "mse"}
        node = self.design.add_node("Output", params, self.design.unique_name("output"))
        self.design.connect(src, node.id, port, 0)

    def _convert(self, node):
        op = node.op_type
        if node.domain == FUNCTION_DOMAIN:
            _function_layer(self, node)
            self.operators[f"{layer_of(op)} (function)"] += 1
            return
        if node.domain not in ("", "ai.onnx"):
            raise _Unmapped(f"operator domain {node.domain!r}")
        data_inputs = [n for n in node.input if n and n not in self.consts and n not in self.shape_values]
        if not data_inputs or op in ("Shape", "Size"):
            self._shape_node(node)
            return
        if any(n in self.failed for n in node.input):
            raise _Downstream()
        handler = _HANDLERS.get(op)
        if handler is None:
            raise _Unmapped("no matching layer")
        handler(self, node, _attrs(node))
        if id(node) not in self.skip:
            self.operators[op] += 1

    def _shape_node(self, node):
        """A node of constants or shapes only: evaluate it when possible, otherwise set it aside."""
        values = fold_constant(node, self.consts, self.shapes)
        if values is None:
            self.shape_values.update(node.output)
        else:
            for name, v in zip(node.output, values):
                self.consts[name] = v


# ---------------------------------------------------------------------------------------------------
# Handlers: one per ONNX operator
# ---------------------------------------------------------------------------------------------------

_HANDLERS: dict = {}


def handles(*ops):
    def register(fn):
        for o in ops:
            _HANDLERS[o] = fn
        return fn

    return register


def _linear(imp, node, x, w, b):
    """A Linear layer from a weight (out, in) and an optional bias."""
    params = {"out_features": int(w.shape[0]), "bias": b is not None}
    weights = {"weight": w} if b is None else {"weight": w, "bias": b.reshape(-1)}
    return imp.add("Linear", params, [x], node, weights)


@handles("Gemm")
def _gemm(imp, node, a):
    x, bname = node.input[0], node.input[1]
    w = imp.const(bname)
    if w is None or a.get("transA", 0):
        raise _Unmapped("a product of two computed values")
    w = (w if a.get("transB", 0) else w.T) * a.get("alpha", 1.0)
    c = imp.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if c is not None:
        c = np.broadcast_to(c * a.get("beta", 1.0), (w.shape[0],))
    imp.out(node, _linear(imp, node, x, w.astype(np.float32), None if c is None else c.astype(np.float32)))


@handles("MatMul")
def _matmul(imp, node, a):
    w = imp.const(node.input[1])
    if w is None or w.ndim != 2:
        raise _Unmapped("a product of two computed values")
    bias, add = _bias_after(imp, node.output[0], w.shape[1])
    design_node = _linear(imp, node, node.input[0], w.T, bias)
    imp.out(node, design_node)
    if add is not None:
        imp.src[add.output[0]] = (design_node.id, 0)
        imp.operators["Add"] += 1
        imp.skip.add(id(add))


def _bias_after(imp, value, n):
    """The constant bias of an Add that alone consumes `value`, and that Add node."""
    if imp.consumers[value] != 1:
        return None, None
    for other in imp.live:
        if other.op_type == "Add" and value in other.input:
            c = imp.const(other.input[1] if other.input[0] == value else other.input[0])
            if c is not None and c.size == n:
                return c.reshape(-1), other
    return None, None


@handles("Add", "Mul")
def _add_mul(imp, node, a):
    if id(node) in imp.skip:  # folded into the layer before it (a Linear's bias, SiLU's product)
        return
    if any(imp.const(i) is not None for i in node.input):
        raise _Unmapped("an elementwise operation with a constant")
    type_ = "Add" if node.op_type == "Add" else "Multiply"
    imp.out(node, imp.add(type_, {}, list(node.input), node, hint=type_.lower()))


def _conv_params(a, w, nd, node_op):
    k = _ints(a.get("kernel_shape", w.shape[2:]))
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise _Unmapped(f"auto_pad={a['auto_pad']!r}")
    pads = _symmetric(_ints(a.get("pads", [0] * 2 * nd)), node_op)
    strides = _ints(a.get("strides", [1] * nd))
    dil = _ints(a.get("dilations", [1] * nd))
    one = (lambda v: v[0]) if nd == 1 else (lambda v: list(v))
    return {
        "kernel_size": one(k),
        "stride": one(strides),
        "padding": one(pads),
        "dilation": one(dil),
        "groups": int(a.get("group", 1)),
    }


@handles("Conv")
def _conv(imp, node, a):
    w = imp.const(node.input[1])
    if w is None or w.ndim not in (3, 4):
        raise _Unmapped("a convolution over 1 or 2 dimensions with constant weights is needed")
    nd = w.ndim - 2
    b = imp.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    params = _conv_params(a, w, nd, "Conv")
    params.update(out_channels=int(w.shape[0]), bias=b is not None)
    weights = {"weight": w} if b is None else {"weight": w, "bias": b}
    imp.out(node, imp.add(f"Conv{nd}d", params, [node.input[0]], node, weights))


@handles("ConvTranspose")
def _conv_transpose(imp, node, a):
    w = imp.const(node.input[1])
    if w is None or w.ndim != 4:
        raise _Unmapped("only 2-D transposed convolutions with constant weights map")
    if "output_shape" in a:
        raise _Unmapped("an explicit output_shape")
    b = imp.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    params = _conv_params(a, w, 2, "ConvTranspose")
    params.update(
        out_channels=int(w.shape[1] * params["groups"]),
        bias=b is not None,
        output_padding=_ints(a.get("output_padding", [0, 0])),
    )
    weights = {"weight": w} if b is None else {"weight": w, "bias": b}
    imp.out(node, imp.add("ConvTranspose2d", params, [node.input[0]], node, weights))


@handles("MaxPool", "AveragePool")
def _pool(imp, node, a):
    if len(node.output) > 1 and node.output[1] and imp.consumers[node.output[1]]:
        raise _Unmapped("the indices output")
    k = _ints(a["kernel_shape"])
    nd = len(k)
    one = (lambda v: v[0]) if nd == 1 else (lambda v: list(v))
    params = {
        "kernel_size": one(k),
        "stride": one(_ints(a.get("strides", [1] * nd))),
        "padding": one(_symmetric(_ints(a.get("pads", [0] * 2 * nd)), node.op_type)),
        "ceil_mode": bool(a.get("ceil_mode", 0)),
    }
    if node.op_type == "MaxPool":
        type_ = f"MaxPool{nd}d"
        params["dilation"] = one(_ints(a.get("dilations", [1] * nd)))
    else:
        if nd != 2:
            raise _Unmapped("average pooling maps in 2-D only")
        type_ = "AvgPool2d"
        params["count_include_pad"] = bool(a.get("count_include_pad", 0))
    imp.out(node, imp.add(type_, params, [node.input[0]], node, hint=type_.lower()))


@handles("GlobalAveragePool")
def _global_pool(imp, node, a):
    if len(imp.shape(node.input[0])) != 4:
        raise _Unmapped("global pooling maps for images (N, C, H, W) only")
    imp.out(node, imp.add("AdaptiveAvgPool2d", {"output_size": [1, 1]}, [node.input[0]], node, hint="pool"))


@handles("BatchNormalization")
def _batchnorm(imp, node, a):
    scale, bias, mean, var = (imp.const(n) for n in node.input[1:5])
    if any(v is None for v in (scale, bias, mean, var)):
        raise _Unmapped("computed statistics")
    rank = len(imp.shape(node.input[0]))
    type_ = "BatchNorm2d" if rank == 4 else "BatchNorm1d"
    params = {"eps": float(a.get("epsilon", 1e-5)), "momentum": round(1.0 - float(a.get("momentum", 0.9)), 6)}
    weights = {
        "weight": scale,
        "bias": bias,
        "running_mean": mean,
        "running_var": var,
        "num_batches_tracked": np.asarray(0, np.int64),
    }
    imp.out(node, imp.add(type_, params, [node.input[0]], node, weights))


@handles("LayerNormalization")
def _layernorm(imp, node, a):
    rank = len(imp.shape(node.input[0]))
    if int(a.get("axis", -1)) % rank != rank - 1:
        raise _Unmapped("normalisation over more than the last dimension")
    scale = imp.const(node.input[1])
    b = imp.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    params = {"eps": float(a.get("epsilon", 1e-5)), "elementwise_affine": True, "bias": b is not None}
    weights = {"weight": scale} if b is None else {"weight": scale, "bias": b}
    imp.out(node, imp.add("LayerNorm", params, [node.input[0]], node, weights))


_ACTIVATIONS = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Softplus": "Softplus"}


def _silu_product(imp, node):
    """The Mul that alone consumes Sigmoid(x) and multiplies it with x: together they are SiLU."""
    x, y = node.input[0], node.output[0]
    if imp.consumers[y] != 1:
        return None
    for other in imp.live:
        if other.op_type == "Mul" and y in other.input and x in other.input:
            return other
    return None


@handles(*_ACTIVATIONS, "LeakyRelu", "Elu", "Gelu", "Softmax", "LogSoftmax")
def _activation(imp, node, a):
    op = node.op_type
    params = {}
    if op == "Sigmoid" and (mul := _silu_product(imp, node)) is not None:
        silu = imp.add("SiLU", {}, [node.input[0]], node)
        imp.src[mul.output[0]] = (silu.id, 0)
        imp.skip.add(id(mul))
        return
    if op == "LeakyRelu":
        type_, params = "LeakyReLU", {"negative_slope": float(a.get("alpha", 0.01))}
    elif op == "Elu":
        type_, params = "ELU", {"alpha": float(a.get("alpha", 1.0))}
    elif op == "Gelu":
        approx = a.get("approximate", "none")
        type_, params = "GELU", {"approximate": approx.decode() if isinstance(approx, bytes) else approx}
    elif op in ("Softmax", "LogSoftmax"):
        type_, params = op, {"dim": int(a.get("axis", -1))}
    else:
        type_ = _ACTIVATIONS[op]
    imp.out(node, imp.add(type_, params, [node.input[0]], node, hint=type_.lower()))


@handles("Dropout")
def _dropout(imp, node, a):
    ratio = imp.const(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    p = float(ratio) if ratio is not None else float(a.get("ratio", 0.5))
    imp.out(node, imp.add("Dropout", {"p": p}, [node.input[0]], node, hint="dropout"))


@handles("Identity")
def _identity(imp, node, a):
    _alias(imp, node.input[0], node.output[0])


def _alias(imp, src, dst):
    for table in (imp.src, imp.swapped, imp.rnn_y, imp.rnn_seq, imp.rnn_h):
        if src in table:
            table[dst] = table[src]
            return
    imp.data(src)


@handles("Cast")
def _cast(imp, node, a):
    _alias(imp, node.input[0], node.output[0])


@handles("Concat")
def _concat(imp, node, a):
    axis = int(a["axis"])
    ins = [n for n in node.input if n]
    rank = len(imp.shape(ins[0]))
    if axis % rank == 0:
        raise _Unmapped("joining along the batch dimension")
    value = ins[0]
    for i, other in enumerate(ins[1:]):
        joined = imp.add("Concat", {"dim": axis}, [value, other], node, hint="concat")
        value = f"{node.output[0]}#{i}"
        imp.src[value] = (joined.id, 0)
    imp.src[node.output[0]] = imp.src[value]


@handles("Flatten", "Reshape", "Squeeze", "Unsqueeze")
def _reshape(imp, node, a):
    x, y = node.input[0], node.output[0]
    if node.op_type == "Squeeze" and x in imp.rnn_y:
        return _rnn_squeeze_directions(imp, node)
    if node.op_type == "Reshape" and x in imp.rnn_y:
        imp.rnn_seq[y] = imp.rnn_y[x]
        return None
    if x in imp.rnn_h:
        return _rnn_last_from_state(imp, node)
    if x in imp.rnn_seq or x in imp.swapped:
        raise _Unmapped("a reshape of a sequence-first value")
    din, dout = imp.shape(x), imp.shape(y)
    if dout is None or dout[0] != din[0] or any(not isinstance(d, int) for d in dout[1:]):
        raise _Unmapped(f"a reshape from {din} to {dout} that does not keep the batch dimension")
    if node.op_type == "Flatten" and int(a.get("axis", 1)) != 1:
        raise _Unmapped("flattening from another axis than 1")
    if tuple(dout) == tuple(din):
        _alias(imp, x, y)
    elif len(dout) == 2:
        imp.out(node, imp.add("Flatten", {"start_dim": 1, "end_dim": -1}, [x], node, hint="flatten"))
    else:
        imp.out(node, imp.add("Reshape", {"shape": list(dout[1:])}, [x], node, hint="reshape"))


@handles("Transpose")
def _transpose(imp, node, a):
    x, y = node.input[0], node.output[0]
    perm = _ints(a.get("perm", []))
    if x in imp.rnn_y and perm == [0, 2, 1, 3]:
        imp.rnn_y[y] = imp.rnn_y[x]  # (L, N, D, H): reshaped to (L, N, D*H) next
        return
    if perm == [1, 0, 2]:
        if x in imp.rnn_seq:  # back to batch first: the recurrent layer's output
            imp.src[y] = (imp.rnn_seq[x], 0)
            return
        imp.data(x)
        imp.swapped[y] = x
        return
    if not perm or perm[0] != 0:
        raise _Unmapped(f"a transpose {perm} that moves the batch dimension")
    imp.out(node, imp.add("Permute", {"dims": perm}, [x], node, hint="permute"))


@handles("Gather")
def _gather(imp, node, a):
    table, ids = node.input
    w = imp.const(table)
    axis = int(a.get("axis", 0))
    if w is not None and w.ndim == 2 and axis == 0:
        params = {"num_embeddings": int(w.shape[0]), "embedding_dim": int(w.shape[1]), "padding_idx": None}
        imp.out(node, imp.add("Embedding", params, [ids], node, {"weight": w}))
        return
    index = imp.const(ids)
    if index is None or index.ndim != 0:
        raise _Unmapped("a lookup that is not an embedding")
    if table in imp.rnn_seq and axis == 0:
        return _rnn_last(imp, node, imp.rnn_seq[table], int(index))
    if table in imp.rnn_h and axis == 0:
        return _rnn_last_from_state(imp, node)
    src = imp.data(table)
    node_type = imp.design.nodes[src[0]].type
    if axis == 1 and node_type in ("LSTM", "GRU", "RNN"):
        return _rnn_last(imp, node, src[0], int(index))
    raise _Unmapped("selecting one position of a dimension")


def _function_layer(imp, node):
    """A layer exported whole as a local function: its settings are attributes, its weights inputs."""
    layer = layer_of(node.op_type)
    fn = imp.functions.get((node.domain, node.op_type))
    if layer not in CATALOGUE or fn is None:
        raise _Unmapped(f"no layer {layer!r} in Studio's catalogue")
    params = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in _attrs(node).items()}
    data, weights = [], {}
    for local, outer in zip(fn.input, node.input):
        if outer in imp.consts and local.startswith("m."):
            weights[local[2:]] = imp.consts[outer]
        elif outer not in imp.consts:
            data.append(outer)
    if len(data) != 1:
        raise _Unmapped(f"{len(data)} computed inputs where the layer takes one")
    design_node = imp.add(layer, params, data, node, weights, hint=layer.lower(), by_node_name=True)
    for i, out in enumerate(node.output[1:], 1):
        if out and imp.consumers[out]:
            raise _Unmapped(f"output {i} (attention weights) is used")
    imp.out(node, design_node)


# ---------------------------------------------------------------------------------------------------
# Recurrent layers
# ---------------------------------------------------------------------------------------------------


def _recurrent_attributes(node, a) -> tuple[str, str]:
    """The direction and the nonlinearity of an ONNX recurrent node that Studio's layers can take."""
    op = node.op_type
    if int(a.get("layout", 0)) != 0 or a.get("clip") is not None or a.get("input_forget", 0):
        raise _Unmapped("layout=1, clip or input_forget")
    direction = a.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction not in ("forward", "bidirectional"):
        raise _Unmapped(f"direction={direction!r}")
    if op == "GRU" and int(a.get("linear_before_reset", 0)) != 1:
        raise _Unmapped("linear_before_reset=0 (PyTorch's GRU resets after the product)")
    nonlinearity = "tanh"
    if op == "RNN":
        acts = [s.decode() if isinstance(s, bytes) else s for s in a.get("activations", ["Tanh"])]
        if len(set(acts)) != 1 or acts[0] not in ("Tanh", "Relu"):
            raise _Unmapped(f"activations {acts}")
        nonlinearity = acts[0].lower()
    return direction, nonlinearity


def _recurrent_node(imp, node, x, hidden, direction, has_bias, nonlinearity):
    """The design node this ONNX layer becomes (a new one, or one more layer of the one below it),
    and the index of its layer."""
    op = node.op_type
    if x in imp.rnn_seq:  # stacked on a previous recurrent layer: one more layer of that node
        nid = imp.rnn_seq[x]
        design_node = imp.design.nodes[nid]
        layer = imp.rnn_layers[nid]
        same = (
            design_node.type == op
            and design_node.params["hidden_size"] == hidden
            and design_node.params["bidirectional"] == (direction == "bidirectional")
            and design_node.params["bias"] == has_bias
        )
        if not same or imp.consumers[x] != 1:
            raise _Unmapped("a stacked recurrent layer that differs from the one below")
        imp.design.set_param(nid, "num_layers", layer + 1)
        return design_node, layer
    if x not in imp.swapped:
        raise _Unmapped("a sequence-first input (Studio's recurrent layers take (N, L, features))")
    params = {
        "hidden_size": hidden,
        "num_layers": 1,
        "bias": has_bias,
        "bidirectional": direction == "bidirectional",
        "output": "sequence",
    }
    if op == "RNN":
        params["nonlinearity"] = nonlinearity
    return imp.add(op, params, [imp.swapped[x]], node, hint=op.lower()), 0


@handles("LSTM", "GRU", "RNN")
def _recurrent(imp, node, a):
    op = node.op_type
    direction, nonlinearity = _recurrent_attributes(node, a)
    for extra in node.input[4:]:
        c = imp.const(extra) if extra else None
        if extra and (c is None or np.any(c)):
            raise _Unmapped("initial states or sequence lengths that are not zeros")
    w, r = imp.const(node.input[1]), imp.const(node.input[2])
    b = imp.const(node.input[3]) if len(node.input) > 3 and node.input[3] else None
    if w is None or r is None:
        raise _Unmapped("computed weights")
    hidden = int(a.get("hidden_size", r.shape[-1]))
    mode = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}[nonlinearity] if op == "RNN" else op
    layer_w = _torch_weights(w, r, b, mode, hidden)
    design_node, layer = _recurrent_node(
        imp, node, node.input[0], hidden, direction, b is not None, nonlinearity
    )
    nid = design_node.id
    imp.rnn_layers[nid] = layer + 1
    for k, v in layer_w.items():
        for d, arr in enumerate(v):
            imp.state[f"{design_node.name}.{k}_l{layer}{'_reverse' if d else ''}"] = arr
    imp.rnn_y[node.output[0]] = nid
    if len(node.output) > 1 and node.output[1]:
        imp.rnn_h[node.output[1]] = nid


def _torch_weights(w, r, b, mode, hidden):
    """ONNX's W, R, B per direction in PyTorch's names and gate order."""
    order = GATE_FROM_ONNX[mode]

    def relay(m):
        blocks = [m[i * hidden : (i + 1) * hidden] for i in range(len(order))]
        return np.concatenate([blocks[order[j]] for j in range(len(order))], axis=0)

    out = {"weight_ih": [relay(wd) for wd in w], "weight_hh": [relay(rd) for rd in r]}
    if b is not None:
        g = w.shape[1]
        out["bias_ih"] = [relay(bd[:g]) for bd in b]
        out["bias_hh"] = [relay(bd[g:]) for bd in b]
    return out


def _rnn_squeeze_directions(imp, node):
    """Y (L, 1, N, H) squeezed on its direction axis: the sequence of a one-direction layer."""
    x = node.input[0]
    axes = imp.const(node.input[1]) if len(node.input) > 1 else np.asarray(_attrs(node).get("axes", []))
    if axes is None or [int(v) for v in np.ravel(axes)] != [1]:
        raise _Unmapped("squeezing a recurrent output on another axis than its directions")
    imp.rnn_seq[node.output[0]] = imp.rnn_y[x]


def _rnn_last(imp, node, nid, index):
    """out[:, -1] (or its sequence-first twin): the layer's output becomes its last step."""
    if index != -1:
        src = next(e.src for e in imp.design.in_edges(nid))
        if index != imp.design.infer().shapes[src][1] - 1:
            raise _Unmapped("selecting another step than the last one of a sequence")
    _use_last_step(imp, node, nid)


def _use_last_step(imp, node, nid):
    table = node.input[0]
    design_node = imp.design.nodes[nid]
    others = [v for v, s in imp.src.items() if s == (nid, 0) and v != table]
    if design_node.params["output"] == "last" or others or imp.consumers[table] != 1:
        raise _Unmapped("a recurrent layer whose whole sequence and last step are both used")
    imp.src.pop(table, None)
    imp.design.set_param(nid, "output", "last")
    imp.src[node.output[0]] = (nid, 0)


def _rnn_last_from_state(imp, node):
    """h_n of a one-layer, one-direction layer is its last step's output."""
    nid = imp.rnn_h[node.input[0]]
    p = imp.design.nodes[nid].params
    if p["num_layers"] != 1 or p["bidirectional"]:
        raise _Unmapped("the final state of a stacked or bidirectional recurrent layer")
    _use_last_step(imp, node, nid)


def import_model(model) -> OnnxImport:
    """Map an ONNX ModelProto onto a design and its weights; OnnxImportError names what does not map."""
    import onnx

    try:
        onnx.checker.check_model(model)
        model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise OnnxImportError(f"the ONNX model is not valid: {e}") from None
    imp = _Importer(model)
    imp.run()
    _lay_out(imp.design)
    problems = imp.design.infer().problems
    if problems:
        raise OnnxImportError(
            "the imported design has problems: " + "; ".join(p.message for p in problems[:5])
        )
    return OnnxImport(imp.design, imp.state, imp.operators, imp.input_name)


def _lay_out(design):
    from .layout import STEP, layered_layout

    edges = [(e.src, e.src_port, e.dst, e.dst_port) for e in design.edges]
    pos = layered_layout(list(design.nodes), edges, spacing=STEP)
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    for nid, (x, y) in pos.items():
        design.move(nid, (x - min(xs), y - min(ys)))


# ---------------------------------------------------------------------------------------------------
# Files: read, check against onnxruntime, save as a project with its weights as a run
# ---------------------------------------------------------------------------------------------------


def read_onnx(path):
    """Load an ONNX file, or OnnxImportError saying why it cannot be read."""
    try:
        import onnx
    except ImportError:
        raise OnnxImportError(
            "importing ONNX needs the onnx package: pip install 'studio[onnx]' "
            "(or pip install onnx onnxruntime)"
        ) from None
    try:
        return onnx.load(str(path))
    except FileNotFoundError:
        raise OnnxImportError(f"no ONNX file at {path}") from None
    except Exception as e:  # protobuf reports a damaged file in several ways
        raise OnnxImportError(f"{path} is not a readable ONNX file: {e}") from None


def build_imported(imported: OnnxImport):
    """The imported design as a module with the imported weights."""
    import studio.core as core

    from .build import build

    model = build(imported.design)
    try:
        model.load_state_dict({k: core.tensor(v) for k, v in imported.state.items()})
    except (KeyError, RuntimeError, ValueError) as e:
        raise OnnxImportError(f"the imported weights do not fit the design: {e}") from None
    return model.eval()


def check_against_onnxruntime(model_proto, imported: OnnxImport, model) -> float | None:
    """Largest difference between the built design and onnxruntime on a random batch of 3."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import studio.core as core

    inp = next(n for n in imported.design.nodes.values() if n.type == "Input")
    shape = (3, *inp.params["shape"])
    rng = np.random.default_rng(0)
    if inp.params["dtype"] == "int64":
        x = rng.integers(0, _vocabulary(imported), shape).astype(np.int64)
        feed = x.astype(_input_dtype(model_proto))
    else:
        x = rng.standard_normal(shape).astype(np.float32)
        feed = x
    session = ort.InferenceSession(model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {imported.input_name: feed})[0]
    with core.no_grad():
        want = model(core.tensor(x)).numpy()
    if got.shape != want.shape:
        raise OnnxImportError(
            f"the imported design gives outputs of shape {want.shape}, the model {got.shape}"
        )
    return float(np.abs(got - want).max()) if got.size else 0.0


def _vocabulary(imported):
    sizes = [n.params["num_embeddings"] for n in imported.design.nodes.values() if n.type == "Embedding"]
    return min(sizes) if sizes else 2


def _input_dtype(model_proto):
    from onnx import helper

    return helper.tensor_dtype_to_np_dtype(model_proto.graph.input[0].type.tensor_type.elem_type)


def import_onnx_file(path):
    """Read, map and check an ONNX file; returns the OnnxImport (nothing is written)."""
    proto = read_onnx(path)
    imported = import_model(proto)
    model = build_imported(imported)
    diff = check_against_onnxruntime(proto, imported, model)
    if diff is not None and diff > TOLERANCE:
        raise OnnxImportError(
            f"the imported design does not reproduce the model: its outputs differ by up to {diff:.3g}"
        )
    imported.max_difference = diff
    return imported


def imported_run(run_id: str, weights_path, source: str) -> dict:
    """A run entry for weights that were imported rather than trained."""
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {
        "id": run_id,
        "started": now,
        "finished": now,
        "status": "imported",
        "message": f"weights imported from {source}",
        "settings": {},
        "epochs_completed": 0,
        "curves": {k: [] for k in ("step", "loss", "epoch", "train_loss", "val_loss", "val_metric", "lr")},
        "metric": None,
        "final": {},
        "best": None,
        "weights": str(weights_path),
        "best_weights": None,
        "grad_norms": [],
    }


def project_from_onnx(path, output, data=None):
    """A project saved at `output` whose design and first run come from the ONNX file at `path`.

    The weights file is written beside the project first (with the design's fingerprint) and
    removed again when the project cannot be saved, so a failed import leaves nothing behind.
    """
    from pathlib import Path

    import studio.core as core

    from .project import new_project, save_project
    from .runs import new_run_id, runs_folder_for, weights_files
    from .weights import save_weights

    imported = import_onnx_file(path)
    output = Path(output)
    project = new_project(data=data, design=imported.design, path=output, name=Path(path).stem)
    project.description = f"Imported from {Path(path).name}."
    wdir = runs_folder_for(output)
    run_id = new_run_id()
    weights, _ = weights_files(wdir, run_id)
    made_dir = not wdir.exists()
    wdir.mkdir(parents=True, exist_ok=True)
    try:
        state = {k: core.tensor(v) for k, v in imported.state.items()}
        save_weights(state, weights, project.name, exclusive=True)
        project.runs.append(imported_run(run_id, weights, Path(path).name))
        save_project(project, output)
    except BaseException:
        weights.unlink(missing_ok=True)
        if made_dir:
            wdir.rmdir()
        raise
    return project, imported
