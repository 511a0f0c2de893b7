"""Fusing layers before quantization, as `torch.ao.quantization.fuse_modules`.

A convolution (or linear layer) followed by batch norm becomes one layer with the batch norm folded
into its weights; a following ReLU joins it as a fused module (ConvReLU2d, LinearReLU, ...), which
quantizes as one layer. The fused-away modules become Identity. Fusion is for evaluation mode.
"""

from __future__ import annotations

import copy

from ... import nn
from ...nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval
from ..nn import intrinsic as nni

__all__ = ["fuse_known_modules", "fuse_modules", "get_fuser_method"]


def _eval_only(*mods):
    if any(m.training for m in mods):
        raise AssertionError(
            "Fusion only for eval! Call model.eval() before fuse_modules (fusing for quantization-aware "
            "training is not available)"
        )


def _conv_bn(conv, bn):
    _eval_only(conv, bn)
    return fuse_conv_bn_eval(conv, bn)


def _conv_bn_relu(conv, bn, relu):
    fused = _conv_bn(conv, bn)
    return (nni.ConvReLU1d if isinstance(conv, nn.Conv1d) else nni.ConvReLU2d)(fused, relu)


def _linear_bn(linear, bn):
    _eval_only(linear, bn)
    return fuse_linear_bn_eval(linear, bn)


_FUSERS = {
    (nn.Conv1d, nn.BatchNorm1d): _conv_bn,
    (nn.Conv2d, nn.BatchNorm2d): _conv_bn,
    (nn.Conv1d, nn.BatchNorm1d, nn.ReLU): _conv_bn_relu,
    (nn.Conv2d, nn.BatchNorm2d, nn.ReLU): _conv_bn_relu,
    (nn.Conv1d, nn.ReLU): nni.ConvReLU1d,
    (nn.Conv2d, nn.ReLU): nni.ConvReLU2d,
    (nn.Linear, nn.ReLU): nni.LinearReLU,
    (nn.Linear, nn.BatchNorm1d): _linear_bn,
    (nn.BatchNorm2d, nn.ReLU): nni.BNReLU2d,
}


def get_fuser_method(op_list, additional_fuser_method_mapping=None):
    """The function that fuses modules of the given types, or None."""
    mapping = {**_FUSERS, **(additional_fuser_method_mapping or {})}
    return mapping.get(tuple(op_list))


def fuse_known_modules(mod_list, is_qat=False, additional_fuser_method_mapping=None):
    """The fused module first, then an Identity for each module it absorbed."""
    types = tuple(type(m) for m in mod_list)
    fuser = get_fuser_method(types, additional_fuser_method_mapping)
    if fuser is None:
        raise NotImplementedError(
            f"Cannot fuse modules: {[t.__name__ for t in types]}; known sequences: "
            + ", ".join("(" + ", ".join(t.__name__ for t in k) + ")" for k in _FUSERS)
        )
    fused = fuser(*mod_list)
    for hook in mod_list[0]._forward_pre_hooks.values():
        fused.register_forward_pre_hook(hook)
    mod_list[0]._forward_pre_hooks.clear()
    for hook in mod_list[-1]._forward_hooks.values():
        fused.register_forward_hook(hook)
    mod_list[-1]._forward_hooks.clear()
    identities = []
    for _ in mod_list[1:]:
        identity = nn.Identity()
        identity.training = mod_list[0].training
        identities.append(identity)
    return [fused, *identities]


def _get_module(model, dotted):
    try:
        return model.get_submodule(dotted)
    except AttributeError as e:
        raise AttributeError(
            f"fuse_modules: no module named '{dotted}' in {type(model).__name__}: {e}"
        ) from None


def _set_module(model, dotted, new):
    parent, _, name = dotted.rpartition(".")
    setattr(model.get_submodule(parent), name, new)


def _fuse_group(model, names, fuser_func, additional):
    mods = [_get_module(model, n) for n in names]
    for name, new in zip(names, fuser_func(mods, False, additional)):
        _set_module(model, name, new)


def fuse_modules(
    model, modules_to_fuse, inplace=False, fuser_func=fuse_known_modules, fuse_custom_config_dict=None
):
    """Fuse each listed group of modules (dotted names, e.g. `[['conv', 'bn', 'relu'], ['fc', 'relu2']]`)."""
    if not inplace:
        model = copy.deepcopy(model)
    additional = (fuse_custom_config_dict or {}).get("additional_fuser_method_mapping")
    groups = [modules_to_fuse] if all(isinstance(m, str) for m in modules_to_fuse) else modules_to_fuse
    for names in groups:
        _fuse_group(model, list(names), fuser_func, additional)
    return model
