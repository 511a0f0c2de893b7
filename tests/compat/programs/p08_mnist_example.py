"""The MNIST example: Conv2d, Dropout, max_pool2d, log_softmax and nll_loss, Adadelta with StepLR, and
the device chosen through torch.accelerator (8x8 digits from a CSV instead of the download)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from _data import digits
from torch.optim.lr_scheduler import StepLR


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1)
        self.conv2 = nn.Conv2d(16, 32, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(model, device, train_loader, optimizer):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    return test_loss / len(test_loader.dataset), correct / len(test_loader.dataset)


def main():
    torch.manual_seed(1)
    if torch.accelerator.is_available():
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")
    x, y = digits()
    x = (x / 16.0 - 0.3) / 0.35
    dataset1 = torch.utils.data.TensorDataset(torch.tensor(x[:600, None]), torch.tensor(y[:600]))
    dataset2 = torch.utils.data.TensorDataset(torch.tensor(x[1400:, None]), torch.tensor(y[1400:]))
    train_loader = torch.utils.data.DataLoader(dataset1, batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(dataset2, batch_size=200)
    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    losses, errors = [], [1 - test(model, device, test_loader)[1]]
    for epoch in range(1, 4):
        train(model, device, train_loader, optimizer)
        loss, acc = test(model, device, test_loader)
        losses.append(loss)
        errors.append(1 - acc)
        scheduler.step()
    return {
        "exact": {"lr": scheduler.get_last_lr()},
        "loose": {"test_loss": losses, "test_error": [errors[0], errors[-1]]},
    }
