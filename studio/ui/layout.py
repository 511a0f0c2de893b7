"""The canvas's node geometry and automatic layout, which live in `studio.design.layout` (no Qt)."""

from studio.design.layout import NODE_H, NODE_W, STEP, layered_layout

__all__ = ["NODE_H", "NODE_W", "STEP", "layered_layout"]
