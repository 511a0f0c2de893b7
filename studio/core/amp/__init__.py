"""Mixed precision, as `torch.amp`: `autocast` regions run each op in the precision PyTorch's per-op
lists give it, and `GradScaler` keeps float16 gradients from underflowing."""

from .autocast_mode import (
    autocast,
    autocast_state,
    get_autocast_dtype,
    is_autocast_available,
    is_autocast_enabled,
    restored_autocast,
    set_autocast_dtype,
    set_autocast_enabled,
)
from .grad_scaler import GradScaler

__all__ = [
    "GradScaler",
    "autocast",
    "autocast_state",
    "get_autocast_dtype",
    "is_autocast_available",
    "is_autocast_enabled",
    "restored_autocast",
    "set_autocast_dtype",
    "set_autocast_enabled",
]
