"""MultiheadAttention: attention of queries over keys and values in several heads at once.

The attention itself is one fused node (`studio.core.ops.mha`); parameters, their names and their
initialisation are PyTorch's, so state dicts move between the two unchanged.
"""

from __future__ import annotations

import numbers

from ..creation import empty
from ..ops.mha import multi_head_attention_forward
from ..tensor import Tensor
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """The output projection of MultiheadAttention: a Linear under PyTorch's name for it."""


class MultiheadAttention(Module):
    """Multi-head attention: concat(head_1, ..., head_h) W_O, head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V).

    Args:
        embed_dim: total dimension of the model; split evenly across the heads.
        num_heads: parallel attention heads (embed_dim must be divisible by it).
        dropout: dropout on the attention weights, when training.
        bias: whether the input and output projections have biases.
        add_bias_kv: learn a bias appended to the key and value sequences.
        add_zero_attn: append a zero key and value to the sequences.
        kdim, vdim: features of keys and values (default embed_dim).
        batch_first: inputs and output are (N, L, E) instead of (L, N, E).

    Input shape: query (L, N, E), key (S, N, kdim), value (S, N, vdim), or (N, L, E) ... with
    batch_first, or unbatched (L, E). Masks: key_padding_mask (N, S), attn_mask (L, S) or
    (N * num_heads, L, S), bool (True = not allowed) or float (added to the scores).
    Output: (attn_output (L, N, E), attn_weights (N, L, S) averaged over heads, (N, num_heads, L, S)
    with average_attn_weights=False, or None with need_weights=False).
    """

    __constants__ = ["batch_first"]

    def __init__(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        add_bias_kv=False,
        add_zero_attn=False,
        kdim=None,
        vdim=None,
        batch_first=False,
        device=None,
        dtype=None,
    ):
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(
                    f"MultiheadAttention: {name} should be of type int, got {type(value).__name__}"
                )
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                f"num_heads={num_heads} instead"
            )
        super().__init__()
        self.embed_dim = int(embed_dim)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        if self.head_dim * self.num_heads != self.embed_dim:
            raise AssertionError(
                "embed_dim must be divisible by num_heads, "
                f"got embed_dim={embed_dim} and num_heads={num_heads}"
            )
        E = self.embed_dim
        kw = dict(device=device, dtype=dtype)
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty((E, E), **kw))
            self.k_proj_weight = Parameter(empty((E, self.kdim), **kw))
            self.v_proj_weight = Parameter(empty((E, self.vdim), **kw))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty((3 * E, E), **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * E, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, E), **kw))
            self.bias_v = Parameter(empty((1, 1, E), **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = bool(add_zero_attn)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases, Xavier-normal key/value biases, as in PyTorch."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
        is_causal=False,
    ):
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultiheadAttention: expected {name} to be a Tensor, got {type(t).__name__}")
        batched = query.ndim == 3
        if self.batch_first and batched:
            # keep `query is key` (self-attention takes one projection) while swapping to (L, N, E)
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = query.transpose(1, 0), key.transpose(1, 0)
                    value = key
            else:
                query, key, value = (t.transpose(1, 0) for t in (query, key, value))
        out, weights = multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and batched:
            out = out.transpose(1, 0)
        return out, weights
