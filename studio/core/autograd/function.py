"""User-defined differentiable operations: subclass `Function` with static forward and backward."""

from __future__ import annotations

import functools

from .. import backend as B
from .._arrays import astype, sum_to
from ..tensor import Tensor, _wrap
from . import grad_mode
from .graph import _FREED, Node
from .record import _result, record


class FunctionCtx:
    """The `ctx` handed to forward and backward: saved tensors and flags."""

    def save_for_backward(self, *tensors):
        self._to_save = tensors

    @property
    def saved_tensors(self):
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
    """The graph node of a user Function: calls its static backward with Tensors.

    In a recorded backward pass the Tensors are the recorded gradients, so a backward written with
    differentiable ops can be differentiated again; one marked `once_differentiable` cannot.
    """

    __slots__ = ("ctx", "fn_cls", "n_out", "out_meta", "in_meta", "saved_roles")

    @property
    def n_outputs(self):
        return self.n_out

    def name(self):
        return f"{self.fn_cls.__name__}Backward"

    def release(self) -> None:
        Node.release(self)
        self.ctx._to_save = ()

    def backward(self, *grads):
        ctx = self.ctx
        recorded = any(isinstance(g, Tensor) for g in grads)
        tgrads = []
        for g, (shape, dtype, xp) in zip(grads, self.out_meta):
            if g is None and getattr(ctx, "materialize_grads", True) and xp is not None:
                g = xp.zeros(shape, dtype)
            tgrads.append(g if g is None or isinstance(g, Tensor) else _wrap(g))
        res = self.fn_cls.backward(ctx, *tgrads)
        if not isinstance(res, tuple):
            res = (res,)
        where = f"function {self.fn_cls.__name__}Backward"
        n_in = len(self.next_functions)
        if len(res) < n_in:
            raise RuntimeError(
                f"{where} returned an incorrect number of gradients (expected {n_in}, got {len(res)})"
            )
        if len(res) > n_in and any(r is not None for r in res[n_in:]):
            raise RuntimeError(
                f"{where} returned an incorrect number of gradients (expected {n_in}, got {len(res)})"
            )
        out = []
        for i, ((nxt, _), r) in enumerate(zip(self.next_functions, res)):
            if r is None or nxt is None:
                out.append(None)
                continue
            if not isinstance(r, Tensor):
                raise TypeError(f"{where} must return Tensors or None, got {type(r).__name__} at index {i}")
            g = r if recorded else r._data
            shape, dtype = self.in_meta[i]
            if tuple(g.shape) != shape:
                try:
                    g = sum_to(g, shape)  # a gradient that broadcasts to the input is summed back
                except (ValueError, IndexError, RuntimeError):
                    g = None
                if g is None or tuple(g.shape) != shape:
                    raise RuntimeError(
                        f"{where} returned an invalid gradient at index {i} - got {list(r._data.shape)} but "
                        f"expected shape compatible with {list(shape)}"
                    ) from None
            out.append(astype(g, dtype))
        return tuple(out)


class Function:
    """Base of custom ops: `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` as staticmethods.

    Call as `MyFunction.apply(*args)`. `backward` gets one gradient per output of `forward` and
    returns one gradient (or None) per argument of `forward`; `ctx.needs_input_grad[i]` says whether
    argument i needs one.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses must implement a static backward(ctx, ...)")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx._node = None
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        rec = grad_mode._enabled and any(t._rg for t in tensor_args)
        ctx.needs_input_grad = tuple(rec and isinstance(a, Tensor) and a._rg for a in args)
        with grad_mode.no_grad():
            outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        if not rec:
            return outputs
        node = BackwardCFunction()
        node.ctx = ctx
        node.fn_cls = cls
        # the user's backward runs on recorded gradients unless it is marked once_differentiable
        node.saved_roles = None if getattr(cls.backward, "once_differentiable", False) else ()
        node.n_out = len(outs)
        node.out_meta = [
            (o._data.shape, o._data.dtype, B.array_module(o._data))
            if isinstance(o, Tensor)
            else ((), None, None)
            for o in outs
        ]
        node.in_meta = [(a._data.shape, a._data.dtype) if isinstance(a, Tensor) else None for a in args]
        record(node, [a if isinstance(a, Tensor) else None for a in args], saved=())
        # saved inputs changed in place before backward must be caught, as for built-in ops
        arg_ids = {id(a) for a in tensor_args}
        node.save_versions(
            *[t for t in getattr(ctx, "_to_save", ()) if isinstance(t, Tensor) and id(t) in arg_ids]
        )
        ctx._node = node
        non_diff = getattr(ctx, "_non_diff", set())
        results = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and id(o) not in non_diff and o._data.dtype.kind == "f":
                results.append(_result(o._data, node, output_nr=i))
            else:
                results.append(o)
        return results[0] if single else tuple(results)


def once_differentiable(fn):
    """Mark a Function's backward as not differentiable: it runs without recording, and a recorded
    backward pass (create_graph=True) gives gradients that raise when differentiated again."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with grad_mode.no_grad():
            return fn(ctx, *args)

    wrapper.once_differentiable = True
    return wrapper
