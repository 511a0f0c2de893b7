"""Everyday tensor idioms of real scripts: the new_* family, out= arguments, indexing with a range,
in-place ops, masks, gather/scatter, sort/topk, cumulative ops, and the diagonal family."""

import torch


def main():
    base = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    ones = base.new_ones((2, 2))
    zeros = base.new_zeros(3)
    full = base.new_full((2,), 7.5)
    fresh = base.new_tensor([[1, 2], [3, 4]])
    out = torch.empty(3, 3, dtype=torch.float64)
    torch.mm(base[:, :3], base[:, :3].t(), out=out)
    picked = base[range(0, 3, 2)]
    cols = base[:, range(1, 3)]
    masked = base.masked_fill(base > 6, -1.0)
    gathered = base.gather(1, torch.tensor([[0], [2], [3]]))
    scattered = torch.zeros(3, 4).scatter_(1, torch.tensor([[1], [0], [3]]), 1.0)
    values, indices = base.sort(dim=1, descending=True)
    top = base.flatten().topk(3)
    b2 = base.clone()
    b2.mul_(2).add_(1).clamp_(max=15)
    return {
        "exact": {
            "ones": ones,
            "zeros": zeros,
            "full": full,
            "fresh": fresh,
            "out": out,
            "picked": picked,
            "cols": cols,
            "masked": masked,
            "gathered": gathered,
            "scattered": scattered,
            "sorted": values,
            "sorted_idx": indices,
            "top_values": top.values,
            "top_indices": top.indices,
            "b2": b2,
            "cumsum": base.cumsum(1),
            "diag": torch.diag(base),
            "diag_embed": torch.diag_embed(base[0]),
            "diagonal": base.diagonal(offset=1),
            "trace": base[:, :3].trace(),
            "tril": base.tril(),
            "triu": torch.triu(base, 1),
            "dtype": str(fresh.dtype).split(".")[-1],
            "nonzero": (base % 5 == 0).nonzero(),
            "unique": torch.unique(base.remainder(3), return_counts=True),
        }
    }
