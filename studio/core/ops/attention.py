"""Scaled dot-product attention as one fused node with a hand-written backward.

out = dropout(softmax(q k^T * scale + mask)) v; rows whose every key is masked give zeros, as in
PyTorch's safe softmax.
"""

from __future__ import annotations

import math

from .. import backend as B
from .._arrays import shape_str, sum_to
from ..amp.autocast_mode import LOWER, autocast_op
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..tensor import Tensor, _wrap
from .activation import softmax
from .elementwise import where
from .linalg import matmul

_xp = B.array_module


class ScaledDotProductAttentionBackward0(Node):
    """Backward of attention; recorded, it goes through the attention written with differentiable ops."""

    __slots__ = ("scale", "shapes", "groups")
    # q, repeated k and v, weights, dropout, then key, value, a float mask input and a constant mask
    saved_roles = (0, None, None, None, None, 1, 2, 3, None)
    decomposed = True

    def name(self):
        return "ScaledDotProductEfficientAttentionBackward0"

    def decompose(self, q, k, v, p, drop, key, value, mask, fixed_mask):
        if self.groups > 1:
            key, value = _repeat_heads(key, self.groups), _repeat_heads(value, self.groups)
        s = matmul(q, key.transpose(-1, -2)) * self.scale
        if mask is not None:
            s = s + mask.to(s.dtype)
        if fixed_mask is not None:
            s = s + fixed_mask
        dead = _xp(p).isneginf(s._data.max(-1, keepdims=True))  # rows with every key excluded
        if dead.any():
            weights = where(_wrap(dead), 0.0, softmax(where(_wrap(dead), 0.0, s), -1))
        else:
            weights = softmax(s, -1)
        return matmul(weights if drop is None else weights * drop, value)

    def backward(self, g):
        q, k, v, p, drop, _, _, _, _ = self.saved
        xp = _xp(g)
        sq, sk, sv, sm = self.shapes
        pd = p if drop is None else p * drop
        gq = gk = gv = gm = None
        if self.needs_grad(2):
            gv = _ungroup(B.matmul(xp.swapaxes(pd, -1, -2), g), self.groups, sv)
        need_s = self.needs_grad(0) or self.needs_grad(1) or self.needs_grad(3)
        if need_s:
            gp = B.matmul(g, xp.swapaxes(v, -1, -2))
            if drop is not None:
                gp = gp * drop
            gs = p * (gp - (gp * p).sum(axis=-1, keepdims=True))
            if self.needs_grad(0):
                gq = sum_to(B.matmul(gs, k) * gs.dtype.type(self.scale), sq)
            if self.needs_grad(1):
                gk = _ungroup(
                    B.matmul(xp.swapaxes(gs, -1, -2), q) * gs.dtype.type(self.scale), self.groups, sk
                )
            if self.needs_grad(3):
                gm = sum_to(gs, sm)
        return (gq, gk, gv, gm)[: len(self.next_functions)]


def _repeat_heads(t, groups):
    """Each key/value head `groups` times in a row (grouped-query attention), with differentiable ops."""
    shape = tuple(t.shape)
    t = t.unsqueeze(-3).expand(shape[:-2] + (groups,) + shape[-2:])
    return t.reshape(shape[:-3] + (shape[-3] * groups,) + shape[-2:])


def _ungroup(g, groups, shape):
    """Undo the repetition of key/value heads (grouped-query attention) and any broadcasting."""
    if groups > 1:
        g = g.reshape(g.shape[:-3] + (g.shape[-3] // groups, groups) + g.shape[-2:]).sum(axis=-3)
    return sum_to(g, shape)


@autocast_op(cpu=LOWER, cuda=LOWER)
def scaled_dot_product_attention(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """Attention of queries (..., L, E) over keys (..., S, E) and values (..., S, Ev) -> (..., L, Ev).

    attn_mask is boolean (True takes part) or float (added to the scores), broadcast to (..., L, S).
    """
    q, k, v = query._data, key._data, value._data
    where = "scaled_dot_product_attention"
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise RuntimeError(
            f"{where}: query, key and value must be at least 2-D, got {q.ndim}, {k.ndim}, {v.ndim}"
        )
    if not (q.dtype == k.dtype == v.dtype):
        raise RuntimeError(
            "Expected query, key, and value to have the same "
            f"dtype, but got query.dtype: {q.dtype} key.dtype: "
            f"{k.dtype} and value.dtype: {v.dtype} instead."
        )
    if q.shape[-1] != k.shape[-1]:
        raise RuntimeError(
            f"{where}: query's last dim ({q.shape[-1]}) must match key's ({k.shape[-1]}): query of shape "
            f"{shape_str(q.shape)}, key of shape {shape_str(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise RuntimeError(
            f"{where}: key and value must have the same sequence "
            f"length, got key of shape {shape_str(k.shape)} "
            f"and value of shape {shape_str(v.shape)}"
        )
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
        )
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    xp = _xp(q)
    groups = 1
    if enable_gqa and q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        if q.shape[-3] % k.shape[-3]:
            raise RuntimeError(
                f"{where}: number of query heads ({q.shape[-3]}) "
                "must be divisible by the number of key/value "
                f"heads ({k.shape[-3]}) when enable_gqa=True"
            )
        groups = q.shape[-3] // k.shape[-3]
        k = xp.repeat(k, groups, axis=-3)
        v = xp.repeat(v, groups, axis=-3)
    sc = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    s = B.matmul(q, xp.swapaxes(k, -1, -2))
    s *= q.dtype.type(sc)
    length, src = q.shape[-2], k.shape[-2]
    mask = None
    if is_causal:
        mask = xp.tril(xp.ones((length, src), dtype=bool))
    elif attn_mask is not None:
        mask = attn_mask._data if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
    fixed = None  # an additive mask that is not an input to differentiate
    if mask is not None:
        if mask.dtype == bool:
            # an additive 0/-inf mask on the mask's own (small) shape, broadcast in one add
            fixed = xp.zeros(mask.shape, dtype=q.dtype)
            fixed[~mask] = -xp.inf
            s = s + fixed
        else:
            s = s + mask.astype(q.dtype, copy=False)
            if not isinstance(attn_mask, Tensor):
                fixed = mask.astype(q.dtype, copy=False)
    m = s.max(axis=-1, keepdims=True)
    dead = ~xp.isfinite(m)  # every key masked: the row attends to nothing
    e = xp.exp(s - xp.where(dead, 0, m))
    p = e / xp.maximum(e.sum(axis=-1, keepdims=True), q.dtype.type(1e-38))
    if dead.any():
        p = xp.where(dead, 0, p)
    drop = None
    if dropout_p > 0:
        if dropout_p == 1.0:
            drop = xp.zeros(p.shape, dtype=q.dtype)
        else:
            draw = B.rng(None, xp).random(p.shape, dtype=xp.float64 if q.dtype == xp.float64 else xp.float32)
            drop = (draw >= dropout_p) * q.dtype.type(1.0 / (1.0 - dropout_p))
    out = B.matmul(p if drop is None else p * drop, v)
    mask_t = attn_mask if isinstance(attn_mask, Tensor) and attn_mask._data.dtype.kind == "f" else None
    tensors = (query, key, value) + ((mask_t,) if mask_t is not None else ())
    if needs_grad(*tensors):
        node = ScaledDotProductAttentionBackward0()
        node.scale = sc
        node.groups = groups
        node.shapes = (
            q.shape,
            key._data.shape,
            value._data.shape,
            None if mask_t is None else mask_t._data.shape,
        )
        m = None if mask_t is None else mask_t._data
        record(node, tensors, (q, k, v, p, drop, key._data, value._data, m, fixed))
        node.save_versions(query, key, value)
        return _result(out, node)
    return _result(out)
