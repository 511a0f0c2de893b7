"""User-defined differentiable operations: subclass `Function` with static forward and backward."""

from __future__ import annotations

import functools

from . import grad_mode
from .graph import Node


class FunctionCtx:
    """The `ctx` handed to forward and backward: saved tensors and flags."""

    def save_for_backward(self, *tensors):
        self._to_save = tensors

    @property
    def saved_tensors(self):
        from .graph import _FREED

        node = self._node
        if node is not None and node.saved is _FREED:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed)."
            )
        return tuple(getattr(self, "_to_save", ()))

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value


class BackwardCFunction(Node):
    """The graph node of a user Function: calls its static backward with Tensors."""

    __slots__ = ("ctx", "fn_cls", "n_out", "out_meta")

    @property
    def n_outputs(self):
        return self.n_out

    def name(self):
        return f"{self.fn_cls.__name__}Backward"

    def backward(self, *grads):
        from .. import backend as B
        from ..tensor import Tensor, _wrap

        ctx = self.ctx
        tgrads = []
        for g, (shape, dtype, xp) in zip(grads, self.out_meta):
            if g is None and getattr(ctx, "materialize_grads", True):
                g = xp.zeros(shape, dtype)
            tgrads.append(None if g is None else _wrap(g))
        res = self.fn_cls.backward(ctx, *tgrads)
        if not isinstance(res, tuple):
            res = (res,)
        n_in = len(self.next_functions)
        if len(res) < n_in:
            raise RuntimeError(
                f"function {self.fn_cls.__name__}Backward returned an incorrect number of gradients "
                f"(expected {n_in}, got {len(res)})"
            )
        out = []
        for i, ((nxt, _), r) in enumerate(zip(self.next_functions, res)):
            if r is None or nxt is None:
                out.append(None)
                continue
            if not isinstance(r, Tensor):
                raise TypeError(f"{self.fn_cls.__name__}.backward must return Tensors or None, got {type(r).__name__} at {i}")
            out.append(r._data)
        del B
        return tuple(out)


class Function:
    """Base of custom ops: `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` as staticmethods.

    Call as `MyFunction.apply(*args)`.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses must implement a static backward(ctx, ...)")

    @classmethod
    def apply(cls, *args, **kwargs):
        from .. import backend as B
        from ..tensor import Tensor, _result, record

        ctx = FunctionCtx()
        ctx._node = None
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._rg for a in args)
        with grad_mode.no_grad():
            outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        rec = grad_mode._enabled and any(t._rg for t in tensor_args)
        if not rec:
            return outputs
        node = BackwardCFunction()
        node.ctx = ctx
        node.fn_cls = cls
        node.n_out = len(outs)
        node.out_meta = [
            (o._data.shape, o._data.dtype, B.array_module(o._data)) if isinstance(o, Tensor) else ((), None, None)
            for o in outs
        ]
        record(node, [a if isinstance(a, Tensor) else None for a in args], saved=())
        ctx._node = node
        non_diff = getattr(ctx, "_non_diff", set())
        results = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and id(o) not in non_diff and o._data.dtype.kind == "f":
                r = _result(o._data, node, output_nr=i)
                results.append(r)
            else:
                results.append(o)
        return results[0] if single else tuple(results)


def once_differentiable(fn):
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with grad_mode.no_grad():
            return fn(ctx, *args)

    return wrapper
