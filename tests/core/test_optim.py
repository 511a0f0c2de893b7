"""Optimizers against PyTorch step for step, state dicts, parameter groups and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import optim

SHAPES = [(3, 4), (4,), (2, 3)]


def _params(rng):
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def _grads(rng, steps):
    return [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]


def _run_both(torch, name, kwargs, steps=5):
    rng = np.random.default_rng(0)
    init = _params(rng)
    grads = _grads(rng, steps)
    ours = [sc.tensor(a, requires_grad=True) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    opt = getattr(optim, name)(ours, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for gs in grads:
        for p, q, g in zip(ours, theirs, gs):
            p.grad = sc.tensor(g)
            q.grad = torch.tensor(g)
        opt.step()
        topt.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=2e-5, atol=2e-6)
    return opt, topt, ours, theirs


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "maximize": True, "betas": (0.8, 0.99)}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.1, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.05}),
]


@pytest.mark.parametrize("name,kwargs", CASES)
def test_matches_pytorch(torch, name, kwargs):
    _run_both(torch, name, kwargs)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_state_dict_matches_pytorch_structure(torch, name, kwargs):
    opt, topt, _, _ = _run_both(torch, name, kwargs, steps=2)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert sd["state"].keys() == tsd["state"].keys()
    for k in sd["state"]:
        assert sd["state"][k].keys() == tsd["state"][k].keys()
        for key, v in sd["state"][k].items():
            np.testing.assert_allclose(v.numpy(), tsd["state"][k][key].numpy(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name,kwargs", CASES[1::2])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    rng = np.random.default_rng(1)
    init = _params(rng)
    grads = _grads(rng, 4)
    a = [sc.tensor(x, requires_grad=True) for x in init]
    opt_a = getattr(optim, name)(a, **kwargs)
    for gs in grads[:2]:
        for p, g in zip(a, gs):
            p.grad = sc.tensor(g)
        opt_a.step()
    b = [sc.tensor(p.detach().numpy().copy(), requires_grad=True) for p in a]
    opt_b = getattr(optim, name)(b, lr=123.0)
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.param_groups[0]["lr"] == opt_a.param_groups[0]["lr"]
    for gs in grads[2:]:
        for p, q, g in zip(a, b, gs):
            p.grad = sc.tensor(g)
            q.grad = sc.tensor(g)
        opt_a.step()
        opt_b.step()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_load_state_dict_copies_and_checks_sizes():
    p = sc.zeros(3, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = sc.ones(3)
    opt.step()
    other = optim.SGD([sc.zeros(3, requires_grad=True), sc.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        other.load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="different number of parameter groups"):
        other.load_state_dict({"state": {}, "param_groups": []})


def test_param_groups_have_own_options_and_add_param_group(torch):
    w, b = sc.ones(2, requires_grad=True), sc.ones(2, requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": b, "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    w.grad, b.grad = sc.ones(2), sc.ones(2)
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), 0.9)
    np.testing.assert_allclose(b.detach().numpy(), 0.5)
    c = sc.ones(1, requires_grad=True)
    opt.add_param_group({"params": [c], "momentum": 0.5})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.5
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [c]})
    assert opt.state_dict()["param_groups"][2]["params"] == [2]


def test_named_params_keep_names(torch):
    w = sc.ones(2, requires_grad=True)
    opt = optim.Adam([("weight", w)])
    tw = torch.ones(2, requires_grad=True)
    topt = torch.optim.Adam([("weight", tw)])
    assert opt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]


def test_zero_grad():
    p = sc.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = sc.ones(2)
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradient: nothing changes
    assert p.tolist() == [1.0, 1.0]


def test_step_bumps_version_and_keeps_dtype():
    p = sc.ones(2, requires_grad=True)
    v = p._version
    opt = optim.Adam([p], lr=0.1)
    p.grad = sc.ones(2)
    opt.step()
    assert p._version > v
    assert p.dtype == sc.float32 and opt.state[p]["exp_avg"].dtype == sc.float32
    assert opt.state[p]["step"].item() == 1.0


def test_training_loop_with_backward_reduces_loss():
    x = sc.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    y = sc.tensor([[1.0], [2.0], [3.0]])
    w = sc.zeros(2, 1, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.1


def test_closure_returns_loss():
    w = sc.ones(1, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with sc.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 1.0
    np.testing.assert_allclose(w.detach().numpy(), [0.8])


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
        (lambda p: optim.SGD(p, momentum=-0.5), "Invalid momentum value: -0.5"),
        (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
        (lambda p: optim.Adam(p, eps=-1e-8), "Invalid epsilon value"),
        (lambda p: optim.AdamW(p, weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda p: optim.RMSprop(p, alpha=-1), "Invalid alpha value"),
        (lambda p: optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value"),
        (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make([sc.ones(1, requires_grad=True)])


def test_bad_params():
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(sc.ones(1, requires_grad=True), lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([1.0], lr=0.1)
    x = sc.ones(1, requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2], lr=0.1)


def test_step_hooks_and_repr():
    p = sc.ones(1, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    calls = []
    h = opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.step()
    h.remove()
    opt.step()
    assert calls == ["pre", "post", "pre"]
    assert "Parameter Group 0" in repr(opt) and "lr: 0.1" in repr(opt)


def test_subclass_step_calling_super_runs_hooks_once():
    class Clipped(optim.SGD):
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    p.grad = p.grad.clamp(-1.0, 1.0)
            return super().step(closure)

    p = sc.zeros(2, requires_grad=True)
    opt = Clipped([p], lr=0.5)
    calls = []
    opt.register_step_pre_hook(lambda o, a, k: calls.append(1))
    p.grad = sc.tensor([5.0, -0.5])
    opt.step()
    assert calls == [1] and p.tolist() == [-0.5, 0.25]


def test_state_dict_survives_json_keys():
    p = sc.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = sc.ones(2)
    opt.step()
    sd = opt.state_dict()
    sd = {"state": {str(k): v for k, v in sd["state"].items()}, "param_groups": sd["param_groups"]}
    q = sc.ones(2, requires_grad=True)
    opt2 = optim.SGD([q], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    assert opt2.state[q]["momentum_buffer"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_with_a_missing_gradient_and_a_reloaded_state_matches_pytorch(torch, name):
    # the whole-group update gives way to the per-parameter one when a gradient is missing, and
    # picks up a loaded state again
    rng = np.random.default_rng(3)
    init = _params(rng)
    ours = [sc.tensor(a, requires_grad=True) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    opt = getattr(optim, name)(ours, lr=0.05, weight_decay=0.1)
    topt = getattr(torch.optim, name)(theirs, lr=0.05, weight_decay=0.1)
    for step in range(6):
        if step == 3:
            fresh = getattr(optim, name)(ours, lr=0.05, weight_decay=0.1)
            fresh.load_state_dict(opt.state_dict())
            opt = fresh
        for i, (p, q) in enumerate(zip(ours, theirs)):
            g = rng.standard_normal(p.shape).astype(np.float32)
            skip = step == 1 and i == 1
            p.grad = None if skip else sc.tensor(g)
            q.grad = None if skip else torch.tensor(g)
        opt.step()
        topt.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=2e-5, atol=2e-6)
    for p, q in zip(ours, theirs):
        st, tst = opt.state[p], topt.state[q]
        assert float(st["step"]) == float(tst["step"])
        assert st["exp_avg"].shape == p.shape
        np.testing.assert_allclose(st["exp_avg_sq"].numpy(), tst["exp_avg_sq"].numpy(), rtol=2e-5, atol=1e-7)
