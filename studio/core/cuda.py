"""`studio.core.cuda`: whether a CUDA device is usable (through cupy), as `torch.cuda` says."""

from __future__ import annotations

import sys as _sys

from . import backend as _B
from . import memory as _memory
from .amp import cuda_amp as amp

_sys.modules[__name__ + ".amp"] = amp  # `from studio.core.cuda.amp import GradScaler` works too


def is_available() -> bool:
    return _B.cuda_available()


def device_count() -> int:
    if not _B.cuda_available():
        return 0
    return _B._cupy.cuda.runtime.getDeviceCount()


def synchronize() -> None:
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
