"""Interleaved timing (A B A B ...), medians, ratios and peak memory, printed as one table."""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import time


def interleaved(steps: dict, repeats: int, warmup: int = 3) -> dict:
    """Median seconds per call of each step function, alternating between them every call."""
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in steps}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for name, fn in steps.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    finally:
        if gc_was:
            gc.enable()
    return {name: statistics.median(ts) for name, ts in times.items()}


def peak_memory_kb(lib_name: str, root: str) -> int:
    """Peak resident memory (KiB) that building and training the CNN adds, in a fresh process."""
    script = f"""
import resource, sys, gc
sys.path.insert(0, {root!r})
import importlib
lib = importlib.import_module({lib_name!r})
import benchmarks.workloads as w
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
step = w.make_cnn(lib)
for _ in range(5):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
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
