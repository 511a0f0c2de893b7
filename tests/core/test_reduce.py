"""Reductions: values, dtypes, gradients (finite differences and PyTorch) and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import studio.core as sc
from studio.core.autograd import gradcheck


def _flat(out):
    return list(out) if isinstance(out, tuple | list) else [out]


def compare(torch, fn, *arrays, grad=True, atol=1e-5):
    """Run `fn(lib, *tensors)` with studio.core and with PyTorch; compare outputs and gradients."""
    s_in = [sc.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    t_in = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    s_out, t_out = _flat(fn(sc, *s_in)), _flat(fn(torch, *t_in))
    assert len(s_out) == len(t_out)
    for so, to in zip(s_out, t_out):
        assert tuple(so.shape) == tuple(to.shape)
        assert str(so.dtype).split(".")[-1] == str(to.dtype).split(".")[-1]
        np.testing.assert_allclose(so.detach().numpy(), to.detach().numpy(), atol=atol, rtol=1e-5)
    if not grad:
        return
    rng = np.random.default_rng(1)
    s_loss, t_loss = 0, 0
    for so, to in zip(s_out, t_out):
        if to.requires_grad:
            w = rng.standard_normal(tuple(to.shape)).astype(np.float32)
            s_loss = s_loss + (so * sc.tensor(w)).sum()
            t_loss = t_loss + (to * torch.tensor(w)).sum()
    s_loss.backward()
    t_loss.backward()
    for s, t in zip(s_in, t_in):
        if t.requires_grad:
            tg = np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy()
            sg = np.zeros(tuple(s.shape)) if s.grad is None else s.grad.numpy()
            np.testing.assert_allclose(sg, tg, atol=atol, rtol=1e-4)


def check_grad(fn, *shapes, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    inputs = []
    for sh in shapes:
        a = rng.standard_normal(sh)
        if positive:
            a = np.abs(a) + 0.5
        inputs.append(sc.tensor(a, dtype=sc.float64, requires_grad=True))
    assert gradcheck(lambda *t: fn(sc, *t), inputs)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# name: (fn(lib, x), input shapes)
CASES = {
    "sum_all": (lambda L, x: x.sum(), (3, 4)),
    "sum_dim": (lambda L, x: x.sum(-1), (3, 4)),
    "sum_tuple_keep": (lambda L, x: L.sum(x, (0, 2), keepdim=True), (2, 3, 4)),
    "sum_0d": (lambda L, x: x.sum(), ()),
    "mean_all": (lambda L, x: x.mean(), (3, 4)),
    "mean_dim": (lambda L, x: x.mean(dim=(1, -1)), (2, 3, 4)),
    "mean_keep": (lambda L, x: L.mean(x, 0, keepdim=True), (3, 1)),
    "prod_all": (lambda L, x: x.prod(), (2, 3)),
    "prod_dim": (lambda L, x: x.prod(1, keepdim=True), (3, 4)),
    "var_all": (lambda L, x: x.var(), (3, 4)),
    "var_dim": (lambda L, x: x.var(0, correction=0), (3, 4)),
    "var_unbiased": (lambda L, x: L.var(x, 1, unbiased=False, keepdim=True), (3, 4)),
    "std_all": (lambda L, x: x.std(), (3, 4)),
    "std_dim": (lambda L, x: x.std(dim=(0, 1)), (2, 3, 4)),
    "max_all": (lambda L, x: x.max(), (3, 4)),
    "max_dim": (lambda L, x: x.max(1), (3, 4)),
    "max_dim_keep": (lambda L, x: x.max(-1, keepdim=True), (2, 3, 4)),
    "min_all": (lambda L, x: x.min(), (3, 4)),
    "min_dim": (lambda L, x: L.min(x, 0), (3, 4)),
    "amax": (lambda L, x: x.amax(1), (3, 4)),
    "amax_tuple": (lambda L, x: L.amax(x, (0, 2), keepdim=True), (2, 3, 4)),
    "amin_all": (lambda L, x: x.amin(), (3, 4)),
    "logsumexp": (lambda L, x: x.logsumexp(1), (3, 4)),
    "logsumexp_tuple": (lambda L, x: L.logsumexp(x, (0, -1), keepdim=True), (2, 3, 4)),
    "norm_fro": (lambda L, x: x.norm(), (3, 4)),
    "norm_2_dim": (lambda L, x: x.norm(dim=1), (3, 4)),
    "norm_1": (lambda L, x: x.norm(p=1, dim=0, keepdim=True), (3, 4)),
    "norm_inf": (lambda L, x: x.norm(p=math.inf, dim=-1), (3, 4)),
    "norm_ninf": (lambda L, x: x.norm(p=-math.inf), (3, 4)),
    "norm_3": (lambda L, x: x.norm(p=3, dim=(0, 1)), (2, 3, 4)),
    "norm_half": (lambda L, x: x.norm(p=0.5), (3, 4)),
    "cumsum": (lambda L, x: x.cumsum(1), (3, 4)),
    "cumsum_neg": (lambda L, x: L.cumsum(x, dim=-3), (2, 3, 4)),
    "sort": (lambda L, x: x.sort(1), (3, 4)),
    "sort_desc": (lambda L, x: L.sort(x, dim=0, descending=True), (3, 4)),
    "topk": (lambda L, x: x.topk(2), (3, 4)),
    "topk_small": (lambda L, x: L.topk(x, 2, dim=0, largest=False), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_torch(torch, name):
    fn, shape = CASES[name]
    compare(torch, fn, randn(*shape))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, shape = CASES[name]
    check_grad(fn, shape, positive=name == "norm_half")


def test_grad_fn_names():
    x = sc.randn(3, 4, requires_grad=True)
    names = {
        "SumBackward0": x.sum(),
        "SumBackward1": x.sum(0),
        "MeanBackward0": x.mean(),
        "MeanBackward1": x.mean(1),
        "ProdBackward1": x.prod(0),
        "VarBackward0": x.var(),
        "StdBackward0": x.std(0),
        "MaxBackward1": x.max(),
        "MaxBackward0": x.max(1).values,
        "MinBackward0": x.min(1)[0],
        "AmaxBackward0": x.amax(0),
        "LogsumexpBackward0": x.logsumexp(0),
        "LinalgVectorNormBackward0": x.norm(),
        "CumsumBackward0": x.cumsum(0),
        "SortBackward0": x.sort().values,
        "TopkBackward0": x.topk(1).values,
    }
    for name, out in names.items():
        assert out.grad_fn.name() == name


def test_ties_share_gradient(torch):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32)
    compare(torch, lambda L, x: x.amax(1), a)
    compare(torch, lambda L, x: x.max(), a)
    compare(torch, lambda L, x: x.amin(), a)
    compare(torch, lambda L, x: x.norm(p=math.inf), a)


def test_prod_with_zeros(torch):
    a = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]], np.float32)
    compare(torch, lambda L, x: x.prod(1), a)
    compare(torch, lambda L, x: x.prod(), a[2:])
    check_grad(lambda L, x: (x * sc.tensor([[0.0, 1, 1]], dtype=sc.float64)).prod(1), (2, 3))


def test_norm_zero_input_has_zero_grad():
    x = sc.zeros(3, requires_grad=True)
    x.norm().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_logsumexp_is_stable(torch):
    a = np.array([[1000.0, 1000.0], [-1000.0, -1e4], [-np.inf, -np.inf]], np.float32)
    compare(torch, lambda L, x: x.logsumexp(1), a, grad=False)
    assert sc.tensor([1000.0, 1000.0]).logsumexp(0).item() == pytest.approx(1000 + math.log(2))


def test_integer_dtypes(torch):
    a = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    for fn in (
        lambda L, x: x.sum(),
        lambda L, x: x.sum(0),
        lambda L, x: x.prod(1),
        lambda L, x: x.cumsum(1),
        lambda L, x: x.max(),
        lambda L, x: x.max(1),
        lambda L, x: x.argmax(),
        lambda L, x: x.argmin(1, keepdim=True),
        lambda L, x: x.count_nonzero(0),
        lambda L, x: L.all(x),
        lambda L, x: x.any(1),
        lambda L, x: x.sort(1, descending=True),
        lambda L, x: x.topk(2, 1),
    ):
        compare(torch, fn, a, grad=False)
    b = np.array([True, False, True])
    compare(torch, lambda L, x: x.sum(), b, grad=False)
    compare(torch, lambda L, x: x.cumsum(0), b, grad=False)


def test_logical_and_counts(torch):
    a = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]], np.float32)
    for fn in (
        lambda L, x: x.all(),
        lambda L, x: x.any(1, keepdim=True),
        lambda L, x: L.all(x, (0, 1)),
        lambda L, x: x.count_nonzero(),
        lambda L, x: L.count_nonzero(x, (0, 1)),
        lambda L, x: x.norm(p=0),
        lambda L, x: x.argmax(keepdim=True),
        lambda L, x: x.argmin(0),
    ):
        compare(torch, fn, a, grad=False)
    assert sc.tensor([1, 0], dtype=sc.uint8).any().dtype == sc.uint8


def test_stable_sort_with_ties_and_nan(torch):
    a = np.array([[1.0, np.nan, 0.0, 1.0, 0.0, 2.0]], np.float32)
    for desc in (False, True):
        compare(torch, lambda L, x, d=desc: x.sort(dim=1, descending=d, stable=True), a, grad=False)
        compare(torch, lambda L, x, d=desc: x.argsort(dim=1, descending=d, stable=True), a, grad=False)
    ints = np.array([3, 1, 3, 2, 1], np.int64)
    compare(torch, lambda L, x: L.sort(x, descending=True, stable=True), ints, grad=False)


def test_var_std_options(torch):
    a = randn(4, 5)
    compare(torch, lambda L, x: L.var(x, 1, True), a)
    compare(torch, lambda L, x: L.std(x, False), a)
    compare(torch, lambda L, x: x.var(1, correction=2, keepdim=True), a)
    compare(torch, lambda L, x: L.var_mean(x, 0), a)
    compare(torch, lambda L, x: L.std_mean(x, dim=1, keepdim=True), a)
    assert math.isnan(sc.tensor([1.0]).var().item())


def test_constant_std_grad_is_zero():
    x = sc.ones(2, 3, requires_grad=True)
    x.std(1).sum().backward()
    assert np.all(x.grad.numpy() == 0)


def test_named_tuples():
    x = sc.tensor([[1.0, 5.0, 2.0]])
    r = x.max(1)
    values, indices = r
    assert r.values is values and r[1] is indices and indices.tolist() == [1]
    assert type(r).__name__ == "max" and "return_types.max" in repr(r)
    assert type(x.sort()).__name__ == "sort" and type(x.topk(1)).__name__ == "topk"
    assert type(x.min(1)) is sc.return_types.min


def test_max_with_tensor_means_maximum():
    a, b = sc.tensor([1.0, 5.0]), sc.tensor([3.0, 2.0])
    assert sc.max(a, b).tolist() == [3.0, 5.0]
    assert sc.min(a, b).tolist() == [1.0, 2.0]


def test_scalar_inputs():
    x = sc.tensor(3.0, requires_grad=True)
    assert x.max(0).values.item() == 3.0 and x.max(0).indices.item() == 0
    assert x.sort().values.item() == 3.0 and x.topk(1).indices.item() == 0
    assert x.sum(0).item() == 3.0 and x.argmax(0).item() == 0
    x.max(0).values.backward()
    assert x.grad.item() == 1.0


def test_empty_inputs():
    assert sc.empty(0, 3).sum(0).tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(sc.empty(0, 3).mean(0).numpy()).all()
    assert sc.empty(0, 3).max(1).values.shape == (0,)


def test_float32_stays_float32():
    x = sc.randn(3, 4)
    for out in (x.sum(), x.mean(1), x.var(), x.std(0), x.norm(), x.logsumexp(1), x.prod(), x.cumsum(0)):
        assert out.dtype == sc.float32
    assert sc.arange(3).logsumexp(0).dtype == sc.float32
    assert x.sum(dtype=sc.float64).dtype == sc.float64


def test_errors():
    x = sc.randn(3, 4)
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified"):
        sc.empty(0).max()
    with pytest.raises(IndexError, match="reduction dim 0 to have non-zero size"):
        sc.empty(0, 3).max(0)
    with pytest.raises(IndexError, match="Dimension out of range|dimension out of range"):
        x.sum(2)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        x.sum((0, 0))
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        sc.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        sc.tensor([1, 2]).var()
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        x.topk(5)
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        sc.tensor([3, 4]).norm()
    with pytest.raises(RuntimeError, match="p must be 'fro' or a number"):
        x.norm(p="nuc")


# the same ops over more layouts: size-1 dims, negative dims, dim tuples
BY_DIM = {
    "sum": (lambda L, x, d: x.sum(d), True),
    "mean": (lambda L, x, d: x.mean(d, keepdim=True), True),
    "var": (lambda L, x, d: x.var(d, correction=0), True),
    "std": (lambda L, x, d: x.std(d, correction=0, keepdim=True), True),
    "amax": (lambda L, x, d: x.amax(d), True),
    "logsumexp": (lambda L, x, d: x.logsumexp(d), True),
    "norm": (lambda L, x, d: x.norm(dim=d), True),
    "max": (lambda L, x, d: x.max(d), False),
    "prod": (lambda L, x, d: x.prod(d), False),
    "cumsum": (lambda L, x, d: x.cumsum(d), False),
    "sort": (lambda L, x, d: x.sort(d, descending=True), False),
}
LAYOUTS = [((5,), -1), ((2, 1, 3), -2), ((1, 4), 0), ((2, 3, 1), (0, -1))]


@pytest.mark.parametrize(
    ("name", "layout"),
    [
        (name, i)
        for name, (_, tuples_ok) in sorted(BY_DIM.items())
        for i, (_, dim) in enumerate(LAYOUTS)
        if tuples_ok or not isinstance(dim, tuple)
    ],
)
def test_layouts(torch, name, layout):
    fn = BY_DIM[name][0]
    shape, dim = LAYOUTS[layout]
    compare(torch, lambda L, x: fn(L, x, dim), randn(*shape, seed=layout))
    check_grad(lambda L, x: fn(L, x, dim), shape, seed=layout)
