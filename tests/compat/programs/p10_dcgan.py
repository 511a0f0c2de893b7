"""DCGAN: generator of ConvTranspose2d + BatchNorm2d + ReLU + Tanh, discriminator of Conv2d +
LeakyReLU + Sigmoid, custom weight init with nn.init, BCELoss, two Adam optimizers (16x16 images)."""

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

nz, ngf, ndf, nc = 8, 8, 8, 1


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


def main():
    torch.manual_seed(999)
    rng = np.random.default_rng(0)
    xs = np.linspace(-1, 1, 16, dtype=np.float32)
    blobs = []
    for _ in range(64):
        cx, cy = rng.uniform(-0.5, 0.5, 2)
        blobs.append(np.exp(-((xs[None] - cx) ** 2 + (xs[:, None] - cy) ** 2) * 8) * 2 - 1)
    real_data = torch.tensor(np.stack(blobs)[:, None].astype(np.float32))
    dataloader = torch.utils.data.DataLoader(real_data, batch_size=32, shuffle=True)
    netG, netD = Generator(), Discriminator()
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(4, nz, 1, 1)
    real_label, fake_label = 1.0, 0.0
    optimizerD = optim.Adam(netD.parameters(), lr=0.002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.002, betas=(0.5, 0.999))
    d_losses, g_losses = [], []
    for epoch in range(3):
        for i, data in enumerate(dataloader, 0):
            netD.zero_grad()
            b_size = data.size(0)
            label = torch.full((b_size,), real_label, dtype=torch.float)
            output = netD(data)
            errD_real = criterion(output, label)
            errD_real.backward()
            noise = torch.randn(b_size, nz, 1, 1)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            optimizerD.step()
            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            optimizerG.step()
            d_losses.append((errD_real + errD_fake).item())
            g_losses.append(errG.item())
    with torch.no_grad():
        fake = netG(fixed_noise).detach().cpu()
    finite = bool(np.isfinite(np.array(d_losses + g_losses)).all())
    return {
        "exact": {"fake_shape": list(fake.shape), "finite": finite, "in_range": bool(fake.abs().max() <= 1)}
    }
