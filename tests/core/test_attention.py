"""MultiheadAttention and its fused attention op against PyTorch: outputs, weights, masks, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import nn
from studio.core.autograd import gradcheck
from studio.core.ops.mha import attention_heads


def _pair(torch, **cfg):
    E, H = cfg.pop("E", 8), cfg.pop("H", 2)
    ours = nn.MultiheadAttention(E, H, **cfg).double()
    theirs = torch.nn.MultiheadAttention(E, H, **cfg).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy().copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def _run(torch, ours, theirs, inputs, masks=None, check_grads=True, **kw):
    """Run both modules on the same arrays; compare outputs, weights and every gradient."""
    masks = masks or {}
    a = [sc.tensor(x, requires_grad=True) for x in inputs]
    b = [torch.tensor(x, requires_grad=True) for x in inputs]
    if len(inputs) == 1:
        a, b = a * 3, b * 3
    sm = {k: sc.tensor(v) for k, v in masks.items()}
    tm = {k: torch.tensor(v) for k, v in masks.items()}
    out, w = ours(*a, **sm, **kw)
    tout, tw = theirs(*b, **tm, **kw)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-10)
    if tw is None:
        assert w is None
    else:
        np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), atol=1e-10)
    if not check_grads:
        return out, w
    rng = np.random.default_rng(5)
    g = rng.standard_normal(tuple(tout.shape))
    loss = (out * sc.tensor(g)).sum() + ((w * w).sum() if w is not None else 0)
    tloss = (tout * torch.tensor(g)).sum() + ((tw * tw).sum() if tw is not None else 0)
    loss.backward()
    tloss.backward()
    for x, y in zip(a[: len(inputs)], b[: len(inputs)]):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), atol=1e-10)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), atol=1e-10, err_msg=name)
    return out, w


def test_self_attention_matches_torch(torch):
    ours, theirs = _pair(torch)
    x = np.random.default_rng(0).standard_normal((5, 3, 8))
    _run(torch, ours, theirs, [x])
    _run(torch, ours, theirs, [x], average_attn_weights=False)
    _run(torch, ours, theirs, [x], need_weights=False)


def test_cross_attention_with_kdim_vdim_and_batch_first(torch):
    rng = np.random.default_rng(1)
    ours, theirs = _pair(torch, kdim=6, vdim=4, batch_first=True)
    assert list(ours.state_dict())[:3] == ["q_proj_weight", "k_proj_weight", "v_proj_weight"]
    q, k, v = rng.standard_normal((3, 5, 8)), rng.standard_normal((3, 7, 6)), rng.standard_normal((3, 7, 4))
    _run(torch, ours, theirs, [q, k, v])


def test_key_is_value_and_no_bias(torch):
    rng = np.random.default_rng(2)
    ours, theirs = _pair(torch, bias=False)
    q, kv = rng.standard_normal((4, 2, 8)), rng.standard_normal((6, 2, 8))
    a_q, a_kv = sc.tensor(q, requires_grad=True), sc.tensor(kv, requires_grad=True)
    t_q, t_kv = torch.tensor(q, requires_grad=True), torch.tensor(kv, requires_grad=True)
    out, _ = ours(a_q, a_kv, a_kv)
    tout, _ = theirs(t_q, t_kv, t_kv)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-10)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(a_kv.grad.numpy(), t_kv.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_masks_match_torch(torch, kind):
    rng = np.random.default_rng(3)
    ours, theirs = _pair(torch)
    x = rng.standard_normal((5, 3, 8))
    causal = np.triu(np.ones((5, 5), bool), 1)
    padding = np.zeros((3, 5), bool)
    padding[1, 3:] = True
    per_head = rng.random((3 * 2, 5, 5)) < 0.3
    per_head[..., 0] = False  # every query keeps at least one key
    if kind == "float":
        causal, padding, per_head = (np.where(m, -np.inf, 0.0) for m in (causal, padding, per_head))
    _run(torch, ours, theirs, [x], {"attn_mask": causal, "key_padding_mask": padding})
    _run(torch, ours, theirs, [x], {"attn_mask": per_head})
    _run(torch, ours, theirs, [x], {"key_padding_mask": padding}, need_weights=False)


def test_fully_masked_rows_like_torch(torch):
    ours, theirs = _pair(torch)
    x = np.random.default_rng(4).standard_normal((4, 2, 8))
    padding = np.zeros((2, 4), bool)
    padding[0] = True
    out, w = _run(
        torch, ours, theirs, [x], {"key_padding_mask": padding}, check_grads=False, need_weights=False
    )
    assert np.isfinite(out.detach().numpy()).all()
    a, b = sc.tensor(x), torch.tensor(x)
    out, w = ours(a, a, a, key_padding_mask=sc.tensor(padding))
    tout, tw = theirs(b, b, b, key_padding_mask=torch.tensor(padding))
    assert np.isnan(w.detach().numpy()[0]).all() and np.isnan(tw.detach().numpy()[0]).all()


def test_unbatched_and_bias_kv_zero_attn(torch):
    rng = np.random.default_rng(6)
    ours, theirs = _pair(torch, add_bias_kv=True, add_zero_attn=True)
    assert list(ours.state_dict()) == [
        "in_proj_weight",
        "in_proj_bias",
        "bias_k",
        "bias_v",
        "out_proj.weight",
        "out_proj.bias",
    ]
    x = rng.standard_normal((5, 8))
    mask = np.triu(np.ones((5, 5), bool), 1)
    _run(torch, ours, theirs, [x], {"attn_mask": mask})
    _run(torch, ours, theirs, [x], {"key_padding_mask": np.array([False, False, True, False, True])})


def test_default_init_like_torch(torch):
    m = nn.MultiheadAttention(16, 4)
    assert np.all(m.in_proj_bias.detach().numpy() == 0) and np.all(m.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (16 + 48))
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(m.out_proj, nn.Linear)


def test_dropout_on_weights_only_when_training():
    m = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = sc.randn(4, 2, 8)
    m.train()
    _, w = m(x, x, x)
    assert (w.detach().numpy() == 0).any()
    m.eval()
    _, w1 = m(x, x, x)
    _, w2 = m(x, x, x)
    np.testing.assert_array_equal(w1.detach().numpy(), w2.detach().numpy())
    np.testing.assert_allclose(w1.detach().numpy().sum(-1), 1, rtol=1e-5)


def test_bad_arguments_raise_like_torch():
    with pytest.raises(AssertionError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="embed_dim=0"):
        nn.MultiheadAttention(0, 1)
    m = nn.MultiheadAttention(8, 2)
    x = sc.randn(4, 2, 8)
    with pytest.raises(AssertionError, match="4-D query"):
        m(sc.randn(1, 4, 2, 8), x, x)
    with pytest.raises(AssertionError, match="embedding dimension of 8, but got 6"):
        y = sc.randn(4, 2, 6)
        m(y, y, y)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(3, 3\), but should be \(4, 4\)"):
        m(x, x, x, attn_mask=sc.zeros(3, 3))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(x, x, x, is_causal=True)


def test_float32_stays_float32():
    m = nn.MultiheadAttention(8, 2)
    x = sc.randn(4, 2, 8, requires_grad=True)
    out, w = m(x, x, x)
    assert out.dtype == sc.float32 and w.dtype == sc.float32
    out.sum().backward()
    assert x.grad.dtype == sc.float32


def test_gradcheck_fused_attention():
    rng = np.random.default_rng(7)
    q, k, v = (
        sc.tensor(rng.standard_normal(s), requires_grad=True) for s in ((3, 2, 4), (5, 2, 4), (5, 2, 4))
    )
    mask = np.where(rng.random((1, 1, 3, 5)) < 0.3, -np.inf, 0.0)
    mask[..., 0] = 0.0
    mask = sc.tensor(mask)._data  # the op takes arrays of its inputs' device
    assert gradcheck(lambda q, k, v: attention_heads(q, k, v, 2, mask, need_weights=True), (q, k, v))
    assert gradcheck(lambda q, k, v: attention_heads(q, k, v, 2)[0], (q, k, v))


def test_one_graph_node_for_the_attention():
    q = sc.randn(3, 2, 4, requires_grad=True)
    out, w = attention_heads(q, q, q, 2, need_weights=True)
    assert out.grad_fn is w.grad_fn
    assert type(out.grad_fn).__name__ == "MultiHeadAttentionBackward0"


def _reference_attention(q, k, v, heads):
    """Softmax attention per head in float64 numpy: (output (L, N, E), weights (N, heads, L, S))."""
    L, N, E = q.shape
    split = [a.reshape(a.shape[0], N, heads, -1).transpose(1, 2, 0, 3) for a in (q, k, v)]
    s = split[0] @ split[1].swapaxes(-1, -2) / np.sqrt(E // heads)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return (p @ split[2]).transpose(2, 0, 1, 3).reshape(L, N, -1), p


@pytest.mark.parametrize("spread", [1.0, 30.0])
def test_softmax_keeps_precision_when_rows_differ_widely(spread):
    # batch 0 gets scores in the thousands, batch 1 stays near zero: a shift by the largest score of
    # all rows would leave batch 1 with nothing, so its rows must be shifted on their own
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s) for s in ((4, 2, 8), (6, 2, 8), (6, 2, 8)))
    q[:, 0] *= spread
    k[:, 0] *= spread
    out, w = attention_heads(*(sc.tensor(a.astype(np.float32)) for a in (q, k, v)), 2, need_weights=True)
    ref_out, ref_w = _reference_attention(q, k, v, 2)
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-4, atol=1e-5)
    assert w.dtype == sc.float32
