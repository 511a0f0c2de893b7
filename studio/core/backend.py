"""The one place that chooses numpy or cupy: array modules, devices, dtypes and random generators.

Op code asks `array_module(x)` for the module of its inputs and writes one code path against it.
"""

from __future__ import annotations

import builtins as _builtins
import os

import ml_dtypes as _ml_dtypes
import numpy as np

try:  # cupy is optional (the `gpu` extra); its absence is reported only when CUDA is asked for
    import cupy as _cupy
except Exception:  # noqa: BLE001 - a broken CUDA install must not break the CPU engine
    _cupy = None

numpy = np

# STUDIO_CUPY_LIKE=1 (set by the test command) keeps the CPU device's arrays in the cupy-like type of
# `cupylike`: the whole suite then runs the code paths that cupy takes, and fails where cupy would.
CUPY_LIKE = os.environ.get("STUDIO_CUPY_LIKE") == "1"
if CUPY_LIKE:
    from . import cupylike as _host_xp
else:
    _host_xp = np
host_ndarray = _host_xp.ndarray


def cuda_available() -> bool:
    """True when cupy is importable and sees at least one CUDA device."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001
        return False


def _require_cuda():
    if _cupy is None:
        raise RuntimeError(
            "CUDA device requested, but cupy is not installed: install the gpu extra "
            "(pip install 'studio[gpu]')"
        )
    if not cuda_available():
        raise RuntimeError("CUDA device requested, but cupy found no CUDA GPU on this machine")
    return _cupy


# ----------------------------------------------------------------------------------------- devices


class device:
    """A device like `torch.device`: 'cpu' or 'cuda[:index]'."""

    __slots__ = ("type", "index")

    def __init__(self, type_or_str="cpu", index=None):
        if isinstance(type_or_str, device):
            self.type, self.index = type_or_str.type, type_or_str.index
            return
        if not isinstance(type_or_str, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {type_or_str!r}")
        kind, _, idx = type_or_str.partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type_or_str}"
            )
        if idx:
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type_or_str}'")
            index = int(idx)
        self.type = kind
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and (
            self.index == other.index or self.index is None or other.index is None
        )

    def __hash__(self):
        return hash(self.type)

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = device("cpu")


def as_device(dev) -> device:
    if dev is None:
        return CPU
    if isinstance(dev, device):
        return dev
    if isinstance(dev, int):
        return device("cuda", dev)
    return device(dev)


def module_for_device(dev: device):
    if dev.type == "cpu":
        return _host_xp
    return _require_cuda()


def array_module(arr):
    """numpy or cupy, whichever owns `arr` (the `get_array_module` of Chainer and CuPy).

    A tensor (met by a backward formula while the backward pass is recorded) brings its own
    namespace of numpy's functions made of differentiable ops.
    """
    if type(arr) is np.ndarray:
        return np
    if type(arr) is host_ndarray:
        return _host_xp
    if _cupy is not None and isinstance(arr, _cupy.ndarray):
        return _cupy
    ns = getattr(arr, "_array_namespace", None)
    return np if ns is None else ns()


def device_of(arr) -> device:
    if type(arr) is np.ndarray or _cupy is None or not isinstance(arr, _cupy.ndarray):
        return CPU
    return device("cuda", arr.device.id)


def is_cuda_array(arr) -> bool:
    return _cupy is not None and isinstance(arr, _cupy.ndarray)


def is_array(value) -> bool:
    """True for an array of any device (numpy, cupy, or the cupy-like host arrays of the tests)."""
    return isinstance(value, np.ndarray | host_ndarray) or is_cuda_array(value)


def to_device_array(arr, dev: device):
    """Copy `arr` to `dev` (a no-op when it is already there)."""
    if dev.type == "cpu":
        if is_cuda_array(arr):
            arr = arr.get()
        return _host_xp.asarray(arr) if CUPY_LIKE and type(arr) is not host_ndarray else arr
    cp = _require_cuda()
    if isinstance(arr, cp.ndarray) and (dev.index is None or arr.device.id == dev.index):
        return arr
    with cp.cuda.Device(dev.index or 0):
        return cp.asarray(to_numpy(arr) if type(arr) is host_ndarray else arr)


def to_array_like(arr, target):
    """`arr` in the module and on the device of the array `target` (a value about to be copied into it)."""
    if type(arr) is type(target) and not is_cuda_array(arr):
        return arr
    if type(target) is np.ndarray:
        return to_numpy(arr)
    return to_device_array(arr, device_of(target))


def host_array(arr):
    """A numpy array as the CPU device holds it: itself, or a copy where arrays are cupy-like."""
    return _host_xp.asarray(arr) if CUPY_LIKE and type(arr) is np.ndarray else arr


def matmul(a, b, out=None):
    """a @ b for arrays of either module. Numpy has no half-precision BLAS (its float16 product is
    tens of times slower than float32): float16 and bfloat16 products run in float32 and are rounded
    back, as PyTorch's CPU kernels accumulate them. cupy multiplies halves natively (tensor cores), and
    a tensor (in a recorded backward) multiplies through its own namespace."""
    if type(a) is np.ndarray and a.dtype.itemsize == 2 and a.dtype.kind in "fV":
        result = np.matmul(a.astype(np.float32), b.astype(np.float32))
        with np.errstate(over="ignore"):  # beyond the half range is inf, as in half arithmetic
            if out is None:
                return result.astype(a.dtype)
            out[...] = result
        return out
    # a saved array times a gradient tensor (a recorded backward) multiplies through the tensor's namespace
    xp = array_module(b) if is_array(a) and not is_array(b) else array_module(a)
    if out is None:
        return xp.matmul(a, b)
    return xp.matmul(a, b, out=out)


def scale_where(x, factor, mask) -> None:
    """x[mask] *= factor, in place, without a temporary of x's size where the module allows it."""
    if type(x) is np.ndarray:
        np.multiply(x, x.dtype.type(factor), out=x, where=mask)
    else:  # cupy's ufuncs name numpy's `where` `_where` (its own copyto passes the mask that way)
        array_module(x).multiply(x, x.dtype.type(factor), out=x, _where=mask)


def to_numpy(arr) -> np.ndarray:
    if type(arr) is np.ndarray:
        return arr
    return arr.get() if is_cuda_array(arr) or type(arr) is host_ndarray else arr


def ensure_array(data):
    """numpy turns 0-d results into scalars; tensors always hold arrays."""
    if type(data) is host_ndarray or is_cuda_array(data):
        return data
    if CUPY_LIKE:  # cupy never gives numpy arrays or scalars: the op used numpy on device data
        raise TypeError(f"an op produced a {type(data).__name__} where device arrays were expected")
    return np.asarray(data)


# ------------------------------------------------------------------------------------------- dtypes


class dtype:
    """A tensor element type like `torch.dtype`; `np` is the numpy dtype that stores it."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_category")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = category == 2
        self.is_signed = category == 2 or self.np.kind == "i"
        self.itemsize = self.np.itemsize
        self._category = category  # 0 bool, 1 integer, 2 floating point: PyTorch's promotion order

    def __repr__(self):
        return f"studio.core.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_complex(self):
        raise RuntimeError("complex dtypes are not supported")


float16 = dtype("float16", np.float16, 2)
bfloat16 = dtype("bfloat16", _ml_dtypes.bfloat16, 2)  # numpy's extension type from ml_dtypes
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
int8 = dtype("int8", np.int8, 1)
uint8 = dtype("uint8", np.uint8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
bool_ = dtype("bool", np.bool_, 0)

half, double = float16, float64  # PyTorch's aliases (`float` and `int` are set in studio.core)
short, long = int16, int64

ALL_DTYPES = (float16, bfloat16, float32, float64, int8, uint8, int16, int32, int64, bool_)
_BY_NP = {d.np: d for d in ALL_DTYPES}
_BY_NAME = {d.name: d for d in ALL_DTYPES}

# The element types of quantized tensors: integers read through a scale and a zero point. They are
# never inferred from an array, so they stay out of the lookups above.
qint8 = dtype("qint8", np.int8, 1)
quint8 = dtype("quint8", np.uint8, 1)
qint32 = dtype("qint32", np.int32, 1)
QUANTIZED_DTYPES = (qint8, quint8, qint32)


def _dtype_by_name(name):
    return _BY_NAME[name] if name in _BY_NAME else next(d for d in QUANTIZED_DTYPES if d.name == name)


_BFLOAT16_NP = np.dtype(_ml_dtypes.bfloat16)


def is_float_np(np_dtype) -> bool:
    """Whether a numpy dtype is one of the floating-point types (bfloat16's numpy kind is 'V')."""
    return np_dtype.kind == "f" or np_dtype == _BFLOAT16_NP


def from_numpy_dtype(np_dtype) -> dtype:
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        d = np.dtype(np_dtype)
        if d in _BY_NP:
            return _BY_NP[d]
        raise TypeError(
            f"can't convert an array of type {d}: the supported types are "
            "float64, float32, float16, bfloat16, int64, int32, int16, int8, uint8 and bool"
        ) from None


def as_dtype(d) -> dtype:
    """Accept a studio dtype, a numpy dtype or type, or a name."""
    if isinstance(d, dtype):
        return d
    if isinstance(d, str):
        if d in _BY_NAME:
            return _BY_NAME[d]
        raise TypeError(f"unknown dtype name {d!r}")
    if d is builtins_float:
        return get_default_dtype()
    if d is builtins_int:
        return int64
    if d is builtins_bool:
        return bool_
    return from_numpy_dtype(np.dtype(d))


builtins_float, builtins_int, builtins_bool = _builtins.float, _builtins.int, _builtins.bool

_default_dtype = float32


def get_default_dtype() -> dtype:
    return _default_dtype


def set_default_dtype(d) -> None:
    global _default_dtype
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d


_PROMOTE_CACHE: dict = {}


def promote_types(a: dtype, b: dtype) -> dtype:
    """PyTorch's promotion of two tensor dtypes: the higher category wins, then the wider type."""
    if a is b:
        return a
    key = (a, b)
    r = _PROMOTE_CACHE.get(key)
    if r is None:
        if a._category != b._category:
            r = a if a._category > b._category else b
        else:
            r = from_numpy_dtype(np.promote_types(a.np, b.np))
            if r not in ALL_DTYPES:  # e.g. uint8 with int8 -> int16 exists; keep as found
                r = int64
        _PROMOTE_CACHE[key] = r
    return r


def scalar_category(value) -> int:
    if isinstance(value, _builtins.bool):
        return 0
    if isinstance(value, _builtins.int):
        return 1
    return 2


def dtype_with_scalar(t: dtype, value) -> dtype:
    """The dtype of `tensor op scalar`: a scalar of a higher category lifts ints to the default type."""
    cat = scalar_category(value)
    if cat <= t._category:
        return t
    return get_default_dtype() if cat == 2 else int64


def dtype_of_python(value) -> dtype:
    cat = scalar_category(value)
    return (bool_, int64, get_default_dtype())[cat]


class layout:
    """How a tensor's elements are laid out; every tensor here is dense and strided."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"studio.core.{self.name}"

    def __reduce__(self):
        return (_layout_by_name, (self.name,))


strided = layout("strided")
sparse_coo = layout("sparse_coo")


def _layout_by_name(name):
    return {"strided": strided, "sparse_coo": sparse_coo}[name]


class memory_format:
    """A memory layout requested of a tensor (accepted; arrays here are kept in C order)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"studio.core.{self.name}"


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")


# -------------------------------------------------------------------------------------- generators


class Generator:
    """A random number generator like `torch.Generator`, on numpy's PCG64 (cupy's on CUDA)."""

    __slots__ = ("device", "_seed", "_rng")

    def __init__(self, device="cpu"):
        self.device = as_device(device)
        self.manual_seed(_builtins.int(np.random.SeedSequence().entropy % (2**63)))

    def manual_seed(self, seed):
        seed = _builtins.int(seed)
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed & 0xFFFFFFFFFFFFFFFF))
        return self

    def seed(self):
        s = _builtins.int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return self._rng.bit_generator.state

    def set_state(self, state):
        self._rng.bit_generator.state = state
        return self

    @property
    def numpy(self) -> np.random.Generator:
        return self._rng

    def for_module(self, xp):
        """The generator to draw from for arrays of module `xp`.

        A device draw comes from a device generator seeded from this one, fresh for each draw, so
        that seeding, `get_state` and `set_state` rule the device's draws as they do the host's.
        """
        if xp is np:
            return self._rng
        return xp.random.default_rng(_builtins.int(self._rng.integers(0, 2**63)))


default_generator = Generator()
default_generator.manual_seed(0x5EED)


def manual_seed(seed) -> Generator:
    """Seed the default generator, so that runs repeat exactly."""
    default_generator.manual_seed(seed)
    return default_generator


def initial_seed() -> int:
    return default_generator.initial_seed()


def seed() -> int:
    return default_generator.seed()


def rng(generator, xp):
    return (generator or default_generator).for_module(xp)


def fork_rng():
    """A mark in the default generator's stream to which `replay_rng` returns, so that the draws
    made from here can be repeated; CUDA draws are seeded from the CPU stream, so they repeat too."""
    return default_generator.get_state()


def replay_rng(mark):
    """Set the default generator back to `mark`; returns what to pass to `restore_rng` afterwards."""
    current = default_generator.get_state()
    default_generator.set_state(mark)
    return current


def restore_rng(current):
    default_generator.set_state(current)


# --------------------------------------------------------------------------------- host memory


def _reuse_freed_host_memory() -> None:
    """Have glibc serve arrays up to 32 MiB from its heap instead of fresh mappings.

    By default each array over 128 KiB gets its own mapping, handed back on free, so every training
    step page-faults its activations and gradients in again, zero-filled by the kernel: about a
    third of a small CNN's step. Kept in the heap, freed blocks are reused by the next step. Left
    alone off glibc, when the MALLOC_* variables are set, or when STUDIO_MALLOC_DEFAULTS is set.
    """
    import os
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("STUDIO_MALLOC_DEFAULTS"):
        return
    if any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 128 << 20)


_reuse_freed_host_memory()
