"""What is torch.nn really? Logistic regression written from scratch, then refactored with nn.Module,
nn.Linear, optim, TensorDataset and DataLoader (on synthetic 28x28 digits)."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset


def get_data():
    rng = np.random.default_rng(3)
    x = rng.random((600, 784)).astype(np.float32)
    w = rng.standard_normal((784, 10)).astype(np.float32)
    y = (x @ w).argmax(1)
    return map(torch.tensor, (x[:500], y[:500], x[500:], y[500:]))


class Mnist_Logistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)


def accuracy(out, yb):
    preds = torch.argmax(out, dim=1)
    return (preds == yb).float().mean()


def main():
    x_train, y_train, x_valid, y_valid = get_data()
    n, c = x_train.shape
    weights = torch.zeros(784, 10) / math.sqrt(784)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def log_softmax(x):
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb):
        return log_softmax(xb @ weights + bias)

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()

    bs, lr = 64, 0.5
    scratch = []
    for i in range((n - 1) // bs + 1):
        xb, yb = x_train[i * bs : i * bs + bs], y_train[i * bs : i * bs + bs]
        loss = nll(model(xb), yb)
        loss.backward()
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()
        scratch.append(loss.item())
    same = torch.allclose(F.cross_entropy(xb @ weights + bias, yb), nll(model(xb), yb), atol=1e-6)

    torch.manual_seed(0)
    net = Mnist_Logistic()
    opt = optim.SGD(net.parameters(), lr=lr)
    train_dl = DataLoader(TensorDataset(x_train, y_train), batch_size=bs, shuffle=True)
    valid_dl = DataLoader(TensorDataset(x_valid, y_valid), batch_size=bs * 2)
    untrained_error = 1.0 - accuracy(net(x_valid), y_valid).item()
    valid = []
    for epoch in range(3):
        net.train()
        for xb, yb in train_dl:
            loss = F.cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
        net.eval()
        with torch.no_grad():
            valid.append(sum(F.cross_entropy(net(xb), yb) for xb, yb in valid_dl).item() / len(valid_dl))
    return {
        "exact": {"scratch_losses": scratch, "same_as_cross_entropy": bool(same)},
        "loose": {
            "valid_loss": valid,
            "valid_error": [untrained_error, 1.0 - accuracy(net(x_valid), y_valid).item()],
        },
    }
