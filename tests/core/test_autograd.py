"""The autograd machinery: backward, grad, grad modes, hooks, in-place checks, Function, gradcheck."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import studio.core as sc
from studio.core import autograd
from studio.core.autograd import Function, gradcheck


def test_gradients_accumulate_until_zeroed():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    x.grad.zero_()
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_leaf_gradients_are_owned_arrays():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    y = sc.tensor([1.0, 2.0], requires_grad=True)
    (x + y).sum().backward()
    x.grad.add_(1)  # a broadcast view or a shared array would fail or leak into y.grad
    assert y.grad.tolist() == [1.0, 1.0]
    g = sc.ones(2)
    z = sc.tensor([0.0, 0.0], requires_grad=True)
    (z + 0).backward(g)
    z.grad.mul_(5)
    assert g.tolist() == [1.0, 1.0]


def test_backward_with_gradient_argument(torch):
    x = sc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(sc.tensor([1.0, 0.5, 0.0]))
    xt = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (xt * xt).backward(torch.tensor([1.0, 0.5, 0.0]))
    assert x.grad.tolist() == xt.grad.tolist()


def test_backward_errors_say_what_is_wrong():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"mismatch in shape.*\(3,\).*\(2,\)"):
        (x * 2).backward(sc.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        sc.tensor([1.0]).sum().backward()
    with pytest.raises(TypeError, match="Tensor"):
        (x * 2).backward([1.0, 1.0])


def test_second_backward_through_freed_graph_raises():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]


def test_shared_subgraph_gets_summed_gradients(torch):
    x = sc.tensor([0.5, -1.0], requires_grad=True)
    a = x.exp()
    y = (a * a + a.sin() * x).sum()
    y.backward()
    xt = torch.tensor([0.5, -1.0], requires_grad=True)
    at = xt.exp()
    (at * at + at.sin() * xt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


def test_deep_chain_backward_is_iterative():
    x = sc.tensor([1.0], requires_grad=True)
    y = x
    gc.disable()  # the collector's passes over a growing heap, not backward, would dominate the time
    try:
        for _ in range(100_000):
            y = y + 0.0
        y.sum().backward()
    finally:
        gc.enable()
    assert x.grad.tolist() == [1.0]


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point.*int64"):
        sc.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        sc.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        sc.ones(2, dtype=sc.bool).requires_grad = True


def test_is_leaf_grad_fn_and_requires_grad_flags():
    x = sc.ones(2, requires_grad=True)
    c = sc.ones(2)
    y = x * 2
    assert x.is_leaf and c.is_leaf and not y.is_leaf
    assert y.requires_grad and (c * 2).grad_fn is None and not (c * 2).requires_grad
    assert y.grad_fn.name() == "MulBackward0"
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)


def test_next_functions_walk_the_graph():
    x = sc.ones(2, requires_grad=True)
    w = sc.ones(2)
    y = (x * w + 1).sum()
    sum_fn = y.grad_fn
    assert sum_fn.name() == "SumBackward0"
    ((add_fn, _),) = sum_fn.next_functions
    assert add_fn.name() == "AddBackward0"
    (mul_fn, _), (none, _) = add_fn.next_functions
    assert mul_fn.name() == "MulBackward0" and none is None
    (acc, _), (no_w, _) = mul_fn.next_functions
    assert acc.name() == "AccumulateGrad" and acc.variable is x and no_w is None


def test_grad_modes_as_context_managers_and_decorators():
    x = sc.ones(2, requires_grad=True)
    with sc.no_grad():
        assert not sc.is_grad_enabled()
        assert not (x * 2).requires_grad
        with sc.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert sc.is_grad_enabled()

    @sc.no_grad()
    def f(t):
        return t * 2

    @sc.inference_mode()
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad and sc.is_grad_enabled()
    with sc.inference_mode():
        assert not (x * 2).requires_grad
    with sc.inference_mode(False):
        assert (x * 2).requires_grad
    with sc.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert sc.is_grad_enabled()
    sc.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        sc.set_grad_enabled(True)

    @sc.set_grad_enabled(False)
    def h(t):
        return t * 2

    assert not h(x).requires_grad and sc.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError), sc.no_grad():
        raise ValueError("boom")
    assert sc.is_grad_enabled()


def test_detach_shares_memory_and_cuts_the_graph():
    x = sc.ones(2, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d.add_(1)
    assert y.tolist() == [3.0, 3.0]
    x2 = x.detach().requires_grad_()
    assert x2.requires_grad and x2.is_leaf


def test_retain_grad_keeps_non_leaf_gradients():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward()
    assert y.grad.tolist() == [6.0, 12.0]
    assert x.grad.tolist() == [18.0, 36.0]
    z = x * 3
    (z * z).sum().backward()
    assert z.grad is None
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        sc.ones(1).retain_grad()


def test_register_hook_on_leaf_and_non_leaf():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    hx = x.register_hook(lambda g: seen.append(g.tolist()))
    y = x * 2
    y.register_hook(lambda g: g * 10)  # replaces the gradient flowing on
    y.sum().backward()
    assert x.grad.tolist() == [20.0, 20.0] and seen == [[20.0, 20.0]]
    hx.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert seen == [[20.0, 20.0]] and x.grad.tolist() == [2.0, 2.0]
    x.grad = None
    x.register_hook(lambda g: g * 0)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        sc.ones(1).register_hook(lambda g: g)


def test_node_hooks():
    x = sc.ones(2, requires_grad=True)
    y = x * 2
    calls = []
    y.grad_fn.register_hook(lambda gi, go: calls.append((gi[0].tolist(), go[0].tolist())))
    y.grad_fn.register_prehook(lambda go: [go[0] * 2])
    y.sum().backward()
    assert calls == [([4.0, 4.0], [2.0, 2.0])]
    assert x.grad.tolist() == [4.0, 4.0]


def test_autograd_grad_returns_without_accumulating(torch):
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    w = sc.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    gx, gw = autograd.grad(y, (x, w))
    assert gx.tolist() == [3.0, 4.0] and gw.tolist() == [1.0, 2.0]
    assert x.grad is None and w.grad is None
    h = x * 2
    (gh,) = autograd.grad((h * h).sum(), h)
    assert gh.tolist() == [4.0, 8.0]
    unused = sc.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="not have been used"):
        autograd.grad((x * 2).sum(), [x, unused])
    g = autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert g[1] is None
    g = autograd.grad((x * 2).sum(), [x, unused], allow_unused=True, materialize_grads=True)
    assert g[1].tolist() == [0.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad((x * 2).sum(), sc.ones(1))
    (ga,) = autograd.grad((x * 2), x, grad_outputs=sc.tensor([1.0, 2.0]))
    assert ga.tolist() == [2.0, 4.0]


def test_grad_of_shared_gradients_are_separate_arrays():
    a = sc.ones(2, requires_grad=True)
    b = sc.ones(2, requires_grad=True)
    ga, gb = autograd.grad((a + b).sum(), (a, b))
    ga.add_(1)
    assert gb.tolist() == [1.0, 1.0]


def test_backward_inputs_accumulates_only_there():
    x = sc.ones(2, requires_grad=True)
    w = sc.ones(2, requires_grad=True)
    (x * w * 2).sum().backward(inputs=[w])
    assert x.grad is None and w.grad.tolist() == [2.0, 2.0]
    autograd.backward((x * 3).sum(), inputs=[x])
    assert x.grad.tolist() == [3.0, 3.0]


def test_autograd_backward_with_several_roots():
    x = sc.ones(2, requires_grad=True)
    autograd.backward([(x * 2).sum(), (x * 3).sum()])
    assert x.grad.tolist() == [5.0, 5.0]
    x.grad = None
    autograd.backward([x * 2, x * 3], [sc.ones(2), sc.ones(2)])
    assert x.grad.tolist() == [5.0, 5.0]


def test_inplace_change_of_a_saved_tensor_raises():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    w = sc.tensor([3.0, 4.0], requires_grad=True)
    y = a * w  # saves a for w's gradient
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*MulBackward0.*version 1"):
        y.sum().backward()


def test_inplace_change_of_a_saved_output_raises():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # saves its output
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_on_unsaved_tensors_keeps_gradients_right(torch):
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.add_(1)
    y.mul_(3)
    y.sum().backward()
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = xt * 2
    yt.add_(1)
    yt.mul_(3)
    yt.sum().backward()
    assert x.grad.tolist() == xt.grad.tolist()
    assert y._version == 2


def test_inplace_on_leaf_requiring_grad_is_refused_but_allowed_under_no_grad():
    x = sc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with sc.no_grad():
        x.add_(1)
        x.mul_(2)
    assert x.tolist() == [4.0, 4.0] and x.grad_fn is None
    y = x * x
    with sc.no_grad():
        x.sub_(1)  # an optimizer step between forward and backward
    with pytest.raises(RuntimeError, match="inplace"):
        y.sum().backward()


def test_version_counter_is_shared_with_detached_views():
    x = sc.ones(3)
    d = x.detach()
    v = x._version
    d.add_(1)
    assert x._version == v + 1
    assert x.tolist() == [2.0, 2.0, 2.0]


class _Cube(Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * x * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x * ctx.scale, None


class _SplitSum(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b, a - b

    @staticmethod
    def backward(ctx, g1, g2):
        return g1 + g2, g1 - g2


def test_custom_function():
    x = sc.tensor([1.0, 2.0], dtype=sc.float64, requires_grad=True)
    y = _Cube.apply(x, 2.0)
    assert y.grad_fn.name() == "_CubeBackward"
    assert y.tolist() == [2.0, 16.0]
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]
    assert gradcheck(lambda t: _Cube.apply(t, 0.5), (x,))
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()
    a = sc.tensor([1.0, 2.0], dtype=sc.float64, requires_grad=True)
    b = sc.tensor([0.5, 0.5], dtype=sc.float64, requires_grad=True)
    assert gradcheck(lambda p, q: _SplitSum.apply(p, q), (a, b))
    s, d = _SplitSum.apply(a, b)
    s.sum().backward()  # the other output gets a zero gradient
    assert a.grad.tolist() == [1.0, 1.0] and b.grad.tolist() == [1.0, 1.0]
    z = _Cube.apply(sc.ones(2), 1.0)
    assert z.grad_fn is None and not z.requires_grad


def test_custom_function_needs_input_grad_and_bad_gradients():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, sc.ones(5)

    a, b = sc.ones(2, requires_grad=True), sc.ones(2)
    y = Probe.apply(a, b)
    assert seen["needs"] == (True, False)
    y.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]
    b.requires_grad_()
    with pytest.raises(RuntimeError, match=r"invalid gradient at index 1.*\[5\].*\[2\]"):
        Probe.apply(a, b).sum().backward()

    class TooFew(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        TooFew.apply(a, b).sum().backward()


def test_custom_function_broadcast_gradient_is_summed():
    class Double(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return (g * 2).expand(3, 2)

    a = sc.ones(2, requires_grad=True)
    Double.apply(a).sum().backward()
    assert a.grad.tolist() == [6.0, 6.0]


def test_custom_function_as_a_loss():
    class SquaredError(Function):
        @staticmethod
        def forward(ctx, pred, target):
            diff = pred - target
            ctx.save_for_backward(diff)
            return (diff * diff).mean()

        @staticmethod
        def backward(ctx, g):
            (diff,) = ctx.saved_tensors
            return g * 2 * diff / diff.numel(), None

    pred = sc.tensor([1.0, 2.0, 4.0], dtype=sc.float64, requires_grad=True)
    target = sc.tensor([1.0, 1.0, 1.0], dtype=sc.float64)
    assert gradcheck(lambda p: SquaredError.apply(p, target), (pred,))


def test_gradcheck_detects_a_wrong_gradient():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 * x * g

    x = sc.tensor([1.0, 2.0], dtype=sc.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        gradcheck(Wrong.apply, (x,))
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False


def test_gradcheck_handles_non_contiguous_inputs():
    base = sc.tensor(np.arange(6.0).reshape(2, 3) + 1.0, dtype=sc.float64)
    x = base.detach().t().requires_grad_()
    assert not x.is_contiguous()
    assert gradcheck(lambda t: (t * t).sum(0), (x,))


def test_leaves_and_graphs_are_freed_without_cycles():
    gc.collect()
    gc.disable()
    try:
        x = sc.ones(3, requires_grad=True)
        y = (x * 2).sum()
        ref_x, ref_node = weakref.ref(x), weakref.ref(y.grad_fn)
        y.backward()
        del x, y
        assert ref_x() is None and ref_node() is None
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "make",
    [lambda x: x.exp(), lambda x: x.sigmoid(), lambda x: 2.0**x, lambda x: x ** (x * 1), lambda x: x.sqrt()],
)
def test_inplace_change_of_any_saved_output_raises(make):
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    y = make(x)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_leaf_hooks_run_once_in_grad_and_in_backward_with_inputs():
    x = sc.tensor([1.0, 2.0], requires_grad=True)
    calls = []

    def hook(g):
        calls.append(1)
        return g * 2

    x.register_hook(hook)
    (gx,) = autograd.grad((x * 3).sum(), x)
    assert gx.tolist() == [6.0, 6.0] and len(calls) == 1
    (x * 3).sum().backward(inputs=[x])
    assert x.grad.tolist() == [6.0, 6.0] and len(calls) == 2


def test_grad_runs_only_the_branches_leading_to_the_inputs():
    ran = []

    class Expensive(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            ran.append("expensive")
            return g * 2

    x = sc.tensor([1.0, 2.0], requires_grad=True)
    w = sc.tensor([3.0, 4.0], requires_grad=True)
    h = x * 3
    out = (Expensive.apply(h) * w).sum() + (h * h).sum()
    (gw,) = autograd.grad(out, w, retain_graph=True)
    assert gw.tolist() == [6.0, 12.0] and ran == []
    (gh,) = autograd.grad(out, h, retain_graph=True)
    assert gh.tolist() == [6.0 + 6.0, 8.0 + 12.0] and ran == ["expensive"]
    (gx,) = autograd.grad(out, x)
    assert gx.tolist() == [36.0, 60.0] and x.grad is None and w.grad is None


def test_backward_with_inputs_skips_other_branches():
    ran = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            ran.append(True)
            return g

    a = sc.tensor([1.0], requires_grad=True)
    b = sc.tensor([2.0], requires_grad=True)
    (Probe.apply(a) * b).sum().backward(inputs=[b])
    assert b.grad.tolist() == [1.0] and a.grad is None and ran == []
