"""Converters of single recorded ops (the graph between layers) into ONNX nodes, by node type.

Each reads what the op's node keeps (its inputs' edges, its attributes, its output's shape); an op
without a converter is reported by name.
"""

from __future__ import annotations

import numpy as np

from .. import backend as B
from ..tensor import Tensor
from ._graph import INT64_MAX, Value
from ._modules import gelu, linear, silu, softplus
from .errors import UnsupportedOperatorError

OPS: dict = {}


def op(*names):
    def register(fn):
        for n in names:
            OPS[n] = fn
        return fn

    return register


def _unsupported(node, why="no ONNX conversion is known for this operation"):
    return UnsupportedOperatorError([f"{node.name()}: {why}"])


def convert_op(ex, node):
    fn = OPS.get(type(node).__name__)
    if fn is None:
        raise _unsupported(node)
    return fn(ex, node)


def _out(ex, node):
    return ex.shape_of(node, 0)


def _const(ex, value, like: Value) -> Value:
    """A constant operand: a number in `like`'s dtype, or a tensor's or array's values."""
    if isinstance(value, Tensor):
        value = value._data
    arr = np.asarray(B.to_numpy(value) if not np.isscalar(value) else value)
    if arr.ndim == 0 or arr.dtype.kind == like.dtype.kind:
        arr = arr.astype(like.dtype)
    return ex.g.const(arr)


def _operands(ex, node, consts):
    """Both operands of a binary op; an operand without an edge is taken from `consts`."""
    vals = [ex.edge(node, i) if i < len(node.next_functions) else None for i in range(2)]
    like = vals[0] if vals[0] is not None else vals[1]
    for i in range(2):
        if vals[i] is None:
            c = consts[i]
            if c is None:
                raise _unsupported(
                    node, "an operand that is neither an input, a parameter nor a kept constant"
                )
            vals[i] = _const(ex, c, like)
    return vals


# ---------------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------------


@op("AddBackward0", "SubBackward0")
def _add_sub(ex, node):
    a, b = _operands(ex, node, (None, getattr(node, "other", None)))
    g = ex.g
    if node.alpha != 1:
        b = g.binary("Mul", b, g.scalar(node.alpha, b))
    return [_cast_to(ex, g.binary("Add" if type(node).__name__ == "AddBackward0" else "Sub", a, b), node)]


def _cast_to(ex, v: Value, node) -> Value:
    shape, dtype = _out(ex, node)
    if v.dtype != dtype:
        return ex.g.op(
            "Cast", [v], v.shape, dtype, v.dyn, to=ex.g.onnx.helper.np_dtype_to_tensor_dtype(dtype)
        )
    return v


@op("MulBackward0", "DivBackward0")
def _mul_div(ex, node):
    saved = node.saved if isinstance(node.saved, tuple) else (None, None)
    a, b = _operands(ex, node, saved)
    return [ex.g.binary("Mul" if type(node).__name__ == "MulBackward0" else "Div", a, b)]


@op("MaximumBackward0", "MinimumBackward0")
def _max_min(ex, node):
    a, b = _operands(ex, node, node.saved if isinstance(node.saved, tuple) else (None, None))
    return [ex.g.binary("Max" if node.sign > 0 else "Min", a, b)]


_UNARY = {
    "NegBackward0": "Neg",
    "ExpBackward0": "Exp",
    "LogBackward0": "Log",
    "SqrtBackward0": "Sqrt",
    "AbsBackward0": "Abs",
    "TanhBackward0": "Tanh",
    "SigmoidBackward0": "Sigmoid",
    "ReluBackward0": "Relu",
    "ReciprocalBackward0": "Reciprocal",
    "SinBackward0": "Sin",
    "CosBackward0": "Cos",
    "ErfBackward0": "Erf",
    "FloorBackward0": "Floor",
    "CeilBackward0": "Ceil",
    "SignBackward0": "Sign",
}


@op(*_UNARY)
def _unary(ex, node):
    return [ex.g.same(_UNARY[type(node).__name__], ex.edge(node, 0))]


@op("RsqrtBackward0")
def _rsqrt(ex, node):
    return [ex.g.same("Reciprocal", ex.g.same("Sqrt", ex.edge(node, 0)))]


@op("PowBackward0")
def _pow(ex, node):
    x = ex.edge(node, 0)
    exponent = getattr(node, "exponent", 2)  # square() records a PowBackward0 without one
    if exponent == 2:
        return [ex.g.binary("Mul", x, x)]
    return [ex.g.binary("Pow", x, ex.g.scalar(exponent, x))]


@op("GeluBackward0")
def _gelu(ex, node):
    return [gelu(ex, ex.edge(node, 0), node.approximate)]


@op("SiluBackward0")
def _silu(ex, node):
    return [silu(ex, ex.edge(node, 0))]


@op("EluBackward0")
def _elu(ex, node):
    return [ex.g.same("Elu", ex.edge(node, 0), alpha=float(node.alpha))]


@op("SoftplusBackward0")
def _softplus(ex, node):
    return [softplus(ex, ex.edge(node, 0), float(node.beta), float(node.threshold))]


@op("SoftmaxBackward0", "LogSoftmaxBackward0")
def _softmax(ex, node):
    name = "Softmax" if type(node).__name__ == "SoftmaxBackward0" else "LogSoftmax"
    return [ex.g.same(name, ex.edge(node, 0), axis=int(node.axis))]


@op("CloneBackward0", "BackwardHookFunctionBackward", "AliasBackward0")
def _identity(ex, node):
    return [ex.edge(node, i) for i in range(len(node.next_functions))]


@op("ToCopyBackward0")
def _to_copy(ex, node):
    return [_cast_to(ex, ex.edge(node, 0), node)]


# ---------------------------------------------------------------------------------------------------
# Linear algebra
# ---------------------------------------------------------------------------------------------------


@op("AddmmBackward0", "MmBackward0", "BmmBackward0", "MvBackward0", "DotBackward0")
def _matmul(ex, node):
    from ..ops.linear import AddmmBackward0

    if isinstance(node, AddmmBackward0):  # F.linear
        x, w = ex.edge(node, 0), ex.edge(node, 1)
        b = ex.edge(node, 2) if node.has_bias else None
        if x is None or w is None:
            raise _unsupported(node, "linear over a constant input or weight")
        return [linear(ex, x, w, b, shape=_out(ex, node)[0])]
    a, b = _operands(ex, node, node.saved if isinstance(node.saved, tuple) else (None, None))
    return [ex.g.matmul(a, b)]


# ---------------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------------


@op("SumBackward0", "SumBackward1", "MeanBackward0", "MeanBackward1")
def _reduce(ex, node):
    x = ex.edge(node, 0)
    name = "ReduceSum" if type(node).__name__.startswith("Sum") else "ReduceMean"
    axes = list(node.axes) if node.axes is not None else list(range(x.rank))
    y = ex.g.reduce(name, x, axes, bool(node.keepdim))
    return [_cast_to(ex, y, node)]


# ---------------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------------


@op(
    "ViewBackward0",
    "UnsafeViewBackward0",
    "SqueezeBackward0",
    "SqueezeBackward1",
    "SqueezeBackward2",
    "UnsqueezeBackward0",
)
def _view(ex, node):
    x = ex.edge(node, 0)
    shape = _out(ex, node)[0]
    if tuple(shape) == x.shape:
        return [x]
    return [ex.g.reshape(x, shape)]


@op("PermuteBackward0", "TransposeBackward0", "TBackward0")
def _permute(ex, node):
    x = ex.edge(node, 0)
    perm = np.argsort(np.asarray(node.inverse)).tolist()
    return [ex.g.transpose(x, perm)]


@op("CatBackward0")
def _cat(ex, node):
    vals = [ex.edge(node, i) for i in range(len(node.next_functions))]
    if any(v is None for v in vals):
        raise _unsupported(node, "concatenation with a constant tensor")
    return [ex.g.concat(vals, int(node.axis))]


@op("StackBackward0")
def _stack(ex, node):
    vals = [ex.edge(node, i) for i in range(len(node.next_functions))]
    if any(v is None for v in vals):
        raise _unsupported(node, "stacking with a constant tensor")
    axis = int(node.axis)
    return [ex.g.concat([ex.g.unsqueeze(v, axis) for v in vals], axis)]


@op("ExpandBackward0")
def _expand(ex, node):
    x = ex.edge(node, 0)
    shape = _out(ex, node)[0]
    lead = len(shape) - x.rank
    target = [1 if (i - lead) in x.dyn else s for i, s in enumerate(shape)]
    dyn = {d + lead: n for d, n in x.dyn.items()}
    return [ex.g.op("Expand", [x, ex.g.ints(target)], shape, x.dtype, dyn)]


@op("SelectBackward0", "SliceBackward0", "UnsqueezeIndexBackward0", "IndexBackward0")
def _index(ex, node):
    if node.advanced:
        raise _unsupported(node, "indexing with tensors (advanced indexing)")
    return [basic_index(ex, ex.edge(node, 0), node.index)]


def basic_index(ex, x: Value, index) -> Value:
    """x[index] for ints, slices, None and Ellipsis: Gather, Slice and Unsqueeze nodes."""
    g = ex.g
    items = list(index)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        used = sum(1 for i in items if i is not None and i is not Ellipsis)
        items[at : at + 1] = [slice(None)] * (x.rank - used)
    dim = 0
    for item in items:
        if item is None:
            x = g.unsqueeze(x, dim)
            dim += 1
        elif isinstance(item, slice):
            if item != slice(None) and item != slice(None, None, None):
                if dim in x.dyn:
                    raise OnnxIndexError(f"slicing the dynamic axis {x.dyn[dim]!r}")
                start, stop, step = item.indices(x.shape[dim])
                x = g.slice(x, dim, start, stop if stop >= 0 or step > 0 else -INT64_MAX, step)
            dim += 1
        else:
            i = int(item)
            shape = x.shape[:dim] + x.shape[dim + 1 :]
            dyn = {(d - 1 if d > dim else d): n for d, n in x.dyn.items() if d != dim}
            x = g.op("Gather", [x, g.const(np.asarray(i, np.int64))], shape, x.dtype, dyn, axis=dim)
    return x


class OnnxIndexError(UnsupportedOperatorError):
    def __init__(self, why):
        super().__init__([f"indexing: {why}"])
