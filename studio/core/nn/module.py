"""Module: the base of every layer; registers parameters, buffers and sub-modules by assignment.

Assigning a `Parameter`, a `Module` or a registered buffer to an attribute records it, and every
walk (`named_parameters`, `state_dict`, `train`, `to`, ...) follows those records, as in PyTorch.
State dict keys are the dotted attribute paths (`0.weight`, `bn.running_mean`).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend as B
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..autograd.record import _result, record
from ..tensor import Tensor, _wrap
from .parameter import Buffer, Parameter

__all__ = ["Module", "RemovableHandle", "register_module_forward_hook", "register_module_forward_pre_hook"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What `load_state_dict` returns: the keys it did not find and the keys it did not use."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Removes a hook from the dictionaries it was added to; usable as a context manager."""

    _next_id = itertools.count()

    def __init__(self, *hooks_dicts):
        self.id = next(RemovableHandle._next_id)
        self._dicts = hooks_dicts

    def remove(self) -> None:
        for d in self._dicts:
            d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


_global_forward_pre_hooks: OrderedDict = OrderedDict()
_global_forward_hooks: OrderedDict = OrderedDict()


def register_module_forward_pre_hook(hook) -> RemovableHandle:
    """Call `hook(module, args)` before the forward of every module."""
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook) -> RemovableHandle:
    """Call `hook(module, args, output)` after the forward of every module."""
    handle = RemovableHandle(_global_forward_hooks)
    _global_forward_hooks[handle.id] = hook
    return handle


def _addindent(s: str, num_spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join(num_spaces * " " + line for line in lines)


def _shape_str(shape) -> str:
    return f"studio.core.Size([{', '.join(str(s) for s in shape)}])"


def _as_array(value):
    """The array behind a state-dict value: a Tensor, a numpy/cupy array or nested numbers."""
    if isinstance(value, Tensor):
        return value._data
    if B.is_array(value):
        return value
    return np.asarray(value)


class BackwardHookFunctionBackward(Node):
    """An identity on several tensors whose backward hands their gradients to a module's hooks."""

    __slots__ = ("n_out", "callback")
    saved_roles = ()  # in a recorded backward the hooks see (and may return) recorded gradients

    @property
    def n_outputs(self):
        return self.n_out

    def backward(self, *grads):
        return tuple(self.callback(list(grads)))


def _identity_with_callback(tensors, callback):
    """New tensors equal to `tensors` (sharing memory) whose incoming gradients pass through `callback`."""
    node = BackwardHookFunctionBackward()
    node.n_out = len(tensors)
    node.callback = callback
    record(node, tensors)
    return [_result(t._data, node, output_nr=i, vc=t._vc) for i, t in enumerate(tensors)]


class _BackwardHooks:
    """One forward call's link to its module's backward hooks (PyTorch's `BackwardHook`).

    The tensor inputs and outputs of the call pass through identity nodes: the output node sees
    grad_output (and runs the pre-hooks), the input node sees grad_input (and runs the hooks).
    """

    def __init__(self, module):
        self.module = module
        self.n_inputs = 0
        self.input_positions: list = []
        self.n_outputs = 0
        self.output_positions: list = []
        self.grad_outputs = None

    def wrap_inputs(self, args):
        self.n_inputs = len(args)
        self.input_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a._rg]
        if not self.input_positions:
            return args
        wrapped = _identity_with_callback([args[i] for i in self.input_positions], self._on_input_grads)
        args = list(args)
        for i, t in zip(self.input_positions, wrapped):
            args[i] = t
        return tuple(args)

    def wrap_outputs(self, out):
        outs = out if isinstance(out, tuple) else (out,)
        self.n_outputs = len(outs)
        self.output_positions = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o._rg]
        if not self.output_positions:
            return out
        wrapped = _identity_with_callback([outs[i] for i in self.output_positions], self._on_output_grads)
        outs = list(outs)
        for i, t in zip(self.output_positions, wrapped):
            outs[i] = t
        return tuple(outs) if isinstance(out, tuple) else outs[0]

    def _pack(self, grads, positions, n):
        packed = [None] * n
        for i, g in zip(positions, grads):
            packed[i] = g if g is None or isinstance(g, Tensor) else _wrap(g)
        return tuple(packed)

    @staticmethod
    def _unpack(grads, positions, like):
        """The hooks' gradients as the engine passes them: arrays, or tensors when recording."""
        recorded = any(isinstance(g, Tensor) for g in like)
        return [None if grads[i] is None else grads[i] if recorded else grads[i]._data for i in positions]

    def _on_output_grads(self, grads):
        module = self.module
        grad_outputs = self._pack(grads, self.output_positions, self.n_outputs)
        for hook in list(module._backward_pre_hooks.values()):
            res = hook(module, grad_outputs)
            if res is not None:
                res = res if isinstance(res, tuple) else (res,)
                if len(res) != self.n_outputs:
                    raise RuntimeError(
                        f"Backward pre hook returned an invalid number of grad_output, got {len(res)}, but "
                        f"expected {self.n_outputs}"
                    )
                grad_outputs = res
        self.grad_outputs = grad_outputs
        if not self.input_positions:
            # No input needs a gradient: the hooks run now, with grad_input all None, as in PyTorch.
            for hook in list(module._backward_hooks.values()):
                hook(module, (None,) * self.n_inputs, grad_outputs)
        return self._unpack(grad_outputs, self.output_positions, grads)

    def _on_input_grads(self, grads):
        module = self.module
        grad_inputs = self._pack(grads, self.input_positions, self.n_inputs)
        for hook in list(module._backward_hooks.values()):
            res = hook(module, grad_inputs, self.grad_outputs)
            if res is not None:
                res = res if isinstance(res, tuple) else (res,)
                if len(res) != self.n_inputs:
                    raise RuntimeError(
                        f"Backward hook returned an invalid number of grad_input, got {len(res)}, but "
                        f"expected {self.n_inputs}"
                    )
                grad_inputs = res
        return self._unpack(grad_inputs, self.input_positions, grads)


class Module:
    """Base class for all neural network modules; subclasses define `forward`.

    Sub-modules, `Parameter`s and buffers assigned as attributes are registered, so that
    `parameters()`, `state_dict()`, `train()`/`eval()` and `to()` reach them.
    """

    training: bool

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments {args!r} {kwargs!r}: "
                "Module.__init__ takes none"
            )
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = {}
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # --------------------------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        if not (
            self._forward_pre_hooks
            or self._forward_hooks
            or _global_forward_pre_hooks
            or _global_forward_hooks
            or self._backward_hooks
            or self._backward_pre_hooks
        ):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        pre = list(_global_forward_pre_hooks.items()) + list(self._forward_pre_hooks.items())
        for hook_id, hook in pre:
            if hook_id in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                            f"but got {res}."
                        )
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        backward_hooks = None
        if (self._backward_hooks or self._backward_pre_hooks) and grad_mode._enabled:
            backward_hooks = _BackwardHooks(self)
            args = backward_hooks.wrap_inputs(args)
        out = self.forward(*args, **kwargs)
        post = list(_global_forward_hooks.items()) + list(self._forward_hooks.items())
        for hook_id, hook in post:
            if hook_id in self._forward_hooks_with_kwargs:
                res = hook(self, args, kwargs, out)
            else:
                res = hook(self, args, out)
            if res is not None:
                out = res
        if backward_hooks is not None:
            out = backward_hooks.wrap_outputs(out)
        return out

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False) -> RemovableHandle:
        """Call `hook(module, args)` before `forward`; a non-None result replaces the arguments.

        With `with_kwargs=True` the hook is `hook(module, args, kwargs)` and may return `(args, kwargs)`.
        """
        handle = RemovableHandle(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(
        self, hook, *, prepend=False, with_kwargs=False, always_call=False
    ) -> RemovableHandle:
        """Call `hook(module, args, output)` after `forward`; a non-None result replaces the output.

        With `with_kwargs=True` the hook is `hook(module, args, kwargs, output)`.
        """
        handle = RemovableHandle(self._forward_hooks, self._forward_hooks_with_kwargs)
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Call `hook(module, grad_input, grad_output)` once the gradients of the module's inputs are known.

        `grad_input` has one entry per positional argument (None where no gradient flows) and
        `grad_output` one per output; a non-None result replaces `grad_input`.
        """
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Call `hook(module, grad_output)` when the gradients of the module's outputs arrive.

        A non-None result replaces `grad_output` for the rest of the backward pass.
        """
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    # ---------------------------------------------------------------------------- registration
    def _check_name(self, name, kind):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. `running_mean`).

        Persistent buffers are saved in `state_dict`; non-persistent ones are not.
        """
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(studio.core Tensor or None required)"
            )
        if isinstance(tensor, Buffer):
            persistent = tensor.persistent
            tensor = tensor.detach()
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param) -> None:
        """Add a parameter (or None, to declare an absent optional one such as `bias`)."""
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(studio.core.nn.Parameter or None required)"
            )
        if param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created "
                "explicitly. To express '{name}' as a function of another Tensor, compute the value in "
                "the forward() method."
            )
        self._parameters[name] = param

    def add_module(self, name: str, module) -> None:
        """Add a child module, reachable as attribute `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def __getattr__(self, name):
        d = self.__dict__
        if "_parameters" in d:
            if name in d["_parameters"]:
                return d["_parameters"][name]
            if name in d["_buffers"]:
                return d["_buffers"][name]
            if name in d["_modules"]:
                return d["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")

        def remove_from(*dicts_or_sets):
            for ds in dicts_or_sets:
                if name in ds:
                    if isinstance(ds, dict):
                        del ds[name]
                    else:
                        ds.discard(name)

        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(d, d["_buffers"], d["_modules"], d["_non_persistent_buffers_set"])
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(studio.core.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            remove_from(d, params, d["_buffers"], d["_non_persistent_buffers_set"])
            d["_modules"][name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    "(studio.core.nn.Module or None expected)"
                )
            d["_modules"][name] = value
        elif isinstance(value, Buffer) or (params is not None and name in d["_buffers"]):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(studio.core.nn.Buffer, studio.core.Tensor or None expected)"
                )
            if params is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            if isinstance(value, Buffer):
                remove_from(d, params, d["_modules"])
                self.register_buffer(name, value)
            else:
                d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name):
        d = self.__dict__
        if name in d.get("_parameters", ()):
            del d["_parameters"][name]
        elif name in d.get("_buffers", ()):
            del d["_buffers"][name]
            d["_non_persistent_buffers_set"].discard(name)
        elif name in d.get("_modules", ()):
            del d["_modules"][name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = list(object.__dir__(self))
        keys += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(k for k in set(keys) if not k[:1].isdigit())

    def __setstate__(self, state):
        self.__dict__.update(state)

    # ----------------------------------------------------------------------------------- walks
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Yield `(dotted_name, module)` for this module and every module below it, once each."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        mods = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for mod_prefix, module in mods:
            for k, v in get_members(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + k, v

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Yield `(dotted_name, parameter)`; a parameter shared by two modules comes once."""
        yield from self._named_members(
            lambda m: m._parameters.items(), prefix=prefix, recurse=recurse, remove_duplicate=remove_duplicate
        )

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members(
            lambda m: m._buffers.items(), prefix=prefix, recurse=recurse, remove_duplicate=remove_duplicate
        )

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path `target` ('' is this module)."""
        if target == "":
            return self
        mod = self
        done = []
        for item in target.split("."):
            if item not in mod._modules:
                where = ".".join(done) or type(self).__name__
                raise AttributeError(f"{mod._get_name()} ({where}) has no attribute `{item}`")
            mod = mod._modules[item]
            done.append(item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def get_parameter(self, target: str) -> Parameter:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{mod._get_name()} has no buffer `{name}`")
        return mod._buffers[name]

    # ------------------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm using batch statistics) here and below."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        # Each child's own train() runs, so that subclasses overriding it (e.g. to freeze a layer) are obeyed.
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode: `train(False)`."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default) or to zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                g.grad_fn = None
                g._rg = False
                g._data[...] = 0
                g._vc[0] += 1

    def apply(self, fn) -> Module:
        """Call `fn(m)` on every sub-module (children first) and then on this module."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------------ device and dtype
    def _apply(self, fn) -> Module:
        """Replace the arrays of parameters, gradients and buffers by `fn(tensor)`, in place.

        Parameters stay the same objects, so optimizers built earlier keep working.
        """
        for module in self.modules():
            for p in module._parameters.values():
                if p is None:
                    continue
                with grad_mode.no_grad():
                    new = fn(p)
                p._data = new._data
                if p.grad is not None:
                    with grad_mode.no_grad():
                        p.grad = fn(p.grad).detach()
            for name, b in module._buffers.items():
                if b is not None:
                    with grad_mode.no_grad():
                        module._buffers[name] = fn(b)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move and/or cast: `to(device)`, `to(dtype)`, `to(device, dtype)` or `to(tensor)`.

        A dtype applies to floating-point parameters and buffers only (integer counters stay).
        """
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, B.dtype | np.dtype) or (isinstance(a, type) and not issubclass(a, str)):
                dtype = a
            elif isinstance(a, str | B.device | int):
                device = a
            else:
                raise TypeError(
                    f"to() received an invalid argument {a!r}: expected a device, dtype or tensor"
                )
        if dtype is not None:
            dtype = B.as_dtype(dtype)
            if not dtype.is_floating_point:
                raise TypeError(
                    f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
                    f"dtype={dtype!r}"
                )
        if device is not None:
            device = B.as_device(device)

        def convert(t):
            return t.to(device=device, dtype=dtype if t.is_floating_point() else None)

        return self._apply(convert)

    def cpu(self) -> Module:
        return self._apply(lambda t: t.cpu())

    def cuda(self, device=None) -> Module:
        return self._apply(lambda t: t.cuda(device))

    def type(self, dst_type) -> Module:
        return self._apply(lambda t: t.to(dst_type))

    def float(self) -> Module:
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self) -> Module:
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self) -> Module:
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    # ------------------------------------------------------------------------------ state dict
    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered dict of every parameter and persistent buffer, keyed by dotted path.

        Values share memory with the module (detached unless `keep_vars`).
        """
        if args:
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        # Walk without removing duplicate modules, as PyTorch does: a shared layer appears under each path.
        for key, _module, _name, t in self._state_entries(prefix):
            destination[key] = t if keep_vars else t.detach()
        return destination

    def _state_entries(self, prefix=""):
        for mod_prefix, module in self.named_modules(
            prefix=prefix[:-1] if prefix.endswith(".") else prefix, remove_duplicate=False
        ):
            pre = mod_prefix + "." if mod_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    yield pre + name, module, name, p
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent_buffers_set:
                    yield pre + name, module, name, b

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values from `state_dict` into this module's parameters and buffers.

        Returns `(missing_keys, unexpected_keys)`. With `strict`, any missing or unexpected key is an
        error; a shape mismatch always is. Everything is checked before anything is copied, so a
        failed load leaves the module unchanged.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        entries = list(self._state_entries())
        own_keys = {key for key, *_ in entries}
        missing = [key for key, *_ in entries if key not in state_dict]
        missing = list(dict.fromkeys(missing))
        unexpected = [k for k in state_dict if k not in own_keys]
        errors = []
        if strict:
            if unexpected:
                errors.append(
                    "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". "
                )
            if missing:
                errors.insert(
                    0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". "
                )
        arrays = {}
        for key, _module, _name, t in entries:
            if key not in state_dict:
                continue
            try:
                arr = _as_array(state_dict[key])
            except (TypeError, ValueError):
                errors.append(
                    f'While copying the parameter named "{key}", expected a tensor or array, but got '
                    f"{type(state_dict[key]).__name__}."
                )
                continue
            if tuple(arr.shape) != tuple(t._data.shape):
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {_shape_str(arr.shape)} from "
                    f"checkpoint, the shape in current model is {_shape_str(t._data.shape)}."
                )
                continue
            if arr.dtype.kind not in "fiub":
                errors.append(
                    f'While copying the parameter named "{key}", got values of unsupported type {arr.dtype}.'
                )
                continue
            arrays[key] = arr
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors)
            )
        for key, module, name, t in entries:
            arr = arrays.get(key)
            if arr is None:
                continue
            if assign:
                value = state_dict[key]
                src = value if isinstance(value, Tensor) else Tensor(arr)
                if name in module._parameters:
                    module._parameters[name] = Parameter(src.detach(), requires_grad=t.requires_grad)
                else:
                    module._buffers[name] = src.detach()
                continue
            arr = B.to_array_like(arr, t._data)
            B.array_module(t._data).copyto(t._data, arr, casting="unsafe")
            t._vc[0] += 1
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------------------------ text
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr (its settings); override it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"
