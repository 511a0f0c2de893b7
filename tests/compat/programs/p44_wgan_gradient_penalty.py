"""A WGAN-GP critic step: the gradient penalty takes autograd.grad of the critic's output with
create_graph=True at points between real and fake samples, and its gradient trains the critic."""

import torch
import torch.nn as nn


def gradient_penalty(critic, real, fake):
    alpha = torch.linspace(0, 1, real.size(0)).unsqueeze(1)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(interpolates)
    gradients = torch.autograd.grad(
        outputs=scores,
        inputs=interpolates,
        grad_outputs=torch.ones_like(scores),
        create_graph=True,
        retain_graph=True,
    )[0]
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


def main():
    critic = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    with torch.no_grad():
        for i, p in enumerate(critic.parameters()):
            p.copy_(torch.linspace(-0.8, 0.8, p.numel()).reshape(p.shape) * (1 + i % 2))
    real = torch.linspace(-1, 1, 16).reshape(8, 2)
    fake = torch.linspace(1, -0.5, 16).reshape(8, 2)
    gp = gradient_penalty(critic, real, fake)
    loss = critic(fake).mean() - critic(real).mean() + 10 * gp
    loss.backward()
    return {
        "exact": {
            "gp": gp,
            "loss": loss,
            "grad_first": critic[0].weight.grad,
            "grad_last": critic[2].bias.grad,
        }
    }
