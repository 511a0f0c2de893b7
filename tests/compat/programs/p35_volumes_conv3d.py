"""3-D convolution on small volumes: Conv3d with padding, stride and groups, BatchNorm3d, and a
classifier of bright corners trained with Adam."""

import numpy as np
import torch
import torch.nn as nn


class Net3D(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(1, 4, kernel_size=3, padding=1),
            nn.BatchNorm3d(4),
            nn.ReLU(),
            nn.Conv3d(4, 8, kernel_size=3, stride=2, padding=1, groups=2),
            nn.ReLU(),
        )
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        x = self.features(x)
        return self.fc(x.mean(dim=(2, 3, 4)))


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 48)
    vols = rng.standard_normal((48, 1, 6, 6, 6)).astype(np.float32) * 0.3
    vols[labels == 1, :, :3, :3, :3] += 1.0
    x, y = torch.tensor(vols), torch.tensor(labels)
    model = Net3D()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for step in range(25):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        if step % 6 == 0 or step == 24:
            losses.append(loss.item())
    conv = nn.Conv3d(2, 4, (2, 3, 1), stride=(1, 2, 1), groups=2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.linspace(-1, 1, conv.weight.numel()).reshape(conv.weight.shape))
    fixed = conv(torch.linspace(0, 1, 2 * 2 * 3 * 5 * 4).reshape(2, 2, 3, 5, 4))
    return {"exact": {"fixed": fixed}, "loose": {"loss": losses}}
