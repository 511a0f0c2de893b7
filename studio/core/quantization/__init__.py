"""`studio.core.quantization` is `studio.core.ao.quantization`, as in PyTorch."""

from ..ao.quantization import *  # noqa: F403
from ..ao.quantization import __all__  # noqa: F401
