"""Matrix helpers of scientific and graph code: diag and its family, triangular parts, trace, norms,
outer products, einsum-free batched products, and a causal mask built with tril."""

import torch


def main():
    a = torch.arange(1.0, 10.0).reshape(3, 3)
    v = torch.tensor([1.0, -2.0, 3.0])
    batch = torch.arange(24.0).reshape(2, 3, 4)
    mask = torch.tril(torch.ones(4, 4)).bool()
    scores = torch.zeros(4, 4).masked_fill(~mask, float("-inf"))
    return {
        "exact": {
            "diag_v": torch.diag(v),
            "diag_a": a.diag(),
            "diag_off": torch.diag(v, 1),
            "diagonal": a.diagonal(-1),
            "diag_embed": torch.diag_embed(batch[:, 0]),
            "diagflat": torch.diagflat(v[:2]),
            "trace": a.trace(),
            "tril": a.tril(-1),
            "triu": torch.triu(a),
            "norm": a.norm(),
            "norm_dim": a.norm(dim=1),
            "outer": torch.outer(v, v),
            "mv": a.mv(v),
            "bmm": torch.bmm(batch, batch.transpose(1, 2)),
            "matmul_broadcast": batch @ torch.ones(4, 2),
            "softmax_mask": scores.softmax(-1),
            "identity": torch.eye(3) * a,
            "dot": torch.dot(v, v),
        }
    }
