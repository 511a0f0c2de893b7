"""Saving and loading state dicts and checkpoints as safetensors files (never pickle).

Every tensor (and numpy array) is stored as a safetensors tensor; the structure around them (nested
dicts, lists, numbers, strings) is JSON in the file's metadata under `studio`. A flat state dict
keeps its keys as tensor names, so other safetensors readers (PyTorch's included) load it as is.

Each tensor's dtype, shape and SHA-256 of its bytes are kept in the metadata, and the metadata has a
checksum of its own; `load` verifies them, so a changed or damaged byte is refused, naming the file
and the tensor. Files without checksums (older ones, or other writers') load as they are.
Loading reads only regular files (a pipe, a device or a folder is an OSError at once), never
executes anything from the file, and every failure is one error that names the file.
Only objects beyond that data (a whole module, as `torch.save(model)` stores it) are pickled, as
PyTorch does, and read back only with `weights_only=False`.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import os
import struct

import numpy as np

from . import _pickled, atomic
from . import backend as B
from .tensor import Tensor, _wrap

__all__ = ["load", "load_with_metadata", "save"]

_META_KEY = "studio"
_META_SUM = "studio.sha256"
_FORMAT = 1
_CHANGED = "the file was changed after it was written"
_TAGS = ("__tensor__", "__ndarray__", "__tuple__", "__dict__", "__float__", "__dtype__")
MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
MAX_FILE_BYTES = 1 << 40  # a sparse or runaway file, not weights; memory is the real limit
MAX_DEPTH = 200  # nesting of the structure; deeper is not a file `save` writes
# safetensors dtype codes of the dtypes studio tensors hold
_CODES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}
_DTYPES = {code: B.as_dtype(name).np.newbyteorder("<") for name, code in _CODES.items()}


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


def _sha256(arr_or_bytes) -> str:
    if isinstance(arr_or_bytes, np.ndarray):
        arr_or_bytes = np.ascontiguousarray(arr_or_bytes).reshape(-1).view(np.uint8)
    return hashlib.sha256(arr_or_bytes).hexdigest()


def _encode_file(obj, metadata) -> bytes:
    from safetensors.numpy import save as st_save

    writer = _Writer()
    doc = {"version": _FORMAT, "structure": writer.encode(obj, ())}
    doc["tensors"] = {
        name: {"dtype": _CODES[arr.dtype.name], "shape": list(arr.shape), "sha256": _sha256(arr)}
        for name, arr in writer.arrays.items()
    }
    if metadata:
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise TypeError("save: metadata must be a dict of strings to strings")
        doc["metadata"] = dict(metadata)
    text = json.dumps(doc)
    meta = {"format": "pt", _META_KEY: text, _META_SUM: hashlib.sha256(text.encode()).hexdigest()}
    return st_save(writer.arrays, metadata=meta)


def save(obj, f, *, metadata=None) -> None:
    """Save tensors and the structure around them (a state dict, a checkpoint dict, ...) to `f`.

    `f` is a path (written atomically: a temporary file in the same folder, flushed to disk, then
    renamed over the target; see `studio.core.atomic`) or a binary file object. `metadata`, a dict
    of strings, is kept in the file and returned by `load_with_metadata` (a Studio addition).
    """
    try:
        data = _encode_file(obj, metadata)
    except TypeError:
        # objects beyond data (a whole module, an optimizer): pickled, as PyTorch does
        data = _pickled.dumps(obj)
    if hasattr(f, "write"):
        f.write(data)
        return
    atomic.write_bytes(os.fspath(f), data)


def save_bytes(obj, *, metadata=None) -> bytes:
    """What `save` writes, as bytes (for writers that place the file themselves)."""
    buf = io.BytesIO()
    save(obj, buf, metadata=metadata)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------------


class _Bad(Exception):
    """A problem found in a file, turned into one RuntimeError that names the file."""


def _read_path(where: str) -> bytearray:
    """The bytes of a regular file; a pipe, a device, a folder or a file of /proc is refused at once."""
    from .data.files import open_regular

    if not os.path.lexists(where):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", where)  # as torch.load
    with open_regular(where, MAX_FILE_BYTES, "weights file") as fh:
        size = os.fstat(fh.fileno()).st_size
        try:
            data = bytearray(size)
        except MemoryError:
            raise _Bad(f"is {size} bytes long, more than this machine's memory holds") from None
        view, n = memoryview(data), 0
        while n < len(data):
            k = fh.readinto(view[n:])
            if not k:
                break
            n += k
        view.release()
    return data if n == len(data) else data[:n]


def _parse(data, where):
    """(metadata, {name: (dtype code, shape, start, end)}, tensor bytes) of a safetensors file."""
    if len(data) < 8:
        raise _Bad(f"is not a safetensors file: it is only {len(data)} bytes long")
    (n,) = struct.unpack("<Q", bytes(data[:8]))
    if n > MAX_HEADER_BYTES:
        raise _Bad(f"is not a safetensors file: its header claims {n} bytes, more than a header may have")
    if n > len(data) - 8:
        raise _Bad(
            f"is truncated or corrupt: its header claims {n} bytes but the file has "
            f"{len(data) - 8} after the length field"
        )
    try:
        header = json.loads(bytes(data[8 : 8 + n]))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _Bad(f"is corrupt: its header is not valid JSON ({str(e)[:80]})") from None
    if not isinstance(header, dict):
        raise _Bad("is corrupt: its header is not a JSON object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise _Bad("is corrupt: its metadata is not a table of texts")
    body = memoryview(data)[8 + n :]
    entries = {name: _entry(name, info, len(body)) for name, info in header.items()}
    return meta, entries, body


def _entry(name, info, size):
    if not isinstance(info, dict):
        raise _Bad(f"is corrupt: tensor {name!r} has no description")
    code, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(code, str) or code not in _DTYPES:
        raise _Bad(
            f"has tensor {name!r} of dtype {str(code)[:20]!r}, which studio cannot hold "
            f"(it reads {', '.join(_DTYPES)})"
        )
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape) or len(shape) > 64:
        raise _Bad(f"is corrupt: tensor {name!r} has no valid shape")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(d) for d in offsets):
        raise _Bad(f"is corrupt: tensor {name!r} has no valid data offsets")
    start, end = offsets
    if not start <= end:
        raise _Bad(f"is corrupt: tensor {name!r} has no valid data offsets")
    if end > size:
        raise _Bad(f"is truncated: tensor {name!r} ends at byte {end} of the data, which has {size}")
    if end - start != math.prod(shape) * _DTYPES[code].itemsize:
        raise _Bad(f"is corrupt: tensor {name!r} has {end - start} bytes, which do not fit its shape {shape}")
    return code, tuple(shape), start, end


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**62


def _studio_doc(meta):
    """The structure document Studio keeps in the metadata (None for other writers' files), checked."""
    if _META_KEY not in meta:
        if _META_SUM in meta:
            raise _Bad(f"is damaged: its studio metadata is missing ({_CHANGED})")
        return None
    text = meta[_META_KEY]
    if _META_SUM in meta and hashlib.sha256(text.encode()).hexdigest() != meta[_META_SUM]:
        raise _Bad(f"is damaged: its metadata does not match its checksum ({_CHANGED})")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise _Bad("is corrupt: its studio metadata is not valid JSON") from None
    if not isinstance(doc, dict) or "structure" not in doc:
        raise _Bad("is corrupt: its studio metadata is not valid")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise _Bad("is corrupt: its studio metadata has no valid format version")
    if version > _FORMAT:
        raise _Bad(
            f"was written by a newer studio (format {version}); this one reads format {_FORMAT} or older"
        )
    if "tensors" in doc and _META_SUM not in meta:
        raise _Bad("is damaged: the checksum of its metadata is missing")
    extra = doc.get("metadata", {})
    if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
        raise _Bad("is corrupt: its studio metadata is not valid")
    return doc


def _verify(sums, entries, body):
    """Each tensor's dtype, shape and bytes against what was recorded when the file was written."""
    if not isinstance(sums, dict):
        raise _Bad("is corrupt: its tensor checksums are not valid")
    for name in entries:
        if name not in sums:
            raise _Bad(f"is damaged: tensor {name!r} has no checksum ({_CHANGED})")
    for name, want in sums.items():
        if name not in entries:
            raise _Bad(f"is damaged: tensor {name!r} is missing")
        code, shape, start, end = entries[name]
        if not isinstance(want, dict):
            raise _Bad(f"is corrupt: the checksum of tensor {name!r} is not valid")
        if want.get("dtype") != code or want.get("shape") != list(shape):
            raise _Bad(
                f"is damaged: tensor {name!r} is {code} {list(shape)} in the file but was written as "
                f"{str(want.get('dtype'))[:8]} {str(want.get('shape'))[:40]}"
            )
        if _sha256(body[start:end]) != want.get("sha256"):
            raise _Bad(f"is damaged: the bytes of tensor {name!r} do not match their checksum ({_CHANGED})")


def _arrays(entries, body) -> dict:
    out = {}
    for name, (code, shape, start, end) in entries.items():
        dt = _DTYPES[code]
        flat = np.frombuffer(body[start:end], dtype=dt) if end > start else np.empty(0, dt)
        # own writable, native-order arrays: users change loaded tensors in place
        out[name] = flat.reshape(shape).astype(dt.newbyteorder("="), copy=True)
    return out


def _device_for(saved, map_location):
    if map_location is None:
        return B.as_device(saved) if saved else B.CPU
    if isinstance(map_location, dict):
        target = map_location.get(saved or "cpu", saved or "cpu")
        return B.as_device(target)
    if callable(map_location):
        return B.as_device(map_location(saved or "cpu"))
    return B.as_device(map_location)


def _device_name_ok(v) -> bool:
    if v is None:
        return True
    if not isinstance(v, str):
        return False
    kind, _, idx = v.partition(":")
    return kind in ("cpu", "cuda") and (not idx or (idx.isdigit() and len(idx) < 6))


class _Reader:
    """Rebuilds the saved structure from the document, checking every node's form."""

    def __init__(self, arrays, map_location):
        self.arrays = arrays
        self.map_location = map_location
        self.tensors = {}

    def array(self, name, at):
        if not isinstance(name, str) or name not in self.arrays:
            raise _Bad(f"is corrupt: its structure names a missing tensor {str(name)[:60]!r} at {at}")
        return self.arrays[name]

    def decode(self, node, at="structure", depth=0):
        if depth > MAX_DEPTH:
            raise _Bad(f"is corrupt: its structure is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, list):
            return [self.decode(v, f"{at}[{i}]", depth + 1) for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if "__tensor__" in node:
            return self.tensor(node, at)
        if "__ndarray__" in node:
            return self.array(node["__ndarray__"], at)
        if "__tuple__" in node:
            items = node["__tuple__"]
            if not isinstance(items, list):
                raise _Bad(f"is corrupt: a tuple at {at} is not a list")
            return tuple(self.decode(v, f"{at}[{i}]", depth + 1) for i, v in enumerate(items))
        if "__float__" in node:
            return self.special_float(node["__float__"], at)
        if "__dtype__" in node:
            try:
                return B.as_dtype(node["__dtype__"])
            except (TypeError, ValueError):
                raise _Bad(f"is corrupt: unknown dtype {str(node['__dtype__'])[:30]!r} at {at}") from None
        if "__dict__" in node:
            return self.pairs(node["__dict__"], at, depth)
        return {k: self.decode(v, f"{at}.{k}", depth + 1) for k, v in node.items()}

    def tensor(self, node, at):
        name = node["__tensor__"]
        if isinstance(name, str) and name in self.tensors:  # a tensor named twice comes back as one object
            return self.tensors[name]
        arr = self.array(name, at)
        saved = node.get("device")
        if not _device_name_ok(saved) or not isinstance(node.get("requires_grad", False), bool):
            raise _Bad(f"is corrupt: tensor {name!r} at {at} has an invalid device or gradient flag")
        if node.get("requires_grad") and arr.dtype.kind != "f":
            raise _Bad(f"is corrupt: tensor {name!r} at {at} requires a gradient but is not floating point")
        dev = _device_for(saved, self.map_location)
        try:
            t = _wrap(B.to_device_array(arr, dev))
        except RuntimeError as e:
            where = saved or "cpu"
            raise _Bad(
                f"holds tensor {name!r} on {where}, but {e}; load it with map_location='cpu'"
            ) from None
        if node.get("requires_grad"):
            t.requires_grad_(True)
        self.tensors[name] = t
        return t

    @staticmethod
    def special_float(text, at):
        try:
            return float(text) if isinstance(text, str) and len(text) < 40 else float("x")
        except ValueError:
            raise _Bad(f"is corrupt: {str(text)[:40]!r} at {at} is not a number") from None

    def pairs(self, pairs, at, depth):
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise _Bad(f"is corrupt: a dictionary at {at} is not a list of key-value pairs")
        out = {}
        for i, (k, v) in enumerate(pairs):
            key = _hashable(self.decode(k, f"{at}[{i}]", depth + 1))
            try:
                hash(key)
            except TypeError:
                raise _Bad(f"is corrupt: the dictionary key at {at}[{i}] is not a number or text") from None
            out[key] = self.decode(v, f"{at}[{i}]", depth + 1)
        return out


def _hashable(k):
    return tuple(_hashable(v) for v in k) if isinstance(k, list | tuple) else k


def load_with_metadata(f, map_location=None):
    """`load`, and the metadata dict given to `save` (empty for files without any)."""
    return _load(f, map_location, weights_only=True)


def _load(f, map_location, weights_only):
    if hasattr(f, "read"):
        where = f"'{getattr(f, 'name', 'the file object')}'"
    else:
        where = f"'{os.fspath(f)}'"
    try:
        data = f.read() if hasattr(f, "read") else _read_path(os.fspath(f))
        if not isinstance(data, bytes | bytearray | memoryview):
            raise _Bad("is open in text mode: weights are read from binary files ('rb')")
        if _pickled.is_pickled(data):
            return _pickled.loads(bytes(data), where, weights_only), {}
        meta, entries, body = _parse(data, where)
        doc = _studio_doc(meta)
        if doc is not None and "tensors" in doc:
            _verify(doc["tensors"], entries, body)
        reader = _Reader(_arrays(entries, body), map_location)
        if doc is None:
            return {k: reader.tensor({"__tensor__": k}, k) for k in entries}, {}
        return reader.decode(doc["structure"]), dict(doc.get("metadata", {}))
    except _Bad as e:
        raise RuntimeError(f"load: {where} {e}") from None


def load(f, map_location=None, *, weights_only=True):
    """Load what `save` wrote (or any safetensors file, as a flat dict of tensors).

    map_location: where tensors go: None (where they were saved), a device or its name, a dict
    mapping saved device names to new ones, or a function of the saved device name.
    weights_only: True (the default, as in PyTorch 2.6+) refuses files that hold pickled Python
    objects (`save` of a whole module); False reads them, running whatever the pickle says, so pass
    it only for files you trust. Tensors and plain containers never need it.
    """
    return _load(f, map_location, weights_only)[0]
