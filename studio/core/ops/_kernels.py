"""Compiled CPU kernels (numba) for the memory passes numpy cannot fuse or spread over cores.

Each kernel fills arrays its caller allocated and is used only on C-contiguous numpy arrays; the
callers keep their numpy code for everything else (cupy, odd layouts, machines without numba).
numba is imported and each kernel compiled on first use, then cached on disk, so importing the
engine stays fast. `STUDIO_NO_NUMBA=1` turns the kernels off (the tests run both ways).

Each kernel is compiled twice: serial for small arrays (starting threads costs more than they
save there) and with numba's threads for large ones. numba's fork-safe thread pool (workqueue)
must not be entered by two threads at once: a threaded kernel called while another thread runs
one answers False, and its caller takes the numpy path.
"""

from __future__ import annotations

import os
import threading

import numpy as np

prange = range  # numba.prange once numba is loaded: the kernels below compile with it

_DISABLED = os.environ.get("STUDIO_NO_NUMBA") == "1"
_numba = None
_compiled: dict = {}
_busy = threading.Lock()  # held while a threaded kernel runs
_compiling = threading.Lock()
PARALLEL_MIN = 1 << 18  # elements in the first array from which a kernel runs on numba's threads


def enabled() -> bool:
    """Whether compiled kernels are used (numba importable and not turned off)."""
    global _numba, _DISABLED, prange
    if _DISABLED:
        return False
    if _numba is None:
        try:
            import numba
        except Exception:  # noqa: BLE001 - any broken install means the numpy path
            _DISABLED = True
            return False
        if numba.config.THREADING_LAYER == "default":
            numba.config.THREADING_LAYER = "workqueue"  # the one safe in forked DataLoader workers
        _numba = numba
        prange = numba.prange
    return True


def _kernel(name: str, parallel: bool):
    fn = _compiled.get((name, parallel))
    if fn is None:
        with _compiling:
            fn = _compiled.get((name, parallel))
            if fn is None:
                jit = _numba.njit(parallel=parallel, cache=True, nogil=True)
                fn = _compiled[(name, parallel)] = jit(_KERNELS[name])
    return fn


def call(name: str, *args) -> bool:
    """Run kernel `name` on `args`; False when kernels are off or another thread is in a threaded one."""
    if not enabled():
        return False
    if args[0].size < PARALLEL_MIN or _numba.get_num_threads() == 1:
        _kernel(name, False)(*args)
        return True
    if not _busy.acquire(blocking=False):
        return False
    try:
        _kernel(name, True)(*args)
    finally:
        _busy.release()
    return True


def warm() -> None:
    """Load numba and the kernels for float32 (from the disk cache after the first time): a second
    or more that a run can spend while its data loads rather than in its first step."""
    if not enabled():
        return
    f, i8 = np.float32, np.int8
    x, out = np.zeros((1, 2, 2), f), np.zeros((1, 1, 1), f)
    flat = np.zeros(4, f)
    cols, unit = np.zeros((1, 1, 1, 1, 2, 2), f), (1, 1, 1, 1)  # unit strides and dilations
    examples = {
        "maxpool_fwd": (x, 2, 2, out, np.zeros((1, 1, 1), i8)),
        "maxpool2x2_fwd": (x, out, np.zeros((1, 1, 1), i8)),
        "maxpool_bwd": (out[None], np.zeros((1, 1, 1, 1), i8), 2, 2, x[None].copy()),
        # a convolution's input gradient reaches pooling as a transposed view (numba's "A" layout)
        "maxpool_bwd ": (
            np.zeros((2, 2, 1, 1), f).transpose(1, 0, 2, 3),
            np.zeros((2, 2, 1, 1), i8),
            2,
            2,
            np.zeros((2, 2, 2, 2), f),
        ),
        "relu_fwd": (flat, flat.copy()),
        "relu_bwd": (flat, flat, flat.copy()),
        "channels_first_out": (out, np.zeros(1, f), True, out.copy()),
        "channels_first_grad": (out, out.copy(), np.zeros(1), True),
        "col2im": (cols, *unit, x[None].copy()),
        "im2col": (x[None], *unit, cols),
        # the all-samples GEMM's columns come from the input seen channels first (numba's "A" layout)
        "im2col ": (np.zeros((2, 2, 2, 2), f).transpose(1, 0, 2, 3), *unit, np.zeros((2, 1, 1, 2, 2, 2), f)),
    }
    for parallel in (False, True):
        if parallel and _numba.get_num_threads() == 1:
            break
        for label, args in examples.items():
            name = label.strip()
            if parallel:
                with _busy:
                    _kernel(name, True)(*args)
            else:
                _kernel(name, False)(*args)


def floating(a) -> bool:
    """A numpy array of float32 or float64, in any layout (numba compiles a kernel per layout)."""
    return type(a) is np.ndarray and a.dtype.kind == "f" and a.dtype.itemsize >= 4


def usable(*arrays) -> bool:
    """Numpy arrays, C-contiguous, of one floating type: what the kernels are compiled for."""
    first = arrays[0]
    if not floating(first):
        return False
    return all(type(a) is np.ndarray and a.flags.c_contiguous and a.dtype == first.dtype for a in arrays)


# ----------------------------------------------------------------------------------- pooling


def _maxpool_fwd(x, kh, kw, out, idx):
    """Max over (kh, kw) windows at stride (kh, kw) of x (P, H, W); idx is the offset a * kw + b."""
    planes, ho, wo = out.shape
    for p in prange(planes):
        for r in range(ho):
            for q in range(wo):
                best = x[p, r * kh, q * kw]
                at = 0
                for a in range(kh):
                    row = x[p, r * kh + a]
                    for b in range(kw):
                        v = row[q * kw + b]
                        if v > best or v != v:  # the last NaN wins, as in PyTorch
                            best = v
                            at = a * kw + b
                out[p, r, q] = best
                idx[p, r, q] = at


def _maxpool2x2_fwd(x, out, idx):
    """_maxpool_fwd for 2x2 windows, unrolled: five times faster."""
    planes, ho, wo = out.shape
    for p in prange(planes):
        for r in range(ho):
            r0, r1 = x[p, 2 * r], x[p, 2 * r + 1]
            o, ix = out[p, r], idx[p, r]
            for q in range(wo):
                a, b, c, d = r0[2 * q], r0[2 * q + 1], r1[2 * q], r1[2 * q + 1]
                best, at = a, 0
                if b > best:
                    best, at = b, 1
                if c > best:
                    best, at = c, 2
                if d > best:
                    best, at = d, 3
                if a + b + c + d != a + b + c + d:  # a NaN (or inf - inf): rare, so checked apart
                    for k, v in enumerate((a, b, c, d)):
                        if v != v:  # the last NaN wins, as in PyTorch
                            best, at = v, k
                o[q] = best
                ix[q] = at


def _maxpool_bwd(g, idx, kh, kw, gx):
    """Each window's gradient to its maximum, zeros elsewhere (including rows no window covers).
    All (N, C, ., .); `g` may be any layout (the gradient of a convolution arrives transposed).
    Each plane is zeroed whole, then scattered into: the windows tile it, so no two write one place."""
    n, c = gx.shape[0], gx.shape[1]
    ho, wo = g.shape[2], g.shape[3]
    zero = gx.dtype.type(0)
    for p in prange(n * c):
        s, k = p // c, p % c
        out = gx[s, k]
        out[:, :] = zero
        for r in range(ho):
            gr, ir = g[s, k, r], idx[s, k, r]
            if kh == 2 and kw == 2:  # the common window, without divisions: three times faster
                for q in range(wo):
                    at = ir[q]
                    out[2 * r + (at >> 1), 2 * q + (at & 1)] = gr[q]
            else:
                for q in range(wo):
                    at = ir[q]
                    out[r * kh + at // kw, q * kw + at % kw] = gr[q]


# -------------------------------------------------------------------------------- activations


def _relu_fwd(x, out):
    xf, of = x.reshape(-1), out.reshape(-1)
    for i in prange(xf.size):
        v = xf[i]
        if v > 0 or v != v:  # NaN stays NaN, as in PyTorch
            of[i] = v
        else:
            of[i] = 0


def _relu_bwd(g, out, gx):
    gf, of, xf = g.reshape(-1), out.reshape(-1), gx.reshape(-1)
    for i in prange(gf.size):
        if of[i] > 0:
            xf[i] = gf[i]
        else:
            xf[i] = 0


# ------------------------------------------------------------------------------- convolution


def _channels_first_out(res, bias, has_bias, out):
    """res (O, N, L) to out (N, O, L), adding the bias on the way."""
    o, n, length = res.shape
    for p in prange(n * o):
        s, k = p // o, p % o
        add = bias[k] if has_bias else 0
        for i in range(length):
            out[s, k, i] = res[k, s, i] + add


def _channels_first_grad(g, go, gb, has_bias):
    """g (N, O, L) to go (O, N, L), and the bias gradient (the sum over N and L) on the way."""
    n, o, length = g.shape
    for k in prange(o):
        total = 0.0
        for s in range(n):
            for i in range(length):
                v = g[s, k, i]
                go[k, s, i] = v
                total += v
        if has_bias:
            gb[k] = total


def _im2col(x, sh, sw, dh, dw, out):
    """Columns of x (A, B, Hp, Wp), any layout, into out (A, kh, kw, B, Ho, Wo): each A by one thread."""
    na, kh, kw, nb, ho, wo = out.shape
    dense = sh == 1 and sw == 1 and dh == 1 and dw == 1
    for a in prange(na):
        for i in range(kh):
            for j in range(kw):
                for b in range(nb):
                    for r in range(ho):
                        if dense:  # indices numba can prove non-negative vectorize
                            for q in range(wo):
                                out[a, i, j, b, r, q] = x[a, b, i + r, j + q]
                        else:
                            y = i * dh + r * sh
                            for q in range(wo):
                                out[a, i, j, b, r, q] = x[a, b, y, j * dw + q * sw]


def _col2im(cols, sh, sw, dh, dw, out):
    """Sum (A, kh, kw, B, Ho, Wo) columns into out (A, B, Hp, Wp): each A's planes zeroed and summed
    by one thread, reading its columns in order (numpy's slice-adds pass over the output per offset)."""
    na, kh, kw, nb, ho, wo = cols.shape
    dense = sh == 1 and sw == 1 and dh == 1 and dw == 1
    for a in prange(na):
        out[a] = 0
        for i in range(kh):
            for j in range(kw):
                for b in range(nb):
                    for r in range(ho):
                        if dense:  # indices numba can prove non-negative vectorize: three times faster
                            for q in range(wo):
                                out[a, b, i + r, j + q] += cols[a, i, j, b, r, q]
                        else:
                            y = i * dh + r * sh
                            for q in range(wo):
                                out[a, b, y, j * dw + q * sw] += cols[a, i, j, b, r, q]


_KERNELS = {
    "maxpool_fwd": _maxpool_fwd,
    "maxpool2x2_fwd": _maxpool2x2_fwd,
    "maxpool_bwd": _maxpool_bwd,
    "relu_fwd": _relu_fwd,
    "relu_bwd": _relu_bwd,
    "channels_first_out": _channels_first_out,
    "channels_first_grad": _channels_first_grad,
    "col2im": _col2im,
    "im2col": _im2col,
}
