"""Check an op's analytic gradients against central finite differences, in float64."""

from __future__ import annotations

import numpy as np

from .. import backend as B
from ..tensor import Tensor, _wrap
from .entry import grad as _grad
from .grad_mode import no_grad


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Compare `func`'s backward with finite differences for every input that requires grad.

    Inputs should be float64. The output is contracted with a fixed random direction, so one
    backward checks every output element at once.
    """
    inputs = inputs if isinstance(inputs, tuple | list) else (inputs,)
    diff = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise RuntimeError("gradcheck: no input requires grad; pass tensors made with requires_grad=True")
    for t in diff:
        if not t._data.flags.c_contiguous:
            # finite differences perturb the input through a flat view, which needs one block of memory
            t._data = B.array_module(t._data).ascontiguousarray(t._data)
    for t in diff:
        if t.dtype.name != "float64":
            import warnings

            warnings.warn(
                "gradcheck: inputs are not float64; finite differences will be imprecise", stacklevel=2
            )
    out = func(*inputs)
    outs = out if isinstance(out, tuple | list) else (out,)
    outs = [o for o in outs if isinstance(o, Tensor) and o.requires_grad]
    rng = np.random.default_rng(seed)
    dirs = [rng.standard_normal(o._data.shape) for o in outs]

    def scalar(vals):
        with no_grad():
            res = func(*vals)
        res = res if isinstance(res, tuple | list) else (res,)
        res = [r for r in res if isinstance(r, Tensor) and r._data.dtype.kind == "f"][: len(dirs)]
        return sum(float((B.to_numpy(r._data).astype(np.float64) * d).sum()) for r, d in zip(res, dirs))

    if not outs:
        raise RuntimeError("gradcheck: the function's output does not require grad")
    analytic = _grad(
        outs,
        diff,
        [_wrap(B.array_module(o._data).asarray(d, dtype=o._data.dtype)) for o, d in zip(outs, dirs)],
        allow_unused=True,
    )
    for t, ga in zip(diff, analytic):
        ga = np.zeros(t._data.shape) if ga is None else B.to_numpy(ga._data)
        num = np.zeros(t._data.shape)
        flat = t._data.reshape(-1)
        for i in range(flat.size):
            orig = flat[i].item()
            flat[i] = orig + eps
            fp = scalar(inputs)
            flat[i] = orig - eps
            fm = scalar(inputs)
            flat[i] = orig
            num.reshape(-1)[i] = (fp - fm) / (2 * eps)
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
