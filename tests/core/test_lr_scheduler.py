"""Learning-rate schedules against PyTorch step for step, state dicts and argument errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import studio.core as sc
from studio.core import optim
from studio.core.optim import lr_scheduler as ls


def _pair(torch, opt_name="SGD", groups=1, **opt_kwargs):
    ours = [sc.ones(2, requires_grad=True) for _ in range(groups)]
    theirs = [torch.ones(2, requires_grad=True) for _ in range(groups)]
    lrs = [0.1 * (i + 1) for i in range(groups)]
    opt = getattr(optim, opt_name)([{"params": [p], "lr": lr} for p, lr in zip(ours, lrs)], **opt_kwargs)
    topt = getattr(torch.optim, opt_name)(
        [{"params": [p], "lr": lr} for p, lr in zip(theirs, lrs)], **opt_kwargs
    )
    return opt, topt


CASES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 6, "eta_min": 0.001}),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 4}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 3}),
    ("PolynomialLR", {"total_iters": 6, "power": 2.0}),
    ("LambdaLR", {"lr_lambda": lambda e: 1.0 / (1 + e)}),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.95}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": 15}),
    (
        "OneCycleLR",
        {"max_lr": [1.0, 2.0], "total_steps": 15, "anneal_strategy": "linear", "three_phase": True},
    ),
]


@pytest.mark.parametrize("name,kwargs", CASES)
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_matches_pytorch(torch, name, kwargs, opt_name):
    extra = {"momentum": 0.9} if opt_name == "SGD" else {}
    opt, topt = _pair(torch, opt_name, groups=2, **extra)
    sched = getattr(ls, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    for _ in range(14):
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12, abs=1e-15)
        for g, tg in zip(opt.param_groups, topt.param_groups):
            assert g["lr"] == pytest.approx(tg["lr"], rel=1e-12, abs=1e-15)
            for key in ("momentum", "betas"):
                if key in g:
                    assert g[key] == pytest.approx(tg[key])
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


def test_sequential_warmup_then_cosine(torch):
    opt, topt = _pair(torch)
    s = ls.SequentialLR(opt, [ls.LinearLR(opt, 0.1, total_iters=3), ls.CosineAnnealingLR(opt, 5)], [3])
    t = torch.optim.lr_scheduler
    ts = t.SequentialLR(topt, [t.LinearLR(topt, 0.1, total_iters=3), t.CosineAnnealingLR(topt, 5)], [3])
    for _ in range(8):
        assert s.get_last_lr() == pytest.approx(ts.get_last_lr())
        opt.step()
        topt.step()
        s.step()
        ts.step()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mode": "max", "factor": 0.5, "patience": 1, "cooldown": 1},
        {"patience": 0, "threshold": 0.1, "threshold_mode": "abs", "min_lr": 0.02},
    ],
)
def test_reduce_on_plateau_matches_pytorch(torch, kwargs):
    opt, topt = _pair(torch)
    s = ls.ReduceLROnPlateau(opt, **kwargs)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.97, 0.89, 0.89, 0.9, 1.2, 0.5, 0.5, 0.5, 0.5, 0.5] * 2
    for m in metrics:
        s.step(m)
        ts.step(m)
        assert s.get_last_lr() == pytest.approx(ts.get_last_lr())
        assert s.num_bad_epochs == ts.num_bad_epochs
    sd = s.state_dict()
    s2 = ls.ReduceLROnPlateau(opt)
    s2.load_state_dict(sd)
    assert s2.best == s.best and s2.mode == s.mode


def test_state_dict_round_trip():
    p = sc.ones(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    s = ls.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        opt.step()
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    opt2 = optim.SGD([sc.ones(1, requires_grad=True)], lr=1.0)
    opt2.load_state_dict(opt.state_dict())
    s2 = ls.CosineAnnealingLR(opt2, T_max=10)
    s2.load_state_dict(sd)
    for _ in range(3):
        opt.step()
        opt2.step()
        s.step()
        s2.step()
    assert s.get_last_lr() == s2.get_last_lr()
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


def test_lambda_state_dict_skips_functions():
    opt = optim.SGD([sc.ones(1, requires_grad=True)], lr=1.0)
    s = ls.LambdaLR(opt, lambda e: 0.5**e)
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [None]
    s.load_state_dict(sd)


def test_closed_form_with_epoch(torch):
    opt = optim.SGD([sc.ones(1, requires_grad=True)], lr=1.0)
    s = ls.StepLR(opt, step_size=2, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.step()
        s.step(5)
    assert s.get_last_lr() == [0.25]


def test_warns_when_scheduler_steps_before_optimizer():
    opt = optim.SGD([sc.ones(1, requires_grad=True)], lr=1.0)
    s = ls.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda o: ls.ReduceLROnPlateau(o, factor=1.5), ValueError, "Factor should be < 1.0"),
        (lambda o: ls.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode avg is unknown"),
        (lambda o: ls.OneCycleLR(o, max_lr=1.0), ValueError, "either total_steps"),
        (lambda o: ls.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=2.0), ValueError, "pct_start"),
        (lambda o: ls.LinearLR(o, start_factor=0), ValueError, "Starting multiplicative factor"),
        (lambda o: ls.LambdaLR(o, [lambda e: 1, lambda e: 1]), ValueError, "Expected 1 lr_lambdas"),
        (lambda o: ls.StepLR(object(), 2), TypeError, "object is not an Optimizer"),
        (lambda o: ls.StepLR(o, 2, last_epoch=3), KeyError, "initial_lr"),
    ],
)
def test_bad_arguments(make, exc, match):
    opt = optim.SGD([sc.ones(1, requires_grad=True)], lr=1.0)
    with pytest.raises(exc, match=match):
        make(opt)


def test_onecycle_too_many_steps():
    opt = optim.SGD([sc.ones(1, requires_grad=True)], lr=1.0, momentum=0.9)
    s = ls.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    opt.step()
    s.step()
    s.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        s.step()
    assert np.isfinite(opt.param_groups[0]["lr"])


def test_multistep_state_dict_through_json():
    import json

    opt = optim.SGD([sc.ones(1, requires_grad=True)], lr=1.0)
    s = ls.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    sd = json.loads(json.dumps({k: (dict(v) if k == "milestones" else v) for k, v in s.state_dict().items()}))
    s2 = ls.MultiStepLR(opt, milestones=[9])
    s2.load_state_dict(sd)
    opt.param_groups[0]["lr"] = 1.0
    for _ in range(4):
        opt.step()
        s2.step()
    assert s2.get_last_lr() == [0.25]
