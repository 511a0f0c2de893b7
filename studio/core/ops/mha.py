"""Multi-head attention: the fused attention core (one node) and PyTorch's functional forward.

The core takes the projected queries, keys and values in time-major layout (L, N, E), splits the
heads as array views, and computes scores, softmax, dropout and the weighted sum in one node with a
hand-written backward. `multi_head_attention_forward` adds the input and output projections and the
masks, with the arguments and results of `torch.nn.functional.multi_head_attention_forward`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend as B
from .._arrays import shape_str
from ..amp.autocast_mode import LOWER, autocast_op
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..creation import zeros
from ..tensor import Tensor, _wrap
from .activation import softmax
from .elementwise import where
from .linalg import matmul
from .linear import linear
from .rnn import _scratch
from .shape import cat

_xp = B.array_module


# ------------------------------------------------------------------------------ attention core


def _heads(a, num_heads):
    """(L, N, E) -> (N, heads, L, head_dim) as a view: head h of batch n is PyTorch's batch n * heads + h."""
    L, N, E = a.shape
    return a.reshape(L, N, num_heads, E // num_heads).transpose(1, 2, 0, 3)


def _product_merged(xp, a, b, L, N):
    """a @ b for (N, heads, L, .) stacks, written straight into a new (L, N, heads * .) array."""
    h, d = a.shape[1], b.shape[-1]
    out = xp.empty((L, N, h * d), a.dtype)
    B.matmul(a, b, out=_heads(out, h))
    return out


def _row_sums(xp, a):
    """Sums over the last axis of a contiguous array, keeping it: one matrix-vector product.

    A reduction along a short last axis pays a loop setup per row; the product does not.
    """
    n = a.shape[-1]
    return B.matmul(a.reshape(-1, n), xp.ones(n, a.dtype)).reshape(a.shape[:-1] + (1,))


def _product(xp, a, b):
    """a @ b for stacks of matrices, into a scratch array (the caller gives it back)."""
    out = _scratch.take(xp, a.shape[:-1] + b.shape[-1:], a.dtype)
    return B.matmul(a, b, out=out)


def _heads_of(t, num_heads):
    """`_heads` with differentiable ops: (L, N, E) -> (N, heads, L, head_dim)."""
    L, N, E = t.shape
    return t.reshape(L, N, num_heads, E // num_heads).permute(1, 2, 0, 3)


class MultiHeadAttentionBackward0(Node):
    """Backward of softmax(q k^T * scale + mask) (dropped out) times v, for every head at once.

    Recorded, it goes through the same attention written with differentiable ops (`decompose`).
    """

    __slots__ = ("num_heads", "scale", "own_p", "empty_rows")
    n_outputs = 2
    saved_roles = (0, 1, 2, None, None, None)
    decomposed = True

    def decompose(self, q, k, v, p, keep, mask):
        h = self.num_heads
        s = matmul(_heads_of(q, h), _heads_of(k, h).transpose(-1, -2)) * self.scale
        if mask is not None:
            s = s + mask
        dead = _xp(p).isneginf(s._data.max(-1, keepdims=True))  # rows with every key excluded
        if dead.any():
            dead = _wrap(dead)
            weights = where(dead, self.empty_rows, softmax(where(dead, 0.0, s), -1))
        else:
            weights = softmax(s, -1)
        pd = weights if keep is None else weights * keep
        out = matmul(pd, _heads_of(v, h)).permute(2, 0, 1, 3)
        return out.reshape(q.shape[0], q.shape[1], -1), pd

    def release(self) -> None:
        saved = self.saved
        Node.release(self)
        if type(saved) is tuple:
            # the weights are the caller's once returned; the dropout mask never leaves this node
            _scratch.give(saved[4], saved[3] if self.own_p else None)

    def backward(self, gout, gweights):
        q, k, v, p, keep = self.saved[:5]
        xp = _xp(p)
        h = self.num_heads
        qh, kh, vh = _heads(q, h), _heads(k, h), _heads(v, h)
        gq = gk = gv = None
        gp = None
        temps = []
        if gout is not None:
            gh = _heads(gout, h)
            if self.needs_grad(2):
                pd = p
                if keep is not None:
                    pd = _scratch.take(xp, p.shape, p.dtype)
                    xp.multiply(p, keep, out=pd)
                    temps.append(pd)
                gv = _product_merged(xp, pd.swapaxes(-1, -2), gh, *v.shape[:2])
            gp = _product(xp, gh, vh.swapaxes(-1, -2))
            temps.append(gp)
            if gweights is not None:
                gp += gweights
        elif gweights is not None:
            gp = _scratch.take(xp, p.shape, p.dtype)
            xp.copyto(gp, gweights)
            temps.append(gp)
        if gp is not None and (self.needs_grad(0) or self.needs_grad(1)):
            if keep is not None:
                gp *= keep
            # softmax backward: gs = p * (gp - sum(gp * p)) over each row
            gpp = _scratch.take(xp, p.shape, p.dtype)
            xp.multiply(gp, p, out=gpp)
            gs = gp
            gs -= _row_sums(xp, gpp)
            gs *= p
            gs *= gs.dtype.type(self.scale)
            temps.append(gpp)
            if self.needs_grad(0):
                gq = _product_merged(xp, gs, kh, *q.shape[:2])
            if self.needs_grad(1):
                gk = _product_merged(xp, gs.swapaxes(-1, -2), qh, *k.shape[:2])
        _scratch.give(*temps)
        return gq, gk, gv


def _scores(xp, qh, kh, scale, mask):
    """q k^T * scale + mask for every head, into a scratch array."""
    s = _product(xp, qh, kh.swapaxes(-1, -2))
    s *= scale
    if mask is not None:
        s += mask
    return s


def _softmax_scores(xp, qh, kh, scale, mask, zero_empty_rows):
    """Softmax over keys of the scores, in place in a scratch array.

    Shifting by the largest score of all rows rather than of each row gives the same softmax and
    skips a slow reduction along the short key axis; when some row's sum then comes out too small to
    keep full precision (its scores far below the largest), or a score is not finite, the scores are
    recomputed and shifted row by row. A row with every key excluded gives NaN, or zeros when
    `zero_empty_rows`.
    """
    s = _scores(xp, qh, kh, scale, mask)
    top = s.max()
    if xp.isfinite(top):
        s -= top
        xp.exp(s, out=s)
        total = _row_sums(xp, s)
        if total.min() > np.sqrt(np.finfo(s.dtype).tiny):
            s /= total
            return s
        _scratch.give(s)
        s = _scores(xp, qh, kh, scale, mask)
    m = s.max(axis=-1, keepdims=True)
    if zero_empty_rows:
        m[~xp.isfinite(m)] = 0  # a row with every key excluded: exp gives 0 and the row stays 0
    with np.errstate(invalid="ignore"):  # -inf - -inf in a fully masked row: NaN weights, as PyTorch
        s -= m
    xp.exp(s, out=s)
    total = s.sum(axis=-1, keepdims=True)
    if zero_empty_rows:
        total[total == 0] = 1
    s /= total
    return s


def attention_heads(query, key, value, num_heads, mask=None, dropout_p=0.0, need_weights=False, scale=None):
    """Multi-head scaled dot-product attention on projected tensors, as one graph node.

    query (L, N, E), key (S, N, E), value (S, N, Ev); E and Ev divisible by num_heads. `mask` is an
    additive float array broadcastable to (N, heads, L, S) (-inf excludes a key), not differentiated.
    Returns (output (L, N, Ev), weights (N, heads, L, S) after dropout, or None unless need_weights).

    A row whose every key is excluded gives NaN weights when the weights are returned (PyTorch's
    softmax) and zeros otherwise (PyTorch's safe softmax in scaled_dot_product_attention).
    """
    q, k, v = query._data, key._data, value._data
    xp = _xp(q)
    qh, kh, vh = _heads(q, num_heads), _heads(k, num_heads), _heads(v, num_heads)
    sc = 1.0 / math.sqrt(qh.shape[-1]) if scale is None else float(scale)
    zero_empty = not need_weights and mask is not None
    p = _softmax_scores(xp, qh, kh, q.dtype.type(sc), mask, zero_empty_rows=zero_empty)
    keep = None
    if dropout_p > 0:
        if dropout_p >= 1:
            keep = xp.zeros(p.shape, q.dtype)
        else:
            draw = B.rng(None, xp).random(p.shape, dtype=np.float64 if q.dtype == np.float64 else np.float32)
            keep = (draw >= dropout_p).astype(q.dtype)
            keep *= q.dtype.type(1.0 / (1.0 - dropout_p))
    pd = p if keep is None else p * keep
    out = _product_merged(xp, pd, vh, *q.shape[:2])
    if needs_grad(query, key, value):
        node = MultiHeadAttentionBackward0()
        node.num_heads, node.scale = num_heads, sc
        node.own_p = not (need_weights and keep is None)
        node.empty_rows = 0.0 if zero_empty else math.nan
        record(node, (query, key, value), (q, k, v, p, keep, mask))
        node.save_versions(query, key, value)
        return _result(out, node, 0), (_result(pd, node, 1) if need_weights else None)
    if not (need_weights and keep is None):
        _scratch.give(p)
    _scratch.give(keep)
    return _result(out), (_result(pd) if need_weights else None)


# ---------------------------------------------------------------------------------------- masks


def _additive(mask, dtype, xp, what):
    """A bool mask (True = excluded) or a float mask as an additive float array of `dtype`."""
    m = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype == np.bool_:
        out = xp.zeros(m.shape, dtype)
        out[m] = -np.inf
        return out
    if m.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {what} are supported, got {m.dtype}")
    return m.astype(dtype, copy=False)


def merge_masks(attn_mask, key_padding_mask, N, num_heads, L, S, dtype, xp):
    """attn_mask (L, S) or (N * heads, L, S) and key_padding_mask (N, S) as one additive array."""
    mask = None
    if attn_mask is not None:
        a = _additive(attn_mask, dtype, xp, "attn_mask")
        if a.ndim == 2:
            if a.shape != (L, S):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {shape_str(a.shape)}, but should be {(L, S)}."
                )
            mask = a.reshape(1, 1, L, S)
        elif a.ndim == 3:
            if a.shape != (N * num_heads, L, S):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {shape_str(a.shape)}, but should be "
                    f"{(N * num_heads, L, S)}."
                )
            mask = a.reshape(N, num_heads, L, S)
        else:
            raise RuntimeError(f"attn_mask's dimension {a.ndim} is not supported: expected 2-D or 3-D")
    if key_padding_mask is not None:
        kp = _additive(key_padding_mask, dtype, xp, "key_padding_mask")
        if kp.shape != (N, S):
            raise AssertionError(
                f"expecting key_padding_mask shape of {(N, S)}, but got {shape_str(kp.shape)}"
            )
        kp = kp.reshape(N, 1, 1, S)
        mask = kp if mask is None else mask + kp
    return mask


# --------------------------------------------------------------------------- functional forward


def _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Whether the input is batched, checking the dims of every argument as PyTorch does."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                f"{key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but found "
                f"{key_padding_mask.ndim}-D tensor instead"
            )
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                f"{attn_mask.ndim}-D tensor instead"
            )
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                f"{key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D but found "
                f"{key_padding_mask.ndim}-D tensor instead"
            )
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                    f"{attn_mask.ndim}-D tensor instead"
                )
            if attn_mask.ndim == 3 and attn_mask.shape[0] != num_heads:
                raise AssertionError(
                    f"Expected `attn_mask` shape to be {(num_heads, query.shape[0], key.shape[0])} but got "
                    f"{tuple(attn_mask.shape)}"
                )
        return False
    raise AssertionError(
        f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query tensor"
    )


@autocast_op(cpu=LOWER, cuda=LOWER)
def multi_head_attention_forward(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights=True,
    is_causal=False,
):
    """Multi-head attention of query (L, N, E) over key (S, N, E_k) and value (S, N, E_v).

    Unbatched inputs are (L, E). Returns (attn_output (L, N, E), attn_weights) with the weights
    (N, L, S) averaged over heads, (N, heads, L, S) when average_attn_weights=False, or None when
    need_weights=False. Masks are not differentiated.
    """
    if static_k is not None or static_v is not None:
        raise ValueError("multi_head_attention_forward: static_k and static_v are not supported; pass None")
    batched = _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    S = key.shape[0]
    if embed_dim_to_check != E:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    if E % num_heads:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {num_heads}")
    if key.shape[0] != value.shape[0] or key.shape[1] != value.shape[1]:
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask."
        )
    # projections: one product for self-attention, three otherwise
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        if query is key and key is value:
            q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
        else:
            w_q, w_k, w_v = in_proj_weight.chunk(3)
            q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)
    else:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q/k/v_proj_weight is None")
        q, k, v = (
            linear(query, q_proj_weight, b_q),
            linear(key, k_proj_weight, b_k),
            linear(value, v_proj_weight, b_v),
        )
    xp = _xp(q._data)
    mask = merge_masks(attn_mask, key_padding_mask, N, num_heads, L, S, q._data.dtype, xp)
    extra = 0
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.expand(1, N, E)], 0)
        v = cat([v, bias_v.expand(1, N, v.shape[2])], 0)
        extra += 1
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must both be given, or neither")
    if add_zero_attn:
        k = cat([k, zeros((1, N, k.shape[2]), dtype=k.dtype, device=k.device)], 0)
        v = cat([v, zeros((1, N, v.shape[2]), dtype=v.dtype, device=v.device)], 0)
        extra += 1
    if extra and mask is not None:
        # the appended keys are never masked
        mask = xp.concatenate([mask, xp.zeros(mask.shape[:-1] + (extra,), mask.dtype)], axis=-1)
    out, weights = attention_heads(q, k, v, num_heads, mask, dropout_p if training else 0.0, need_weights)
    out = linear(out, out_proj_weight, out_proj_bias)
    if weights is not None and average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        out = out.squeeze(1)
        if weights is not None:
            weights = weights.squeeze(0)
    return out, weights
