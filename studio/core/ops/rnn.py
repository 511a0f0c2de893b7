"""Fused recurrent layers: RNN (tanh/relu), LSTM and GRU over a whole sequence, one node each.

Each op runs one layer in one direction over a time-major sequence (T, N, I). The loop over time does
one matmul per step and writes the gate activations into preallocated buffers in place. Backward
walks the sequence once in reverse with hand-written gate derivatives, then gets each weight
gradient from long products over many steps at once.

Inside, states and gates are feature-major per step, (H, N) and (G, N): the per-step product is
W (G, H) @ h (H, N) and every gate is a contiguous block of rows. Gate order of the weights is
PyTorch's: LSTM (i, f, g, o), GRU (r, z, n).

RNN and GRU project every step's input in one batched product before the loop. The LSTM instead
multiplies [W_hh | W_ih | b] by the stacked [h; x_t; 1] each step, so one product per step gives the
gates and, in backward, one product per chunk of steps gives every weight gradient. Its rows are
permuted to (o, f, i, g), so the sigmoid gates are one block, and those rows are halved:
sigmoid(z) = 0.5 * tanh(z / 2) + 0.5 lets one tanh call cover all four gates. GRU sigmoid rows are
negated instead, so that `1 / (1 + exp(a))` on the stored `a = -z` is sigmoid(z).
"""

from __future__ import annotations

import numpy as np

from .. import backend as B
from .._arrays import shape_str
from ..amp.autocast_mode import LOWER, autocast_op
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from .activation import relu
from .elementwise import sigmoid, tanh
from .linear import linear
from .shape import stack

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

# steps whose gate factors the LSTM backward computes together: big enough to amortise the calls,
# small enough that the factors are still in cache when the step loop reads them
_CHUNK = 8


def _project(x, w, bias):
    """Every step's input projection at once, feature-major: (G, I) @ x_t^T for x (T, N, I) -> (T, G, N)."""
    xp = _xp(x)
    T, N, I = x.shape
    # a contiguous (T, I, N) copy is small and lets every step's product run as a plain GEMM
    xt = _scratch.take(xp, (T, I, N), x.dtype)
    xp.copyto(xt, x.transpose(0, 2, 1))
    out = _scratch.take(xp, (T, w.shape[0], N), x.dtype)
    B.matmul(w, xt, out=out)
    _scratch.give(xt)
    if bias is not None:
        # the bias repeated along the batch is contiguous like each step's block, so the add runs in
        # one long pass rather than one short pass per row
        flat = out.reshape(T, -1)
        flat += xp.repeat(bias, N)
    return out


def _steps(T, reverse):
    """(step, index of the previous state, index of the new state) in a (T+1)-long state buffer."""
    if reverse:
        return [(t, t + 1, t) for t in range(T - 1, -1, -1)]
    return [(t, t, t + 1) for t in range(T)]


def _chunks(T, reverse, size):
    """Ranges [lo, hi) of `size` steps each, in the order the backward pass visits them."""
    if reverse:
        return [(lo, min(T, lo + size)) for lo in range(0, T, size)]
    return [(max(0, hi - size), hi) for hi in range(T, 0, -size)]


_row_blocks = {}  # void dtypes of one whole row, by its size in bytes


def _swap_copy(dst, src):
    """copyto(dst, src.transpose(1, 0, 2)) for 3-D arrays with contiguous last-axis rows.

    On the CPU each row moves as one opaque block: an elementwise copy would run its inner loop over
    one short row at a time.
    """
    xp = _xp(src)
    if type(src) is not np.ndarray or src.strides[-1] != src.itemsize or dst.strides[-1] != dst.itemsize:
        xp.copyto(dst, src.transpose(1, 0, 2))
        return
    size = src.shape[-1] * src.itemsize
    block = _row_blocks.get(size)
    if block is None:
        block = _row_blocks[size] = np.dtype((np.void, size))
    xp.copyto(dst.view(block)[..., 0], src.view(block)[..., 0].T)


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
    dg2 = dg.reshape(G, T * N)
    dgh2 = dg2 if dgh is None else dgh.reshape(G, T * N)
    dx = dwi = dwh = dbi = dbh = None
    if node.needs_grad(0):
        dx = B.matmul(w_ih.T, dg2).reshape(-1, T, N).transpose(1, 2, 0)
    temps = []

    def steps_by_row(a):
        out = _scratch.take(xp, (T * N, a.shape[-1]), a.dtype)
        xp.copyto(out.reshape(a.shape), a)
        temps.append(out)
        return out

    if node.needs_grad(-4):
        x2 = x.reshape(T * N, -1) if x.flags.c_contiguous else steps_by_row(x)
        dwi = B.matmul(dg2, x2)
    if node.needs_grad(-3):
        dwh = B.matmul(dgh2, steps_by_row(hprev.transpose(0, 2, 1)))
    if has_bias and (node.needs_grad(-2) or node.needs_grad(-1)):
        ones = xp.ones(T * N, dg.dtype)
        if node.needs_grad(-2):
            dbi = B.matmul(dg2, ones)
        if node.needs_grad(-1):
            dbh = dbi if dgh is None and dbi is not None else B.matmul(dgh2, ones)
    _scratch.give(*temps)
    return dx, dwi, dwh, dbi, dbh


def _rows(w, perm=None, scale=None, transpose=False):
    """A scratch copy of weight `w` with rows reordered by `perm`, scaled by `scale`, maybe transposed."""
    xp = _xp(w)
    out = _scratch.take(xp, w.shape[::-1] if transpose else w.shape, w.dtype)
    target = out.T if transpose else out
    if perm is None:
        xp.copyto(target, w)
    elif transpose:
        # a take straight into the transposed view writes one strided element at a time
        xp.copyto(target, xp.take(w, perm, axis=0))
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


def _recurrence(x, state, step, reverse):
    """Run `step(x_t, state) -> state` over the sequence with differentiable ops (a recorded backward
    goes through this); the output at each step is the state's first tensor."""
    T = x.shape[0]
    outs = [None] * T
    for t in range(T - 1, -1, -1) if reverse else range(T):
        state = step(x[t], state)
        outs[t] = state[0]
    return (stack(outs),) + tuple(state)


class RnnBackward0(_ScratchNode):
    """Backward of a tanh or relu RNN layer over a whole sequence."""

    __slots__ = ("reverse", "relu", "has_bias")
    n_outputs = 2
    saved_roles = (0, None, 2, 3, 1, 4, 5)
    decomposed = True

    def decompose(self, x, hs, w_ih, w_hh, h0, b_ih, b_hh):
        act = relu if self.relu else tanh

        def step(xt, state):
            return (act(linear(xt, w_ih, b_ih) + linear(state[0], w_hh, b_hh)),)

        return _recurrence(x, (h0,), step, self.reverse)

    def backward(self, gout, ghn):
        x, hs, w_ih, w_hh = self.saved[:4]
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
            dh = B.matmul(whT, dgt)
        dx, dwi, dwh, dbi, dbh = _weight_grads(self, dg, x, hprev, w_ih, self.has_bias)
        _scratch.give(deriv, dg, gout, whT)
        dh0 = dh.T if self.needs_grad(1) else None
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
        B.matmul(w_hh, hs[p], out=h)
        h += xw[t]
        if relu:
            xp.maximum(h, 0, out=h)
        else:
            xp.tanh(h, out=h)
    _scratch.give(xw)
    out, h_n = _outputs(hs, reverse)
    inputs = (input, hx, weight_ih, weight_hh, bias_ih, bias_hh)
    if needs_grad(*inputs):
        node = RnnBackward0()
        node.reverse, node.relu, node.has_bias = reverse, relu, bias_ih is not None
        biases = (None, None) if bias_ih is None else (bias_ih._data, bias_hh._data)
        record(node, inputs, (x, hs, weight_ih._data, w_hh, hx._data) + biases)
        node.save_versions(input, weight_ih, weight_hh)
        return _result(out, node, 0), _result(h_n, node, 1)
    return _result(out), _result(h_n)


@autocast_op(cpu=LOWER, cuda=LOWER)
def rnn_tanh_layer(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """One tanh RNN layer in one direction: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    input (T, N, I), hx (N, H). Returns (output (T, N, H), h_n (N, H)).
    """
    return _rnn_layer(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, reverse, False)


@autocast_op(cpu=LOWER, cuda=LOWER)
def rnn_relu_layer(input, hx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """One relu RNN layer in one direction; see `rnn_tanh_layer`."""
    return _rnn_layer(input, hx, weight_ih, weight_hh, bias_ih, bias_hh, reverse, True)


# --------------------------------------------------------------------------------------- LSTM


# PyTorch's gate blocks (i, f, g, o), in the order the LSTM keeps them inside: (o, f, i, g)
_LSTM_BLOCKS = (3, 1, 0, 2)
_lstm_unpermutes = {}


def _lstm_unpermute(H, xp):
    """Row indices taking the inner gate order back to PyTorch's."""
    if H not in _lstm_unpermutes:
        perm = np.concatenate([np.arange(j * H, (j + 1) * H) for j in _LSTM_BLOCKS])
        _lstm_unpermutes[H] = np.argsort(perm)
    return xp.asarray(_lstm_unpermutes[H])


def _gate_rows(dst, src, H):
    """dst[:] = src with its gate blocks in the inner order, copied block by block (no index arrays)."""
    for k, j in enumerate(_LSTM_BLOCKS):
        dst[k * H : (k + 1) * H] = src[j * H : (j + 1) * H]


class LstmBackward0(_ScratchNode):
    """Backward of an LSTM layer over a whole sequence.

    Per step, `acts` holds the rows [o, f, i, g, tanh(c)]; `fac` gets the rows [o', f', i', g', c']
    that turn dh (o', c') and dc (f', i', g') into the pre-activation gradients and the term dh adds
    to dc. The row order lets each group of factors come from one call over a chunk of steps.
    """

    __slots__ = ("reverse", "has_bias", "input_size")
    n_outputs = 3
    scratch_slots = (1, 2)
    saved_roles = (None, None, None, 3, 4, 0, 1, 2, 5, 6)
    decomposed = True

    def decompose(self, zs, cs, acts, w_ih, w_hh, x, h0, c0, b_ih, b_hh):
        def step(xt, state):
            h, c = state
            i, f, g, o = (linear(xt, w_ih, b_ih) + linear(h, w_hh, b_hh)).chunk(4, 1)
            c = sigmoid(f) * c + sigmoid(i) * tanh(g)
            return (sigmoid(o) * tanh(c), c)

        return _recurrence(x, (h0, c0), step, self.reverse)

    def backward(self, gout, ghn, gcn):
        zs, cs, acts, w_ih, w_hh = self.saved[:5]
        xp = _xp(zs)
        T, R, N = acts.shape
        H, I = R // 5, self.input_size
        G = 4 * H
        dt = acts.dtype
        inv = _lstm_unpermute(H, xp)
        whT = _scratch.take(xp, (H, G), dt)
        _gate_rows(whT.T, w_hh, H)
        _, cprev = _split_states(cs, self.reverse)
        gout = _feature_major(gout)
        size = min(T, _CHUNK)
        fac = _scratch.take(xp, (size, 5, H, N), dt)
        # per step, rows [o, f, i, g] of `steps` are the pre-activation gradients, row 4 the dc term;
        # a chunk's gradients, regrouped as (G, steps, N) in `work`, give the chunk's share of the
        # weight and input gradients in one product each
        steps = _scratch.take(xp, (size, 5, H, N), dt)
        work = _scratch.take(xp, (G, size, N), dt)
        work2 = work.reshape(G, size * N)
        dh = _start(ghn, cs[0])
        dh_next = xp.empty_like(dh)
        dc = _start(gcn, cs[0])
        need_w = any(self.needs_grad(j) for j in range(3, 7))
        K = zs.shape[1]
        off = 1 if self.reverse else 0  # slot of step 0's [h; x; 1] in zs
        zbuf = _scratch.take(xp, (K, size, N), dt) if need_w else None
        dw = dw_part = dx = wiT = None
        if self.needs_grad(0):
            wiT = _scratch.take(xp, (I, G), dt)
            _gate_rows(wiT.T, w_ih, H)
            dx = xp.empty((I, T * N), dt)
        # the views each step of a chunk works on, made once: the buffers are the same for every chunk
        views = [
            (
                fac[j, 4::-4],
                steps[j, 4::-4],
                steps[j, 4],
                fac[j, 1:4],
                steps[j, 1:4],
                steps[j, :4].reshape(G, N),
            )
            for j in range(size)
        ]
        for lo, hi in _chunks(T, self.reverse, size):
            # the factors of a chunk of steps at once, while the chunk stays in cache
            k = hi - lo
            a, f_ = acts[lo:hi].reshape(k, 5, H, N), fac[:k]
            sig, fs = a[:, :3], f_[:, :3]
            xp.subtract(1, sig, out=fs)
            fs *= sig  # sigmoid'
            th, ft = a[:, 3:], f_[:, 3:]
            xp.multiply(th, th, out=ft)
            xp.subtract(1, ft, out=ft)  # tanh' of g and of c
            ft *= a[:, 2::-2]  # g' times i, c' times o
            f_[:, 0:3:2] *= a[:, 4:2:-1]  # o' times tanh(c), i' times g
            f_[:, 1] *= cprev[lo:hi].reshape(k, H, N)  # f' times c_prev
            forget = a[:, 1]
            for t in range(lo, hi) if self.reverse else range(hi - 1, lo - 1, -1):
                j = t - lo
                f_dh, w_dh, w_dc, f_dc, w_gates, w_all = views[j]
                if gout is not None:
                    dh += gout[t]
                xp.multiply(dh, f_dh, out=w_dh)  # the dc term and o's gradient
                dc += w_dc
                xp.multiply(dc, f_dc, out=w_gates)  # f's, i's and g's gradients
                dc *= forget[j]
                B.matmul(whT, w_all, out=dh_next)
                dh, dh_next = dh_next, dh
            _swap_copy(work[:, :k], steps[:k, :4].reshape(k, G, N))
            dgc = work2[:, : k * N]
            if need_w:
                # every weight gradient from one product with the stacked [h; x; 1] of the steps
                _swap_copy(zbuf[:, :k], zs[off + lo : off + hi])
                zc = zbuf.reshape(K, size * N)[:, : k * N].T
                if dw is None:
                    dw = B.matmul(dgc, zc)
                else:
                    dw_part = B.matmul(dgc, zc, out=dw_part)
                    dw += dw_part
            if dx is not None:
                B.matmul(wiT, dgc, out=dx[:, lo * N : hi * N])
        dwi = dwh = dbi = dbh = None
        if dw is not None:
            dwh = dw[inv, :H] if self.needs_grad(4) else None
            dwi = dw[inv, H : H + I] if self.needs_grad(3) else None
            if self.has_bias:
                dbi = dw[inv, -1] if self.needs_grad(5) else None
                dbh = dw[inv, -1] if self.needs_grad(6) else None
        if dx is not None:
            dx = dx.reshape(I, T, N).transpose(1, 2, 0)
        _scratch.give(fac, steps, work, zbuf, gout, whT, wiT)
        return (
            dx,
            dh.T if self.needs_grad(1) else None,
            dc.T if self.needs_grad(2) else None,
            dwi,
            dwh,
            dbi,
            dbh,
        )


@autocast_op(cpu=LOWER, cuda=LOWER)
def lstm_layer(input, hx, cx, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """One LSTM layer in one direction over a whole sequence, with PyTorch's gates (i, f, g, o).

    input (T, N, I), hx and cx (N, H). Returns (output (T, N, H), h_n (N, H), c_n (N, H)).
    """
    T, N, I, H = _check("lstm", input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh, 4)
    x = input._data
    xp = _xp(x)
    dt = x.dtype
    G = 4 * H
    has_bias = bias_ih is not None
    # Each step is one product W [h; x_t; 1] with W = [W_hh | W_ih | b]: the input projection and the
    # bias ride along in the recurrent product. zs holds [h; x; 1] of every step, (T + 1, K, N).
    K = H + I + has_bias
    w = _scratch.take(xp, (G, K), dt)
    _gate_rows(w[:, :H], weight_hh._data, H)
    _gate_rows(w[:, H : H + I], weight_ih._data, H)
    if has_bias:
        _gate_rows(w[:, -1], bias_ih._data + bias_hh._data, H)
    # sigmoid(z) = 0.5 * tanh(z / 2) + 0.5: halving the sigmoid gates' rows (o, f, i) lets one tanh
    # call cover all four gates
    w[: 3 * H] *= dt.type(0.5)
    zs = xp.empty((T + 1, K, N), dt)
    ins = slice(1, T + 1) if reverse else slice(0, T)
    xp.copyto(zs[ins, H : H + I], x.transpose(0, 2, 1))
    if has_bias:
        zs[:, -1] = 1
    first = T if reverse else 0
    zs[first, :H] = hx._data.T
    acts = _scratch.take(xp, (T, 5 * H, N), dt)  # per step [o, f, i, g, tanh(c)]
    cs = _scratch.take(xp, (T + 1, H, N), dt)
    cs[first] = cx._data.T
    tmp = xp.empty((H, N), dt)
    half = dt.type(0.5)
    # every step's views, listed at once rather than sliced inside the loop
    a5 = acts.reshape(T, 5, H, N)
    gates, sigmoids, o_gate, f_gate, i_gate, g_gate, tanh_c = (
        list(v) for v in (acts[:, :G], acts[:, : 3 * H], a5[:, 0], a5[:, 1], a5[:, 2], a5[:, 3], a5[:, 4])
    )
    z, h, c = list(zs), list(zs[:, :H]), list(cs)
    for t, p, n in _steps(T, reverse):
        B.matmul(w, z[p], out=gates[t])
        xp.tanh(gates[t], out=gates[t])
        sig = sigmoids[t]
        sig *= half
        sig += half
        xp.multiply(f_gate[t], c[p], out=c[n])
        xp.multiply(i_gate[t], g_gate[t], out=tmp)
        c[n] += tmp
        xp.tanh(c[n], out=tanh_c[t])
        xp.multiply(o_gate[t], tanh_c[t], out=h[n])
    _scratch.give(w)
    last = 0 if reverse else T
    out = zs[slice(0, T) if reverse else slice(1, T + 1), :H].transpose(0, 2, 1)
    h_n, c_n = zs[last, :H].T.copy(), cs[last].T.copy()
    inputs = (input, hx, cx, weight_ih, weight_hh, bias_ih, bias_hh)
    if needs_grad(*inputs):
        node = LstmBackward0()
        node.reverse, node.has_bias, node.input_size = reverse, has_bias, I
        biases = (bias_ih._data, bias_hh._data) if has_bias else (None, None)
        states = (x, hx._data, cx._data) + biases
        record(node, inputs, (zs, cs, acts, weight_ih._data, weight_hh._data) + states)
        node.save_versions(input, weight_ih, weight_hh)
        return _result(out, node, 0), _result(h_n, node, 1), _result(c_n, node, 2)
    _scratch.give(cs, acts)
    return _result(out), _result(h_n), _result(c_n)


# ---------------------------------------------------------------------------------------- GRU


class GruBackward0(_ScratchNode):
    """Backward of a GRU layer over a whole sequence."""

    __slots__ = ("reverse", "has_bias")
    n_outputs = 2
    scratch_slots = (2, 3)
    saved_roles = (0, None, None, None, 2, 3, 1, 4, 5)
    decomposed = True

    def decompose(self, x, hs, acts, hn, w_ih, w_hh, h0, b_ih, b_hh):
        def step(xt, state):
            h = state[0]
            ir, iz, in_ = linear(xt, w_ih, b_ih).chunk(3, 1)
            hr, hz, hn_ = linear(h, w_hh, b_hh).chunk(3, 1)
            r, z = sigmoid(ir + hr), sigmoid(iz + hz)
            n = tanh(in_ + r * hn_)
            return ((1 - z) * n + z * h,)

        return _recurrence(x, (h0,), step, self.reverse)

    def backward(self, gout, ghn):
        x, hs, acts, hn, w_ih, w_hh = self.saved[:6]
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
            dh = B.matmul(whT, d)
            dh += tmp
        dgi[: 2 * H] = dgh[: 2 * H]
        dx, dwi, dwh, dbi, dbh = _weight_grads(self, dgi, x, hprev, w_ih, self.has_bias, dgh)
        _scratch.give(fac_zn, work, dgh, dgi, gout, whT)
        return dx, (dh.T if self.needs_grad(1) else None), dwi, dwh, dbi, dbh


@autocast_op(cuda=LOWER)
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
            B.matmul(w_hh_s, hs[p], out=hh)
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
    if needs_grad(*inputs):
        node = GruBackward0()
        node.reverse, node.has_bias = reverse, bias_ih is not None
        biases = (None, None) if bias_ih is None else (bias_ih._data, bias_hh._data)
        record(node, inputs, (x, hs, acts, hn, weight_ih._data, w_hh, hx._data) + biases)
        node.save_versions(input, weight_ih, weight_hh)
        return _result(out, node, 0), _result(h_n, node, 1)
    _scratch.give(acts, hn)
    return _result(out), _result(h_n)


__all__ = ["rnn_tanh_layer", "rnn_relu_layer", "lstm_layer", "gru_layer"]
