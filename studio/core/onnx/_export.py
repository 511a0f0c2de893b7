"""Build an ONNX model from a traced forward pass: inputs, initializers, converted nodes, outputs."""

from __future__ import annotations

import numpy as np

from ..autograd.graph import AccumulateGrad
from ..tensor import Tensor
from . import _modules, _recurrent  # noqa: F401  (they register their layer converters)
from ._functions import DOMAIN, module_as_function, settings_of
from ._graph import GraphBuilder, Value, to_numpy
from ._ops import convert_op
from ._registry import convert_module, is_convertible
from ._trace import ModuleCall, flatten_outputs, run_traced, topo_order
from .errors import OnnxExporterError, UnsupportedOperatorError

DEFAULT_OPSET = 20
MIN_OPSET, MAX_OPSET = 17, 21


class Exporter:
    """The state of one export: the graph, the value of each traced tensor, and where it came from."""

    def __init__(self, model, opset: int):
        self.model = model
        self.g = GraphBuilder(opset)
        self.values: dict = {}  # (id(node), output_nr) -> Value
        self.leaves: dict = {}  # id(tensor) -> Value (inputs, parameters, constants)
        self.names = {}
        for name, p in model.named_parameters():
            self.names.setdefault(id(p), name)
        for name, b in model.named_buffers():
            self.names.setdefault(id(b), name)
        self.unsupported: list = []
        self.function_types: set = set()  # layer classes exported as local functions
        self.functions: list = []  # their FunctionProtos

    @property
    def opset(self) -> int:
        return self.g.opset

    # ------------------------------------------------------------------ values of tensors
    def leaf(self, t: Tensor, hint="const") -> Value:
        """The Value of a tensor that no recorded op made: an input, a parameter or a constant."""
        v = self.leaves.get(id(t))
        if v is None:
            v = self.g.initializer(self.names.get(id(t), hint), to_numpy(t))
            self.leaves[id(t)] = v
        return v

    def value(self, t: Tensor) -> Value:
        """The Value of a traced tensor, from the node that made it or as a leaf."""
        fn = t.grad_fn
        if fn is not None:
            v = self.values.get((id(fn), t._output_nr))
            if v is None:
                raise OnnxExporterError(f"the output of {fn.name()} is used before it is exported")
            return v
        return self.leaf(t)

    def edge(self, node, i: int) -> Value | None:
        """The Value flowing into input `i` of an op node, or None when no edge was recorded."""
        fn, nr = node.next_functions[i]
        if fn is None:
            return None
        if fn.__class__ is AccumulateGrad:
            return self.leaf(fn.variable)
        return self.values[(id(fn), nr)]

    def param(self, module, attr: str, path: str, array=None, suffix=None) -> Value:
        """An initializer for a module's parameter, named by its path; `array` replaces a re-laid one."""
        t = getattr(module, attr)
        if array is None:
            return self.leaf(t)
        name = f"{path}.{suffix or attr}" if path else (suffix or attr)
        return self.g.initializer(name, array)

    def shape_of(self, node, output_nr=0):
        meta = node.output_meta(output_nr)
        return tuple(meta[0]), np.dtype(meta[1])

    # ------------------------------------------------------------------ the walk
    def convert(self, outputs):
        roots = [t.grad_fn for t in outputs]
        for node in topo_order(roots):
            try:
                settings = isinstance(node, ModuleCall) and settings_of(node.module, self.function_types)
                if settings:
                    outs = module_as_function(self, node, settings)
                elif isinstance(node, ModuleCall):
                    outs = convert_module(self, node)
                else:
                    outs = convert_op(self, node)
            except UnsupportedOperatorError as e:
                self.unsupported.extend(e.items)
                continue
            except KeyError as e:  # an input came from an op that could not be exported
                if self.unsupported:
                    continue
                raise OnnxExporterError(f"{node.name()}: an input is not available ({e})") from None
            for i, v in enumerate(outs):
                if v is not None:
                    self.values[(id(node), i)] = v
        if self.unsupported:
            seen = list(dict.fromkeys(self.unsupported))
            raise UnsupportedOperatorError(seen)


def _dynamic_map(dynamic_axes, name):
    spec = (dynamic_axes or {}).get(name)
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {int(k): str(v) for k, v in spec.items()}
    return {int(d): f"{name}_dynamic_axes_{i + 1}" for i, d in enumerate(spec)}


def _value_info(onnx, v: Value, name: str, dyn: dict):
    dims = [dyn.get(i, v.dyn.get(i, s)) for i, s in enumerate(v.shape)]
    dtype = onnx.helper.np_dtype_to_tensor_dtype(v.dtype)
    return onnx.helper.make_tensor_value_info(name, dtype, dims)


def _prepare_inputs(args, input_names, dynamic_axes):
    tensors, specs = [], []
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            raise OnnxExporterError(
                f"export: args[{i}] is a {type(a).__name__}; only tensors can be inputs of an ONNX graph"
            )
        t = a.detach().clone()
        if t._data.dtype.kind == "f":
            t.requires_grad_(True)
        name = (
            input_names[i]
            if input_names and i < len(input_names)
            else ("input" if len(args) == 1 else f"input_{i}")
        )
        specs.append((name, _dynamic_map(dynamic_axes, name)))
        tensors.append(t)
    return tensors, specs


def build_model(
    model,
    args,
    kwargs=None,
    input_names=None,
    output_names=None,
    dynamic_axes=None,
    opset_version=None,
    functions=(),
):
    """Trace `model` on `args` and return the ONNX ModelProto (checked by onnx.checker).

    `functions`: class names of layers exported as local functions (see `_functions`).
    """
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise OnnxExporterError(f"opset_version must be from {MIN_OPSET} to {MAX_OPSET}, got {opset_version}")
    if isinstance(args, Tensor):
        args = (args,)
    args = tuple(args)
    if args and isinstance(args[-1], dict) and kwargs is None:
        args, kwargs = args[:-1], args[-1]
    ex = Exporter(model, opset)
    ex.build_sub = build_model  # a layer exported as a function is traced alone with it
    ex.function_types = set(functions)
    onnx = ex.g.onnx
    tensors, specs = _prepare_inputs(args, input_names, dynamic_axes)
    graph_inputs = []
    for t, (name, dyn) in zip(tensors, specs):
        v = Value(ex.g.reserve(name), tuple(t.shape), t._data.dtype, dyn)
        ex.leaves[id(t)] = v
        graph_inputs.append(_value_info(onnx, v, name, dyn))
    modes = [(m, m.training) for m in model.modules()]
    frozen = [p for p in model.parameters() if not p.requires_grad and p._data.dtype.kind == "f"]
    model.eval()
    for p in frozen:
        p.requires_grad_(True)
    try:

        def whole(m):
            return is_convertible(m) or settings_of(m, ex.function_types) is not None

        output = run_traced(model, tensors, dict(kwargs or {}), whole)
        outs = flatten_outputs(output)
        if not outs:
            raise OnnxExporterError("export: the model returned no tensor")
        ex.convert(outs)
        out_values = [ex.value(t) for t in outs]
    finally:
        for m, mode in modes:
            m.training = mode
        for p in frozen:
            p.requires_grad_(False)
    return _assemble(ex, graph_inputs, out_values, output_names, dynamic_axes)


def live_nodes(nodes, outputs):
    """The nodes that the graph's outputs depend on, in their order (unused state outputs go)."""
    needed, keep = set(outputs), []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    return keep[::-1]


def _assemble(ex, graph_inputs, out_values, output_names, dynamic_axes):
    onnx = ex.g.onnx
    helper = onnx.helper
    nodes = ex.g.nodes
    graph_outputs = []
    for i, v in enumerate(out_values):
        name = (
            output_names[i]
            if output_names and i < len(output_names)
            else ("output" if len(out_values) == 1 else f"output_{i}")
        )
        nodes.append(helper.make_node("Identity", [v.name], [name], name=ex.g.fresh("/Identity")))
        graph_outputs.append(_value_info(onnx, v, name, _dynamic_map(dynamic_axes, name)))
    nodes = live_nodes(nodes, [o.name for o in graph_outputs])
    used = {name for n in nodes for name in n.input}
    inits = [onnx.numpy_helper.from_array(a, n) for n, a in ex.g.initializers.items() if n in used]
    graph = helper.make_graph(nodes, "studio", graph_inputs, graph_outputs, inits)
    opsets = [helper.make_opsetid("", ex.opset)]
    if ex.functions:
        opsets.append(helper.make_opsetid(DOMAIN, 1))
    model = helper.make_model(
        graph,
        functions=ex.functions,
        opset_imports=opsets,
        producer_name="studio",
        producer_version="0.1.0",
    )
    model.ir_version = min(model.ir_version, 10)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise OnnxExporterError(f"the exported graph does not pass onnx.checker: {e}") from None
    return model
