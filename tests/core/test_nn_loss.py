"""Loss modules against PyTorch: values and input gradients for every reduction and option."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import nn

RNG = np.random.default_rng(7)


def _randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _probs(*shape):
    return RNG.uniform(0.05, 0.95, shape).astype(np.float32)


def _distribution():
    p = _probs(4, 5)
    return np.float32(p / p.sum(1, keepdims=True))


def _labels(n, c, *extra):
    return RNG.integers(0, c, (n, *extra)).astype(np.int64)


def _run(lib, make, input_np, target_np, pre=None):
    x = lib.tensor(input_np, requires_grad=True)
    t = lib.tensor(target_np)
    inp = pre(lib, x) if pre else x
    loss = make(lib)(inp, t)
    up = np.ones(tuple(loss.shape), np.float32) if loss.dim() == 0 else _ones_like_seeded(tuple(loss.shape))
    (loss * lib.tensor(up)).sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


def _ones_like_seeded(shape):
    return np.linspace(0.5, 1.5, int(np.prod(shape)), dtype=np.float32).reshape(shape)


def _log_softmax(lib, x):
    return lib.nn.functional.log_softmax(x, dim=1)


def _sigmoid(lib, x):
    return lib.sigmoid(x)


def _log_probs_last(lib, x):
    return lib.nn.functional.log_softmax(x, dim=-1)


W3 = np.array([0.2, 1.0, 3.0], np.float32)

CASES = {
    "mse_mean": (lambda L: L.nn.MSELoss(), (6, 3), lambda: _randn(6, 3), None),
    "mse_sum": (lambda L: L.nn.MSELoss(reduction="sum"), (6, 3), lambda: _randn(6, 3), None),
    "mse_none": (lambda L: L.nn.MSELoss(reduction="none"), (6, 3), lambda: _randn(6, 3), None),
    "l1_mean": (lambda L: L.nn.L1Loss(), (6, 3), lambda: _randn(6, 3), None),
    "l1_none": (lambda L: L.nn.L1Loss(reduction="none"), (4, 2), lambda: _randn(4, 2), None),
    "smooth_l1": (lambda L: L.nn.SmoothL1Loss(beta=0.5), (8, 3), lambda: _randn(8, 3), None),
    "smooth_l1_sum": (lambda L: L.nn.SmoothL1Loss(reduction="sum"), (8, 3), lambda: _randn(8, 3), None),
    "huber": (lambda L: L.nn.HuberLoss(delta=0.7), (8, 3), lambda: _randn(8, 3), None),
    "huber_none": (
        lambda L: L.nn.HuberLoss(reduction="none", delta=2.0),
        (8, 3),
        lambda: _randn(8, 3) * 3,
        None,
    ),
    "ce": (lambda L: L.nn.CrossEntropyLoss(), (8, 3), lambda: _labels(8, 3), None),
    "ce_weight_ignore": (
        lambda L: L.nn.CrossEntropyLoss(weight=L.tensor(W3), ignore_index=1),
        (8, 3),
        lambda: _labels(8, 3),
        None,
    ),
    "ce_smoothing": (
        lambda L: L.nn.CrossEntropyLoss(label_smoothing=0.1),
        (8, 3),
        lambda: _labels(8, 3),
        None,
    ),
    "ce_sum_weight_smoothing": (
        lambda L: L.nn.CrossEntropyLoss(weight=L.tensor(W3), reduction="sum", label_smoothing=0.2),
        (8, 3),
        lambda: _labels(8, 3),
        None,
    ),
    "ce_spatial_none": (
        lambda L: L.nn.CrossEntropyLoss(reduction="none"),
        (2, 3, 4, 5),
        lambda: _labels(2, 3, 4, 5),
        None,
    ),
    "ce_probabilities": (
        lambda L: L.nn.CrossEntropyLoss(),
        (5, 4),
        lambda: np.float32(_probs(5, 4) / 2),
        None,
    ),
    "nll": (lambda L: L.nn.NLLLoss(), (8, 3), lambda: _labels(8, 3), _log_softmax),
    "nll_weight": (
        lambda L: L.nn.NLLLoss(weight=L.tensor(W3), ignore_index=0),
        (8, 3),
        lambda: _labels(8, 3),
        _log_softmax,
    ),
    "bce": (lambda L: L.nn.BCELoss(), (6, 2), lambda: _probs(6, 2), _sigmoid),
    "bce_weight_sum": (
        lambda L: L.nn.BCELoss(weight=L.tensor(np.array([0.5, 2.0], np.float32)), reduction="sum"),
        (6, 2),
        lambda: np.float32(RNG.integers(0, 2, (6, 2))),
        _sigmoid,
    ),
    "bce_logits": (lambda L: L.nn.BCEWithLogitsLoss(), (6, 2), lambda: _probs(6, 2), None),
    "bce_logits_pos_weight": (
        lambda L: L.nn.BCEWithLogitsLoss(
            pos_weight=L.tensor(np.array([3.0, 0.5], np.float32)),
            weight=L.tensor(np.array([1.0, 2.0], np.float32)),
        ),
        (6, 2),
        lambda: np.float32(RNG.integers(0, 2, (6, 2))),
        None,
    ),
    "kl_batchmean": (lambda L: L.nn.KLDivLoss(reduction="batchmean"), (4, 5), _distribution, _log_probs_last),
    "kl_log_target_sum": (
        lambda L: L.nn.KLDivLoss(reduction="sum", log_target=True),
        (4, 5),
        lambda: np.float32(np.log(_probs(4, 5))),
        _log_probs_last,
    ),
    "kl_none": (lambda L: L.nn.KLDivLoss(reduction="none"), (3, 4), lambda: _probs(3, 4), _log_probs_last),
}


@pytest.mark.parametrize("name", list(CASES))
def test_loss_matches_torch(torch, name):
    make, shape, target, pre = CASES[name]
    x, t = _randn(*shape), target()
    ours_val, ours_grad = _run(sc, make, x, t, pre)
    theirs_val, theirs_grad = _run(torch, make, x, t, pre)
    assert ours_val.shape == theirs_val.shape
    assert ours_val.dtype == np.float32
    np.testing.assert_allclose(ours_val, theirs_val, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours_grad, theirs_grad, rtol=1e-4, atol=1e-6)


def test_weighted_losses_register_weight_buffers(torch):
    for make in (
        lambda L: L.nn.CrossEntropyLoss(weight=L.tensor(W3)),
        lambda L: L.nn.NLLLoss(),
        lambda L: L.nn.BCEWithLogitsLoss(pos_weight=L.tensor(W3)),
        lambda L: L.nn.MSELoss(),
    ):
        assert list(make(sc).state_dict()) == list(make(torch).state_dict())
    loss = nn.CrossEntropyLoss(weight=sc.tensor(W3)).to(sc.float64)
    assert loss.weight.dtype is sc.float64


def test_reduction_arguments():
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="batchmean is not a valid value"):
        nn.L1Loss(reduction="batchmean")
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.CrossEntropyLoss(reduce=False).reduction == "none"
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


def test_cross_entropy_bad_targets():
    loss = nn.CrossEntropyLoss()
    with pytest.raises((RuntimeError, IndexError), match="out of bounds"):
        loss(sc.zeros(2, 3), sc.tensor([0, 5]))
    with pytest.raises((RuntimeError, ValueError)):
        loss(sc.zeros(2, 3), sc.tensor([0, 1, 2]))


def test_loss_reprs_match_torch(torch):
    for name in [
        "MSELoss",
        "L1Loss",
        "SmoothL1Loss",
        "HuberLoss",
        "CrossEntropyLoss",
        "NLLLoss",
        "BCELoss",
        "BCEWithLogitsLoss",
        "KLDivLoss",
    ]:
        assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())
