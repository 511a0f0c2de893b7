"""Instance normalization: each (sample, channel) plane normalised over its own spatial positions.

As in PyTorch, it is batch normalization of the input seen as one sample of N * C channels, so the
fused batch_norm op does the work (and its gradient); running statistics are averaged over the batch.
"""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from .norm import batch_norm


def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, statistics per sample and channel."""
    if input.ndim < 3:
        raise ValueError(
            f"instance_norm: expected an input of (N, C, *spatial), got shape {tuple(input.shape)}"
        )
    n, c = input.shape[:2]
    x = input.reshape(1, n * c, *input.shape[2:])
    w = weight.repeat(n) if weight is not None else None
    b = bias.repeat(n) if bias is not None else None
    rm = running_mean.repeat(n) if running_mean is not None else None
    rv = running_var.repeat(n) if running_var is not None else None
    out = batch_norm(x, rm, rv, w, b, use_input_stats, momentum, eps)
    if use_input_stats and running_mean is not None:
        with no_grad():
            running_mean.copy_(rm.reshape(n, c).mean(0))
            running_var.copy_(rv.reshape(n, c).mean(0))
    return out.reshape(input.shape)
