"""The same small regression trained from the same start with each of torch.optim's optimizers:
SGD (momentum, Nesterov), Adam, AdamW, Adagrad, Adadelta, Adamax, NAdam, RAdam, RMSprop, Rprop, ASGD."""

import torch
import torch.nn as nn

CONFIGS = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.2}),
    ("Adadelta", {"lr": 1.0}),
    ("Adamax", {"lr": 0.05}),
    ("NAdam", {"lr": 0.05}),
    ("RAdam", {"lr": 0.05}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("Rprop", {"lr": 0.01}),
    ("ASGD", {"lr": 0.05, "t0": 5}),
]


def make_model():
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape) * (1 + 0.3 * i))
    return model


def main():
    x = torch.linspace(-1, 1, 60).reshape(20, 3)
    y = (x[:, :1] * 2 - x[:, 1:2] ** 2 + 0.5 * x[:, 2:]).sin()
    results = {}
    for name, kwargs in CONFIGS:
        model = make_model()
        optimizer = getattr(torch.optim, name)(model.parameters(), **kwargs)
        losses = []
        for _ in range(25):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        results[name] = losses[::6]
    return {"exact": results}
