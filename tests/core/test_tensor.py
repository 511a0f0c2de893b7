"""The Tensor: properties, conversions, repr, operators and in-place forms with their version counter."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import studio.core as sc


def test_properties():
    x = sc.ones(2, 3)
    assert x.shape == (2, 3) and x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert repr(x.shape) == "studio.core.Size([2, 3])" and x.shape.numel() == 6
    assert x.ndim == 2 and x.dim() == 2 and x.numel() == 6 and len(x) == 2
    assert x.dtype == sc.float32 and x.device == sc.device("cpu") and not x.is_cuda
    assert x.element_size() == 4 and x.nbytes == 24 and x.is_floating_point()
    assert x.T.shape == (3, 2) and x.stride() == (3, 1) and x.is_contiguous()
    assert not x.T.is_contiguous() and x.T.contiguous().is_contiguous()
    with pytest.raises(IndexError, match="dimension out of range"):
        x.size(2)
    with pytest.raises(TypeError, match="0-d"):
        len(sc.tensor(1.0))


def test_conversions():
    x = sc.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().dtype == np.float32
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert sc.tensor(2.5).item() == 2.5 and isinstance(sc.tensor(3).item(), int)
    assert float(sc.tensor([2.5])) == 2.5 and int(sc.tensor(3.7)) == 3 and bool(sc.tensor([1]))
    assert [1, 2, 3][sc.tensor(1)] == 2
    assert np.asarray(x).shape == (2, 2)
    assert f"{sc.tensor(2.0):.2f}" == "2.00"
    with pytest.raises(RuntimeError, match="4 elements cannot be converted to Scalar"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(RuntimeError, match="requires grad.*detach"):
        sc.ones(2, requires_grad=True).numpy()
    assert sc.ones(2, requires_grad=True).detach().numpy().tolist() == [1.0, 1.0]


def test_legacy_constructor():
    assert sc.Tensor([1, 2]).dtype == sc.float32
    assert sc.Tensor(2, 3).shape == (2, 3)
    assert sc.Tensor().shape == (0,)
    assert sc.Tensor(np.ones(2, np.float64)).dtype == sc.float64
    assert sc.Tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="integer sizes"):
        sc.Tensor(2, 2.5)


def test_clone_is_a_differentiable_copy():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.grad_fn.name() == "CloneBackward0"
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    d = x.detach().clone()
    d.add_(1)
    assert x.tolist() == [1.0, 2.0]


def test_copy_pickle_and_data():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == [1.0, 2.0] and y.requires_grad and y.grad_fn is None
    z = copy.deepcopy(sc.tensor([1, 2]))
    assert z.tolist() == [1, 2]
    d = x.data
    assert not d.requires_grad
    x.data = sc.tensor([5.0, 6.0])
    assert x.tolist() == [5.0, 6.0] and x.requires_grad


@pytest.mark.parametrize(
    "case",
    [
        lambda m: m.tensor([1.5, -20.25, 3.0]),
        lambda m: m.tensor([1.0, 100.0]),
        lambda m: m.tensor([0.001, 2.0]),
        lambda m: m.tensor([1e-5, 1.0]),
        lambda m: m.tensor([1.0, 2000.0]),
        lambda m: m.tensor([1e10, 1.0]),
        lambda m: m.tensor(3.5),
        lambda m: m.tensor(3),
        lambda m: m.tensor(True),
        lambda m: m.tensor([True, False]),
        lambda m: m.tensor([1, 100, -5]),
        lambda m: m.tensor([1, 2], dtype=m.int32),
        lambda m: m.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=m.float64),
        lambda m: m.tensor([[1.5, 2.0], [3.0, 4.0]], requires_grad=True),
        lambda m: m.tensor([1.5, 2.0], dtype=m.float16),
        lambda m: m.tensor(2.5, requires_grad=True).exp(),
        lambda m: m.tensor([1.5, 2.0], requires_grad=True) * 2,
        lambda m: m.zeros(0),
        lambda m: m.zeros(0, 3),
        lambda m: m.zeros(0, dtype=m.int64),
        lambda m: m.zeros(2, 0, dtype=m.float64),
        lambda m: m.arange(2000),
        lambda m: m.arange(2000.0).reshape(40, 50),
        lambda m: m.arange(30.0) / 7,
        lambda m: m.arange(100.0).reshape(10, 10) * 1.5,
        lambda m: m.tensor([float("nan"), float("inf"), 1.0]),
        lambda m: m.tensor([float("nan"), 1.5]),
        lambda m: m.tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]),
        lambda m: m.tensor([-0.0, 0.0]),
    ],
)
def test_repr_matches_torch(case, torch):
    assert repr(case(sc)) == repr(case(torch)).replace("torch.", "studio.core.")
    assert str(case(sc)) == repr(case(sc))


def test_arithmetic_operators_and_reflections(torch):
    a = [1.0, -2.0, 3.0]
    forms = [
        lambda x: x + 2,
        lambda x: 2 + x,
        lambda x: x - 2,
        lambda x: 2 - x,
        lambda x: x * 2,
        lambda x: 2 * x,
        lambda x: x / 2,
        lambda x: 2 / x,
        lambda x: x**2,
        lambda x: 2**x,
        lambda x: -x,
        lambda x: +x,
        lambda x: abs(x),
        lambda x: x // 2,
        lambda x: x % 2,
        lambda x: x @ x,
        lambda x: x + x,
        lambda x: x * x,
    ]
    for f in forms:
        np.testing.assert_allclose(f(sc.tensor(a)).numpy(), f(torch.tensor(a)).numpy(), rtol=1e-6)
    m = sc.ones(2, 3)
    assert (m @ sc.ones(3)).tolist() == [3.0, 3.0]
    assert (np.ones(3, np.float32) @ sc.ones(3, 2)).tolist() == [3.0, 3.0]
    arr = np.ones(2, np.float32)
    assert isinstance(arr + sc.ones(2), sc.Tensor)  # numpy defers to the tensor's reflected operator


def test_method_forms():
    x = sc.tensor([0.25, 0.5])
    for name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "abs", "neg", "square", "rsqrt"):
        np.testing.assert_allclose(getattr(x, name)().numpy(), getattr(sc, name)(x).numpy())
    assert x.add(1, alpha=2).tolist() == [2.25, 2.5] and x.sub(1).tolist() == [-0.75, -0.5]
    assert (
        x.mul(2).tolist() == [0.5, 1.0]
        and x.div(0.25).tolist() == [1.0, 2.0]
        and x.pow(2).tolist() == [0.0625, 0.25]
    )
    assert x.clamp(0.3, 0.4).tolist() == [0.30000001192092896, 0.4000000059604645]
    assert x.maximum(sc.tensor([0.3, 0.3])).tolist() == [0.30000001192092896, 0.5]
    assert x.where(x > 0.3, sc.tensor([0.0, 0.0])).tolist() == [0.0, 0.5]


def test_in_place_forms_bump_the_version(torch):
    data = [1.0, -2.0, 3.0]
    forms = [
        lambda x: x.add_(1),
        lambda x: x.add_(x, alpha=2),
        lambda x: x.sub_(1),
        lambda x: x.mul_(3),
        lambda x: x.div_(2),
        lambda x: x.pow_(2),
        lambda x: x.neg_(),
        lambda x: x.abs_(),
        lambda x: x.exp_(),
        lambda x: x.sigmoid_(),
        lambda x: x.tanh_(),
        lambda x: x.clamp_(-1, 1),
        lambda x: x.floor_(),
        lambda x: x.round_(),
        lambda x: x.zero_(),
        lambda x: x.fill_(2.5),
        lambda x: x.copy_(x * 2),
        lambda x: x.lerp_(x * 0, 0.5),
        lambda x: x.addcmul_(x, x, value=2),
        lambda x: x.addcdiv_(x, x + 10, value=2),
        lambda x: x.masked_fill_(x > 0, 0.0),
    ]
    for f in forms:
        x = sc.tensor(data)
        v = x._version
        ours = f(x)
        theirs = f(torch.tensor(data))
        assert ours is x and x._version > v
        np.testing.assert_allclose(x.numpy(), theirs.numpy(), rtol=1e-6)
    x = sc.tensor(data)
    x += 1
    x -= 1
    x *= 2
    x /= 2
    assert x.tolist() == data and x._version == 4


def test_in_place_writes_through_views():
    x = sc.zeros(2, 3)
    row = x[0]
    row.add_(1)
    assert x.tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    assert x._version == row._version


def test_in_place_errors():
    x = sc.tensor([1, 2])
    with pytest.raises(
        RuntimeError, match="result type float32 can't be cast to the desired output type int64"
    ):
        x.mul_(1.5)
    with pytest.raises(RuntimeError, match=r"doesn't match the broadcast shape"):
        sc.ones(2).add_(sc.ones(2, 2))
    with pytest.raises(RuntimeError, match="0-dimension"):
        sc.ones(2).fill_(sc.ones(2))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        sc.ones(2).copy_(sc.ones(3))


def test_copy_records_gradient_for_its_source():
    src = sc.tensor([1.0, 2.0], requires_grad=True)
    dst = sc.zeros(2)
    dst.copy_(src * 2)
    dst.sum().backward()
    assert src.grad.tolist() == [2.0, 2.0]


def test_zero_and_fill_on_integer_and_bool():
    assert sc.tensor([1, 2]).fill_(7).tolist() == [7, 7]
    assert sc.tensor([True, True]).zero_().tolist() == [False, False]
    assert sc.tensor([1, 2]).add_(1).tolist() == [2, 3]


def test_iteration_and_hash():
    x = sc.tensor([[1, 2], [3, 4]])
    assert [r.tolist() for r in x] == [[1, 2], [3, 4]]
    assert len({x, x}) == 1
    with pytest.raises(TypeError, match="0-d"):
        iter(sc.tensor(1))


def test_deepcopy_keeps_leaf_state_and_copies_values(torch):
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    x.grad = sc.tensor([0.5, 0.5])
    d = copy.deepcopy(x)
    assert d.requires_grad and d.is_leaf and d.dtype == x.dtype and d.device == x.device
    assert d.grad.tolist() == [0.5, 0.5] and d.grad is not x.grad
    d.data.add_(1)
    assert x.tolist() == [1.0, 2.0]
    pair = copy.deepcopy([x, x])
    assert pair[0] is pair[1]
    ints = copy.deepcopy(sc.arange(3))
    assert ints.dtype == sc.int64 and not ints.requires_grad
    v = copy.deepcopy(sc.arange(6.0).view(2, 3)[1])
    assert v.tolist() == [3.0, 4.0, 5.0] and v._base is None
    for lib in (sc, torch):
        y = lib.tensor([1.0], requires_grad=True) * 2
        with pytest.raises(RuntimeError, match=r"Only Tensors created explicitly by the user \(graph"):
            copy.deepcopy(y)


def test_copy_shares_values_and_makes_a_leaf(torch):
    for lib in (sc, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        c = copy.copy(y)
        assert c.requires_grad and c.is_leaf and c.grad is None
        assert c.data_ptr() == y.data_ptr()
        assert copy.copy(x).requires_grad
