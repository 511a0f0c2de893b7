"""nn package: a third-order polynomial as nn.Sequential(nn.Linear, nn.Flatten) trained with RMSprop in
float64. The first hundred steps are compared digit for digit; after them RMSprop's steps of fixed
size make the cubic coefficient oscillate, which grows the last-bit differences of any two summation
orders (two CPUs, two libraries) into visible ones, so the rest of the curve is compared as training."""

import math

import torch


def main():
    x = torch.linspace(-math.pi, math.pi, 500, dtype=torch.float64)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.1, -0.05, 0.02]], dtype=torch.float64))
        model[0].bias.fill_(0.0)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    losses = []
    for t in range(200):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if t == 99:
            linear_layer = model[0]
            weight, bias = linear_layer.weight.detach().clone(), linear_layer.bias.detach().clone()
    return {
        "exact": {"losses": losses[19:100:20], "weight": weight, "bias": bias, "xx_shape": list(xx.shape)},
        "loose": {"losses": losses[39::40]},
    }
