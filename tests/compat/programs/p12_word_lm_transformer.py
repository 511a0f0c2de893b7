"""Word language model (Transformer variant): PositionalEncoding as a registered buffer, a
TransformerEncoder with a causal mask, scaled embeddings, Adam, perplexity."""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        pe = pe.unsqueeze(0).transpose(0, 1)
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[: x.size(0), :]
        return self.dropout(x)


class TransformerModel(nn.Module):
    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.1):
        super().__init__()
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        encoder_layers = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, src):
        mask = nn.Transformer.generate_square_subsequent_mask(len(src))
        src = self.encoder(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, mask)
        output = self.decoder(output)
        return F.log_softmax(output, dim=-1)


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    ntokens = 16
    seq = [int(rng.integers(ntokens))]
    for _ in range(1499):
        seq.append((seq[-1] + 5) % ntokens if rng.random() < 0.9 else int(rng.integers(ntokens)))
    data = torch.tensor(seq).view(12, -1).t().contiguous()
    model = TransformerModel(ntokens, 16, 2, 32, 2, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    criterion = nn.NLLLoss()
    losses = []
    for epoch in range(3):
        total, n = 0.0, 0
        for i in range(0, data.size(0) - 1, 12):
            seq_len = min(12, data.size(0) - 1 - i)
            x, y = data[i : i + seq_len], data[i + 1 : i + 1 + seq_len].reshape(-1)
            optimizer.zero_grad()
            out = model(x)
            loss = criterion(out.view(-1, ntokens), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            total, n = total + loss.item(), n + 1
        losses.append(total / n)
    pe = PositionalEncoding(8, 0.0, 10)
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    return {
        "exact": {"pe": pe.pe, "mask": mask, "buffers": [name for name, _ in pe.named_buffers()]},
        "loose": {"loss": losses},
    }
