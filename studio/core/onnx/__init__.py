"""`torch.onnx` for Studio's engine: `export` writes a module as an ONNX model.

The model is traced through one forward pass: layers become ONNX nodes as a whole (Linear as Gemm,
Conv2d as Conv, LSTM as LSTM, ...) and the ops between them are read from the autograd graph. It
needs the optional `onnx` package (`pip install 'studio[onnx]'`).
"""

from __future__ import annotations

import os

from ._export import DEFAULT_OPSET, build_model
from .errors import OnnxExporterError, UnsupportedOperatorError

__all__ = ["export", "OnnxExporterError", "UnsupportedOperatorError", "DEFAULT_OPSET", "is_in_onnx_export"]

_exporting = False


def is_in_onnx_export() -> bool:
    """Whether an export is tracing a model right now."""
    return _exporting


def export(
    model,
    args=(),
    f=None,
    *,
    kwargs=None,
    verbose=None,
    input_names=None,
    output_names=None,
    opset_version=None,
    dynamo=True,
    external_data=True,
    dynamic_axes=None,
    export_params=True,
    keep_initializers_as_inputs=False,
    do_constant_folding=True,
    export_modules_as_functions=False,
):
    """Export `model` run on `args` to the ONNX file (or binary file object) `f`.

    As in PyTorch: `args` is a tensor or a tuple of positional inputs, `input_names` and
    `output_names` name the graph's inputs and outputs, `dynamic_axes` maps a name to the dims that
    stay symbolic ({"input": {0: "batch"}} or {"input": [0]}), and `opset_version` chooses the ONNX
    opset (default 20, from 17 to 21). The model runs in evaluation mode, its training flags are
    restored afterwards. Studio has one exporter, so `dynamo` changes nothing; weights are always
    stored inside the file. `export_modules_as_functions` (True, or layer classes) writes
    MultiheadAttention and the Transformer encoder layers as ONNX local functions that carry their
    settings and parameters by name. Raises UnsupportedOperatorError naming every operation ONNX
    cannot express.
    """
    global _exporting
    if not export_params or keep_initializers_as_inputs:
        raise OnnxExporterError("export: only export_params=True without initializers as inputs is supported")
    _exporting = True
    try:
        from ._functions import function_types

        functions = function_types(export_modules_as_functions)
        proto = build_model(
            model, args, kwargs, input_names, output_names, dynamic_axes, opset_version, functions
        )
    finally:
        _exporting = False
    if f is None:
        return proto
    data = proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    else:
        f.write(data)
    return None
