"""Saving and loading state dicts and checkpoints as safetensors files (never pickle).

Every tensor (and numpy array) is stored as a safetensors tensor; the structure around them (nested
dicts, lists, numbers, strings) is JSON in the file's metadata under `studio`. A flat state dict
keeps its keys as tensor names, so other safetensors readers (PyTorch's included) load it as is.
Loading never executes anything from the file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from . import backend as B
from .tensor import Tensor, _wrap

__all__ = ["load", "save"]

_META_KEY = "studio"
_FORMAT = 1
_TAGS = ("__tensor__", "__ndarray__", "__tuple__", "__dict__", "__float__", "__dtype__")


class _Writer:
    """Walks the object, collecting arrays under unique names and returning the JSON structure."""

    def __init__(self):
        self.arrays = {}
        self.by_id = {}

    def name_for(self, path, value):
        key = id(value)
        if key in self.by_id:  # the same tensor twice (tied weights) is stored once
            return self.by_id[key]
        base = ".".join(path) or "tensor"
        name, n = base, 1
        while name in self.arrays:
            name = f"{base}#{n}"
            n += 1
        arr = B.to_numpy(value._data if isinstance(value, Tensor) else value)
        self.arrays[name] = arr if arr.flags.c_contiguous else arr.copy()  # keeps 0-d arrays 0-d
        self.by_id[key] = name
        return name

    def encode(self, obj, path):
        if isinstance(obj, Tensor):
            node = {"__tensor__": self.name_for(path, obj)}
            if obj.requires_grad:
                node["requires_grad"] = True
            if obj.is_cuda:
                node["device"] = str(obj.device)
            return node
        if isinstance(obj, np.ndarray):
            B.from_numpy_dtype(obj.dtype)  # refuses object and string arrays with a clear message
            return {"__ndarray__": self.name_for(path, obj)}
        if obj is None or isinstance(obj, bool | str):
            return obj
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, int | np.integer):
            return int(obj)
        if isinstance(obj, float | np.floating):
            f = float(obj)
            return f if math.isfinite(f) else {"__float__": repr(f)}
        if isinstance(obj, B.dtype):
            return {"__dtype__": obj.name}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            plain = all(isinstance(k, str) and k not in _TAGS for k in obj)
            if plain:
                return {k: self.encode(v, path + (k,)) for k, v in obj.items()}
            pairs = []
            for k, v in obj.items():
                if not isinstance(k, str | int | float | bool | tuple) and k is not None:
                    raise TypeError(
                        f"save: dict key {k!r} at '{'.'.join(path)}' has type {type(k).__name__}: keys must "
                        "be strings, numbers, booleans, None or tuples of these"
                    )
                pairs.append([self.encode(k, path), self.encode(v, path + (str(k),))])
            return {"__dict__": pairs}
        raise TypeError(
            f"save: cannot store an object of type {type(obj).__name__} at '{'.'.join(path) or '<root>'}': "
            "only tensors, numpy arrays, numbers, strings, None, dtypes, lists, tuples and dicts can be saved"
        )


def save(obj, f) -> None:
    """Save tensors and the structure around them (a state dict, a checkpoint dict, ...) to `f`.

    `f` is a path (written atomically: a temporary file in the same folder, flushed to disk, then
    renamed over the target) or a binary file object.
    """
    from safetensors.numpy import save as st_save

    writer = _Writer()
    structure = writer.encode(obj, ())
    meta = {"format": "pt", _META_KEY: json.dumps({"version": _FORMAT, "structure": structure})}
    data = st_save(writer.arrays, metadata=meta)
    if hasattr(f, "write"):
        f.write(data)
        return
    path = Path(os.fspath(f))
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder):
    """Make the rename itself durable (POSIX only; other systems have no directory handles)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_header(data: bytes, where: str):
    """The safetensors header of `data`, checked against the file's length."""
    if len(data) < 8:
        raise RuntimeError(f"load: {where} is not a safetensors file: it is only {len(data)} bytes long")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise RuntimeError(
            f"load: {where} is truncated or corrupt: its header claims {n} bytes but the file has "
            f"{len(data) - 8} after the length field"
        )
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RuntimeError(f"load: {where} is corrupt: its header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise RuntimeError(f"load: {where} is corrupt: its header is not a JSON object")
    end = 8 + n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            stop = int(info["data_offsets"][1])
        except (KeyError, TypeError, IndexError, ValueError):
            raise RuntimeError(
                f"load: {where} is corrupt: tensor {name!r} has no valid data offsets"
            ) from None
        if end + stop > len(data):
            raise RuntimeError(
                f"load: {where} is truncated: tensor {name!r} ends at byte {end + stop} but the file has "
                f"{len(data)} bytes"
            )
    return header


def _device_for(saved, map_location):
    if map_location is None:
        return B.as_device(saved) if saved else B.CPU
    if isinstance(map_location, dict):
        target = map_location.get(saved or "cpu", saved or "cpu")
        return B.as_device(target)
    if callable(map_location):
        return B.as_device(map_location(saved or "cpu"))
    return B.as_device(map_location)


class _Reader:
    def __init__(self, arrays, map_location, where):
        self.arrays = arrays
        self.map_location = map_location
        self.where = where
        self.tensors = {}

    def array(self, name):
        if name not in self.arrays:
            raise RuntimeError(
                f"load: {self.where} is corrupt: its structure names a missing tensor {name!r}"
            )
        return self.arrays[name]

    def decode(self, node):
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "__tensor__" in node:
            name = node["__tensor__"]
            if name not in self.tensors:  # a tensor named twice comes back as one object
                dev = _device_for(node.get("device"), self.map_location)
                t = _wrap(B.to_device_array(self.array(name), dev))
                if node.get("requires_grad"):
                    t.requires_grad_(True)
                self.tensors[name] = t
            return self.tensors[name]
        if "__ndarray__" in node:
            return self.array(node["__ndarray__"])
        if "__tuple__" in node:
            return tuple(self.decode(v) for v in node["__tuple__"])
        if "__float__" in node:
            return float(node["__float__"])
        if "__dtype__" in node:
            return B.as_dtype(node["__dtype__"])
        if "__dict__" in node:
            return {_hashable(self.decode(k)): self.decode(v) for k, v in node["__dict__"]}
        return {k: self.decode(v) for k, v in node.items()}


def _hashable(k):
    return tuple(_hashable(v) for v in k) if isinstance(k, list | tuple) else k


def load(f, map_location=None, *, weights_only=True):
    """Load what `save` wrote (or any safetensors file, as a flat dict of tensors).

    map_location: where tensors go: None (where they were saved), a device or its name, a dict
    mapping saved device names to new ones, or a function of the saved device name.
    `weights_only` is accepted for PyTorch's signature: nothing but data is ever read.
    """
    from safetensors.numpy import load as st_load

    if hasattr(f, "read"):
        data = f.read()
        where = getattr(f, "name", "the file object")
    else:
        where = os.fspath(f)
        with open(where, "rb") as fh:
            data = fh.read()
    header = _read_header(data, f"'{where}'")
    try:
        raw = st_load(data)
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise RuntimeError(f"load: '{where}' is corrupt or not a safetensors file: {e}") from None
    # own writable arrays: users change loaded tensors in place
    arrays = {k: np.array(v, copy=True) for k, v in raw.items()}
    meta = header.get("__metadata__") or {}
    reader = _Reader(arrays, map_location, f"'{where}'")
    if _META_KEY not in meta:
        return {k: reader.decode({"__tensor__": k}) for k in arrays}
    try:
        doc = json.loads(meta[_META_KEY])
        version = doc["version"]
        structure = doc["structure"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise RuntimeError(f"load: '{where}' is corrupt: its studio metadata is not valid") from None
    if not isinstance(version, int) or version > _FORMAT:
        raise RuntimeError(
            f"load: '{where}' was written by a newer studio (format {version}); this one reads format "
            f"{_FORMAT} and older"
        )
    return reader.decode(structure)
