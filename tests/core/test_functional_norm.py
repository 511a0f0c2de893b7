"""Normalization: batch_norm (running statistics), layer_norm and group_norm against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
import studio.core.nn.functional as F
from studio.core.autograd import gradcheck


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


def _check_grads(torch, pairs, out, ref):
    direction = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    out.backward(sc.tensor(direction))
    ref.backward(torch.tensor(direction))
    for x, t in pairs:
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-10, rtol=1e-7)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 2)])
def test_batch_norm_matches_torch_including_running_stats(torch, training, shape):
    x, w, b = _rand(*shape), _rand(3, seed=1), _rand(3, seed=2)
    rm, rv = _rand(3, seed=3), np.abs(_rand(3, seed=4)) + 0.5
    xs, ws, bs = (sc.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    rms, rvs, rmt, rvt = sc.tensor(rm), sc.tensor(rv), torch.tensor(rm), torch.tensor(rv)
    out = F.batch_norm(xs, rms, rvs, ws, bs, training, 0.3, 1e-3)
    ref = torch.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, training, 0.3, 1e-3)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(rms.numpy(), rmt.numpy(), atol=1e-12)  # unbiased variance in running_var
    np.testing.assert_allclose(rvs.numpy(), rvt.numpy(), atol=1e-12)
    _check_grads(torch, [(xs, xt), (ws, wt), (bs, bt)], out, ref)


def test_batch_norm_gradcheck_and_no_running_stats():
    x = sc.tensor(_rand(3, 2, 2), requires_grad=True)
    w = sc.tensor(_rand(2, seed=1), requires_grad=True)
    b = sc.tensor(_rand(2, seed=2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))
    rm, rv = sc.zeros(2, dtype=sc.float64), sc.ones(2, dtype=sc.float64)
    assert gradcheck(lambda x, w: F.batch_norm(x, rm, rv, w, None, training=False), (x, w))


def test_batch_norm_float32_and_errors():
    out = F.batch_norm(sc.randn(8, 4), sc.zeros(4), sc.ones(4), training=True)
    assert out.dtype == sc.float32
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(sc.randn(1, 4), sc.zeros(4), sc.ones(4), training=True)
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements not 3"):
        F.batch_norm(sc.randn(2, 4), sc.zeros(3), sc.ones(3), training=True)
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        F.batch_norm(sc.randn(2, 4), None, None, training=False)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("normalized", [(4,), (3, 4)])
def test_layer_norm_matches_torch_and_gradcheck(torch, affine, normalized):
    x = _rand(2, 3, 4)
    args = [x] + ([_rand(*normalized, seed=1), _rand(*normalized, seed=2)] if affine else [])
    xs = [sc.tensor(a, requires_grad=True) for a in args]
    ts = [torch.tensor(a, requires_grad=True) for a in args]
    out = F.layer_norm(xs[0], normalized, *xs[1:], eps=1e-4)
    ref = torch.nn.functional.layer_norm(ts[0], normalized, *ts[1:], eps=1e-4)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    _check_grads(torch, list(zip(xs, ts)), out, ref)
    small = [sc.tensor(_rand(2, *normalized, seed=5), requires_grad=True)] + [
        sc.tensor(_rand(*normalized, seed=6 + i), requires_grad=True) for i in range(2 if affine else 0)
    ]
    assert gradcheck(lambda *a: F.layer_norm(a[0], normalized, *a[1:]), small)


def test_layer_norm_error():
    with pytest.raises(
        RuntimeError, match=r"Given normalized_shape=\[3\], expected input with shape \[\*, 3\]"
    ):
        F.layer_norm(sc.randn(2, 4), (3,))


@pytest.mark.parametrize("shape,groups", [((2, 6, 4, 3), 3), ((2, 6, 5), 2), ((3, 4), 4)])
def test_group_norm_matches_torch_and_gradcheck(torch, shape, groups):
    x, w, b = _rand(*shape), _rand(shape[1], seed=1), _rand(shape[1], seed=2)
    xs, ws, bs = (sc.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.group_norm(xs, groups, ws, bs)
    ref = torch.nn.functional.group_norm(xt, groups, wt, bt)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    _check_grads(torch, [(xs, xt), (ws, wt), (bs, bt)], out, ref)
    small = sc.tensor(_rand(1, 4, 3), requires_grad=True)
    assert gradcheck(lambda x: F.group_norm(x, 2), (small,))


def test_group_norm_error():
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(sc.randn(2, 4), 3)
