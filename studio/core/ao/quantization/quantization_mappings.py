"""Which quantized layer replaces which float layer, as `torch.ao.quantization.quantization_mappings`."""

from __future__ import annotations

from ... import nn
from ..nn import intrinsic as nni
from ..nn import quantized as nnq
from ..nn.intrinsic import quantized as nniq
from ..nn.quantized import dynamic as nnqd
from .stubs import DeQuantStub, QuantStub

__all__ = [
    "get_default_dynamic_quant_module_mappings",
    "get_default_qconfig_propagation_list",
    "get_default_static_quant_module_mappings",
    "no_observer_set",
]

DEFAULT_STATIC_QUANT_MODULE_MAPPINGS = {
    QuantStub: nnq.Quantize,
    DeQuantStub: nnq.DeQuantize,
    nn.BatchNorm2d: nnq.BatchNorm2d,
    nn.Dropout: nnq.Dropout,
    nn.Conv1d: nnq.Conv1d,
    nn.Conv2d: nnq.Conv2d,
    nn.ELU: nnq.ELU,
    nn.GroupNorm: nnq.GroupNorm,
    nn.LayerNorm: nnq.LayerNorm,
    nn.LeakyReLU: nnq.LeakyReLU,
    nn.Linear: nnq.Linear,
    nn.NonDynamicallyQuantizableLinear: nnq.Linear,
    nni.BNReLU2d: nniq.BNReLU2d,
    nni.ConvReLU1d: nniq.ConvReLU1d,
    nni.ConvReLU2d: nniq.ConvReLU2d,
    nni.LinearReLU: nniq.LinearReLU,
}

DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS = {
    nn.GRU: nnqd.GRU,
    nn.LSTM: nnqd.LSTM,
    nn.Linear: nnqd.Linear,
    nn.NonDynamicallyQuantizableLinear: nnqd.Linear,
    nni.LinearReLU: nniq.dynamic.LinearReLU,
}

# layers that compute on quantized integers without new quantization parameters: after `convert`,
# each passes a quantized input on with the input's scale and zero point
PASS_THROUGH = (
    nn.AdaptiveAvgPool2d,
    nn.AvgPool2d,
    nn.Dropout2d,
    nn.Flatten,
    nn.Hardtanh,
    nn.Identity,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.ReLU,
    nn.ReLU6,
    nn.Unflatten,
)


def get_default_static_quant_module_mappings() -> dict:
    return dict(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS)


def get_default_dynamic_quant_module_mappings() -> dict:
    return dict(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS)


def get_default_qconfig_propagation_list() -> set:
    """The layer types `prepare` gives observers to (when they have a qconfig)."""
    return (
        set(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS)
        | set(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS)
        | {nn.Sequential}
    )


def no_observer_set() -> set:
    return set()
