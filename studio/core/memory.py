"""Memory counters for the arrays Studio allocates, as `torch.cuda.memory_allocated` and its family.

Device "cpu" (host): numpy reports every array's buffer to Python's `tracemalloc`; while counting is
on, `memory_allocated` is what tracemalloc traces now (arrays, with their temporaries, and Python
objects allocated since counting started and still alive) and `max_memory_allocated` its peak since
the last reset. Counting slows Python's own allocations several-fold, so it is off until
`start_counting()` (or a `counting()` block) turns it on: measure with it, do not train with it.

Device "cuda": cupy's memory pool: `memory_allocated` is the bytes its blocks hand to arrays now;
from the first call on, a cupy memory hook follows each block given and taken back, so the peak is
exact from then. Like cupy's own hooks it counts the thread that installed it.
"""

from __future__ import annotations

import contextlib
import tracemalloc

from . import backend as B

__all__ = [
    "counting",
    "is_counting",
    "max_memory_allocated",
    "memory_allocated",
    "memory_stats",
    "reset_peak_memory_stats",
    "start_counting",
    "stop_counting",
]

_started_tracemalloc = False
_cuda_hook = None


def _kind(device):
    if device is None:
        return "cpu"
    if isinstance(device, int):
        return "cuda"
    return B.as_device(device).type


def start_counting() -> None:
    """Count host allocations from now on (and CUDA ones, when cupy sees a GPU)."""
    global _started_tracemalloc
    if not tracemalloc.is_tracing():
        tracemalloc.start(1)
        _started_tracemalloc = True
    if B.cuda_available():
        _cuda_counter().install()


def stop_counting() -> None:
    """Stop counting host allocations (unless something else started tracemalloc) and CUDA ones."""
    global _started_tracemalloc
    if _started_tracemalloc and tracemalloc.is_tracing():
        tracemalloc.stop()
    _started_tracemalloc = False
    if _cuda_hook is not None:
        _cuda_hook.uninstall()


def is_counting(device="cpu") -> bool:
    if _kind(device) == "cuda":
        return _cuda_hook is not None and _cuda_hook.installed
    return tracemalloc.is_tracing()


def _need_counting(what):
    if not tracemalloc.is_tracing():
        raise RuntimeError(
            f"{what}: host memory is counted only while counting is on: call "
            "studio.core.memory.start_counting() first, or measure inside "
            "`with studio.core.memory.counting():`"
        )


def memory_allocated(device="cpu") -> int:
    """Bytes allocated now: on the host since counting started, on CUDA by Studio's arrays."""
    if _kind(device) == "cuda":
        return _cuda_counter().installed_current()
    _need_counting("memory_allocated")
    return tracemalloc.get_traced_memory()[0]


def max_memory_allocated(device="cpu") -> int:
    """The most bytes allocated at once since counting started or the last reset."""
    if _kind(device) == "cuda":
        counter = _cuda_counter()
        counter.installed_current()
        return counter.peak
    _need_counting("max_memory_allocated")
    return tracemalloc.get_traced_memory()[1]


def reset_peak_memory_stats(device="cpu") -> None:
    """Restart the peak from the current allocation."""
    if _kind(device) == "cuda":
        counter = _cuda_counter()
        counter.peak = counter.installed_current()
        return
    _need_counting("reset_peak_memory_stats")
    tracemalloc.reset_peak()


def memory_stats(device="cpu") -> dict:
    """PyTorch's keys for the counters: allocated_bytes.all.current and .peak."""
    return {
        "allocated_bytes.all.current": memory_allocated(device),
        "allocated_bytes.all.peak": max_memory_allocated(device),
    }


@contextlib.contextmanager
def counting(device="cpu"):
    """Count inside the block, the peak starting from the block's start; reads the counters after.

    with studio.core.memory.counting() as stats:
        step()
    stats["peak"]  # bytes above what was allocated when the block started
    """
    was = is_counting(device)
    if not was:
        start_counting()
    reset_peak_memory_stats(device)
    stats = {"start": memory_allocated(device)}
    try:
        yield stats
    finally:
        stats["end"] = memory_allocated(device)
        stats["peak"] = max_memory_allocated(device) - stats["start"]
        if not was:
            stop_counting()


def _cuda_counter():
    global _cuda_hook
    if _cuda_hook is None:
        _cuda_hook = _make_cuda_counter()
    return _cuda_hook


def _make_cuda_counter():
    if not B.cuda_available():
        return _NoDevice()
    cupy = B._cupy

    class CupyCounter(cupy.cuda.memory_hook.MemoryHook):
        """Adds the blocks cupy's pool hands to arrays and subtracts them when they are freed."""

        name = "StudioCounter"

        def __init__(self):
            self.current = self.peak = 0
            self.installed = False

        def malloc_postprocess(self, device_id, size, mem_size, mem_ptr, pmem_id):
            self.current += mem_size
            self.peak = max(self.peak, self.current)

        def free_postprocess(self, device_id, mem_size, mem_ptr, pmem_id):
            self.current -= mem_size

        def install(self):
            if not self.installed:
                self.current = self.peak = int(cupy.get_default_memory_pool().used_bytes())
                self.__enter__()
                self.installed = True

        def installed_current(self):
            self.install()
            return self.current

        def uninstall(self):
            if self.installed:
                self.__exit__(None, None, None)
                self.installed = False

    return CupyCounter()


class _NoDevice:
    """The CUDA counters without a GPU: nothing is allocated there."""

    current = peak = 0
    installed = False

    def install(self):
        pass

    def uninstall(self):
        pass

    def installed_current(self):
        return 0
