"""`embedding_bag`: sums, means or maxima of bags of embeddings, without materialising each bag's
rows separately. Bags are rows of a 2-D input, or runs of a 1-D input split at `offsets`.

Composed of differentiable ops: the bags are padded to one length with a mask, looked up with
`embedding`, then reduced, so empty bags give zeros as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from .. import backend as B
from ..creation import as_tensor
from ..tensor import Tensor
from .misc import embedding

_MODES = ("sum", "mean", "max")


def _bags(idx, offsets, include_last_offset, where):
    """(bag index matrix, mask) as numpy arrays: one row per bag, padded with index 0 where masked."""
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{where}: if input is 2D, then offsets has to be None")
        return idx, np.ones(idx.shape, dtype=bool)
    if idx.ndim != 1:
        raise ValueError(f"{where}: input has to be 1D or 2D Tensor, but got Tensor of dimension {idx.ndim}")
    if offsets is None:
        raise ValueError(f"{where}: offsets has to be a 1D Tensor but got None")
    off = B.to_numpy(offsets._data if isinstance(offsets, Tensor) else np.asarray(offsets)).astype(np.int64)
    if off.ndim != 1:
        raise ValueError(f"{where}: offsets has to be a 1D Tensor")
    if off.size and (off[0] != 0 or (np.diff(off) < 0).any() or off[-1] > idx.size):
        raise ValueError(
            f"{where}: offsets must start at 0, never decrease and stay within the input's {idx.size} entries"
        )
    ends = np.append(off[1:], idx.size) if not include_last_offset else off[1:]
    starts = off if not include_last_offset else off[:-1]
    lengths = ends - starts
    width = int(lengths.max(initial=0))
    cols = np.arange(width)
    mask = cols[None, :] < lengths[:, None]
    pos = np.where(mask, starts[:, None] + cols[None, :], 0)
    return (idx[pos] if idx.size else np.zeros(pos.shape, np.int64)), mask


def embedding_bag(
    input,
    weight,
    offsets=None,
    max_norm=None,
    norm_type=2,
    scale_grad_by_freq=False,
    mode="mean",
    sparse=False,
    per_sample_weights=None,
    include_last_offset=False,
    padding_idx=None,
):
    """One row per bag: the sum, mean or max of the embeddings of the bag's indices."""
    where = "embedding_bag"
    if mode not in _MODES:
        raise ValueError(f"{where}: mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            f"{where}: per_sample_weights was not None. per_sample_weights is only supported for mode='sum' "
            f"(got mode='{mode}'). Please open a feature request on GitHub."
        )
    idx = B.to_numpy(input._data)
    if idx.dtype.kind not in "iu":
        raise ValueError(f"{where}: input has to be an integer tensor, got {input.dtype}")
    rows, mask = _bags(idx, offsets, include_last_offset, where)
    if padding_idx is not None:
        pad = padding_idx + weight.shape[0] if padding_idx < 0 else padding_idx
        mask = mask & (rows != pad)
    dev = weight.device
    emb = embedding(
        as_tensor(np.ascontiguousarray(rows), device=dev),
        weight,
        None,
        max_norm,
        norm_type,
        scale_grad_by_freq,
    )
    dtype = weight._data.dtype
    counts = mask.sum(axis=1)
    if mode == "max":
        keep = as_tensor(mask[:, :, None], device=dev)
        best = emb.masked_fill(~keep, float("-inf")).max(1).values
        return best.masked_fill(as_tensor((counts == 0)[:, None], device=dev), 0.0)
    w = mask.astype(dtype)
    w_t = as_tensor(w, device=dev)
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1) if idx.ndim == 1 else per_sample_weights
        if idx.ndim == 1:
            rows_pos, _ = _bags(np.arange(idx.size), offsets, include_last_offset, where)
            psw = psw[as_tensor(rows_pos, device=dev)]
        w_t = w_t * psw
    total = (emb * w_t.unsqueeze(-1)).sum(1)
    if mode == "sum":
        return total
    return total / as_tensor(np.maximum(counts, 1).astype(dtype)[:, None], device=dev)
