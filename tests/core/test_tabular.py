"""Tabular CSV data: columns, scaling, one-hot codes, missing values, targets, saved preprocessing, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import studio.core as sc
from studio.core.data import CSVDataset, DataLoader, TabularError, TabularPreprocessor, column_summaries
from studio.core.data.tabular import csv_options, read_csv


@pytest.fixture
def table():
    return pd.DataFrame(
        {
            "size": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "colour": ["red", "blue", "red", "green", "blue", "red"],
            "count": [1, 5, 2, 8, 3, 9],
            "label": ["cat", "dog", "cat", "dog", "bird", "cat"],
            "price": [1.5, 2.25, 3.0, 10.0, 0.5, 7.75],
        }
    )


def _csv(tmp_path, df, name="data.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def test_classification_dataset(tmp_path, table):
    ds = CSVDataset(_csv(tmp_path, table), target="label", features=["size", "colour"])
    assert ds.task == "classification" and ds.classes == ["bird", "cat", "dog"] and ds.num_classes == 3
    assert ds.feature_names == ["size", "colour=blue", "colour=green", "colour=red"]
    assert len(ds) == 6 and ds.num_features == 4
    x, y = ds[1]
    assert x.dtype == sc.float32 and y.dtype == sc.int64 and y.item() == 2
    size = ds.data.numpy()[:, 0]
    assert abs(size.mean()) < 1e-6 and abs(size.std() - 1.0) < 1e-5
    np.testing.assert_array_equal(ds.data.numpy()[:, 1:], np.eye(3, dtype=np.float32)[[2, 0, 2, 1, 0, 2]])
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 4) and yb.tolist() == [1, 2, 1, 2]


def test_regression_target_and_default_features(table):
    ds = CSVDataset(table, target="price")
    assert ds.task == "regression" and ds.classes is None
    assert ds.targets.dtype == sc.float32 and ds.targets.tolist()[1] == 2.25
    assert "count" in ds.feature_names and "label=dog" in ds.feature_names


def test_task_detection():
    df = pd.DataFrame({"x": range(30), "few": [0, 1, 2] * 10, "many": range(30), "f": np.linspace(0, 1, 30)})
    assert CSVDataset(df, target="few").task == "classification"
    assert CSVDataset(df, target="many").task == "regression"
    assert CSVDataset(df, target="f").task == "regression"
    ds = CSVDataset(df, target="few", task="regression")
    assert ds.task == "regression"
    assert CSVDataset(df, target="few").classes == ["0", "1", "2"]


@pytest.mark.parametrize(
    "missing,fill",
    [("mean", 3.0), ("median", 1.75), ("most_frequent", 1.0), ("constant", -1.0)],
)
def test_missing_numeric_fill(missing, fill):
    df = pd.DataFrame({"a": [1.0, np.nan, 1.0, 2.5, 7.5, np.nan], "y": [0, 1, 0, 1, 0, 1]})
    p = TabularPreprocessor(target="y", missing=missing, fill_value=-1.0)
    p.fit(df)
    assert p.columns[0]["fill"] == pytest.approx(fill)
    x, y = p.transform(df)
    assert not np.isnan(x).any()


def test_missing_categorical_and_drop():
    df = pd.DataFrame({"c": ["a", None, "b", "a"], "n": [1.0, 2.0, np.nan, 4.0], "y": [1.0, 2.0, 3.0, 4.5]})
    p = TabularPreprocessor(target="y", missing="mean").fit(df)
    assert p.columns[0]["fill"] == "a"
    dropped = CSVDataset(df, target="y", missing="drop")
    assert len(dropped) == 2 and dropped.targets.tolist() == [1.0, 4.5]
    const = TabularPreprocessor(target="y", missing="constant").fit(df)
    assert const.columns[0]["categories"] == ["a", "b", "missing"]


def test_missing_error_names_file_column_and_rows(tmp_path):
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan], "y": [0, 1, 0, 1]})
    path = _csv(tmp_path, df, "measurements.csv")
    with pytest.raises(
        TabularError, match=r"measurements.csv: column 'a' has missing values in rows 2, 4 \(lines 3, 5\)"
    ):
        CSVDataset(path, target="y", missing="error")
    df.loc[0, "y"] = np.nan
    with pytest.raises(TabularError, match=r"target column 'y' has missing values in row 1"):
        CSVDataset(df, target="y")


def test_saved_preprocessing_transforms_new_data_the_same(table):
    train = CSVDataset(table, target="label", features=["size", "colour"])
    saved = json.loads(json.dumps(train.preprocessor.to_dict()))
    new = pd.DataFrame({"size": [3.5, 100.0], "colour": ["green", "purple"], "label": ["dog", "cat"]})
    ds = CSVDataset(new, preprocessor=saved)
    p = TabularPreprocessor.from_dict(saved)
    mean, std = p.columns[0]["mean"], p.columns[0]["std"]
    np.testing.assert_allclose(ds.data.numpy()[:, 0], [(3.5 - mean) / std, (100.0 - mean) / std], rtol=1e-6)
    assert ds.data.numpy()[0, 1:].tolist() == [0.0, 1.0, 0.0]
    assert ds.data.numpy()[1, 1:].tolist() == [0.0, 0.0, 0.0]  # an unseen category
    assert ds.targets.tolist() == [2, 1] and ds.classes == train.classes
    x, y = p.transform(new.drop(columns=["label"]))
    assert y is None and x.shape == (2, 4)


def test_errors_name_the_problem(tmp_path, table):
    path = _csv(tmp_path, table, "animals.csv")
    with pytest.raises(TabularError, match="animals.csv: no column 'weight'; the columns are: size, colour"):
        CSVDataset(path, target="weight")
    with pytest.raises(FileNotFoundError, match="CSV file not found"):
        CSVDataset(tmp_path / "absent.csv", target="y")
    with pytest.raises(TabularError, match="not numeric, so it cannot be a regression target"):
        CSVDataset(table, target="label", task="regression")
    with pytest.raises(TabularError, match="target column 'price' is also listed as a feature"):
        CSVDataset(table, target="price", features=["size", "price"])
    with pytest.raises(ValueError, match="missing must be one of"):
        TabularPreprocessor(missing="guess")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TabularError, match="empty.csv: the file is empty"):
        CSVDataset(tmp_path / "empty.csv")
    p = TabularPreprocessor(target="label", features=["size"]).fit(table)
    bad = table.assign(size=["1", "x", "3", "4", "5", "6"])
    with pytest.raises(TabularError, match="column 'size' should hold numbers but has text in row 2"):
        p.transform(bad, source="new.csv")
    unseen = table.assign(label=["cat", "cat", "cow", "dog", "cat", "cat"])
    with pytest.raises(TabularError, match="classes not seen in fitting \\(cow\\) in row 3"):
        p.transform(unseen)
    with pytest.raises(ValueError, match="not a saved tabular preprocessing"):
        TabularPreprocessor.from_dict({"target": "x"})


def test_column_summaries(tmp_path):
    df = pd.DataFrame(
        {"a": [1.5, np.nan, 2.0], "b": ["x", "y", "x"], "c": [1, 2, 3], "d": [True, False, True]}
    )
    s = {c["name"]: c for c in column_summaries(_csv(tmp_path, df))}
    assert s["a"]["type"] == "numeric" and s["a"]["missing"] == 1 and s["a"]["distinct"] == 2
    assert s["b"]["type"] == "categorical" and s["b"]["distinct"] == 2 and s["b"]["examples"] == ["x", "y"]
    assert s["c"]["type"] == "integer" and s["c"]["max"] == 3.0
    assert s["d"]["type"] == "boolean"
    assert s["b"]["task"] == "classification"


def test_errors_on_a_slice_name_the_original_rows(table):
    p = TabularPreprocessor(target="label", features=["size"]).fit(table)
    part = table.assign(size=["1", "2", "3", "4", "x", "6"]).iloc[[3, 4, 5]]
    with pytest.raises(TabularError, match="has text in row 5 "):
        p.transform(part, source="data.csv")


# ------------------------------------------------------------------- files as spreadsheets write them


@pytest.mark.parametrize(
    "text, encoding, expected",
    [
        ("a,b,label\n1.5,2,x\n", "utf-8", {}),
        ("a;b;label\n1,5;2;x\n3;4,25;y\n", "utf-8", {"sep": ";", "decimal": ","}),
        ("a;b;label\n1.5;2;x\n", "utf-8", {"sep": ";"}),
        ("a\tb\tlabel\n1.5\t2\tx\n", "utf-8", {"sep": "\t"}),
        ("a|b|label\n1|2|x\n", "utf-8", {"sep": "|"}),
        ('name,"note; with semicolons",label\n"x; y",2,z\n', "utf-8", {}),  # quoted marks don't count
        ("\ufeffa,b,label\n1,2,x\n", "utf-8", {}),  # a BOM is UTF-8
        ("longueur,espèce\n1.5,rosé\n", "cp1252", {"encoding": "cp1252"}),
        ("single\n1\n2\n", "utf-8", {}),
        ('price,label\n"1,234.5",x\n12,y\n', "utf-8", {"thousands": ","}),
        ("preis;art\n1.234,5;x\n12;y\n", "utf-8", {"sep": ";", "decimal": ",", "thousands": "."}),
    ],
)
def test_csv_options_find_the_separator_decimal_mark_and_encoding(text, encoding, expected):
    assert csv_options(text.encode(encoding)) == expected


def test_a_utf8_character_cut_by_the_head_is_still_utf8():
    head = ("a,b\n" + "é,1\n" * 5).encode()
    assert csv_options(head[:-3]) == {}  # ends inside the two bytes of an é


@pytest.mark.parametrize(
    "name, text, encoding",
    [
        ("semicolons.csv", "größe;breite;art\n1,5;2,0;a\n2,5;3,25;b\n3,0;1,0;a\n", "utf-8"),
        ("windows.csv", "size,width,kind\r\n1.5,2,café\r\n2.5,3.25,thé\r\n3,1,café\r\n", "cp1252"),
        ("tabs.tsv", "size\twidth\tkind\n1.5\t2\ta\n2.5\t3.25\tb\n3\t1\ta\n", "utf-8"),
    ],
)
def test_read_csv_reads_spreadsheet_exports_as_numbers(tmp_path, name, text, encoding):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    df = read_csv(path)
    assert df.shape == (3, 3)
    assert df.iloc[:, 0].tolist() == [1.5, 2.5, 3.0] and df.iloc[:, 1].tolist() == [2.0, 3.25, 1.0]
    assert read_csv(path, nrows=0).columns.tolist() == df.columns.tolist()
    assert read_csv(path, sep=",", encoding="latin-1").shape[1] in (1, 3)  # the caller's word wins


def test_read_csv_drops_the_blank_column_a_trailing_separator_makes(tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text("a,b,label,\n1,2,x,\n3,4,y,\n\n", encoding="utf-8")
    assert read_csv(path).columns.tolist() == ["a", "b", "label"]
    named = tmp_path / "named.csv"  # a column with a name, or with a value, stays
    named.write_text("a,b,label,note\n1,2,x,\n3,4,y,\n", encoding="utf-8")
    assert read_csv(named).columns.tolist() == ["a", "b", "label", "note"]
    valued = tmp_path / "valued.csv"
    valued.write_text("a,b,label,\n1,2,x,7\n3,4,y,\n", encoding="utf-8")
    assert read_csv(valued).shape == (2, 4)
