"""Quantized and fused layers, as `torch.ao.nn`."""

from . import intrinsic, quantized

__all__ = ["intrinsic", "quantized"]
