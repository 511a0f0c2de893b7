"""Variational auto-encoder (the VAE example): encoder and decoder of Linear layers, the
reparameterisation trick with randn_like, binary cross-entropy plus KL divergence, Adam."""

import torch
from _data import digits
from torch import nn, optim
from torch.nn import functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc21 = nn.Linear(32, 4)
        self.fc22 = nn.Linear(32, 4)
        self.fc3 = nn.Linear(4, 32)
        self.fc4 = nn.Linear(32, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main():
    torch.manual_seed(1)
    images, _ = digits()
    data = torch.from_numpy(images[:800] / 16.0)
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    epoch_loss = []
    for epoch in range(5):
        model.train()
        train_loss = 0
        for batch_idx, x in enumerate(loader):
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(x)
            loss = loss_function(recon_batch, x, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        epoch_loss.append(train_loss / len(loader.dataset))
    with torch.no_grad():
        sample = torch.randn(16, 4)
        sample = model.decode(sample).cpu()
    return {"exact": {"sample_shape": list(sample.view(16, 1, 8, 8).shape)}, "loose": {"loss": epoch_loss}}
