"""Tensor: an array (numpy or cupy) with a gradient and the node that made it.

Here too: `_wrap`, the unchecked constructor, and `_to_array`, which turns Python data into a
tensor's array. Methods are thin: each delegates to the op family in `studio.core.ops` that
implements it; how op results join the graph is `autograd/record.py`.
"""

from __future__ import annotations

import builtins
import numbers
import weakref

import numpy as np

from . import backend as B
from ._arrays import wrap_dim
from ._format import format_tensor
from .autograd import grad_mode as _grad_mode
from .autograd import views as _views
from .autograd.graph import RemovableHandle

_ndarray = np.ndarray


def _wrap(data, grad_fn=None, requires_grad=False, vc=None, cls=None):
    """Make a tensor (of `cls`, a Tensor subclass, if given) around an array without checks: the
    constructor of op results."""
    t = object.__new__(cls or Tensor)
    t._data = data
    t._rg = requires_grad
    t.grad = None
    t.grad_fn = grad_fn
    t._vc = vc if vc is not None else [0]
    t._retains_grad = False
    t._hooks = None
    t._accum = None
    t._output_nr = 0
    t._name = None
    t._view = None
    return t


def _infer_dtype(data):
    """PyTorch's dtype for Python data: bools, ints to int64, floats to the default float type."""
    if isinstance(data, np.generic) and data.dtype in B._BY_NP:
        return data.dtype  # a numpy scalar keeps its type, as an array does
    if isinstance(data, builtins.bool):
        return np.bool_
    if isinstance(data, numbers.Integral):
        return np.int64
    if isinstance(data, numbers.Real):
        return B.get_default_dtype().np
    try:
        arr = np.asarray(data)
    except ValueError as e:
        raise ValueError(f"can't make a tensor from ragged or malformed data: {e}") from None
    if arr.dtype.kind == "f" and arr.dtype != np.float16:
        # nested Python floats: default type; numpy arrays keep theirs (handled by the caller)
        return B.get_default_dtype().np
    if arr.dtype.kind == "i":
        return np.int64
    if arr.dtype.kind == "u" and arr.dtype != np.uint8:
        return np.int64
    if arr.dtype.kind in "US O".replace(" ", ""):
        raise TypeError(f"can't make a tensor from data of type {arr.dtype}: expected numbers")
    return arr.dtype


def _to_array(data, dtype=None, device=None, copy=False):
    """An array on `device` for `data` (tensor, array, number or nested sequence)."""
    dev = B.as_device(device) if device is not None else None
    if isinstance(data, Tensor):
        arr = data._data
        if dev is None:
            dev = data.device
    elif B.is_array(data):
        arr = data
        if dtype is None:
            B.from_numpy_dtype(arr.dtype)  # refuses unsupported types with a clear message
        if dev is None:
            dev = B.device_of(arr)
    else:
        if isinstance(data, list | tuple) and builtins.any(isinstance(d, Tensor) for d in _flat(data)):
            data = _nested_tensors_to_list(data)
        np_dtype = B.as_dtype(dtype).np if dtype is not None else _infer_dtype(data)
        try:
            arr = np.array(data, dtype=np_dtype)
        except ValueError as e:
            raise ValueError(f"can't make a tensor from ragged or malformed data: {e}") from None
        copy = False
    if dtype is not None:
        d = B.as_dtype(dtype).np
        if arr.dtype != d:
            arr = arr.astype(d)
            copy = False
    elif arr.dtype not in B._BY_NP:
        arr = arr.astype(B.from_numpy_dtype(arr.dtype).np)
    if copy:
        arr = arr.copy()
    return B.to_device_array(arr, dev or B.CPU)


def _flat(seq):
    for s in seq:
        if isinstance(s, list | tuple):
            yield from _flat(s)
        else:
            yield s


def _nested_tensors_to_list(seq):
    return [
        _nested_tensors_to_list(s)
        if isinstance(s, list | tuple)
        else (s.item() if isinstance(s, Tensor) else s)
        for s in seq
    ]


class Tensor:
    """A multi-dimensional array that records the operations on it for automatic differentiation."""

    __slots__ = (
        "_data",
        "_rg",
        "grad",
        "grad_fn",
        "_vc",
        "_retains_grad",
        "_hooks",
        "_accum",
        "_output_nr",
        "_name",
        "_view",
        "__weakref__",
    )

    __array_priority__ = 1000  # numpy defers `ndarray op Tensor` to our reflected operators

    def __init__(self, data=None, *sizes, requires_grad=False, dtype=None, device=None):
        """`Tensor(data)` copies data as the default float type; `Tensor(2, 3)` makes a (2, 3) tensor."""
        if isinstance(data, builtins.int | np.integer) and not isinstance(data, builtins.bool):
            shape = (data,) + sizes
            if not builtins.all(isinstance(s, builtins.int | np.integer) for s in shape):
                raise TypeError(f"Tensor(*sizes): expected integer sizes, got {shape}")
            data = np.zeros(shape, (B.as_dtype(dtype) if dtype is not None else B.get_default_dtype()).np)
        elif sizes:
            raise TypeError(f"Tensor(): expected data or integer sizes, got {(data,) + sizes!r}")
        elif data is None:
            data = np.zeros((0,), B.get_default_dtype().np)
        elif dtype is None and not isinstance(data, Tensor) and not B.is_array(data):
            dtype = B.get_default_dtype()  # like torch.Tensor, the legacy constructor makes floats
        arr = _to_array(data, dtype, device)
        self._data = arr
        self._rg = False
        self.grad = None
        self.grad_fn = None
        self._vc = [0]
        self._retains_grad = False
        self._hooks = None
        self._accum = None
        self._output_nr = 0
        self._name = None
        self._view = None
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------------------ properties
    @property
    def data(self):
        """This tensor's values, detached from the graph (sharing memory)."""
        return _wrap(self._data, vc=self._vc)

    @data.setter
    def data(self, value):
        value = value._data if isinstance(value, Tensor) else value
        self._data = value

    @property
    def requires_grad(self) -> bool:
        _fresh(self, strict=False)
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and not B.is_float_np(self._data.dtype):
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        self._rg = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        _fresh(self, strict=False)
        return self.grad_fn is None

    @property
    def _base(self):
        """The tensor whose memory this view shares (None when this is not a view)."""
        v = _views.view_info(self)
        return None if v is None else v[0]

    def _is_view(self) -> bool:
        return _views.view_info(self) is not None

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[wrap_dim(dim, self._data.ndim, "size")]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return builtins.int(self._data.size)

    nelement = numel

    @property
    def dtype(self):
        return B.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        return B.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return B.is_cuda_array(self._data)

    def is_floating_point(self) -> bool:
        return B.is_float_np(self._data.dtype)

    @property
    def is_quantized(self) -> bool:
        return False

    def dequantize(self):
        """This tensor itself: only quantized tensors (`studio.core.ao`) have values to dequantize."""
        return self

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return builtins.int(self._data.nbytes)

    @property
    def _version(self) -> int:
        return self._vc[0]

    @property
    def name(self):
        return self._name

    @property
    def T(self):
        return self.permute(*reversed(range(self._data.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def stride(self, dim=None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[wrap_dim(dim, self._data.ndim, "stride")]

    def is_contiguous(self) -> bool:
        return builtins.bool(self._data.flags.c_contiguous)

    def data_ptr(self) -> int:
        data = self._data
        return builtins.int(data.ctypes.data if type(data) is np.ndarray else data.data.ptr)

    # ----------------------------------------------------------------------------- conversions
    def numpy(self, *, force=False):
        if self._rg and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        if B.is_cuda_array(self._data) and not force:
            raise TypeError(
                "can't convert cuda tensor to numpy. Use Tensor.cpu() to copy the tensor to host "
                "memory first."
            )
        return B.to_numpy(self._data)

    def __array__(self, dtype=None, copy=None):
        if _engine.recording and self._rg:
            raise RuntimeError(
                "a recorded backward pass (create_graph=True) handed a tensor that requires grad to "
                "numpy, which would cut it from the graph"
            )
        arr = B.to_numpy(self._data)
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def _array_namespace(self):
        """numpy's functions for tensors like this one: the `xp` of a recorded backward formula."""
        return _txp.namespace_of(self._data)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.item()

    def tolist(self):
        return B.to_numpy(self._data).tolist()

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is ambiguous")
        return builtins.bool(self._data)

    def __float__(self):
        return builtins.float(self.item())

    def __int__(self):
        return builtins.int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return builtins.int(self.item())

    def __hash__(self):
        return id(self)

    def __reduce_ex__(self, protocol):
        # Tensors travel between processes (DataLoader workers) as arrays, never with their graph.
        return (_rebuild, (B.to_numpy(self._data), self._rg, str(self.device)))

    def __copy__(self):
        # like torch: a leaf sharing the values, on the same device, with the same requires_grad
        t = _wrap(self._data)
        t._rg = self._rg
        return t

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol "
                "at the moment.  If you were attempting to deepcopy a module, this may be because of a "
                "torch.nn.utils.weight_norm usage, see https://github.com/pytorch/pytorch/pull/103001"
            )
        done = memo.get(id(self))
        if done is not None:
            return done
        t = _wrap(self._data.copy())  # xp's copy: the copy stays on this tensor's device
        t._rg = self._rg
        t._name = self._name
        memo[id(self)] = t
        if self.grad is not None:
            t.grad = self.grad.__deepcopy__(memo)
        return t

    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
        """`to(device)`, `to(dtype)`, `to(device, dtype)` or `to(other_tensor)`."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, B.dtype | type) and not isinstance(a, str):
                dtype = a
            elif isinstance(a, str | B.device | builtins.int):
                device = a
            elif isinstance(a, np.dtype):
                dtype = a
            else:
                raise TypeError(f"to() received an invalid argument {a!r}")
        out = self
        if device is not None:
            dev = B.as_device(device)
            if dev != self.device or (dev.type == "cuda" and not self.is_cuda):
                out = _ew.to_device(out, dev)
        if dtype is not None:
            d = B.as_dtype(dtype)
            if d.np != out._data.dtype:
                out = _ew.cast(out, d)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to(
            B.device("cuda", device if isinstance(device, builtins.int) else None)
            if not isinstance(device, str | B.device)
            else device
        )

    def type(self, dtype=None, non_blocking=False):
        """`type()`: PyTorch's type name ('torch.FloatTensor'); `type(t)`: this tensor as type `t` (a
        legacy class such as `torch.LongTensor`, its name, or a dtype)."""
        if dtype is None:
            return _legacy.type_name(self)
        dt, cuda = _legacy.resolve(dtype)
        out = self.to(dt)
        if cuda is not None and cuda != out.is_cuda:
            out = out.cuda() if cuda else out.cpu()
        return out

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(B.float32)

    def double(self):
        return self.to(B.float64)

    def half(self):
        return self.to(B.float16)

    def bfloat16(self):
        return self.to(B.bfloat16)

    def long(self):
        return self.to(B.int64)

    def int(self):
        return self.to(B.int32)

    def bool(self):
        return self.to(B.bool_)

    def byte(self):
        return self.to(B.uint8)

    def char(self):
        return self.to(B.int8)

    def short(self):
        return self.to(B.int16)

    # ------------------------------------------------------------------------------- autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate into the leaves' `.grad` the gradient of this tensor (of `gradient` · this tensor)."""
        if self.__class__ is not Tensor or self._view is not None:
            _fresh(self)
        fn = self.grad_fn
        data = self._data
        if (
            gradient is None
            and inputs is None
            and fn is not None
            and not create_graph
            and data.size == 1
            and data.dtype.kind == "f"
            and type(data) is _ndarray
        ):
            # the common `loss.backward()`: skip the general argument handling
            seed = _np_array(1, data.dtype) if data.ndim == 0 else _np_ones(data.shape, data.dtype)
            _engine.run_backward(((fn, self._output_nr),), (seed,), bool(retain_graph))
            return
        _entry.backward(
            self,
            None if gradient is None else (gradient,),
            retain_graph=retain_graph,
            create_graph=create_graph,
            inputs=inputs,
        )

    def detach(self):
        return _wrap(self._data, vc=self._vc)

    def detach_(self):
        if self._vc is not None and self.grad_fn is not None:
            self.grad_fn = None
        self._rg = False
        return self

    def retain_grad(self):
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        ref = weakref.ref(self)
        nr = self._output_nr
        multi = self.grad_fn.n_outputs != 1

        def _keep(grads):
            t = ref()
            g = grads[nr] if multi else grads[0]
            if t is not None and g is not None:
                if isinstance(g, Tensor):  # from a recorded backward: the gradient keeps its graph
                    t.grad = g if t.grad is None else t.grad + g
                elif t.grad is None:
                    t.grad = _wrap(g.copy())
                else:
                    t.grad._data = t.grad._data + g
            return None

        _keep.retains_grad = True
        self.grad_fn.register_prehook(_keep)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook):
        """Call `hook(grad)` when this tensor's gradient is computed; it may return a replacement."""
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            return RemovableHandle(self._hooks, hook)
        nr = self._output_nr
        multi = self.grad_fn.n_outputs != 1

        def _pre(grads):
            g = grads[nr] if multi else grads[0]
            if g is None:
                return None
            recorded = isinstance(g, Tensor)
            res = hook(g if recorded else _wrap(g))
            if res is None:
                return None
            grads = list(grads)
            grads[nr if multi else 0] = res if recorded else res._data
            return grads

        handle = self.grad_fn.register_prehook(_pre)
        # as in PyTorch, .grad retained by retain_grad() is the gradient after every hook, even later ones
        hooks = self.grad_fn._pre_hooks
        hooks.sort(key=lambda h: getattr(h, "retains_grad", False))
        return handle

    # ------------------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return _ew.add(self, other)

    def __radd__(self, other):
        return _ew.add(self, other)

    def __sub__(self, other):
        return _ew.sub(self, other)

    def __rsub__(self, other):
        return _ew.rsub(self, other)

    def __mul__(self, other):
        return _ew.mul(self, other)

    def __rmul__(self, other):
        return _ew.mul(self, other)

    def __truediv__(self, other):
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return _ew.rdiv(self, other)

    def __floordiv__(self, other):
        return _ew.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ew.floor_divide(_ew.as_operand(other, self), self)

    def __mod__(self, other):
        return _ew.remainder(self, other)

    def __pow__(self, other):
        return _ew.pow(self, other)

    def __rpow__(self, other):
        return _ew.rpow(self, other)

    def __matmul__(self, other):
        return _la.matmul(self, other)

    def __rmatmul__(self, other):
        return _la.matmul(_ew.as_operand(other, self), self)

    def __neg__(self):
        return _ew.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ew.abs(self)

    def __invert__(self):
        return _ew.bitwise_not(self)

    def __and__(self, other):
        return _ew.logical_and(self, other) if self.dtype is B.bool_ else _ew.bitwise_and(self, other)

    def __or__(self, other):
        return _ew.logical_or(self, other) if self.dtype is B.bool_ else _ew.bitwise_or(self, other)

    def __xor__(self, other):
        return _ew.logical_xor(self, other) if self.dtype is B.bool_ else _ew.bitwise_xor(self, other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __eq__(self, other):
        return _ew.eq(self, other)

    def __ne__(self, other):
        return _ew.ne(self, other)

    def __lt__(self, other):
        return _ew.lt(self, other)

    def __le__(self, other):
        return _ew.le(self, other)

    def __gt__(self, other):
        return _ew.gt(self, other)

    def __ge__(self, other):
        return _ew.ge(self, other)

    def __getitem__(self, index):
        return _sh.getitem(self, index)

    def __setitem__(self, index, value):
        _sh.setitem(self, index, value)

    def __repr__(self):
        return format_tensor(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    # --------------------------------------------------------------------- method forms of ops
    def add(self, other, *, alpha=1):
        return _ew.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return _ew.sub(self, other, alpha=alpha)

    subtract = sub

    def mul(self, other):
        return _ew.mul(self, other)

    multiply = mul

    def div(self, other, *, rounding_mode=None):
        return _ew.div(self, other, rounding_mode=rounding_mode)

    divide = true_divide = div

    def pow(self, exponent):
        return _ew.pow(self, exponent)

    def neg(self):
        return _ew.neg(self)

    negative = neg

    def abs(self):
        return _ew.abs(self)

    def sign(self):
        return _ew.sign(self)

    def exp(self):
        return _ew.exp(self)

    def log(self):
        return _ew.log(self)

    def log1p(self):
        return _ew.log1p(self)

    def log2(self):
        return _ew.log2(self)

    def log10(self):
        return _ew.log10(self)

    def expm1(self):
        return _ew.expm1(self)

    def sqrt(self):
        return _ew.sqrt(self)

    def rsqrt(self):
        return _ew.rsqrt(self)

    def square(self):
        return _ew.square(self)

    def reciprocal(self):
        return _ew.reciprocal(self)

    def sin(self):
        return _ew.sin(self)

    def cos(self):
        return _ew.cos(self)

    def tanh(self):
        return _ew.tanh(self)

    def sigmoid(self):
        return _ew.sigmoid(self)

    def relu(self):
        return _act.relu(self)

    def softmax(self, dim, dtype=None):
        return _act.softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim, dtype=None):
        return _act.log_softmax(self, dim, dtype=dtype)

    def floor(self):
        return _ew.floor(self)

    def ceil(self):
        return _ew.ceil(self)

    def round(self, decimals=0):
        return _ew.round(self, decimals=decimals)

    def trunc(self):
        return _ew.trunc(self)

    def frac(self):
        return _ew.frac(self)

    def clamp(self, min=None, max=None):
        return _ew.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        return _ew.maximum(self, other)

    def minimum(self, other):
        return _ew.minimum(self, other)

    def where(self, condition, other):
        return _ew.where(condition, self, other)

    def lerp(self, end, weight):
        return _ew.lerp(self, end, weight)

    def eq(self, other):
        return _ew.eq(self, other)

    def ne(self, other):
        return _ew.ne(self, other)

    def lt(self, other):
        return _ew.lt(self, other)

    def le(self, other):
        return _ew.le(self, other)

    def gt(self, other):
        return _ew.gt(self, other)

    def ge(self, other):
        return _ew.ge(self, other)

    def equal(self, other):
        return _ew.equal(self, other)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ew.allclose(self, other, rtol, atol, equal_nan)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ew.isclose(self, other, rtol, atol, equal_nan)

    def logical_and(self, other):
        return _ew.logical_and(self, other)

    def logical_or(self, other):
        return _ew.logical_or(self, other)

    def logical_not(self):
        return _ew.logical_not(self)

    def logical_xor(self, other):
        return _ew.logical_xor(self, other)

    def isnan(self):
        return _ew.isnan(self)

    def isinf(self):
        return _ew.isinf(self)

    def isfinite(self):
        return _ew.isfinite(self)

    def clone(self, *, memory_format=None):
        return _ew.clone(self)

    def contiguous(self, memory_format=None):
        return _sh.contiguous(self)

    # ------------------------------------------------------------------------------ in place
    def add_(self, other, *, alpha=1):
        return _ew.inplace(self, _ew.add, other, alpha=alpha)

    def sub_(self, other, *, alpha=1):
        return _ew.inplace(self, _ew.sub, other, alpha=alpha)

    def mul_(self, other):
        return _ew.inplace(self, _ew.mul, other)

    def div_(self, other, *, rounding_mode=None):
        return _ew.inplace(self, _ew.div, other, rounding_mode=rounding_mode)

    def pow_(self, exponent):
        return _ew.inplace(self, _ew.pow, exponent)

    def neg_(self):
        return _ew.inplace(self, _ew.neg)

    def abs_(self):
        return _ew.inplace(self, _ew.abs)

    def exp_(self):
        return _ew.inplace(self, _ew.exp)

    def log_(self):
        return _ew.inplace(self, _ew.log)

    def sqrt_(self):
        return _ew.inplace(self, _ew.sqrt)

    def sigmoid_(self):
        return _ew.inplace(self, _ew.sigmoid)

    def tanh_(self):
        return _ew.inplace(self, _ew.tanh)

    def relu_(self):
        return _ew.inplace(self, _act.relu)

    def clamp_(self, min=None, max=None):
        return _ew.inplace(self, _ew.clamp, min, max)

    clip_ = clamp_

    def floor_(self):
        return _ew.inplace(self, _ew.floor)

    def round_(self):
        return _ew.inplace(self, _ew.round)

    def masked_fill_(self, mask, value):
        return _ew.inplace(self, _sh.masked_fill, mask, value)

    def lerp_(self, end, weight):
        return _ew.inplace(self, _ew.lerp, end, weight)

    def addcmul_(self, tensor1, tensor2, *, value=1):
        return _ew.inplace(self, _ew.addcmul, tensor1, tensor2, value=value)

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return _ew.inplace(self, _ew.addcdiv, tensor1, tensor2, value=value)

    def copy_(self, src, non_blocking=False):
        return _ew.copy_(self, src)

    def zero_(self):
        return _ew.fill_(self, 0)

    def fill_(self, value):
        return _ew.fill_(self, value)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        return _creation.uniform_(self, a, b, generator=generator)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return _creation.normal_(self, mean, std, generator=generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        return _creation.bernoulli_(self, p, generator=generator)

    # ------------------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return _red.sum(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return _red.mean(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        return _red.prod(self, dim, keepdim, dtype=dtype)

    def var(self, dim=None, *, correction=1, keepdim=False, unbiased=None):
        return _red.var(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)

    def std(self, dim=None, *, correction=1, keepdim=False, unbiased=None):
        return _red.std(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)

    def max(self, dim=None, keepdim=False):
        return _red.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return _red.min(self, dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return _red.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return _red.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _red.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _red.argmin(self, dim, keepdim)

    def logsumexp(self, dim, keepdim=False):
        return _red.logsumexp(self, dim, keepdim)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return _red.norm(self, p, dim, keepdim, dtype=dtype)

    def cumsum(self, dim, *, dtype=None):
        return _red.cumsum(self, dim, dtype=dtype)

    def all(self, dim=None, keepdim=False):
        return _red.all(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return _red.any(self, dim, keepdim)

    def count_nonzero(self, dim=None):
        return _red.count_nonzero(self, dim)

    def sort(self, dim=-1, descending=False, stable=False):
        return _red.sort(self, dim, descending, stable=stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return _red.argsort(self, dim, descending, stable=stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _red.topk(self, k, dim, largest, sorted)

    # ---------------------------------------------------------------------------------- linalg
    def matmul(self, other):
        return _la.matmul(self, other)

    def mm(self, mat2):
        return _la.mm(self, mat2)

    def bmm(self, mat2):
        return _la.bmm(self, mat2)

    def dot(self, other):
        return _la.dot(self, other)

    def mv(self, vec):
        return _la.mv(self, vec)

    def outer(self, vec2):
        return _la.outer(self, vec2)

    # ----------------------------------------------------------------------------------- shape
    def reshape(self, *shape):
        return _sh.reshape(self, _shape_args(shape))

    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], B.dtype):
            raise RuntimeError("view(dtype) is not supported; use to(dtype)")
        return _sh.view(self, _shape_args(shape))

    def view_as(self, other):
        return _sh.view(self, tuple(other.shape))

    def reshape_as(self, other):
        return _sh.reshape(self, tuple(other.shape))

    def flatten(self, start_dim=0, end_dim=-1):
        return _sh.flatten(self, start_dim, end_dim)

    def unflatten(self, dim, sizes):
        return _sh.unflatten(self, dim, sizes)

    def squeeze(self, dim=None):
        return _sh.squeeze(self, dim)

    def unsqueeze(self, dim):
        return _sh.unsqueeze(self, dim)

    def transpose(self, dim0, dim1):
        return _sh.transpose(self, dim0, dim1)

    swapaxes = swapdims = transpose

    def permute(self, *dims):
        return _sh.permute(self, _shape_args(dims))

    def t(self):
        return _sh.t(self)

    def expand(self, *sizes):
        return _sh.expand(self, _shape_args(sizes))

    def expand_as(self, other):
        return _sh.expand(self, tuple(other.shape))

    def broadcast_to(self, shape):
        return _sh.expand(self, tuple(shape))

    def repeat(self, *sizes):
        return _sh.repeat(self, _shape_args(sizes))

    def split(self, split_size, dim=0):
        return _sh.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return _sh.chunk(self, chunks, dim)

    def unbind(self, dim=0):
        return _sh.unbind(self, dim)

    def narrow(self, dim, start, length):
        return _sh.narrow(self, dim, start, length)

    def gather(self, dim, index):
        return _sh.gather(self, dim, index)

    def scatter(self, dim, index, src):
        return _sh.scatter(self, dim, index, src)

    def scatter_add(self, dim, index, src):
        return _sh.scatter_add(self, dim, index, src)

    def index_select(self, dim, index):
        return _sh.index_select(self, dim, index)

    def masked_fill(self, mask, value):
        return _sh.masked_fill(self, mask, value)

    def masked_select(self, mask):
        return _sh.masked_select(self, mask)

    def flip(self, *dims):
        return _sh.flip(self, _shape_args(dims))

    def roll(self, shifts, dims=None):
        return _sh.roll(self, shifts, dims)

    def tril(self, diagonal=0):
        return _sh.tril(self, diagonal)

    def triu(self, diagonal=0):
        return _sh.triu(self, diagonal)

    def nonzero(self, *, as_tuple=False):
        return _sh.nonzero(self, as_tuple=as_tuple)

    def diag(self, diagonal=0):
        return _diag.diag(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return _diag.diagonal(self, offset, dim1, dim2)

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        return _diag.diag_embed(self, offset, dim1, dim2)

    def diagflat(self, offset=0):
        return _diag.diagflat(self, offset)

    def trace(self):
        return _diag.trace(self)

    def index_add(self, dim, index, source, *, alpha=1):
        return _idx.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim, index, source, *, alpha=1):
        return self.copy_(_idx.index_add(self, dim, index, source, alpha=alpha))

    def index_fill(self, dim, index, value):
        return _idx.index_fill(self, dim, index, value)

    def index_fill_(self, dim, index, value):
        return self.copy_(_idx.index_fill(self, dim, index, value))

    def scatter_add_(self, dim, index, src):
        return self.copy_(_sh.scatter_add(self, dim, index, src))

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        if src is not None and not isinstance(src, Tensor):
            src, value = None, src  # scatter_(dim, index, 1.0): a number to write
        return self.copy_(_sh.scatter(self, dim, index, src, value=value, reduce=reduce))

    def resize_(self, *sizes, memory_format=None):
        """Give this tensor the shape `sizes` in place: its elements are kept in order as far as they go
        and new ones are zero (PyTorch leaves them uninitialised). Not allowed under autograd."""
        shape = _shape_args(sizes)
        if self._rg and _grad_mode._enabled:
            raise RuntimeError("cannot resize variables that require grad")
        n = 1
        for d in shape:
            n *= d
        flat = self._data.reshape(-1)
        if n == flat.size:
            self._data = flat.reshape(shape)
        else:
            xp = B.array_module(self._data)
            new = xp.zeros(n, self._data.dtype)
            k = min(n, flat.size)
            new[:k] = flat[:k]
            self._data = new.reshape(shape)
        self._vc[0] += 1
        return self

    def resize_as_(self, other):
        return self.resize_(*other.shape)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return _idx.unique(self, sorted, return_inverse, return_counts, dim)

    def movedim(self, source, destination):
        return _sh.movedim(self, source, destination)

    moveaxis = movedim

    # ------------------------------------------------------------------- devices, layouts and kinds
    # the predicates PyTorch scripts test: only the CPU and CUDA exist here
    is_xpu = is_mps = is_meta = is_ipu = is_xla = is_vulkan = is_maia = is_mtia = property(lambda self: False)
    is_sparse = is_sparse_csr = is_mkldnn = is_nested = property(lambda self: False)

    @property
    def is_cpu(self) -> bool:
        return not B.is_cuda_array(self._data)

    @property
    def layout(self):
        return B.strided

    def get_device(self) -> int:
        """The CUDA device index, or -1 on the CPU."""
        return self.device.index or 0 if self.is_cuda else -1

    def is_complex(self) -> bool:
        return False

    def is_signed(self) -> bool:
        return self.dtype.is_signed

    def is_inference(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False

    def pin_memory(self):
        return self

    def share_memory_(self):
        return self

    def is_shared(self) -> bool:
        return False

    # ------------------------------------------------------------- new tensors like this one (new_*)
    def _new_kwargs(self, dtype, device):
        return {
            "dtype": self.dtype if dtype is None else dtype,
            "device": self.device if device is None else device,
        }

    def new_tensor(
        self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False
    ):
        """A copy of `data` with this tensor's dtype and device unless given."""
        if isinstance(data, Tensor):
            data = data.detach()
        return _creation.tensor(data, **self._new_kwargs(dtype, device), requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        return _creation.zeros(*size, **self._new_kwargs(dtype, device), requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        return _creation.ones(*size, **self._new_kwargs(dtype, device), requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        return _creation.empty(*size, **self._new_kwargs(dtype, device), requires_grad=requires_grad)

    def new_full(
        self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False
    ):
        return _creation.full(
            size, fill_value, **self._new_kwargs(dtype, device), requires_grad=requires_grad
        )

    def new(self, *args, **kwargs):
        """The legacy `x.new(...)`: a tensor of this tensor's type made from sizes or data."""
        kinds = _legacy.CUDA_TYPES if self.is_cuda else _legacy.CPU_TYPES
        return kinds[_legacy.type_name(self).rpartition(".")[2]](*args, **kwargs)


class Size(tuple):
    """A tensor's shape: a tuple that prints like PyTorch's."""

    __slots__ = ()

    def __repr__(self):
        return f"studio.core.Size([{', '.join(str(s) for s in self)}])"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


def _shape_args(args):
    """Accept both `f(2, 3)` and `f((2, 3))`, as PyTorch does."""
    if len(args) == 1 and not isinstance(args[0], builtins.int | np.integer):
        return tuple(args[0])
    return args


def _fresh(t, strict=True):
    """Regenerate view `t`'s grad_fn when its base was changed in place since it was set."""
    v = t._view if t.__class__ is Tensor else _views.view_info(t)
    if v is not None and v[1] != t._vc[0]:
        _views.refresh(t, strict)


def _rebuild(array, requires_grad, device="cpu"):
    t = _wrap(B.to_device_array(array, B.as_device(device)))
    if requires_grad:
        t._rg = True
    return t


_np_ones, _np_array = np.ones, np.array

# Tensor's methods delegate to the layers built on it: the autograd entry points, creation and the op
# families. This block is the engine's one deliberate circle in its imports; they come last because
# those modules build on the classes above.
from . import creation as _creation  # noqa: E402
from . import legacy as _legacy  # noqa: E402
from .autograd import engine as _engine  # noqa: E402
from .autograd import entry as _entry  # noqa: E402
from .ops import activation as _act  # noqa: E402
from .ops import diag as _diag  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import index_ops as _idx  # noqa: E402
from .ops import linalg as _la  # noqa: E402
from .ops import reduce as _red  # noqa: E402
from .ops import shape as _sh  # noqa: E402
from .ops import tensor_xp as _txp  # noqa: E402
