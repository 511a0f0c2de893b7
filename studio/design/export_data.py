"""The data section of an exported script: where the data is, and `load_data(path) -> (x, y)`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..assets.samples import sample_path
from ..core.data.images import IMG_EXTENSIONS
from .build import BuildError
from .samples import SAMPLE_INFO, make_sequences, make_tokens
from .script_text import indent, string_literal

GENERATED = {"sequences": make_sequences, "tokens": make_tokens}  # data made by a function, not read


def _missing_code(missing: str) -> list[str]:
    """Lines of `load_data` that drop rows with missing values, or refuse them, before the columns are read.

    As in the app: 'drop' drops rows missing a feature or the target, 'error' names the first column with a
    gap, and every other strategy refuses a missing target.
    """
    if missing == "drop":
        return ["frame = frame.dropna(subset=[*FEATURES, TARGET]).reset_index(drop=True)"]
    columns = "[*FEATURES, TARGET]" if missing == "error" else "[TARGET]"
    return [
        f"for column in {columns}:",
        "    rows = np.flatnonzero(frame[column].isna().to_numpy())",
        "    if len(rows):",
        "        raise ValueError(",
        '            f"column {column!r} has missing values on lines {(rows + 2).tolist()[:10]} of {path}: "',
        '            "fill them in or choose another missing-value strategy"',
        "        )",
    ]


def _fill_code(missing: str) -> list[str]:
    """Lines of `load_data` that fill the missing feature values the way the data setting says."""
    if missing in ("median", "mean"):
        # a column with no number at all gets 0
        return [f"features = features.fillna(features.{missing}()).fillna(0.0)"]
    if missing == "most_frequent":
        return [
            "most_frequent = features.mode()",
            "features = features.fillna(most_frequent.iloc[0] if len(most_frequent) else 0.0).fillna(0.0)",
        ]
    # 'constant' (and 'zero' in older projects) fill with 0; after 'drop' or 'error' nothing is missing
    # but text that is not a number, which also becomes 0
    return ["features = features.fillna(0.0)"]


def _sample_code(name: str) -> tuple[str, list[str]]:
    """The default location and `load_data` body of a sample data set."""
    if name == "iris":
        return str(sample_path("iris")), [
            "frame = pd.read_csv(path)",
            'classes = sorted(frame["species"].unique())',
            'y = frame["species"].map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)',
            'return frame.drop(columns=["species"]).to_numpy(np.float32), y',
        ]
    if name == "digits":
        return str(sample_path("digits")), [
            "with np.load(path) as d:",
            '    return d["images"][:, None].astype(np.float32) / 16.0, d["labels"].astype(np.int64)',
        ]
    if name in GENERATED:
        return "", [
            "if path:  # saved arrays x and y; without a path the data is generated",
            "    with np.load(path) as d:",
            '        return d["x"], d["y"]',
            f"return {GENERATED[name].__name__}()",
        ]
    raise BuildError(f"unknown sample data set {name!r}; samples: {', '.join(SAMPLE_INFO)}")


def _one_hot_code(missing: str) -> list[str]:
    """Lines of `load_data` that put each text column's one-hot codes in its place, as Studio does."""
    fill = (
        '"missing"'
        if missing in ("constant", "zero")
        else 'text.mode().iloc[0] if text.notna().any() else "missing"'
    )
    return [
        "columns = []",
        "for name in FEATURES:  # a text column becomes one 0/1 column per category",
        "    if name in CATEGORIES:",
        '        text = frame[name].map(str, na_action="ignore")',
        f"        text = text.fillna({fill})",
        "        columns.append(np.stack([(text == c).to_numpy(np.float32) for c in CATEGORIES[name]], 1))",
        "    else:",
        "        columns.append(features[[name]].to_numpy(np.float32))",
        "x = np.concatenate(columns, 1)",
    ]


def _csv_code(data: dict, options: dict, categories: dict) -> list[str]:
    """The `load_data` body of a CSV file read with `options` (its separator, decimal mark and
    encoding, as training reads it): missing values handled as the data setting says, and text
    columns one-hot coded with training's `categories`."""
    missing = data.get("missing") or "mean"
    read = "".join(f", {k}={string_literal(v)}" for k, v in options.items())
    lines = [f"frame = pd.read_csv(path{read})", *_missing_code(missing)]
    lines += [
        "target = frame[TARGET]",
        'features = frame[FEATURES].apply(pd.to_numeric, errors="coerce")',
        *_fill_code(missing),
        *(_one_hot_code(missing) if categories else ["x = features.to_numpy(np.float32)"]),
    ]
    if data.get("task", "classification") == "classification":
        lines += [
            "classes = sorted(target.astype(str).unique())",
            "y = target.astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)",
        ]
    else:
        lines.append("y = target.to_numpy(np.float32).reshape(-1, 1)")
    return [*lines, "return x, y"]


IMAGES_CODE = [
    "root = Path(path)",
    'classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))',
    "xs, ys, skipped = [], [], []",
    "for label, name in enumerate(classes):",
    "    # sub-folders too, without following links, in Studio's order",
    "    for folder, _, files in sorted(os.walk(root / name, followlinks=False)):",
    "        for file in sorted(files):",
    "            if not file.lower().endswith(IMAGE_EXTENSIONS):",
    "                continue",
    "            try:",
    "                with Image.open(os.path.join(folder, file)) as image:",
    "                    image = image.convert(IMAGE_MODE)",
    "            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):",
    "                skipped.append(file)  # unreadable: left out, as Studio leaves it out",
    "                continue",
    "            if image.size != IMAGE_SIZE[::-1]:",
    "                image = image.resize(IMAGE_SIZE[::-1], Image.Resampling.BILINEAR)",
    "            array = np.asarray(image, np.float32) / 255.0",
    "            xs.append(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))",
    "            ys.append(label)",
    "if skipped:",
    '    print(f"left out {len(skipped)} unreadable image(s), the first: {skipped[0]}")',
    "return np.stack(xs), np.asarray(ys, np.int64)",
]


def _data_code(project) -> tuple[str, list[str]]:
    """The default data location and the body of `load_data(path) -> (x, y)`."""
    kind = project.data.get("kind", "sample")
    if kind == "sample":
        return _sample_code(project.data.get("sample"))
    path = str(Path(os.path.normpath(project.data_path())))
    if kind == "csv":
        from ..core.data.tabular import csv_file_options

        return path, _csv_code(project.data, csv_file_options(path), _categories(project))
    if kind == "images":
        return path, IMAGES_CODE
    raise BuildError(f"unknown data kind {kind!r}")


def _data_literal(path: str, script_path) -> tuple[str, bool]:
    """The script's default data location, and whether it is relative to the script's own folder.

    Data inside the folder the script is written to stays found when the folder moves as a whole;
    anything else is written as a tidy absolute path.
    """
    if not path:
        return string_literal(path), False
    path = os.path.normpath(os.path.abspath(path))
    if script_path is not None:
        folder = os.path.dirname(os.path.abspath(script_path))
        rel = (
            os.path.relpath(path, folder)
            if os.path.splitdrive(path)[0] == os.path.splitdrive(folder)[0]
            else ""
        )
        if rel and rel != os.curdir and not rel.startswith(os.pardir):
            return f"str(Path(__file__).resolve().parent / {string_literal(Path(rel).as_posix())})", True
    return string_literal(path), False


def _features(project) -> list[str]:
    """The feature columns of a CSV project, resolved by the rule training uses (an empty list in the
    project means every column but the target, read from the file's header row)."""
    from ..core.data.tabular import feature_columns, read_csv

    data = project.data
    path = project.data_path()
    if data.get("features"):
        return [str(f) for f in data["features"]]
    try:
        columns = list(read_csv(path).columns)  # all rows: blank columns are dropped as training drops them
    except (OSError, ValueError) as e:
        raise BuildError(f"the feature columns cannot be read from {path.name}: {e}") from None
    return [str(c) for c in feature_columns(columns, data.get("target"), None, str(path))]


def _categories(project) -> dict:
    """The one-hot categories of the table's text columns, as training takes them from the whole file
    ({} when the file cannot be read or described: the script then fails where training would)."""
    from ..core.data.tabular import read_csv
    from .datasource import describe_table

    path = project.data_path()
    try:
        return describe_table(read_csv(path), project.data, str(path)).categories
    except (OSError, ValueError):
        return {}


def _one_hot_columns(features: list, categories: dict) -> list[int]:
    """Where the one-hot codes sit among the script's input columns (each text column's in its place)."""
    out, at = [], 0
    for name in features:
        width = len(categories.get(name, ())) or 1
        out += list(range(at, at + width)) if name in categories else []
        at += width
    return out


def _constants(project) -> list[str]:
    """The data's own constants: the CSV columns (and text columns' categories), or the images'
    size, mode and file types."""
    data = project.data
    kind = data.get("kind", "sample")
    if kind == "csv":
        names = _features(project)
        features = ", ".join(string_literal(f) for f in names)
        lines = [f"TARGET = {string_literal(str(data.get('target') or ''))}", f"FEATURES = [{features}]"]
        categories = _categories(project)
        if categories:
            lines.append("CATEGORIES = {  # the text columns' categories, as Studio codes them")
            lines += [
                f"    {string_literal(k)}: [{', '.join(map(string_literal, v))}],"
                for k, v in categories.items()
            ]
            lines.append("}")
            lines.append(f"ONE_HOT = {_one_hot_columns(names, categories)!r}  # kept as 0 and 1 by scaling")
        return lines
    if kind == "images":
        size = tuple(int(v) for v in (data.get("image_size") or (28, 28)))
        return [
            f"IMAGE_SIZE = {size!r}",
            f"IMAGE_MODE = {string_literal(str(data.get('image_mode') or 'L'))}",
            f"IMAGE_EXTENSIONS = {IMG_EXTENSIONS!r}",
        ]
    return []


@dataclass
class DataSection:
    """What the data contributes to a script: its default location, constants, code and imports."""

    location: str  # the literal (or expression) of DATA
    constants: list
    code: list  # the functions: a generator of the data, and load_data
    imports: list  # third-party imports beyond numpy
    uses_path: bool  # whether pathlib's Path is needed
    one_hot: bool = False  # whether some input columns are one-hot codes (ONE_HOT), left unscaled
    uses_os: bool = False  # whether `os` is needed (walking an image folder)


def data_section(project, script_path=None) -> DataSection:
    """The data part of a project's script."""
    import inspect
    import textwrap

    data = project.data
    kind, sample = data.get("kind", "sample"), data.get("sample")
    default, body = _data_code(project)
    location, relative = _data_literal(default, script_path)
    code = []
    if kind == "sample" and sample in GENERATED:
        code += textwrap.dedent(inspect.getsource(GENERATED[sample])).rstrip().splitlines() + ["", ""]
    code += ["def load_data(path):", '    """All samples as numpy arrays: features x and targets y."""']
    code += indent(body, 4) + ["", ""]
    imports = ["import pandas as pd"] if kind == "csv" or (kind == "sample" and sample == "iris") else []
    imports += ["from PIL import Image"] if kind == "images" else []
    constants = _constants(project)
    one_hot = any(line.startswith("ONE_HOT = ") for line in constants)
    images = kind == "images"
    return DataSection(location, constants, code, imports, images or relative, one_hot, images)
