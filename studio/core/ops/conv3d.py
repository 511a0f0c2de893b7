"""3-D convolution, composed of one 2-D convolution per kernel depth offset (each through BLAS).

out[:, :, d] = sum over kd of conv2d(x[:, :, d * stride + kd * dilation], w[:, :, kd]): the depth
slices of every output are batched into one conv2d call per offset, and autograd flows through conv2d.
"""

from __future__ import annotations

import numbers

from ..tensor import Tensor
from .conv import conv2d
from .misc import pad as _pad


def _triple(value, name):
    v = tuple(value) if isinstance(value, list | tuple) else (value,) * 3
    if len(v) != 3 or not all(isinstance(i, numbers.Integral) for i in v):
        raise ValueError(f"conv3d: {name} must be an int or a tuple of 3 ints, got {value!r}")
    return tuple(int(i) for i in v)


def _explicit_padding(padding, kernel, dilation, stride):
    """(before, after) padding per spatial dim; 'same' may pad one more after than before."""
    if padding == "valid":
        return [(0, 0)] * 3
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return [(t // 2, t - t // 2) for t in total]
    if isinstance(padding, str):
        raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    return [(p, p) for p in _triple(padding, "padding")]


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation of (N, C_in, D, H, W) (or unbatched (C_in, D, H, W)) with
    weight (C_out, C_in / groups, kD, kH, kW)."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError("conv3d(): input and weight must be Tensors")
    if weight.ndim != 5:
        raise RuntimeError(
            f"conv3d: weight must be 5-D (C_out, C_in/groups, kD, kH, kW), got {tuple(weight.shape)}"
        )
    batched = input.ndim == 5
    if input.ndim not in (4, 5):
        raise RuntimeError(
            f"Expected 4D (unbatched) or 5D (batched) input to conv3d, but got input of size: "
            f"{list(input.shape)}"
        )
    x = input if batched else input.unsqueeze(0)
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input{list(x.shape)} to "
            f"have {weight.shape[1] * groups} channels, but got {x.shape[1]} channels instead"
        )
    stride, dilation = _triple(stride, "stride"), _triple(dilation, "dilation")
    kernel = tuple(weight.shape[2:])
    pads = _explicit_padding(padding, kernel, dilation, stride)
    if any(a or b for a, b in pads):
        x = _pad(x, (pads[2][0], pads[2][1], pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
    n, c, depth = x.shape[:3]
    out_depth = (depth - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    if out_depth <= 0:
        raise RuntimeError(f"conv3d: the kernel {kernel} is larger than the padded input {list(x.shape[2:])}")
    out = None
    span = stride[0] * (out_depth - 1) + 1
    for kd in range(kernel[0]):
        start = kd * dilation[0]
        slab = x[:, :, start : start + span : stride[0]]  # (N, C, D_out, H, W)
        slab = slab.permute(0, 2, 1, 3, 4).reshape(n * out_depth, c, *x.shape[3:])
        part = conv2d(slab, weight[:, :, kd], None, stride[1:], 0, dilation[1:], groups)
        out = part if out is None else out + part
    out = out.reshape(n, out_depth, *out.shape[1:]).permute(0, 2, 1, 3, 4)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out if batched else out.squeeze(0)
