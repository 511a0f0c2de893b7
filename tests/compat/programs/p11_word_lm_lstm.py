"""Word language model (RNN variant): Embedding, LSTM, Dropout, a tied decoder, batchify, truncated
backpropagation with repackaged hidden states, clip_grad_norm_, and a hand-written SGD step."""

import math

import numpy as np
import torch
import torch.nn as nn


class RNNModel(nn.Module):
    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return torch.nn.functional.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (
                weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid),
            )
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def get_batch(source, i, bptt=10):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].view(-1)


def main():
    torch.manual_seed(1111)
    rng = np.random.default_rng(0)
    ntokens = 20
    # a corpus with structure: each token is usually followed by (token * 3) % ntokens
    tokens = [0]
    for _ in range(2000):
        tokens.append((tokens[-1] * 3 + 1) % ntokens if rng.random() < 0.9 else int(rng.integers(ntokens)))
    train_data = batchify(torch.tensor(tokens, dtype=torch.long), 8)
    model = RNNModel("LSTM", ntokens, 16, 32, 2, dropout=0.2, tie_weights=False)
    criterion = nn.NLLLoss()
    lr, clip = 5.0, 0.25
    epoch_loss = []
    for epoch in range(3):
        model.train()
        total_loss, batches = 0.0, 0
        hidden = model.init_hidden(8)
        for i in range(0, train_data.size(0) - 1, 10):
            data, targets = get_batch(train_data, i)
            model.zero_grad()
            hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            total_loss += loss.item()
            batches += 1
        epoch_loss.append(total_loss / batches)
    return {
        "exact": {"batched_shape": list(train_data.shape), "hidden_shape": list(hidden[0].shape)},
        "loose": {"loss": epoch_loss, "ppl": [math.exp(epoch_loss[0]), math.exp(epoch_loss[-1])]},
    }
