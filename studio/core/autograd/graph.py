"""Graph nodes: the `grad_fn` of every tensor made by a differentiable op, and leaf accumulators.

An op's forward lives in `studio.core.ops`; its Node subclass, defined beside it, holds what
backward reads (`saved`, released after backward unless the graph is retained) and computes the
gradients of the inputs from the gradients of the outputs, on raw arrays.
"""

from __future__ import annotations

_FREED = object()


class Node:
    """A recorded operation. `backward(*grads_of_outputs)` returns one gradient (or None) per input."""

    __slots__ = ("next_functions", "saved", "_versions", "_pre_hooks", "_post_hooks", "__weakref__")

    n_outputs = 1

    def __init__(self):
        self.saved = None
        self._versions = None
        self._pre_hooks = None
        self._post_hooks = None

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    def backward(self, *grads):  # pragma: no cover - every op overrides it
        raise NotImplementedError(f"{self.name()} has no backward")

    def save_versions(self, *tensors) -> None:
        """Remember the versions of tensors whose arrays `saved` holds, to catch later in-place edits."""
        self._versions = tuple((t, t._vc[0]) for t in tensors if t is not None)

    def check_versions(self) -> None:
        for t, v in self._versions:
            if t._vc[0] != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{t.dtype.name} tensor of shape {tuple(t.shape)}], which is "
                    f"needed by {self.name()}, is at version {t._vc[0]}; expected version {v} instead. "
                    "Use an out-of-place operation (e.g. x = x + 1 instead of x += 1) or clone() the "
                    "tensor first."
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
    """The node that adds an incoming gradient into a leaf tensor's `.grad`."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        Node.__init__(self)
        self.variable = variable
        self.next_functions = ()


class _RemovableHandle:
    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks, fn):
        self._hooks = hooks
        self._fn = fn

    def remove(self):
        try:
            self._hooks.remove(self._fn)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


RemovableHandle = _RemovableHandle
