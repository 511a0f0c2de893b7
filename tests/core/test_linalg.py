"""Matrix products and einsum: values, gradients (finite differences and PyTorch) and errors."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core.autograd import gradcheck


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def compare(torch, fn, *arrays):
    """Run `fn(lib, *tensors)` with studio.core and PyTorch; compare the output and every gradient."""
    s_in = [sc.tensor(a, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    so, to = fn(sc, *s_in), fn(torch, *t_in)
    assert tuple(so.shape) == tuple(to.shape) and so.dtype == sc.float32
    np.testing.assert_allclose(so.detach().numpy(), to.detach().numpy(), atol=1e-5, rtol=1e-5)
    w = np.random.default_rng(1).standard_normal(tuple(to.shape)).astype(np.float32)
    (so * sc.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for s, t in zip(s_in, t_in):
        np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), atol=1e-5, rtol=1e-4)


# name: (fn(lib, a, b...), shapes)
CASES = {
    "mm": (lambda L, a, b: a @ b, [(3, 4), (4, 2)]),
    "vec_vec": (lambda L, a, b: L.matmul(a, b), [(4,), (4,)]),
    "mat_vec": (lambda L, a, b: a @ b, [(3, 4), (4,)]),
    "vec_mat": (lambda L, a, b: a @ b, [(4,), (4, 2)]),
    "batched": (lambda L, a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    "batch_mat": (lambda L, a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "mat_batch": (lambda L, a, b: a @ b, [(3, 4), (2, 4, 5)]),
    "broadcast_batch": (lambda L, a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)]),
    "batch_vec": (lambda L, a, b: a @ b, [(2, 3, 4), (4,)]),
    "vec_batch": (lambda L, a, b: a @ b, [(3,), (2, 3, 4)]),
    "mm_fn": (lambda L, a, b: L.mm(a, b), [(3, 4), (4, 2)]),
    "bmm": (lambda L, a, b: a.bmm(b), [(2, 3, 4), (2, 4, 1)]),
    "mv": (lambda L, a, b: a.mv(b), [(3, 4), (4,)]),
    "dot": (lambda L, a, b: L.dot(a, b), [(5,), (5,)]),
    "outer": (lambda L, a, b: a.outer(b), [(3,), (2,)]),
    "einsum_mm": (lambda L, a, b: L.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)]),
    "einsum_batch": (lambda L, a, b: L.einsum("bij,bkj->bik", a, b), [(2, 3, 4), (2, 5, 4)]),
    "einsum_sum": (lambda L, a: L.einsum("ij->i", a), [(3, 4)]),
    "einsum_implicit": (lambda L, a, b: L.einsum("ij,jk", a, b), [(3, 4), (4, 2)]),
    "einsum_ellipsis": (lambda L, a, b: L.einsum("...ij,...jk->...ik", a, b), [(2, 3, 4), (4, 5)]),
    "einsum_trace": (lambda L, a: L.einsum("ii", a), [(3, 3)]),
    "einsum_diag": (lambda L, a, b: L.einsum("iij,j->ij", a, b), [(3, 3, 2), (2,)]),
    "einsum_three": (lambda L, a, b, c: L.einsum("ij,jk,kl->il", a, b, c), [(2, 3), (3, 4), (4, 2)]),
    "einsum_outer_sum": (lambda L, a, b: L.einsum("i,j->", a, b), [(3,), (2,)]),
    "einsum_broadcast1": (lambda L, a, b: L.einsum("ij,ij->ij", a, b), [(3, 1), (3, 4)]),
    "einsum_list": (lambda L, a, b: L.einsum("i,i->", [a, b]), [(3,), (3,)]),
    "inner": (lambda L, a, b: L.inner(a, b), [(2, 3), (4, 3)]),
    "tensordot_int": (lambda L, a, b: L.tensordot(a, b, dims=1), [(2, 3), (3, 4)]),
    "tensordot": (lambda L, a, b: L.tensordot(a, b, dims=([1, 0], [0, 2])), [(3, 4, 2), (4, 5, 3)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_torch(torch, name):
    fn, shapes = CASES[name]
    compare(torch, fn, *[randn(*s, seed=i) for i, s in enumerate(shapes)])


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, shapes = CASES[name]
    rng = np.random.default_rng(0)
    inputs = [sc.tensor(rng.standard_normal(s), dtype=sc.float64, requires_grad=True) for s in shapes]
    assert gradcheck(lambda *t: fn(sc, *t), inputs)


def test_grad_fn_names():
    a, v = sc.randn(3, 4, requires_grad=True), sc.randn(4, requires_grad=True)
    assert (a @ a.t()).grad_fn.name() == "MmBackward0"
    assert (a @ v).grad_fn.name() == "MvBackward0"
    assert (v @ v).grad_fn.name() == "DotBackward0"
    assert (a[None] @ a.t()[None]).grad_fn.name() == "BmmBackward0"


def test_only_needed_gradients_are_computed():
    a = sc.randn(3, 4, requires_grad=True)
    b = sc.randn(4, 2)
    (a @ b).sum().backward()
    assert a.grad.shape == (3, 4) and b.grad is None


def test_float32_and_int_results():
    a, b = sc.randn(2, 3, 4), sc.randn(4, 5)
    assert (a @ b).dtype == sc.float32
    assert sc.einsum("bij,jk->bik", a, b).dtype == sc.float32
    i = sc.tensor([[1, 2], [3, 4]])
    assert (i @ i).tolist() == [[7, 10], [15, 22]] and (i @ i).dtype == sc.int64


def test_errors():
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(4, 5\) and \(3, 2\) cannot be multiplied"):
        sc.randn(4, 5) @ sc.randn(3, 2)
    with pytest.raises(
        RuntimeError, match=r"matmul: shapes \(2, 3, 4\) and \(3, 4, 2\) cannot be multiplied"
    ):
        sc.randn(2, 3, 4) @ sc.randn(3, 4, 2)
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D"):
        sc.tensor(1.0) @ sc.randn(2)
    with pytest.raises(RuntimeError, match="same dtype"):
        sc.randn(2, 2) @ sc.randn(2, 2, dtype=sc.float64)
    with pytest.raises(RuntimeError, match="self must be a matrix"):
        sc.mm(sc.randn(2), sc.randn(2, 2))
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        sc.bmm(sc.randn(2, 2), sc.randn(2, 2, 2))
    with pytest.raises(RuntimeError, match=r"batch2 tensor to be: \[2, 4\] but got: \[3, 4\]"):
        sc.bmm(sc.randn(2, 3, 4), sc.randn(3, 4, 5))
    with pytest.raises(RuntimeError, match="1D tensors expected, but got 2D and 1D tensors"):
        sc.dot(sc.randn(2, 2), sc.randn(2))
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        sc.dot(sc.randn(3), sc.randn(4))
    with pytest.raises(RuntimeError, match="size mismatch"):
        sc.mv(sc.randn(3, 4), sc.randn(3))
    with pytest.raises(RuntimeError, match="outer: expected 1-D tensors"):
        sc.outer(sc.randn(2, 2), sc.randn(2))
    with pytest.raises(RuntimeError, match="names 2 operands but 1 were given"):
        sc.einsum("ij,jk->ik", sc.randn(2, 2))
    with pytest.raises(RuntimeError, match="does not match the number of dimensions"):
        sc.einsum("ijk->i", sc.randn(2, 2))
    with pytest.raises(TypeError, match="expected Tensors"):
        sc.matmul(sc.randn(2, 2), [[1.0, 0.0], [0.0, 1.0]])
