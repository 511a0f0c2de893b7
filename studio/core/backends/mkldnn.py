"""`backends.mkldnn`: oneDNN, which Studio does not use."""

from __future__ import annotations

enabled = False


def is_available() -> bool:
    return False
