"""Super-resolution (the sub-pixel convolution example): Conv2d layers ending in PixelShuffle,
orthogonal initialisation with a ReLU gain, MSE training and PSNR, on digits downscaled by bilinear
interpolation."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.init as init
import torch.optim as optim
from _data import digits


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 16, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(16, 16, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(16, upscale_factor**2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.pixel_shuffle(self.conv3(x))
        return x

    def _initialize_weights(self):
        init.orthogonal_(self.conv1.weight, init.calculate_gain("relu"))
        init.orthogonal_(self.conv2.weight, init.calculate_gain("relu"))
        init.orthogonal_(self.conv3.weight)


def main():
    torch.manual_seed(123)
    images, _ = digits()
    high = torch.from_numpy(images[:256, None] / 16.0)
    low = F.interpolate(high, scale_factor=0.5, mode="bilinear", align_corners=False)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(low, high), batch_size=32, shuffle=True
    )
    model = Net(upscale_factor=2)
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    psnrs = []
    for epoch in range(4):
        for input, target in loader:
            optimizer.zero_grad()
            loss = criterion(model(input), target)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            mse = criterion(model(low), high).item()
            psnrs.append(10 * math.log10(1 / mse))
    return {
        "exact": {
            "low": low[:2],
            "gain": init.calculate_gain("relu"),
            "out_shape": list(model(low[:2]).shape),
        },
        "loose": {"negative_psnr": [-p for p in psnrs]},
    }
