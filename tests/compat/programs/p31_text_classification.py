"""Text classification with EmbeddingBag (the torchtext tutorial's model): token lists flattened with
offsets, mean-pooled bags, a linear head, SGD with StepLR and gradient clipping."""

import numpy as np
import torch
from torch import nn


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_class):
        super(TextClassificationModel, self).__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        self.init_weights()

    def init_weights(self):
        initrange = 0.5
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.fc.weight.data.uniform_(-initrange, initrange)
        self.fc.bias.data.zero_()

    def forward(self, text, offsets):
        embedded = self.embedding(text, offsets)
        return self.fc(embedded)


def collate_batch(batch):
    label_list, text_list, offsets = [], [], [0]
    for _label, _text in batch:
        label_list.append(_label)
        processed_text = torch.tensor(_text, dtype=torch.int64)
        text_list.append(processed_text)
        offsets.append(processed_text.size(0))
    label_list = torch.tensor(label_list, dtype=torch.int64)
    offsets = torch.tensor(offsets[:-1]).cumsum(dim=0)
    text_list = torch.cat(text_list)
    return label_list, text_list, offsets


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    vocab, classes = 30, 3
    data = []
    for _ in range(240):
        label = int(rng.integers(classes))
        words = list(rng.integers(label * 10, label * 10 + 10, rng.integers(3, 9))) + list(
            rng.integers(0, vocab, 2)
        )
        data.append((label, [int(w) for w in words]))
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True, collate_fn=collate_batch)
    model = TextClassificationModel(vocab, 16, classes)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=5)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.1)
    losses = []
    for epoch in range(3):
        model.train()
        total, count = 0.0, 0
        for label, text, offsets in loader:
            optimizer.zero_grad()
            predicted_label = model(text, offsets)
            loss = criterion(predicted_label, label)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            optimizer.step()
            total, count = total + loss.item(), count + 1
        losses.append(total / count)
        scheduler.step()
    label, text, offsets = collate_batch(data[:3])
    return {"exact": {"offsets": offsets, "text_len": len(text)}, "loose": {"loss": losses}}
