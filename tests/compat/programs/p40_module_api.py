"""The nn.Module API that real code leans on: registered buffers and parameters, ModuleList and
ModuleDict, named_modules and children, forward hooks and pre-hooks, train/eval, requires_grad_,
state_dict keys, zero_grad, and parameter counts."""

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(dim, dim) for _ in range(2)])
        self.acts = nn.ModuleDict({"relu": nn.ReLU(), "tanh": nn.Tanh()})
        self.scale = nn.Parameter(torch.ones(dim))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("scratch", torch.zeros(dim), persistent=False)

    def forward(self, x):
        self.steps += 1
        for layer, act in zip(self.layers, self.acts.values()):
            x = act(layer(x))
        return x * self.scale


def main():
    model = nn.Sequential(Block(4), nn.Dropout(0.5), nn.Linear(4, 2))
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.linspace(-1, 1, p.numel()).reshape(p.shape) * (0.5 + 0.1 * i))
    seen = []
    handle = model[0].register_forward_hook(lambda m, inp, out: seen.append(list(out.shape)))
    model[2].register_forward_pre_hook(lambda m, inp: seen.append(len(inp)))
    model.eval()
    x = torch.linspace(-1, 1, 12).reshape(3, 4)
    y = model(x)
    handle.remove()
    model(x)
    model.train()
    model[0].layers[0].requires_grad_(False)
    model(x).sum().backward()
    model.zero_grad()
    return {
        "exact": {
            "y": y,
            "keys": list(model.state_dict().keys()),
            "seen": seen,
            "steps": model[0].steps.item(),
            "modules": [name for name, _ in model.named_modules()],
            "children": len(list(model.children())),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "total": sum(p.numel() for p in model.parameters()),
            "grads_cleared": all(p.grad is None for p in model.parameters()),
            "training": [m.training for m in model.modules()][:3],
            "repr_first": repr(model).splitlines()[0],
        }
    }
