"""One description of a data source: `describe_data` takes a path, a sample's name or a project's data
settings, and gives a DataSpec that `studio new`, the Data panel and training read alike."""

from __future__ import annotations

import json

import pytest

from studio.assets.samples import SAMPLES
from studio.design.datasource import DataError, DataSpec, describe_data
from studio.design.samples import SAMPLE_INFO


def test_a_csv_path_is_described_by_the_rules_new_uses(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text(
        "a,b,note,label\n" + "\n".join(f"{i},{i % 3},x{i},{'yes' if i % 2 else 'no'}" for i in range(20))
    )
    spec = describe_data(csv)
    assert isinstance(spec, DataSpec) and spec.kind == "csv" and spec.task == "classification"
    assert spec.target == "label" and spec.class_names == ["no", "yes"] and spec.class_counts == [10, 10]
    assert spec["features"] == spec.features  # a mapping of its fields too
    json.dumps(dict(spec))  # and plain data


def test_a_folder_and_a_sample_name_are_described(tmp_path):
    from studio.core.data.samples import digits_image_folder

    digits_image_folder(tmp_path / "digits", limit=30)
    folder = describe_data(tmp_path / "digits")
    assert folder.kind == "images" and folder.image_mode == "L" and folder.image_size == [8, 8]
    assert folder.input_shape == (1, 8, 8) and folder.num_classes == 10
    iris = describe_data("iris")
    assert iris.kind == "sample" and iris.class_names == ["setosa", "versicolor", "virginica"]
    with pytest.raises(DataError, match="neither a file, a folder nor a sample"):
        describe_data(tmp_path / "nothing.csv")


def test_one_registry_of_samples():
    from studio.core.data import samples as core_samples

    assert SAMPLE_INFO is SAMPLES
    assert set(core_samples.SAMPLES) == {k for k, v in SAMPLES.items() if v["file"]}
    assert all(core_samples.SAMPLES[k] is SAMPLES[k] for k in core_samples.SAMPLES)


def test_a_folder_laid_out_as_train_and_test_is_not_taken_as_two_classes(tmp_path):
    from studio.core.data.samples import digits_image_folder

    for split in ("train", "Test"):
        digits_image_folder(tmp_path / "kaggle" / split, limit=20)
    (problem,) = describe_data(tmp_path / "kaggle").problems
    assert (
        "named Test, train: a split of the data, not classes" in problem
        and "choose the train folder" in problem
    )
    assert describe_data(tmp_path / "kaggle" / "train").problems == []
    assert describe_data(tmp_path / "kaggle" / "train").num_classes == 10
