"""Activations: values and gradients against finite differences and PyTorch, dtypes and in-place forms."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
import studio.core.nn.functional as F
from studio.core.autograd import gradcheck

CASES = [
    ("relu", {}),
    ("relu6", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {"alpha": 0.7}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("softplus", {}),
    ("softplus", {"beta": 2, "threshold": 3}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("selu", {}),
    ("celu", {"alpha": 0.7}),
    ("hardsigmoid", {}),
    ("hardswish", {}),
    ("mish", {}),
    ("logsigmoid", {}),
    ("softsign", {}),
]


def _values(dtype):
    # spread wide enough to reach thresholds and saturation, away from kinks for finite differences
    x = np.random.default_rng(0).standard_normal((6, 7)) * 4
    x[np.abs(x) < 1e-3] = 0.5
    return x.astype(dtype)


def _torch_fn(torch, name):
    return getattr(torch, name) if name in ("sigmoid", "tanh") else getattr(torch.nn.functional, name)


@pytest.mark.parametrize("name,kwargs", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_matches_torch(torch, name, kwargs, dtype):
    a = _values(dtype)
    x = sc.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    out = getattr(F, name)(x, **kwargs)
    ref = _torch_fn(torch, name)(t, **kwargs)
    assert out.dtype == (sc.float64 if dtype == np.float64 else sc.float32)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    if name in ("celu", "hardsigmoid"):
        tol = max(tol, 1e-7)  # PyTorch's gradients use single-precision 1 / alpha and 1 / 6 there
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=tol, rtol=tol)
    g = np.random.default_rng(1).standard_normal(a.shape).astype(dtype)
    out.backward(sc.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=tol * 4, rtol=tol * 4)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_activation_gradcheck(name, kwargs):
    x = sc.tensor(_values(np.float64)[:2], requires_grad=True)
    assert gradcheck(lambda x: getattr(F, name)(x, **kwargs), (x,))


def test_gelu_exact_matches_erf_far_into_the_tails(torch):
    a = np.linspace(-9, 9, 721)
    out = F.gelu(sc.tensor(a)).numpy()
    ref = torch.nn.functional.gelu(torch.tensor(a)).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-14, rtol=1e-10)


@pytest.mark.parametrize(
    "name,args", [("relu", ()), ("leaky_relu", (0.1,)), ("elu", (1.0,)), ("hardtanh", ())]
)
def test_inplace_forms_write_into_the_input(name, args):
    x = sc.tensor([-2.0, -0.5, 0.5, 3.0])
    expected = getattr(F, name)(x.clone(), *args)
    res = getattr(F, name)(x, *args, inplace=True)
    assert res is x
    np.testing.assert_allclose(x.numpy(), expected.numpy())


def test_inplace_activation_keeps_the_graph():
    a = sc.tensor([-1.0, 2.0], requires_grad=True)
    h = a * 2
    F.relu(h, inplace=True)
    h.sum().backward()
    assert a.grad.tolist() == [0.0, 2.0]


def test_softmax_and_log_softmax_reexported(torch):
    a = np.random.default_rng(2).standard_normal((3, 5))
    np.testing.assert_allclose(
        F.softmax(sc.tensor(a), dim=1).numpy(), torch.softmax(torch.tensor(a), 1).numpy()
    )
    np.testing.assert_allclose(
        F.log_softmax(sc.tensor(a), dim=-1).numpy(), torch.log_softmax(torch.tensor(a), -1).numpy()
    )


def test_activation_errors():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(sc.randn(3), approximate="fast")
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(sc.randn(3), 1.0, -1.0)


def test_prelu_matches_torch_and_gradcheck(torch):
    a = np.random.default_rng(3).standard_normal((4, 3, 5))
    for w in (np.array([0.1, 0.5, -0.2]), np.array([0.25])):
        x, ws = sc.tensor(a, requires_grad=True), sc.tensor(w, requires_grad=True)
        t, wt = torch.tensor(a, requires_grad=True), torch.tensor(w, requires_grad=True)
        out, ref = F.prelu(x, ws), torch.nn.functional.prelu(t, wt)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), atol=1e-12)
    x = sc.tensor(a[:2, :, :2], requires_grad=True)
    w = sc.tensor([0.1, 0.5, -0.2], dtype=sc.float64, requires_grad=True)
    assert gradcheck(F.prelu, (x, w))


def test_glu_and_softmin_match_torch(torch):
    a = np.random.default_rng(4).standard_normal((3, 4, 6))
    for dim in (-1, 1):
        x, t = sc.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        out, ref = F.glu(x, dim), torch.nn.functional.glu(t, dim)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-12)
    assert gradcheck(lambda x: F.glu(x, 0), (sc.tensor(a[:2, :2, :2], requires_grad=True),))
    np.testing.assert_allclose(
        F.softmin(sc.tensor(a), dim=1).numpy(), torch.nn.functional.softmin(torch.tensor(a), dim=1).numpy()
    )
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(sc.randn(3, 5))
