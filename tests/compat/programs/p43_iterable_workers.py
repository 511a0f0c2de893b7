"""An IterableDataset sharded across DataLoader workers with get_worker_info, a worker_init_fn, a
seeded generator, persistent workers over two epochs, and a map-style dataset with __getitems__-free
default collation of dicts."""

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info


class RangeStream(IterableDataset):
    def __init__(self, start, end):
        self.start, self.end = start, end

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            lo, hi = self.start, self.end
        else:
            per = int(np.ceil((self.end - self.start) / info.num_workers))
            lo = self.start + info.id * per
            hi = min(lo + per, self.end)
        return iter(range(lo, hi))


class Records(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return {"x": torch.full((2,), float(i)), "y": i % 3, "name": f"r{i}"}


def seed_worker(worker_id):
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)


def main():
    stream = RangeStream(3, 17)
    single = sorted(int(v) for v in DataLoader(stream, batch_size=None))
    multi = sorted(int(v) for b in DataLoader(stream, batch_size=4, num_workers=2) for v in b)
    g = torch.Generator()
    g.manual_seed(0)
    loader = DataLoader(
        Records(),
        batch_size=4,
        shuffle=True,
        num_workers=2,
        worker_init_fn=seed_worker,
        generator=g,
        persistent_workers=True,
    )
    epochs = [sorted(int(v) for batch in loader for v in batch["y"]) for _ in range(2)]
    first = next(iter(DataLoader(Records(), batch_size=3)))
    return {
        "exact": {
            "single": single,
            "multi": multi,
            "epoch_labels": epochs,
            "batch_keys": sorted(first.keys()),
            "x": first["x"],
            "y": first["y"],
            "names": first["name"],
        }
    }
