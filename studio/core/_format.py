"""The text form of a tensor, laid out like PyTorch's."""

from __future__ import annotations

import numpy as np

from . import backend as B


def format_tensor(t) -> str:
    arr = B.to_numpy(t._data)
    extras = []
    if t.is_cuda:
        extras.append(f"device='{t.device}'")
    default_float = B.get_default_dtype().np
    if arr.dtype not in (default_float, np.int64, np.bool_) or arr.size == 0:
        if not (arr.size == 0 and arr.dtype == default_float):
            extras.append(f"dtype={t.dtype!r}")
    if arr.size == 0 and arr.ndim != 1:
        extras.append(f"size={tuple(arr.shape)}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._rg:
        extras.append("requires_grad=True")
    prefix = "tensor("
    if arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        as_int = finite.size > 0 and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8
        big = finite.size > 0 and (np.abs(finite).max() >= 1e8 or (np.abs(finite[finite != 0]).min(initial=1) < 1e-4))
        if big:
            body = np.array2string(
                arr, separator=", ", prefix=prefix, formatter={"float_kind": lambda v: f"{v:.4e}"},
                threshold=1000, edgeitems=3,
            )
        elif as_int:
            body = np.array2string(
                arr, separator=", ", prefix=prefix, formatter={"float_kind": lambda v: f"{v:.0f}."},
                threshold=1000, edgeitems=3,
            )
        else:
            body = np.array2string(
                arr, separator=", ", prefix=prefix, precision=4, floatmode="fixed",
                threshold=1000, edgeitems=3,
            )
    else:
        body = np.array2string(arr, separator=", ", prefix=prefix, threshold=1000, edgeitems=3)
        if arr.dtype == np.bool_:
            body = body.replace("True", "True").replace("False", "False")
    if extras:
        return f"{prefix}{body}, {', '.join(extras)})"
    return f"{prefix}{body})"
