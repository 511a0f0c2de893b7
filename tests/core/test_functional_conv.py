"""Convolutions: conv1d, conv2d and conv_transpose2d against finite differences and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
import studio.core.nn.functional as F
from studio.core.autograd import gradcheck


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


def _compare(torch, name, arrays, atol=1e-5, **kwargs):
    """Run F.<name> in studio and torch on the same float64 arrays; compare output and gradients."""
    xs = [sc.tensor(a, requires_grad=True) if a is not None else None for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) if a is not None else None for a in arrays]
    out = getattr(F, name)(*xs, **kwargs)
    ref = getattr(torch.nn.functional, name)(*ts, **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=atol, rtol=1e-5)
    direction = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    out.backward(sc.tensor(direction))
    ref.backward(torch.tensor(direction))
    for x, t in zip(xs, ts):
        if x is not None:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol, rtol=1e-5)


CONV2D_CASES = [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
    dict(padding="same", dilation=2),
    dict(padding="valid"),
    dict(groups=2, padding=1),
    dict(groups=4, stride=2),
]


@pytest.mark.parametrize("kwargs", CONV2D_CASES)
def test_conv2d_matches_torch(torch, kwargs):
    groups = kwargs.get("groups", 1)
    x = _rand(2, 4, 7, 6)
    w = _rand(4, 4 // groups, 3, 2, seed=1)
    b = _rand(4, seed=2)
    _compare(torch, "conv2d", [x, w, b], **kwargs)


@pytest.mark.parametrize("kwargs", CONV2D_CASES[:4] + [dict(groups=2, padding=1)])
def test_conv2d_gradcheck(kwargs):
    groups = kwargs.get("groups", 1)
    x = sc.tensor(_rand(1, 2, 5, 4), requires_grad=True)
    w = sc.tensor(_rand(2, 2 // groups, 2, 3, seed=1), requires_grad=True)
    b = sc.tensor(_rand(2, seed=2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kwargs), (x, w, b))


@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(stride=2, dilation=(1, 2), groups=2)])
def test_conv2d_with_many_columns_matches_torch(torch, kwargs):
    # 16 channels * 3 * 3 columns per group take the one-big-GEMM layout rather than the per-sample one
    groups = kwargs.get("groups", 1)
    _compare(
        torch, "conv2d", [_rand(2, 16 * groups, 6, 7), _rand(4, 16, 3, 3, seed=1), _rand(4, seed=2)], **kwargs
    )


def test_conv2d_unbatched_and_without_bias(torch):
    _compare(torch, "conv2d", [_rand(3, 6, 5), _rand(2, 3, 3, 3, seed=1)], padding=1)


def test_conv2d_keeps_float32(torch):
    x = sc.randn(2, 3, 8, 8)
    w = sc.randn(5, 3, 3, 3, requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    assert out.dtype == sc.float32 and out.shape == (2, 5, 8, 8)
    out.sum().backward()
    assert w.grad.dtype == sc.float32
    ref = torch.nn.functional.conv2d(torch.tensor(x.numpy()), torch.tensor(w.detach().numpy()), padding=1)
    np.testing.assert_allclose(out.detach().numpy(), ref.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "kwargs", [dict(), dict(stride=2, padding=1, dilation=2, groups=2), dict(padding="same")]
)
def test_conv1d_matches_torch_and_gradcheck(torch, kwargs):
    groups = kwargs.get("groups", 1)
    _compare(torch, "conv1d", [_rand(2, 4, 9), _rand(6, 4 // groups, 3, seed=1), _rand(6, seed=2)], **kwargs)
    x = sc.tensor(_rand(1, 2, 6), requires_grad=True)
    w = sc.tensor(_rand(2, 2 // groups, 3, seed=3), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv1d(x, w, **kwargs), (x, w))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(stride=2, padding=1, output_padding=1),
        dict(stride=(2, 3), padding=(0, 2), dilation=2),
        dict(stride=2, groups=2, output_padding=(1, 0)),
    ],
)
def test_conv_transpose2d_matches_torch(torch, kwargs):
    groups = kwargs.get("groups", 1)
    x = _rand(2, 4, 5, 4)
    w = _rand(4, 6 // groups, 3, 2, seed=1)
    b = _rand(6, seed=2)
    _compare(torch, "conv_transpose2d", [x, w, b], **kwargs)


def test_conv_transpose2d_gradcheck():
    x = sc.tensor(_rand(1, 2, 3, 3), requires_grad=True)
    w = sc.tensor(_rand(2, 2, 2, 3, seed=1), requires_grad=True)
    b = sc.tensor(_rand(2, seed=2), requires_grad=True)
    assert gradcheck(
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1), (x, w, b)
    )


def test_conv_input_gradient_skipped_for_constant_input():
    x = sc.randn(2, 1, 6, 6)
    w = sc.randn(3, 1, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (3, 1, 3, 3)


def test_conv2d_wrong_rank_error():
    with pytest.raises(
        RuntimeError,
        match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got "
        r"input of size: \[8, 5\]",
    ):
        F.conv2d(sc.randn(8, 5), sc.randn(2, 1, 3, 3))


def test_conv_errors():
    with pytest.raises(RuntimeError, match="to have 3 channels, but got 4 channels instead"):
        F.conv2d(sc.randn(2, 4, 8, 8), sc.randn(5, 3, 3, 3))
    with pytest.raises(RuntimeError, match="divisible by 2"):
        F.conv2d(sc.randn(2, 4, 8, 8), sc.randn(5, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="same"):
        F.conv2d(sc.randn(2, 3, 8, 8), sc.randn(5, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(sc.randn(1, 3, 2, 2), sc.randn(5, 3, 3, 3))
    with pytest.raises(RuntimeError, match="Expected 2D \\(unbatched\\) or 3D \\(batched\\) input to conv1d"):
        F.conv1d(sc.randn(2, 3, 4, 5), sc.randn(2, 3, 3))
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        F.conv_transpose2d(sc.randn(1, 2, 3, 3), sc.randn(2, 2, 3, 3), stride=1, output_padding=1)


def test_small_cnn_learns_with_functional_ops():
    # two classes told apart by where a bright bar lies: conv, relu, pool, linear, cross-entropy, SGD
    rng = np.random.default_rng(0)
    n = 32
    labels = rng.integers(0, 2, n)
    images = rng.standard_normal((n, 1, 8, 8)).astype(np.float32) * 0.3
    images[labels == 0, 0, 2, :] += 2.0
    images[labels == 1, 0, :, 5] += 2.0
    x, y = sc.tensor(images), sc.tensor(labels)
    params = [
        sc.tensor(rng.standard_normal((4, 1, 3, 3)).astype(np.float32) * 0.3, requires_grad=True),
        sc.zeros(4, requires_grad=True),
        sc.tensor(rng.standard_normal((2, 4 * 4 * 4)).astype(np.float32) * 0.1, requires_grad=True),
        sc.zeros(2, requires_grad=True),
    ]
    losses = []
    for _ in range(30):
        h = F.max_pool2d(F.relu(F.conv2d(x, params[0], params[1], padding=1)), 2)
        loss = F.cross_entropy(F.linear(h.reshape(n, -1), params[2], params[3]), y)
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            p.data = p.data - 0.5 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
