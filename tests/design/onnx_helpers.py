"""Shared checks for the ONNX tests: run an exported model in onnxruntime beside Studio."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as core


def onnx_or_skip():
    pytest.importorskip("onnx")
    return pytest.importorskip("onnxruntime")


def randomise_batchnorm(model, seed=0):
    """Running statistics away from 0 and 1, so that an export that ignores them is caught."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if getattr(m, "running_mean", None) is not None:
            m.running_mean.copy_(core.tensor(rng.standard_normal(m.running_mean.shape).astype(np.float32)))
            m.running_var.copy_(core.tensor(rng.uniform(0.5, 2.0, m.running_var.shape).astype(np.float32)))


def run_onnx(proto_or_path, feeds: dict):
    import onnxruntime as ort

    src = proto_or_path if isinstance(proto_or_path, str) else proto_or_path.SerializeToString()
    session = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def max_difference(model, proto, x: np.ndarray) -> float:
    """Largest |Studio - onnxruntime| of a one-input model on `x`."""
    model.eval()
    got = run_onnx(proto, {proto.graph.input[0].name: x})[0]
    with core.no_grad():
        want = model(core.tensor(x)).numpy()
    assert got.shape == want.shape
    return float(np.abs(got - want).max())
