"""Read PyTorch's `torch.save` files (.pt, .pth) without torch and without running their pickle.

A PyTorch file is a zip archive: `<name>/data.pkl` pickles the structure and `<name>/data/<key>`
holds each storage's raw bytes. The pickle is read as `torch.load(weights_only=True)` reads it: an
unpickler that admits only plain containers and the tensor rebuild functions (here stand-ins that
build numpy arrays) and refuses every other global, so nothing from the file is executed.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np

__all__ = ["load_torch_file", "CheckpointError"]


class CheckpointError(ValueError):
    """A file that is not a PyTorch checkpoint Studio can read safely; the message says why."""


_STORAGES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGES[name]


class _Storage:
    """One storage's bytes, read from the archive when a tensor is rebuilt from it."""

    def __init__(self, archive, prefix, key, storage_type):
        self.archive, self.prefix, self.key, self.type = archive, prefix, key, storage_type
        self._array = None

    def array(self) -> np.ndarray:
        if self._array is None:
            try:
                raw = self.archive.read(f"{self.prefix}data/{self.key}")
            except KeyError:
                raise CheckpointError(f"the storage {self.key!r} is missing from the archive") from None
            if self.type.dtype == "bfloat16":  # the upper half of a float32
                half = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
                self._array = half.view(np.float32)
            else:
                self._array = np.frombuffer(raw, np.dtype(self.type.dtype).newbyteorder("<"))
        return self._array


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    if not isinstance(storage, _Storage):
        raise CheckpointError("a tensor in the file does not refer to a storage")
    flat = storage.array()
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    n = 1 + sum((s - 1) * st for s, st in zip(size, stride)) if all(size) else 0
    if offset < 0 or offset + n > flat.size:
        raise CheckpointError("a tensor in the file reaches outside its storage")
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(flat[offset:], size, tuple(st * item for st in stride))
    return np.array(view, dtype=flat.dtype.newbyteorder("="))


def _rebuild_parameter(data, requires_grad=None, backward_hooks=None, *_rest):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _WeightsUnpickler(pickle.Unpickler):
    def __init__(self, data, archive, prefix):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        raise CheckpointError(
            f"the file asks for {module}.{name}, which a weights-only load does not allow: only tensors "
            "and plain containers are read (re-save the state_dict with torch.save(model.state_dict(), ...))"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise CheckpointError(f"unknown persistent reference {pid!r:.60} in the file")
        storage_type, key = pid[1], pid[2]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError("a storage of an unknown element type is in the file")
        return _Storage(self.archive, self.prefix, str(key), storage_type)


def load_torch_file(path):
    """The object a PyTorch `.pt`/`.pth` file holds (dicts, lists, numbers), with numpy arrays for tensors."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise CheckpointError(
            f"{path} is not a PyTorch zip archive (files from PyTorch before 1.6 or other pickles are "
            "not read; re-save it with a current torch.save)"
        ) from None
    with archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise CheckpointError(f"{path} has no single data.pkl: it is not a torch.save file")
        prefix = pkl[0][: -len("data.pkl")]
        try:
            return _WeightsUnpickler(archive.read(pkl[0]), archive, prefix).load()
        except CheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path} could not be read as PyTorch weights: {e}") from None
