"""`studio.core.cuda.amp`: the older CUDA-only names, `autocast(enabled, dtype)` and `GradScaler(...)`,
kept (with PyTorch's deprecation warning) for scripts that import them from there."""

from __future__ import annotations

import warnings

from .. import backend as B
from . import autocast_mode
from . import grad_scaler as _gs

__all__ = ["GradScaler", "autocast"]


class autocast(autocast_mode.autocast):
    """`studio.core.cuda.amp.autocast(args...)` is `studio.core.amp.autocast("cuda", args...)`."""

    def __init__(self, enabled=True, dtype=B.float16, cache_enabled=True):
        warnings.warn(
            "`studio.core.cuda.amp.autocast(args...)` is deprecated. Please use "
            "`studio.core.amp.autocast('cuda', args...)` instead.",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_gs.GradScaler):
    """`studio.core.cuda.amp.GradScaler(args...)` is `studio.core.amp.GradScaler("cuda", args...)`."""

    def __init__(
        self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True
    ):
        warnings.warn(
            "`studio.core.cuda.amp.GradScaler(args...)` is deprecated. Please use "
            "`studio.core.amp.GradScaler('cuda', args...)` instead.",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
