"""The cupy-like arrays that prove the GPU code paths without a GPU, and the core suite run on them."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import studio.core as sc
from studio.core import backend as B
from studio.core import cupylike as cp
from studio.core import nn, optim

ROOT = Path(__file__).resolve().parents[2]


def test_arrays_refuse_implicit_conversion_and_numpy_operands():
    a = cp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    for mixed in (
        lambda: a + np.ones(3, np.float32),
        lambda: cp.add(a, np.ones(3)),
        lambda: cp.add(a, [1, 2, 3]),
    ):
        with pytest.raises(TypeError, match="Unsupported type"):
            mixed()
    np.testing.assert_array_equal(a.get(), np.arange(6).reshape(2, 3))
    assert type(np.exp(a)) is cp.ndarray  # numpy's functions dispatch to the array's module, as cupy's do


def test_reductions_and_scalar_indexing_give_0d_arrays():
    a = cp.arange(4.0)
    assert type(a.sum()) is cp.ndarray and a.sum().ndim == 0 and float(a.sum()) == 6.0
    assert type(a[1]) is cp.ndarray and a[1].ndim == 0
    assert a[np.array([1, 2])].get().tolist() == [1.0, 2.0]  # numpy indices are copied to the device


def test_out_of_bounds_integer_indices_wrap_as_on_the_gpu():
    a = cp.arange(3)
    assert a[cp.asarray([1, 3])].get().tolist() == [1, 0]


def test_the_module_lacks_what_cupy_lacks():
    for name in ("errstate", "insert", "nditer", "frompyfunc"):
        assert not hasattr(cp, name)
    rng = cp.random.default_rng(0)
    for name in ("normal", "permutation", "choice", "shuffle"):
        assert not hasattr(rng, name)
    assert rng.standard_normal((2,), dtype=np.float32).dtype == np.float32
    a = cp.arange(3)
    with pytest.raises(TypeError):
        [0, 1, 2][a[0]]  # no __index__: a device scalar never becomes a host index silently
    assert not hasattr(a, "ctypes") and not hasattr(cp.linalg, "multi_dot")


@pytest.fixture
def cuda(monkeypatch):
    """`device="cuda"` backed by the cupy-like module, as a machine with one GPU."""
    monkeypatch.setattr(B, "_cupy", cp)
    assert sc.cuda.is_available() and sc.cuda.device_count() == 1
    return sc.device("cuda")


def _train(model, x, y, steps=3):
    opt = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return loss


def _cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 3)
    )


def test_a_model_trains_on_cuda_as_on_the_cpu(cuda):
    sc.manual_seed(0)
    cpu_model = _cnn()
    gpu_model = _cnn()
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to(cuda)
    x = sc.randn(6, 1, 8, 8)
    y = sc.tensor([0, 1, 2, 0, 1, 2])
    cpu_loss = _train(cpu_model, x, y)
    gpu_loss = _train(gpu_model, x.to(cuda), y.cuda())
    assert gpu_loss.device == cuda and gpu_model[0].weight.grad.device == cuda
    assert type(gpu_model[0].weight._data) is cp.ndarray
    assert abs(gpu_loss.item() - cpu_loss.item()) < 1e-5
    with pytest.raises(TypeError, match="can't convert cuda tensor to numpy"):
        gpu_loss.detach().numpy()
    for (name, a), b in zip(cpu_model.state_dict().items(), gpu_model.state_dict().values()):
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_lstm_on_cuda_and_a_saved_state_dict_loads_back_there(cuda):
    lstm = nn.LSTM(3, 5, batch_first=True).to(cuda)
    out, _ = lstm(sc.randn(2, 4, 3, device=cuda))
    out.sum().backward()
    assert out.device == cuda and lstm.weight_ih_l0.grad.device == cuda
    buf = io.BytesIO()
    sc.save(lstm.state_dict(), buf)
    buf.seek(0)
    assert all(t.device == cuda for t in sc.load(buf).values())


def test_random_draws_on_cuda_follow_the_seed(cuda):
    sc.manual_seed(3)
    a = sc.randn(4, device=cuda).cpu().tolist()
    state = sc.default_generator.get_state()
    b = sc.rand(4, device=cuda).cpu().tolist()
    sc.default_generator.set_state(state)
    assert sc.rand(4, device=cuda).cpu().tolist() == b
    sc.manual_seed(3)
    assert sc.randn(4, device=cuda).cpu().tolist() == a
    assert sorted(sc.randperm(5, device=cuda).cpu().tolist()) == list(range(5))


# the two digit-training runs take minutes on the wrapped arrays and use no op the others miss
_HEAVY = (
    "tests/core/test_train_cnn.py::test_the_same_code_trains_alike_on_pytorch_and_pytorch_loads_the_weights",
    "tests/core/test_train_cnn.py::test_small_cnn_learns_the_digits",
)


@pytest.mark.skipif(B.CUPY_LIKE, reason="this is the run on cupy-like arrays")
def test_the_core_suite_passes_on_cupy_like_arrays():
    """Every failure here is a bug a GPU would hit: numpy used on device data, a function cupy lacks."""
    args = [
        sys.executable,
        "-m",
        "pytest",
        "tests/core",
        "-q",
        "-x",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:warnings",
    ]
    args += ["-n", "2"] if _xdist() else []
    args += ["--ignore", "tests/core/test_cupylike.py"]
    for test in _HEAVY:
        args += ["--deselect", test]
    env = dict(os.environ, STUDIO_CUPY_LIKE="1")
    res = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]


def _xdist() -> bool:
    try:
        import xdist  # noqa: F401
    except ImportError:
        return False
    return True
