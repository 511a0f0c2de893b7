"""A stand-in for cupy on the host: numpy's arithmetic behind cupy's interface and refusals.

It lets the test suite run the engine's CUDA code paths on a machine without a GPU. Where cupy
differs from numpy, it follows cupy (cupy 14, measured against numpy 2.4):
- an array refuses implicit conversion to numpy (`np.asarray(a)` raises); `.get()` copies it out;
- module functions refuse numpy arrays and lists as operands (`asarray`/`array` take them);
- ufuncs take a mask only as cupy's `_where`, never as numpy's `where`;
- reductions and scalar indexing give 0-d arrays, not numpy scalars;
- integer-array indices wrap around instead of raising when out of bounds;
- the module, the array type and `random.Generator` lack what cupy lacks (`errstate`, `insert`,
  `ndarray.__index__`, `Generator.normal`/`permutation`/`choice`, ...).
backend.py alone decides to use it (`STUDIO_CUPY_LIKE=1`); nothing else imports it.
"""

from __future__ import annotations

import builtins as _b
import types

import numpy as _np

# the namespace below shadows builtins such as bool, any, abs, max and round: use _b.* for those
# numpy names cupy 14 does not have (dir(numpy) less dir(cupy), numpy 2.4)
_MISSING = frozenset(
    [
        "False_",
        "ScalarType",
        "True_",
        "asmatrix",
        "block",
        "bmat",
        "busday_count",
        "busday_offset",
        "busdaycalendar",
        "bytes_",
        "char",
        "character",
        "clongdouble",
        "complex256",
        "core",
        "ctypeslib",
        "datetime64",
        "datetime_as_string",
        "datetime_data",
        "dtypes",
        "einsum_path",
        "emath",
        "errstate",
        "f2py",
        "flexible",
        "float128",
        "frompyfunc",
        "fromregex",
        "geomspace",
        "get_include",
        "getbufsize",
        "geterr",
        "geterrcall",
        "histogram_bin_edges",
        "info",
        "insert",
        "is_busday",
        "isnat",
        "little_endian",
        "longdouble",
        "ma",
        "matrix",
        "matvec",
        "memmap",
        "nanpercentile",
        "nanquantile",
        "ndenumerate",
        "nditer",
        "nested_iters",
        "object_",
        "polyder",
        "polydiv",
        "polyint",
        "rec",
        "recarray",
        "record",
        "sctypeDict",
        "setbufsize",
        "seterr",
        "seterrcall",
        "show_runtime",
        "spacing",
        "str_",
        "strings",
        "test",
        "timedelta64",
        "typecodes",
        "unstack",
        "vecdot",
        "vecmat",
        "void",
        "testing",
        "lib",
        "linalg",
        "random",
        "fft",
        "polynomial",
        "exceptions",
        "typing",
        "version",
    ]
)
# numpy.ndarray attributes cupy.ndarray lacks
_ARRAY_MISSING = frozenset(
    ["ctypes", "getfield", "resize", "setfield", "setflags", "to_device", "itemset", "__array_interface__"]
)
_LINALG_MISSING = frozenset(
    [
        "diagonal",
        "matrix_norm",
        "multi_dot",
        "outer",
        "svdvals",
        "tensordot",
        "trace",
        "vecdot",
        "vector_norm",
    ]
)
# what cupy.random.Generator offers (numpy's has normal, permutation, choice, shuffle, ... besides)
_GENERATOR_METHODS = frozenset(
    [
        "beta",
        "binomial",
        "chisquare",
        "dirichlet",
        "exponential",
        "f",
        "gamma",
        "geometric",
        "hypergeometric",
        "integers",
        "logseries",
        "poisson",
        "power",
        "random",
        "standard_exponential",
        "standard_gamma",
        "standard_normal",
        "uniform",
    ]
)
_RANDOM_FUNCTIONS = frozenset(
    [
        "beta",
        "binomial",
        "choice",
        "exponential",
        "gamma",
        "normal",
        "permutation",
        "poisson",
        "rand",
        "randint",
        "randn",
        "random",
        "random_sample",
        "seed",
        "shuffle",
        "standard_normal",
        "uniform",
    ]
)

_CONVERTING = frozenset({"asarray", "array", "asanyarray"})


def _refuse(value):
    raise TypeError(f"Unsupported type {type(value)}")


def _unwrap(value, where):
    """The numpy array behind `value`; numpy arrays and (for ufuncs) lists are refused as cupy does."""
    if type(value) is ndarray:
        return value._a
    if isinstance(value, _np.ndarray):
        _refuse(value)
    if isinstance(value, list | tuple):
        if where == "ufunc":
            _refuse(value)
        return type(value)(_unwrap(v, where) for v in value)
    return value


def _host(value):
    """Like `_unwrap`, but numpy arrays are welcome: `asarray` and indices copy them to the device."""
    if type(value) is ndarray:
        return value._a
    if isinstance(value, list | tuple):
        return type(value)(_host(v) for v in value)
    return value


def _wrap(value):
    if isinstance(value, _np.ndarray):
        return ndarray(value)
    if isinstance(value, _np.generic):
        return ndarray(_np.asarray(value))
    if isinstance(value, tuple | list):
        items = [_wrap(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return value


def _function(name, fn):
    converting = name in _CONVERTING

    def call(*args, **kwargs):
        if converting:  # host data is copied to the device, never shared
            args = tuple(a.copy() if isinstance(a, _np.ndarray) else _host(a) for a in args)
            kwargs.pop("blocking", None)
        else:
            args = tuple(_unwrap(a, "function") for a in args)
        kwargs = {k: _unwrap(v, "function") for k, v in kwargs.items()}
        return _wrap(fn(*args, **kwargs))

    call.__name__ = call.__qualname__ = name
    call.__doc__ = fn.__doc__
    return call


class ufunc:
    """A numpy ufunc that takes and gives cupy-like arrays (lists are refused, as cupy does)."""

    def __init__(self, np_ufunc):
        self._u = np_ufunc
        self.__name__ = self.name = np_ufunc.__name__
        self.nin, self.nout, self.nargs, self.types = (
            np_ufunc.nin,
            np_ufunc.nout,
            np_ufunc.nargs,
            np_ufunc.types,
        )

    def _apply(self, method, args, kwargs):
        args = tuple(_unwrap(a, "ufunc") for a in args)
        kwargs = {k: _unwrap(v, "ufunc") for k, v in kwargs.items()}
        return _wrap(method(*args, **kwargs))

    def __call__(self, *args, **kwargs):
        if "where" in kwargs:  # cupy takes the mask only as its private `_where`
            raise TypeError(f"Wrong arguments {kwargs}")
        if "_where" in kwargs:
            kwargs["where"] = kwargs.pop("_where")
        return self._apply(self._u, args, kwargs)

    def reduce(self, *args, **kwargs):
        return self._apply(self._u.reduce, args, kwargs)

    def accumulate(self, *args, **kwargs):
        return self._apply(self._u.accumulate, args, kwargs)

    def reduceat(self, *args, **kwargs):
        return self._apply(self._u.reduceat, args, kwargs)

    def outer(self, *args, **kwargs):
        return self._apply(self._u.outer, args, kwargs)

    def at(self, a, indices, b=None):
        indices = _wrap_indices(a._a.shape, _host(indices))
        self._u.at(a._a, indices, *(() if b is None else (_unwrap(b, "ufunc"),)))

    def __repr__(self):
        return f"<ufunc '{self.name}'>"


def _wrap_indices(shape, key):
    """Integer-array indices taken modulo their axis, as cupy does instead of raising."""
    if not isinstance(key, tuple):
        key = (key,)
    if _b.any(k is None or k is Ellipsis for k in key):
        return key
    out = []
    axis = 0
    for k in key:
        if isinstance(k, _np.ndarray) and k.dtype.kind == "b":
            out.append(k)
            axis += k.ndim
            continue
        if isinstance(k, list):
            k = _np.asarray(k)
        if isinstance(k, _np.ndarray) and k.dtype.kind in "iu" and axis < len(shape) and shape[axis]:
            k = k % shape[axis]
        out.append(k)
        axis += 1
    return tuple(out)


class _Pointer:
    __slots__ = ("ptr",)

    def __init__(self, ptr):
        self.ptr = ptr


class _Device:
    """cupy.cuda.Device: an id and a context that makes it current."""

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise RuntimeError(f"cudaErrorInvalidDevice: device {self.id} does not exist (one device)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


_DEVICE0 = _Device(0)


class ndarray:
    """cupy.ndarray on the host: numpy data that must be copied out explicitly with `.get()`."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, a):
        self._a = a

    # --- what only cupy has, and what it refuses
    def get(self, stream=None, order="C", out=None):
        if out is not None:
            out[...] = self._a
            return out
        return _np.array(self._a, order=order)

    def set(self, arr, stream=None):
        self._a[...] = arr

    @property
    def device(self):
        return _DEVICE0

    @property
    def data(self):
        return _Pointer(self._a.ctypes.data)

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy "
            "array explicitly."
        )

    def __array_ufunc__(self, np_ufunc, method, *inputs, **kwargs):
        u = globals().get(np_ufunc.__name__)
        if not isinstance(u, ufunc):
            return NotImplemented
        return getattr(u, method if method != "__call__" else "__call__")(*inputs, **kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        space = _SUBMODULES.get(func.__module__.removeprefix("numpy.").removeprefix("numpy"), _THIS)
        impl = getattr(space, func.__name__, None)
        if impl is None or not callable(impl):
            return NotImplemented
        return impl(*args, **kwargs)

    def __getattr__(self, name):
        if name in _ARRAY_MISSING or name.startswith("__"):
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        value = getattr(self._a, name)
        if callable(value):
            return _function(name, value)
        return _wrap(value)

    @property
    def T(self):
        return ndarray(self._a.T)

    @property
    def mT(self):
        return ndarray(self._a.mT)

    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def strides(self):
        return self._a.strides

    @property
    def itemsize(self):
        return self._a.itemsize

    @property
    def nbytes(self):
        return self._a.nbytes

    @property
    def flags(self):
        return self._a.flags

    @property
    def base(self):
        return None if self._a.base is None else ndarray(self._a.base)

    @property
    def real(self):
        return ndarray(self._a.real)

    @property
    def imag(self):
        return ndarray(self._a.imag)

    # --- indexing
    def __getitem__(self, key):
        return _wrap(self._a[_wrap_indices(self._a.shape, _host(key))])

    def __setitem__(self, key, value):
        self._a[_wrap_indices(self._a.shape, _host(key))] = _host(value)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    # --- conversions cupy allows (a synchronizing copy of one value)
    def __bool__(self):
        return _b.bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec) if self._a.ndim == 0 else str(self)

    def __copy__(self):
        return ndarray(self._a.copy())

    def __deepcopy__(self, memo):
        return ndarray(self._a.copy())

    def __reduce__(self):
        return (_rebuild, (self._a,))

    def __dlpack__(self, *args, **kwargs):
        raise TypeError("a cupy array's DLPack capsule is on the GPU; copy it out with .get() first")


def _rebuild(a):
    return ndarray(a)


def _binary(name, reflected=False, inplace=False):
    fn = getattr(_np, name)

    def op(self, other):
        if isinstance(other, _np.ndarray | list):
            _refuse(other)
        if (
            getattr(other, "__array_priority__", 0) > ndarray.__array_priority__
            and type(other) is not ndarray
        ):
            return NotImplemented  # as cupy does: the other operand's reflected operator decides
        if inplace:
            fn(self._a, _unwrap(other, "ufunc"), out=self._a)
            return self
        a, b = (other, self) if reflected else (self, other)
        return _wrap(fn(_unwrap(a, "ufunc"), _unwrap(b, "ufunc")))

    return op


_OPERATORS = {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide", "floordiv": "floor_divide",
    "mod": "remainder", "pow": "power", "matmul": "matmul", "and": "bitwise_and", "or": "bitwise_or",
    "xor": "bitwise_xor", "lshift": "left_shift", "rshift": "right_shift",
}  # fmt: skip
for _op, _name in _OPERATORS.items():
    setattr(ndarray, f"__{_op}__", _binary(_name))
    setattr(ndarray, f"__r{_op}__", _binary(_name, reflected=True))
    if _op != "matmul":  # cupy has no in-place @=
        setattr(ndarray, f"__i{_op}__", _binary(_name, inplace=True))
for _op, _name in {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
                   "eq": "equal", "ne": "not_equal"}.items():  # fmt: skip
    setattr(ndarray, f"__{_op}__", _binary(_name))
for _op, _name in {"neg": "negative", "pos": "positive", "abs": "absolute", "invert": "invert"}.items():
    setattr(ndarray, f"__{_op}__", (lambda f: lambda self: _wrap(f(self._a)))(getattr(_np, _name)))
ndarray.__divmod__ = lambda self, other: (self // other, self % other)


def _namespace(source, missing):
    """The module's public names: ufuncs and functions wrapped, types and constants as they are."""
    space = {}
    for name in dir(source):
        if name.startswith("_") or name in missing:
            continue
        value = getattr(source, name)
        if isinstance(value, _np.ufunc):
            space[name] = ufunc(value)
        elif isinstance(value, types.ModuleType | type):
            space[name] = value
        elif callable(value) and not isinstance(value, _np.dtype):
            space[name] = _function(name, value)
        else:
            space[name] = value
    return space


globals().update(_namespace(_np, _MISSING | {"ndarray", "ufunc", "get_array_module"}))
_THIS = types.SimpleNamespace(**{k: v for k, v in globals().items() if not k.startswith("_")})


def asnumpy(a, stream=None, order="C", out=None):
    return a.get(order=order, out=out) if type(a) is ndarray else _np.asarray(a, order=order)


def get_array_module(*args):
    return _THIS_MODULE if _b.any(type(a) is ndarray for a in args) else _np


# --------------------------------------------------------------------------------- submodules


class Generator:
    """cupy.random.Generator: numpy's PCG64 draws behind cupy's narrower set of methods."""

    def __init__(self, seed=None):
        self._g = _np.random.default_rng(seed)

    def __getattr__(self, name):
        if name not in _GENERATOR_METHODS:
            raise AttributeError(f"'cupy.random.Generator' object has no attribute '{name}'")
        fn = getattr(self._g, name)

        def draw(*args, dtype=None, **kwargs):
            kwargs = {k: _unwrap(v, "function") for k, v in kwargs.items()}
            args = tuple(_unwrap(a, "function") for a in args)
            if name == "integers":
                out = fn(*args, **kwargs, **({"dtype": dtype} if dtype is not None else {}))
            else:  # cupy draws float32 directly where numpy draws float64 then casts
                out = fn(*args, **kwargs)
                if dtype is not None:
                    out = _np.asarray(out).astype(dtype, copy=False)
            return _wrap(_np.asarray(out))

        return draw


def _random_module():
    space = {n: _function(n, getattr(_np.random, n)) for n in _RANDOM_FUNCTIONS}
    space["default_rng"] = Generator
    space["Generator"] = Generator
    return types.SimpleNamespace(**space)


def _linalg_module():
    space = _namespace(_np.linalg, _LINALG_MISSING)
    space["LinAlgError"] = _np.linalg.LinAlgError
    return types.SimpleNamespace(**space)


random = _random_module()
linalg = _linalg_module()
fft = types.SimpleNamespace(**_namespace(_np.fft, frozenset()))
lib = types.SimpleNamespace(
    stride_tricks=types.SimpleNamespace(
        as_strided=_function("as_strided", _np.lib.stride_tricks.as_strided),
        sliding_window_view=_function("sliding_window_view", _np.lib.stride_tricks.sliding_window_view),
    )
)


class _NullStream:
    def synchronize(self):
        pass


cuda = types.SimpleNamespace(
    Device=_Device,
    Stream=types.SimpleNamespace(null=_NullStream()),
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
    is_available=lambda: True,
)
_SUBMODULES = {"linalg": linalg, "fft": fft, "random": random, "lib.stride_tricks": lib.stride_tricks}

import sys as _sys  # noqa: E402

_THIS_MODULE = _sys.modules[__name__]
for _n in ("random", "linalg", "fft", "lib", "cuda", "asnumpy", "get_array_module", "ndarray"):
    setattr(_THIS, _n, globals()[_n])
del _op, _name, _n
