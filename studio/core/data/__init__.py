"""Datasets, samplers, the DataLoader, transforms and sample data (`torch.utils.data` under studio's name).

Tabular, image and sample data load pandas and Pillow on first use, so that importing the engine
(and starting a worker process) stays quick.
"""

from __future__ import annotations

import importlib

from ._worker import WorkerInfo, get_worker_info
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

_LAZY = {
    "transforms": (".transforms", None),
    "tabular": (".tabular", None),
    "images": (".images", None),
    "samples": (".samples", None),
    "CSVDataset": (".tabular", "CSVDataset"),
    "TabularPreprocessor": (".tabular", "TabularPreprocessor"),
    "TabularError": (".tabular", "TabularError"),
    "column_summaries": (".tabular", "column_summaries"),
    "ImageFolder": (".images", "ImageFolder"),
    "load_sample": (".samples", "load_sample"),
    "list_samples": (".samples", "list_samples"),
    "digits_image_folder": (".samples", "digits_image_folder"),
}


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        from .._missing import module_getattr

        return module_getattr(__name__, "torch.utils.data", name)
    mod = importlib.import_module(module, __name__)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BatchSampler",
    "CSVDataset",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "ImageFolder",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TabularError",
    "TabularPreprocessor",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "column_summaries",
    "default_collate",
    "default_convert",
    "digits_image_folder",
    "get_worker_info",
    "list_samples",
    "load_sample",
    "random_split",
    "transforms",
]
