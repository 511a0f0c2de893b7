"""`studio.core.backends`: the switches scripts set on PyTorch's backends (`cudnn.benchmark`,
`cuda.matmul.allow_tf32`, ...) and the availability questions they ask (`mps.is_available()`).

The flags are kept so that scripts that set and read them run; Studio's kernels (numpy, cupy) have
no such modes, so the values change nothing in how it computes.
"""

from __future__ import annotations

from . import cpu, cuda, cudnn, mkldnn, mps, openmp

__all__ = ["cpu", "cuda", "cudnn", "mkldnn", "mps", "openmp"]
