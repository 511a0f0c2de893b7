"""nn.utils: gradient clipping by norm and by value, and parameters <-> vector, against PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import studio.core as sc
from studio.core import nn
from studio.core.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    get_total_norm,
    parameters_to_vector,
    vector_to_parameters,
)


def _grads(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) * 3 for s in [(4, 3), (3,), (2, 2, 2)]]


def _params(torch_mod, grads):
    params = []
    for g in grads:
        p = torch_mod.nn.Parameter(torch_mod.zeros(g.shape) if torch_mod is not sc else sc.zeros(*g.shape))
        p.grad = torch_mod.tensor(g)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm):
    grads = _grads()
    ours, theirs = _params(sc, grads), _params(torch, grads)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, sc.Tensor) and total.dim() == 0 and total.dtype is sc.float32
    np.testing.assert_allclose(float(total), float(expected), rtol=1e-5)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(sc.zeros(3))
    assert float(clip_grad_norm_([p], 1.0)) == 0.0  # no gradients: zero norm, nothing to do
    p.grad = sc.tensor([3.0, 4.0, 0.0])
    assert float(clip_grad_norm_(p, 1.0)) == pytest.approx(5.0)  # a single tensor is accepted
    assert float(p.grad.norm()) == pytest.approx(1.0, rel=1e-5)
    p.grad = sc.tensor([float("nan"), 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    total = clip_grad_norm_([p], 1.0)
    assert math.isnan(float(total)) and np.all(np.isnan(p.grad.numpy()))


def test_clip_grad_norm_on_a_model():
    m = nn.Linear(5, 3)
    (m(sc.randn(8, 5)) * 100).sum().backward()
    before = float(get_total_norm([p.grad for p in m.parameters()]))
    total = clip_grad_norm_(m.parameters(), max_norm=2.0)
    assert float(total) == pytest.approx(before)
    assert float(get_total_norm([p.grad for p in m.parameters()])) == pytest.approx(2.0, rel=1e-4)


def test_clip_grad_value_matches_torch(torch):
    grads = _grads(1)
    ours, theirs = _params(sc, grads), _params(torch, grads)
    assert clip_grad_value_(ours, 1.5) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_parameters_to_vector_and_back():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(m.parameters())
    assert vec.shape == (11,)
    expected = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    np.testing.assert_array_equal(vec.detach().numpy(), expected)
    vector_to_parameters(sc.arange(11, dtype=sc.float32), m.parameters())
    np.testing.assert_array_equal(m[0].weight.detach().numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(m[1].bias.detach().numpy(), [10.0])
    assert isinstance(m[0].weight, nn.Parameter)
    with pytest.raises(TypeError, match="expected studio.core.Tensor"):
        vector_to_parameters(np.zeros(11), m.parameters())
    with pytest.raises(RuntimeError, match="11 elements"):
        vector_to_parameters(sc.zeros(10), m.parameters())


def test_parameters_to_vector_is_differentiable():
    m = nn.Linear(2, 2)
    (parameters_to_vector(m.parameters()) ** 2).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), 2 * m.weight.detach().numpy(), rtol=1e-6)
