"""The regression example: fitting a random polynomial with polynomial features built by torch.cat,
F.smooth_l1_loss, and a hand-written update of the parameters through .data and .grad."""

import torch
import torch.nn.functional as F

POLY_DEGREE = 4
W_target = torch.tensor([[0.5], [-1.2], [0.3], [0.8]])
b_target = torch.tensor([0.4])


def make_features(x):
    x = x.unsqueeze(1)
    return torch.cat([x**i for i in range(1, POLY_DEGREE + 1)], 1)


def f(x):
    return x.mm(W_target) + b_target.item()


def poly_desc(W, b):
    result = "y = "
    for i, w in enumerate(W):
        result += "{:+.2f} x^{} ".format(w, i + 1)
    result += "{:+.2f}".format(b[0])
    return result


def main():
    x = torch.linspace(-1, 1, 32)
    features = make_features(x)
    targets = f(features)
    fc = torch.nn.Linear(W_target.size(0), 1)
    with torch.no_grad():
        fc.weight.fill_(0.1)
        fc.bias.fill_(0.0)
    losses = []
    for batch_idx in range(300):
        fc.zero_grad()
        output = F.smooth_l1_loss(fc(features), targets)
        loss = output.item()
        output.backward()
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)
        if batch_idx % 50 == 0:
            losses.append(loss)
    return {
        "exact": {
            "losses": losses,
            "desc": poly_desc(fc.weight.view(-1).tolist(), fc.bias.tolist()),
            "features": features[:3],
        }
    }
