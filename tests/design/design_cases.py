"""Shared builders for the design tests: one-layer designs and state transfer between frameworks."""

from __future__ import annotations

import numpy as np
import pytest

from studio.design import Design

# one case per layer type: (input shape, input dtype, params, number of inputs)
LAYER_CASES = {
    "Linear": ((5,), "float32", {"out_features": 3}, 1),
    "Bilinear": ((5,), "float32", {"out_features": 2}, 2),
    "Embedding": ((7,), "int64", {"num_embeddings": 10, "embedding_dim": 4, "padding_idx": 0}, 1),
    "Conv1d": ((3, 10), "float32", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}, 1),
    "Conv2d": (
        (3, 9, 9),
        "float32",
        {"out_channels": 4, "kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)},
        1,
    ),
    "ConvTranspose2d": (
        (4, 5, 5),
        "float32",
        {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1, "groups": 2},
        1,
    ),
    "MaxPool1d": ((3, 11), "float32", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, 1),
    "MaxPool2d": ((2, 7, 7), "float32", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, 1),
    "AvgPool2d": ((2, 7, 7), "float32", {"kernel_size": 2, "padding": 1, "ceil_mode": True}, 1),
    "AdaptiveAvgPool2d": ((2, 7, 9), "float32", {"output_size": (2, 3)}, 1),
    "BatchNorm1d": ((4, 6), "float32", {"momentum": 0.2}, 1),
    "BatchNorm2d": ((3, 4, 4), "float32", {}, 1),
    "LayerNorm": ((5, 6), "float32", {}, 1),
    "GroupNorm": ((6, 4, 4), "float32", {"num_groups": 3}, 1),
    "Dropout": ((5,), "float32", {"p": 0.3}, 1),
    "Dropout2d": ((3, 4, 4), "float32", {}, 1),
    "RNN": (
        (6, 3),
        "float32",
        {"hidden_size": 5, "num_layers": 2, "nonlinearity": "relu", "bidirectional": True, "output": "last"},
        1,
    ),
    "LSTM": ((6, 3), "float32", {"hidden_size": 5, "num_layers": 2, "bidirectional": True}, 1),
    "GRU": ((6, 3), "float32", {"hidden_size": 4, "output": "last", "bias": False}, 1),
    "MultiheadAttention": ((5, 8), "float32", {"num_heads": 2}, 1),
    "TransformerEncoderLayer": ((5, 8), "float32", {"nhead": 2, "dim_feedforward": 16}, 1),
    "TransformerEncoder": (
        (5, 8),
        "float32",
        {"nhead": 2, "dim_feedforward": 16, "num_layers": 2, "norm_first": True},
        1,
    ),
    "ReLU": ((3, 4), "float32", {}, 1),
    "LeakyReLU": ((3, 4), "float32", {"negative_slope": 0.2}, 1),
    "ELU": ((3, 4), "float32", {"alpha": 0.5}, 1),
    "GELU": ((3, 4), "float32", {"approximate": "tanh"}, 1),
    "SiLU": ((3, 4), "float32", {}, 1),
    "Sigmoid": ((3, 4), "float32", {}, 1),
    "Tanh": ((3, 4), "float32", {}, 1),
    "Softmax": ((3, 4), "float32", {"dim": 1}, 1),
    "LogSoftmax": ((3, 4), "float32", {}, 1),
    "Softplus": ((3, 4), "float32", {"beta": 2.0}, 1),
    "Add": ((3, 4), "float32", {}, 2),
    "Multiply": ((3, 4), "float32", {}, 2),
    "Concat": ((3, 4), "float32", {"dim": -1}, 2),
    "Reshape": ((12,), "float32", {"shape": (3, -1)}, 1),
    "Flatten": ((2, 3, 4), "float32", {"start_dim": 2}, 1),
    "Permute": ((2, 3, 4), "float32", {"dims": (0, 3, 1, 2)}, 1),
    "Output": ((5,), "float32", {"task": "regression", "loss": "mse"}, 1),
}


def one_layer(type_, shape, dtype="float32", params=None, n_inputs=1, output=True):
    """Input -> layer (-> Output): the smallest design holding one layer."""
    d = Design()
    inp = d.add_node("Input", {"shape": shape, "dtype": dtype}, "inputs")
    node = d.add_node(type_, params or {}, "layer")
    for port in range(n_inputs):
        d.connect(inp.id, node.id, 0, port)
    if output and type_ != "Output":
        out = d.add_node("Output", {"task": "regression", "loss": "mse"}, "output")
        d.connect(node.id, out.id)
    return d, node


def sample_input(shape, dtype, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "int64":
        return rng.integers(0, 10, size=(batch, *shape)).astype(np.int64)
    return rng.standard_normal((batch, *shape)).astype(np.float32)


def copy_state(src_module, dst_module, dst_backend):
    """Load one module's state into another (any two frameworks) through numpy arrays."""
    state = {k: np.array(v.detach().cpu().numpy()) for k, v in src_module.state_dict().items()}
    dst_module.load_state_dict({k: dst_backend.tensor(v) for k, v in state.items()})


def build_or_skip(design, backend=None):
    """Build with the engine, skipping when the engine does not have one of the layers yet."""
    from studio.design.build import BuildError, build

    try:
        return build(design, backend)
    except BuildError as e:
        if "engine has no" in str(e):
            pytest.skip(str(e))
        raise
