"""Shape and indexing ops: values, views, gradients (finite differences and PyTorch) and errors."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core.autograd import gradcheck


def _flat(out):
    return list(out) if isinstance(out, tuple | list) else [out]


def compare(torch, fn, *arrays, grad=True):
    """Run `fn(lib, *tensors)` with studio.core and with PyTorch; compare outputs and gradients."""
    s_in = [sc.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    t_in = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    s_out, t_out = _flat(fn(sc, *s_in)), _flat(fn(torch, *t_in))
    assert len(s_out) == len(t_out)
    for so, to in zip(s_out, t_out):
        assert tuple(so.shape) == tuple(to.shape)
        assert str(so.dtype).split(".")[-1] == str(to.dtype).split(".")[-1]
        np.testing.assert_allclose(so.detach().numpy(), to.detach().numpy(), rtol=1e-6)
    if not grad:
        return
    rng = np.random.default_rng(1)
    s_loss = t_loss = 0
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
            np.testing.assert_allclose(sg, tg, atol=1e-5, rtol=1e-5)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def idx(*values):
    return np.array(values, np.int64)


def _mask(L, shape, seed=3):
    return L.tensor(np.random.default_rng(seed).random(shape) > 0.5)


# name: (fn(lib, *tensors), input arrays)
CASES = {
    "reshape": (lambda L, x: x.reshape(4, -1), [randn(2, 3, 2)]),
    "reshape_T": (lambda L, x: x.t().reshape(-1), [randn(3, 4)]),
    "view": (lambda L, x: x.view(2, 6), [randn(3, 4)]),
    "flatten": (lambda L, x: x.flatten(1), [randn(2, 3, 4)]),
    "flatten_mid": (lambda L, x: L.flatten(x, 0, -2), [randn(2, 3, 4)]),
    "unflatten": (lambda L, x: x.unflatten(-1, (2, -1)), [randn(3, 4)]),
    "squeeze_all": (lambda L, x: x.squeeze(), [randn(1, 3, 1)]),
    "squeeze_dim": (lambda L, x: x.squeeze(-1), [randn(1, 3, 1)]),
    "squeeze_tuple": (lambda L, x: x.squeeze((0, 1)), [randn(1, 3, 1)]),
    "unsqueeze": (lambda L, x: x.unsqueeze(-1), [randn(3, 4)]),
    "transpose": (lambda L, x: x.transpose(0, -1), [randn(2, 3, 4)]),
    "permute": (lambda L, x: x.permute(2, 0, 1), [randn(2, 3, 4)]),
    "t": (lambda L, x: x.t(), [randn(3, 4)]),
    "movedim": (lambda L, x: L.movedim(x, (0, 1), (2, 0)), [randn(2, 3, 4)]),
    "expand": (lambda L, x: x.expand(2, -1, 4), [randn(3, 1)]),
    "repeat": (lambda L, x: x.repeat(2, 1, 3), [randn(3, 2)]),
    "split": (lambda L, x: x.split(2, dim=1), [randn(3, 5)]),
    "split_sizes": (lambda L, x: L.split(x, [1, 3, 1], dim=-1), [randn(3, 5)]),
    "chunk": (lambda L, x: x.chunk(3), [randn(5, 2)]),
    "unbind": (lambda L, x: x.unbind(1), [randn(2, 3)]),
    "narrow": (lambda L, x: x.narrow(1, -3, 2), [randn(3, 4)]),
    "cat": (lambda L, a, b: L.cat([a, b, a], dim=-1), [randn(2, 3), randn(2, 1)]),
    "stack": (lambda L, a, b: L.stack([a, b], dim=1), [randn(2, 3), randn(2, 3, seed=1)]),
    "gather": (lambda L, x: x.gather(1, L.tensor(idx([0, 0], [2, 1]))), [randn(2, 3)]),
    "gather_dim0": (lambda L, x: L.gather(x, 0, L.tensor(idx([1, 0, 1]))), [randn(2, 4)]),
    "scatter": (lambda L, x, s: x.scatter(1, L.tensor(idx([0, 2], [1, 0])), s), [randn(2, 3), randn(2, 2)]),
    "scatter_add": (
        lambda L, x, s: x.scatter_add(0, L.tensor(idx([0, 1, 0], [0, 0, 1])), s),
        [randn(2, 3), randn(2, 3)],
    ),
    "index_select": (lambda L, x: x.index_select(1, L.tensor(idx(2, 0, 2))), [randn(2, 3)]),
    "masked_fill": (lambda L, x: x.masked_fill(_mask(L, (1, 4)), -1.0), [randn(3, 4)]),
    "masked_fill_t": (lambda L, x, v: x.masked_fill(_mask(L, (3, 4)), v), [randn(3, 4), randn()]),
    "masked_select": (lambda L, x: x.masked_select(_mask(L, (3, 4))), [randn(4)]),
    "flip": (lambda L, x: x.flip(0, -1), [randn(2, 3)]),
    "roll": (lambda L, x: x.roll((1, -2), (0, 1)), [randn(3, 4)]),
    "roll_flat": (lambda L, x: x.roll(2), [randn(3, 4)]),
    "tril": (lambda L, x: x.tril(), [randn(2, 3, 4)]),
    "triu": (lambda L, x: x.triu(1), [randn(3, 4)]),
    "get_int": (lambda L, x: x[1], [randn(3, 4)]),
    "get_slice": (lambda L, x: x[1:, ::2], [randn(3, 4)]),
    "get_none_ellipsis": (lambda L, x: x[None, ..., 1], [randn(2, 3, 4)]),
    "get_neg_int": (lambda L, x: x[-1, :, None], [randn(3, 4)]),
    "get_array_repeat": (lambda L, x: x[L.tensor(idx(0, 2, 0, 0))], [randn(3, 4)]),
    "get_arrays_pair": (lambda L, x: x[L.tensor(idx(0, 2, 0)), L.tensor(idx(1, 1, 1))], [randn(3, 4)]),
    "get_array_mid": (lambda L, x: x[:, L.tensor(idx([0, 1], [1, 1]))], [randn(2, 3, 4)]),
    "get_mask": (lambda L, x: x[_mask(L, (3, 4))], [randn(3, 4)]),
    "get_mask_rows": (lambda L, x: x[L.tensor([True, False, True])], [randn(3, 4)]),
    "get_list": (lambda L, x: x[[2, 0]], [randn(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_torch(torch, name):
    fn, arrays = CASES[name]
    compare(torch, fn, *arrays)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, arrays = CASES[name]
    inputs = [sc.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    assert gradcheck(lambda *t: fn(sc, *t), inputs)


def test_grad_fn_names():
    x = sc.randn(3, 4, requires_grad=True)
    cases = {
        "ViewBackward0": x.view(12),
        "UnsafeViewBackward0": x.t().reshape(12),
        "SqueezeBackward1": x.squeeze(0),
        "UnsqueezeBackward0": x.unsqueeze(0),
        "TransposeBackward0": x.transpose(0, 1),
        "PermuteBackward0": x.permute(1, 0),
        "TBackward0": x.t(),
        "ExpandBackward0": x.expand(2, 3, 4),
        "RepeatBackward0": x.repeat(2, 1),
        "SplitBackward0": x.split(2)[0],
        "SplitWithSizesBackward0": x.split([1, 2])[0],
        "UnbindBackward0": x.unbind()[0],
        "SliceBackward0": x[1:],
        "SelectBackward0": x[0],
        "IndexBackward0": x[[0, 1]],
        "CatBackward0": sc.cat([x, x]),
        "StackBackward0": sc.stack([x, x]),
        "GatherBackward0": x.gather(1, sc.zeros(3, 1, dtype=sc.int64)),
        "IndexSelectBackward0": x.index_select(0, sc.tensor([0])),
        "MaskedFillBackward0": x.masked_fill(x > 0, 1.0),
        "MaskedSelectBackward0": x.masked_select(x > 0),
        "FlipBackward0": x.flip(0),
        "RollBackward0": x.roll(1, 0),
        "TrilBackward0": x.tril(),
        "TriuBackward0": x.triu(),
    }
    for name, out in cases.items():
        assert out.grad_fn.name() == name


def test_views_share_memory_and_version():
    x = sc.arange(12.0).reshape(3, 4)
    for v in (
        x.view(12),
        x[1],
        x[:, 1:],
        x.t(),
        x.unsqueeze(0),
        x.split(2)[1],
        x.unbind()[0],
        x.narrow(1, 1, 2),
        x.expand(2, 3, 4),
        x.squeeze(),
        x.permute(1, 0),
        x[None],
    ):
        assert v._version == x._version
        before = x._version
        x.add_(1)
        assert v._version == before + 1
    v = x[0]
    v.fill_(-1.0)
    assert x[0].tolist() == [-1.0] * 4 and x._version == v._version
    # copies do not share
    for c in (x[[0, 1]], x.flip(0), x.roll(1), x.t().reshape(-1), x.repeat(1, 1)):
        before = c._version
        x.add_(1)
        assert c._version == before


def test_inplace_change_of_saved_view_is_detected():
    w = sc.randn(3, requires_grad=True)
    x = sc.randn(3, 4)
    y = w @ x[:, :3]
    x[0, 0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_view_refuses_non_viewable():
    x = sc.randn(3, 4)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.t().view(12)
    assert x.t().view(4, 3).shape == (4, 3)
    assert x[:, :2].view(3, 2, 1).shape == (3, 2, 1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x[:, :2].view(6)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.view(-1, -1)
    with pytest.raises(RuntimeError, match="shape '\\[5\\]' is invalid for input of size 12"):
        x.view(5)


def test_setitem_values_and_grads(torch):
    for index in (1, (slice(None), 2), (slice(1, None), slice(None, None, 2)), ([0, 2],), (Ellipsis, 0)):
        xs = sc.randn(3, 4)
        xt = torch.tensor(xs.numpy().copy())
        vs = sc.tensor(np.ones(xt[index].shape, np.float32) * 2, requires_grad=True)
        vt = torch.tensor(vs.detach().numpy(), requires_grad=True)
        ws = sc.randn(3, 4, requires_grad=True)
        wt = torch.tensor(ws.detach().numpy(), requires_grad=True)
        ys, yt = ws * 1, wt * 1
        ys[index] = vs
        yt[index] = vt
        np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy())
        g = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
        (ys * sc.tensor(g)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy())
        np.testing.assert_allclose(vs.grad.numpy(), vt.grad.numpy())
        assert ys.grad_fn.name() == "CopySlices"


def test_setitem_forms():
    x = sc.zeros(3, 4)
    x[x.sum(1) == 0] = 1.0
    assert x.sum().item() == 12
    x[0] = sc.tensor([1.0, 2.0, 3.0, 4.0])
    x[1:, 0] = sc.tensor(7.0)
    assert x[0].tolist() == [1, 2, 3, 4] and x[:, 0].tolist() == [1, 7, 7]
    i = sc.zeros(2, dtype=sc.int64)
    i[1] = 5.7
    assert i.tolist() == [0, 5]
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        sc.zeros(2, requires_grad=True)[0] = 1.0
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1] = 0.0
    with pytest.raises(RuntimeError, match="cannot assign a value of shape"):
        x[0] = sc.ones(3)


def test_getitem_errors():
    x = sc.randn(3, 4)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x[5]
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        sc.tensor(1.0)[0]
    with pytest.raises(IndexError, match="only integers, slices"):
        x[1.5]
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool"):
        x[sc.tensor([0.0])]
    with pytest.raises(IndexError, match="The shape of the mask \\[4\\] at index 0 does not match"):
        x[sc.ones(4, dtype=sc.bool)]


def test_getitem_misc(torch):
    a = randn(3, 4)
    compare(torch, lambda L, x: x[L.tensor(1)], a)
    compare(torch, lambda L, x: x[True], a)
    compare(torch, lambda L, x: x[..., None, 1:3], a)
    compare(torch, lambda L, x: x[L.tensor([0, 1], dtype=L.int32)], a)
    compare(torch, lambda L, x: x[1:1], a)


def test_cat_and_stack(torch):
    compare(torch, lambda L, a, b: L.cat([a, b]), idx(1, 2), randn(3), grad=False)
    compare(torch, lambda L, a, b: L.cat([a, b]), randn(2, 3), np.zeros(0, np.float32))
    compare(torch, lambda L, a, b: L.stack([a, b], -1), idx(1, 2), randn(2), grad=False)
    x = sc.randn(3, 4)
    with pytest.raises(ValueError, match="expected a non-empty list of Tensors"):
        sc.cat([])
    with pytest.raises(RuntimeError, match="Tensors must have same number of dimensions: got 2 and 1"):
        sc.cat([x, sc.zeros(3)])
    with pytest.raises(RuntimeError, match="Expected size 3 but got size 2 for tensor number 1"):
        sc.cat([x, sc.zeros(2, 5)], 1)
    with pytest.raises(RuntimeError, match="zero-dimensional tensor \\(at position 0\\)"):
        sc.cat([sc.tensor(1.0)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        sc.stack([x, sc.zeros(3, 5)])
    with pytest.raises(RuntimeError, match="non-empty TensorList"):
        sc.stack([])


def test_split_grad_with_unused_pieces(torch):
    compare(torch, lambda L, x: x.split(2)[1], randn(5, 2))
    compare(torch, lambda L, x: x.chunk(2, 1)[0], randn(2, 5))
    compare(torch, lambda L, x: x.unbind(0)[2], randn(3, 2))


def test_expand_and_repeat_errors():
    x = sc.randn(3, 4)
    with pytest.raises(RuntimeError, match="isn't allowed in a leading, non-existing dimension 0"):
        x.expand(-1, 3, 4)
    with pytest.raises(
        RuntimeError, match="must match the existing size \\(4\\) at non-singleton dimension 1"
    ):
        x.expand(3, 5)
    with pytest.raises(RuntimeError, match="number of sizes provided \\(1\\) must be greater or equal"):
        x.expand(4)
    with pytest.raises(RuntimeError, match="repeat dims can not be smaller"):
        x.repeat(2)
    assert sc.tensor(1.0).repeat(2, 3).shape == (2, 3)


def test_shape_errors():
    x = sc.randn(3, 4)
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        x.flatten(1, 0)
    with pytest.raises(RuntimeError, match="don't multiply up to the size of dim 1 \\(4\\)"):
        x.unflatten(1, (3, 2))
    with pytest.raises(IndexError, match="range of \\[-3, 2\\], but got 3"):
        x.unsqueeze(3)
    with pytest.raises(RuntimeError, match="split_sizes to sum exactly to 3"):
        x.split([1, 1])
    with pytest.raises(RuntimeError, match="chunk expects `chunks` to be greater than 0"):
        x.chunk(0)
    with pytest.raises(RuntimeError, match="start \\(3\\) \\+ length \\(2\\) exceeds dimension size \\(4\\)"):
        x.narrow(1, 3, 2)
    with pytest.raises(RuntimeError, match="permute.*input.dim\\(\\) = 2 is not equal to len\\(dims\\) = 1"):
        x.permute(0)
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        sc.zeros(2, 2, 2).t()
    with pytest.raises(RuntimeError, match="tril: input tensor must have at least 2 dimensions"):
        sc.zeros(3).tril()
    with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
        x.roll((1, 2), (0,))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        x.flip(0, 0)


def test_gather_scatter_errors():
    x = sc.randn(3, 4)
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions"):
        x.gather(1, sc.zeros(3, dtype=sc.int64))
    with pytest.raises(RuntimeError, match="Expected dtype int32/int64 for index"):
        x.gather(1, sc.zeros(3, 1))
    with pytest.raises(RuntimeError, match="expected index \\[4, 1\\] to be no larger than self \\[3, 4\\]"):
        x.gather(1, sc.zeros(4, 1, dtype=sc.int64))
    with pytest.raises(RuntimeError, match="index 7 is out of bounds for dimension 1 with size 4"):
        x.gather(1, sc.full((3, 1), 7))
    with pytest.raises(IndexError, match="Index is supposed to be a vector"):
        x.index_select(0, sc.zeros(1, 1, dtype=sc.int64))
    with pytest.raises(IndexError, match="index out of range in self"):
        x.index_select(0, sc.tensor([5]))
    with pytest.raises(RuntimeError, match="only supports boolean masks, but got mask with dtype float"):
        x.masked_fill(sc.ones(3, 4), 1.0)
    with pytest.raises(RuntimeError, match="only supports a 0-dimensional value tensor"):
        x.masked_fill(x > 0, sc.tensor([1.0]))


def test_scatter_value_and_masked_forms(torch):
    a = randn(2, 3)
    compare(torch, lambda L, x: x.scatter(1, L.tensor(idx([1], [0])), 5.0), a)
    compare(torch, lambda L, x: x.masked_fill(_mask(L, (2, 2, 3)), 0.5), a)
    compare(torch, lambda L, x: x.masked_fill(_mask(L, (2, 3)), 2), idx([1, 2, 3], [4, 5, 6]), grad=False)
    compare(torch, lambda L, x: L.index_select(x, 1, L.tensor(2)), a)


def test_nonzero(torch):
    a = np.array([[0, 1, 0], [2, 0, 3]], np.int64)
    compare(torch, lambda L, x: x.nonzero(), a, grad=False)
    compare(torch, lambda L, x: x.nonzero(as_tuple=True), a, grad=False)
    compare(torch, lambda L, x: L.where(x > 0), a, grad=False)
    compare(torch, lambda L, x: x.nonzero(), np.array(5), grad=False)
    compare(torch, lambda L, x: x.nonzero(as_tuple=True), np.array(5), grad=False)


def test_contiguous():
    x = sc.randn(3, 4, requires_grad=True)
    assert x.contiguous() is x
    y = x.t().contiguous()
    assert y.is_contiguous() and y.grad_fn.name() == "CloneBackward0"


def test_element_index_is_a_view():
    x = sc.zeros(2, 3)
    e = x[1, 2]
    assert e.shape == () and e._version == x._version
    e.fill_(4.0)
    assert x[1, 2].item() == 4.0 and x.sum().item() == 4.0


def test_scalar_gather_and_index_select(torch):
    compare(torch, lambda L, x: x.gather(0, L.tensor(0)), np.array(2.5, np.float32))
    compare(torch, lambda L, x: x.index_select(0, L.tensor([0])), np.array(2.5, np.float32))
    with pytest.raises(IndexError, match="Index to scalar can have only 1 value, got 2"):
        sc.tensor(1.0).index_select(0, sc.tensor([0, 0]))


def test_join_and_tile_helpers(torch):
    compare(torch, lambda L, a, b: L.hstack([a, b]), randn(2, 3), randn(2, 1))
    compare(torch, lambda L, a, b: L.hstack([a, b]), randn(3), randn(2))
    compare(torch, lambda L, a, b: L.vstack([a, b]), randn(3), randn(2, 3))
    compare(torch, lambda L, a: L.tile(a, (2,)), randn(2, 3))
    compare(torch, lambda L, a: L.broadcast_to(a, (2, 3)), randn(3))
    compare(torch, lambda L, a: L.swapaxes(a, 0, 1), randn(2, 3))
    compare(torch, lambda L, a: L.concat([a, a], dim=-1), randn(2, 3))
