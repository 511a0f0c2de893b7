"""Small helpers of the ONNX import: gate orders and the evaluation of constant (shape) nodes."""

from __future__ import annotations

import numpy as np

from studio.core.onnx._recurrent import GATE_ORDER

# PyTorch's gate j is ONNX's gate GATE_FROM_ONNX[mode][j]
GATE_FROM_ONNX = {mode: np.argsort(order).tolist() for mode, order in GATE_ORDER.items()}


def _attr(node, name, default=None):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _inputs(node, consts):
    return [consts.get(n) if n else None for n in node.input]


def _axes(node, vals, rank=None):
    axes = vals[1] if len(vals) > 1 and vals[1] is not None else _attr(node, "axes")
    return None if axes is None else [int(a) for a in np.ravel(axes)]


def _slice(x, starts, ends, axes, steps):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a)] = slice(int(s), int(e), int(st))
    return x[tuple(index)]


def fold_constant(node, consts, shapes):
    """The outputs of a node whose inputs are all known constants, or None when it cannot be evaluated."""
    from onnx import helper, numpy_helper

    op = node.op_type
    vals = _inputs(node, consts)
    if op == "Constant":
        t = _attr(node, "value")
        return [numpy_helper.to_array(t)] if t is not None else None
    if op == "Shape":
        dims = shapes.get(node.input[0])
        if dims is None or any(not isinstance(d, int) for d in dims):
            return None
        return [np.asarray(dims, np.int64)]
    if any(v is None for n, v in zip(node.input, vals) if n):
        return None
    fns = {
        "Identity": lambda: vals[0],
        "Cast": lambda: vals[0].astype(helper.tensor_dtype_to_np_dtype(_attr(node, "to"))),
        "Gather": lambda: np.take(vals[0], vals[1], axis=_attr(node, "axis", 0)),
        "Unsqueeze": lambda: np.expand_dims(vals[0], tuple(_axes(node, vals))),
        "Squeeze": lambda: np.squeeze(vals[0], tuple(_axes(node, vals)) if _axes(node, vals) else None),
        "Concat": lambda: np.concatenate([np.atleast_1d(v) for v in vals], axis=_attr(node, "axis", 0)),
        "Reshape": lambda: vals[0].reshape([int(d) for d in vals[1]]),
        "Transpose": lambda: np.transpose(vals[0], _attr(node, "perm")),
        "Add": lambda: vals[0] + vals[1],
        "Sub": lambda: vals[0] - vals[1],
        "Mul": lambda: vals[0] * vals[1],
        "Div": lambda: vals[0] // vals[1] if vals[0].dtype.kind in "iu" else vals[0] / vals[1],
        "Slice": lambda: _slice(vals[0], vals[1], vals[2], *(vals[3:5] + [None] * (5 - len(vals)))),
        "ConstantOfShape": lambda: np.full(
            [int(d) for d in vals[0]],
            numpy_helper.to_array(_attr(node, "value")).ravel()[0] if _attr(node, "value") else 0.0,
            numpy_helper.to_array(_attr(node, "value")).dtype if _attr(node, "value") else np.float32,
        ),
    }
    fn = fns.get(op)
    if fn is None:
        return None
    try:
        return [np.asarray(fn())]
    except (ValueError, IndexError, TypeError):
        return None
