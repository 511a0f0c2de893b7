"""`studio.core.accelerator`: the current accelerator (cupy's CUDA device when there is one), as
`torch.accelerator` reports it, so that device-agnostic scripts pick the GPU or fall back to the CPU."""

from __future__ import annotations

import contextlib

from . import backend as _B
from . import cuda as _cuda


def is_available() -> bool:
    """True when an accelerator (a CUDA device that cupy can use) is present."""
    return _B.cuda_available()


def current_accelerator(check_available: bool = False):
    """`device('cuda')` when a CUDA device is usable, else None (there is no other accelerator type)."""
    if _B.cuda_available():
        return _B.device("cuda")
    return None


def device_count() -> int:
    return _cuda.device_count()


def current_device_index() -> int:
    return _cuda.current_device() if _B.cuda_available() else -1


current_device_idx = current_device_index


def set_device_index(device) -> None:
    _cuda.set_device(device)


set_device_idx = set_device_index


@contextlib.contextmanager
def device_index(device):
    """Make `device` (an index) current inside the block, as `torch.accelerator.device_index` does."""
    if device is None or not _B.cuda_available():
        yield
        return
    with _B._cupy.cuda.Device(int(device)):
        yield


def synchronize(device=None) -> None:
    _cuda.synchronize(device)


empty_cache = _cuda.empty_cache
memory_allocated = _cuda.memory_allocated
max_memory_allocated = _cuda.max_memory_allocated
memory_reserved = _cuda.memory_reserved
max_memory_reserved = _cuda.max_memory_reserved
reset_peak_memory_stats = _cuda.reset_peak_memory_stats
