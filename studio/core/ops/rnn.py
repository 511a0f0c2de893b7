"""Fused recurrent layers: RNN (tanh/relu), LSTM and GRU over a whole sequence, one node each.

Each op runs one layer in one direction over a time-major sequence (T, N, I). The input projection
of every time step is one batched product; the loop over time does one matmul per step and writes
the gate activations into preallocated buffers in place. Backward walks the sequence once in reverse
with hand-written gate derivatives (their factors computed for all steps at once beforehand), then
gets each weight gradient from one long product over all steps.

Inside, states and gates are feature-major per step, (H, N) and (G, N): the per-step product is
W (G, H) @ h (H, N) and every gate is a contiguous block of rows. Gate order of the weights is
PyTorch's: LSTM (i, f, g, o), GRU (r, z, n). Inside the LSTM the rows are permuted to (o, i, f, g),
so the three sigmoid gates are one block; sigmoid rows are negated, so that `1 / (1 + exp(a))` on
the stored pre-activation `a = -z` is sigmoid(z) in three in-place calls.
"""

from __future__ import annotations

import numpy as np

from .. import backend as B
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..tensor import _result, record
from ._util import shape_str

_xp = B.array_module


# ------------------------------------------------------------------------------------- checks


def _check(name, input, hx, cx, w_ih, w_hh, b_ih, b_hh, gates):
    x = input._data
    if x.ndim != 3:
        raise RuntimeError(
            f"{name}: expected a time-major input of shape (T, N, I), got {shape_str(x.shape)}"
        )
    T, N, I = x.shape
    gh = w_hh._data.shape[0]
    H = gh // gates
    if w_ih._data.shape != (gh, I) or w_hh._data.shape != (gh, H) or gh != gates * H:
        raise RuntimeError(
            f"{name}: weights of shapes {shape_str(w_ih._data.shape)} and {shape_str(w_hh._data.shape)} "
            f"do not fit input of shape {shape_str(x.shape)}: expected ({gates}*H, {I}) and ({gates}*H, H)"
        )
    for label, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b is not None and b._data.shape != (gh,):
            raise RuntimeError(f"{name}: expected {label} of shape ({gh},), got {shape_str(b._data.shape)}")
    for label, s in (("hx", hx), ("cx", cx)):
        if s is not None and s._data.shape != (N, H):
            raise RuntimeError(
                f"{name}: expected {label} of shape ({N}, {H}), got {shape_str(s._data.shape)}"
            )
    dt = x.dtype
    for t in (hx, cx, w_ih, w_hh, b_ih, b_hh):
        if t is not None and t._data.dtype != dt:
            raise RuntimeError(
                f"{name}: expected all tensors to have the input's dtype {input.dtype}, got {t.dtype}"
            )
    return T, N, I, H


class _Scratch:
    """Big work arrays kept between calls, keyed by module, shape and dtype.

    Fresh multi-megabyte arrays come from new pages that fault on first touch, which costs more than
    the arithmetic done on them; reusing a few arrays per shape avoids that. Only arrays that never
    leave an op (temporaries, and saved buffers once their node is released) come back here.
    """

    __slots__ = ("free", "held")
    per_key = 4
    max_bytes = 128 * 2**20

    def __init__(self):
        self.free = {}
        self.held = 0

    def take(self, xp, shape, dtype):
        try:
            a = self.free[(xp.__name__, shape, dtype)].pop()
        except (KeyError, IndexError):
            return xp.empty(shape, dtype)
        self.held -= a.nbytes
        return a

    def give(self, *arrays):
        for a in arrays:
            if a is None or a.base is not None or self.held + a.nbytes > self.max_bytes:
                continue
            stack = self.free.setdefault((_xp(a).__name__, a.shape, a.dtype), [])
            if len(stack) < self.per_key:
                stack.append(a)
                self.held += a.nbytes


_scratch = _Scratch()


def _project(x, w, bias):
    """Every step's input projection at once, feature-major: (G, I) @ x_t^T for x (T, N, I) -> (T, G, N)."""
    xp = _xp(x)
    T, N, I = x.shape
    # a contiguous (T, I, N) copy is small and lets every step's product run as a plain GEMM
    xt = _scratch.take(xp, (T, I, N), x.dtype)
    xp.copyto(xt, x.transpose(0, 2, 1))
    out = _scratch.take(xp, (T, w.shape[0], N), x.dtype)
    xp.matmul(w, xt, out=out)
    _scratch.give(xt)
    if bias is not None:
        out += bias[:, None]
    return out


def _steps(T, reverse):
    """(step, index of the previous state, index of the new state) in a (T+1)-long state buffer."""
    if reverse:
        return [(t, t + 1, t) for t in range(T - 1, -1, -1)]
    return [(t, t, t + 1) for t in range(T)]


def _split_states(hs, reverse):
    """The outputs and the states each step started from, as (T, H, N) views of the state buffer."""
    return (hs[:-1], hs[1:]) if reverse else (hs[1:], hs[:-1])


def _outputs(hs, reverse):
    """The layer's output (T, N, H) and its last state (N, H) from the feature-major state buffer."""
    out, _ = _split_states(hs, reverse)
    return out.transpose(0, 2, 1), hs[0 if reverse else -1].T.copy()


def _feature_major(g):
    """A (T, N, H) output gradient as a contiguous (T, H, N) scratch array, or None."""
    if g is None:
        return None
    T, N, H = g.shape
    out = _scratch.take(_xp(g), (T, H, N), g.dtype)
    _xp(g).copyto(out, g.transpose(0, 2, 1))
    return out


def _start(g, like):
    """The gradient flowing into the last state, (N, H) -> (H, N), zeros when none arrived."""
    return _xp(like).zeros_like(like) if g is None else g.T.copy()


def _weight_grads(node, dg, x, hprev, w_ih, has_bias, dgh=None):
    """Gradients of input, w_ih, w_hh and biases from the pre-activation gradients dg (G, T, N).

    The gate gradients of all steps side by side make each weight gradient one long product:
    (G, T*N) @ (T*N, .); the bias gradients are products with ones.
    """
    xp = _xp(dg)
    G, T, N = dg.shape
    nf = node.next_functions
    dg2 = dg.reshape(G, T * N)
    dgh2 = dg2 if dgh is None else dgh.reshape(G, T * N)
    dx = dwi = dwh = dbi = dbh = None
    if nf[0][0] is not None:
        dx = xp.matmul(w_ih.T, dg2).reshape(-1, T, N).transpose(1, 2, 0)
    temps = []

    def steps_by_row(a):
        out = _scratch.take(xp, (T * N, a.shape[-1]), a.dtype)
        xp.copyto(out.reshape(a.shape), a)
        temps.append(out)
        return out

    if nf[-4][0] is not None:
        x2 = x.reshape(T * N, -1) if x.flags.c_contiguous else steps_by_row(x)
        dwi = xp.matmul(dg2, x2)
    if nf[-3][0] is not None:
        dwh = xp.matmul(dgh2, steps_by_row(hprev.transpose(0, 2, 1)))
    if has_bias and (nf[-2][0] is not None or nf[-1][0] is not None):
        ones = xp.ones(T * N, dg.dtype)
        if nf[-2][0] is not None:
            dbi = xp.matmul(dg2, ones)
        if nf[-1][0] is not None:
            dbh = dbi if dgh is None and dbi is not None else xp.matmul(dgh2, ones)
    _scratch.give(*temps)
    return dx, dwi, dwh, dbi, dbh


def _rows(w, perm=None, scale=None, transpose=False):
    """A scratch copy of weight `w` with rows reordered by `perm`, scaled by `scale`, maybe transposed."""
    xp = _xp(w)
    out = _scratch.take(xp, w.shape[::-1] if transpose else w.shape, w.dtype)
    target = out.T if transpose else out
    if perm is None:
        xp.copyto(target, w)
    else:
        xp.take(w, perm, axis=0, out=target)
    if scale is not None:
        target *= scale
    return out


# ---------------------------------------------------------------------------------- plain RNN


class _ScratchNode(Node):
    """A node whose saved work buffers (at `scratch_slots` in `saved`) go back to the scratch pool."""

    __slots__ = ()
    scratch_slots = ()

    def release(self) -> None:
        saved = self.saved
        Node.release(self)
        if type(saved) is tuple:
            _scratch.give(*(saved[i] for i in self.scratch_slots))


class RnnBackward0(_ScratchNode):
    """Backward of a tanh or relu RNN layer over a whole sequence."""

    __slots__ = ("reverse", "relu", "has_bias")
    n_outputs = 2

    def backward(self, gout, ghn):
        x, hs, w_ih, w_hh = self.saved
        xp = _xp(hs)
        T = x.shape[0]
        out, hprev = _split_states(hs, self.reverse)
        deriv = _scratch.take(xp, out.shape, out.dtype)
        if self.relu:
            xp.greater(out, 0, out=deriv, casting="unsafe")
        else:
            xp.multiply(out, out, out=deriv)
            xp.subtract(1, deriv, out=deriv)
        gout = _feature_major(gout)
        whT = xp.ascontiguousarray(w_hh.T)
        H, N = out.shape[1:]
        dg = _scratch.take(xp, (H, T, N), out.dtype)
        dh = _start(ghn, hs[0])
        for t, _, _ in _steps(T, self.reverse)[::-1]:
            if gout is not None:
                dh += gout[t]
            dgt = dg[:, t]
            xp.multiply(dh, deriv[t], out=dgt)
            dh = xp.matmul(whT, dgt)
        dx, dwi, dwh, dbi, dbh = _weight_grads(self, dg, x, hprev, w_ih, self.has_bias)
        _scratch.give(deriv, dg, gout, whT)
        dh0 = dh.T if self.next_functions[1][0] is not None else None
        return dx, dh0, dwi, dwh, dbi, dbh


def _rnn_layer(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, reverse, relu):
    name = "rnn_relu" if relu else "rnn_tanh"
    T, N, _, H = _check(name, input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh, 1)
    x, w_hh = input._data, weight_hh._data
    xp = _xp(x)
    bias = None if bias_ih is None else bias_ih._data + bias_hh._data
    xw = _project(x, weight_ih._data, bias)
    hs = xp.empty((T + 1, H, N), x.dtype)
    hs[T if reverse else 0] = hx._data.T
    for t, p, n in _steps(T, reverse):
        h = hs[n]
        xp.matmul(w_hh, hs[p], out=h)
        h += xw[t]
        if relu:
            xp.maximum(h, 0, out=h)
        else:
            xp.tanh(h, out=h)
    _scratch.give(xw)
    out, h_n = _outputs(hs, reverse)
    inputs = (input, hx, weight_ih, weight_hh, bias_ih, bias_hh)
    if grad_mode._enabled and any(t is not None and t._rg for t in inputs):
        node = RnnBackward0()
        node.reverse, node.relu, node.has_bias = reverse, relu, bias_ih is not None
        record(node, inputs, (x, hs, weight_ih._data, w_hh))
        node.save_versions(input, weight_ih, weight_hh)
        return _result(out, node, 0), _result(h_n, node, 1)
    return _result(out), _result(h_n)


def rnn_tanh_layer(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """One tanh RNN layer in one direction: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    input (T, N, I), hx (N, H). Returns (output (T, N, H), h_n (N, H)).
    """
    return _rnn_layer(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, reverse, False)


def rnn_relu_layer(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """One relu RNN layer in one direction; see `rnn_tanh_layer`."""
    return _rnn_layer(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, reverse, True)


# --------------------------------------------------------------------------------------- LSTM


def _lstm_perm(H, xp):
    """Rows of PyTorch's (i, f, g, o) reordered to (o, i, f, g), and the way back."""
    perm = np.concatenate([np.arange(3 * H, 4 * H), np.arange(0, 3 * H)])
    inv = np.argsort(perm)
    return xp.asarray(perm), xp.asarray(inv)


class LstmBackward0(_ScratchNode):
    """Backward of an LSTM layer over a whole sequence."""

    __slots__ = ("reverse", "has_bias")
    n_outputs = 3
    scratch_slots = (2, 3, 4)

    def backward(self, gout, ghn, gcn):
        x, hs, cs, acts, tc, w_ih, w_hh = self.saved
        xp = _xp(hs)
        T, G, N = acts.shape
        H = G // 4
        perm, inv = _lstm_perm(H, xp)
        w_ih_p = _rows(w_ih, perm)
        whT = _rows(w_hh, perm, transpose=True)
        _, hprev = _split_states(hs, self.reverse)
        _, cprev = _split_states(cs, self.reverse)
        o, i, g = acts[:, :H], acts[:, H : 2 * H], acts[:, 3 * H :]
        f = acts[:, 2 * H : 3 * H]
        # Factors that turn dh (o) and dc (i, f, g) into pre-activation gradients, for all steps at once.
        fac = _scratch.take(xp, acts.shape, acts.dtype)
        sig = acts[:, : 3 * H]
        xp.subtract(1, sig, out=fac[:, : 3 * H])
        fac[:, : 3 * H] *= sig
        fac[:, :H] *= tc
        fac[:, H : 2 * H] *= g
        fac[:, 2 * H : 3 * H] *= cprev
        fg = fac[:, 3 * H :]
        xp.multiply(g, g, out=fg)
        xp.subtract(1, fg, out=fg)
        fg *= i
        dtc = _scratch.take(xp, tc.shape, tc.dtype)
        xp.multiply(tc, tc, out=dtc)
        xp.subtract(1, dtc, out=dtc)
        dtc *= o
        fac_c = fac[:, H:].reshape(T, 3, H, N)

        gout = _feature_major(gout)
        dg = _scratch.take(xp, (G, T, N), acts.dtype)
        dh = _start(ghn, hs[0])
        dc = _start(gcn, hs[0])
        tmp = xp.empty_like(dh)
        for t, _, _ in _steps(T, self.reverse)[::-1]:
            if gout is not None:
                dh += gout[t]
            xp.multiply(dh, dtc[t], out=tmp)
            dc += tmp
            dgt = dg[:, t]
            xp.multiply(dh, fac[t, :H], out=dgt[:H])
            xp.multiply(dc, fac_c[t], out=dgt[H:].reshape(3, H, N))
            dc *= f[t]
            dh = xp.matmul(whT, dgt)
        dx, dwi, dwh, dbi, dbh = _weight_grads(self, dg, x, hprev, w_ih_p, self.has_bias)
        _scratch.give(fac, dtc, dg, gout, w_ih_p, whT)
        nf = self.next_functions
        return (
            dx,
            dh.T if nf[1][0] is not None else None,
            dc.T if nf[2][0] is not None else None,
            None if dwi is None else dwi[inv],
            None if dwh is None else dwh[inv],
            None if dbi is None else dbi[inv],
            None if dbh is None else dbh[inv],
        )


def lstm_layer(input, hx, cx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """One LSTM layer in one direction over a whole sequence, with PyTorch's gates (i, f, g, o).

    input (T, N, I), hx and cx (N, H). Returns (output (T, N, H), h_n (N, H), c_n (N, H)).
    """
    T, N, _, H = _check("lstm", input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh, 4)
    x = input._data
    xp = _xp(x)
    perm, _ = _lstm_perm(H, xp)
    sign = xp.ones((4 * H, 1), x.dtype)
    sign[: 3 * H] = -1
    w_ih_s = _rows(weight_ih._data, perm, sign)
    w_hh_s = _rows(weight_hh._data, perm, sign)
    bias = None if bias_ih is None else (bias_ih._data + bias_hh._data)[perm] * sign[:, 0]
    acts = _project(x, w_ih_s, bias)
    _scratch.give(w_ih_s)
    hs = xp.empty((T + 1, H, N), x.dtype)
    cs = _scratch.take(xp, (T + 1, H, N), x.dtype)
    tc = _scratch.take(xp, (T, H, N), x.dtype)
    first = T if reverse else 0
    hs[first] = hx._data.T
    cs[first] = cx._data.T
    hh = xp.empty((4 * H, N), x.dtype)
    tmp = xp.empty((H, N), x.dtype)
    with np.errstate(over="ignore"):  # exp(-z) overflows to inf for very negative z: sigmoid is 0 there
        for t, p, n in _steps(T, reverse):
            gt = acts[t]
            xp.matmul(w_hh_s, hs[p], out=hh)
            gt += hh
            sig = gt[: 3 * H]
            xp.exp(sig, out=sig)
            sig += 1
            xp.reciprocal(sig, out=sig)
            g = gt[3 * H :]
            xp.tanh(g, out=g)
            c = cs[n]
            xp.multiply(gt[2 * H : 3 * H], cs[p], out=c)
            xp.multiply(gt[H : 2 * H], g, out=tmp)
            c += tmp
            xp.tanh(c, out=tc[t])
            xp.multiply(gt[:H], tc[t], out=hs[n])
    _scratch.give(w_hh_s)
    out, h_n = _outputs(hs, reverse)
    c_n = cs[0 if reverse else T].T.copy()
    inputs = (input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh)
    if grad_mode._enabled and any(t is not None and t._rg for t in inputs):
        node = LstmBackward0()
        node.reverse, node.has_bias = reverse, bias_ih is not None
        record(node, inputs, (x, hs, cs, acts, tc, weight_ih._data, weight_hh._data))
        node.save_versions(input, weight_ih, weight_hh)
        return _result(out, node, 0), _result(h_n, node, 1), _result(c_n, node, 2)
    _scratch.give(acts, cs, tc)
    return _result(out), _result(h_n), _result(c_n)


# ---------------------------------------------------------------------------------------- GRU


class GruBackward0(_ScratchNode):
    """Backward of a GRU layer over a whole sequence."""

    __slots__ = ("reverse", "has_bias")
    n_outputs = 2
    scratch_slots = (2, 3)

    def backward(self, gout, ghn):
        x, hs, acts, hn, w_ih, w_hh = self.saved
        xp = _xp(hs)
        T, G, N = acts.shape
        H = G // 3
        dt = hs.dtype
        _, hprev = _split_states(hs, self.reverse)
        r, z, n = acts[:, :H], acts[:, H : 2 * H], acts[:, 2 * H :]
        # dh times fac_zn gives the pre-activation gradients of z and n; dn times fac_r that of r.
        fac_zn = _scratch.take(xp, (T, 2, H, N), dt)
        fz, fn = fac_zn[:, 0], fac_zn[:, 1]
        xp.subtract(1, z, out=fn)
        xp.multiply(z, fn, out=fz)
        work = _scratch.take(xp, (T, H, N), dt)
        xp.subtract(hprev, n, out=work)
        fz *= work
        xp.multiply(n, n, out=work)
        xp.subtract(1, work, out=work)
        fn *= work
        fac_r = work
        xp.subtract(1, r, out=fac_r)
        fac_r *= r
        fac_r *= hn

        gout = _feature_major(gout)
        whT = _rows(w_hh, transpose=True)
        dgh = _scratch.take(xp, (G, T, N), dt)
        dgi = _scratch.take(xp, (G, T, N), dt)
        dh = _start(ghn, hs[0])
        tmp = xp.empty_like(dh)
        for t, _, _ in _steps(T, self.reverse)[::-1]:
            if gout is not None:
                dh += gout[t]
            d = dgh[:, t]
            xp.multiply(dh, fac_zn[t], out=d[H:].reshape(2, H, N))
            dnt = d[2 * H :]
            xp.multiply(dnt, fac_r[t], out=d[:H])
            dgi[2 * H :, t] = dnt
            dnt *= r[t]
            xp.multiply(dh, z[t], out=tmp)
            dh = xp.matmul(whT, d)
            dh += tmp
        dgi[: 2 * H] = dgh[: 2 * H]
        dx, dwi, dwh, dbi, dbh = _weight_grads(self, dgi, x, hprev, w_ih, self.has_bias, dgh)
        _scratch.give(fac_zn, work, dgh, dgi, gout, whT)
        return dx, (dh.T if self.next_functions[1][0] is not None else None), dwi, dwh, dbi, dbh


def gru_layer(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """One GRU layer in one direction over a whole sequence, with PyTorch's gates (r, z, n).

    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
    input (T, N, I), hx (N, H). Returns (output (T, N, H), h_n (N, H)).
    """
    T, N, _, H = _check("gru", input, hx, None, weight_ih, weight_hh, bias_ih, bias_hh, 3)
    x, w_hh = input._data, weight_hh._data
    xp = _xp(x)
    sign = xp.ones((3 * H, 1), x.dtype)
    sign[: 2 * H] = -1
    bias = bhn = None
    if bias_ih is not None:
        bias = bias_ih._data.copy()
        bias[: 2 * H] += bias_hh._data[: 2 * H]
        bias *= sign[:, 0]
        bhn = bias_hh._data[2 * H :, None]
    w_ih_s = _rows(weight_ih._data, scale=sign)
    acts = _project(x, w_ih_s, bias)
    _scratch.give(w_ih_s)
    hs = xp.empty((T + 1, H, N), x.dtype)
    hs[T if reverse else 0] = hx._data.T
    hn = _scratch.take(xp, (T, H, N), x.dtype)
    w_hh_s = _rows(w_hh, scale=sign)
    hh = xp.empty((3 * H, N), x.dtype)
    tmp = xp.empty((H, N), x.dtype)
    with np.errstate(over="ignore"):  # exp(-z) overflows to inf for very negative z: sigmoid is 0 there
        for t, p, n in _steps(T, reverse):
            gt = acts[t]
            xp.matmul(w_hh_s, hs[p], out=hh)
            rz = gt[: 2 * H]
            rz += hh[: 2 * H]
            xp.exp(rz, out=rz)
            rz += 1
            xp.reciprocal(rz, out=rz)
            if bhn is None:
                hn[t] = hh[2 * H :]
            else:
                xp.add(hh[2 * H :], bhn, out=hn[t])
            nt = gt[2 * H :]
            xp.multiply(gt[:H], hn[t], out=tmp)
            nt += tmp
            xp.tanh(nt, out=nt)
            xp.subtract(hs[p], nt, out=tmp)
            tmp *= gt[H : 2 * H]
            xp.add(nt, tmp, out=hs[n])
    _scratch.give(w_hh_s)
    out, h_n = _outputs(hs, reverse)
    inputs = (input, hx, weight_ih, weight_hh, bias_ih, bias_hh)
    if grad_mode._enabled and any(t is not None and t._rg for t in inputs):
        node = GruBackward0()
        node.reverse, node.has_bias = reverse, bias_ih is not None
        record(node, inputs, (x, hs, acts, hn, weight_ih._data, w_hh))
        node.save_versions(input, weight_ih, weight_hh)
        return _result(out, node, 0), _result(h_n, node, 1)
    _scratch.give(acts, hn)
    return _result(out), _result(h_n)


__all__ = ["rnn_tanh_layer", "rnn_relu_layer", "lstm_layer", "gru_layer"]
