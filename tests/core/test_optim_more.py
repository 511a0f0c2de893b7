"""Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop, SparseAdam and LBFGS against PyTorch, step for step."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import optim

SHAPES = [(3, 4), (4,), (2, 3)]

CASES = [
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.05}),
    ("Adamax", {"maximize": True, "eps": 1e-3}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.9, 0.9), "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.7), "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 2, "weight_decay": 0.1}),
    ("ASGD", {"t0": 0, "maximize": True}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.1, "etas": (0.3, 1.5), "step_sizes": (0.01, 0.2)}),
    ("Rprop", {"maximize": True}),
]


def _run_both(torch, name, kwargs, steps=8, grads_fn=None):
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [sc.tensor(a, requires_grad=True) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    opt = getattr(optim, name)(ours, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(steps):
        for i, (p, q) in enumerate(zip(ours, theirs)):
            g = rng.standard_normal(p.shape).astype(np.float32)
            if step % 3 == 2 and i == 1:
                g = -np.asarray(q.grad)  # a sign change, which Rprop treats specially
            p.grad, q.grad = sc.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=3e-5, atol=3e-6)
    return opt, topt


@pytest.mark.parametrize("name,kwargs", CASES)
def test_matches_pytorch(torch, name, kwargs):
    _run_both(torch, name, kwargs)


@pytest.mark.parametrize("name,kwargs", CASES[::3])
def test_state_dict_matches_pytorch(torch, name, kwargs):
    opt, topt = _run_both(torch, name, kwargs, steps=3)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    for k in tsd["state"]:
        assert sd["state"][k].keys() == tsd["state"][k].keys()
        for key, v in tsd["state"][k].items():
            np.testing.assert_allclose(np.asarray(sd["state"][k][key]), v.numpy(), rtol=3e-5, atol=3e-6)


@pytest.mark.parametrize("name,kwargs", CASES[1::3])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    rng = np.random.default_rng(1)
    a = [sc.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(4)]
    opt_a = getattr(optim, name)(a, **kwargs)
    for p, g in zip(a, grads[0]):
        p.grad = sc.tensor(g)
    opt_a.step()
    b = [sc.tensor(p.detach().numpy().copy(), requires_grad=True) for p in a]
    opt_b = getattr(optim, name)(b, **kwargs)
    opt_b.load_state_dict(opt_a.state_dict())
    for gs in grads[1:]:
        for p, q, g in zip(a, b, gs):
            p.grad, q.grad = sc.tensor(g), sc.tensor(g)
        opt_a.step()
        opt_b.step()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
        (lambda p: optim.Adamax(p, betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
        (lambda p: optim.NAdam(p, momentum_decay=-1), "Invalid momentum_decay value: -1"),
        (lambda p: optim.RAdam(p, lr=-0.1), "Invalid learning rate: -0.1"),
        (lambda p: optim.ASGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda p: optim.Rprop(p, etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
        (lambda p: optim.SparseAdam(p, eps=0), "Invalid epsilon value: 0"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make([sc.ones(1, requires_grad=True)])


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.01, "betas": (0.8, 0.9), "maximize": True}])
def test_sparse_adam_moves_only_looked_up_rows_like_pytorch(torch, kwargs):
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((10, 4)).astype(np.float32)
    ours, theirs = sc.nn.Embedding(10, 4, sparse=True), torch.nn.Embedding(10, 4, sparse=True)
    with sc.no_grad():
        ours.weight.copy_(sc.tensor(w0))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w0))
    opt, topt = (
        optim.SparseAdam(ours.parameters(), **kwargs),
        torch.optim.SparseAdam(theirs.parameters(), **kwargs),
    )
    for _ in range(5):
        idx = rng.integers(0, 6, size=(3, 2))  # rows 6-9 are never looked up
        target = rng.standard_normal((3, 2, 4)).astype(np.float32)
        for model, o, lib in ((ours, opt, sc), (theirs, topt, torch)):
            o.zero_grad()
            ((model(lib.tensor(idx)) - lib.tensor(target)) ** 2).sum().backward()
            o.step()
        np.testing.assert_allclose(
            ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=3e-5, atol=3e-6
        )
    np.testing.assert_array_equal(ours.weight.detach().numpy()[6:], w0[6:])


def _regression(lib, seed=0):
    rng = np.random.default_rng(seed)
    x = lib.tensor(rng.standard_normal((32, 3)).astype(np.float32))
    y = lib.tensor((rng.standard_normal((32, 1)) * 0.1).astype(np.float32)) + x[:, :1] * 2 - x[:, 1:2]
    w0 = rng.standard_normal((3, 1)).astype(np.float32)
    w = lib.tensor(w0, requires_grad=True)
    b = lib.zeros(1, requires_grad=True)
    return x, y, w, b


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"lr": 0.5, "max_iter": 5, "history_size": 3},
        {"line_search_fn": "strong_wolfe"},
        {"lr": 0.8, "max_iter": 7, "history_size": 4, "line_search_fn": "strong_wolfe"},
    ],
)
def test_lbfgs_matches_pytorch(torch, kwargs):
    runs = []
    for lib in (sc, torch):
        x, y, w, b = _regression(lib)
        opt = lib.optim.LBFGS([w, b], **kwargs)
        losses = []

        def closure(lib=lib, x=x, y=y, w=w, b=b, opt=opt):
            opt.zero_grad()
            loss = (((x @ w + b) - y) ** 2).mean() + 0.01 * (w**4).sum()
            loss.backward()
            return loss

        for _ in range(3):
            losses.append(float(opt.step(closure)))
        runs.append((losses, w.detach().numpy().copy(), opt.state[w]["func_evals"], opt.state[w]["n_iter"]))
    (l1, w1, fe1, it1), (l2, w2, fe2, it2) = runs
    np.testing.assert_allclose(l1, l2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w1, w2, rtol=1e-4, atol=1e-5)
    assert (fe1, it1) == (fe2, it2)


def test_lbfgs_converges_and_its_state_dict_reloads(torch):
    x, y, w, b = _regression(sc, seed=4)
    opt = optim.LBFGS([w, b], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        return loss

    first = float(closure())
    for _ in range(2):
        opt.step(closure)
    assert float(closure()) < first * 0.05
    sd = opt.state_dict()
    assert set(sd["state"][0]) >= {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag"}
    opt2 = optim.LBFGS([w, b], line_search_fn="strong_wolfe")
    opt2.load_state_dict(sd)
    opt2.step(closure)


def test_lbfgs_errors():
    p = sc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="closure"):
        optim.LBFGS([p]).step()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [sc.ones(1, requires_grad=True)]}])
    with pytest.raises(RuntimeError, match="strong_wolfe"):
        optim.LBFGS([p], line_search_fn="backtracking")
