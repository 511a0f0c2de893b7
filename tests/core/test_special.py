"""Special functions (lgamma, digamma, polygamma, erf, erfc, erfinv, xlogy), triangular factors
(linalg.cholesky, linalg.solve_triangular) and broadcasting helpers, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc

torch = pytest.importorskip("torch")

X = np.concatenate([np.linspace(-7.3, 30, 400), [1e-6, 0.5, 1.0, 2.0, 1e5, -0.5, -2.5]])
UNIT = np.concatenate([np.linspace(-0.999, 0.999, 300), [1 - 1e-12, -1 + 1e-9, 0.0]])


@pytest.mark.parametrize(
    "name, values", [("lgamma", X), ("digamma", X), ("erf", X), ("erfc", X), ("erfinv", UNIT)]
)
def test_values_match_pytorch_in_double_and_single_precision(name, values):
    ours = getattr(sc, name)(sc.tensor(values)).numpy()
    theirs = getattr(torch, name)(torch.tensor(values)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    f32 = values[np.abs(values) < 20].astype(np.float32)
    ours32 = getattr(sc, name)(sc.tensor(f32))
    assert ours32.dtype == sc.float32
    np.testing.assert_allclose(
        ours32.numpy(), getattr(torch, name)(torch.tensor(f32)).numpy(), rtol=2e-6, atol=2e-6
    )


def test_poles_and_edges_match_pytorch():
    edges = np.array([0.0, -1.0, -3.0, np.inf, -np.inf, np.nan])
    for name in ("lgamma", "digamma", "erf", "erfc"):
        np.testing.assert_allclose(
            getattr(sc, name)(sc.tensor(edges)).numpy(),
            getattr(torch, name)(torch.tensor(edges)).numpy(),
            rtol=1e-12,
            err_msg=name,
        )
    ends = np.array([1.0, -1.0, 1.5, np.nan])
    np.testing.assert_array_equal(
        sc.erfinv(sc.tensor(ends)).numpy(), torch.erfinv(torch.tensor(ends)).numpy()
    )


@pytest.mark.parametrize("n", [1, 2, 3])
def test_polygamma_matches_pytorch(n):
    np.testing.assert_allclose(
        sc.special.polygamma(n, sc.tensor(X)).numpy(),
        torch.special.polygamma(n, torch.tensor(X)).numpy(),
        rtol=1e-9,
    )


@pytest.mark.parametrize("name", ["lgamma", "digamma", "erf", "erfc", "erfinv"])
def test_first_and_second_derivatives_match_pytorch(name):
    values = np.array([0.15, 0.4, 0.8, 0.95]) if name == "erfinv" else np.array([0.3, 1.7, 4.2, 12.5])
    grads = []
    for lib in (sc, torch):
        x = lib.tensor(values, requires_grad=True)
        (g,) = lib.autograd.grad(getattr(lib, name)(x).sum(), x, create_graph=True)
        g.sum().backward()
        grads.append((g.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-8)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-7)


def test_special_namespace_and_xlogy():
    x = np.array([0.2, 1.0, 2.5])
    np.testing.assert_allclose(
        sc.special.gammaln(sc.tensor(x)).numpy(), torch.special.gammaln(torch.tensor(x)).numpy()
    )
    np.testing.assert_allclose(
        sc.special.ndtr(sc.tensor(x)).numpy(), torch.special.ndtr(torch.tensor(x)).numpy()
    )
    p = np.array([0.1, 0.5, 0.975])
    np.testing.assert_allclose(
        sc.special.ndtri(sc.tensor(p)).numpy(), torch.special.ndtri(torch.tensor(p)).numpy()
    )
    a, b = np.array([0.0, 0.0, 1.0, 2.0]), np.array([0.0, np.nan, 3.0, 0.5])
    np.testing.assert_array_equal(
        sc.xlogy(sc.tensor(a), sc.tensor(b)).numpy(), torch.xlogy(torch.tensor(a), torch.tensor(b)).numpy()
    )
    assert sc.tensor([1.0]).lgamma().item() == 0.0
    with pytest.raises(AttributeError, match="torch.special.zeta"):
        sc.special.zeta  # noqa: B018


def test_incomplete_gamma_and_its_gradient_match_pytorch():
    a, x = np.meshgrid([0.1, 0.5, 1.0, 2.5, 7.0, 30.0, 120.0], [0.01, 0.3, 1.0, 2.0, 9.0, 25.0, 140.0])
    grads = []
    for lib in (sc, torch):
        tx = lib.tensor(x, requires_grad=True)
        p = lib.special.gammainc(lib.tensor(a), tx)
        p.sum().backward()
        grads.append(
            (p.detach().numpy(), tx.grad.numpy(), lib.special.gammaincc(lib.tensor(a), lib.tensor(x)).numpy())
        )
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-12)
    edges = sc.igamma(sc.tensor([2.0, 2.0, 2.0]), sc.tensor([0.0, float("inf"), -1.0]))
    np.testing.assert_array_equal(
        edges.numpy(), torch.igamma(torch.tensor([2.0] * 3), torch.tensor([0.0, np.inf, -1.0])).numpy()
    )


def _spd(rng, batch, n):
    a = rng.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def test_cholesky_and_its_gradient_match_pytorch():
    rng = np.random.default_rng(0)
    spd = _spd(rng, (2,), 4)
    weights = rng.normal(size=(2, 4, 4))
    results = []
    for lib in (sc, torch):
        a = lib.tensor(spd, requires_grad=True)
        low = lib.linalg.cholesky(a)
        (low * lib.tensor(weights)).sum().backward()
        results.append((low.detach().numpy(), a.grad.numpy(), lib.cholesky(a, upper=True).detach().numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    for lib in (sc, torch):
        with pytest.raises(RuntimeError, match="not positive-definite"):
            lib.linalg.cholesky(lib.tensor([[1.0, 2.0], [2.0, 1.0]]))


@pytest.mark.parametrize(
    "upper, left, unit", [(False, True, False), (True, True, False), (False, False, True)]
)
def test_solve_triangular_and_its_gradients_match_pytorch(upper, left, unit):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    b = rng.normal(size=(2, 3, 3))
    results = []
    for lib in (sc, torch):
        ta, tb = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        x = lib.linalg.solve_triangular(ta, tb, upper=upper, left=left, unitriangular=unit)
        (x * x).sum().backward()
        results.append((x.detach().numpy(), ta.grad.numpy(), tb.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_broadcasting_helpers_match_pytorch():
    assert sc.broadcast_shapes((2, 1), (3,), 1) == torch.broadcast_shapes((2, 1), (3,), 1)
    a, b = sc.broadcast_tensors(sc.ones(2, 1), sc.zeros(3))
    assert tuple(a.shape) == tuple(b.shape) == (2, 3)
    for lib in (sc, torch):
        with pytest.raises(RuntimeError) as err:
            lib.broadcast_tensors(lib.ones(2, 3), lib.ones(4))
        with pytest.raises(RuntimeError) as err2:
            lib.broadcast_shapes((2, 3), (4,))
        assert "size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1" in str(
            err.value
        )
        assert "Attempting to broadcast a dimension of length 4 at -1" in str(err2.value)
    x = sc.ones(3, requires_grad=True)
    sc.broadcast_tensors(x, sc.ones(2, 3))[0].sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
