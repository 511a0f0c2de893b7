"""One description of a project's data, for `studio new`, `studio info`, the Data panel and training alike:
its features, task, classes with their counts, input shape and split, and the problems that would make
a run fail or mislead, found when the data is chosen rather than at the first batch of training."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from .recipe import split_indices
from .samples import SAMPLE_INFO, sample_class_names

DEFAULT_SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


class DataError(ValueError):
    """A data source that cannot be used; the message says what is wrong."""


def class_codes(values) -> np.ndarray:
    """Integer codes of target values for a stratified split (missing values are a group of their own),
    in the sorted order of the values, as the classes are numbered: exported scripts split by class
    numbers, and the order of the groups decides the order of the rows in each split."""
    import pandas as pd

    codes = pd.factorize(pd.Series(values, dtype=object), sort=True)[0]  # -1 for a missing value
    return np.where(codes < 0, codes.max(initial=-1) + 1, codes)


# ---------------------------------------------------------------------------------------------------
# Descriptions
# ---------------------------------------------------------------------------------------------------


@dataclass
class DataSpec(Mapping):
    """What a data source gives a run: its kind, input shape and dtype, task, classes and their counts,
    feature columns or image mode and size, and the problems found. Also a read-only mapping of its
    fields (`spec["task"]`, `dict(spec)`), as descriptions are shown and saved as JSON."""

    kind: str
    input_shape: tuple
    dtype: str
    task: str
    num_classes: int
    class_names: list
    class_counts: list
    rows: int
    summary: str
    target: str | None = None
    features: list = field(default_factory=list)
    categories: dict = field(default_factory=dict)  # a table's text columns: their one-hot categories
    image_size: list | None = None
    image_mode: str | None = None
    problems: list = field(default_factory=list)

    def __getitem__(self, key):
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(self._names())

    def __len__(self):
        return len(self._names())

    @classmethod
    def _names(cls) -> tuple:
        return tuple(f.name for f in fields(cls))


def data_settings_for(value: str, target: str | None = None) -> dict:
    """The data settings of a path or a sample name: an image folder, a CSV file or a sample data set."""
    p = Path(value)
    if value in SAMPLE_INFO and not p.exists():
        if target:
            raise DataError(f"a target column applies to CSV files; the sample {value!r} has its own target")
        return {"kind": "sample", "sample": value, "path": None}
    if p.is_dir():
        return {"kind": "images", "path": str(p.resolve())}
    if p.is_file():
        if p.suffix.lower() not in (".csv", ".txt", ".tsv"):
            raise DataError(f"{value}: expected a CSV file, an image folder or a sample name")
        return {"kind": "csv", "path": str(p.resolve()), "target": target}
    raise DataError(f"{value!r} is neither a file, a folder nor a sample ({', '.join(SAMPLE_INFO)})")


def _class_checks(info: dict, labels, data: dict) -> None:
    """Problems of a classification target: one class only, or a class the training split misses.
    `labels` holds each row's class name (missing targets as NaN), split as a run splits them."""
    names = info["class_names"]
    if len(names) == 1:
        info["problems"].append(
            f"the target has only one class ({names[0]!r}): a classifier needs at least two; "
            "choose another target column or add examples of other classes"
        )
    if not len(labels):
        return
    split = data.get("split") or DEFAULT_SPLIT
    idx = split_indices(len(labels), split, int(data.get("seed") or 0), class_codes(labels))
    in_train = set(np.asarray(labels, dtype=object)[idx["train"]].tolist())
    absent = [n for n in names if n not in in_train]
    if absent:
        info["problems"].append(
            f"no training rows for the class(es) {', '.join(map(repr, absent[:5]))}: "
            "give them more examples or raise the training fraction"
        )


def describe_sample(name: str) -> DataSpec:
    """What a sample data set looks like; its arrays are read for the class counts."""
    from .samples import load_sample

    if name not in SAMPLE_INFO:
        raise DataError(f"unknown sample data set {name!r}; samples: {', '.join(SAMPLE_INFO)}")
    info = SAMPLE_INFO[name]
    _, y = load_sample(name)
    k = int(info.get("num_classes", 0))
    return DataSpec(
        kind="sample",
        input_shape=tuple(info["input_shape"]),
        dtype=info["dtype"],
        task=info["task"],
        num_classes=k,
        class_names=sample_class_names(name),
        class_counts=np.bincount(y, minlength=k).tolist(),
        rows=len(y),
        summary=info["title"],
    )


def describe_table(df, data: dict, source=None) -> DataSpec:
    """What a table (the whole of it) gives a run: features, task, classes and input width."""
    from studio.core.data.tabular import TabularError, TabularPreprocessor, _label, feature_columns

    name = Path(source).name if source else "the table"
    if df.shape[1] < 2:
        raise DataError(f"{name} has {df.shape[1]} column(s): a table needs features and a target")
    target = data.get("target") or df.columns[-1]
    if target not in df.columns:
        raise DataError(f"{name} has no column {target!r}; columns: {', '.join(map(str, df.columns))}")
    task = data.get("task") if data.get("task") in ("classification", "regression") else "auto"
    missing = data.get("missing") or "mean"
    try:
        features = feature_columns(df.columns, target, data.get("features"))
        pre = TabularPreprocessor(
            target=target,
            features=features,
            task=task,
            missing="constant" if missing == "zero" else missing,
            standardize=data.get("preprocessing", "standardize") == "standardize",
        )
        pre.fit(df, source)
    except TabularError as e:
        raise DataError(str(e)) from None
    info = {
        "kind": "csv",
        "input_shape": (pre.num_features,),
        "dtype": "float32",
        "task": pre.task,
        "num_classes": len(pre.classes) if pre.task == "classification" else 0,
        "class_names": list(pre.classes or []),
        "class_counts": [],
        "rows": len(df),
        "target": str(target),
        "features": [str(f) for f in features],
        "categories": pre.categories(),
        "problems": [],
        "summary": f"{name} ({len(df)} rows, {len(features)} feature columns, {pre.num_features} inputs)",
    }
    if pre.task == "classification":
        labels = df[target].map(_label, na_action="ignore")
        counts = labels.value_counts()
        info["class_counts"] = [int(counts.get(c, 0)) for c in info["class_names"]]
        _class_checks(info, labels.to_numpy(dtype=object), data)
    return DataSpec(**info)


IMAGE_SIZE_CAP = 64  # the largest side proposed for a folder's images; bigger images are scaled down


def _image_format(ds, data: dict) -> tuple[tuple, str]:
    """The size and mode the data settings give, or (unset) those the folder's images share."""
    size, mode = data.get("image_size"), data.get("image_mode")
    if not size or not mode:
        from studio.core.data.image_arrays import survey

        try:
            found = survey(ds.root, cap=IMAGE_SIZE_CAP)
        except (OSError, ValueError):  # no readable images: a starting point all the same
            found = {"size": (28, 28), "mode": "L"}
        size, mode = size or found["size"], mode or found["mode"]
    return tuple(int(v) for v in size), mode


def describe_folder(ds, data: dict) -> DataSpec:
    """What an image folder (a studio.core.data.ImageFolder) gives a run."""
    size, mode = _image_format(ds, data)
    channels = 3 if mode == "RGB" else 1
    labels = np.asarray(ds.targets, np.int64)
    info = {
        "kind": "images",
        "image_size": list(size),
        "image_mode": mode,
        "input_shape": (channels, *size),
        "dtype": "float32",
        "task": "classification",
        "num_classes": len(ds.classes),
        "class_names": list(ds.classes),
        "class_counts": np.bincount(labels, minlength=len(ds.classes)).tolist(),
        "rows": len(labels),
        "target": None,
        "features": [],
        "problems": [],
        "summary": f"{Path(ds.root).name} ({len(labels)} images, {len(ds.classes)} classes)",
    }
    if not len(labels):
        info["problems"].append(f"no readable images under {ds.root}")
    splits = [c for c in ds.classes if c.lower() in SPLIT_FOLDERS]
    if len(splits) >= 2:
        pick = next((c for c in splits if c.lower().startswith("train")), splits[0])
        info["problems"].append(
            f"the sub-folders of {Path(ds.root).name} are named {', '.join(splits)}: a split of the data, "
            f"not classes; choose the {pick} folder inside it, whose sub-folders are the classes (Studio "
            "splits the images itself)"
        )
    _class_checks(info, np.asarray(ds.classes, dtype=object)[labels], data)
    return DataSpec(**info)


# names of folders that hold a split of a data set (train/val/test), as many image sets are laid out
SPLIT_FOLDERS = {"train", "training", "val", "valid", "validation", "test", "testing", "dev", "eval"}


def read_source(data: dict, base: Path | None = None):
    """The data a project names, read: (kind, a pandas table, an ImageFolder or the sample name)."""
    kind = data.get("kind", "sample")
    if kind == "sample":
        return kind, data.get("sample")
    path = Path(data.get("path") or "")
    if not data.get("path"):
        raise DataError(f"no {'CSV file' if kind == 'csv' else 'image folder'} is chosen")
    if base is not None and not path.is_absolute():
        path = base / path
    try:
        if kind == "csv":
            from studio.core.data.tabular import read_csv

            return kind, read_csv(path)
        if kind == "images":
            import warnings

            from studio.core.data.images import ImageFolder

            mode = data.get("image_mode") or "L"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unreadable images are listed in .skipped
                return kind, ImageFolder(path, mode=mode, on_error="skip", verify=False)
    except (OSError, ValueError) as e:
        raise DataError(str(e)) from None
    raise DataError(f"unknown data kind {kind!r}: expected sample, csv or images")


def describe_source(kind: str, source, data: dict, path=None) -> DataSpec:
    """The description of data that `read_source` read."""
    if kind == "sample":
        return describe_sample(source)
    if kind == "csv":
        return describe_table(source, data, path)
    return describe_folder(source, data)


def describe_data(source, base: Path | None = None) -> DataSpec:
    """What a data source gives a run. `source` is a project's data settings, or a path (a CSV file, an
    image folder) or a sample's name, described with the settings `studio new` would give it."""
    data = source if isinstance(source, dict) else data_settings_for(str(source))
    kind, source = read_source(data, base)
    path = data.get("path")
    if path and base is not None and not Path(path).is_absolute():
        path = str(base / path)
    return describe_source(kind, source, data, path)


# ---------------------------------------------------------------------------------------------------
# The design against its data
# ---------------------------------------------------------------------------------------------------


def loss_name_for(project, task) -> str:
    """The loss a run uses: the training setting, or with 'auto' the design's Output node, or the task's."""
    name = (project.training or {}).get("loss")
    if name in (None, "", "auto"):
        outputs = [n for n in project.design.nodes.values() if n.type == "Output"]
        name = outputs[0].params.get("loss") if outputs else None
    if name in (None, "", "auto"):
        name = "cross_entropy" if task == "classification" else "mse"
    return name


def fit_problems(design, info: dict, loss: str | None = None) -> list[str]:
    """Where a design cannot take its data: the Input's shape, or a head sized for other classes.
    Empty while the design has problems of its own (those are reported first)."""
    inference = design.infer()
    if inference.problems:
        return []
    if inference.input_id is None:
        return ["the design is empty: add an Input, the layers and an Output"]
    out = []
    want = tuple(info["input_shape"])
    have = tuple(design.nodes[inference.input_id].params.get("shape", ()))
    if have != want:
        out.append(f"the Input takes samples of shape {have} but the data has {want}: set the Input's shape")
    shape = inference.output_shape
    width = shape[-1] if shape else None
    if info["task"] == "classification" and loss in (None, "auto", "cross_entropy", "nll"):
        k = int(info["num_classes"])
        if shape is None or len(shape) != 2 or width != k:
            out.append(
                f"the network gives {width} outputs per sample but the data has {k} classes: "
                f"give the last Linear layer out_features={k}"
            )
    elif info["task"] == "regression" and info["kind"] == "csv" and width != 1:
        out.append(f"the network gives {width} outputs per sample but the target is one number: use 1 output")
    return out
