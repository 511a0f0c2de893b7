"""Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm and GroupNorm."""

from __future__ import annotations

import numbers

from .. import backend as B
from ..creation import empty, ones, tensor, zeros
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
]


def _register_affine(module, shape, affine: bool, bias: bool, device, dtype) -> None:
    """Register the learned scale `weight` and shift `bias` of shape `shape` (None where absent)."""
    if affine:
        module.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            module.bias = Parameter(empty(shape, device=device, dtype=dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module, affine: bool) -> None:
    """Start the learned scale at one and the shift at zero (the identity transform)."""
    if affine:
        init.ones_(module.weight)
        if module.bias is not None:
            init.zeros_(module.bias)


class _BatchNorm(Module):
    """Normalises each channel over batch and space: y = (x - mean) / sqrt(var + eps) * w + b.

    In training mode it uses the batch statistics and, with `track_running_stats`, updates
    `running_mean`/`running_var` (`momentum` is the weight of the new batch; None averages all batches
    cumulatively). In eval mode it uses the running statistics.
    """

    _ranks: tuple = ()
    _layout = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _register_affine(self, num_features, affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=B.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self, self.affine)

    def _check_input(self, input):
        name = self._get_name()
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}.forward expected a Tensor, got {type(input).__name__}")
        ndim = input.dim()
        if ndim not in self._ranks:
            raise ValueError(
                f"{name}({self.num_features}) expected {' or '.join(f'{r}D' for r in self._ranks)} input "
                f"{self._layout}, got {ndim}D input of shape {tuple(input.shape)}"
            )
        if input.shape[1] != self.num_features:
            raise RuntimeError(
                f"{name}({self.num_features}) got input of shape {tuple(input.shape)}: expected "
                f"{self.num_features} channels in dimension 1 {self._layout}"
            )

    def forward(self, input):
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            nbt = self.num_batches_tracked
            nbt._data += 1
            nbt._vc[0] += 1
            # momentum=None: a cumulative average, each batch weighted 1/n.
            factor = 1.0 / float(nbt.item()) if self.momentum is None else self.momentum
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs, per channel C (see `_BatchNorm`)."""

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs, per channel C (see `_BatchNorm`)."""

    _ranks = (4,)
    _layout = "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W) inputs, per channel C (see `_BatchNorm`)."""

    _ranks = (5,)
    _layout = "(N, C, D, H, W)"


class _InstanceNorm(_BatchNorm):
    """Normalises each sample's channel over its spatial positions: y = (x - mean) / sqrt(var + eps),
    with an optional per-channel affine map (affine=False by default) and optional running statistics
    (track_running_stats=False by default), used in eval mode when kept. Unbatched inputs are accepted.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input):
        unbatched = input.dim() == self._ranks[0]
        x = input.unsqueeze(0) if unbatched else input
        if not isinstance(input, Tensor) or x.dim() != self._ranks[-1]:
            self._check_input(input)
        if x.shape[1] != self.num_features and self.affine:
            raise ValueError(
                f"expected input's size at dim=1 to match num_features ({self.num_features}), but got: "
                f"{x.shape[1]}."
            )
        out = F.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization over (N, C, L) or (C, L) inputs."""

    _ranks = (2, 3)
    _layout = "(N, C, L) or (C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization over (N, C, H, W) or (C, H, W) inputs."""

    _ranks = (3, 4)
    _layout = "(N, C, H, W) or (C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization over (N, C, D, H, W) or (C, D, H, W) inputs."""

    _ranks = (4, 5)
    _layout = "(N, C, D, H, W) or (C, D, H, W)"


class LayerNorm(Module):
    """Normalises over the last dimensions `normalized_shape` of each sample, then scales and shifts.

    Input shape: (*, *normalized_shape); output shape: the same.
    """

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _register_affine(self, self.normalized_shape, elementwise_affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self, self.elementwise_affine)

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"LayerNorm.forward expected a Tensor, got {type(input).__name__}")
        n = len(self.normalized_shape)
        if tuple(input.shape[input.dim() - n :]) != self.normalized_shape or input.dim() < n:
            raise RuntimeError(
                f"LayerNorm({self.normalized_shape}) got input of shape {tuple(input.shape)}: "
                f"expected the last dimensions to be {self.normalized_shape}"
            )
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalises each sample over groups of channels: `num_channels` split into `num_groups` groups.

    Input shape: (N, C, *) with C = num_channels; output shape: the same.
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups != 0:
            raise ValueError(
                f"num_channels must be divisible by num_groups, got num_channels={num_channels}, "
                f"num_groups={num_groups}"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _register_affine(self, num_channels, affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self, self.affine)

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"GroupNorm.forward expected a Tensor, got {type(input).__name__}")
        if input.dim() < 2 or input.shape[1] != self.num_channels:
            raise RuntimeError(
                f"GroupNorm({self.num_groups}, {self.num_channels}) got input of shape {tuple(input.shape)}: "
                f"expected (N, {self.num_channels}, *)"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
