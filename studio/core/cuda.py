"""`studio.core.cuda`: whether a CUDA device is usable (through cupy), as `torch.cuda` says."""

from __future__ import annotations

from . import backend as _B


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
