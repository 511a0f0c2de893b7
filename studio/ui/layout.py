"""The canvas's node geometry and automatic layout, which live in `studio.design.layout` (no Qt)."""

from studio.design.layout import (
    BAND_GAP,
    DIRECTIONS,
    NODE_H,
    NODE_W,
    STEP,
    fit_layout,
    fold_layout,
    is_automatic,
    layered_layout,
    neighbour,
)

__all__ = [
    "BAND_GAP",
    "DIRECTIONS",
    "NODE_H",
    "NODE_W",
    "STEP",
    "fit_layout",
    "fold_layout",
    "is_automatic",
    "layered_layout",
    "neighbour",
]
