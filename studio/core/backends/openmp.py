"""`backends.openmp`: whether PyTorch was built with OpenMP (Studio's kernels are numpy's)."""

from __future__ import annotations


def is_available() -> bool:
    return False
