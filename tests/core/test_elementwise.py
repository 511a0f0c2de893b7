"""Elementwise ops: values and gradients against finite differences (float64) and against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.extra import numpy as hnp

import studio.core as sc
from studio.core.autograd import gradcheck

# name -> (function of studio.core or torch module, how to draw valid inputs)
POSITIVE = "positive"
ANY = "any"
AWAY = "away"  # away from kinks and ties: |x| > 0.1

UNARY = {
    "exp": (lambda m, x: m.exp(x), ANY),
    "log": (lambda m, x: m.log(x), POSITIVE),
    "log1p": (lambda m, x: m.log1p(x), POSITIVE),
    "log2": (lambda m, x: m.log2(x), POSITIVE),
    "log10": (lambda m, x: m.log10(x), POSITIVE),
    "expm1": (lambda m, x: m.expm1(x), ANY),
    "sqrt": (lambda m, x: m.sqrt(x), POSITIVE),
    "rsqrt": (lambda m, x: m.rsqrt(x), POSITIVE),
    "sin": (lambda m, x: m.sin(x), ANY),
    "cos": (lambda m, x: m.cos(x), ANY),
    "tan": (lambda m, x: m.tan(x), AWAY),
    "tanh": (lambda m, x: m.tanh(x), ANY),
    "sigmoid": (lambda m, x: m.sigmoid(x), ANY),
    "abs": (lambda m, x: m.abs(x), AWAY),
    "neg": (lambda m, x: -x, ANY),
    "square": (lambda m, x: m.square(x), ANY),
    "reciprocal": (lambda m, x: m.reciprocal(x), AWAY),
    "pow_scalar": (lambda m, x: x**3, ANY),
    "pow_frac": (lambda m, x: x**0.5, POSITIVE),
    "rpow": (lambda m, x: 2.0**x, ANY),
    "add_scalar": (lambda m, x: x + 2.5, ANY),
    "radd": (lambda m, x: 2.5 + x, ANY),
    "sub_scalar": (lambda m, x: x - 2.5, ANY),
    "rsub": (lambda m, x: 2.5 - x, ANY),
    "mul_scalar": (lambda m, x: x * 3, ANY),
    "rmul": (lambda m, x: 3 * x, ANY),
    "div_scalar": (lambda m, x: x / 4, ANY),
    "rdiv": (lambda m, x: 4 / x, AWAY),
    "clamp": (lambda m, x: m.clamp(x, -0.5, 0.5), AWAY),
    "clamp_min": (lambda m, x: m.clamp(x, min=0.3), AWAY),
    "clamp_max": (lambda m, x: x.clamp(max=0.3), AWAY),
    "sign": (lambda m, x: m.sign(x) * x, AWAY),
    "floor": (lambda m, x: m.floor(x) + x, AWAY),
    "ceil": (lambda m, x: m.ceil(x) + x, AWAY),
    "round": (lambda m, x: m.round(x) + x, AWAY),
    "trunc": (lambda m, x: m.trunc(x) + x, AWAY),
    "frac": (lambda m, x: m.frac(x), AWAY),
    "clone": (lambda m, x: m.clone(x) * 2, ANY),
}

BINARY = {
    "add": (lambda m, a, b: a + b, ANY),
    "add_alpha": (lambda m, a, b: m.add(a, b, alpha=2.5), ANY),
    "sub": (lambda m, a, b: a - b, ANY),
    "sub_alpha": (lambda m, a, b: m.sub(a, b, alpha=0.5), ANY),
    "mul": (lambda m, a, b: a * b, ANY),
    "div": (lambda m, a, b: a / b, AWAY),
    "pow": (lambda m, a, b: a**b, POSITIVE),
    "maximum": (lambda m, a, b: m.maximum(a, b), ANY),
    "minimum": (lambda m, a, b: m.minimum(a, b), ANY),
    "where": (lambda m, a, b: m.where(a > 0, a, b), AWAY),
    "lerp": (lambda m, a, b: m.lerp(a, b, 0.3), ANY),
    "atan_like": (lambda m, a, b: (a * b).tanh() / (1 + b * b), ANY),
}

SHAPE_PAIRS = [((3,), (3,)), ((2, 3), (3,)), ((2, 1, 3), (4, 1)), ((), (2, 2)), ((1, 3), (2, 1))]


def _draw(shape, kind, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if kind == POSITIVE:
        x = np.abs(x) + 0.5
    elif kind == AWAY:
        x = np.where(x >= 0, x + 0.2, x - 0.2)
        x = np.where(np.abs(x - np.round(x)) < 0.1, x + 0.25, x)  # away from integers and halves
    return x


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (1, 3)])
def test_unary_gradcheck(name, shape):
    fn, kind = UNARY[name]
    x = sc.tensor(_draw(shape, kind, 1), dtype=sc.float64, requires_grad=True)
    assert gradcheck(lambda t: fn(sc, t), (x,))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(name, torch):
    fn, kind = UNARY[name]
    data = _draw((2, 3), kind, 2).astype(np.float32)
    x = sc.tensor(data, requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)
    y, yt = fn(sc, x), fn(torch, xt)
    assert y.dtype == sc.float32 and tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    y.backward(sc.ones_like(y))
    yt.backward(torch.ones_like(yt))
    assert x.grad.dtype == sc.float32
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", SHAPE_PAIRS)
def test_binary_gradcheck_with_broadcasting(name, shapes):
    fn, kind = BINARY[name]
    a = sc.tensor(_draw(shapes[0], kind, 3), dtype=sc.float64, requires_grad=True)
    b = sc.tensor(_draw(shapes[1], kind, 4), dtype=sc.float64, requires_grad=True)
    assert gradcheck(lambda p, q: fn(sc, p, q), (a, b))


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", SHAPE_PAIRS)
def test_binary_matches_torch(name, shapes, torch):
    fn, kind = BINARY[name]
    da = _draw(shapes[0], kind, 5).astype(np.float32)
    db = _draw(shapes[1], kind, 6).astype(np.float32)
    a, b = sc.tensor(da, requires_grad=True), sc.tensor(db, requires_grad=True)
    at, bt = torch.tensor(da, requires_grad=True), torch.tensor(db, requires_grad=True)
    y, yt = fn(sc, a, b), fn(torch, at, bt)
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    for ours, theirs in ((a, at), (b, bt)):
        assert tuple(ours.grad.shape) == tuple(theirs.grad.shape)
        assert ours.grad.dtype == sc.float32
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_only_the_inputs_that_need_it_get_gradients():
    a = sc.randn(3, requires_grad=True)
    b = sc.randn(3)
    (a * b).sum().backward()
    assert b.grad is None and a.grad is not None
    np.testing.assert_allclose(a.grad.numpy(), b.numpy())


def test_maximum_ties_split_the_gradient(torch):
    a = sc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = sc.tensor([1.0, 5.0, 0.0], requires_grad=True)
    sc.maximum(a, b).sum().backward()
    at = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    bt = torch.tensor([1.0, 5.0, 0.0], requires_grad=True)
    torch.maximum(at, bt).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), at.grad.numpy())
    np.testing.assert_allclose(b.grad.numpy(), bt.grad.numpy())


def test_fmax_ignores_nan_and_maximum_propagates_it():
    a = sc.tensor([float("nan"), 1.0])
    b = sc.tensor([2.0, float("nan")])
    assert np.isnan(sc.maximum(a, b).numpy()).all()
    np.testing.assert_array_equal(sc.fmax(a, b).numpy(), [2.0, 1.0])
    np.testing.assert_array_equal(sc.fmin(a, b).numpy(), [2.0, 1.0])


def test_pow_gradient_at_zero_base(torch):
    for base, exp in (([0.0, 2.0], [0.0, 0.0]), ([0.0, 1.0], [2.0, 3.0])):
        a = sc.tensor(base, requires_grad=True)
        b = sc.tensor(exp, requires_grad=True)
        (a**b).sum().backward()
        at = torch.tensor(base, requires_grad=True)
        bt = torch.tensor(exp, requires_grad=True)
        (at**bt).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), at.grad.numpy())
        np.testing.assert_allclose(b.grad.numpy(), bt.grad.numpy())


def test_rpow_gradient_and_integer_results(torch):
    x = sc.tensor([0.5, 1.0, 2.0], requires_grad=True)
    (3**x).sum().backward()
    xt = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
    (3**xt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6)
    assert (2 ** sc.tensor([1, 2])).tolist() == [2, 4]
    assert (2 ** sc.tensor([1, 2])).dtype == sc.int64


def test_clamp_values_and_dtype(torch):
    data = [-2.0, -0.5, 0.0, 0.5, 2.0]
    for lo, hi in ((-1.0, 1.0), (None, 0.2), (0.1, None), (1.0, -1.0)):
        ours = sc.clamp(sc.tensor(data), lo, hi)
        theirs = torch.clamp(torch.tensor(data), lo, hi)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert sc.tensor([1, 5, 9]).clamp(2, 6).tolist() == [2, 5, 6]
    assert sc.tensor([1, 5, 9]).clamp(2.5).dtype == sc.float32
    with pytest.raises(RuntimeError, match="min.*max"):
        sc.clamp(sc.tensor([1.0]))


def test_clamp_with_tensor_bounds():
    x = sc.tensor([-2.0, 0.0, 2.0], requires_grad=True)
    lo = sc.tensor([-1.0, -1.0, -1.0])
    hi = sc.tensor([1.0, 1.0, 1.0])
    y = sc.clamp(x, lo, hi)
    assert y.tolist() == [-1.0, 0.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_where_forms(torch):
    cond = sc.tensor([True, False, True])
    x = sc.tensor([1.0, 2.0, 3.0])
    assert sc.where(cond, x, 0.0).tolist() == [1.0, 0.0, 3.0]
    assert sc.where(cond, 1.0, x).tolist() == [1.0, 2.0, 1.0]
    assert sc.where(cond, 1.0, 0.0).dtype == sc.float32
    assert sc.where(cond, 1, 0).dtype == sc.int64
    assert torch.where(torch.tensor([True]), 1.0, 0.0).dtype == torch.float32
    assert sc.where(cond, sc.tensor([1, 2, 3]), 2.5).dtype == sc.float32
    idx = sc.where(cond)
    assert isinstance(idx, tuple) and idx[0].tolist() == [0, 2]
    with pytest.raises(RuntimeError, match="bool"):
        sc.where(sc.tensor([1, 0]), x[:2], x[:2])
    with pytest.raises(RuntimeError, match="broadcast"):
        sc.where(cond, sc.ones(3), sc.ones(4))


def test_comparisons_and_logic_have_no_gradient(torch):
    a = sc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = sc.tensor([3.0, 2.0, 1.0])
    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        ours = getattr(sc, op)(a, b)
        theirs = getattr(torch, op)(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 2.0, 1.0]))
        assert ours.dtype == sc.bool and not ours.requires_grad and ours.grad_fn is None
        assert ours.tolist() == theirs.tolist()
    assert (a > 1.5).tolist() == [False, True, True]
    assert (a > 2).tolist() == [False, False, True]
    assert (a == 2).tolist() == [False, True, False]
    p, q = sc.tensor([True, False, True]), sc.tensor([True, True, False])
    assert sc.logical_and(p, q).tolist() == [True, False, False]
    assert sc.logical_or(p, q).tolist() == [True, True, True]
    assert sc.logical_xor(p, q).tolist() == [False, True, True]
    assert sc.logical_not(p).tolist() == [False, True, False]
    assert (p & q).tolist() == [True, False, False] and (p | q).tolist() == [True, True, True]
    assert (~p).tolist() == [False, True, False] and (p ^ q).tolist() == [False, True, True]
    assert (sc.tensor([6]) & 3).tolist() == [2]
    assert sc.isnan(sc.tensor([float("nan"), 1.0])).tolist() == [True, False]
    assert sc.isinf(sc.tensor([float("inf"), 1.0])).tolist() == [True, False]
    assert sc.isfinite(sc.tensor([float("inf"), 1.0])).tolist() == [False, True]
    assert sc.equal(sc.tensor([1, 2]), sc.tensor([1, 2])) and not sc.equal(sc.tensor([1]), sc.tensor([1, 2]))
    assert sc.allclose(sc.tensor([1.0]), sc.tensor([1.0 + 1e-7]))


def test_rounding_ops_match_torch(torch):
    data = [-2.5, -1.5, -0.4, 0.5, 1.5, 2.5, 3.7]
    for name in ("floor", "ceil", "round", "trunc", "frac", "sign"):
        ours = getattr(sc, name)(sc.tensor(data))
        theirs = getattr(torch, name)(torch.tensor(data))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), err_msg=name)
    np.testing.assert_allclose(
        sc.round(sc.tensor([1.2345, 2.5678]), decimals=2).numpy(),
        torch.round(torch.tensor([1.2345, 2.5678]), decimals=2).numpy(),
    )
    x = sc.tensor([1.26], requires_grad=True)
    sc.round(x, decimals=1).sum().backward()
    assert x.grad.tolist() == [0.0]


def test_integer_division_forms(torch):
    a, b = [7, -7, 6], [2, 2, -4]
    for mode in (None, "trunc", "floor"):
        ours = sc.div(sc.tensor(a), sc.tensor(b), rounding_mode=mode)
        theirs = torch.div(torch.tensor(a), torch.tensor(b), rounding_mode=mode)
        assert ours.tolist() == theirs.tolist() and ours.dtype.name == str(theirs.dtype).split(".")[1]
    assert (sc.tensor([7, -7]) // 2).tolist() == (torch.tensor([7, -7]) // 2).tolist()
    assert (sc.tensor([7.0, -7.0]) % 3).tolist() == (torch.tensor([7.0, -7.0]) % 3).tolist()
    with pytest.raises(ValueError, match="rounding_mode"):
        sc.div(sc.tensor([1.0]), 2, rounding_mode="up")
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        sc.div(sc.tensor([1]), 0, rounding_mode="floor")


def test_floor_divide_gradient_is_zero():
    x = sc.tensor([3.0, 5.0], requires_grad=True)
    (x // 2).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_broadcast_errors_name_the_shapes():
    a, b = sc.ones(2, 3), sc.ones(4)
    for op in (sc.add, sc.sub, sc.mul, sc.div, sc.maximum, sc.pow, sc.lt):
        with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(4,\)"):
            op(a, b)


def test_bad_operands_raise_clearly():
    with pytest.raises(RuntimeError, match="bool"):
        sc.tensor([True]) - sc.tensor([False])
    with pytest.raises(RuntimeError, match="bool"):
        -sc.tensor([True])
    with pytest.raises(RuntimeError, match="negative integer powers"):
        sc.tensor([2]) ** -1
    with pytest.raises(TypeError, match="str"):
        sc.ones(2) + "a"
    with pytest.raises(TypeError, match="None"):
        sc.ones(2) * None
    with pytest.raises(RuntimeError, match="float"):
        sc.ones(2) & sc.ones(2)


def test_ops_with_numpy_and_lists():
    x = sc.tensor([1.0, 2.0])
    assert (x + np.array([1.0, 1.0])).tolist() == [2.0, 3.0]
    assert (x * [2, 3]).tolist() == [2.0, 6.0]
    assert (x + np.float64(1.0)).dtype == sc.float32
    assert (x * np.int64(2)).dtype == sc.float32


def test_elementwise_ops_keep_float16_and_float64():
    for dt in (sc.float16, sc.float64):
        x = sc.ones(3, dtype=dt)
        for fn in (sc.exp, sc.sigmoid, sc.sqrt, sc.log1p, sc.tanh, lambda t: t * 2.5 + 1, lambda t: t / 3):
            assert fn(x).dtype == dt


def test_unary_ops_on_integers_give_default_float(torch):
    x = sc.tensor([1, 2, 3])
    for name in ("exp", "log", "sqrt", "sin", "sigmoid", "rsqrt", "reciprocal"):
        assert getattr(sc, name)(x).dtype == sc.float32
        assert getattr(torch, name)(torch.tensor([1, 2, 3])).dtype == torch.float32
    assert sc.abs(sc.tensor([-1, 2])).tolist() == [1, 2] and sc.abs(sc.tensor([-1])).dtype == sc.int64
    assert sc.neg(sc.tensor([1])).dtype == sc.int64


def test_sigmoid_is_stable_for_large_inputs():
    y = sc.sigmoid(sc.tensor([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(y.numpy(), [0.0, 0.5, 1.0])


def test_mixed_precision_gradients_keep_the_input_dtype():
    a = sc.ones(3, dtype=sc.float16, requires_grad=True)
    b = sc.ones(3, dtype=sc.float32, requires_grad=True)
    h = a * 2  # float16 intermediate
    h.retain_grad()
    y = h * b  # promotes to float32
    assert y.dtype == sc.float32
    y.sum().backward()
    assert h.grad.dtype == sc.float16 and a.grad.dtype == sc.float16 and b.grad.dtype == sc.float32
    for op in (sc.add, sc.sub, sc.div, sc.maximum, sc.pow, lambda p, q: sc.where(p > 0, p, q)):
        a.grad = None
        c = a * 1
        c.retain_grad()
        op(c, b).sum().backward()
        assert c.grad.dtype == sc.float16


def test_lerp_addcmul_addcdiv(torch):
    a, b, w = [0.0, 1.0], [2.0, 3.0], [0.5, 0.25]
    assert sc.lerp(sc.tensor(a), sc.tensor(b), 0.5).tolist() == [1.0, 2.0]
    np.testing.assert_allclose(
        sc.lerp(sc.tensor(a), sc.tensor(b), sc.tensor(w)).numpy(),
        torch.lerp(torch.tensor(a), torch.tensor(b), torch.tensor(w)).numpy(),
    )
    np.testing.assert_allclose(
        sc.addcmul(sc.tensor(a), sc.tensor(b), sc.tensor(w), value=2).numpy(),
        torch.addcmul(torch.tensor(a), torch.tensor(b), torch.tensor(w), value=2).numpy(),
    )
    np.testing.assert_allclose(
        sc.addcdiv(sc.tensor(a), sc.tensor(b), sc.tensor(w), value=2).numpy(),
        torch.addcdiv(torch.tensor(a), torch.tensor(b), torch.tensor(w), value=2).numpy(),
    )


def test_casts_record_gradient_only_to_float():
    x = sc.tensor([1.5, 2.5], requires_grad=True)
    d = x.double()
    assert d.dtype == sc.float64 and d.grad_fn.name() == "ToCopyBackward0"
    (d * 2).sum().backward()
    assert x.grad.dtype == sc.float32 and x.grad.tolist() == [2.0, 2.0]
    i = x.long()
    assert i.dtype == sc.int64 and not i.requires_grad and i.tolist() == [1, 2]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
def test_broadcast_gradients_match_torch_for_random_shapes(shapes, torch):
    (sa, sb), _ = shapes
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    da = rng.standard_normal(sa).astype(np.float32)
    db = (np.abs(rng.standard_normal(sb)) + 0.5).astype(np.float32)
    for op in (lambda m, a, b: a * b + a, lambda m, a, b: a / b - b, lambda m, a, b: m.maximum(a, b)):
        a, b = sc.tensor(da, requires_grad=True), sc.tensor(db, requires_grad=True)
        at, bt = torch.tensor(da, requires_grad=True), torch.tensor(db, requires_grad=True)
        op(sc, a, b).sum().backward()
        op(torch, at, bt).sum().backward()
        for ours, theirs in ((a, at), (b, bt)):
            assert tuple(ours.grad.shape) == tuple(theirs.grad.shape)
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6)
