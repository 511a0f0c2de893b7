"""Making tensors: from data, filled, ranges, identity, random draws and generators."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import backend as B


@pytest.mark.parametrize(
    "data",
    [1, 2.5, True, [1, 2], [1.0, 2], [[1, 2], [3, 4]], [True, False], [True, 1], [], [[1.5], [2.5]]],
)
def test_tensor_infers_dtype_like_torch(data, torch):
    ours, theirs = sc.tensor(data), torch.tensor(data)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.tolist() == theirs.tolist()


@pytest.mark.skipif(B.CUPY_LIKE, reason="as_tensor and from_numpy share numpy memory; device arrays cannot")
def test_tensor_from_numpy_arrays_and_tensors():
    a = np.arange(3, dtype=np.float64)
    t = sc.tensor(a)
    assert t.dtype == sc.float64
    a[0] = 9
    assert t.tolist() == [0.0, 1.0, 2.0]  # tensor() copies
    s = sc.as_tensor(a)
    a[1] = 7
    assert s.tolist() == [9.0, 7.0, 2.0]  # as_tensor shares
    f = sc.from_numpy(a)
    f[2] = 5
    assert a[2] == 5
    assert sc.as_tensor(f) is f
    assert sc.as_tensor(a, dtype=sc.float32).dtype == sc.float32
    x = sc.ones(2, requires_grad=True)
    c = sc.tensor(x)
    assert not c.requires_grad and c.tolist() == [1.0, 1.0]
    assert sc.tensor([sc.tensor(1.5), sc.tensor(2.5)]).tolist() == [1.5, 2.5]
    assert sc.tensor([1.9, -1.9], dtype=sc.int64).tolist() == [1, -1]
    assert sc.tensor(np.float64(2.0)).dtype == sc.float64 and sc.tensor(np.int32(2)).dtype == sc.int32


def test_tensor_rejects_bad_data():
    with pytest.raises(ValueError, match="ragged"):
        sc.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="expected numbers"):
        sc.tensor(["a", "b"])
    with pytest.raises(TypeError, match="np.ndarray"):
        sc.from_numpy([1, 2])


def test_filled_tensors(torch):
    for m in (sc, torch):
        assert tuple(m.zeros(2, 3).shape) == (2, 3)
    assert sc.zeros((2, 3)).shape == (2, 3) and sc.zeros([4]).shape == (4,) and sc.zeros(()).shape == ()
    assert sc.zeros(sc.Size([1, 2])).shape == (1, 2)
    assert sc.ones(2, dtype=sc.int32).tolist() == [1, 1] and sc.ones(2).dtype == sc.float32
    assert sc.empty(3, 2).shape == (3, 2) and sc.empty(3).dtype == sc.float32
    assert sc.full((2,), 7).dtype == sc.int64 and sc.full((2,), 7.0).dtype == sc.float32
    assert sc.full((2,), True).dtype == sc.bool and sc.full((2, 2), 1.5).tolist() == [[1.5, 1.5], [1.5, 1.5]]
    x = sc.ones(2, 3, dtype=sc.float64)
    for fn in (sc.zeros_like, sc.ones_like, sc.empty_like, sc.rand_like, sc.randn_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == sc.float64
    assert sc.full_like(x, 3).tolist() == [[3.0] * 3] * 2
    assert sc.zeros_like(x, dtype=sc.int64).dtype == sc.int64
    assert sc.randint_like(x, 5).shape == (2, 3)
    assert sc.zeros(2, requires_grad=True).requires_grad


def test_filled_tensor_errors():
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        sc.zeros(2, -1)
    with pytest.raises(TypeError, match="tuple of ints"):
        sc.ones(2.5)


@pytest.mark.parametrize(
    "args", [(5,), (1, 4), (0, 1, 0.25), (1.5, 4), (10, 0, -3), (0, 5, 2), (-1.0, 1.0, 0.5)]
)
def test_arange_matches_torch(args, torch):
    ours, theirs = sc.arange(*args), torch.arange(*args)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert sc.arange(3, dtype=sc.float64).dtype == sc.float64


def test_arange_errors():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        sc.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        sc.arange(0, 5, -1)


def test_linspace_logspace_eye(torch):
    np.testing.assert_allclose(sc.linspace(0, 1, 5).numpy(), torch.linspace(0, 1, 5).numpy(), rtol=1e-6)
    assert sc.linspace(0, 1, 5).dtype == sc.float32 and sc.linspace(0, 1, 0).shape == (0,)
    np.testing.assert_allclose(sc.logspace(0, 2, 3).numpy(), torch.logspace(0, 2, 3).numpy(), rtol=1e-6)
    assert sc.eye(3).tolist() == torch.eye(3).tolist() and sc.eye(2, 3).shape == (2, 3)
    assert sc.eye(2, dtype=sc.int64).dtype == sc.int64
    with pytest.raises(RuntimeError, match="non-negative"):
        sc.linspace(0, 1, -1)
    with pytest.raises(RuntimeError, match="non-negative"):
        sc.eye(-1)


def test_random_draws_have_the_right_shape_dtype_and_range():
    r = sc.rand(1000)
    assert r.dtype == sc.float32 and r.min().item() >= 0 and r.max().item() < 1
    n = sc.randn(20000, dtype=sc.float64)
    assert n.dtype == sc.float64 and abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    assert sc.rand(2, 3, dtype=sc.float16).dtype == sc.float16
    i = sc.randint(3, 7, (500,))
    assert i.dtype == sc.int64 and i.min().item() >= 3 and i.max().item() <= 6
    assert sc.randint(5, (2, 2)).shape == (2, 2)
    assert sc.randint(0, 5, size=(3,), dtype=sc.int32).dtype == sc.int32
    p = sc.randperm(10)
    assert sorted(p.tolist()) == list(range(10)) and p.dtype == sc.int64
    assert sc.rand(3, requires_grad=True).requires_grad


def test_random_errors():
    with pytest.raises(RuntimeError, match="from=5 >= to=5"):
        sc.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="size"):
        sc.randint(5)
    with pytest.raises(RuntimeError, match="floating point dtype, got int64"):
        sc.rand(2, dtype=sc.int64)


def test_manual_seed_repeats_and_generators_are_independent():
    sc.manual_seed(123)
    a = sc.randn(5).tolist()
    sc.manual_seed(123)
    b = sc.randn(5).tolist()
    assert a == b
    g1 = sc.Generator().manual_seed(7)
    g2 = sc.Generator().manual_seed(7)
    sc.randn(3)  # the default generator does not disturb the others
    assert sc.rand(4, generator=g1).tolist() == sc.rand(4, generator=g2).tolist()
    assert g1.initial_seed() == 7
    state = g1.get_state()
    first = sc.randint(0, 100, (5,), generator=g1).tolist()
    g1.set_state(state)
    assert sc.randint(0, 100, (5,), generator=g1).tolist() == first
    assert sc.initial_seed() == 123


def test_in_place_random_fills():
    x = sc.empty(1000)
    x.uniform_(-2, 2)
    assert x.min().item() >= -2 and x.max().item() < 2
    v = x._version
    x.normal_(5.0, 0.1)
    assert abs(x.mean().item() - 5.0) < 0.05 and x._version == v + 1
    x.bernoulli_(0.5)
    assert set(np.unique(x.numpy()).tolist()) <= {0.0, 1.0}
    w = sc.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.normal_()
    with sc.no_grad():
        w.normal_()
    assert w.grad_fn is None


def test_multinomial_and_bernoulli():
    probs = sc.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    draws = sc.multinomial(probs, 2, replacement=True)
    assert draws.shape == (2, 2) and draws[0].tolist() == [1, 1]
    assert set(draws[1].tolist()) <= {0, 2}
    b = sc.bernoulli(sc.tensor([0.0, 1.0]))
    assert b.tolist() == [0.0, 1.0]
