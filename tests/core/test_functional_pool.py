"""Pooling: max_pool1d/2d, avg_pool2d and adaptive_avg_pool2d against finite differences and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
import studio.core.nn.functional as F
from studio.core.autograd import gradcheck


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


def _compare(torch, name, x, atol=1e-6, **kwargs):
    xs = sc.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out = getattr(F, name)(xs, **kwargs)
    ref = getattr(torch.nn.functional, name)(xt, **kwargs)
    if kwargs.get("return_indices"):
        np.testing.assert_array_equal(out[1].numpy(), ref[1].numpy())
        assert out[1].dtype == sc.int64
        out, ref = out[0], ref[0]
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=atol)
    direction = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    out.backward(sc.tensor(direction))
    ref.backward(torch.tensor(direction))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), atol=atol)


MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=2, return_indices=True),
    dict(kernel_size=3, stride=2, padding=1, return_indices=True),
    dict(
        kernel_size=(3, 2),
        stride=(2, 1),
        padding=(1, 0),
        dilation=(2, 1),
        ceil_mode=True,
        return_indices=True,
    ),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=1),
]


@pytest.mark.parametrize("kwargs", MAX_CASES)
def test_max_pool2d_matches_torch(torch, kwargs):
    _compare(torch, "max_pool2d", _rand(2, 3, 9, 7), **kwargs)


def test_max_pool2d_unbatched_and_cropped(torch):
    _compare(torch, "max_pool2d", _rand(3, 9, 7), kernel_size=2, return_indices=True)


@pytest.mark.parametrize("kwargs", MAX_CASES[2:])
def test_max_pool2d_gradcheck(kwargs):
    kwargs = {k: v for k, v in kwargs.items() if k != "return_indices"}
    x = sc.tensor(_rand(1, 2, 6, 5), requires_grad=True)
    assert gradcheck(lambda x: F.max_pool2d(x, **kwargs), (x,))


def test_max_pool2d_ties_send_gradient_to_first_maximum(torch):
    x = sc.zeros(1, 1, 4, 4, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    xt = torch.zeros(1, 1, 4, 4, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize(
    "kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, return_indices=True)]
)
def test_max_pool1d_matches_torch(torch, kwargs):
    _compare(torch, "max_pool1d", _rand(2, 3, 10), **kwargs)
    _compare(torch, "max_pool1d", _rand(3, 11), **kwargs)


def test_max_pool_keeps_float32():
    out = F.max_pool2d(sc.randn(2, 3, 8, 8, requires_grad=True), 2)
    assert out.dtype == sc.float32 and out.shape == (2, 3, 4, 4)


AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=1, padding=(1, 0), divisor_override=5),
]


@pytest.mark.parametrize("kwargs", AVG_CASES)
def test_avg_pool2d_matches_torch_and_gradcheck(torch, kwargs):
    _compare(torch, "avg_pool2d", _rand(2, 3, 9, 7), **kwargs)
    x = sc.tensor(_rand(1, 1, 5, 6), requires_grad=True)
    assert gradcheck(lambda x: F.avg_pool2d(x, **kwargs), (x,))


@pytest.mark.parametrize("size", [(3, 4), (5, None), 1, (2, 2)])
def test_adaptive_avg_pool2d_matches_torch_and_gradcheck(torch, size):
    _compare(torch, "adaptive_avg_pool2d", _rand(2, 3, 10, 8), output_size=size)
    x = sc.tensor(_rand(1, 1, 5, 4), requires_grad=True)
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, size), (x,))


def test_pool_errors():
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(sc.randn(1, 1, 6, 6), 2, padding=2)
    with pytest.raises(RuntimeError, match=r"Expected 3D or 4D \(batch mode\) tensor"):
        F.max_pool2d(sc.randn(8, 5), 2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.avg_pool2d(sc.randn(1, 1, 2, 2), 3)
