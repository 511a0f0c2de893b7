"""Autocast: ops that run in half precision inside an `autocast` region, as in `torch.autocast`.

Each op declares, per device, what autocast does with it (PyTorch's per-op lists, see
`aten/src/ATen/autocast_mode.cpp`): LOWER runs it in the region's dtype (products, convolutions),
FP32 in float32 (losses, reductions that lose precision), FP32_UNLESS_DTYPE in float32 unless its
`dtype=` argument says otherwise (softmax, sum on CUDA), PROMOTE in the widest dtype among its
inputs, BANNED refuses to run; an op with no entry runs in the dtypes it is given, and so does a
NATIVE one, which PyTorch runs as one kernel where Studio composes it of ops that are listed. Only floating
tensors on the region's device are cast (and float64 never to half). An op runs with autocast off
inside, so the ops it is made of are not cast again; casts of parameters are cached for the region.
"""

from __future__ import annotations

import functools
import warnings

from .. import backend as B
from ..tensor import Tensor

LOWER, FP32, FP32_UNLESS_DTYPE, PROMOTE, BANNED = "lower", "fp32", "fp32_unless_dtype", "promote", "banned"
NATIVE = "native"  # no cast, but one op: the ops it is made of are not cast either

DEVICE_TYPES = ("cpu", "cuda")
_LOW = {"float16", "bfloat16"}

# the state: module globals, read by every autocast-aware op call
active = False  # autocast is on for some device: the one check an op makes when it is off
_inside = False  # an autocast op is running: the ops it calls are not cast again
_enabled = {"cpu": False, "cuda": False}
_dtype: dict = {}
_cache_enabled = True
_cache: dict = {}
_nesting = 0
_cast = None  # the autograd-aware cast, handed over by ops.elementwise (which imports this module)


def register_cast(cast) -> None:
    global _cast
    _cast = cast


def default_dtype(device_type):
    """PyTorch's default autocast dtype: bfloat16 on the CPU, float16 on CUDA."""
    if device_type == "cuda":
        return B.float16
    return getattr(B, "bfloat16", B.float16)


def _check_device_type(device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in DEVICE_TYPES:
        raise RuntimeError(
            f"User specified an unsupported autocast device_type '{device_type}': Studio supports 'cpu' and "
            "'cuda'"
        )


def is_autocast_available(device_type) -> bool:
    return device_type in DEVICE_TYPES


def is_autocast_enabled(device_type=None) -> bool:
    """Whether autocast is on for `device_type` (CUDA when None, as in PyTorch)."""
    return _enabled["cuda" if device_type is None else device_type]


def get_autocast_dtype(device_type):
    _check_device_type(device_type)
    return _dtype.get(device_type) or default_dtype(device_type)


def set_autocast_enabled(device_type, enabled):
    _check_device_type(device_type)
    _enabled[device_type] = bool(enabled)
    _refresh()


def set_autocast_dtype(device_type, dtype):
    _check_device_type(device_type)
    _dtype[device_type] = dtype


def clear_autocast_cache():
    _cache.clear()


def _refresh():
    global active
    active = any(_enabled.values())


class autocast:
    """Run the ops in this region in mixed precision, as `torch.autocast(device_type, dtype)`.

    CUDA runs float16 (tensor cores) by default; the CPU runs bfloat16 or float16 for memory: numpy
    has no half-precision arithmetic units, so products there compute in float32 and store halves.
    Usable as a context manager or a decorator; regions nest, and `enabled=False` turns it off
    inside a region.
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        _check_device_type(device_type)
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._enabled = bool(enabled)
        self._cache_enabled = _cache_enabled if cache_enabled is None else bool(cache_enabled)
        if self.fast_dtype not in (B.float16, getattr(B, "bfloat16", None)) and self._enabled:
            warnings.warn(
                f"In {device_type} autocast, but the target dtype is not supported. Disabling autocast.\n"
                f"{device_type.upper()} Autocast only supports dtype of float16 and bfloat16 currently.",
                stacklevel=2,
            )
            self._enabled = False
        if self._enabled and device_type == "cuda" and not B.cuda_available():
            warnings.warn(
                "User provided device_type of 'cuda', but CUDA is not available. Disabling", stacklevel=2
            )
            self._enabled = False

    def __enter__(self):
        global _nesting, _cache_enabled
        self._prev = (_enabled[self.device], _dtype.get(self.device), _cache_enabled)
        _enabled[self.device] = self._enabled
        _dtype[self.device] = self.fast_dtype
        _cache_enabled = self._cache_enabled
        _nesting += 1
        _refresh()
        return self

    def __exit__(self, *exc):
        global _nesting, _cache_enabled
        _nesting -= 1
        if _nesting == 0:
            _cache.clear()
        _enabled[self.device], _dtype[self.device], _cache_enabled = self._prev
        _refresh()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return fn(*args, **kwargs)

        return run


def autocast_state():
    """The autocast settings in force, to restore later (None when autocast is off)."""
    if not active:
        return None
    return dict(_enabled), dict(_dtype), _cache_enabled


class restored_autocast:
    """A region with the autocast settings `state` (from `autocast_state`); None turns autocast off."""

    def __init__(self, state):
        self.state = state

    def __enter__(self):
        global _cache_enabled
        self._prev = autocast_state()
        _set_state(self.state)
        return self

    def __exit__(self, *exc):
        _set_state(self._prev)
        return False


def _set_state(state):
    global _cache_enabled
    if state is None:
        for d in DEVICE_TYPES:
            _enabled[d] = False
    else:
        _enabled.update(state[0])
        _dtype.update(state[1])
        _cache_enabled = state[2]
    _refresh()


# ------------------------------------------------------------------------------------ the ops


def autocast_op(cpu=None, cuda=None, inline=False):
    """Declare what autocast does with the decorated op on each device (None: nothing).

    With `inline=True` the op is not wrapped: it starts with its own check (`if amp.active and not
    amp._inside: return amp.dispatch(op, ...)`), which spares the hottest ops a call when autocast
    is off."""
    policies = {"cpu": cpu, "cuda": cuda}

    def wrap(fn):
        if inline:
            fn.autocast_policies = policies
            return fn

        @functools.wraps(fn)
        def op(*args, **kwargs):
            if not active or _inside:
                return fn(*args, **kwargs)
            return _call(fn, policies, args, kwargs)

        op.autocast_policies = policies
        return op

    return wrap


def dispatch(fn, *args, **kwargs):
    """Run an op declared with `autocast_op(..., inline=True)` under the autocast in force (it is one
    kernel: its own check must not send it here again)."""
    return _call(fn, fn.autocast_policies, args, kwargs, whole=True)


def _call(fn, policies, args, kwargs, whole=False):
    device = _device_type(args, kwargs)
    policy = policies[device] if device is not None and _enabled[device] else None
    if policy is None:
        if whole:
            policy = NATIVE
        else:
            return fn(*args, **kwargs)
    if policy == BANNED:
        raise RuntimeError(
            f"{fn.__name__} is unsafe to autocast: it needs float32 input, which half precision cannot "
            f"represent well. Use {fn.__name__}_with_logits (or BCEWithLogitsLoss), which is safe to "
            "autocast, or compute this op outside the autocast region"
        )
    if policy == FP32_UNLESS_DTYPE and kwargs.get("dtype") is not None:
        return fn(*args, **kwargs)
    target = None if policy == NATIVE else _target(policy, device, args, kwargs)
    if target is not None:
        cast = functools.partial(_cast_arg, target=target, device=device, lower=policy == LOWER)
        args = tuple(cast(a) for a in args)
        kwargs = {k: cast(v) for k, v in kwargs.items()}
    global _inside
    _inside = True
    try:
        return fn(*args, **kwargs)
    finally:
        _inside = False


def _tensors(args, kwargs):
    for a in (*args, *kwargs.values()):
        if isinstance(a, Tensor):
            yield a
        elif isinstance(a, list | tuple):
            yield from (t for t in a if isinstance(t, Tensor))


def _device_type(args, kwargs):
    for t in _tensors(args, kwargs):
        return "cuda" if B.is_cuda_array(t._data) else "cpu"
    return None


def _target(policy, device, args, kwargs):
    """The dtype the op's floating inputs are cast to, or None for no cast."""
    if policy == LOWER:
        return _dtype.get(device) or default_dtype(device)
    floats = [t.dtype for t in _tensors(args, kwargs) if t.is_floating_point()]
    if policy in (FP32, FP32_UNLESS_DTYPE):
        return B.float32 if any(d.name in _LOW for d in floats) else None
    widest = None
    for d in floats:  # PROMOTE
        widest = d if widest is None else B.promote_types(widest, d)
    return widest


def _cast_arg(a, target, device, lower):
    if isinstance(a, list | tuple):
        return type(a)(_cast_arg(t, target, device, lower) for t in a)
    if not isinstance(a, Tensor) or not a.is_floating_point() or a.dtype is target:
        return a
    if ("cuda" if B.is_cuda_array(a._data) else "cpu") != device:
        return a
    if lower and a.dtype is B.float64:
        return a
    if not lower and target is B.float32 and a.dtype.name not in _LOW:
        return a
    return _cached_cast(a, target)


def _cached_cast(t, target):
    # parameters are cast once per region (until they change), as PyTorch caches them
    cacheable = _cache_enabled and t._rg and t.grad_fn is None
    if not cacheable:
        return _cast(t, target)
    key = (id(t), target.name)
    hit = _cache.get(key)
    if hit is not None and hit[0] is t and hit[1] == t._vc[0]:
        return hit[2]
    out = _cast(t, target)
    _cache[key] = (t, t._vc[0], out)
    return out
