"""An LSTM language model with projected hidden states (proj_size), stacked and bidirectional, with
its state dict keys and shapes, trained briefly on a repeating pattern."""

import torch
import torch.nn as nn


def main():
    torch.manual_seed(0)
    lstm = nn.LSTM(8, 16, num_layers=2, proj_size=4, bidirectional=True, batch_first=True)
    shapes = {k: list(v.shape) for k, v in lstm.state_dict().items()}
    embed, head = nn.Embedding(6, 8), nn.Linear(8, 6)
    params = list(lstm.parameters()) + list(embed.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=0.02)
    seq = torch.tensor([[0, 1, 2, 3, 4, 5] * 3] * 4)
    losses = []
    for step in range(30):
        optimizer.zero_grad()
        out, (h, c) = lstm(embed(seq[:, :-1]))
        loss = nn.functional.cross_entropy(head(out).reshape(-1, 6), seq[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        if step % 10 == 0 or step == 29:
            losses.append(loss.item())
    return {
        "exact": {"shapes": shapes, "h": list(h.shape), "c": list(c.shape), "repr": repr(lstm)},
        "loose": {"loss": losses},
    }
