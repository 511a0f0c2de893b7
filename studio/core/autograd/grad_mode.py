"""Grad modes: `no_grad`, `enable_grad`, `set_grad_enabled`, `inference_mode`.

The switch is one module global rather than thread-local state: ops read it on every call, and
training runs in its own process, so the cheaper read wins.
"""

from __future__ import annotations

import functools

_enabled = True


def is_grad_enabled() -> bool:
    return _enabled


def _set(value: bool) -> None:
    global _enabled
    _enabled = bool(value)


class _GradModeContext:
    """Base of the grad-mode switches: a context manager that is also a decorator."""

    _value = True

    def __enter__(self):
        self._prev = _enabled
        _set(self._value)
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Run without recording operations for autograd."""

    _value = False


class enable_grad(_GradModeContext):
    """Record operations again inside a `no_grad` block."""

    _value = True


class inference_mode(_GradModeContext):
    """Like `no_grad`, for pure inference; `inference_mode(False)` leaves recording on."""

    def __init__(self, mode: bool = True):
        self._mode = mode
        self._value = not mode

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradModeContext):
    """Switch recording on or off; takes effect at once, and also works as a context manager."""

    def __init__(self, mode: bool):
        self._prev = _enabled
        self._value = bool(mode)
        _set(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, fn):
        value = self._value
        _set(self._prev)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(value):
                return fn(*args, **kwargs)

        return wrapper
