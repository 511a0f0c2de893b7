"""Quickstart: a dataset, DataLoaders, a network, a training loop, a test loop, saving and loading.

(The official quickstart downloads FashionMNIST; here the images are drawn from ten noisy templates.)
"""

import io

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    templates = np.random.default_rng(0).random((10, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    images = templates[labels] + 0.3 * rng.standard_normal((n, 28, 28)).astype(np.float32)
    return TensorDataset(torch.from_numpy(images[:, None]), torch.from_numpy(labels))


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def train(dataloader, model, loss_fn, optimizer, device):
    model.train()
    losses = []
    for X, y in dataloader:
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def test(dataloader, model, loss_fn, device):
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    return test_loss / len(dataloader), correct / len(dataloader.dataset)


def main():
    torch.manual_seed(0)
    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    train_dataloader = DataLoader(make_data(256, 1), batch_size=32, shuffle=True)
    test_dataloader = DataLoader(make_data(128, 2), batch_size=64)
    for X, y in test_dataloader:
        first_shapes = [list(X.shape), list(y.shape), str(y.dtype).split(".")[-1]]
        break
    model = NeuralNetwork().to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    untrained_error = 1.0 - test(test_dataloader, model, loss_fn, device)[1]
    losses = []
    for _ in range(4):
        train(train_dataloader, model, loss_fn, optimizer, device)
        losses.append(test(test_dataloader, model, loss_fn, device)[0])
    accuracy = test(test_dataloader, model, loss_fn, device)[1]
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    model2 = NeuralNetwork()
    model2.load_state_dict(torch.load(buffer, weights_only=True))
    model2.eval()
    x = test_dataloader.dataset[0][0]
    with torch.no_grad():
        same = bool(torch.equal(model2(x), model(x)))
    return {
        "exact": {
            "shapes": first_shapes[0] + first_shapes[1],
            "dtype": first_shapes[2],
            "reloaded_same": same,
            "n_params": sum(p.numel() for p in model.parameters()),
        },
        "loose": {"test_loss": losses, "test_error": [untrained_error, 1.0 - accuracy]},
    }
