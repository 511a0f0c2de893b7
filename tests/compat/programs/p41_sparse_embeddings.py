"""Skip-gram word vectors with negative sampling: nn.Embedding(sparse=True) tables trained with
SparseAdam, as word2vec scripts do, with logsigmoid losses and a cosine-similarity check."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SkipGram(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.u = nn.Embedding(vocab, dim, sparse=True)
        self.v = nn.Embedding(vocab, dim, sparse=True)
        nn.init.uniform_(self.u.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.v.weight)

    def forward(self, center, context, negatives):
        u = self.u(center)
        pos = F.logsigmoid((u * self.v(context)).sum(-1))
        neg = F.logsigmoid(-(self.v(negatives) @ u.unsqueeze(-1)).squeeze(-1)).sum(-1)
        return -(pos + neg).mean()


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    vocab = 20
    corpus = [int(w) for w in rng.integers(0, 10, 400)]
    corpus = [w if i % 2 == 0 else (corpus[i - 1] + 10) for i, w in enumerate(corpus)]  # w and w+10 co-occur
    pairs = np.array([(corpus[i], corpus[i + 1]) for i in range(len(corpus) - 1)])
    model = SkipGram(vocab, 8)
    optimizer = torch.optim.SparseAdam(list(model.parameters()), lr=0.05)
    losses = []
    for epoch in range(5):
        total = 0.0
        for start in range(0, len(pairs), 50):
            batch = torch.tensor(pairs[start : start + 50])
            negatives = torch.randint(0, vocab, (len(batch), 3))
            optimizer.zero_grad()
            loss = model(batch[:, 0], batch[:, 1], negatives)
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total / 8)
    sim = F.cosine_similarity(model.u.weight[:10], model.v.weight[10:], dim=1).mean().item()
    return {"exact": {"sparse": model.u.sparse}, "loose": {"loss": losses, "distance": [1.0, 1.0 - sim]}}
