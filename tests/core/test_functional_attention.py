"""scaled_dot_product_attention: masks, causality, scale, grouped heads, dropout, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
import studio.core.nn.functional as F
from studio.core.autograd import gradcheck


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


def _qkv(seed=0, heads=2, kv_heads=2):
    return [
        _rand(2, heads, 3, 4, seed=seed),
        _rand(2, kv_heads, 5, 4, seed=seed + 1),
        _rand(2, kv_heads, 5, 6, seed=seed + 2),
    ]


def _compare(torch, arrays, mask=None, **kwargs):
    xs = [sc.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    mask_s = mask_t = None
    if mask is not None:
        mask_s = sc.tensor(mask, requires_grad=mask.dtype.kind == "f")
        mask_t = torch.tensor(mask, requires_grad=mask.dtype.kind == "f")
    out = F.scaled_dot_product_attention(*xs, attn_mask=mask_s, **kwargs)
    ref = torch.nn.functional.scaled_dot_product_attention(*ts, attn_mask=mask_t, **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    direction = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    out.backward(sc.tensor(direction))
    ref.backward(torch.tensor(direction))
    pairs = list(zip(xs, ts)) + ([(mask_s, mask_t)] if mask is not None and mask.dtype.kind == "f" else [])
    for x, t in pairs:
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}, {"scale": 0.3}])
def test_attention_matches_torch(torch, kwargs):
    _compare(torch, _qkv(), **kwargs)


def test_attention_bool_and_float_masks_match_torch(torch):
    rng = np.random.default_rng(4)
    _compare(torch, _qkv(1), mask=rng.random((3, 5)) > 0.3)
    _compare(torch, _qkv(2), mask=rng.standard_normal((2, 1, 3, 5)))


def test_fully_masked_rows_give_zeros(torch):
    mask = np.ones((3, 5), bool)
    mask[1] = False
    _compare(torch, _qkv(3), mask=mask)


def test_grouped_query_attention_matches_torch(torch):
    _compare(torch, _qkv(4, heads=4, kv_heads=2), enable_gqa=True)


def test_attention_gradcheck():
    q, k, v = (sc.tensor(_rand(1, 2, s, 3, seed=i), requires_grad=True) for i, s in enumerate((2, 3, 3)))
    m = sc.tensor(_rand(2, 3, seed=7), requires_grad=True)
    assert gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), (q, k, v, m))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v))


def test_attention_dropout_is_seeded_and_scaled():
    q, k, v = (sc.tensor(a.astype(np.float32)) for a in _qkv(5))
    sc.manual_seed(1)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    sc.manual_seed(1)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert a.equal(b) and a.dtype == sc.float32
    assert not a.equal(F.scaled_dot_product_attention(q, k, v))


def test_attention_dropout_gradient_uses_the_same_mask():
    # with v = identity rows the output is the dropped attention matrix itself
    q = sc.tensor(_rand(1, 4, 3), requires_grad=True)
    k = sc.tensor(_rand(1, 5, 3, seed=1))
    v = sc.eye(5, dtype=sc.float64).reshape(1, 5, 5).requires_grad_()
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    out.sum().backward()
    np.testing.assert_allclose(v.grad.numpy()[0], out.detach().numpy()[0].sum(0)[:, None] * np.ones((1, 5)))


def test_attention_errors():
    q, k, v = (sc.tensor(a) for a in _qkv())
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=sc.ones(3, 5, dtype=sc.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="last dim"):
        F.scaled_dot_product_attention(q, k[..., :3], v)
