"""An old-style (PyTorch 0.3) program: Variable wrappers, typed constructors such as FloatTensor and
LongTensor, .data access, volatile-free evaluation, and manual weight updates."""

import numpy as np
import torch
from torch.autograd import Variable


def main():
    dtype = torch.FloatTensor
    N, D_in, H, D_out = 16, 10, 20, 3
    rng = np.random.default_rng(0)
    x = Variable(
        torch.from_numpy(rng.standard_normal((N, D_in)).astype(np.float32)).type(dtype), requires_grad=False
    )
    y = Variable(torch.LongTensor(rng.integers(0, D_out, N).tolist()), requires_grad=False)
    w1 = Variable(
        torch.from_numpy(rng.standard_normal((D_in, H)).astype(np.float32) * 0.3).type(dtype),
        requires_grad=True,
    )
    w2 = Variable(
        torch.from_numpy(rng.standard_normal((H, D_out)).astype(np.float32) * 0.3).type(dtype),
        requires_grad=True,
    )
    learning_rate = 0.05
    losses = []
    for t in range(50):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = torch.nn.functional.cross_entropy(y_pred, y)
        losses.append(loss.data.item())
        loss.backward()
        w1.data -= learning_rate * w1.grad.data
        w2.data -= learning_rate * w2.grad.data
        w1.grad.data.zero_()
        w2.grad.data.zero_()
    legacy = torch.FloatTensor(2, 3).zero_()
    ints = torch.LongTensor([1, 2, 3])
    return {
        "exact": {
            "losses": losses[::10],
            "w2": w2.data,
            "legacy": legacy,
            "ints": ints,
            "types": [x.type(), y.type(), ints.type(), torch.DoubleTensor([1]).type()],
            "isinstance": [
                isinstance(w1, Variable),
                isinstance(x, torch.FloatTensor),
                isinstance(y, torch.FloatTensor),
            ],
        },
    }
