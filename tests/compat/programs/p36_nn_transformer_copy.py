"""The full encoder-decoder nn.Transformer on a copy task: embeddings, a causal target mask, key
padding masks, teacher forcing, and greedy decoding."""

import numpy as np
import torch
import torch.nn as nn

PAD, BOS, VOCAB = 0, 1, 10


class Seq2Seq(nn.Module):
    def __init__(self, d_model=32):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d_model, padding_idx=PAD)
        self.pos = nn.Parameter(torch.randn(1, 16, d_model) * 0.1)
        self.transformer = nn.Transformer(
            d_model=d_model,
            nhead=4,
            num_encoder_layers=1,
            num_decoder_layers=1,
            dim_feedforward=64,
            dropout=0.0,
            batch_first=True,
        )
        self.out = nn.Linear(d_model, VOCAB)

    def forward(self, src, tgt):
        tgt_mask = self.transformer.generate_square_subsequent_mask(tgt.size(1))
        h = self.transformer(
            self.embed(src) + self.pos[:, : src.size(1)],
            self.embed(tgt) + self.pos[:, : tgt.size(1)],
            tgt_mask=tgt_mask,
            src_key_padding_mask=src == PAD,
            tgt_key_padding_mask=tgt == PAD,
        )
        return self.out(h)


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    src = rng.integers(2, VOCAB, (64, 6))
    src[::4, -2:] = PAD
    src = torch.tensor(src)
    tgt_in = torch.cat([torch.full((64, 1), BOS), src[:, :-1]], dim=1)
    model = Seq2Seq()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []
    for step in range(40):
        optimizer.zero_grad()
        logits = model(src, tgt_in)
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), src.reshape(-1), ignore_index=PAD)
        loss.backward()
        optimizer.step()
        if step % 10 == 0 or step == 39:
            losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        ys = torch.full((2, 1), BOS)
        for _ in range(6):
            next_token = model(src[:2], ys)[:, -1].argmax(-1, keepdim=True)
            ys = torch.cat([ys, next_token], dim=1)
    return {"exact": {"decoded_shape": list(ys.shape)}, "loose": {"loss": losses}}
