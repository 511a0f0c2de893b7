"""Training a classifier: the CIFAR-10 tutorial's small CNN (conv, pool, fully connected) on synthetic
3x32x32 images of four classes, with SGD and momentum."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 4)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def main():
    rng = np.random.default_rng(0)
    protos = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 4, 64)
    images = protos[labels] + 0.5 * rng.standard_normal((64, 3, 32, 32)).astype(np.float32)
    trainset = torch.utils.data.TensorDataset(torch.tensor(images), torch.tensor(labels))
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=16, shuffle=True, num_workers=0)
    torch.manual_seed(0)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    with torch.no_grad():
        untrained = (net(torch.tensor(images)).argmax(1) != torch.tensor(labels)).float().mean().item()
    epoch_losses = []
    for epoch in range(4):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels_b = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels_b)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        epoch_losses.append(running_loss / len(trainloader))
    correct = 0
    with torch.no_grad():
        outputs = net(torch.tensor(images))
        _, predicted = torch.max(outputs, 1)
        correct = (predicted == torch.tensor(labels)).sum().item()
    return {
        "exact": {"out_shape": list(outputs.shape)},
        "loose": {"loss": epoch_losses, "error": [untrained, 1 - correct / 64]},
    }
