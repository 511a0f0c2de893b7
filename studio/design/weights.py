"""Weights files of a design: what they belong to, and loading them only into a design they fit.

A weights file written here carries, in its safetensors metadata, the fingerprint of the design it
was trained for (a hash of its parameter and buffer names, dtypes and shapes) and that design's name.
Loading recomputes the fingerprint from the tensors themselves, so files written before
fingerprints existed are checked the same way, and refuses weights that do not fit, naming both.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

FINGERPRINT_KEY = "studio.fingerprint"
DESIGN_KEY = "studio.design"


class WeightsError(ValueError):
    """Weights that do not belong to the design they are loaded into, said in plain words."""


def _dtype(v) -> str:
    return str(getattr(v.dtype, "name", v.dtype))


def _shape(v) -> list[int]:
    return [int(d) for d in v.shape]


def fingerprint(state: dict) -> str:
    """A hash of a state dict's names, dtypes and shapes (not of its values)."""
    lines = sorted(f"{k}\t{_dtype(v)}\t{_shape(v)}" for k, v in state.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def design_state(design) -> dict:
    """The state dict a design's built model has (freshly initialised values)."""
    from .build import BuildError, build

    try:
        return build(design).state_dict()
    except (BuildError, ValueError, KeyError) as e:
        raise WeightsError(f"the design cannot be built, so no weights fit it yet: {e}") from None


def save_weights(state: dict, path, design_name: str, *, exclusive: bool = False, extra=None) -> Path:
    """Write a state dict atomically, with its design's fingerprint and name in the metadata (and the
    strings in `extra`, such as what compression made the weights).

    With `exclusive`, an existing file is never replaced (FileExistsError).
    """
    from ..core import atomic, serialization

    meta = {**(extra or {}), FINGERPRINT_KEY: fingerprint(state), DESIGN_KEY: str(design_name)}
    data = serialization.save_bytes(dict(state), metadata=meta)
    return atomic.write_bytes(path, data, exclusive=exclusive)


def load_weights(path, design, design_name: str = "this design") -> dict:
    """The state dict in `path`, checked to fit `design` (named `design_name` in messages).

    Unreadable or damaged files raise the loader's errors (they name the file); weights of another
    design raise WeightsError naming both designs and the first difference.
    """
    from ..core import serialization

    state, meta = serialization.load_with_metadata(path, map_location="cpu")
    name = Path(path).name
    if not isinstance(state, dict) or not all(
        hasattr(v, "shape") and hasattr(v, "dtype") for v in state.values()
    ):
        raise WeightsError(
            f"{name} holds no weights (a dict of tensors), so it cannot be loaded into a design"
        )
    have = fingerprint(state)
    recorded = meta.get(FINGERPRINT_KEY)
    if recorded is not None and recorded != have:
        raise WeightsError(f"{name} is damaged: its tensors do not match the design fingerprint it records")
    want_state = design_state(design)
    want = fingerprint(want_state)
    if have != want:
        source = meta.get(DESIGN_KEY)
        source = f"the design {source!r}" if source else "another design"
        raise WeightsError(
            f"{name} holds weights of {source} ({len(state)} tensors, fingerprint {have[:12]}), which do "
            f"not fit {design_name!r} ({len(want_state)} tensors, fingerprint {want[:12]}): "
            f"{first_difference(state, want_state)}"
        )
    return state


def first_difference(got: dict, want: dict) -> str:
    """The first way a state dict differs from the one a design needs, in words."""
    for k, v in want.items():
        if k not in got:
            return f"{k} {_shape(v)} is missing from the file"
    for k, v in got.items():
        if k not in want:
            return f"the file has {k} {_shape(v)}, which the design has not"
    for k, v in want.items():
        if _shape(got[k]) != _shape(v):
            return f"{k} is {_shape(got[k])} in the file but {_shape(v)} in the design"
        if _dtype(got[k]) != _dtype(v):
            return f"{k} is {_dtype(got[k])} in the file but {_dtype(v)} in the design"
    return "the names and shapes differ"
