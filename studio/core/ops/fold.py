"""Sliding blocks: `unfold` (im2col: the blocks of an image as columns) and `fold` (col2im: columns
summed back into an image), composed of padding, advanced indexing and scatter_add."""

from __future__ import annotations

import numpy as np

from ..creation import as_tensor, zeros
from ..tensor import Tensor
from .misc import pad as _pad


def _pair(value, name, where):
    v = tuple(value) if isinstance(value, list | tuple) else (value, value)
    if len(v) != 2:
        raise ValueError(f"{where}: {name} must be an int or a pair of ints, got {value!r}")
    return tuple(int(i) for i in v)


def _block_indices(padded_hw, kernel, dilation, stride, where):
    """Row and column indices (kh, kw, oh, ow) of every block element, and the block counts."""
    (hp, wp), (kh, kw), (dh, dw), (sh, sw) = padded_hw, kernel, dilation, stride
    oh = (hp - dh * (kh - 1) - 1) // sh + 1
    ow = (wp - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"{where}: the kernel {kernel} (dilation {dilation}) does not fit the padded input of size "
            f"({hp}, {wp}): no block would be taken"
        )
    rows = (np.arange(kh) * dh)[:, None, None, None] + (np.arange(oh) * sh)[None, None, :, None]
    cols = (np.arange(kw) * dw)[None, :, None, None] + (np.arange(ow) * sw)[None, None, None, :]
    return np.broadcast_to(rows, (kh, kw, oh, ow)), np.broadcast_to(cols, (kh, kw, oh, ow)), oh, ow


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, H, W) -> (N, C * kh * kw, L): each column holds one block; L blocks in row-major order."""
    where = "unfold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise NotImplementedError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)"
        )
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    kernel, dil, pads, strd = (
        _pair(kernel_size, "kernel_size", where),
        _pair(dilation, "dilation", where),
        _pair(padding, "padding", where),
        _pair(stride, "stride", where),
    )
    if any(pads):
        x = _pad(x, (pads[1], pads[1], pads[0], pads[0]))
    n, c = x.shape[:2]
    rows, cols, oh, ow = _block_indices(x.shape[2:], kernel, dil, strd, where)
    blocks = x[:, :, as_tensor(rows.copy(), device=x.device), as_tensor(cols.copy(), device=x.device)]
    out = blocks.reshape(n, c * kernel[0] * kernel[1], oh * ow)
    return out if batched else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C * kh * kw, L) -> (N, C, H, W): blocks summed into place (overlaps add up)."""
    where = "fold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise NotImplementedError(
            "Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
            f"(got {input.ndim}D)"
        )
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    (h, w), kernel, dil, pads, strd = (
        _pair(output_size, "output_size", where),
        _pair(kernel_size, "kernel_size", where),
        _pair(dilation, "dilation", where),
        _pair(padding, "padding", where),
        _pair(stride, "stride", where),
    )
    hp, wp = h + 2 * pads[0], w + 2 * pads[1]
    rows, cols, oh, ow = _block_indices((hp, wp), kernel, dil, strd, where)
    n, ck, length = x.shape
    kk = kernel[0] * kernel[1]
    if ck % kk or length != oh * ow:
        raise RuntimeError(
            f"Given output_size=({h}, {w}), kernel_size={kernel}, dilation={dil}, padding={pads}, "
            f"stride={strd}, expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size ({kk}) and its dimension 2 to match the calculated number of sliding blocks "
            f"{oh} * {ow} = {oh * ow}, but got input.size(1)={ck}, input.size(2)={length}."
        )
    c = ck // kk
    flat = (rows * wp + cols).reshape(-1)
    index = as_tensor(np.broadcast_to(flat, (n, c, flat.size)).copy(), device=x.device)
    canvas = zeros(n, c, hp * wp, dtype=x.dtype, device=x.device)
    out = canvas.scatter_add(2, index, x.reshape(n, c, kk * length)).reshape(n, c, hp, wp)
    out = out[:, :, pads[0] : pads[0] + h, pads[1] : pads[1] + w]
    return out if batched else out.squeeze(0)
