"""Resampling: `interpolate` (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area) and
pixel (un)shuffle, with PyTorch's index and weight rules.

Each is composed of differentiable ops (index_select, products, reshapes), one spatial axis at a time:
separable resampling equals PyTorch's joint formulas, so gradients come from those ops.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..creation import as_tensor
from ..tensor import Tensor

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_LINEAR_NDIM = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75


def _spatial_sizes(x, size, scale_factor, recompute_scale_factor):
    """Output sizes and the per-axis scales PyTorch uses to map output positions to input ones."""
    n = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = [size] * n if isinstance(size, numbers.Integral) else list(size)
        if len(sizes) != n:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got input with "
                f"spatial dimensions of {list(x.shape[2:])} and output size of {list(sizes)}. Please "
                "provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                "format."
            )
        return [int(s) for s in sizes], [None] * n
    scales = [scale_factor] * n if isinstance(scale_factor, numbers.Real) else list(scale_factor)
    if len(scales) != n:
        raise ValueError(
            f"Input and scale_factor must have the same number of spatial dimensions, but got input with "
            f"spatial dimensions of {list(x.shape[2:])} and scale_factor of shape {list(scales)}."
        )
    sizes = [int(math.floor(float(s_in) * float(s))) for s_in, s in zip(x.shape[2:], scales)]
    return sizes, [None] * n if recompute_scale_factor else [float(s) for s in scales]


def _scale(n_in, n_out, scale, align_corners):
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else n_in / n_out


def _select(x, axis, index):
    return x.index_select(axis, as_tensor(np.asarray(index, dtype=np.int64), device=x.device))


def _weights(x, axis, values):
    """`values` (one per output position along `axis`) shaped to broadcast against `x`."""
    shape = [1] * x.ndim
    shape[axis] = len(values)
    return as_tensor(np.asarray(values, dtype=x._data.dtype).reshape(shape), device=x.device)


def _resample_axis(x, axis, n_out, scale, mode, align_corners):
    n_in = x.shape[axis]
    dst = np.arange(n_out, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        s = _scale(n_in, n_out, scale, False)
        src = np.floor((dst + 0.5) * s if mode == "nearest-exact" else dst * s)
        return _select(x, axis, np.minimum(src.astype(np.int64), n_in - 1))
    s = _scale(n_in, n_out, scale, align_corners)
    src = dst * s if align_corners else (dst + 0.5) * s - 0.5
    if mode == "bicubic":
        return _cubic_axis(x, axis, src, n_in)
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    return _select(x, axis, i0) * _weights(x, axis, 1.0 - lam) + _select(x, axis, i1) * _weights(x, axis, lam)


def _cubic_axis(x, axis, src, n_in):
    """Keys' cubic convolution (A = -0.75) over the four neighbours, indices clamped at the borders."""
    i = np.floor(src).astype(np.int64)
    t = src - i
    a = _CUBIC_A

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    coeffs = (far(t + 1), near(t), near(1 - t), far(2 - t))
    out = None
    for k, w in enumerate(coeffs):
        tap = _select(x, axis, np.clip(i - 1 + k, 0, n_in - 1)) * _weights(x, axis, w)
        out = tap if out is None else out + tap
    return out


def _check_mode(x, mode, align_corners):
    if mode not in _MODES:
        raise NotImplementedError(
            f"Input Error: interpolate mode {mode!r} is not supported; use one of {', '.join(_MODES)}"
        )
    if align_corners is not None and mode not in _LINEAR_NDIM:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: linear | bilinear | "
            "bicubic | trilinear"
        )
    want = _LINEAR_NDIM.get(mode)
    if want is not None and x.ndim - 2 != want:
        raise NotImplementedError(f"Got {x.ndim}D input, but {mode} mode needs {want + 2}D input")
    if x.ndim < 3 or x.ndim > 5:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {x.ndim}D) for the modes: "
            f"nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact (got {mode})"
        )


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    """Resize the spatial dims of an (N, C, *spatial) tensor to `size` or by `scale_factor`."""
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate(): input must be a Tensor, got {type(input).__name__}")
    _check_mode(input, mode, align_corners)
    if antialias:
        raise NotImplementedError("interpolate(): antialias=True is not supported; resize without it")
    sizes, scales = _spatial_sizes(input, size, scale_factor, recompute_scale_factor)
    if any(s <= 0 for s in sizes):
        raise ValueError(f"interpolate(): output sizes must be positive, got {sizes}")
    if mode == "area":
        return _area(input, sizes)
    out = input
    for k, (n_out, scale) in enumerate(zip(sizes, scales)):
        out = _resample_axis(out, 2 + k, n_out, scale, mode, bool(align_corners))
    return out


def _area(input, sizes):
    from .pool import adaptive_avg_pool2d

    if input.ndim == 3:
        return adaptive_avg_pool2d(input.unsqueeze(2), (1, sizes[0])).squeeze(2)
    if input.ndim == 4:
        return adaptive_avg_pool2d(input, tuple(sizes))
    raise NotImplementedError("interpolate(): mode='area' is supported for 3D and 4D inputs")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """The deprecated name of `interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# --------------------------------------------------------------------------------- pixel shuffle


def pixel_shuffle(input, upscale_factor):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r): channels become space (sub-pixel convolution)."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {input.ndim} "
            "dimension(s)"
        )
    *lead, c, h, w = input.shape
    if r <= 0 or c % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
            f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    oc = c // (r * r)
    x = input.reshape(-1, oc, r, r, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(*lead, oc, h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W): the inverse of pixel_shuffle."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
            f"{input.ndim} dimension(s)"
        )
    *lead, c, h, w = input.shape
    if r <= 0 or h % r or w % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but got "
            f"height={h}, width={w} and downscale_factor={r}"
        )
    x = input.reshape(-1, c, h // r, r, w // r, r).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(*lead, c * r * r, h // r, w // r)
