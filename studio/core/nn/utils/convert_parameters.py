"""Flatten parameters into one vector and write a vector back into parameters (for line searches etc.)."""

from __future__ import annotations

from ...ops.shape import cat
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> Tensor:
    """All `parameters` flattened and concatenated into one 1-D tensor (differentiable)."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    if params:
        device = params[0].device
        for p in params[1:]:
            if p.device != device:
                raise TypeError(
                    f"Found two parameters on different devices, this is currently not supported: {device} "
                    f"and {p.device}"
                )
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters) -> None:
    """Make each of `parameters` the matching slice of the 1-D tensor `vec` (sharing its memory)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected studio.core.Tensor, but got: {type(vec).__name__}")
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = sum(p.numel() for p in params)
    if vec.dim() != 1 or vec.numel() != total:
        raise RuntimeError(
            f"vector_to_parameters: expected a 1-D vector of {total} elements (the parameters' total size), "
            f"got shape {tuple(vec.shape)}"
        )
    data = vec._data
    pointer = 0
    for p in params:
        n = p.numel()
        p._data = data[pointer : pointer + n].reshape(p._data.shape).astype(p._data.dtype, copy=False)
        p._vc[0] += 1
        pointer += n
