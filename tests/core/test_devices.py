"""Devices: numpy by default, cupy for CUDA; clear errors when CUDA is missing or devices are mixed."""

from __future__ import annotations

import types

import numpy as np
import pytest

import studio.core as sc
from studio.core import backend as B


class _FakeGpuArray(np.ndarray):
    """Stands in for cupy.ndarray: only its type matters to the device checks."""

    @property
    def device(self):
        return types.SimpleNamespace(id=0)


def _fake_cupy(gpus: int):
    def count():
        if gpus == 0:
            raise RuntimeError("cudaErrorNoDevice")
        return gpus

    runtime = types.SimpleNamespace(getDeviceCount=count)
    return types.SimpleNamespace(
        ndarray=_FakeGpuArray,
        cuda=types.SimpleNamespace(runtime=runtime),
        get_array_module=lambda arr: np,
    )


def test_cpu_is_the_default_device():
    x = sc.ones(2)
    assert x.device == sc.device("cpu") and str(x.device) == "cpu" and not x.is_cuda
    assert x.to("cpu") is x and x.cpu() is x
    assert sc.zeros(2, device="cpu").device.type == "cpu"
    assert sc.tensor([1.0], device=sc.device("cpu")).device == "cpu"


def test_device_objects():
    d = sc.device("cuda:1")
    assert d.type == "cuda" and d.index == 1 and str(d) == "cuda:1"
    assert repr(d) == "device(type='cuda', index=1)" and repr(sc.device("cpu")) == "device(type='cpu')"
    assert sc.device("cuda", 0) == "cuda:0" and sc.device("cuda") == sc.device("cuda:0")
    assert sc.device(sc.device("cpu")) == "cpu"
    with pytest.raises(
        RuntimeError, match="Expected one of cpu, cuda device type at start of device string: tpu"
    ):
        sc.device("tpu")
    with pytest.raises(RuntimeError, match="Invalid device string: 'cuda:x'"):
        sc.device("cuda:x")
    with pytest.raises(TypeError, match="expected a string"):
        sc.device(3.5)


def test_cuda_without_cupy_says_cupy_is_missing(monkeypatch):
    monkeypatch.setattr(B, "_cupy", None)
    assert not sc.cuda.is_available() and sc.cuda.device_count() == 0
    for make in (
        lambda: sc.zeros(2, device="cuda"),
        lambda: sc.ones(2).cuda(),
        lambda: sc.ones(2).to("cuda"),
        lambda: sc.tensor([1.0], device="cuda:0"),
        lambda: sc.randn(2, device="cuda"),
    ):
        with pytest.raises(RuntimeError, match="cupy is not installed"):
            make()


def test_cuda_without_a_gpu_says_no_gpu_was_found(monkeypatch):
    monkeypatch.setattr(B, "_cupy", _fake_cupy(gpus=0))
    assert not sc.cuda.is_available()
    with pytest.raises(RuntimeError, match="found no CUDA GPU"):
        sc.zeros(2, device="cuda")


def test_mixing_devices_in_one_op_is_an_error(monkeypatch):
    monkeypatch.setattr(B, "_cupy", _fake_cupy(gpus=1))
    from studio.core.tensor import _wrap

    gpu = _wrap(np.ones(2, np.float32).view(_FakeGpuArray))
    assert gpu.is_cuda and gpu.device == "cuda:0"
    cpu = sc.ones(2)
    for op in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / b, lambda a, b: a < b):
        with pytest.raises(RuntimeError, match="same device.*cpu and cuda:0"):
            op(cpu, gpu)
    with pytest.raises(RuntimeError, match="same device"):
        sc.where(sc.tensor([True, False]), gpu, cpu)


def test_cuda_gradient_argument_on_another_device_is_an_error(monkeypatch):
    monkeypatch.setattr(B, "_cupy", _fake_cupy(gpus=1))
    from studio.core.tensor import _wrap

    x = sc.ones(2, requires_grad=True)
    gpu_grad = _wrap(np.ones(2, np.float32).view(_FakeGpuArray))
    with pytest.raises(RuntimeError, match="is on cuda:0 but the output is on cpu"):
        (x * 2).backward(gpu_grad)


def test_array_module_is_numpy_for_cpu_arrays():
    assert B.array_module(np.ones(2)) is np
    assert B.device_of(np.ones(2)) == "cpu"
    assert B.to_numpy(np.ones(2)).shape == (2,)
