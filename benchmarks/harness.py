"""Interleaved timing (short blocks of A, then of B, ...), medians, ratios and peak memory."""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import time


def interleaved(steps: dict, repeats: int, warmup: int = 3, block: int = 5) -> dict:
    """Median seconds per call of each step function, alternating between them in short blocks.

    Alternating keeps both libraries under the same machine load. Switching every call would
    instead time each library's thread pools waking up after the other's had the cores (OpenBLAS
    and OpenMP workers spin, then sleep): so each block starts with one untimed call.
    """
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in steps}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(-(-repeats // block)):
            for name, fn in steps.items():
                fn()
                for _ in range(block):
                    t0 = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
    finally:
        if gc_was:
            gc.enable()
    return {name: statistics.median(ts) for name, ts in times.items()}


def peak_memory_kb(lib_name: str, root: str) -> int:
    """Peak resident memory (KiB) that building and training the CNN adds, in a fresh process."""
    # VmHWM is this process's own high-water mark; ru_maxrss is not: Linux carries it over exec
    # from the parent, so a parent that had imported PyTorch would hide the whole run
    script = f"""
import resource, sys, gc
sys.path.insert(0, {root!r})
import importlib


def peak_kb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


lib = importlib.import_module({lib_name!r})
import benchmarks.workloads as w
before = peak_kb()
step = w.make_cnn(lib)
for _ in range(5):
    step()
print(peak_kb() - before)
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip().splitlines()[-1] if res.stderr else "memory run failed")
    return int(res.stdout.strip().splitlines()[-1])


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
