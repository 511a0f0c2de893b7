"""Weight initialisation applied with model.apply (xavier, kaiming, orthogonal, constant) and gradient
clipping by norm and by value: the norm returned and the clipped gradients."""

import torch
import torch.nn as nn


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        m.bias.data.fill_(0.01)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(m.bias)


def main():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    model.apply(init_weights)
    stats = [round(model[0].weight.std().item(), 1), model[3].bias.tolist()]
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.linspace(-1, 1, p.numel()).reshape(p.shape))
    x = torch.linspace(-3, 3, 72).reshape(2, 1, 6, 6)
    loss = (model(x) ** 2).sum()
    loss.backward()
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    clipped = [p.grad.clone() for p in model.parameters()]
    torch.nn.utils.clip_grad_value_(model.parameters(), clip_value=0.01)
    gain = nn.init.calculate_gain("leaky_relu", 0.2)
    w = torch.empty(3, 5)
    nn.init.constant_(w, 0.3)
    return {
        "exact": {
            "total_norm": total,
            "clipped": clipped[0],
            "value_clipped": model[3].weight.grad,
            "gain": gain,
            "constant": w,
            "bias_fill": stats[1],
            "kaiming_fan_out": nn.init._calculate_fan_in_and_fan_out(model[0].weight),
        },
    }
