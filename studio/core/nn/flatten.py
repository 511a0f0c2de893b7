"""Flatten and Unflatten: reshape layers that merge a range of dimensions or split one."""

from __future__ import annotations

from .module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merges dimensions `start_dim..end_dim` into one (by default all but the batch dimension).

    Input shape: (N, *); output shape: (N, prod(*)) for the defaults.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension `dim` into `unflattened_size` (which may hold one -1).

    Input shape: (*, S, *) with S = prod(unflattened_size); output shape: (*, *unflattened_size, *).
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError(
                f"invalid argument type of dim parameter: expected an int, got {type(dim).__name__}"
            )
        if not isinstance(unflattened_size, list | tuple) or not all(
            isinstance(s, int) for s in unflattened_size
        ):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found {unflattened_size!r}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
