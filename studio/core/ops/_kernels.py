"""Compiled CPU kernels (numba) for the memory passes numpy cannot fuse or spread over cores.

Each kernel fills arrays its caller allocated and is used only on C-contiguous numpy arrays; the
callers keep their numpy code for everything else (cupy, odd layouts, machines without numba).
numba is imported and each kernel compiled on first use, then cached on disk, so importing the
engine stays fast. `STUDIO_NO_NUMBA=1` turns the kernels off (the tests run both ways).

numba's fork-safe thread pool (workqueue) must not be entered by two threads at once: a kernel
called while another thread runs one answers False, and its caller takes the numpy path.
"""

from __future__ import annotations

import os
import threading

import numpy as np

prange = range  # numba.prange once numba is loaded: the kernels below compile with it

_DISABLED = os.environ.get("STUDIO_NO_NUMBA") == "1"
_numba = None
_compiled: dict = {}
_busy = threading.Lock()


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


def call(name: str, *args) -> bool:
    """Run kernel `name` on `args`; False when kernels are off or another thread is in one."""
    if not enabled() or not _busy.acquire(blocking=False):
        return False
    try:
        fn = _compiled.get(name)
        if fn is None:
            fn = _compiled[name] = _numba.njit(parallel=True, cache=True, nogil=True)(_KERNELS[name])
        fn(*args)
    finally:
        _busy.release()
    return True


def usable(*arrays) -> bool:
    """Numpy arrays, C-contiguous, of one floating type: what the kernels are compiled for."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.dtype.kind != "f" or first.dtype.itemsize < 4:
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
    """Each window's gradient to its maximum, zeros elsewhere (including rows no window covers)."""
    planes, h, w = gx.shape
    ho, wo = g.shape[1], g.shape[2]
    for p in prange(planes):
        for r in range(ho):
            gr, ir = g[p, r], idx[p, r]
            for a in range(kh):
                row = gx[p, r * kh + a]
                for q in range(wo):
                    at = ir[q] - a * kw
                    v = gr[q]
                    for b in range(kw):
                        row[q * kw + b] = v if at == b else 0
                for x in range(wo * kw, w):
                    row[x] = 0
        for y in range(ho * kh, h):
            for x in range(w):
                gx[p, y, x] = 0


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


_KERNELS = {
    "maxpool_fwd": _maxpool_fwd,
    "maxpool2x2_fwd": _maxpool2x2_fwd,
    "maxpool_bwd": _maxpool_bwd,
    "relu_fwd": _relu_fwd,
    "relu_bwd": _relu_bwd,
    "channels_first_out": _channels_first_out,
    "channels_first_grad": _channels_first_grad,
}
