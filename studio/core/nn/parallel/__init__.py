"""`studio.core.nn.parallel`: DataParallel runs the module in this process, as PyTorch does on one
device; DistributedDataParallel needs several processes, which are PyTorch's job."""

from __future__ import annotations

from ...distributed import MULTI_PROCESS_HINT
from ..module import Module


class DataParallel(Module):
    """Wrap `module` for data-parallel training over `device_ids`.

    Studio has one device per process, where PyTorch's DataParallel also just calls the module: the
    forward pass is `module(*inputs, **kwargs)`, and the state dict keys gain the `module.` prefix,
    as in PyTorch, so that checkpoints load alike.

    Args:
        module: the module to run.
        device_ids: the devices to use (one at most runs here).
        output_device: where the output goes (default: the first of `device_ids`).
        dim: the dimension inputs would be scattered along (default 0).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected a Module to wrap, got {type(module).__name__}")
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """The functional form of DataParallel: `module(*inputs, **module_kwargs)` in this process."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return module(*inputs, **(module_kwargs or {}))


class DistributedDataParallel(Module):
    """Refused with a clear message: distributed training runs in PyTorch (export, then `torchrun`)."""

    def __init__(self, module=None, *args, **kwargs):
        raise RuntimeError(f"nn.parallel.DistributedDataParallel: {MULTI_PROCESS_HINT}")


__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
