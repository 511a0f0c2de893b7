"""Quantization, as `torch.ao.quantization`: observers, qconfigs, stubs, fusion, `prepare` / `convert`
for post-training static quantization, and `quantize_dynamic`.

Static:   model.eval(); model.qconfig = get_default_qconfig("x86"); prepared = prepare(model);
          run calibration batches through `prepared`; quantized = convert(prepared)
Dynamic:  quantized = quantize_dynamic(model, {nn.Linear, nn.LSTM}, dtype=studio.core.qint8)

A quantized model's state_dict is int8 weights with their scales; save it with `studio.core.save`.
"""

from ..quantized_tensor import (
    QuantizedTensor,
    quantize_per_channel,
    quantize_per_tensor,
    quantize_per_tensor_dynamic,
)
from .fuse_modules import fuse_known_modules, fuse_modules, get_fuser_method
from .observer import (
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    NoopObserver,
    ObserverBase,
    PerChannelMinMaxObserver,
    PlaceholderObserver,
    default_dynamic_quant_observer,
    default_histogram_observer,
    default_observer,
    default_per_channel_weight_observer,
    default_placeholder_observer,
    default_weight_observer,
)
from .qconfig import (
    QConfig,
    default_dynamic_qconfig,
    default_per_channel_qconfig,
    default_qconfig,
    float16_dynamic_qconfig,
    get_default_qconfig,
    per_channel_dynamic_qconfig,
)
from .quantization_mappings import (
    get_default_dynamic_quant_module_mappings,
    get_default_qconfig_propagation_list,
    get_default_static_quant_module_mappings,
)
from .quantize import convert, prepare, propagate_qconfig_, quantize, quantize_dynamic, swap_module
from .stubs import DeQuantStub, QuantStub, QuantWrapper

__all__ = [
    "DeQuantStub",
    "HistogramObserver",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "MovingAveragePerChannelMinMaxObserver",
    "NoopObserver",
    "ObserverBase",
    "PerChannelMinMaxObserver",
    "PlaceholderObserver",
    "QConfig",
    "QuantStub",
    "QuantWrapper",
    "QuantizedTensor",
    "convert",
    "default_dynamic_qconfig",
    "default_dynamic_quant_observer",
    "default_histogram_observer",
    "default_observer",
    "default_per_channel_qconfig",
    "default_per_channel_weight_observer",
    "default_placeholder_observer",
    "default_qconfig",
    "default_weight_observer",
    "float16_dynamic_qconfig",
    "fuse_known_modules",
    "fuse_modules",
    "get_default_dynamic_quant_module_mappings",
    "get_default_qconfig",
    "get_default_qconfig_propagation_list",
    "get_default_static_quant_module_mappings",
    "get_fuser_method",
    "per_channel_dynamic_qconfig",
    "prepare",
    "propagate_qconfig_",
    "quantize",
    "quantize_dynamic",
    "quantize_per_channel",
    "quantize_per_tensor",
    "quantize_per_tensor_dynamic",
    "swap_module",
]
