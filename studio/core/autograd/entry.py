"""The entry points `backward` and `grad`: check the arguments, then run the engine."""

from __future__ import annotations

import warnings

from .. import backend as B
from ..tensor import Tensor, _wrap
from . import engine
from .engine import run_backward
from .record import edge


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, list | tuple) else (x,)


def _check_outputs(outputs, where):
    if not outputs:
        raise RuntimeError(f"{where}: expected at least one output tensor, got none")
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"{where}: expected the outputs to be Tensors, got {type(out).__name__} at {i}")
        if not out._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")


def _make_grads(outputs, grad_outputs, where, create_graph=False):
    """One gradient per output: ones for scalar outputs, else the given tensors.

    Arrays (the given ones copied) for a plain pass; tensors for a recorded one, the given ones
    themselves, so that the gradients also depend on them.
    """
    if grad_outputs and len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"{where}: got {len(grad_outputs)} gradients for {len(outputs)} outputs; expected one per output"
        )
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"{where}: grad can be implicitly created only for scalar outputs, but output {i} has "
                    f"shape {tuple(out._data.shape)}; pass a gradient of that shape"
                )
            if not B.is_float_np(out._data.dtype):
                raise RuntimeError(
                    f"{where}: grad can be implicitly created only for real scalar outputs but got "
                    f"{out.dtype}"
                )
            ones = B.array_module(out._data).ones(out._data.shape, out._data.dtype)
            grads.append(_wrap(ones) if create_graph else ones)
            continue
        if not isinstance(g, Tensor):
            raise TypeError(
                f"{where}: expected the gradient for output {i} to be a Tensor or None, got "
                f"{type(g).__name__}"
            )
        data = g._data
        if data.shape != out._data.shape:
            raise RuntimeError(
                f"{where}: mismatch in shape: grad_output[{i}] has a shape of {tuple(data.shape)} and "
                f"output[{i}] has a shape of {tuple(out._data.shape)}."
            )
        if type(data) is not type(out._data):
            raise RuntimeError(
                f"{where}: the gradient for output {i} is on {g.device} but the output is on {out.device}"
            )
        if create_graph:
            grads.append(g if data.dtype == out._data.dtype else g.to(out._data.dtype))
        else:
            # a copy: the user's gradient tensor must never become (part of) a leaf's .grad
            grads.append(data.astype(out._data.dtype, copy=True))
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute and accumulate into `.grad` the gradients of `tensors` with respect to graph leaves.

    With `create_graph` the pass is recorded: `.grad` gets a graph of its own and can be
    differentiated again. `retain_graph` defaults to `create_graph`, as in PyTorch.
    """
    if retain_graph is None:
        retain_graph = create_graph
    outputs = _as_tuple(tensors)
    _check_outputs(outputs, "backward")
    if create_graph:
        _warn_cycle_once()
    grads = _make_grads(outputs, _as_tuple(grad_tensors), "backward", create_graph)
    if inputs is not None:
        ins = _as_tuple(inputs)
        if not ins:
            raise RuntimeError(
                "backward: inputs= was given but is empty; pass the tensors to accumulate into"
            )
        given = grads if create_graph else [_wrap(g) for g in grads]
        res = grad(outputs, ins, given, retain_graph, create_graph, allow_unused=True)
        handed_out = set()
        for t, g in zip(ins, res):
            if g is None:
                continue
            if create_graph:  # grad() ran the hooks
                engine._accumulate_recorded(t, g)
            else:
                engine._accumulate(t, g._data, handed_out, hooks=False)
        return
    roots, root_grads = [], []
    for out, g in zip(outputs, grads):
        if out.grad_fn is None:
            if create_graph:
                engine._accumulate_recorded(out, g, hooks=True)
            else:
                engine._accumulate(out, g, set())
            continue
        roots.append((out.grad_fn, out._output_nr))
        root_grads.append(g)
    if roots:
        run_backward(roots, root_grads, bool(retain_graph), create_graph=create_graph)


_CYCLE_WARNED = []


def _warn_cycle_once():
    """PyTorch's warning (given once) that .grad with a graph ties a leaf to itself."""
    if _CYCLE_WARNED:
        return
    _CYCLE_WARNED.append(True)
    warnings.warn(
        "Using backward() with create_graph=True will create a reference cycle between the parameter "
        "and its gradient which can cause a memory leak. We recommend using autograd.grad when creating "
        "the graph to avoid this. If you have to use this function, make sure to reset the .grad fields "
        "of your parameters to None after use to break the cycle and avoid the leak.",
        UserWarning,
        stacklevel=3,
    )


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """The gradients of `outputs` with respect to `inputs`, returned instead of accumulated.

    With `create_graph` the pass is recorded and the gradients can be differentiated again (a
    gradient penalty, a Hessian-vector product); `retain_graph` defaults to `create_graph`.
    """
    if retain_graph is None:
        retain_graph = create_graph
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    if not ins:
        raise RuntimeError("grad: expected at least one input tensor to differentiate with respect to")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: expected the inputs to be Tensors, got {type(t).__name__} at {i}")
        if not t._rg:
            raise RuntimeError(f"grad: one of the differentiated Tensors (input {i}) does not require grad")
    _check_outputs(outs, "grad")
    grads = _make_grads(outs, _as_tuple(grad_outputs), "grad", create_graph)
    capture = {}
    for i, t in enumerate(ins):
        capture.setdefault(edge(t), i)
    roots = [(o.grad_fn, o._output_nr) if o.grad_fn is not None else edge(o) for o in outs]
    captured = run_backward(roots, grads, bool(retain_graph), capture, False, create_graph)
    result = []
    seen = set()
    for i, t in enumerate(ins):
        g = captured[capture[edge(t)]]
        if isinstance(g, Tensor):
            result.append(g if g.shape == t.shape else g.reshape(t._data.shape))
            continue
        if g is not None:
            # own the array: it may be a read-only broadcast view or shared by two inputs
            if g.base is not None or id(g) in seen or not g.flags.writeable:
                g = g.copy()
            seen.add(id(g))
        if g is None:
            if materialize_grads:
                g = B.array_module(t._data).zeros_like(t._data)
                if create_graph:
                    result.append(_wrap(g))
                    continue
            elif not allow_unused:
                raise RuntimeError(
                    f"grad: one of the differentiated Tensors (input {i}) appears to not have been used "
                    "in the graph. Set allow_unused=True if this is the desired behavior."
                )
        result.append(None if g is None else _wrap(g.reshape(t._data.shape)))
    return tuple(result)
