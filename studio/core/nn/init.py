"""Weight initialisation: fill tensors in place from PyTorch's distributions (Xavier, Kaiming, ...).

Every function runs without recording gradients, writes into the tensor it is given and returns it.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import backend as B
from ..autograd.grad_mode import no_grad

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended scale of the weights feeding `nonlinearity` (PyTorch's table).

    linear/conv/sigmoid: 1, tanh: 5/3, relu: sqrt(2), leaky_relu: sqrt(2 / (1 + slope^2)), selu: 3/4.
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, numbers.Real):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions, "
            f"got a tensor of shape {shape}"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values):
    """Write drawn values (any float dtype) into `tensor`'s memory."""
    B.array_module(tensor._data).copyto(tensor._data, values, casting="unsafe")
    tensor._vc[0] += 1
    return tensor


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with draws from U(a, b)."""
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with draws from N(mean, std^2)."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(
    tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator=None
):
    """Fill with draws from N(mean, std^2) restricted to [a, b] (bounds in the tensor's units)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    xp = B.array_module(tensor._data)
    rng = B.rng(generator, xp)
    shape = tensor._data.shape
    lo, hi = (a - mean) / std, (b - mean) / std  # the bounds of a standard normal draw
    mass = 0.5 * (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2)))
    n = math.prod(shape)
    out = xp.empty(n, dtype=np.float64)
    todo = xp.arange(n)
    if mass > 0.05:
        # Most draws land inside: redraw the few that do not.
        while todo.size:
            z = rng.standard_normal(todo.size)
            ok = (z >= lo) & (z <= hi)
            out[todo[ok]] = z[ok]
            todo = todo[~ok]
    else:
        # A narrow or far-out interval: propose uniformly and accept by the density ratio.
        nearest = 0.0 if lo <= 0.0 <= hi else (lo if lo > 0 else hi)
        span = math.sqrt(nearest**2 + 60.0)  # beyond it the density ratio is below e^-30
        lo_eff, hi_eff = max(lo, -span), min(hi, span)
        while todo.size:
            z = rng.uniform(lo_eff, hi_eff, todo.size)
            ok = rng.random(todo.size) <= xp.exp(-(z * z - nearest * nearest) / 2)
            out[todo[ok]] = z[ok]
            todo = todo[~ok]
    with no_grad():
        return _fill(tensor, (out * std + mean).reshape(shape))


def constant_(tensor, val: float):
    """Fill with `val`."""
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    """Fill with ones."""
    with no_grad():
        return tensor.fill_(1.0)


def zeros_(tensor):
    """Fill with zeros."""
    with no_grad():
        return tensor.zero_()


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix."""
    if tensor.ndim != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got {tensor.ndim}")
    xp = B.array_module(tensor._data)
    with no_grad():
        return _fill(tensor, xp.eye(*tensor._data.shape, dtype=tensor._data.dtype))


def dirac_(tensor, groups: int = 1):
    """Fill a 3/4/5-D convolution weight so the convolution passes its input through unchanged."""
    dims = tensor.ndim
    if dims not in (3, 4, 5):
        raise ValueError(f"Only tensors with 3, 4, or 5 dimensions are supported, got {dims}")
    sizes = tuple(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError(f"dim 0 must be divisible by groups, got {sizes[0]} and groups={groups}")
    out_per_group = sizes[0] // groups
    min_dim = min(out_per_group, sizes[1])
    xp = B.array_module(tensor._data)
    values = xp.zeros(sizes, dtype=tensor._data.dtype)
    centre = tuple(s // 2 for s in sizes[2:])
    d = xp.arange(min_dim)
    for g in range(groups):
        values[(g * out_per_group + d, d, *centre)] = 1
    with no_grad():
        return _fill(tensor, values)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None
):
    """He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan); `a` is the leaky_relu slope."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None
):
    """He normal: N(0, std^2) with std = gain / sqrt(fan); `a` is the leaky_relu slope."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain: float = 1, generator=None):
    """Fill with a (semi-)orthogonal matrix, rows or columns orthonormal, times `gain`.

    Dimensions after the first are flattened; QR of a Gaussian matrix with the sign of R's diagonal
    folded in gives a uniformly distributed orthogonal matrix.
    """
    if tensor.ndim < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported, got {tensor.ndim}")
    if tensor.numel() == 0:
        return tensor
    xp = B.array_module(tensor._data)
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = B.rng(generator, xp).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    with no_grad():
        return _fill(tensor, (q * gain).reshape(tensor._data.shape))


# PyTorch's deprecated un-suffixed names, kept because old scripts call them.
def _deprecated(fn):
    def wrapper(*args, **kwargs):
        warnings.warn(
            f"nn.init.{fn.__name__[:-1]} is deprecated in favor of nn.init.{fn.__name__}.",
            FutureWarning,
            stacklevel=2,
        )
        return fn(*args, **kwargs)

    wrapper.__name__ = fn.__name__[:-1]
    return wrapper


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
