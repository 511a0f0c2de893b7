"""Dropout layers: zero elements (Dropout) or whole channels (Dropout2d) at random while training."""

from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout2d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """While training, zeroes each element with probability `p` and scales the rest by 1/(1-p).

    In eval mode it returns its input unchanged. Draws come from the default generator, so
    `manual_seed` makes them repeatable.
    """

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """While training, zeroes whole channels of (N, C, H, W) or (C, H, W) inputs with probability `p`.

    The kept channels are scaled by 1/(1-p); in eval mode the input passes unchanged.
    """

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)
