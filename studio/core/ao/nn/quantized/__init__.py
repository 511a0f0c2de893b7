"""Quantized layers, as `torch.ao.nn.quantized` (static) and `.dynamic`."""

from . import dynamic
from .modules import (
    ELU,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    DeQuantize,
    Dropout,
    GroupNorm,
    LayerNorm,
    LeakyReLU,
    Linear,
    Quantize,
)

__all__ = [
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "DeQuantize",
    "Dropout",
    "ELU",
    "GroupNorm",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "Quantize",
    "dynamic",
]
