"""linear, bilinear, dropout, embedding, pad, one_hot, normalize and cosine_similarity."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import studio.core as sc
import studio.core.nn.functional as F
from studio.core.autograd import gradcheck


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


def _compare(torch, name, arrays, atol=1e-12, **kwargs):
    xs = [sc.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = getattr(F, name)(*xs, **kwargs)
    ref = getattr(torch.nn.functional, name)(*ts, **kwargs)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=atol, rtol=1e-9)
    direction = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    out.backward(sc.tensor(direction))
    ref.backward(torch.tensor(direction))
    for x, t in zip(xs, ts):
        if t.requires_grad:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol, rtol=1e-9)
    return xs


# ---------------------------------------------------------------------------------------- linear


@pytest.mark.parametrize(
    "shapes", [[(4, 3), (5, 3), (5,)], [(2, 4, 3), (5, 3), (5,)], [(4, 3), (5, 3)], [(3,), (5, 3)]]
)
def test_linear_matches_torch_and_gradcheck(torch, shapes):
    _compare(torch, "linear", [_rand(*s, seed=i) for i, s in enumerate(shapes)])
    small = [
        sc.tensor(_rand(*s[:-1], 2, seed=i) if i == 0 else _rand(*s, seed=i), requires_grad=True)
        for i, s in enumerate([(3, 2), (2, 2), (2,)][: len(shapes)])
    ]
    assert gradcheck(F.linear, small)


def test_linear_is_one_fused_node_and_keeps_float32():
    x = sc.randn(8, 4, requires_grad=True)
    w = sc.randn(3, 4, requires_grad=True)
    b = sc.randn(3, requires_grad=True)
    out = F.linear(x, w, b)
    assert out.grad_fn.name() == "AddmmBackward0" and out.dtype == sc.float32
    out.sum().backward()
    assert w.grad.dtype == sc.float32 and b.grad.tolist() == [8.0, 8.0, 8.0]


def test_linear_shape_error():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(8x5 and 4x3\)"):
        F.linear(sc.randn(8, 5), sc.randn(3, 4))


def test_bilinear_matches_torch_and_gradcheck(torch):
    _compare(torch, "bilinear", [_rand(4, 3), _rand(4, 5, seed=1), _rand(2, 3, 5, seed=2), _rand(2, seed=3)])
    _compare(torch, "bilinear", [_rand(2, 4, 3), _rand(2, 4, 5, seed=1), _rand(2, 3, 5, seed=2)])
    args = [
        sc.tensor(_rand(*s, seed=i), requires_grad=True)
        for i, s in enumerate([(2, 2), (2, 3), (2, 2, 3), (2,)])
    ]
    assert gradcheck(F.bilinear, args)


# --------------------------------------------------------------------------------------- dropout


def test_dropout_is_repeatable_with_manual_seed_and_scales():
    sc.manual_seed(3)
    a = F.dropout(sc.ones(40, 50), 0.3)
    sc.manual_seed(3)
    b = F.dropout(sc.ones(40, 50), 0.3)
    assert a.equal(b)
    np.testing.assert_allclose(np.unique(a.numpy()), [0.0, 1 / 0.7], rtol=1e-6)
    assert 0.2 < (a.numpy() == 0).mean() < 0.4
    assert a.dtype == sc.float32


def test_dropout_gradient_uses_the_same_mask():
    x = sc.ones(200, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())


def test_dropout_eval_identity_and_edge_probabilities():
    x = sc.randn(5)
    assert F.dropout(x, 0.5, training=False) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    assert F.dropout(x, 0.0).equal(x)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_dropout_inplace_writes_into_input():
    x = sc.ones(100)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x and (x.numpy() == 0).any()


def test_dropout2d_zeroes_whole_channels():
    out = F.dropout2d(sc.ones(4, 6, 3, 3), 0.5).numpy()
    per_channel = out.reshape(4, 6, -1)
    assert ((per_channel == 0).all(axis=2) | (per_channel == 2).all(axis=2)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out3 = F.dropout2d(sc.ones(4, 6, 5), 0.5).numpy()
    assert ((out3 == 0).all(axis=2) | (out3 == 2).all(axis=2)).all()


# ------------------------------------------------------------------------------------- embedding


@pytest.mark.parametrize(
    "kwargs", [{}, {"padding_idx": 1}, {"padding_idx": -1}, {"scale_grad_by_freq": True}, {"max_norm": 1.0}]
)
def test_embedding_matches_torch(torch, kwargs):
    idx = np.array([[1, 2, 4], [4, 3, 1], [5, 5, 0]])
    xs = _compare(torch, "embedding", [idx, _rand(6, 3)], **kwargs)
    if "padding_idx" in kwargs:
        assert (xs[1].grad.numpy()[kwargs["padding_idx"]] == 0).all()


def test_embedding_errors():
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(sc.tensor([1, 7]), sc.randn(5, 3))
    with pytest.raises(RuntimeError, match="indices"):
        F.embedding(sc.tensor([1.0]), sc.randn(5, 3))


# ------------------------------------------------------------------------------------------- pad


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((2, 3, 4), dict(pad=(1, 2))),
        ((2, 3, 4), dict(pad=(1, 2, -1, 2), value=3.0)),
        ((2, 3, 4, 5), dict(pad=(1, 2, 3, 0), mode="reflect")),
        ((2, 3, 4, 5), dict(pad=(1, 2, 3, 0), mode="replicate")),
        ((2, 3, 4, 5), dict(pad=(1, 2, 3, 0), mode="circular")),
        ((2, 3, 5), dict(pad=(4, 2), mode="reflect")),
    ],
)
def test_pad_matches_torch_and_gradcheck(torch, shape, kwargs):
    _compare(torch, "pad", [_rand(*shape)], **kwargs)
    x = sc.tensor(_rand(1, *shape[-2:], seed=4), requires_grad=True)
    assert gradcheck(lambda x: F.pad(x, **kwargs), (x,))


def test_pad_errors():
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(sc.randn(2, 3), (1,))
    with pytest.raises(
        RuntimeError, match="Padding size should be less than the corresponding input dimension"
    ):
        F.pad(sc.randn(1, 2, 3), (3, 3), mode="reflect")


# ------------------------------------------------------------------------------------- one-hot


def test_one_hot(torch):
    t = np.array([[0, 2], [1, 2]])
    np.testing.assert_array_equal(
        F.one_hot(sc.tensor(t)).numpy(), torch.nn.functional.one_hot(torch.tensor(t)).numpy()
    )
    out = F.one_hot(sc.tensor([0, 2]), 4)
    assert out.dtype == sc.int64 and out.shape == (2, 4)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(sc.tensor([1, 5]), 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative."):
        F.one_hot(sc.tensor([1, -1]), 3)


# ----------------------------------------------------------------------- normalize and cosine


@pytest.mark.parametrize("kwargs", [{}, {"p": 3, "dim": -1}, {"p": 1, "dim": 0}, {"p": float("inf")}])
def test_normalize_matches_torch_and_gradcheck(torch, kwargs):
    _compare(torch, "normalize", [_rand(3, 4, 2)], **kwargs)
    x = sc.tensor(_rand(2, 3, seed=5), requires_grad=True)
    assert gradcheck(lambda x: F.normalize(x, **kwargs), (x,))


@pytest.mark.parametrize(
    "shapes,dim", [([(3, 4), (3, 4)], 1), ([(3, 4, 5), (4, 1)], 1), ([(2, 3), (2, 3)], 0)]
)
def test_cosine_similarity_matches_torch_and_gradcheck(torch, shapes, dim):
    _compare(torch, "cosine_similarity", [_rand(*shapes[0]), _rand(*shapes[1], seed=1)], dim=dim)
    a = sc.tensor(_rand(*shapes[0], seed=2), requires_grad=True)
    b = sc.tensor(_rand(*shapes[1], seed=3), requires_grad=True)
    assert gradcheck(lambda a, b: F.cosine_similarity(a, b, dim=dim), (a, b))
