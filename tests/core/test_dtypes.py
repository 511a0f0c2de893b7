"""dtypes and PyTorch's type promotion: result dtypes compared with torch over a grid of cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import studio.core as sc
from studio.core import backend as B

NAMES = ["float16", "float32", "float64", "int32", "int64", "bool"]
SCALARS = [2, 2.5, True]
OPS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "sub": lambda a, b: a - b,
    "maximum": lambda a, b: a.maximum(b) if hasattr(a, "maximum") else None,
    "lt": lambda a, b: a < b,
    "where": None,
}


def _make(m, name, zero_dim):
    dt = getattr(m, name)
    if zero_dim:
        return m.tensor(1, dtype=dt) if name != "bool" else m.tensor(True)
    return m.ones(2, dtype=dt)


def _name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


@pytest.mark.parametrize("op", ["add", "mul", "div", "sub", "maximum", "lt"])
def test_tensor_tensor_promotion_matches_torch(op, torch):
    fn = OPS[op]
    checked = 0
    for a, b in itertools.product(NAMES, NAMES):
        for za, zb in ((False, False), (True, False), (False, True), (True, True)):
            ta, tb = _make(torch, a, za), _make(torch, b, zb)
            try:
                expected = fn(ta, tb)
            except RuntimeError:
                with pytest.raises(RuntimeError):
                    fn(_make(sc, a, za), _make(sc, b, zb))
                continue
            got = fn(_make(sc, a, za), _make(sc, b, zb))
            assert got.dtype.name == _name(expected.dtype), (op, a, za, b, zb)
            assert tuple(got.shape) == tuple(expected.shape)
            checked += 1
    assert checked >= 100


@pytest.mark.parametrize("op", ["add", "mul", "div", "sub", "lt"])
def test_tensor_scalar_promotion_matches_torch(op, torch):
    fn = OPS[op]
    for name, scalar, zero_dim in itertools.product(NAMES, SCALARS, (False, True)):
        for left in (True, False):
            ta = _make(torch, name, zero_dim)
            pair = (lambda t, s=scalar: fn(t, s)) if left else (lambda t, s=scalar: fn(s, t))
            try:
                expected = pair(ta)
            except (RuntimeError, TypeError):
                with pytest.raises((RuntimeError, TypeError)):
                    pair(_make(sc, name, zero_dim))
                continue
            got = pair(_make(sc, name, zero_dim))
            assert got.dtype.name == _name(expected.dtype), (op, name, scalar, zero_dim, left)
            np.testing.assert_allclose(
                got.numpy().astype(np.float64), expected.numpy().astype(np.float64), rtol=1e-3
            )


def test_where_promotion_matches_torch(torch):
    for a, b in itertools.product(NAMES, NAMES):
        expected = torch.where(torch.tensor([True, False]), _make(torch, a, False), _make(torch, b, False))
        got = sc.where(sc.tensor([True, False]), _make(sc, a, False), _make(sc, b, False))
        assert got.dtype.name == _name(expected.dtype), (a, b)


def test_the_promotions_named_in_the_issue():
    assert (sc.tensor([1, 2]) * 2.5).dtype == sc.float32
    assert (sc.tensor([1, 2]) / sc.tensor([2, 2])).dtype == sc.float32
    assert (sc.tensor([1, 2]) / 2).dtype == sc.float32
    assert (sc.ones(2, dtype=sc.float16) + sc.ones(2, dtype=sc.float32)).dtype == sc.float32
    assert (sc.ones(2) + sc.tensor(1.0, dtype=sc.float64)).dtype == sc.float32  # 0-d tensors are weak
    assert (sc.ones(2, dtype=sc.int32) + sc.tensor(5)).dtype == sc.int32
    assert (sc.tensor([1, 2]) + sc.tensor(2.5, dtype=sc.float64)).dtype == sc.float64
    assert (sc.ones(2, dtype=sc.float16) * 2.5).dtype == sc.float16
    assert (sc.tensor([True]) + 1).dtype == sc.int64
    assert (sc.ones(2) + 1).dtype == sc.float32  # never silently float64


def test_dtype_objects():
    assert sc.float32 is sc.float and sc.float64 is sc.double and sc.int64 is sc.long
    assert sc.int32 is sc.int and sc.bool_ is sc.bool and sc.float16 is sc.half
    assert repr(sc.float32) == "studio.core.float32"
    assert sc.float32.is_floating_point and not sc.int64.is_floating_point
    assert sc.float64.itemsize == 8 and sc.bool.itemsize == 1
    assert B.as_dtype("float64") is sc.float64
    assert B.as_dtype(np.float32) is sc.float32
    assert B.as_dtype(float) is sc.float32 and B.as_dtype(int) is sc.int64 and B.as_dtype(bool) is sc.bool
    assert B.promote_types(sc.int32, sc.float16) is sc.float16
    assert B.promote_types(sc.uint8, sc.int8) is sc.int16
    import pickle

    assert pickle.loads(pickle.dumps(sc.float64)) is sc.float64


def test_bad_dtypes_are_refused():
    with pytest.raises(TypeError, match="unknown dtype name 'float128'"):
        B.as_dtype("float128")
    with pytest.raises(TypeError, match="complex128"):
        sc.from_numpy(np.ones(2, dtype=np.complex128))
    with pytest.raises(TypeError, match="floating-point"):
        sc.set_default_dtype(sc.int64)


def test_default_dtype_switch():
    assert sc.get_default_dtype() is sc.float32
    sc.set_default_dtype(sc.float64)
    try:
        assert sc.tensor([1.5]).dtype == sc.float64
        assert sc.zeros(2).dtype == sc.float64
        assert (sc.tensor([1, 2]) * 0.5).dtype == sc.float64
        assert repr(sc.tensor([1.5])) == "tensor([1.5000])"
    finally:
        sc.set_default_dtype(sc.float32)
    assert sc.tensor([1.5]).dtype == sc.float32


def test_to_and_conversion_methods():
    x = sc.tensor([1.7, -2.2])
    assert x.to(sc.float64).dtype == sc.float64
    assert x.to(dtype=sc.float16).dtype == sc.float16
    assert x.long().tolist() == [1, -2] and x.long().dtype == sc.int64
    assert x.int().dtype == sc.int32 and x.double().dtype == sc.float64 and x.half().dtype == sc.float16
    assert x.bool().tolist() == [True, True]
    assert x.long().float().dtype == sc.float32
    assert x.to(sc.float32) is x
    assert x.to(sc.ones(1, dtype=sc.float64)).dtype == sc.float64
    assert x.type() == "torch.FloatTensor" and x.type(sc.float64).dtype == sc.float64
    assert x.type_as(sc.tensor([1])).dtype == sc.int64
    with pytest.raises(TypeError, match="invalid argument"):
        x.to([1])
