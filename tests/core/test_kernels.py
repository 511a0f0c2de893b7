"""The compiled kernels give what the numpy paths give, forward and backward, NaNs included."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core.ops import _kernels as K

pytestmark = pytest.mark.skipif(not K.enabled(), reason="numba is not installed or is turned off")


def _run(fn, arrays, compiled, monkeypatch):
    monkeypatch.setattr(K, "_DISABLED", not compiled)
    ts = [sc.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    g = np.random.default_rng(1).standard_normal(out.shape).astype(arrays[0].dtype)
    out.backward(sc.tensor(g))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


CASES = {
    "maxpool 2x2, odd size": (lambda x: sc.nn.functional.max_pool2d(x, 2), [(3, 4, 9, 7)]),
    "maxpool 3x3": (lambda x: sc.nn.functional.max_pool2d(x, 3), [(2, 3, 9, 10)]),
    "maxpool 2x2, threaded": (lambda x: sc.nn.functional.max_pool2d(x, 2), [(16, 32, 46, 47)]),
    "maxpool 3x3 before a convolution, which hands its gradient back transposed": (
        lambda x, w: sc.nn.functional.conv2d(sc.nn.functional.max_pool2d(x, 3), w),
        [(2, 16, 13, 14), (6, 16, 3, 3)],  # 16 * 3 * 3 channel taps: the all-samples GEMM
    ),
    "relu": (sc.relu, [(4, 5, 6)]),
    "conv with bias": (
        lambda x, w, b: sc.nn.functional.conv2d(x, w, b, padding=1),
        [(2, 16, 7, 7), (8, 16, 3, 3), (8,)],
    ),
    "conv, first layer": (
        lambda x, w, b: sc.nn.functional.conv2d(x, w, b),
        [(3, 1, 8, 8), (4, 1, 3, 3), (4,)],
    ),
    "conv without bias, strided": (
        lambda x, w: sc.nn.functional.conv2d(x, w, stride=2),
        [(2, 32, 9, 9), (6, 32, 3, 3)],
    ),
    "conv, padded, strided and dilated": (
        lambda x, w, b: sc.nn.functional.conv2d(x, w, b, stride=(2, 1), padding=(2, 1), dilation=(1, 2)),
        [(3, 16, 10, 9), (5, 16, 3, 3), (5,)],
    ),
    "conv, first layer, padded and strided": (
        lambda x, w: sc.nn.functional.conv2d(x, w, stride=2, padding=2),
        [(2, 3, 9, 8), (4, 3, 3, 3)],
    ),
    "conv, same padding of an even kernel, grouped": (
        lambda x, w: sc.nn.functional.conv2d(x, w, padding="same", groups=2),
        [(2, 32, 6, 7), (8, 16, 4, 2)],
    ),
    "conv1d, padded": (
        lambda x, w, b: sc.nn.functional.conv1d(x, w, b, padding=3),
        [(2, 40, 11), (6, 40, 5), (6,)],
    ),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES))
def test_compiled_kernels_match_the_numpy_paths(case, dtype, monkeypatch):
    fn, shapes = CASES[case]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    if case.startswith(("maxpool", "relu")):
        arrays[0].flat[::17] = np.nan  # NaN propagates as in PyTorch, on both paths
        arrays[0].flat[5::23] = 0.0
    out_k, grads_k = _run(fn, arrays, True, monkeypatch)
    out_n, grads_n = _run(fn, arrays, False, monkeypatch)
    np.testing.assert_allclose(out_k, out_n, rtol=1e-5, atol=1e-5)
    for gk, gn in zip(grads_k, grads_n):
        np.testing.assert_allclose(gk, gn, rtol=1e-5, atol=1e-5)


def test_a_kernel_busy_in_another_thread_leaves_the_numpy_path(monkeypatch):
    if K._numba.get_num_threads() == 1:
        pytest.skip("one thread: kernels run serially and never wait for one another")
    monkeypatch.setattr(K, "PARALLEL_MIN", 0)
    x = sc.tensor(np.arange(-3.0, 3.0, dtype=np.float32))
    with K._busy:  # another thread inside a threaded kernel
        assert not K.call("relu_fwd", x._data, np.empty_like(x._data))
        assert sc.relu(x).tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 2.0]
