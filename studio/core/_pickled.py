"""Whole Python objects in a saved file (`torch.save(model)`): pickled, as PyTorch does, and read back
only when the caller says the file is trusted (`weights_only=False`), as PyTorch 2.6 and later do.

Such a file starts with a magic line, so that `load` tells it from a safetensors file at once.
"""

from __future__ import annotations

import io
import pickle

MAGIC = b"STUDIO-PICKLE\n"
_VERSION = b"\x01"


def is_pickled(data: bytes) -> bool:
    return data.startswith(MAGIC)


def dumps(obj) -> bytes:
    """The bytes of a file holding `obj` pickled; an object pickle cannot store is a TypeError."""
    buf = io.BytesIO()
    buf.write(MAGIC + _VERSION)
    try:
        pickle.dump(obj, buf, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise TypeError(
            f"save: cannot store an object of type {type(obj).__name__}: it holds something Python's "
            f"pickle cannot store ({e}); save plain data instead, e.g. model.state_dict()"
        ) from None
    return buf.getvalue()


def loads(data: bytes, where: str, weights_only: bool):
    """The object pickled in `data`; refused unless `weights_only` is False."""
    if weights_only:
        raise RuntimeError(
            f"load: {where} holds pickled Python objects (such as a whole model saved with "
            "torch.save(model)), and reading it could run code from the file. Weights only load failed: "
            "pass weights_only=False if you trust where the file came from, or save and load "
            "model.state_dict() instead"
        )
    if data[len(MAGIC) : len(MAGIC) + 1] != _VERSION:
        raise RuntimeError(f"load: {where} was written by a newer studio (pickled format)")
    try:
        return pickle.loads(data[len(MAGIC) + 1 :])
    except Exception as e:  # noqa: BLE001 - unpickling raises anything the stored classes raise
        raise RuntimeError(f"load: {where} is corrupt or was saved by another program: {e}") from None
