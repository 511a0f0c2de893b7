"""`studio.core.cuda`: whether a CUDA device is usable (through cupy) and its memory, as `torch.cuda` says."""

from __future__ import annotations

import sys as _sys

from . import backend as _B
from . import memory as _memory
from .amp import cuda_amp as amp

_sys.modules[__name__ + ".amp"] = amp  # `from studio.core.cuda.amp import GradScaler` works too


def is_available() -> bool:
    return _B.cuda_available()


def is_initialized() -> bool:
    return _B.cuda_available()


def device_count() -> int:
    if not _B.cuda_available():
        return 0
    return _B._cupy.cuda.runtime.getDeviceCount()


def _require():
    if not _B.cuda_available():
        raise RuntimeError(
            "No CUDA GPUs are available: install the gpu extra (pip install 'studio[gpu]') on a machine "
            "with an NVIDIA GPU, or run on the CPU"
        )
    return _B._cupy


def current_device() -> int:
    return _require().cuda.runtime.getDevice()


def set_device(device) -> None:
    index = _B.as_device(device).index if not isinstance(device, int) else device
    _require().cuda.runtime.setDevice(int(index or 0))


def get_device_name(device=None) -> str:
    cp = _require()
    index = 0 if device is None else (_B.as_device(device).index or 0)
    name = cp.cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def get_device_capability(device=None) -> tuple:
    cp = _require()
    index = 0 if device is None else (_B.as_device(device).index or 0)
    props = cp.cuda.runtime.getDeviceProperties(index)
    return (props["major"], props["minor"])


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return _B.cuda_available()


def synchronize(device=None) -> None:
    if _B.cuda_available():
        _B._cupy.cuda.Stream.null.synchronize()


def manual_seed(seed) -> None:
    _B.manual_seed(seed)


def manual_seed_all(seed) -> None:
    _B.manual_seed(seed)


# ------------------------------------------------------------------- memory (cupy's memory pool)


def memory_allocated(device=None) -> int:
    """Bytes cupy's pool has handed to Studio's arrays now (0 without a GPU)."""
    return _memory.memory_allocated("cuda")


def max_memory_allocated(device=None) -> int:
    """The most bytes handed to arrays at once since counting began or the last reset."""
    return _memory.max_memory_allocated("cuda")


def reset_peak_memory_stats(device=None) -> None:
    _memory.reset_peak_memory_stats("cuda")


def memory_stats(device=None) -> dict:
    return _memory.memory_stats("cuda")


def memory_reserved(device=None) -> int:
    """Bytes cupy's pool holds from the driver (in use or cached)."""
    return int(_B._cupy.get_default_memory_pool().total_bytes()) if _B.cuda_available() else 0


def empty_cache() -> None:
    """Hand the pool's cached, unused blocks back to the driver."""
    if _B.cuda_available():
        _B._cupy.get_default_memory_pool().free_all_blocks()


def max_memory_reserved(device=None) -> int:
    return memory_reserved(device)
