"""Parameter: a tensor that a Module registers as learnable when it is assigned as an attribute."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that is a module's learnable weight; requires gradients unless told otherwise.

    `Parameter(t)` shares `t`'s memory (as `torch.nn.Parameter` does), so that a module built around
    existing values sees later in-place edits of them.
    """

    def __init__(self, data=None, requires_grad=True):
        _share(self, data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(Tensor(self._data.copy()), self._rg)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        from .. import backend as B

        return (_rebuild_parameter, (type(self), B.to_numpy(self._data), self._rg, str(self.device)))


def _share(t, data) -> None:
    """Make `t` a fresh leaf sharing `data`'s memory and version counter: wrapping, never copying."""
    if data is None:
        data = Tensor(np.zeros((0,), np.float32))
    elif not isinstance(data, Tensor):
        data = Tensor(data)
    t._data = data._data
    t._vc = data._vc
    t._rg = False
    t.grad = None
    t.grad_fn = None
    t._retains_grad = False
    t._hooks = None
    t._accum = None
    t._output_nr = 0
    t._name = None


def _rebuild_parameter(cls, array, requires_grad, device="cpu"):
    return cls(Tensor(array, device=device), requires_grad)


class Buffer(Tensor):
    """Marks a tensor to be registered as a module buffer when assigned (`torch.nn.Buffer`).

    Assigning `module.name = Buffer(t, persistent=False)` is `module.register_buffer(name, t, False)`.
    """

    def __init__(self, data=None, *, persistent=True):
        _share(self, data)
        self.persistent = persistent
