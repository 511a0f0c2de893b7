"""out= arguments of the common functions, and indexing with a Python range, against PyTorch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import studio.core as sc


@pytest.mark.parametrize(
    "call",
    [
        lambda L, a, b, o: L.matmul(a, b.T, out=o),
        lambda L, a, b, o: L.add(a, b, alpha=2, out=o),
        lambda L, a, b, o: L.mul(a, b, out=o),
        lambda L, a, b, o: L.exp(a, out=o),
        lambda L, a, b, o: L.sum(a, 1, out=o),
        lambda L, a, b, o: L.cat([a, b], 0, out=o),
        lambda L, a, b, o: L.stack([a, b], out=o),
        lambda L, a, b, o: L.clamp(a, -0.5, 0.5, out=o),
        lambda L, a, b, o: L.where(a > 0, a, b, out=o),
        lambda L, a, b, o: L.zeros(2, 2, out=o),
        lambda L, a, b, o: L.arange(5, out=o),
        lambda L, a, b, o: L.softmax(a, 1, out=o),
    ],
)
def test_out_matches_pytorch(torch, call):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)
    results = []
    for lib in (sc, torch):
        out = lib.empty(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an empty out is resized silently
            r = call(lib, lib.tensor(x), lib.tensor(y), out)
        assert r is out
        results.append(np.asarray(out.tolist()))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-6)


def test_out_rules_follow_pytorch(torch):
    a = sc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        sc.add(a, 1, out=sc.empty(2))
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type int64"):
        sc.add(sc.ones(2), 0.5, out=sc.empty(2, dtype=sc.int64))
    with pytest.warns(UserWarning, match="resized"):
        sc.add(sc.ones(3), 1, out=sc.ones(2))
    values, indices = sc.empty(0), sc.empty(0, dtype=sc.int64)
    res = sc.max(sc.tensor([[1.0, 5.0], [7.0, 2.0]]), 1, out=(values, indices))
    assert res.values is values and values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    into_double = sc.empty(2, dtype=sc.float64)
    sc.mul(sc.ones(2), 3, out=into_double)
    assert into_double.dtype == sc.float64 and into_double.tolist() == [3.0, 3.0]


def test_indexing_with_a_range_matches_pytorch(torch):
    for lib in (sc, torch):
        x = lib.arange(10.0).reshape(5, 2).requires_grad_()
        y = x[range(1, 5, 2)]
        y.sum().backward()
        z = lib.zeros(3, 4)
        z[range(2)] = 1
        z[:, range(1, 3)] = 2
        if lib is sc:
            ours = (y.tolist(), x.grad.tolist(), z.tolist(), tuple(x[range(0)].shape))
        else:
            assert ours == (y.tolist(), x.grad.tolist(), z.tolist(), tuple(x[range(0)].shape))
