"""A graph convolutional network with sparse-ish message passing: edges as index tensors, messages
gathered with index_select, summed into nodes with index_add_, degree normalisation, node
classification on a small two-community graph."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class GraphConv(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x, edge_index, norm):
        src, dst = edge_index
        messages = self.linear(x).index_select(0, src) * norm.unsqueeze(1)
        out = torch.zeros(x.size(0), messages.size(1))
        out.index_add_(0, dst, messages)
        return out


class GCN(nn.Module):
    def __init__(self, nfeat, nhid, nclass):
        super().__init__()
        self.gc1 = GraphConv(nfeat, nhid)
        self.gc2 = GraphConv(nhid, nclass)

    def forward(self, x, edge_index, norm):
        x = F.relu(self.gc1(x, edge_index, norm))
        x = F.dropout(x, 0.2, training=self.training)
        return F.log_softmax(self.gc2(x, edge_index, norm), dim=1)


def build_graph():
    rng = np.random.default_rng(0)
    n = 40
    labels = np.array([0] * 20 + [1] * 20)
    edges = set()
    for i in range(n):
        edges.add((i, i))
        for j in range(i + 1, n):
            p = 0.3 if labels[i] == labels[j] else 0.02
            if rng.random() < p:
                edges.add((i, j))
                edges.add((j, i))
    edge_index = torch.tensor(sorted(edges)).t().contiguous()
    features = (
        torch.tensor(rng.standard_normal((n, 8)).astype(np.float32)) + torch.tensor(labels)[:, None] * 0.5
    )
    return features, edge_index, torch.tensor(labels)


def main():
    torch.manual_seed(0)
    x, edge_index, y = build_graph()
    deg = torch.zeros(x.size(0)).index_add_(0, edge_index[1], torch.ones(edge_index.size(1)))
    norm = deg.pow(-0.5)[edge_index[0]] * deg.pow(-0.5)[edge_index[1]]
    train_mask = torch.zeros(40, dtype=torch.bool)
    train_mask[::4] = True
    model = GCN(8, 16, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    model.eval()
    untrained = (model(x, edge_index, norm).argmax(1)[~train_mask] != y[~train_mask]).float().mean().item()
    losses = []
    for epoch in range(40):
        model.train()
        optimizer.zero_grad()
        out = model(x, edge_index, norm)
        loss = F.nll_loss(out[train_mask], y[train_mask])
        loss.backward()
        optimizer.step()
        if epoch % 10 == 0 or epoch == 39:
            losses.append(loss.item())
    model.eval()
    pred = model(x, edge_index, norm).argmax(dim=1)
    error = (pred[~train_mask] != y[~train_mask]).float().mean().item()
    return {
        "exact": {"deg": deg, "norm_sum": norm.sum()},
        "loose": {"loss": losses, "error": [untrained, error]},
    }
