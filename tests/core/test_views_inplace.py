"""In-place changes through views rewrite the base's history (CopySlices), checked against PyTorch."""

from __future__ import annotations

import random

import numpy as np
import pytest

import studio.core as sc
from studio.core.autograd import gradcheck

_X = np.arange(1.0, 25.0, dtype=np.float32).reshape(4, 6) / 7.0
_W = np.linspace(-1.0, 1.0, 6, dtype=np.float32)
_R = (np.arange(24, dtype=np.float32).reshape(4, 6) % 5 - 2.0) / 3.0  # a fixed output weighting


def _both(torch, case):
    """Run `case(lib, x, w)` in both libraries; compare its outputs and the leaves' gradients."""
    res = {}
    for lib in (sc, torch):
        x = lib.tensor(_X, requires_grad=True)
        w = lib.tensor(_W, requires_grad=True)
        outs = case(lib, x, w)
        loss = sum((o * lib.tensor(_R.reshape(-1)[: o.numel()]).reshape(o.shape)).sum() for o in outs)
        loss.backward()
        res[lib.__name__] = (
            [o.detach().numpy().copy() for o in outs],
            None if x.grad is None else x.grad.numpy().copy(),
            None if w.grad is None else w.grad.numpy().copy(),
        )
    (so, sx, sw), (to, tx, tw) = res["studio.core"], res["torch"]
    for a, b in zip(so, to):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    for a, b in ((sx, tx), (sw, tw)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def _row_mul(lib, x, w):
    a = x * 1
    y = a[1]
    y.mul_(2)
    return [a, y]


def _row_mul_view_only(lib, x, w):
    a = x * 1
    y = a[1]
    y.mul_(w)
    return [y]


def _base_only_after_setitem(lib, x, w):
    a = x * 1
    y = a[:, 1:5]
    y[2] = w[1:5] * w[0]
    return [a]


def _step_slice_add(lib, x, w):
    a = x * 1
    y = a[::2, 1::2]
    y.add_(w[:3])
    return [a, y]


def _transpose_mul_by_tensor(lib, x, w):
    a = x * 1
    y = a.t()
    y.mul_(w[:4])
    return [a, y]


def _reshape_view(lib, x, w):
    a = x * 1
    y = a.view(2, 12)
    y[1].mul_(3)
    return [a, y]


def _chained_views(lib, x, w):
    a = x.sin()
    y = a[1:3]
    z = y.t()[2:5]
    z.mul_(w[:2])
    return [a, y, z]


def _setitem_on_view_broadcast(lib, x, w):
    a = x * 2
    y = a[1:]
    y[:, 2:5] = w[:3]
    return [a, y]


def _setitem_number_on_view(lib, x, w):
    a = x * 2
    y = a[2]
    y[1] = 5.0
    return [a]


def _masked_fill_on_view(lib, x, w):
    a = x.sin()
    y = a[:, 1:4]
    y.masked_fill_(y > 0.6, 0.25)
    return [a, y]


def _several_inplace_ops(lib, x, w):
    a = x * 1
    y = a[0]
    y.mul_(w)
    y.add_(1)
    a[1:3].mul_(3)
    z = a[:, 2]
    z.sub_(w[:4] * 2)
    return [a, y, z]


def _sibling_views(lib, x, w):
    a = x * 1
    y = a[1]
    z = a[:, 1]  # made before the change through y, used after it
    y.mul_(w)
    return [z * 3]


def _base_changed_after_view(lib, x, w):
    a = x * 1
    y = a[2]
    a.mul_(x)
    return [y + 1]


def _copy_into_view(lib, x, w):
    a = x * 1
    a[3].copy_(w * 2)
    return [a]


def _view_of_constant_base(lib, x, w):
    base = lib.zeros(4, 6)
    y = base[1]
    y.copy_(w)
    base[2, 1:4] = w[3:] * 2
    return [base]


def _fill_on_view(lib, x, w):
    a = x * 3
    a[:, 1].fill_(0.5)
    return [a]


def _unsqueeze_squeeze(lib, x, w):
    a = x * 1
    y = a.unsqueeze(0)[0, 1:3].squeeze()
    y.div_(w + 2)
    return [a]


def _narrow_and_expand_use(lib, x, w):
    a = x * 1
    n = a.narrow(1, 2, 3)
    n.mul_(w[2:5])
    e = a[0:1].expand(3, 6)  # an expanded view of the base, used after it changed
    a.add_(1)
    return [a, e]


@pytest.mark.parametrize(
    "case",
    [
        _row_mul,
        _row_mul_view_only,
        _base_only_after_setitem,
        _step_slice_add,
        _transpose_mul_by_tensor,
        _reshape_view,
        _chained_views,
        _setitem_on_view_broadcast,
        _setitem_number_on_view,
        _masked_fill_on_view,
        _several_inplace_ops,
        _sibling_views,
        _base_changed_after_view,
        _copy_into_view,
        _view_of_constant_base,
        _fill_on_view,
        _unsqueeze_squeeze,
        _narrow_and_expand_use,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_inplace_through_view_matches_torch(torch, case):
    _both(torch, case)


def test_grad_fn_names_match_torch(torch):
    names = {}
    for lib in (sc, torch):
        x = lib.tensor(_X, requires_grad=True)
        a = x * 1
        y = a[0]
        y.mul_(2)
        names[lib.__name__] = (type(a.grad_fn).__name__, type(y.grad_fn).__name__, y._base is a)
    assert names["studio.core"] == names["torch"]


def test_non_contiguous_base_layout(torch):
    # the base's array is column-major: the view's region is found through its memory positions
    r = _R.T.copy()
    x = sc.tensor(_X, requires_grad=True)
    a = x.t() * 1  # not a view, and laid out like its transposed input
    assert not a._data.flags.c_contiguous
    y = a[1:3, ::2]
    y.mul_(y.detach().clone())
    (a * sc.tensor(r)).sum().backward()
    xt = torch.tensor(_X, requires_grad=True)
    at = xt.t() * 1
    yt = at[1:3, ::2]
    yt.mul_(yt.detach().clone())
    (at * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(a.detach().numpy(), at.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


def test_gradcheck_through_view_inplace():
    def fn(x, w):
        a = x * 1
        a[1:3, 2:].mul_(w)
        a[:, 0].add_(a[:, 1].clone() * w[0])
        return a

    x = sc.tensor(_X.astype(np.float64), requires_grad=True)
    w = sc.tensor(_W[:4].astype(np.float64), requires_grad=True)
    assert gradcheck(fn, (x, w))


def test_view_of_leaf_cannot_change_in_place(torch):
    for lib in (sc, torch):
        x = lib.tensor(_X, requires_grad=True)
        for change in (
            lambda t: t[0].mul_(2),
            lambda t: t.t().add_(1),
            lambda t: t[1].__setitem__(0, 1.0),
        ):
            with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
                change(x)
        with lib.no_grad():
            x[0].mul_(2)  # allowed without grad mode
        assert x[0, 0].item() == pytest.approx(2 * _X[0, 0])


def test_multi_output_views_refuse_in_place(torch):
    for lib in (sc, torch):
        a = lib.tensor(_X, requires_grad=True) * 1
        with pytest.raises(RuntimeError, match="Output 1 of Unbind is a view and is being modified inplace"):
            a.unbind(0)[1].mul_(2)
        with pytest.raises(RuntimeError, match="Output 0 of Split is a view and is being modified inplace"):
            a.split(2)[0].add_(1)


def test_view_made_without_grad_mode_refuses_in_place(torch):
    for lib in (sc, torch):
        a = lib.tensor(_X, requires_grad=True) * 1
        with lib.no_grad():
            y = a[0]
        with pytest.raises(RuntimeError, match="A view was created in no_grad mode"):
            y.mul_(2)


def test_version_counter_catches_change_through_view(torch):
    for lib in (sc, torch):
        x = lib.tensor(_X, requires_grad=True)
        a = x * 1
        b = a.exp()  # ExpBackward0 reads its output
        b[1].mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            b.sum().backward()
        c = a * x  # MulBackward0 reads a
        a.t()[0].zero_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            c.sum().backward()


def test_view_knows_its_base():
    x = sc.arange(12.0)
    v = x.view(3, 4)
    vv = v[1:].t()
    assert v._base is x and vv._base is x and x._base is None
    assert vv._is_view() and not x._is_view()
    assert x.reshape(3, 4)._base is x
    assert x[sc.tensor([0, 2])]._base is None  # advanced indexing copies
    assert x.detach()._base is None


def test_views_made_without_grad_and_changed_without_grad_keep_their_history():
    x = sc.tensor(_X, requires_grad=True)
    a = x * 2
    t = a.t()
    with sc.no_grad():
        a[0, 0] = 0.0  # changes the version, not the history
    assert type(t.grad_fn).__name__ == "TBackward0"
    assert t.requires_grad and not t.is_leaf


def test_backward_from_a_view_whose_base_changed(torch):
    grads = []
    for lib in (sc, torch):
        x = lib.tensor(_X, requires_grad=True)
        a = x * 1
        y = a[1:3]
        a.mul_(x)
        y.backward(lib.ones(2, 6))
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


def test_expanded_view_cannot_change_in_place(torch):
    for lib in (sc, torch):
        a = lib.tensor(_X, requires_grad=True) * 1
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            a[0:1].expand(3, 6).mul_(2)


def test_multi_output_views_refuse_use_after_their_base_changed(torch):
    for lib in (sc, torch):
        a = lib.tensor(_X, requires_grad=True) * 1
        parts = a.unbind(1)
        a.mul_(2)
        assert parts[2].requires_grad  # reading a property does not raise; using the view does
        with pytest.raises(RuntimeError, match="Output 2 of Unbind is a view and its base or another view"):
            parts[2] + 1


def test_view_made_without_grad_mode_stays_out_of_the_graph():
    a = sc.tensor(_X, requires_grad=True) * 1
    with sc.no_grad():
        y = a[0]
    a.mul_(2)
    assert not (y + 1).requires_grad and y[0].item() == pytest.approx(2 * _X[0, 0])


def _random_session(lib, seed):
    """A seeded random mix of views (of views) and in-place ops on them, then one backward."""
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    x = lib.tensor(rng.standard_normal((4, 6)).astype(np.float32), requires_grad=True)
    w = lib.tensor(rng.standard_normal(6).astype(np.float32), requires_grad=True)
    views = [x * 1.5]
    for _ in range(5):
        src = rnd.choice(views)
        kind = rnd.randrange(5)
        if src.dim() == 0:
            v = src
        elif kind == 0:
            v = src[rnd.randrange(src.shape[0])]
        elif kind == 1:
            v = src[:: rnd.choice([1, 2])]
        elif kind == 2 and src.dim() == 2:
            v = src.t()
        elif kind == 3:
            v = src.unsqueeze(0)
        else:
            v = src[..., ::2]
        views.append(v)
        t = rnd.choice(views)
        op = rnd.randrange(4)
        if op == 0:
            t.mul_(1.7)
        elif op == 1 and t.dim() > 0 and t.shape[-1] <= 6:
            t.mul_(w[: t.shape[-1]].sin())
        elif op == 2 and t.dim() > 0:
            t[0] = w[0] * 3
        else:
            t.sub_(x[0, 0])
    loss = sum((v * lib.tensor(rng.standard_normal(tuple(v.shape)).astype(np.float32))).sum() for v in views)
    loss.backward()
    return views[0].detach().numpy().copy(), x.grad.numpy().copy(), w.grad


def test_random_views_and_inplace_ops_match_torch(torch):
    for seed in range(30):
        ours, theirs = _random_session(sc, seed), _random_session(torch, seed)
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-5)
        assert (ours[2] is None) == (theirs[2] is None)
        if ours[2] is not None:
            np.testing.assert_allclose(ours[2].numpy(), theirs[2].numpy(), rtol=1e-5, atol=1e-5)


def test_view_whose_memory_was_replaced_is_refused():
    a = sc.tensor(_X, requires_grad=True) * 1
    y = a[1]
    y.data = sc.zeros(6)
    with pytest.raises(RuntimeError, match="no longer shares the memory of its base"):
        y.mul_(2)
