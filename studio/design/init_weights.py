"""Start a design from weights trained elsewhere: a PyTorch state_dict (.pt, .pth) or a safetensors file.

Tensors are matched to the built design's state_dict by name (the module paths, which are the
design's node names), shapes are checked, and a report says what was loaded and what did not match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_WRAPPERS = ("state_dict", "model_state_dict", "model", "module", "net")
_PREFIXES = ("module.", "model.", "net.")


class WeightsError(ValueError):
    """A weights file that cannot be read or shares nothing with the design; the message says why."""


@dataclass
class WeightsMatch:
    """What a weights file gives a design: tensors that fit, and what did not match."""

    source: str
    arrays: dict = field(default_factory=dict)  # design name -> array that fits
    mismatched: list = field(default_factory=list)  # (name, shape in the design, shape in the file)
    missing: list = field(default_factory=list)  # in the design, not in the file
    unexpected: list = field(default_factory=list)  # in the file, not in the design

    @property
    def complete(self) -> bool:
        return not (self.mismatched or self.missing or self.unexpected)

    def report(self, limit=8) -> str:
        """The match in words: one line per kind of problem, each listing names."""

        def names(items):
            shown = ", ".join(items[:limit])
            return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")

        total = len(self.arrays) + len(self.mismatched) + len(self.missing)
        lines = [f"loaded {len(self.arrays)} of {total} tensors of the design from {self.source}"]
        if self.mismatched:
            lines.append(
                "shapes differ (kept as initialised): "
                + names(
                    [f"{n} {tuple(a)} in the design, {tuple(b)} in the file" for n, a, b in self.mismatched]
                )
            )
        if self.missing:
            lines.append("not in the file (kept as initialised): " + names(self.missing))
        if self.unexpected:
            lines.append("in the file but not in the design: " + names(self.unexpected))
        return "\n".join(lines)


def read_weights(path) -> dict:
    """A flat {name: numpy array} from a safetensors or PyTorch file; nothing in the file is executed."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"no weights file at {path}")
    suffix = path.suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise WeightsError(f"{path.name}: expected a {', '.join(WEIGHT_SUFFIXES)} file")
    if suffix == ".safetensors":
        from studio.core import serialization

        try:  # Studio's loader checks the tensors' checksums where the file has them
            state = serialization.load(path, map_location="cpu")
        except (OSError, ValueError, RuntimeError) as e:
            raise WeightsError(f"{path.name} is not a readable safetensors file: {e}") from None
        return _flat_state({k: v.numpy() if hasattr(v, "numpy") else v for k, v in state.items()}, path.name)
    from studio.core.torch_checkpoint import CheckpointError, load_torch_file

    try:
        obj = load_torch_file(path)
    except CheckpointError as e:
        raise WeightsError(str(e)) from None
    return _flat_state(obj, path.name)


def _flat_state(obj, where) -> dict:
    """The tensors of a state dict, unwrapped from a checkpoint ({"state_dict": ...}) when needed."""
    if isinstance(obj, dict):
        for key in _WRAPPERS:
            inner = obj.get(key)
            if isinstance(inner, dict) and any(isinstance(v, np.ndarray) for v in inner.values()):
                obj = inner
                break
        flat = {}
        _flatten(obj, "", flat)
        if flat:
            return flat
    raise WeightsError(f"{where} holds no state dict (a mapping of names to tensors)")


def _flatten(obj, prefix, out):
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, np.ndarray):
            out[name] = v
        elif isinstance(v, dict):
            _flatten(v, name + ".", out)


def _strip_prefix(names, wanted):
    """Drop a wrapper's prefix ("module." of DataParallel, "model." of a Lightning module) when it helps."""
    for p in _PREFIXES:
        if all(n.startswith(p) for n in names) and not any(w.startswith(p) for w in wanted):
            return {n: n[len(p) :] for n in names}
    return {n: n for n in names}


def match_weights(model, arrays: dict, source="the file") -> WeightsMatch:
    """Compare a file's tensors with `model.state_dict()` by name and shape."""
    state = model.state_dict()
    renamed = _strip_prefix(list(arrays), set(state))
    by_name = {renamed[k]: v for k, v in arrays.items()}
    m = WeightsMatch(source)
    for name, t in state.items():
        if name not in by_name:
            if not name.endswith("num_batches_tracked"):
                m.missing.append(name)
            continue
        a = by_name[name]
        if tuple(a.shape) != tuple(t.shape):
            m.mismatched.append((name, tuple(t.shape), tuple(a.shape)))
        else:
            m.arrays[name] = a
    m.unexpected = [n for n in by_name if n not in state]
    return m


def apply_weights(model, match: WeightsMatch):
    """Copy the matching tensors into `model` (in place, keeping each tensor's dtype and device)."""
    import studio.core as core

    if not match.arrays:
        raise WeightsError(f"nothing in {match.source} fits the design:\n{match.report()}")
    state = model.state_dict()
    with core.no_grad():
        for name, a in match.arrays.items():
            t = state[name]
            t.copy_(core.tensor(np.asarray(a)).to(dtype=t.dtype, device=t.device))


def load_into(model, path) -> WeightsMatch:
    """Read `path`, match it to `model` and copy what fits; returns the match for its report."""
    match = match_weights(model, read_weights(path), Path(path).name)
    apply_weights(model, match)
    return match
