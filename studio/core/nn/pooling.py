"""Pooling layers: MaxPool1d, MaxPool2d, AvgPool2d and AdaptiveAvgPool2d."""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "MaxPool1d", "MaxPool2d"]


def _check_rank(layer, input, n_spatial: int):
    if not isinstance(input, Tensor):
        raise TypeError(f"{layer._get_name()}.forward expected a Tensor, got {type(input).__name__}")
    if input.dim() not in (n_spatial + 1, n_spatial + 2):
        dims = "L" if n_spatial == 1 else "H, W"
        raise RuntimeError(
            f"{layer._get_name()} got input of shape {tuple(input.shape)}: "
            f"expected (N, C, {dims}) or (C, {dims})"
        )


class _MaxPoolNd(Module):
    """What MaxPool1d and MaxPool2d share: options, forward through `_pool` over `_n` spatial dims, repr."""

    _n = 2
    _pool = staticmethod(F.max_pool2d)

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        _check_rank(self, input, self._n)
        return self._pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of an (N, C, L) or (C, L) input.

    Output length: floor((L + 2*padding - dilation*(kernel_size-1) - 1) / stride + 1) (ceil with ceil_mode).
    """

    _n = 1
    _pool = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows of an (N, C, H, W) or (C, H, W) input; stride defaults to kernel_size.

    Output size per spatial dim: floor((H + 2*padding - dilation*(kernel_size-1) - 1) / stride + 1).
    """

    _n = 2
    _pool = staticmethod(F.max_pool2d)


class AvgPool2d(Module):
    """Mean over sliding windows of an (N, C, H, W) or (C, H, W) input; stride defaults to kernel_size.

    `count_include_pad` counts zero padding in the divisor; `divisor_override` replaces the divisor.
    """

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override=None,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        _check_rank(self, input, 2)
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Mean pooling to a fixed output size (H_out, W_out), whatever the input size.

    `output_size` is an int, or a pair whose None entries keep the input's size.
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        _check_rank(self, input, 2)
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
