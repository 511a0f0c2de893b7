"""Tabular data from CSV files (on pandas): column choice, missing values, scaling, one-hot codes, targets.

`TabularPreprocessor` learns the preprocessing from one table (means and spreads of numeric
columns, categories of text columns, class names of the target) and applies exactly the same to
new tables; it saves to a JSON-able dict. `CSVDataset` is a Dataset of `(features, target)` pairs
built with it. `column_summaries` describes columns for a preview.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .. import backend as B
from ..tensor import _wrap
from .dataset import Dataset
from .files import MAX_TABLE_BYTES, open_regular

__all__ = [
    "CSVDataset",
    "TabularError",
    "TabularPreprocessor",
    "column_summaries",
    "csv_file_options",
    "csv_options",
    "feature_columns",
    "read_csv",
    "stray_text",
]

MISSING_STRATEGIES = ("mean", "median", "most_frequent", "constant", "drop", "error")
# An integer-valued target with at most this many distinct values is taken as class labels.
MAX_CLASSES_FOR_AUTO = 20
FORMAT_VERSION = 1


class TabularError(ValueError):
    """A problem with a table's contents, naming the file, column and rows."""


def _where(source) -> str:
    return f"{Path(source).name}: " if source else ""


def _row_numbers(df, positions):
    """0-based data-row numbers of positions in `df`: its integer index labels when it has them
    (a slice of a table read from a file keeps the file's row numbers), else the positions."""
    if pd.api.types.is_integer_dtype(df.index):
        return [int(v) for v in df.index[positions]]
    return [int(p) for p in positions]


def _rows_text(rows, source=None, limit=8) -> str:
    """Data rows counted from 1 (and their line numbers in a CSV file, under the header line)."""
    rows = list(rows)
    shown = [r + 1 for r in rows[:limit]]
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    text = f"row{'s' if len(rows) > 1 else ''} {', '.join(map(str, shown))}{more}"
    if source:
        text += f" (line{'s' if len(rows) > 1 else ''} {', '.join(str(r + 1) for r in shown)}{more})"
    return text


# what a CSV file may be separated by, in the order preferred when several split every line alike
SEPARATORS = (",", ";", "\t", "|")
_UNNAMED = re.compile(r"Unnamed: \d+")  # pandas' name for a column with an empty header
_FORMAT_KEYS = ("sep", "delimiter", "decimal", "encoding", "thousands")
_HEAD_BYTES = 1 << 16  # enough lines to judge a file's format by
_DECIMAL_COMMA = re.compile(r"[-+]?(\d+|\d{1,3}(\.\d{3})+),\d+")
_DECIMAL_POINT = re.compile(r"[-+]?\d*\.\d+")
_THOUSANDS = {  # grouped digits, by decimal mark: 1,234,567.5 or 1.234.567,5
    ".": re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?"),
    ",": re.compile(r"[-+]?\d{1,3}(\.\d{3})+(,\d+)?"),
}


def _head_text(head: bytes) -> tuple[str, str | None]:
    """The text of a file's first bytes and the encoding to read it with: None for UTF-8 (a BOM
    included), else Windows-1252, which reads any byte (the usual Excel export on Windows)."""
    try:
        return head.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        if e.start >= len(head) - 3:  # a character cut where the head ends
            return head[: e.start].decode("utf-8-sig"), None
    return head.decode("cp1252", errors="replace"), "cp1252"


def csv_options(head: bytes) -> dict:
    """The `pandas.read_csv` options that read a CSV file starting with the bytes `head`: its
    encoding when not UTF-8, its separator when not a comma (semicolon, tab or bar), a decimal comma
    (as spreadsheets write in much of Europe) and grouped thousands ("1,234.5", "1.234,5"). Empty for
    a plain UTF-8, comma-separated file."""
    text, encoding = _head_text(head)
    lines = text.splitlines()
    if len(head) >= _HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    lines = [line for line in lines if line.strip()][:200]
    options = {"encoding": encoding} if encoding else {}
    if not lines:
        return options
    split = {}
    for sep in SEPARATORS:
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=sep))
        widths = {len(r) for r in rows}
        if len(widths) == 1 and widths.pop() > 1:
            split[sep] = [cell.strip() for row in rows[1:] for cell in row]
    # "1,5;2,25" splits alike by both marks: semicolons with decimal commas, as spreadsheets write it
    if ";" in split and any(_DECIMAL_COMMA.fullmatch(c) for c in split[";"]):
        sep = ";"
    else:
        sep = next(iter(split), ",")
    cells = split.get(sep, [])
    if sep != ",":
        options["sep"] = sep
        if any(_DECIMAL_COMMA.fullmatch(c) for c in cells) and not any(
            _DECIMAL_POINT.fullmatch(c) for c in cells
        ):
            options["decimal"] = ","
    decimal = options.get("decimal", ".")
    if any(_THOUSANDS[decimal].fullmatch(c) for c in cells):
        options["thousands"] = "," if decimal == "." else "."
    return options


def read_csv(path, **kwargs) -> pd.DataFrame:
    """Read a CSV file, with errors that name the file. Unless the caller says otherwise, the
    encoding, separator and decimal mark are those `csv_options` finds in the file."""
    path = os.fspath(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"CSV file not found: {path}")
    try:
        with open_regular(path, MAX_TABLE_BYTES, "CSV file") as f:
            if not any(k in kwargs for k in _FORMAT_KEYS):
                kwargs = {**csv_options(f.read(_HEAD_BYTES)), **kwargs}
                f.seek(0)
            df = pd.read_csv(f, **kwargs)
    except pd.errors.EmptyDataError:
        raise TabularError(f"{Path(path).name}: the file is empty (no header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise TabularError(f"{Path(path).name}: cannot be read as CSV: {e}") from None
    if df.shape[1] == 0:
        raise TabularError(f"{Path(path).name}: no columns found")
    return _without_blank_columns(df)


def _without_blank_columns(df: pd.DataFrame) -> pd.DataFrame:
    """`df` without the columns that have neither a name nor a value: what a separator at the end
    of every line (as some spreadsheets write) adds. With no rows read, nothing is known to be blank."""
    blank = [
        c
        for c in df.columns
        if isinstance(c, str) and _UNNAMED.fullmatch(c) and len(df) and df[c].isna().all()
    ]
    return df.drop(columns=blank) if blank else df


def csv_file_options(path) -> dict:
    """`csv_options` of the file at `path` (what `read_csv` reads it with); {} when it cannot be read."""
    try:
        with open_regular(os.fspath(path), MAX_TABLE_BYTES, "CSV file") as f:
            return csv_options(f.read(_HEAD_BYTES))
    except (OSError, ValueError):
        return {}


def feature_columns(columns, target=None, features=None, source=None) -> list:
    """The feature columns of a table: the chosen `features`, or (none chosen: None or empty) every
    column but the target.

    The one rule for training, `studio new`, the data panel and exported scripts; text columns among
    them are one-hot coded by `TabularPreprocessor`.
    """
    columns = list(columns)
    if features:
        features = list(features)
        absent = [c for c in features if c not in columns]
        if absent:
            raise TabularError(
                f"{_where(source)}no column {', '.join(map(repr, absent))}; the columns are: "
                f"{', '.join(map(str, columns))}"
            )
        if target is not None and target in features:
            raise TabularError(f"{_where(source)}the target column {target!r} is also listed as a feature")
        return features
    return [c for c in columns if c != target]


FLOAT32_MAX = float(np.finfo(np.float32).max)

# A text column whose cells are numbers but for this share (or a single cell) holds a number
# mistyped, or a marker such as "?" for a missing value, rather than categories.
STRAY_TEXT_SHARE = 0.05


def stray_text(series: pd.Series):
    """Positions and values of the text cells of a column that otherwise holds numbers, else None."""
    if _is_numeric(series) or pd.api.types.is_bool_dtype(series):
        return None
    present = series.notna().to_numpy()
    numbers = pd.to_numeric(series, errors="coerce").notna().to_numpy()
    bad = np.flatnonzero(present & ~numbers)
    good = int(numbers.sum())
    if not len(bad) or good < 2 or len(bad) > max(1, STRAY_TEXT_SHARE * (good + len(bad))):
        return None
    return bad, [str(v) for v in series.iloc[bad[:5]]]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _integer_valued(values: pd.Series) -> bool:
    v = values.dropna()
    if len(v) == 0:
        return False
    if pd.api.types.is_integer_dtype(v):
        return True
    arr = v.to_numpy(dtype=np.float64)
    return bool(np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))


def _detected_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if _is_numeric(series):
        return "integer" if _integer_valued(series) else "numeric"
    return "categorical"


def _label(value) -> str:
    """A class name for a target value: integer-valued numbers print without a decimal part."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def detect_task(series: pd.Series) -> str:
    """'classification' for non-numeric targets or few distinct integer values, else 'regression'."""
    if not _is_numeric(series):
        return "classification"
    if _integer_valued(series) and series.nunique(dropna=True) <= MAX_CLASSES_FOR_AUTO:
        return "classification"
    return "regression"


def column_summaries(data, source=None) -> list[dict]:
    """One dict per column for a data preview: name, detected type, missing and distinct counts, examples."""
    df = read_csv(data) if isinstance(data, str | os.PathLike) else data
    out = []
    for name in df.columns:
        col = df[name]
        kind = _detected_type(col)
        info = {
            "name": str(name),
            "type": kind,
            "missing": int(col.isna().sum()),
            "distinct": int(col.nunique(dropna=True)),
            "examples": [_label(v) for v in col.dropna().unique()[:5]],
            "task": detect_task(col),
        }
        if kind in ("numeric", "integer"):
            v = col.astype(np.float64)
            info.update(
                min=float(v.min()) if info["missing"] < len(col) else None,
                max=float(v.max()) if info["missing"] < len(col) else None,
                mean=float(v.mean()) if info["missing"] < len(col) else None,
            )
        out.append(info)
    return out


class TabularPreprocessor:
    """Learns and applies the preprocessing of a table: features to a float32 matrix, target to labels.

    Args:
        target: the target column (None: features only).
        features: the feature columns (default: every column but the target).
        task: 'classification', 'regression' or 'auto' (detected from the target).
        missing: what to do with missing values: 'mean', 'median', 'most_frequent', 'constant'
            (use `fill_value`), 'drop' (drop those rows) or 'error' (raise, naming column and rows).
            Text columns take the most frequent value for 'mean' and 'median'. A missing target is
            an error unless `missing='drop'`.
        fill_value: the value for `missing='constant'` (default 0, or 'missing' for text columns).
        categorical: columns to one-hot encode even when numeric (text columns always are).
        standardize: scale numeric columns to zero mean and unit variance (default True).
        categories: the categories of one-hot coded columns, by column name, fixed beforehand (as
            `categories()` of a preprocessor fitted to the whole table gives them) rather than
            learned by `fit`: the input width then does not depend on which rows `fit` sees.
    """

    def __init__(
        self,
        target=None,
        features=None,
        task="auto",
        missing="mean",
        fill_value=None,
        categorical=(),
        standardize=True,
        categories=None,
    ):
        if missing not in MISSING_STRATEGIES:
            raise ValueError(f"missing must be one of {', '.join(MISSING_STRATEGIES)}; got {missing!r}")
        if task not in ("auto", "classification", "regression"):
            raise ValueError(f"task must be 'auto', 'classification' or 'regression'; got {task!r}")
        self.target = target
        self.features = list(features) if features is not None else None
        self.task = task
        self.missing = missing
        self.fill_value = fill_value
        self.categorical = list(categorical)
        self.standardize = standardize
        self.fixed_categories = {str(k): list(v) for k, v in (categories or {}).items()}
        self.columns: list[dict] = []  # per feature column: name, kind, fill, mean/std or categories
        self.classes: list[str] | None = None
        self.fitted = False

    # ----------------------------------------------------------------------------------- fitting
    def _check_columns(self, df, source):
        wanted = ([self.target] if self.target is not None else []) + (self.features or [])
        absent = [c for c in wanted if c not in df.columns]
        if absent:
            raise TabularError(
                f"{_where(source)}no column {', '.join(map(repr, absent))}; the columns are: "
                f"{', '.join(map(str, df.columns))}"
            )

    def _feature_names_in(self, df, source=None):
        return feature_columns(df.columns, self.target, self.features, source)

    def _check_finite(self, df, names, source):
        """Infinite numbers, or numbers beyond 32-bit floats (what a network reads), are named."""
        for name in [*names, *([self.target] if self.target is not None else [])]:
            col = df[name]
            if not _is_numeric(col) or name in self.categorical:
                continue
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                bad = np.flatnonzero(np.isinf(values) | (np.abs(values) > FLOAT32_MAX))
            if len(bad):
                where = _rows_text(_row_numbers(df, bad), source)
                raise TabularError(
                    f"{_where(source)}column {name!r} holds {values[bad[0]]:g} in {where}: numbers must be "
                    f"finite and at most {FLOAT32_MAX:.3g} in size"
                )

    def _check_stray_text(self, df, names, source):
        """A text cell in a column of numbers is a mistake to show, not a reason to one-hot code it."""
        for name in [*names, *([self.target] if self.target is not None else [])]:
            if name in self.categorical:
                continue
            found = stray_text(df[name])
            if found is None:
                continue
            rows, values = found
            shown = ", ".join(repr(v) for v in values[:3])
            where = _rows_text(_row_numbers(df, rows), source)
            raise TabularError(
                f"{_where(source)}column {name!r} holds numbers, but {where} "
                f"{'hold' if len(rows) > 1 else 'holds'} text ({shown}): correct "
                f"{'them' if len(rows) > 1 else 'it'}, or leave the cell empty if the value is missing"
            )

    def _drop_or_check_missing(self, df, names, source):
        """Rows with missing values: dropped ('drop'), or reported (always for the target)."""
        if self.missing == "drop":
            cols = names + ([self.target] if self.target is not None else [])
            return df.dropna(subset=cols)
        checks = list(names) if self.missing == "error" else []
        if self.target is not None:
            checks.append(self.target)
        for name in checks:
            bad = np.flatnonzero(df[name].isna().to_numpy())
            if len(bad):
                which = "target column" if name == self.target else "column"
                hint = (
                    "fill the missing targets or choose missing='drop'"
                    if name == self.target
                    else "choose a missing-value strategy (mean, median, most_frequent, constant or drop)"
                )
                raise TabularError(
                    f"{_where(source)}{which} {name!r} has missing values in "
                    f"{_rows_text(_row_numbers(df, bad), source)}: "
                    f"{hint}"
                )
        return df

    def fit(self, df: pd.DataFrame, source=None):
        """Learn the preprocessing from `df` (`source`, a file name, appears in error messages)."""
        self._check_columns(df, source)
        names = self._feature_names_in(df, source)
        if not names:
            raise TabularError(f"{_where(source)}no feature columns: the table has only the target column")
        df = self._drop_or_check_missing(df, names, source)
        if len(df) == 0:
            raise TabularError(f"{_where(source)}no rows left after dropping rows with missing values")
        self._check_stray_text(df, names, source)
        self._check_finite(df, names, source)
        self.columns = []
        for name in names:
            col = df[name]
            if _is_numeric(col) and name not in self.categorical:
                values = col.astype(np.float64)
                if values.isna().all():
                    raise TabularError(f"{_where(source)}column {name!r} has no values at all")
                if self.missing == "median":
                    fill = float(values.median())
                elif self.missing == "most_frequent":
                    fill = float(values.mode().iloc[0])
                elif self.missing == "constant":
                    fill = float(self.fill_value if self.fill_value is not None else 0.0)
                else:
                    fill = float(values.mean())
                filled = values.fillna(fill).to_numpy()
                with np.errstate(over="ignore", invalid="ignore"):
                    mean = float(filled.mean()) if self.standardize else 0.0
                    std = float(filled.std()) if self.standardize else 1.0
                if not (np.isfinite(mean) and np.isfinite(std)):
                    raise TabularError(
                        f"{_where(source)}column {name!r} holds numbers too large to scale (up to "
                        f"{np.abs(filled).max():.3g}): rescale the column"
                    )
                self.columns.append(
                    {"name": str(name), "kind": "numeric", "fill": fill, "mean": mean, "std": std or 1.0}
                )
            else:
                text = col.map(_label, na_action="ignore")
                if self.missing == "constant":
                    fill = str(self.fill_value) if self.fill_value is not None else "missing"
                else:
                    counts = text.value_counts()
                    fill = str(counts.index[0]) if len(counts) else "missing"
                categories = self.fixed_categories.get(str(name)) or sorted(set(text.fillna(fill).tolist()))
                self.columns.append(
                    {"name": str(name), "kind": "categorical", "fill": fill, "categories": categories}
                )
        if self.target is not None:
            y = df[self.target]
            task = detect_task(y) if self.task == "auto" else self.task
            if task == "regression" and not _is_numeric(y):
                raise TabularError(
                    f"{_where(source)}target column {self.target!r} is not numeric, so it cannot be a "
                    "regression target; choose task='classification'"
                )
            self.task = task
            if task == "classification":
                labels = y.map(_label)
                if _is_numeric(y):
                    uniq = sorted(set(y.tolist()))
                    self.classes = list(dict.fromkeys(_label(v) for v in uniq))
                else:
                    self.classes = sorted(set(labels.tolist()))
            else:
                self.classes = None
        self.fitted = True
        return self

    # ------------------------------------------------------------------------------- transforming
    @property
    def feature_names(self) -> list[str]:
        """Names of the output features: numeric columns, then `column=category` for one-hot codes."""
        out = []
        for c in self.columns:
            if c["kind"] == "numeric":
                out.append(c["name"])
            else:
                out.extend(f"{c['name']}={cat}" for cat in c["categories"])
        return out

    def categories(self) -> dict:
        """The categories of each one-hot coded column, by name (after `fit`)."""
        return {c["name"]: list(c["categories"]) for c in self.columns if c["kind"] == "categorical"}

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    @property
    def class_to_idx(self) -> dict | None:
        return None if self.classes is None else {c: i for i, c in enumerate(self.classes)}

    def transform(self, df: pd.DataFrame, source=None, with_target=None):
        """Features as a float32 (N, F) array and the target as an array (or None)."""
        if not self.fitted:
            raise RuntimeError("TabularPreprocessor: call fit() before transform()")
        if with_target is None:
            with_target = self.target is not None and self.target in df.columns
        names = [c["name"] for c in self.columns]
        absent = [n for n in names if n not in df.columns]
        if absent:
            raise TabularError(
                f"{_where(source)}no column {', '.join(map(repr, absent))}, which the preprocessing "
                f"was fitted with; the columns are: {', '.join(map(str, df.columns))}"
            )
        keep_target = self.target if with_target else None
        saved_target, self.target = self.target, keep_target
        try:
            df = self._drop_or_check_missing(df, names, source)
        finally:
            self.target = saved_target
        blocks = []
        for c in self.columns:
            col = df[c["name"]]
            if c["kind"] == "numeric":
                try:
                    values = pd.to_numeric(col, errors="raise").astype(np.float64)
                except (ValueError, TypeError):
                    bad = np.flatnonzero(
                        pd.to_numeric(col, errors="coerce").isna().to_numpy() & col.notna().to_numpy()
                    )
                    raise TabularError(
                        f"{_where(source)}column {c['name']!r} should hold numbers but has text in "
                        f"{_rows_text(_row_numbers(df, bad), source)}"
                    ) from None
                v = values.fillna(c["fill"]).to_numpy()
                blocks.append(((v - c["mean"]) / c["std"]).astype(np.float32)[:, None])
            else:
                text = col.map(_label, na_action="ignore").fillna(c["fill"])
                cats = pd.Categorical(text, categories=c["categories"])
                onehot = np.zeros((len(text), len(c["categories"])), np.float32)
                codes = cats.codes
                known = codes >= 0  # unseen categories get all-zero codes
                onehot[np.flatnonzero(known), codes[known]] = 1.0
                blocks.append(onehot)
        x = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(df), 0), np.float32)
        y = None
        if with_target:
            yc = df[self.target]
            if self.task == "classification":
                labels = yc.map(_label)
                idx = labels.map(self.class_to_idx)
                unknown = np.flatnonzero(idx.isna().to_numpy())
                if len(unknown):
                    seen = sorted(set(labels.iloc[unknown].tolist()))
                    raise TabularError(
                        f"{_where(source)}target column {self.target!r} has classes not seen in fitting "
                        f"({', '.join(seen[:5])}) in {_rows_text(_row_numbers(df, unknown), source)}; "
                        "known classes: "
                        f"{', '.join(self.classes)}"
                    )
                y = idx.to_numpy(dtype=np.int64)
            else:
                y = pd.to_numeric(yc, errors="coerce").to_numpy(dtype=np.float32)
        return x, y

    def fit_transform(self, df, source=None):
        return self.fit(df, source).transform(df, source)

    # --------------------------------------------------------------------------------- saving
    def to_dict(self) -> dict:
        """The fitted preprocessing as JSON-able data."""
        return {
            "format_version": FORMAT_VERSION,
            "target": self.target,
            "features": [c["name"] for c in self.columns] if self.fitted else self.features,
            "task": self.task,
            "missing": self.missing,
            "fill_value": self.fill_value,
            "categorical": list(self.categorical),
            "standardize": self.standardize,
            "columns": [dict(c) for c in self.columns],
            "classes": list(self.classes) if self.classes is not None else None,
            "fitted": self.fitted,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TabularPreprocessor:
        """Rebuild a preprocessor saved by `to_dict`."""
        try:
            version = d.get("format_version", 1)
            if version > FORMAT_VERSION:
                raise ValueError(
                    f"saved preprocessing has format version {version}, newer than {FORMAT_VERSION}"
                )
            p = cls(
                target=d["target"],
                features=d["features"],
                task=d["task"],
                missing=d["missing"],
                fill_value=d.get("fill_value"),
                categorical=d.get("categorical", ()),
                standardize=d.get("standardize", True),
            )
            p.columns = [dict(c) for c in d["columns"]]
            for c in p.columns:
                if c["kind"] not in ("numeric", "categorical"):
                    raise ValueError(f"unknown column kind {c['kind']!r}")
            p.classes = list(d["classes"]) if d.get("classes") is not None else None
            p.fitted = bool(d.get("fitted", True))
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"not a saved tabular preprocessing: {e!r}") from None
        return p

    def __repr__(self):
        return (
            f"TabularPreprocessor(target={self.target!r}, task={self.task!r}, features={self.num_features}, "
            f"missing={self.missing!r})"
        )


class CSVDataset(Dataset):
    """A table as `(features, target)` samples: float32 feature vectors and int64 class or float32 targets.

    Args:
        data: a CSV file path or a pandas DataFrame.
        target: the target column (None: samples are features only).
        features: the feature columns (default: all but the target).
        task: 'classification', 'regression' or 'auto'.
        missing: the missing-value strategy (see `TabularPreprocessor`).
        fill_value: the value for `missing='constant'`.
        categorical: numeric columns to one-hot encode as categories.
        preprocessor: a fitted `TabularPreprocessor` (or its dict) to apply instead of fitting anew,
            so that new data is transformed exactly as the training data was.
        read_csv_kwargs: extra arguments for `pandas.read_csv` (e.g. `sep=';'`).
    """

    def __init__(
        self,
        data,
        target=None,
        features=None,
        task="auto",
        missing="mean",
        fill_value=None,
        categorical=(),
        preprocessor=None,
        read_csv_kwargs=None,
    ):
        if isinstance(data, pd.DataFrame):
            self.source = None
            df = data
        else:
            self.source = os.fspath(data)
            df = read_csv(self.source, **(read_csv_kwargs or {}))
        if isinstance(preprocessor, dict):
            preprocessor = TabularPreprocessor.from_dict(preprocessor)
        if preprocessor is None:
            preprocessor = TabularPreprocessor(target, features, task, missing, fill_value, categorical)
            preprocessor.fit(df, self.source)
        self.preprocessor = preprocessor
        x, y = preprocessor.transform(df, self.source)
        self.data = _wrap(B.host_array(x))
        self.targets = _wrap(B.host_array(y)) if y is not None else None
        self.frame = df

    @property
    def task(self):
        return self.preprocessor.task

    @property
    def classes(self):
        return self.preprocessor.classes

    @property
    def class_to_idx(self):
        return self.preprocessor.class_to_idx

    @property
    def feature_names(self):
        return self.preprocessor.feature_names

    def categories(self) -> dict:
        """The categories of each one-hot coded column, by name (after `fit`)."""
        return {c["name"]: list(c["categories"]) for c in self.columns if c["kind"] == "categorical"}

    @property
    def num_features(self) -> int:
        return self.data.shape[1]

    @property
    def num_classes(self) -> int | None:
        return len(self.classes) if self.classes is not None else None

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, index):
        if self.targets is None:
            return self.data[index]
        return self.data[index], self.targets[index]

    def _batch(self, indices):
        """What `default_collate` makes of these samples, gathered in one step."""
        x = _wrap(self.data._data[indices])
        if self.targets is None:
            return x
        return [x, _wrap(self.targets._data[indices])]

    def summaries(self) -> list[dict]:
        return column_summaries(self.frame)

    def __repr__(self):
        src = f"{Path(self.source).name}, " if self.source else ""
        return f"CSVDataset({src}{len(self)} rows, {self.num_features} features, task={self.task!r})"
