"""`studio.core.utils.data` is `studio.core.data`, as `torch.utils.data` is in PyTorch."""

from .. import data
from . import checkpoint

__all__ = ["checkpoint", "data"]
