"""Small checks shared by the validators of what a file holds (design, project, run summaries)."""

from __future__ import annotations

import math


def is_int(v) -> bool:
    """A JSON integer (a bool is not one)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v) -> bool:
    """A finite JSON number (a bool is not one)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def got(v) -> str:
    """A bad value as a message shows it: its repr, cut to 60 characters."""
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
