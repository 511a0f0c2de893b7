"""Acceptance: recurrent and attention models learn small synthetic sequence tasks in a few seconds."""

from __future__ import annotations

import numpy as np

import studio.core as sc
from studio.core import nn
from studio.core.nn import functional as F


def _accuracy(logits, y):
    return float((logits.detach().numpy().argmax(-1) == y.numpy()).mean())


def _majority_sign_data(rng, n, steps=9):
    """Sequences of +-1 (with noise); the class is the sign that occurs most often."""
    signs = rng.choice([-1.0, 1.0], size=(n, steps))
    x = np.stack([signs, rng.normal(0, 0.3, size=(n, steps))], axis=-1).astype(np.float32)
    y = (signs.sum(axis=1) > 0).astype(np.int64)
    return sc.tensor(x), sc.tensor(y)


class _LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 24, batch_first=True)
        self.head = nn.Linear(24, 2)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


def _train(model, x, y, rng, lr, epochs=3, batch=64):
    """A few epochs of Adam on shuffled mini-batches, then evaluation mode."""
    opt = sc.optim.Adam(model.parameters(), lr=lr)
    for _epoch in range(epochs):
        order = rng.permutation(len(y))
        for i in range(0, len(order), batch):
            idx = sc.tensor(order[i : i + batch])
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


def test_lstm_learns_majority_of_a_sequence():
    rng = np.random.default_rng(0)
    x, y = _majority_sign_data(rng, 2048)
    x_test, y_test = _majority_sign_data(rng, 512)
    model = _LSTMClassifier()
    _train(model, x, y, rng, lr=0.02)
    with sc.no_grad():
        assert _accuracy(model(x_test), y_test) >= 0.95


def _contains_token_data(rng, n, length=8, vocab=10, token=0):
    """Token sequences; the class says whether `token` appears anywhere in the sequence."""
    seq = rng.integers(1, vocab, size=(n, length))
    has = rng.random(n) < 0.5
    pos = rng.integers(0, length, size=n)
    seq[has, pos[has]] = token
    return sc.tensor(seq), sc.tensor(has.astype(np.int64))


class _TokenTransformer(nn.Module):
    def __init__(self, vocab=10, d=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        layer = nn.TransformerEncoderLayer(d, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(d, 2)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


def test_two_layer_transformer_learns_whether_a_token_appears():
    rng = np.random.default_rng(1)
    x, y = _contains_token_data(rng, 2048)
    x_test, y_test = _contains_token_data(rng, 512)
    model = _TokenTransformer()
    _train(model, x, y, rng, lr=0.005)
    with sc.no_grad():
        assert _accuracy(model(x_test), y_test) >= 0.95
