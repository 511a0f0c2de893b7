"""Tensors tutorial: creating tensors, attributes, operations, indexing, joining, bridges with numpy."""

import numpy as np
import torch


def main():
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)
    x_ones = torch.ones_like(x_data)
    x_rand = torch.rand_like(x_data, dtype=torch.float)
    shape = (2, 3)
    ones, zeros = torch.ones(shape), torch.zeros(shape)
    tensor = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    first_row, first_col, last_col = tensor[0], tensor[:, 0], tensor[..., -1]
    tensor[:, 1] = 0
    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    y3 = torch.empty_like(y1)
    torch.matmul(tensor, tensor.T, out=y3)
    z1 = tensor * tensor
    z3 = torch.empty_like(tensor)
    torch.mul(tensor, tensor, out=z3)
    agg = tensor.sum()
    agg_item = agg.item()
    tensor.add_(5)
    t = torch.ones(5)
    n = t.numpy()
    t.add_(1)
    n2 = np.ones(5)
    t2 = torch.from_numpy(n2)
    np.add(n2, 1, out=n2)
    stacked = torch.stack([first_row, first_col[:1].repeat(4)], dim=0)
    return {
        "exact": {
            "x_data": x_data,
            "x_np": x_np,
            "x_ones": x_ones,
            "rand_shape": list(x_rand.shape),
            "rand_dtype": str(x_rand.dtype).split(".")[-1],
            "ones": ones,
            "zeros": zeros,
            "attrs": [list(tensor.shape), str(tensor.dtype).split(".")[-1], str(tensor.device)],
            "first_row": first_row,
            "first_col": first_col,
            "last_col": last_col,
            "t1": t1,
            "y1": y1,
            "y2": y2,
            "y3": y3,
            "z1": z1,
            "z3": z3,
            "agg": agg_item,
            "tensor": tensor,
            "numpy_shares": n,
            "from_numpy_shares": t2,
            "stacked": stacked,
            "squeeze": list(torch.zeros(1, 3, 1).squeeze().shape),
            "unsq": list(torch.zeros(3).unsqueeze(1).shape),
            "where": torch.where(tensor > 10, tensor, torch.zeros_like(tensor)),
            "argmax": tensor.argmax(dim=1),
            "max": tensor.max(dim=0).values,
            "clamp": tensor.clamp(6, 9),
            "permute": list(torch.zeros(2, 3, 4).permute(2, 0, 1).shape),
            "view": tensor.view(-1, 6),
        },
    }
