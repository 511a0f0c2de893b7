"""Trace a module through one forward pass and read the ops from its autograd graph.

Layers with a converter (Linear, Conv2d, LSTM, ...) are recorded as one node of the graph each: a
forward hook replaces the layer's outputs by outputs of a `ModuleCall` node that holds the layer and
its arguments, so the walk sees the layer, not the arithmetic inside it. Everything between layers
(residual sums, reshapes, concatenations, functional activations) is read op by op from the graph.
"""

from __future__ import annotations

from ..autograd import grad_mode
from ..autograd.graph import AccumulateGrad, Node
from ..autograd.record import _result, record
from ..tensor import Tensor


class ModuleCall(Node):
    """One call of a layer that is exported whole: the layer, its path, and the call's arguments."""

    __slots__ = ("module", "path", "args", "kwargs", "outputs")

    def name(self) -> str:
        return f"{type(self.module).__name__}({self.path or 'model'})"

    def backward(self, *grads):  # the trace is never differentiated
        raise RuntimeError("an export trace cannot be differentiated")


def _flatten(obj, out):
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _flatten(o, out)
    return out


def _replace(obj, it):
    if isinstance(obj, Tensor):
        return next(it)
    if isinstance(obj, tuple):
        return tuple(_replace(o, it) for o in obj)
    if isinstance(obj, list):
        return [_replace(o, it) for o in obj]
    return obj


class _Hooks:
    """Forward hooks that turn each outermost call of a convertible layer into a ModuleCall node."""

    def __init__(self, model, is_convertible):
        self.depth = 0
        self.handles = []
        for path, m in model.named_modules():
            if is_convertible(m):
                self.handles.append(m.register_forward_pre_hook(self._pre))
                self.handles.append(m.register_forward_hook(self._make_post(path), with_kwargs=True))

    def _pre(self, module, args):
        self.depth += 1

    def _make_post(self, path):
        def post(module, args, kwargs, output):
            self.depth -= 1
            if self.depth:
                return None
            return self._wrap(module, path, args, kwargs, output)

        return post

    def _wrap(self, module, path, args, kwargs, output):
        node = ModuleCall()
        node.module, node.path, node.args, node.kwargs = module, path, args, kwargs
        tensors = _flatten(args, []) + _flatten(list(kwargs.values()), [])
        record(node, tensors)
        outs = _flatten(output, [])
        node.outputs = outs
        new = [_result(t._data, node, output_nr=i) for i, t in enumerate(outs)]
        return _replace(output, iter(new))

    def remove(self):
        for h in self.handles:
            h.remove()


def run_traced(model, inputs, kwargs, is_convertible):
    """Run `model(*inputs, **kwargs)` with layer calls recorded whole; returns its output."""
    hooks = _Hooks(model, is_convertible)
    try:
        with grad_mode.enable_grad():
            return model(*inputs, **kwargs)
    finally:
        hooks.remove()


def topo_order(roots):
    """The op nodes behind `roots` (grad_fns), each after the nodes that feed it."""
    order, seen = [], set()
    for root in roots:
        if root is None or id(root) in seen:
            continue
        stack = [(root, False)]
        while stack:
            fn, done = stack.pop()
            if done:
                order.append(fn)
                continue
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            stack.append((fn, True))
            for nxt, _nr in fn.next_functions:
                if nxt is not None and nxt.__class__ is not AccumulateGrad and id(nxt) not in seen:
                    stack.append((nxt, False))
    return order


def flatten_outputs(output):
    return _flatten(output, [])
