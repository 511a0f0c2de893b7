"""The deployment route of a compressed network: ONNX for onnxruntime, float32 and int8, measured.

A variant's float weights (pruned or not) are exported to ONNX, then quantized by onnxruntime's own
tools as Studio quantized them: dynamic int8 for the matrix products (as `quantize_dynamic` does for
Linear layers), or static int8 of every quantizable operator with activation ranges calibrated on the
project's training split. Each file is run in onnxruntime on the test split: its metric, its size and
its latency per sample, to set beside Studio's own inference.
"""

from __future__ import annotations

import copy
import logging
import statistics
import time
from pathlib import Path

import numpy as np

ORT_REPEATS = 7
CALIBRATION_BATCH = 64


class DeployError(ValueError):
    """The network cannot take the ONNX route here; the message says why."""


def available() -> bool:
    """Whether onnxruntime (the `onnx` extra) is installed."""
    try:
        import onnxruntime  # noqa: F401
        import onnxruntime.quantization  # noqa: F401
    except ImportError:
        return False
    return True


def export_float(project, weights_file, path) -> Path:
    """Write the design with the weights in `weights_file` as ONNX at `path` (local functions inlined,
    so that the quantizer sees every operator); inputs are preprocessed as in training, and what that
    preprocessing is goes beside the file as JSON."""
    import onnx
    from onnx import inliner

    from .onnx_export import OnnxExportError, export_onnx

    shadow = copy.copy(project)  # a project whose only run holds the variant's weights
    shadow.runs = [{"id": Path(weights_file).stem, "weights": str(Path(weights_file).resolve())}]
    try:
        export_onnx(shadow, path, preprocessing="json")
    except OnnxExportError as e:
        raise DeployError(f"the network cannot be exported to ONNX: {e}") from None
    model = inliner.inline_local_functions(onnx.load(str(path)))
    onnx.save(model, str(path))
    return Path(path)


def quantize_onnx(float_path, int8_path, mode: str, calibration: np.ndarray) -> Path:
    """Quantize an ONNX file with onnxruntime: `dynamic` (MatMul and Gemm, int8 weights) or `static`
    (QDQ, int8 per channel, activations calibrated on `calibration` inputs)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(
                {"input": calibration[i : i + CALIBRATION_BATCH]}
                for i in range(0, len(calibration), CALIBRATION_BATCH)
            )

        def get_next(self):
            return next(self.batches, None)

    logging.disable(logging.WARNING)  # the quantizer's advice to pre-process: the inlining did what counts
    try:
        if mode == "dynamic":
            # Conv stays float32, as Studio's dynamic quantization keeps it (ConvInteger is slow on CPUs)
            quantize_dynamic(
                str(float_path),
                str(int8_path),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gemm"],
            )
        else:
            quantize_static(
                str(float_path), str(int8_path), Batches(), quant_format=QuantFormat.QDQ, per_channel=True
            )
    finally:
        logging.disable(logging.NOTSET)
    return Path(int8_path)


def measure_onnx(path, x: np.ndarray, y: np.ndarray, task: str) -> dict:
    """Test metric, latency per sample (median over repeats of the whole test batch) and file size of
    an ONNX file in onnxruntime."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"input": x}
    out = session.run(None, feed)[0]
    times = []
    for _ in range(ORT_REPEATS):
        t = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - t)
    return {
        "value": _metric(out, y, task),
        "latency": statistics.median(times) / max(len(x), 1),
        "size": Path(path).stat().st_size,
    }


def _metric(out, y, task) -> float:
    if task == "classification":
        return float((out.argmax(1) == y).mean())
    pred, true = out.reshape(len(out), -1), y.reshape(len(y), -1)
    ss_tot = float(((true - true.mean(0)) ** 2).sum())
    return 1.0 - float(((true - pred) ** 2).sum()) / ss_tot if ss_tot > 0 else 0.0
