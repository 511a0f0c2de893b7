"""Saving and loading models: state_dict round trips, a checkpoint with the optimizer's state,
resuming training identically, load_state_dict's strictness, and a whole model saved with pickle and
loaded back only with weights_only=False (PyTorch 2.6 and later)."""

import io
import os
import tempfile

import torch
import torch.nn as nn
import torch.optim as optim


class TheModelClass(nn.Module):
    def __init__(self):
        super(TheModelClass, self).__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


def fixed(model):
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.linspace(-1, 1, p.numel()).reshape(p.shape) * (i + 1) * 0.3)
    return model


def train_steps(model, optimizer, steps):
    x = torch.linspace(-2, 2, 32).reshape(8, 4)
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    out = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        out.append(loss.item())
    return out


def main():
    model = fixed(TheModelClass())
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    first = train_steps(model, optimizer, 3)
    keys = list(model.state_dict().keys())
    opt_keys = sorted(optimizer.state_dict().keys())
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "checkpoint.tar")
        torch.save(
            {
                "epoch": 3,
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
                "loss": first[-1],
            },
            path,
        )
        checkpoint = torch.load(path, weights_only=True)
        model2 = TheModelClass()
        optimizer2 = optim.SGD(model2.parameters(), lr=0.5, momentum=0.1)
        model2.load_state_dict(checkpoint["model_state_dict"])
        optimizer2.load_state_dict(checkpoint["optimizer_state_dict"])
        resumed = train_steps(model2, optimizer2, 3)
        continued = train_steps(model, optimizer, 3)
        whole = os.path.join(d, "model.pt")
        torch.save(model, whole)
        refused = False
        try:
            torch.load(whole)
        except Exception:
            refused = True
        model3 = torch.load(whole, weights_only=False)
        model3.eval()
        model.eval()
        x = torch.ones(2, 4)
        same = bool(torch.allclose(model3(x), model(x)))
    missing = model2.load_state_dict(
        {k: v for k, v in model.state_dict().items() if k != "fc2.bias"}, strict=False
    )
    strict_error = False
    try:
        model2.load_state_dict({"fc1.weight": torch.zeros(8, 4)})
    except RuntimeError:
        strict_error = True
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return {
        "exact": {
            "first": first,
            "resumed": resumed,
            "continued": continued,
            "keys": keys,
            "opt_keys": opt_keys,
            "epoch": checkpoint["epoch"],
            "refused_pickle": refused,
            "whole_same": same,
            "missing": list(missing.missing_keys),
            "unexpected": list(missing.unexpected_keys),
            "strict_error": strict_error,
            "lr_after_load": optimizer2.param_groups[0]["lr"],
        },
    }
