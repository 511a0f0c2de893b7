"""Losses: values and gradients for every reduction and option against PyTorch, gradcheck, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import studio.core as sc
import studio.core.nn.functional as F
from studio.core.autograd import gradcheck

REDUCTIONS = ["mean", "sum", "none"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _compare(torch, name, arrays, atol=1e-12, **kwargs):
    """F.<name> in both libraries; float arrays require grad, ndarray kwargs become tensors."""
    xs = [sc.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    kw_s = {k: sc.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    kw_t = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = getattr(F, name)(*xs, **kw_s)
        ref = getattr(torch.nn.functional, name)(*ts, **kw_t)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=atol, rtol=1e-9)
    direction = _rng(9).standard_normal(tuple(ref.shape))
    out.backward(sc.tensor(direction))
    ref.backward(torch.tensor(direction))
    for x, t in zip(xs, ts):
        if t.requires_grad:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol, rtol=1e-9)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name,kwargs",
    [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}), ("huber_loss", {"delta": 0.7})],
)
def test_regression_losses_match_torch(torch, name, kwargs, reduction):
    r = _rng()
    _compare(
        torch, name, [r.standard_normal((3, 4)), r.standard_normal((3, 4))], reduction=reduction, **kwargs
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_mse_and_l1_match_torch(torch, reduction):
    r = _rng(1)
    for name in ("mse_loss", "l1_loss"):
        arrays = [r.standard_normal((3, 4)), r.standard_normal((3, 4))]
        _compare(torch, name, arrays, reduction=reduction, weight=r.random((3, 4)))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_regression_losses_gradcheck(name):
    r = _rng(2)
    x = sc.tensor(r.standard_normal((2, 3)), requires_grad=True)
    y = sc.tensor(r.standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(lambda x, y: getattr(F, name)(x, y), (x, y))


def test_legacy_reduction_flags_and_bad_reduction():
    x, y = sc.randn(3, 2), sc.randn(3, 2)
    assert F.mse_loss(x, y, size_average=False).shape == ()
    assert F.mse_loss(x, y, reduce=False).shape == (3, 2)
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.mse_loss(x, y, reduction="avg")


def test_mse_loss_broadcast_warns():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(sc.randn(4, 5), sc.randn(4, 1))


CE_CASES = [
    dict(),
    dict(weight=True),
    dict(label_smoothing=0.2),
    dict(weight=True, label_smoothing=0.2),
    dict(weight=True, label_smoothing=0.1, ignore_index=1),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", CE_CASES)
def test_cross_entropy_class_indices_matches_torch(torch, opts, reduction):
    r = _rng(3)
    kwargs = dict(opts, reduction=reduction)
    if opts.get("weight"):
        kwargs["weight"] = r.random(4)
    ignored = opts.get("ignore_index", -100)
    _compare(torch, "cross_entropy", [r.standard_normal((5, 4)), np.array([0, 3, 1, ignored, 2])], **kwargs)
    _compare(torch, "cross_entropy", [r.standard_normal((2, 4, 3, 2)), r.integers(0, 4, (2, 3, 2))], **kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_probabilities_matches_torch(torch, reduction):
    r = _rng(4)
    p = r.random((5, 4))
    p /= p.sum(1, keepdims=True)
    _compare(torch, "cross_entropy", [r.standard_normal((5, 4)), p], reduction=reduction, label_smoothing=0.1)
    q = r.random((2, 4, 3))
    _compare(
        torch, "cross_entropy", [r.standard_normal((2, 4, 3)), q], reduction=reduction, weight=r.random(4)
    )


def test_cross_entropy_unbatched_and_gradcheck(torch):
    _compare(torch, "cross_entropy", [_rng(5).standard_normal(4), np.array(2)])
    x = sc.tensor(_rng(6).standard_normal((3, 4)), requires_grad=True)
    target = sc.tensor([1, 0, 3])
    w = sc.tensor([0.5, 1.0, 2.0, 1.5], dtype=sc.float64)
    assert gradcheck(lambda x: F.cross_entropy(x, target, weight=w, label_smoothing=0.3), (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [-100, 2, 7])
def test_cross_entropy_of_plain_logits_matches_torch(torch, reduction, ignore_index):
    # (N, C) logits and in-range targets take the short path unless ignore_index names a class
    r = _rng(11)
    x, t = r.standard_normal((6, 4)), np.array([0, 3, 1, 2, 2, 1])
    _compare(torch, "cross_entropy", [x, t], reduction=reduction, ignore_index=ignore_index)
    xs = sc.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: F.cross_entropy(a, sc.tensor(t), reduction=reduction), (xs,))


def test_cross_entropy_of_plain_logits_keeps_float32_and_checks_targets():
    x = sc.tensor(_rng(12).standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, sc.tensor([0, 1, 3]))
    loss.backward()
    assert loss.dtype == sc.float32 and x.grad.dtype == sc.float32
    assert type(loss.grad_fn).__name__ == "CrossEntropyLossBackward0"
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, sc.tensor([0, 1, 4]))
    with sc.no_grad():
        assert F.cross_entropy(x, sc.tensor([0, 1, 3])).grad_fn is None


def test_cross_entropy_is_one_node_with_softmax_minus_onehot_gradient():
    x = sc.tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    loss = F.cross_entropy(x, sc.tensor([1]))
    assert loss.grad_fn.next_functions[0][0] is x._accum or x.grad_fn is None
    loss.backward()
    p = np.exp(x.detach().numpy()) / np.exp(x.detach().numpy()).sum()
    np.testing.assert_allclose(x.grad.numpy(), p - np.array([[0.0, 1.0, 0.0]]), atol=1e-6)
    assert loss.dtype == sc.float32


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(torch, reduction):
    r = _rng(7)
    arrays = [r.standard_normal((5, 4)), np.array([0, 3, 1, -100, 2])]
    _compare(torch, "nll_loss", arrays, reduction=reduction, weight=r.random(4))
    _compare(torch, "nll_loss", [r.standard_normal((2, 4, 3)), r.integers(0, 4, (2, 3))], reduction=reduction)


def test_class_loss_errors():
    x = sc.randn(4, 5)
    with pytest.raises(IndexError, match="Target 5 is out of bounds."):
        F.cross_entropy(x, sc.tensor([0, 1, 5, 2]))
    with pytest.raises(IndexError, match="Target -3 is out of bounds."):
        F.nll_loss(x, sc.tensor([0, 1, -3, 2]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(4\) to match target batch_size \(3\)"):
        F.cross_entropy(x, sc.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="multi-target not supported"):
        F.cross_entropy(x, sc.zeros(4, 2, dtype=sc.int64))
    with pytest.raises(RuntimeError, match=r"Expected target size \[4, 3\], got \[4, 2\]"):
        F.cross_entropy(sc.randn(4, 5, 3), sc.zeros(4, 2, dtype=sc.int64))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long"):
        F.cross_entropy(x, sc.zeros(4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(torch, reduction):
    r = _rng(8)
    arrays = [r.random((3, 4)) * 0.98 + 0.01, r.random((3, 4))]
    _compare(torch, "binary_cross_entropy", arrays, reduction=reduction, weight=r.random((3, 4)), atol=1e-10)
    _compare(torch, "binary_cross_entropy", arrays, reduction=reduction, atol=1e-10)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits_matches_torch(torch, reduction):
    r = _rng(10)
    arrays = [r.standard_normal((3, 4)) * 10, r.random((3, 4))]
    _compare(torch, "binary_cross_entropy_with_logits", arrays, reduction=reduction)
    _compare(
        torch,
        "binary_cross_entropy_with_logits",
        arrays,
        reduction=reduction,
        weight=r.random(4),
        pos_weight=r.random(4) + 0.5,
    )


def test_binary_losses_gradcheck_and_errors():
    r = _rng(11)
    x = sc.tensor(r.random((2, 3)) * 0.8 + 0.1, requires_grad=True)
    y = sc.tensor(r.random((2, 3)), requires_grad=True)
    assert gradcheck(lambda x, y: F.binary_cross_entropy(x, y), (x, y))
    z = sc.tensor(r.standard_normal((2, 3)), requires_grad=True)
    pw = sc.tensor([1.5, 0.5, 2.0], dtype=sc.float64)
    assert gradcheck(lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=pw), (z, y))
    with pytest.raises(ValueError, match="that is different to the input size"):
        F.binary_cross_entropy(sc.rand(4), sc.rand(4, 1))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(sc.rand(4), sc.rand(4, 1))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(sc.tensor([1.5]), sc.tensor([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(torch, reduction, log_target):
    r = _rng(12)
    target = r.standard_normal((3, 4)) if log_target else r.random((3, 4))
    if not log_target:
        target[0, 0] = 0.0  # zero targets contribute nothing
    _compare(torch, "kl_div", [r.standard_normal((3, 4)), target], reduction=reduction, log_target=log_target)


def test_kl_div_gradcheck():
    r = _rng(13)
    x = sc.tensor(r.standard_normal((2, 3)), requires_grad=True)
    t = sc.tensor(r.random((2, 3)) + 0.1, requires_grad=True)
    assert gradcheck(lambda x, t: F.kl_div(x, t, reduction="batchmean"), (x, t))
