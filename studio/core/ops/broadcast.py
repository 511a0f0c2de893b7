"""`broadcast_shapes` and `broadcast_tensors`: the shape several operands broadcast to, and the
operands expanded to it (views, so gradients flow back summed)."""

from __future__ import annotations

from ..tensor import Size, Tensor


def broadcast_shapes(*shapes):
    """The shape that tensors of these shapes broadcast to; RuntimeError naming the dims that clash."""
    result = []
    for index, shape in enumerate(shapes):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        for i, size in enumerate(reversed(shape)):
            if i == len(result):
                result.append(size)
            elif result[i] == 1 or size == result[i]:
                result[i] = size
            elif size != 1:
                expected = list(reversed(result))
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {size} at {-(i + 1)}! "
                    "Mismatching argument "
                    f"at index {index} had {shape}; but expected shape should be broadcastable to {expected}"
                )
    return Size(tuple(reversed(result)))


def broadcast_tensors(*tensors):
    """The tensors expanded to their common shape."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"broadcast_tensors(): expected Tensors, got {type(t).__name__}")
    shape = []
    for t in tensors:
        for i, size in enumerate(reversed(t.shape)):
            if i == len(shape):
                shape.append(size)
            elif shape[i] == 1 or size == shape[i]:
                shape[i] = size
            elif size != 1:
                raise RuntimeError(
                    f"The size of tensor a ({shape[i]}) must match the size of tensor b ({size}) at "
                    f"non-singleton dimension {max(len(u.shape) for u in tensors) - 1 - i}"
                )
    shape = Size(tuple(reversed(shape)))
    return tuple(t if tuple(t.shape) == tuple(shape) else t.expand(shape) for t in tensors)


__all__ = ["broadcast_shapes", "broadcast_tensors"]
