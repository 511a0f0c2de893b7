"""Converters of the recurrent layers (RNN, LSTM, GRU) and of MultiheadAttention.

ONNX's LSTM orders the gates (input, output, forget, cell) and its GRU (update, reset, new); PyTorch
orders them (input, forget, cell, output) and (reset, update, new): the weights are re-laid here.
"""

from __future__ import annotations

import math

import numpy as np

from ._graph import Value, to_numpy
from ._registry import _unsupported, converter

GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _reorder(w: np.ndarray, mode: str, hidden: int) -> np.ndarray:
    blocks = [w[i * hidden : (i + 1) * hidden] for i in range(len(GATE_ORDER[mode]))]
    return np.concatenate([blocks[i] for i in GATE_ORDER[mode]], axis=0)


def _layer_weights(ex, m, path, layer: int):
    """W (D, G*H, in), R (D, G*H, H) and B (D, 2*G*H) of one layer, in ONNX's gate order."""
    dirs = 2 if m.bidirectional else 1
    h = m.hidden_size
    ws, rs, bs = [], [], []
    for d in range(dirs):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        w_ih, w_hh = to_numpy(getattr(m, "weight_ih" + sfx)), to_numpy(getattr(m, "weight_hh" + sfx))
        ws.append(_reorder(w_ih, m.mode, h))
        rs.append(_reorder(w_hh, m.mode, h))
        if m.bias:
            b_ih, b_hh = to_numpy(getattr(m, "bias_ih" + sfx)), to_numpy(getattr(m, "bias_hh" + sfx))
            bs.append(np.concatenate([_reorder(b_ih, m.mode, h), _reorder(b_hh, m.mode, h)]))
        else:
            bs.append(np.zeros(2 * w_ih.shape[0], w_ih.dtype))
    g = ex.g
    pre = f"{path}." if path else ""
    return (
        g.initializer(f"{pre}onnx_W_l{layer}", np.stack(ws)),
        g.initializer(f"{pre}onnx_R_l{layer}", np.stack(rs)),
        g.initializer(f"{pre}onnx_B_l{layer}", np.stack(bs)),
    )


def _initial_states(ex, node, m, ins, layer, dirs):
    """Slices of h_0 (and c_0) for one layer, or None when the states start at zero."""
    hx = node.kwargs.get("hx", node.args[1] if len(node.args) > 1 else None)
    if hx is None:
        return None, None
    states = ins[1:]
    out = [ex.g.slice(s, 0, layer * dirs, (layer + 1) * dirs) for s in states]
    return out[0], (out[1] if len(out) > 1 else None)


@converter("RNN", "LSTM", "GRU")
def _recurrent(ex, node, m, path, ins, kw):
    g = ex.g
    x = ins[0]
    if x.rank != 3:
        raise _unsupported(node, "an unbatched (2-D) input; give it a batch dimension")
    mode = m.mode
    op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    dirs = 2 if m.bidirectional else 1
    h = m.hidden_size
    seq = g.transpose(x, (1, 0, 2)) if m.batch_first else x
    s, n = seq.shape[0], seq.shape[1]
    bdyn = {d: v for d, v in seq.dyn.items() if d == 1}
    attrs = {"hidden_size": h, "direction": "bidirectional" if dirs == 2 else "forward"}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if op == "RNN":
        attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * dirs
    hs, cs = [], []
    n_out = 3 if op == "LSTM" else 2
    for layer in range(m.num_layers):
        w, r, b = _layer_weights(ex, m, path, layer)
        h0, c0 = _initial_states(ex, node, m, ins, layer, dirs)
        inputs = [seq, w, r, b if m.bias else None, None, h0] + ([c0] if op == "LSTM" else [])
        while inputs and inputs[-1] is None:
            inputs.pop()
        state = ((dirs, n, h), seq.dtype, {1: bdyn[1]} if bdyn else {})
        outs = g.op(
            op,
            inputs,
            None,
            None,
            n_out=n_out,
            hint=op.lower(),
            out_meta=[((s, dirs, n, h), seq.dtype, {2: bdyn[1]} if bdyn else {})] + [state] * (n_out - 1),
            **attrs,
        )
        y = g.transpose(outs[0], (0, 2, 1, 3))
        seq = g.reshape(y, (s, n, dirs * h))
        hs.append(outs[1])
        if op == "LSTM":
            cs.append(outs[2])
    out = g.transpose(seq, (1, 0, 2)) if m.batch_first else seq
    h_n = hs[0] if len(hs) == 1 else g.concat(hs, 0)
    if op != "LSTM":
        return [out, h_n]
    c_n = cs[0] if len(cs) == 1 else g.concat(cs, 0)
    return [out, h_n, c_n]


_MHA_ARGS = (
    "query",
    "key",
    "value",
    "key_padding_mask",
    "need_weights",
    "attn_mask",
    "average_attn_weights",
    "is_causal",
)
_MHA_DEFAULTS = {
    "key_padding_mask": None,
    "need_weights": True,
    "attn_mask": None,
    "average_attn_weights": True,
    "is_causal": False,
}


def _projection(ex, x: Value, w: Value, b: Value | None) -> Value:
    g = ex.g
    y = g.matmul(x, g.transpose(w, (1, 0)))
    return g.binary("Add", y, b) if b is not None else y


def _rows(ex, v: Value, i: int, e: int) -> Value:
    return ex.g.slice(v, 0, i * e, (i + 1) * e)


@converter("MultiheadAttention")
def _mha(ex, node, m, path, ins, kw):
    call = dict(_MHA_DEFAULTS)
    call.update(zip(_MHA_ARGS, node.args))
    call.update(kw)
    if call["attn_mask"] is not None or call["key_padding_mask"] is not None or call["is_causal"]:
        raise _unsupported(node, "attention masks (attn_mask, key_padding_mask, is_causal)")
    if m.bias_k is not None or m.add_zero_attn:
        raise _unsupported(node, "add_bias_kv or add_zero_attn")
    if ins[0].rank != 3:
        raise _unsupported(node, "an unbatched (2-D) query; give it a batch dimension")
    g = ex.g
    q, k, v = (ins[0], ins[1], ins[2]) if len(ins) >= 3 else (ins[0], ins[0], ins[0])
    if not m.batch_first:
        q, k, v = (g.transpose(t, (1, 0, 2)) for t in (q, k, v))
    e, heads = m.embed_dim, m.num_heads
    d = e // heads
    if m._qkv_same_embed_dim:
        w = ex.leaf(m.in_proj_weight)
        wq, wk, wv = (_rows(ex, w, i, e) for i in range(3))
    else:
        wq, wk, wv = (ex.leaf(getattr(m, f"{c}_proj_weight")) for c in "qkv")
    bq = bk = bv = None
    if m.in_proj_bias is not None:
        bias = ex.leaf(m.in_proj_bias)
        bq, bk, bv = (_rows(ex, bias, i, e) for i in range(3))
    n, lq, ls = q.shape[0], q.shape[1], k.shape[1]
    qh = g.transpose(g.reshape(_projection(ex, q, wq, bq), (n, lq, heads, d)), (0, 2, 1, 3))
    kh = g.transpose(g.reshape(_projection(ex, k, wk, bk), (n, ls, heads, d)), (0, 2, 3, 1))
    vh = g.transpose(g.reshape(_projection(ex, v, wv, bv), (n, ls, heads, d)), (0, 2, 1, 3))
    scores = g.binary("Mul", g.matmul(qh, kh), g.scalar(1.0 / math.sqrt(d), qh))
    probs = g.same("Softmax", scores, axis=-1)
    o = g.reshape(g.transpose(g.matmul(probs, vh), (0, 2, 1, 3)), (n, lq, e))
    out_b = ex.leaf(m.out_proj.bias) if m.out_proj.bias is not None else None
    out = _projection(ex, o, ex.leaf(m.out_proj.weight), out_b)
    if not m.batch_first:
        out = g.transpose(out, (1, 0, 2))
    weights = None
    if call["need_weights"]:
        weights = g.reduce("ReduceMean", probs, [1], False) if call["average_attn_weights"] else probs
    return [out, weights]
