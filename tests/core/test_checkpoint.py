"""Activation checkpointing (utils.checkpoint) against PyTorch: the same gradients, half the peak
memory of a 16-block MLP training step, dropout masks repeated in the recomputation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import studio.core as sc
from studio.core import memory
from studio.core.utils.checkpoint import checkpoint, checkpoint_sequential

nn = sc.nn


def _mlp(lib, blocks=16, width=128, dropout=0.0):
    def block():
        layers = [lib.nn.Linear(width, width), lib.nn.LayerNorm(width), lib.nn.ReLU()]
        return lib.nn.Sequential(*layers, *([lib.nn.Dropout(dropout)] if dropout else []))

    return lib.nn.Sequential(*[block() for _ in range(blocks)])


def _step(model, x, segments=None, use_reentrant=False):
    model.zero_grad()
    if segments:
        out = checkpoint_sequential(model, segments, x, use_reentrant=use_reentrant)
    else:
        out = model(x)
    out.pow(2).mean().backward()
    return [p.grad.numpy().copy() for p in model.parameters()]


def _peak(fn):
    fn()  # warm: the first step allocates what every step reuses
    with memory.counting() as stats:
        fn()
    return stats["peak"]


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_a_16_block_mlp_step_takes_at_most_half_the_peak_memory_and_the_same_gradients(use_reentrant):
    model = _mlp(sc)
    x = sc.randn(1024, 128, requires_grad=True)
    plain = _step(model, x)
    ckpt = _step(model, x, 4, use_reentrant)
    for a, b in zip(plain, ckpt):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
    plain_peak = _peak(lambda: _step(model, x))
    ckpt_peak = _peak(lambda: _step(model, x, 4, use_reentrant))
    assert ckpt_peak <= 0.5 * plain_peak, (ckpt_peak, plain_peak)


def test_gradients_equal_pytorchs_checkpoint(torch):
    torch.manual_seed(0)
    t = _mlp(torch, blocks=6, width=16)
    s = _mlp(sc, blocks=6, width=16)
    s.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    tx, sx = torch.tensor(x, requires_grad=True), sc.tensor(x, requires_grad=True)
    torch.utils.checkpoint.checkpoint_sequential(t, 3, tx, use_reentrant=False).pow(2).mean().backward()
    checkpoint_sequential(s, 3, sx, use_reentrant=False).pow(2).mean().backward()
    np.testing.assert_allclose(sx.grad.numpy(), tx.grad.numpy(), atol=1e-6)
    for (name, p), q in zip(s.named_parameters(), t.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-6, err_msg=name)


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_dropout_masks_repeat_in_the_recomputation(use_reentrant):
    model = _mlp(sc, blocks=4, width=32, dropout=0.5)
    x = sc.randn(16, 32, requires_grad=True)
    sc.manual_seed(7)
    plain = _step(model, x)
    after_plain = sc.rand(3).numpy()
    sc.manual_seed(7)
    ckpt = _step(model, x, 2, use_reentrant)
    after_ckpt = sc.rand(3).numpy()
    for a, b in zip(plain, ckpt):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(after_plain, after_ckpt)  # the recomputation leaves the stream alone
    sc.manual_seed(7)
    model.zero_grad()
    fresh = checkpoint(model, x, use_reentrant=use_reentrant, preserve_rng_state=False)
    fresh.pow(2).mean().backward()
    assert not np.allclose(model[0][0].weight.grad.numpy(), plain[0])  # new masks in the recomputation


def test_non_reentrant_reaches_parameters_without_input_gradients_and_works_with_grad():
    layer = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
    x = sc.randn(3, 4)
    out = checkpoint(layer, x, use_reentrant=False)
    (gw,) = sc.autograd.grad(out.sum(), [layer[0].weight])
    expected = sc.autograd.grad(layer(x).sum(), [layer[0].weight])[0]
    np.testing.assert_allclose(gw.numpy(), expected.numpy(), atol=1e-6)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        out = checkpoint(layer, x, use_reentrant=True)
    assert not out.requires_grad


def test_reentrant_refuses_autograd_grad_and_keyword_arguments():
    layer = nn.Linear(2, 2)
    x = sc.randn(1, 2, requires_grad=True)
    out = checkpoint(layer, x, use_reentrant=True)
    with pytest.raises(RuntimeError, match="incompatible with .grad\\(\\)"):
        sc.autograd.grad(out.sum(), [x])
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda t, scale: t * scale, x, use_reentrant=True, scale=2.0)
    doubled = checkpoint(lambda t, scale: t * scale, x, use_reentrant=False, scale=2.0)
    doubled.sum().backward()
    assert x.grad.numpy().tolist() == [[2.0, 2.0]]
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(layer, x)


def test_nested_checkpoints_and_a_second_backward():
    inner = nn.Linear(3, 3)
    outer = nn.Linear(3, 3)

    def segment(t):
        return outer(checkpoint(inner, t, use_reentrant=False).relu())

    x = sc.randn(2, 3, requires_grad=True)
    out = checkpoint(segment, x, use_reentrant=False).sum()
    out.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    out.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.backward()


def test_a_function_that_changes_between_runs_is_caught():
    calls = []

    def unstable(t):
        calls.append(1)
        return t.exp() if len(calls) == 1 else t.exp().sin()

    x = sc.randn(3, requires_grad=True)
    out = checkpoint(unstable, x, use_reentrant=False)
    with pytest.raises(RuntimeError, match="must run the same operations each time"):
        out.sum().backward()


def test_checkpoint_recomputes_under_the_forward_autocast_settings():
    model = _mlp(sc, blocks=4, width=16)
    x = sc.randn(8, 16, requires_grad=True)
    grads = []
    for segments in (None, 2):
        model.zero_grad()
        with sc.autocast("cpu", dtype=sc.float16):
            out = checkpoint_sequential(model, segments, x, use_reentrant=False) if segments else model(x)
        out.float().pow(2).mean().backward()  # backward runs outside the region
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_checkpoint_sequential_checks_its_arguments():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="segments must be an integer from 1 to the number of functions"):
            checkpoint_sequential(nn.Sequential(nn.ReLU()), 3, sc.randn(2))
