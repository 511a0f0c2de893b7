"""A project's data source made ready for training: loaded, split, preprocessed, and served in batches."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from studio.design import recipe
from studio.design.datasource import DEFAULT_SPLIT


class DataError(Exception):
    """The project's data cannot be loaded or used, said in plain words."""


@dataclass
class PreparedData:
    """Arrays for each split, plus what the run and the app need to know about them."""

    splits: dict  # name -> (x, y) numpy arrays
    task: str
    num_classes: int
    class_names: list
    input_shape: tuple
    summary: str
    preprocessing: dict = field(default_factory=dict)
    augmentation: dict = field(default_factory=dict)
    # the test rows as the file has them, before any preprocessing: (column names, rows), for tables
    raw_test: tuple | None = None

    def loader(self, split: str, batch_size: int, rng=None):
        """Batches of a split; shuffled (and augmented, for training images) when given `rng`."""
        x, y = self.splits.get(split, (None, None))
        if x is None:
            x = np.zeros((0, *self.input_shape), np.float32)
            y = np.zeros((0,), np.int64)
        augment = self.augmentation if split == "train" and x.ndim == 4 and rng is not None else None
        return ArrayLoader(x, y, batch_size, rng, augment)


class ArrayLoader:
    """Batches of in-memory arrays as tensors: one slice per batch instead of one index per sample.

    Shuffled, each pass draws a new order from `rng` (`recipe.batch_indices`), and augmentation draws
    from the same generator, batch by batch, as an exported script does."""

    def __init__(self, x, y, batch_size, rng=None, augment=None):
        if batch_size < 1:
            raise DataError(f"batch size must be at least 1, got {batch_size}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.rng = rng
        self.augment = {k: bool(v) for k, v in (augment or {}).items() if v}

    def __len__(self):
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        import studio.core as core

        for idx in recipe.batch_indices(len(self.x), self.batch_size, self.rng):
            xb, yb = self.x[idx], self.y[idx]
            if self.augment:
                xb = recipe.augment(xb, self.rng, **self.augment)
            yield core.from_numpy(np.ascontiguousarray(xb)), core.from_numpy(np.ascontiguousarray(yb))


def split_indices(n: int, fractions: dict, seed: int, labels=None) -> dict:
    """Shuffled, disjoint train/val/test indices in the given proportions, by class when `labels`."""
    try:
        return recipe.split_indices(n, fractions, seed, labels)
    except ValueError as e:
        raise DataError(str(e)) from None


def _standardise(splits: dict) -> dict:
    """Scale features by the training split's mean and spread, the same for every split."""
    mean, std = recipe.standardizer(splits["train"][0])
    for k, (x, y) in splits.items():
        splits[k] = (((x - mean) / std).astype(np.float32), y)
    return {"kind": "standardize", "mean": mean.ravel().tolist(), "std": std.ravel().tolist()}


def _from_arrays(x, y, data: dict, task: str, class_names, title: str, columns=None) -> PreparedData:
    labels = y if task == "classification" else None
    if labels is not None and len(np.unique(labels)) < 2:
        raise DataError(f"{title}: {_one_class(class_names, y)}")
    idx = split_indices(len(x), data.get("split") or DEFAULT_SPLIT, int(data.get("seed") or 0), labels)
    splits = {k: (x[v], y[v]) for k, v in idx.items()}
    raw = (list(columns), splits["test"][0]) if columns is not None and x.ndim == 2 else None
    pre = {}
    if x.dtype.kind == "f" and x.ndim == 2 and data.get("preprocessing", "standardize") == "standardize":
        pre = _standardise(splits)
    if task == "classification":
        num_classes = int(y.max()) + 1 if len(y) else 0
        if class_names is None:
            class_names = [str(i) for i in range(num_classes)]
        num_classes = max(num_classes, len(class_names))
    else:
        num_classes = 0
        class_names = []
    sizes = ", ".join(f"{len(splits[k][0])} {k}" for k in ("train", "val", "test"))
    return PreparedData(
        splits,
        task,
        num_classes,
        list(class_names),
        tuple(x.shape[1:]),
        f"{title}: {sizes}",
        pre,
        raw_test=raw,
    )


def prepare_data(project, progress=None, stop=None) -> PreparedData:
    """Load and split the data a project names (a sample, a CSV file or an image folder).

    Image folders report `progress(done, total)` as they are decoded and end with
    `studio.core.data.image_arrays.Cancelled` when `stop()` says so."""
    data = dict(project.data or {})
    kind = data.get("kind", "sample")
    if kind == "sample":
        from studio.design.samples import SAMPLE_INFO, load_sample, sample_class_names, sample_feature_names

        name = data.get("sample") or "iris"
        if name not in SAMPLE_INFO:
            raise DataError(f"unknown sample data set {name!r}: choose one of {', '.join(SAMPLE_INFO)}")
        x, y = load_sample(name)
        info = SAMPLE_INFO[name]
        classes, columns = sample_class_names(name), sample_feature_names(name)
        return _from_arrays(x, y, data, info["task"], classes, info["title"], columns)
    if kind == "csv":
        return _prepare_csv(project, data)
    if kind == "images":
        return _prepare_images(project, data, progress, stop)
    raise DataError(f"unknown data kind {kind!r}: choose sample, csv or images")


def _one_class(class_names, y) -> str:
    name = class_names[int(y[0])] if len(y) and class_names and int(y[0]) < len(class_names) else "?"
    return f"the target has only one class ({name!r}): a classifier needs at least two"


def _missing_strategy(data) -> str:
    """The engine's missing-value strategy for the data setting ("zero", from older files, is 'constant')."""
    missing = data.get("missing") or "mean"
    return "constant" if missing == "zero" else missing


def _prepare_csv(project, data):
    from studio.core.data.tabular import TabularPreprocessor, _label, read_csv
    from studio.design.datasource import class_codes, describe_table

    if not data.get("path"):
        raise DataError("no CSV file is chosen: pick one in the data panel")
    path = project.data_path()
    if not data.get("target"):
        raise DataError(f"{path.name}: no target column is chosen: pick the column to predict")
    try:
        df = read_csv(path)
        # the task and the classes come from the whole file; each class is split on its own
        info = describe_table(df, data, str(path))
        if info["problems"]:
            raise DataError(f"{path.name}: {info['problems'][0]}")
        pre = TabularPreprocessor(
            target=data["target"],
            features=info["features"],
            task=info["task"],
            missing=_missing_strategy(data),
            standardize=data.get("preprocessing", "standardize") == "standardize",
            # one-hot codes from the whole file, as the design's input width was sized
            categories=info["categories"],
        )
        labels = None
        if info["task"] == "classification":
            labels = class_codes(df[data["target"]].map(_label, na_action="ignore").to_numpy(dtype=object))
        idx = split_indices(len(df), data.get("split") or DEFAULT_SPLIT, int(data.get("seed") or 0), labels)
        # preprocessing is fitted on the training rows only, then applied alike to every split
        pre.fit(df.iloc[idx["train"]], str(path))
        splits = {k: pre.transform(df.iloc[v], str(path)) for k, v in idx.items()}
        features = list(info["features"])
        raw = (features, df.iloc[idx["test"]][features].to_numpy(dtype=object))
    except (OSError, ValueError, KeyError) as e:
        raise DataError(str(e)) from None
    task = pre.task
    classes = list(pre.classes or [])
    x = splits["train"][0]
    sizes = ", ".join(f"{len(splits[k][0])} {k}" for k in ("train", "val", "test"))
    if task == "regression":
        # one output column per sample, the shape the network's (N, 1) output has
        splits = {k: (xv, yv.reshape(-1, 1)) for k, (xv, yv) in splits.items()}
    return PreparedData(
        {k: (xv, yv) for k, (xv, yv) in splits.items()},
        task,
        len(classes) if task == "classification" else 0,
        classes,
        tuple(x.shape[1:]),
        f"{path.name} ({len(df)} rows, {x.shape[1]} features): {sizes}",
        pre.to_dict(),
        raw_test=raw,
    )


def image_cache_dir(project):
    """Where decoded images are cached: a folder beside the saved project (None when unsaved)."""
    return project.folder / ".studio-cache" if project.path else None


def _prepare_images(project, data, progress=None, stop=None):
    from studio.core.data.image_arrays import load_arrays

    if not data.get("path"):
        raise DataError("no image folder is chosen: pick one in the data panel")
    root = project.data_path()
    size = tuple(int(v) for v in (data.get("image_size") or (28, 28)))
    mode = data.get("image_mode") or "L"
    try:
        images = load_arrays(
            root, mode, size, cache_dir=image_cache_dir(project), progress=progress, stop=stop
        )
    except (OSError, ValueError) as e:
        raise DataError(str(e)) from None
    if len(images.x) == 0:
        raise DataError(f"no readable images under {root}: expected one sub-folder of images per class")
    xs = np.asarray(images.x, dtype=np.float32)
    xs /= np.float32(255)  # as ToTensor scales 8-bit values
    prepared = _from_arrays(
        xs,
        images.y,
        data,
        "classification",
        images.classes,
        f"{root.name} ({len(xs)} images, {len(images.classes)} classes, {mode} {size[0]}x{size[1]})",
    )
    if images.skipped:
        prepared.summary += f"; {len(images.skipped)} unreadable image(s) left out"
    prepared.augmentation = dict(data.get("augmentation") or {})
    return prepared
