"""Automatic differentiation: `backward`, `grad`, grad modes, custom `Function`s and `gradcheck`."""

from __future__ import annotations

from .engine import run_backward
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .graph import AccumulateGrad, Node
from .gradcheck import gradcheck

__all__ = [
    "AccumulateGrad", "Function", "FunctionCtx", "Node", "backward", "enable_grad", "grad", "gradcheck",
    "inference_mode", "is_grad_enabled", "no_grad", "once_differentiable", "set_grad_enabled",
]


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, list | tuple) else (x,)


def _make_grads(outputs, grad_outputs, where):
    from .. import backend as B

    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs and i < len(grad_outputs) else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(f"{where}: grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind != "f":
                raise RuntimeError(f"{where}: grad can be implicitly created only for real scalar outputs but got {out.dtype}")
            grads.append(B.array_module(out._data).ones_like(out._data))
        else:
            data = g._data if hasattr(g, "_data") else g
            if tuple(data.shape) != tuple(out._data.shape):
                raise RuntimeError(
                    f"{where}: mismatch in shape: grad_output[{i}] has a shape of {tuple(data.shape)} and "
                    f"output[{i}] has a shape of {tuple(out._data.shape)}."
                )
            grads.append(data.astype(out._data.dtype, copy=False))
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute and accumulate into `.grad` the gradients of `tensors` with respect to graph leaves."""
    if create_graph:
        raise NotImplementedError(
            "backward(create_graph=True): higher-order gradients are not supported by studio.core"
        )
    outputs = _as_tuple(tensors)
    for out in outputs:
        if not out._rg:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    grads = _make_grads(outputs, _as_tuple(grad_tensors), "backward")
    roots, root_grads = [], []
    for out, g in zip(outputs, grads):
        if out.grad_fn is None:
            from .engine import _accumulate
            from ..tensor import _wrap

            _accumulate(out, g.copy(), set(), _wrap)
            continue
        roots.append((out.grad_fn, out._output_nr))
        root_grads.append(g)
    if inputs is not None:
        ins = _as_tuple(inputs)
        res = grad(outputs, ins, grads and [_wrap_arr(g) for g in grads], retain_graph=retain_graph,
                   allow_unused=True)
        for t, g in zip(ins, res):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return
    if roots:
        run_backward(roots, root_grads, retain_graph=bool(retain_graph))


def _wrap_arr(a):
    from ..tensor import _wrap

    return _wrap(a)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         is_grads_batched=False, materialize_grads=False):
    """The gradients of `outputs` with respect to `inputs`, returned instead of accumulated."""
    from ..tensor import _wrap, edge

    if create_graph:
        raise NotImplementedError(
            "grad(create_graph=True): higher-order gradients are not supported by studio.core"
        )
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    for i, t in enumerate(ins):
        if not t._rg:
            raise RuntimeError(f"grad: input {i} does not require grad")
    for out in outs:
        if not out._rg:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    grads = _make_grads(outs, _as_tuple(grad_outputs), "grad")
    capture = {}
    for i, t in enumerate(ins):
        capture.setdefault(edge(t), i)
    roots = [(o.grad_fn, o._output_nr) if o.grad_fn is not None else edge(o) for o in outs]
    captured = run_backward(roots, grads, retain_graph=bool(retain_graph), capture=capture, accumulate=False)
    result = []
    for i, t in enumerate(ins):
        g = captured[capture[edge(t)]]
        if g is None:
            if materialize_grads:
                from .. import backend as B

                g = B.array_module(t._data).zeros_like(t._data)
            elif not allow_unused:
                raise RuntimeError(
                    f"grad: one of the differentiated Tensors (input {i}) appears to not have been used "
                    "in the graph. Set allow_unused=True if this is the desired behavior."
                )
        result.append(None if g is None else _wrap(g.reshape(t._data.shape)))
    return tuple(result)
