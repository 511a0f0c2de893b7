"""Layers exported as ONNX local functions (PyTorch's `export_modules_as_functions`).

The layer is traced on its own into a function body; the call site passes it the layer's
parameters under their state_dict names and carries the layer's settings as attributes, so that a
reader (Studio's import, Netron) sees one node per layer while runtimes inline the body.
"""

from __future__ import annotations

import re

import numpy as np

from ..creation import tensor
from ..tensor import Tensor

DOMAIN = "studio.nn"


def _mha(m):
    return {"num_heads": m.num_heads, "dropout": float(m.dropout), "bias": m.in_proj_bias is not None}


def _encoder_layer(m):
    return {
        "nhead": m.self_attn.num_heads,
        "dim_feedforward": m.linear1.out_features,
        "dropout": float(m.dropout.p),
        "activation": {1: "relu", 2: "gelu"}.get(m.activation_relu_or_gelu, "relu"),
        "layer_norm_eps": float(m.norm1.eps),
        "norm_first": bool(m.norm_first),
        "bias": m.linear1.bias is not None,
    }


def _encoder(m):
    if m.norm is not None:
        return None  # a final norm has no place among the layer's settings: export it inline
    return {"num_layers": m.num_layers, **_encoder_layer(m.layers[0])}


# class name -> the layer's settings as attributes (None: this instance is exported inline)
SETTINGS = {
    "MultiheadAttention": _mha,
    "TransformerEncoderLayer": _encoder_layer,
    "TransformerEncoder": _encoder,
}


def function_types(export_modules_as_functions) -> set:
    """The class names to export as functions, from PyTorch's argument (a bool or classes)."""
    if export_modules_as_functions is True:
        return set(SETTINGS)
    if not export_modules_as_functions:
        return set()
    return {c if isinstance(c, str) else c.__name__ for c in export_modules_as_functions}


def settings_of(module, types: set):
    for cls in type(module).__mro__:
        if cls.__name__ in types and cls.__name__ in SETTINGS:
            return SETTINGS[cls.__name__](module)
    return None


class _Call:
    """A module call with its tensor arguments made parameters of `forward`, for tracing it alone."""

    @staticmethod
    def make(module, args, kwargs):
        from .. import nn

        unique, slots = [], []
        for a in args:
            if isinstance(a, Tensor):
                ids = [id(u) for u in unique]
                if id(a) not in ids:
                    unique.append(a)
                slots.append(("t", [id(u) for u in unique].index(id(a))))
            else:
                slots.append(("v", a))

        class Call(nn.Module):
            def __init__(self):
                super().__init__()
                self.m = module

            def forward(self, *tensors):
                real = [tensors[v] if kind == "t" else v for kind, v in slots]
                return self.m(*real, **kwargs)

        return Call(), unique


def module_as_function(ex, node, settings: dict):
    """The call of `node.module` as one node of a local function traced from the module alone."""
    helper = ex.g.onnx.helper
    numpy_helper = ex.g.onnx.numpy_helper
    call, tensors = _Call.make(node.module, node.args, node.kwargs)
    values = [ex.value(t) for t in tensors]
    names = [f"x{i}" for i in range(len(tensors))]
    examples = tuple(tensor(np.zeros(v.shape, v.dtype)) for v in values)
    axes = {n: dict(v.dyn) for n, v in zip(names, values)}
    sub = ex.build_sub(call, examples, {}, names, None, axes, ex.opset, functions=())
    body = sub.graph
    cls = type(node.module).__name__
    fname = _function_name(ex, cls)
    inits, outer, consts = [], [], []
    for init in body.initializer:
        if not init.name.startswith("m."):  # a shape or a number of the body: a constant inside it
            consts.append(helper.make_node("Constant", [], [init.name], value=init))
            continue
        local = init.name[2:]
        outer.append(
            ex.g.initializer(f"{node.path}.{local}" if node.path else local, numpy_helper.to_array(init))
        )
        inits.append(init.name)
    fn = helper.make_function(
        DOMAIN,
        fname,
        [i.name for i in body.input] + inits,
        [o.name for o in body.output],
        consts + list(body.node),
        [helper.make_opsetid("", ex.opset)],
        attributes=sorted(settings),
    )
    ex.functions.append(fn)
    meta = [(tuple(t.shape), t._data.dtype, _dyn_of(o)) for t, o in zip(node.outputs, body.output)]
    ex.g.scope = node.path
    try:
        outs = ex.g.op(
            fname,
            values + outer,
            None,
            None,
            n_out=len(meta),
            out_meta=meta,
            hint=cls.lower(),
            domain=DOMAIN,
            **settings,
        )
    finally:
        ex.g.scope = ""
    return outs if isinstance(outs, list) else [outs]


def _function_name(ex, cls: str) -> str:
    taken = {f.name for f in ex.functions}
    if cls not in taken:
        return cls
    k = 1
    while f"{cls}_{k}" in taken:
        k += 1
    return f"{cls}_{k}"


def _dyn_of(value_info) -> dict:
    dims = value_info.type.tensor_type.shape.dim
    return {i: d.dim_param for i, d in enumerate(dims) if d.dim_param}


def layer_of(op_type: str) -> str:
    """The layer class a function node calls: its op type without the instance number."""
    return re.sub(r"_\d+$", "", op_type)
