"""Eager-mode quantization, as `torch.ao.quantization.quantize`: qconfig propagation, `prepare`
(observers on the layers' outputs), `convert` (observed layers become quantized ones), `quantize` and
`quantize_dynamic`.

Beyond PyTorch: `convert` does not carry pruning hooks over to the quantized layers (the quantized
weight already holds the pruned values), and the layers that pass quantized tensors through
(ReLU, pooling, Flatten, ...) get a forward hook that keeps their output quantized.
"""

from __future__ import annotations

import copy
import warnings

from ... import backend as B
from ... import nn
from ...autograd import grad_mode
from ...nn.utils.prune import BasePruningMethod
from ..nn.intrinsic import _FusedModule
from ..quantized_tensor import QuantizedTensor, make_quantized, quantize_array
from .observer import ObserverBase
from .qconfig import QConfig, default_dynamic_qconfig, float16_dynamic_qconfig
from .quantization_mappings import (
    PASS_THROUGH,
    get_default_dynamic_quant_module_mappings,
    get_default_qconfig_propagation_list,
    get_default_static_quant_module_mappings,
)
from .stubs import DeQuantStub

__all__ = [
    "convert",
    "prepare",
    "propagate_qconfig_",
    "quantize",
    "quantize_dynamic",
    "swap_module",
]


def _copy(model):
    """A deep copy. A pruned tensor (orig * mask, a graph result that cannot be deep-copied) is first
    recomputed as a plain value, as an inference pass would leave it; the next forward recomputes it."""
    for m in model.modules():
        for hook in m._forward_pre_hooks.values():
            if isinstance(hook, BasePruningMethod):
                with grad_mode.no_grad():
                    setattr(m, hook._tensor_name, hook.apply_mask(m))
    return copy.deepcopy(model)


def _check_model(model, where):
    if not isinstance(model, nn.Module):
        raise TypeError(f"{where}: expected an nn.Module, got {type(model).__name__}")


def _check_qconfig(qconfig, module):
    if qconfig is not None and not isinstance(qconfig, QConfig):
        raise TypeError(
            f"the qconfig of {type(module).__name__} must be a QConfig or None, got {type(qconfig).__name__}"
        )


def propagate_qconfig_(module, qconfig_dict=None, prepare_custom_config_dict=None) -> None:
    """Give every module a `qconfig`: its own, else one from `qconfig_dict` (by exact type, then by
    dotted name), else its parent's."""
    _propagate(module, qconfig_dict or {}, None, "")


def _propagate(module, qconfig_dict, parent_qconfig, prefix):
    qconfig = qconfig_dict.get(type(module), parent_qconfig)
    qconfig = qconfig_dict.get(prefix, qconfig)
    qconfig = getattr(module, "qconfig", qconfig)
    _check_qconfig(qconfig, module)
    module.qconfig = qconfig
    for name, child in module.named_children():
        _propagate(child, qconfig_dict, qconfig, f"{prefix}.{name}" if prefix else name)


def _observer_forward_hook(module, inputs, output):
    """Hands a layer's output to its observer during calibration."""
    return module.activation_post_process(output)


def _needs_observation(module):
    return getattr(module, "qconfig", None) is not None


def _add_observers(module, allow_list):
    for child in module.children():
        if type(child) is nn.Dropout:
            continue
        if isinstance(child, _FusedModule):
            if _needs_observation(child):
                _insert_observer(child)
        else:
            _add_observers(child, allow_list)
    leaf = not any(True for _ in module.children())
    observed = type(module) in allow_list and _needs_observation(module)
    if leaf and observed and not isinstance(module, nn.Sequential | DeQuantStub):
        _insert_observer(module)


def _insert_observer(module):
    module.add_module("activation_post_process", module.qconfig.activation())
    module.register_forward_hook(_observer_forward_hook)


def prepare(
    model, inplace=False, allow_list=None, observer_non_leaf_module_list=None, prepare_custom_config_dict=None
):
    """Attach observers to the outputs of the quantizable layers that have a qconfig (set
    `model.qconfig` first); then run calibration data through the model and call `convert`."""
    _check_model(model, "prepare")
    if not inplace:
        model = _copy(model)
    propagate_qconfig_(model)
    if not any(_needs_observation(m) for m in model.modules()):
        warnings.warn(
            "None of the submodule got qconfig applied. Make sure you passed correct configuration through "
            "`qconfig_dict` or by assigning the `.qconfig` attribute directly on submodules",
            stacklevel=2,
        )
    _add_observers(
        model, set(allow_list) if allow_list is not None else get_default_qconfig_propagation_list()
    )
    return model


def convert(
    module,
    mapping=None,
    inplace=False,
    remove_qconfig=True,
    is_reference=False,
    convert_custom_config_dict=None,
    use_precomputed_fake_quant=False,
):
    """Replace each observed float layer by its quantized counterpart (from `mapping`, by default the
    static one) and remove observers and qconfigs."""
    _check_model(module, "convert")
    if is_reference:
        raise NotImplementedError("convert(is_reference=True): reference quantized modules are not available")
    if not inplace:
        module = _copy(module)
    _convert(module, mapping if mapping is not None else get_default_static_quant_module_mappings())
    if remove_qconfig:
        _remove_qconfig(module)
    if any(isinstance(m, _STATIC_LAYERS) for m in module.modules()):
        _keep_quantized_through(module)
    return module


def _convert(module, mapping):
    swapped = {}
    for name, child in module.named_children():
        if not isinstance(child, _FusedModule):
            _convert(child, mapping)
        swapped[name] = swap_module(child, mapping, {})
    for name, child in swapped.items():
        module._modules[name] = child
    return module


def swap_module(mod, mapping, custom_module_class_mapping=None, use_precomputed_fake_quant=False):
    """The quantized counterpart of `mod` when it has a qconfig and a mapping entry, else `mod`."""
    if getattr(mod, "qconfig", None) is None or type(mod) not in mapping:
        return mod
    new = mapping[type(mod)].from_float(mod)
    for hook in mod._forward_pre_hooks.values():
        if not isinstance(hook, BasePruningMethod):  # the quantized weight holds the pruned values
            new.register_forward_pre_hook(hook)
    for hook in mod._forward_hooks.values():
        if hook is not _observer_forward_hook:
            new.register_forward_hook(hook)
    return new


def _remove_qconfig(module):
    for child in module.children():
        _remove_qconfig(child)
    if "qconfig" in module.__dict__:
        del module.qconfig
    observer = module._modules.get("activation_post_process")
    if isinstance(observer, ObserverBase):
        del module._modules["activation_post_process"]
        for key, hook in list(module._forward_hooks.items()):
            if hook is _observer_forward_hook:
                del module._forward_hooks[key]


_STATIC_LAYERS = tuple(set(get_default_static_quant_module_mappings().values()))


def _pass_quantized(module, inputs, output):
    """Keeps the output of a pass-through layer quantized with its input's scale and zero point."""
    x = inputs[0] if inputs else None
    if type(x) is QuantizedTensor and x._axis is None and not isinstance(output, QuantizedTensor):
        q = quantize_array(output._data, x._scale, x._zero_point, x._qdtype)
        return make_quantized(q, x._qdtype, x._scale, x._zero_point)
    return None


def _keep_quantized_through(module):
    for m in module.modules():
        if isinstance(m, PASS_THROUGH) and _pass_quantized not in m._forward_hooks.values():
            m.register_forward_hook(_pass_quantized)


def quantize(model, run_fn, run_args, mapping=None, inplace=False):
    """Post-training static quantization in one call: prepare, `run_fn(model, *run_args)` to
    calibrate, convert. The model needs a `qconfig` (e.g. `get_default_qconfig('x86')`)."""
    _check_model(model, "quantize")
    if not inplace:
        model = _copy(model)
    model.eval()
    prepare(model, inplace=True)
    run_fn(model, *run_args)
    convert(model, mapping, inplace=True)
    return model


_DYNAMIC_TYPES = (nn.Linear, nn.LSTM, nn.GRU)


def quantize_dynamic(model, qconfig_spec=None, dtype=B.qint8, mapping=None, inplace=False):
    """Replace Linear, LSTM and GRU layers (or those named in `qconfig_spec`) by dynamically quantized
    ones: int8 weights (float16 with `dtype=float16`), activations quantized at run time.

    `qconfig_spec` is a set of layer types or dotted names, or a dict from those to QConfigs (e.g.
    `per_channel_dynamic_qconfig` for one scale per output channel). The model itself is not
    replaced, only its children, as in PyTorch.
    """
    _check_model(model, "quantize_dynamic")
    default = {B.qint8: default_dynamic_qconfig, B.float16: float16_dynamic_qconfig}.get(dtype)
    if default is None:
        raise ValueError(
            f"quantize_dynamic: dtype must be studio.core.qint8 or float16, got {dtype!r} (quint8 embedding "
            "quantization is not available)"
        )
    if qconfig_spec is None:
        qconfig_spec = dict.fromkeys(_DYNAMIC_TYPES, default)
    elif isinstance(qconfig_spec, set | frozenset | list | tuple):
        qconfig_spec = dict.fromkeys(qconfig_spec, default)
    elif not isinstance(qconfig_spec, dict):
        raise TypeError(
            f"quantize_dynamic: qconfig_spec must be a set of types or names, or a dict of them to "
            f"QConfigs, got {type(qconfig_spec).__name__}"
        )
    if not inplace:
        model = _copy(model)
    model.eval()
    propagate_qconfig_(model, qconfig_spec)
    convert(
        model, mapping if mapping is not None else get_default_dynamic_quant_module_mappings(), inplace=True
    )
    return model
