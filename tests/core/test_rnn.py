"""RNN, LSTM, GRU and their cells against PyTorch: outputs, final states and every gradient."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import nn
from studio.core.autograd import gradcheck
from studio.core.ops import rnn as ops


def _to_torch(torch, module, tmodule):
    """Copy our parameters into the PyTorch module through its state_dict."""
    sd = {k: torch.tensor(v.detach().numpy().copy()) for k, v in module.state_dict().items()}
    tmodule.load_state_dict(sd)
    return tmodule


def _close(ours, theirs, atol=1e-6, rtol=1e-5):
    a = ours.detach().numpy() if isinstance(ours, sc.Tensor) else ours
    np.testing.assert_allclose(a, theirs.detach().numpy(), atol=atol, rtol=rtol)


def _compare(torch, kind, *, batched=True, with_state=True, dtype="float64", **cfg):
    rng = np.random.default_rng(1)
    T, N, I, H = 5, 3, 4, 6
    layers = cfg.get("num_layers", 1)
    D = 2 if cfg.get("bidirectional") else 1
    ours = getattr(nn, kind)(I, H, **cfg)
    theirs = getattr(torch.nn, kind)(I, H, **cfg)
    if dtype == "float64":
        ours, theirs = ours.double(), theirs.double()
    _to_torch(torch, ours, theirs)
    if batched:
        shape = (N, T, I) if cfg.get("batch_first") else (T, N, I)
        sshape = (layers * D, N, H)
    else:
        shape, sshape = (T, I), (layers * D, H)
    x_np = rng.standard_normal(shape).astype(dtype)
    states_np = [rng.standard_normal(sshape).astype(dtype) for _ in range(2 if kind == "LSTM" else 1)]
    x, tx = sc.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    s = [sc.tensor(a, requires_grad=True) for a in states_np]
    ts = [torch.tensor(a, requires_grad=True) for a in states_np]
    if kind == "LSTM":
        args, targs = ((x, tuple(s)), (tx, tuple(ts))) if with_state else ((x,), (tx,))
    else:
        args, targs = ((x, s[0]), (tx, ts[0])) if with_state else ((x,), (tx,))
    out, hn = ours(*args)
    tout, thn = theirs(*targs)
    hn = list(hn) if kind == "LSTM" else [hn]
    thn = list(thn) if kind == "LSTM" else [thn]
    tol = dict(atol=1e-10, rtol=1e-8) if dtype == "float64" else dict(atol=2e-5, rtol=1e-4)
    _close(out, tout, **tol)
    for a, b in zip(hn, thn):
        _close(a, b, **tol)
    # contract every output with fixed random weights, so every gradient path is checked
    w = [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in [tout] + thn]
    loss = sum((o * sc.tensor(wi)).sum() for o, wi in zip([out] + hn, w))
    tloss = sum((o * torch.tensor(wi)).sum() for o, wi in zip([tout] + thn, w))
    loss.backward()
    tloss.backward()
    _close(x.grad, tx.grad, **tol)
    if with_state:
        for a, b in zip(s, ts):
            _close(a.grad, b.grad, **tol)
    tparams = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(tparams)
    for name, p in ours.named_parameters():
        _close(p.grad, tparams[name].grad, **tol)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize(
    "cfg",
    [
        {},
        {"num_layers": 2},
        {"bidirectional": True},
        {"num_layers": 2, "bidirectional": True, "batch_first": True},
        {"bias": False, "batch_first": True},
    ],
)
def test_matches_torch(torch, kind, cfg):
    _compare(torch, kind, **cfg)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_and_default_state(torch, kind):
    _compare(torch, kind, batched=False, num_layers=2, bidirectional=True)
    _compare(torch, kind, with_state=False, num_layers=2)


def test_relu_rnn_and_float32(torch):
    _compare(torch, "RNN", nonlinearity="relu", num_layers=2)
    for kind in ("RNN", "LSTM", "GRU"):
        _compare(torch, kind, dtype="float32", bidirectional=True)


def test_positional_nonlinearity_like_torch(torch):
    m = nn.RNN(3, 4, 1, "relu")
    assert m.nonlinearity == "relu" and m.mode == "RNN_RELU"
    assert repr(m) == repr(torch.nn.RNN(3, 4, 1, "relu"))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_state_dict_keys_and_shapes_equal_torch(torch, kind):
    cfg = dict(num_layers=2, bidirectional=True)
    ours, theirs = getattr(nn, kind)(5, 7, **cfg), getattr(torch.nn, kind)(5, 7, **cfg)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    for k in sd:
        assert tuple(sd[k].shape) == tuple(tsd[k].shape)
        assert sd[k].dtype == sc.float32


def test_default_init_is_uniform_in_inverse_sqrt_hidden():
    m = nn.LSTM(10, 25, num_layers=2)
    bound = 1 / np.sqrt(25)
    values = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound


def test_dropout_between_layers_only_when_training():
    m = nn.GRU(4, 5, num_layers=3, dropout=0.5)
    x = sc.randn(6, 2, 4)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    c, _ = m(x)
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())


def test_dropout_with_one_layer_warns_and_bad_dropout_raises():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)
    with pytest.raises(ValueError, match="dropout=1.5"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size=0"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")


def test_bad_shapes_raise_with_what_was_received():
    m = nn.LSTM(4, 5, num_layers=2)
    with pytest.raises(RuntimeError, match="Expected 4, got 3"):
        m(sc.randn(6, 2, 3))
    with pytest.raises(ValueError, match="2D or 3D, got 4D"):
        m(sc.randn(1, 6, 2, 4))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 2, 5\), got \[1, 2, 5\]"):
        m(sc.randn(6, 2, 4), (sc.zeros(1, 2, 5), sc.zeros(1, 2, 5)))
    with pytest.raises(RuntimeError, match="hx should also be 2-D"):
        m(sc.randn(6, 4), (sc.zeros(2, 1, 5), sc.zeros(2, 1, 5)))


def test_one_graph_node_per_layer_and_direction():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    out, _ = m(sc.randn(5, 2, 3))
    seen, stack, lstm_nodes = set(), [out.grad_fn], 0
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        lstm_nodes += type(node).__name__ == "LstmBackward0"
        stack.extend(n for n, _ in node.next_functions)
    assert lstm_nodes == 4


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(torch, kind, batched):
    rng = np.random.default_rng(2)
    ours = getattr(nn, kind)(4, 5).double()
    theirs = _to_torch(torch, ours, getattr(torch.nn, kind)(4, 5).double())
    xs = (3, 4) if batched else (4,)
    hs = (3, 5) if batched else (5,)
    x_np = rng.standard_normal(xs)
    st = [rng.standard_normal(hs) for _ in range(2 if kind == "LSTMCell" else 1)]
    x, tx = sc.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    s = [sc.tensor(a, requires_grad=True) for a in st]
    ts = [torch.tensor(a, requires_grad=True) for a in st]
    if kind == "LSTMCell":
        res, tres = ours(x, tuple(s)), theirs(tx, tuple(ts))
    else:
        res, tres = (ours(x, s[0]),), (theirs(tx, ts[0]),)
    loss = sum((r * (i + 1.5)).sum() for i, r in enumerate(res))
    tloss = sum((r * (i + 1.5)).sum() for i, r in enumerate(tres))
    loss.backward()
    tloss.backward()
    for a, b in zip(res, tres):
        _close(a, b, atol=1e-10)
    _close(x.grad, tx.grad, atol=1e-10)
    for a, b in zip(s, ts):
        _close(a.grad, b.grad, atol=1e-10)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, tparams[name].grad, atol=1e-10)
    # without a state the cell starts from zeros
    no_state = ours(x)
    t_no_state = theirs(tx)
    _close(
        no_state[0] if kind == "LSTMCell" else no_state, t_no_state[0] if kind == "LSTMCell" else t_no_state
    )


def _tiny(gates, rng, bias=True):
    T, N, I, H = 3, 2, 2, 2
    mk = lambda *s: sc.tensor(rng.standard_normal(s), requires_grad=True)  # noqa: E731
    tensors = [mk(T, N, I), mk(N, H), mk(gates * H, I), mk(gates * H, H)]
    return tensors + ([mk(gates * H), mk(gates * H)] if bias else [None, None])


@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_fused_ops(reverse):
    rng = np.random.default_rng(3)
    for op in (ops.rnn_tanh_layer, ops.rnn_relu_layer):
        x, h, wi, wh, bi, bh = _tiny(1, rng)
        assert gradcheck(lambda *a, op=op: op(*a, reverse=reverse), (x, h, wi, wh, bi, bh))
    x, h, wi, wh, bi, bh = _tiny(4, rng)
    c = sc.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    assert gradcheck(
        lambda x, h, c, *w: ops.lstm_layer(x, h, c, *w, reverse=reverse), (x, h, c, wi, wh, bi, bh)
    )
    x, h, wi, wh, bi, bh = _tiny(3, rng)
    assert gradcheck(lambda *a: ops.gru_layer(*a, reverse=reverse), (x, h, wi, wh, bi, bh))
    x, h, wi, wh, _, _ = _tiny(3, rng, bias=False)
    assert gradcheck(lambda *a: ops.gru_layer(*a, reverse=reverse), (x, h, wi, wh))


def test_only_needed_gradients_flow_and_float32_stays():
    m = nn.LSTM(3, 4)
    x = sc.randn(5, 2, 3)
    out, (h, c) = m(x)
    assert out.dtype == sc.float32 and h.dtype == sc.float32
    h.sum().backward()
    assert x.grad is None
    assert all(p.grad is not None and p.grad.dtype == sc.float32 for p in m.parameters())


def test_no_grad_records_nothing():
    m = nn.GRU(3, 4)
    with sc.no_grad():
        out, h = m(sc.randn(5, 2, 3))
    assert out.grad_fn is None and not out.requires_grad


def test_retained_graph_and_interleaved_graphs_give_the_same_gradients():
    m = nn.LSTM(3, 4, num_layers=2)
    x1, x2 = sc.randn(5, 2, 3, requires_grad=True), sc.randn(5, 2, 3, requires_grad=True)
    out1, _ = m(x1)
    out2, _ = m(x2)  # a second graph alive while the first is differentiated
    out1.sum().backward(retain_graph=True)
    first = x1.grad.numpy().copy()
    x1.grad = None
    out1.sum().backward()
    np.testing.assert_allclose(x1.grad.numpy(), first, rtol=1e-6)
    out2.sum().backward()
    x3 = sc.tensor(x2.detach().numpy().copy(), requires_grad=True)
    m(x3)[0].sum().backward()
    np.testing.assert_allclose(x3.grad.numpy(), x2.grad.numpy(), rtol=1e-6)
