"""A data pipeline as real scripts build one: a map-style Dataset subclass with a transform, a
collate_fn, random_split with a seeded generator, samplers (weighted, endless random with
replacement, batch), drop_last, and worker processes."""

import itertools

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    WeightedRandomSampler,
    random_split,
)

from _data import iris


class IrisDataset(Dataset):
    def __init__(self, transform=None):
        self.x, self.y = iris()
        self.transform = transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, idx):
        sample = torch.from_numpy(self.x[idx])
        if self.transform:
            sample = self.transform(sample)
        return sample, int(self.y[idx])


def collate(batch):
    xs, ys = zip(*batch)
    return torch.stack(xs), torch.tensor(ys)


def main():
    mean = torch.tensor(iris()[0].mean(0))
    ds = IrisDataset(transform=lambda s: s - mean)
    train, val = random_split(ds, [120, 30], generator=torch.Generator().manual_seed(42))
    loader = DataLoader(train, batch_size=32, shuffle=True, collate_fn=collate, drop_last=True, num_workers=2)
    shapes = [tuple(xb.shape) for xb, _ in loader]
    counts = np.bincount(np.array(iris()[1]))
    weights = [1.0 / counts[y] for y in iris()[1]]
    # PyTorch draws every index of a weighted sampler at once: a size it can take (tests/core checks
    # that Studio draws lazily, at any size)
    sampler = WeightedRandomSampler(weights, num_samples=10**6, replacement=True)
    drawn = list(itertools.islice(iter(sampler), 3000))
    share = np.bincount(np.array(iris()[1])[drawn], minlength=3) / 3000
    endless = DataLoader(ds, batch_size=16, sampler=RandomSampler(ds, replacement=True, num_samples=10**10))
    first = next(iter(endless))
    batches = list(BatchSampler(SequentialSampler(range(10)), batch_size=4, drop_last=False))
    tensor_ds = TensorDataset(torch.arange(6).float(), torch.arange(6) % 2)
    sub = Subset(tensor_ds, [1, 3, 5])
    return {
        "exact": {
            "sizes": [len(train), len(val)],
            "shapes": [list(s) for s in shapes],
            "len_loader": len(loader),
            "share_balanced": bool(np.all(np.abs(share - 1 / 3) < 0.05)),
            "endless_len": len(endless),
            "first_shape": list(first[0].shape),
            "batches": batches,
            "sub": [float(sub[i][0]) for i in range(3)],
        }
    }
