"""Check gradients against central finite differences, in float64: `gradcheck` for first
derivatives, `gradgradcheck` for second ones (through a recorded backward pass)."""

from __future__ import annotations

import warnings

import numpy as np

from .. import backend as B
from ..tensor import Tensor, _wrap
from .entry import grad as _grad


def _float_outputs(out):
    outs = out if isinstance(out, tuple | list) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o._data.dtype.kind == "f"]


def _prepare(inputs):
    diff = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise RuntimeError("gradcheck: no input requires grad; pass tensors made with requires_grad=True")
    for t in diff:
        if not t._data.flags.c_contiguous:
            # finite differences perturb the input through a flat view, which needs one block of memory
            t._data = B.array_module(t._data).ascontiguousarray(t._data)
        if t.dtype.name != "float64":
            warnings.warn(
                "gradcheck: inputs are not float64; finite differences will be imprecise", stacklevel=3
            )
    return diff


def _numerical(func, inputs, t, dirs, eps):
    """d/dt of sum(output_k * dirs_k), one element of input `t` at a time."""

    def scalar():
        # grad mode stays as it is: the function may itself differentiate (gradgradcheck's does)
        outs = _float_outputs(func(*inputs))
        return sum(float((B.to_numpy(o._data).astype(np.float64) * d).sum()) for o, d in zip(outs, dirs))

    num = np.zeros(t._data.shape)
    flat = t._data.reshape(-1)
    for i in range(flat.size):
        orig = flat[i].item()
        flat[i] = orig + eps
        fp = scalar()
        flat[i] = orig - eps
        fm = scalar()
        flat[i] = orig
        num.reshape(-1)[i] = (fp - fm) / (2 * eps)
    return num


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0, **_ignored):
    """Compare `func`'s backward with finite differences for every input that requires grad.

    Inputs should be float64. The outputs are contracted with fixed random directions, so one
    backward checks every output element at once. An output that does not require grad counts as
    constant: its finite differences must be zero.
    """
    inputs = tuple(inputs) if isinstance(inputs, tuple | list) else (inputs,)
    diff = _prepare(inputs)
    outs = _float_outputs(func(*inputs))
    if not any(o.requires_grad for o in outs):
        raise RuntimeError("gradcheck: the function's output does not require grad")
    rng = np.random.default_rng(seed)
    dirs = [rng.standard_normal(o._data.shape) for o in outs]
    live = [(o, d) for o, d in zip(outs, dirs) if o.requires_grad]
    xp = B.array_module
    analytic = _grad(
        [o for o, _ in live],
        diff,
        [_wrap(xp(o._data).asarray(d, dtype=o._data.dtype)) for o, d in live],
        allow_unused=True,
    )
    for t, ga in zip(diff, analytic):
        ga = np.zeros(t._data.shape) if ga is None else B.to_numpy(ga._data)
        num = _numerical(func, inputs, t, dirs, eps)
        if not np.allclose(ga, num, atol=atol, rtol=rtol):
            if raise_exception:
                worst = np.unravel_index(np.argmax(np.abs(ga - num)), num.shape) if num.size else ()
                raise RuntimeError(
                    f"gradcheck: Jacobian mismatch for an input of shape {tuple(t._data.shape)}: "
                    f"analytic {ga[worst] if num.size else ga} vs numerical "
                    f"{num[worst] if num.size else num} "
                    f"at {worst}\nanalytic:\n{ga}\nnumerical:\n{num}"
                )
            return False
    return True


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps=1e-6,
    atol=1e-5,
    rtol=1e-3,
    raise_exception=True,
    seed=0,
    **_ignored,
):
    """Compare second derivatives with finite differences of first ones, as PyTorch's gradgradcheck.

    The first derivatives (a backward pass recorded with `create_graph=True`, contracted with
    `grad_outputs`, random ones by default) are checked by `gradcheck` against the inputs and the
    grad_outputs.
    """
    inputs = tuple(inputs) if isinstance(inputs, tuple | list) else (inputs,)
    _prepare(inputs)
    outs = [o for o in _float_outputs(func(*inputs)) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [
            _wrap(B.array_module(o._data).asarray(rng.standard_normal(o._data.shape), o._data.dtype))
            for o in outs
        ]
        for v in grad_outputs:
            v.requires_grad_(True)
    else:
        grad_outputs = list(grad_outputs) if isinstance(grad_outputs, tuple | list) else [grad_outputs]
    n = len(inputs)

    def first_derivatives(*args):
        ins, vs = args[:n], args[n:]
        diff = [t for t in ins if isinstance(t, Tensor) and t.requires_grad]
        live = [o for o in _float_outputs(func(*ins)) if o.requires_grad]
        grads = _grad(live, diff, list(vs), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        first_derivatives,
        inputs + tuple(grad_outputs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        seed=seed,
    )
