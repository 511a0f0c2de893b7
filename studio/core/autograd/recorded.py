"""The pieces of a recorded backward pass (`create_graph=True`), where gradients are tensors.

A node's saved arrays come back as tensors joined to the graph (PyTorch's SavedVariable.unpack):
the value of input i flows into input i's edge, the node's output into the node itself, so that
the gradient's own graph reaches the leaves. Gradients of a node that cannot be recorded get an
error node, which raises only if a later backward pass reaches it, as PyTorch's DelayedError does.
"""

from __future__ import annotations

from weakref import ref as _weakref

from .. import backend as B
from ..tensor import Tensor, _wrap
from . import grad_mode
from .graph import AccumulateGrad, Node
from .record import _result, edge

OUTPUT = "out"  # a saved role: the node's (first) output


def tensor_on_edge(arr, e):
    """A tensor holding `arr` whose gradient flows into edge `e` (node, output index)."""
    node, nr = e
    t = _wrap(arr)
    if node is None:
        return t
    t._rg = True
    if node.__class__ is AccumulateGrad:
        t._accum = _weakref(node)  # the leaf's own accumulator: gradients reach the leaf
    else:
        t.grad_fn, t._output_nr = node, nr
    return t


def _joined(arr, e, where):
    """`arr` as a tensor on edge `e`, through a reshape and a cast when it was saved reshaped or cast."""
    meta = e[0].output_meta(e[1]) if e[0] is not None else None
    if meta is None or (arr.shape == meta[0] and arr.dtype == meta[1]):
        return tensor_on_edge(arr, e)
    shape, dtype = meta
    if arr.size != _numel(shape):
        raise RuntimeError(f"{where}: a saved value of shape {arr.shape} is not its input of shape {shape}")
    t = tensor_on_edge(arr.reshape(shape).astype(dtype, copy=False), e)
    if dtype != arr.dtype:
        t = t.to(arr.dtype)
    return t.reshape(arr.shape) if tuple(shape) != arr.shape else t


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def unpack(node, edges):
    """`node.saved` as tensors following `node.saved_roles`; `edges[i]` is where input i's value joins."""
    if node.saved is None:
        return None
    out = []
    where = node.name()
    for value, role in zip(node.saved, node.saved_roles):
        if value is None or role is None or not hasattr(value, "shape"):
            out.append(value)  # absent, a number, or a constant: formulas use it as an array
        elif role == OUTPUT:
            out.append(tensor_on_edge(value, (node, 0)))
        else:
            out.append(_joined(value, edges[role], where))
    return tuple(out)


class Alias(Node):
    """An input of a decomposed op inside its local graph; joined to the input's own edge afterwards."""

    __slots__ = ()
    saved_roles = ()

    def backward(self, g):
        return (g,)


class NoDoubleBackward(Node):
    """The grad_fn of gradients from a node that cannot record its backward: raises when reached."""

    __slots__ = ("op",)

    def backward(self, *grads):
        raise RuntimeError(
            f"double backward through {self.op} is not supported: its gradient can be computed, but "
            "not differentiated again (create_graph=True)"
        )


def op_name(node):
    name = node.name()
    for tail in ("Backward0", "Backward1", "Backward"):
        if name.endswith(tail):
            return name[: -len(tail)]
    return name


def refuse(node, grads, call):
    """Gradients of `node` computed on arrays by `call(array_grads)`, marked not differentiable again."""
    prev = grad_mode._enabled
    grad_mode._enabled = False
    try:
        res = call([None if g is None else (g._data if isinstance(g, Tensor) else g) for g in grads])
    finally:
        grad_mode._enabled = prev
    # the error node depends on everything the gradients do: the incoming gradients and the op's inputs
    ins = tuple(edge(g) for g in grads if isinstance(g, Tensor)) + tuple(node.next_functions)
    out = []
    for r in res:
        if r is None:
            out.append(None)
            continue
        err = NoDoubleBackward()
        err.op = op_name(node)
        err.next_functions = ins
        out.append(_result(r, err))
    return tuple(out)


def as_grad_tensor(g):
    """A gradient computed in a recorded backward as a tensor (formulas may return constant arrays)."""
    if g is None or isinstance(g, Tensor):
        return g
    return _wrap(B.ensure_array(g))
