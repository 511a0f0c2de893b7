"""Quantized fused layers, as `torch.ao.nn.intrinsic.quantized`: the layer with its ReLU as a clamp."""

from __future__ import annotations

from ...quantized import modules as _q
from . import dynamic

__all__ = ["BNReLU2d", "ConvReLU1d", "ConvReLU2d", "LinearReLU", "dynamic"]


class LinearReLU(_q.Linear):
    """Quantized Linear + ReLU: the output integers are clamped below at the zero point."""

    _relu = True


class ConvReLU1d(_q.Conv1d):
    """Quantized Conv1d + ReLU."""

    _relu = True


class ConvReLU2d(_q.Conv2d):
    """Quantized Conv2d + ReLU."""

    _relu = True


class BNReLU2d(_q.BatchNorm2d):
    """Quantized BatchNorm2d + ReLU."""

    _relu = True
