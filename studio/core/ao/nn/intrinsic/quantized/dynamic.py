"""Dynamically quantized fused layers, as `torch.ao.nn.intrinsic.quantized.dynamic`."""

from __future__ import annotations

from ...quantized import dynamic as _qd

__all__ = ["LinearReLU"]


class LinearReLU(_qd.Linear):
    """Dynamically quantized Linear + ReLU: float in, float out, int8 weights."""

    _relu = True
