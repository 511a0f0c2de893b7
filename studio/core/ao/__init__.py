"""Model compression, as `torch.ao`: quantized layers (`ao.nn`) and quantization (`ao.quantization`)."""

from . import nn, quantization

__all__ = ["nn", "quantization"]
