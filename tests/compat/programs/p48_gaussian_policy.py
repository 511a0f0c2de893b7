"""A Gaussian policy (continuous-action policy gradient, as in the PPO and SAC teaching code): the
action is drawn from Independent(Normal(mu, sigma), 1) with a learned log-std, scored with log_prob,
with an entropy bonus, on a 2-D point that should be pushed to a target."""

import math

import torch
import torch.nn as nn
from torch.distributions import Independent, MultivariateNormal, Normal


class GaussianPolicy(nn.Module):
    def __init__(self, obs_dim=2, act_dim=2):
        super().__init__()
        self.mu = nn.Sequential(nn.Linear(obs_dim, 32), nn.Tanh(), nn.Linear(32, act_dim))
        self.log_std = nn.Parameter(-0.5 * torch.ones(act_dim))

    def forward(self, obs):
        return Independent(Normal(self.mu(obs), self.log_std.exp()), 1)


def reward(obs, action):
    """The negative distance from the target (0.5, -0.5) after moving by the action."""
    target = torch.tensor([0.5, -0.5])
    return -((obs + action - target) ** 2).sum(-1)


def deterministic_checks():
    loc = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    scale = torch.tensor([[1.0, 0.5], [2.0, 1.5]])
    pi = Independent(Normal(loc, scale), 1)
    act = torch.tensor([[0.1, 0.9], [1.0, 0.0]])
    mvn = MultivariateNormal(loc, scale_tril=torch.diag_embed(scale))
    cov = torch.tensor([[1.0, 0.3], [0.3, 0.5]])
    full = MultivariateNormal(torch.zeros(2), covariance_matrix=cov)
    return {
        "log_prob": pi.log_prob(act).tolist(),
        "entropy": pi.entropy().tolist(),
        "mvn_log_prob": mvn.log_prob(act).tolist(),
        "full_log_prob": full.log_prob(act).tolist(),
        "full_entropy": full.entropy().item(),
        "scale_tril": full.scale_tril.tolist(),
        "shapes": [list(pi.batch_shape), list(pi.event_shape), list(pi.sample((3,)).shape)],
        "gaussian_constant": 0.5 * math.log(2 * math.pi),
    }


def main():
    torch.manual_seed(0)
    policy = GaussianPolicy()
    optimizer = torch.optim.Adam(policy.parameters(), lr=2e-2)
    returns = []
    for step in range(150):
        obs = torch.rand(64, 2) * 2 - 1
        pi = policy(obs)
        action = pi.sample()
        r = reward(obs, action)
        advantage = (r - r.mean()) / (r.std() + 1e-8)
        loss = -(pi.log_prob(action) * advantage).mean() - 1e-3 * pi.entropy().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        returns.append(-r.mean().item())
    first, last = sum(returns[:15]) / 15, sum(returns[-15:]) / 15
    return {"exact": deterministic_checks(), "loose": {"cost": [first, last]}}
