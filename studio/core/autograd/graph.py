"""Graph nodes: the `grad_fn` of every tensor made by a differentiable op, and leaf accumulators.

An op's forward lives in `studio.core.ops`; its Node subclass, defined beside it, holds what
backward reads (`saved`, released after backward unless the graph is retained) and computes the
gradients of the inputs from the gradients of the outputs, on raw arrays.
"""

from __future__ import annotations

import contextlib
from weakref import ref as _weakref

_FREED = object()
NO_EDGE = (None, 0)  # the edge of an input that needs no gradient


class Node:
    """A recorded operation. `backward(*grads_of_outputs)` returns one gradient (or None) per input.

    `next_functions[i]` is the (node, output index) that input i's gradient flows into, (None, 0)
    when input i needs none. `_meta` is the (shape, numpy dtype) of output 0, written by `_result`,
    or a list of such pairs, one per output, for multi-output nodes; the graph walk reads it.

    A backward pass that is itself recorded (`create_graph=True`) runs each node in one of two ways:

    - `saved_roles` set: `backward` is written with operations that work on tensors as on arrays
      (operators, `xp` functions, `sum_to`, `astype`, `.sum(axis=, keepdims=)`, `.reshape`, `.T`), and
      runs on tensors. `saved_roles[k]` says what `saved[k]` is: an int i for the value of input i,
      `"out"` for the node's output (both come back as tensors joined to the graph), or None for a
      constant that no gradient flows through (a mask, indices, a slope).
    - `decomposed` too: `decompose(*saved)` computes the op again with differentiable ops, from the
      saved inputs (as tensors), and the gradients are taken through that. For fused ops whose
      backward works on arrays only.

    A node with neither gives gradients that raise when they are differentiated again.
    """

    __slots__ = ("next_functions", "saved", "_versions", "_pre_hooks", "_post_hooks", "_meta", "__weakref__")

    n_outputs = 1
    saved_roles = None
    decomposed = False

    def __init__(self):
        self.next_functions = ()
        self.saved = None
        self._versions = None
        self._pre_hooks = None
        self._post_hooks = None
        self._meta = None

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    def backward(self, *grads):  # pragma: no cover - every op overrides it
        raise NotImplementedError(f"{self.name()} has no backward")

    def needs_grad(self, i: int) -> bool:
        """Whether input `i` needs a gradient (PyTorch's `ctx.needs_input_grad[i]`): skip it otherwise."""
        try:
            return self.next_functions[i][0] is not None
        except IndexError:  # an optional input that was not given
            return False

    def output_meta(self, output_nr: int = 0):
        """(shape, numpy dtype) of output `output_nr`, or None when it was not recorded."""
        meta = self._meta
        if meta is None:
            return None
        if type(meta) is list:
            return meta[output_nr] if output_nr < len(meta) else None
        return meta if output_nr == 0 else None

    def set_output_meta(self, output_nr: int, shape, dtype) -> None:
        if output_nr == 0 and type(self._meta) is not list:
            self._meta = (shape, dtype)
            return
        meta = self._meta
        if type(meta) is not list:
            meta = [meta]
        while len(meta) <= output_nr:
            meta.append(None)
        meta[output_nr] = (shape, dtype)
        self._meta = meta

    def save_versions(self, *tensors) -> None:
        """Remember the versions of tensors whose arrays `saved` holds, to catch later in-place edits.

        Only the arrays' dtype and shape are kept (for the message): holding the arrays themselves
        would keep alive what a checkpointed segment drops.
        """
        self._versions = tuple(
            (t._vc, t._vc[0], t._data.dtype, t._data.shape) for t in tensors if t is not None
        )

    def check_versions(self) -> None:
        for vc, v, dtype, shape in self._versions:
            if vc[0] != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{dtype} tensor of shape {tuple(shape)}], which is "
                    f"needed by {self.name()}, is at version {vc[0]}; expected version {v} instead. Use an "
                    "out-of-place operation (e.g. x = x + 1 instead of x += 1) or clone() the tensor "
                    "before changing it in place."
                )

    def release(self) -> None:
        if self.saved is not None:
            self.saved = _FREED
        self._versions = None

    def register_hook(self, fn):
        """Call `fn(grad_inputs, grad_outputs)` after this node's backward."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(fn)
        return _RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """Call `fn(grad_outputs)` before this node's backward; it may return replacements."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        return _RemovableHandle(self._pre_hooks, fn)


class AccumulateGrad(Node):
    """The node that adds an incoming gradient into a leaf tensor's `.grad`.

    It holds its leaf strongly and the leaf holds it weakly (as in PyTorch): the graph keeps the
    leaf alive, and no reference cycle ties a leaf to its accumulator.
    """

    __slots__ = ("variable",)

    def __init__(self, variable):
        Node.__init__(self)
        self.variable = variable
        self._meta = (variable._data.shape, variable._data.dtype)


def leaf_edge(t):
    """The accumulator edge of leaf `t`, made on first use (the leaf holds it weakly)."""
    ref = t._accum
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._accum = _weakref(acc)
    return (acc, 0)


def history_edge(t):
    """Where a gradient for tensor `t` flows: its grad_fn, its leaf accumulator, or nowhere.

    `t` must be up to date (not a view whose base changed in place since its grad_fn was set).
    """
    if not t._rg:
        return NO_EDGE
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._output_nr)
    return leaf_edge(t)


class _RemovableHandle:
    """What `register_hook` returns: `remove()` takes the hook out again."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks, fn):
        self._hooks = hooks
        self._fn = fn

    def remove(self):
        with contextlib.suppress(ValueError):  # removing twice is harmless
            self._hooks.remove(self._fn)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


RemovableHandle = _RemovableHandle
