"""nn package: a third-order polynomial as nn.Sequential(nn.Linear, nn.Flatten) trained with RMSprop (in
float64, so that the two libraries agree to many digits after hundreds of steps)."""

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
        if t % 40 == 39:
            losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    linear_layer = model[0]
    return {
        "exact": {
            "losses": losses,
            "weight": linear_layer.weight,
            "bias": linear_layer.bias,
            "xx_shape": list(xx.shape),
        }
    }
