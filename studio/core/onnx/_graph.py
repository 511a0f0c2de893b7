"""An ONNX graph under construction: values with their shapes, nodes, initializers and constants.

Every value carries its traced shape and the dims that stay symbolic (`dyn`: dim -> name, such as a
dynamic batch axis), so that converters can write shape arguments that hold for any batch size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import backend as B
from .errors import OnnxExporterError

INT64_MAX = np.iinfo(np.int64).max


def to_numpy(t) -> np.ndarray:
    """A tensor's values as a host numpy array."""
    return np.asarray(B.to_numpy(t._data))


def require_onnx():
    """The `onnx` package, or a clear error saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise OnnxExporterError(
            "ONNX export and import need the onnx package: pip install 'studio[onnx]' "
            "(or pip install onnx onnxruntime)"
        ) from None
    return onnx


@dataclass
class Value:
    """A named value of the graph: its traced shape, numpy dtype and symbolic dims."""

    name: str
    shape: tuple
    dtype: np.dtype
    dyn: dict = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return len(self.shape)


class GraphBuilder:
    """Collects nodes and initializers; names are unique; constants are made once per value."""

    def __init__(self, opset: int):
        self.onnx = require_onnx()
        self.opset = opset
        self.nodes: list = []
        self.initializers: dict = {}  # name -> numpy array
        self._names: set = set()
        self._counter = 0
        self.scope = ""  # the module path of the layer being converted: names its nodes as PyTorch does

    # ------------------------------------------------------------------ names and constants
    def fresh(self, hint: str) -> str:
        base = hint or "v"
        name = base
        while name in self._names:
            self._counter += 1
            name = f"{base}_{self._counter}"
        self._names.add(name)
        return name

    def reserve(self, name: str) -> str:
        if name in self._names:
            raise OnnxExporterError(f"the name {name!r} is given to two values of the exported graph")
        self._names.add(name)
        return name

    def initializer(self, hint: str, array, dyn=None) -> Value:
        arr = np.asarray(array)
        if not arr.flags.c_contiguous:  # (ascontiguousarray would make a 0-d array 1-d)
            arr = arr.copy()
        name = self.fresh(hint)
        self.initializers[name] = arr
        return Value(name, tuple(arr.shape), arr.dtype, dict(dyn or {}))

    def const(self, array, dtype=None, hint="const") -> Value:
        return self.initializer(hint, np.asarray(array, dtype=dtype))

    def ints(self, values, hint="shape") -> Value:
        return self.const(np.asarray(list(values), np.int64), hint=hint)

    # ------------------------------------------------------------------ nodes
    def op(
        self,
        op_type: str,
        inputs,
        shape,
        dtype,
        dyn=None,
        hint=None,
        n_out=1,
        out_meta=None,
        domain=None,
        **attrs,
    ):
        """Add one node; returns its output Value (or a list when `n_out` > 1, shaped by `out_meta`)."""
        helper = self.onnx.helper
        names = [("" if v is None else v.name) for v in inputs]
        outs = [self.fresh(hint or op_type.lower()) for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        node_name = self.fresh(f"/{self.scope.replace('.', '/')}/{op_type}" if self.scope else f"/{op_type}")
        self.nodes.append(helper.make_node(op_type, names, outs, name=node_name, domain=domain, **attrs))
        if n_out == 1 and out_meta is None:
            return Value(outs[0], tuple(shape), np.dtype(dtype), dict(dyn or {}))
        meta = out_meta or [(shape, dtype, dyn)] * n_out
        return [Value(o, tuple(s), np.dtype(d), dict(y or {})) for o, (s, d, y) in zip(outs, meta)]

    def same(self, op_type: str, x: Value, *more, **attrs) -> Value:
        """A node whose output has the shape and dtype of `x` (elementwise ops)."""
        return self.op(op_type, [x, *more], x.shape, x.dtype, x.dyn, **attrs)

    def binary(self, op_type: str, a: Value, b: Value) -> Value:
        shape, dyn = broadcast(a, b)
        dtype = a.dtype if op_type not in ("Equal", "Less", "Greater") else np.bool_
        return self.op(op_type, [a, b], shape, dtype, dyn)

    def scalar(self, value, like: Value) -> Value:
        return self.const(np.asarray(value, like.dtype), hint="scalar")

    def matmul(self, a: Value, b: Value) -> Value:
        lead_a, lead_b = a.shape[:-2], b.shape[:-2]
        if b.rank == 1:
            shape, dyn = a.shape[:-1], {d: n for d, n in a.dyn.items() if d < a.rank - 1}
        else:
            n = max(len(lead_a), len(lead_b))
            lead = tuple(np.broadcast_shapes(lead_a, lead_b)) if n else ()
            shape = (*lead, a.shape[-2] if a.rank > 1 else None, b.shape[-1])
            shape = tuple(s for s in shape if s is not None)
            dyn = {d + len(shape) - a.rank: v for d, v in a.dyn.items() if d < a.rank - 1}
        return self.op("MatMul", [a, b], shape, a.dtype, dyn)

    def reshape(self, x: Value, shape, dyn_target=None) -> Value:
        """Reshape to `shape` (the traced sizes); symbolic dims are kept as 0 (copy) or -1 (rest)."""
        target, dyn = reshape_target(x, tuple(shape))
        return self.op("Reshape", [x, self.ints(target)], shape, x.dtype, dyn)

    def transpose(self, x: Value, perm) -> Value:
        perm = [int(p) for p in perm]
        shape = tuple(x.shape[p] for p in perm)
        dyn = {i: x.dyn[p] for i, p in enumerate(perm) if p in x.dyn}
        return self.op("Transpose", [x], shape, x.dtype, dyn, perm=perm)

    def reduce(self, op_type: str, x: Value, axes, keepdims: bool) -> Value:
        """ReduceMean/ReduceSum/...: axes as an attribute or an input, as the opset wants."""
        axes = sorted(a % x.rank for a in axes)
        if keepdims:
            shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
            dyn = {d: n for d, n in x.dyn.items() if d not in axes}
        else:
            keep = [i for i in range(x.rank) if i not in axes]
            shape = tuple(x.shape[i] for i in keep)
            dyn = {keep.index(d): n for d, n in x.dyn.items() if d in keep}
        as_input = op_type == "ReduceSum" or self.opset >= 18
        if as_input:
            return self.op(op_type, [x, self.ints(axes, "axes")], shape, x.dtype, dyn, keepdims=int(keepdims))
        return self.op(op_type, [x], shape, x.dtype, dyn, axes=axes, keepdims=int(keepdims))

    def unsqueeze(self, x: Value, axis: int) -> Value:
        axis %= x.rank + 1
        shape = (*x.shape[:axis], 1, *x.shape[axis:])
        dyn = {(d + 1 if d >= axis else d): n for d, n in x.dyn.items()}
        return self.op("Unsqueeze", [x, self.ints([axis], "axes")], shape, x.dtype, dyn)

    def squeeze(self, x: Value, axis: int) -> Value:
        axis %= x.rank
        shape = x.shape[:axis] + x.shape[axis + 1 :]
        dyn = {(d - 1 if d > axis else d): n for d, n in x.dyn.items() if d != axis}
        return self.op("Squeeze", [x, self.ints([axis], "axes")], shape, x.dtype, dyn)

    def concat(self, values, axis: int) -> Value:
        first = values[0]
        axis %= first.rank
        size = sum(v.shape[axis] for v in values)
        shape = (*first.shape[:axis], size, *first.shape[axis + 1 :])
        return self.op("Concat", list(values), shape, first.dtype, first.dyn, axis=axis)

    def slice(self, x: Value, axis: int, start: int, end: int, step: int = 1) -> Value:
        size = len(range(*slice(start, end, step).indices(x.shape[axis])))
        shape = (*x.shape[:axis], size, *x.shape[axis + 1 :])
        inputs = [x, self.ints([start]), self.ints([end]), self.ints([axis]), self.ints([step])]
        return self.op("Slice", inputs, shape, x.dtype, x.dyn)


def broadcast(a: Value, b: Value):
    """Shape and symbolic dims of a broadcasting binary op."""
    shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    n = len(shape)
    dyn = {}
    for v in (a, b):
        for d, name in v.dyn.items():
            dyn[d + n - v.rank] = name
    return shape, dyn


def reshape_target(x: Value, shape: tuple):
    """The Reshape target for `x` -> `shape`, and the symbolic dims of the result.

    Without symbolic dims the target is the shape itself. A symbolic leading dim that is kept
    becomes 0 (copy the input's); a symbolic dim merged with others becomes the one -1.
    """
    if not x.dyn:
        return list(shape), {}
    target = list(shape)
    dyn = {}
    fixed = dict(x.dyn)
    lead = [d for d in sorted(fixed) if d < len(shape) and all(x.shape[i] == shape[i] for i in range(d + 1))]
    for d in lead:
        target[d] = 0
        dyn[d] = fixed.pop(d)
    if fixed:
        if len(fixed) > 1:
            raise OnnxExporterError(
                f"a reshape from {x.shape} to {shape} merges several dynamic axes, which ONNX export "
                "cannot express: export with fewer dynamic axes"
            )
        ((src, name),) = fixed.items()
        n = x.shape[src]
        free = [i for i in range(len(shape)) if i not in dyn and shape[i] % max(n, 1) == 0]
        if not free:
            raise OnnxExporterError(
                f"a reshape from {x.shape} to {shape} drops the dynamic axis {name!r}: export it with a "
                "fixed size instead"
            )
        target[free[0]] = -1
        dyn[free[0]] = name
    return target, dyn
