"""A VAE on the digits written with torch.distributions: the encoder gives a Normal posterior, rsample
carries the gradient through the draw, kl_divergence against the Normal prior, and a Bernoulli
decoder scored with log_prob (as the probabilistic-programming VAE tutorials write it)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from _data import digits
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.Linear(64, 48)
        self.mu = nn.Linear(48, latent)
        self.log_sigma = nn.Linear(48, latent)
        self.dec1 = nn.Linear(latent, 48)
        self.dec2 = nn.Linear(48, 64)
        self.latent = latent

    def posterior(self, x):
        h = F.relu(self.enc(x))
        return Independent(Normal(self.mu(h), self.log_sigma(h).exp()), 1)

    def prior(self, batch):
        zeros = torch.zeros(batch, self.latent)
        return Independent(Normal(zeros, torch.ones_like(zeros)), 1)

    def likelihood(self, z):
        return Independent(Bernoulli(logits=self.dec2(F.relu(self.dec1(z)))), 1)

    def forward(self, x):
        q = self.posterior(x)
        z = q.rsample()
        elbo = self.likelihood(z).log_prob(x) - kl_divergence(q, self.prior(x.shape[0]))
        return -elbo.mean()


def deterministic_checks():
    p = Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]))
    q = Normal(torch.tensor([0.5, -1.0]), torch.tensor([0.5, 1.5]))
    x = torch.tensor([0.3, -0.7])
    b = Bernoulli(probs=torch.tensor([0.25, 0.9]))
    return {
        "kl": kl_divergence(p, q).tolist(),
        "log_prob": p.log_prob(x).tolist(),
        "cdf": p.cdf(x).tolist(),
        "icdf": p.icdf(torch.tensor([0.1, 0.8])).tolist(),
        "entropy": p.entropy().tolist(),
        "bernoulli_log_prob": b.log_prob(torch.tensor([1.0, 0.0])).tolist(),
        "bernoulli_entropy": b.entropy().tolist(),
        "independent_log_prob": Independent(p, 1).log_prob(x).item(),
        "event_shape": list(Independent(p, 1).event_shape),
    }


def main():
    torch.manual_seed(3)
    images, _ = digits()
    data = torch.from_numpy((images[:640].reshape(-1, 64) / 16.0 > 0.5).astype("float32"))
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for epoch in range(6):
        total = 0.0
        for x in loader:
            optimizer.zero_grad()
            loss = model(x)
            loss.backward()
            optimizer.step()
            total += loss.item() * x.shape[0]
        losses.append(total / len(data))
    with torch.no_grad():
        samples = model.likelihood(model.prior(8).sample()).sample()
    exact = deterministic_checks()
    exact["samples_shape"] = list(samples.shape)
    return {"exact": exact, "loose": {"neg_elbo": losses}}
