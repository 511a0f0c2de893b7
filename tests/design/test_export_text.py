"""Exported scripts keep every character of names and paths, resolve features as training does, and
write data paths tidily."""

from __future__ import annotations

import ast
import os

import numpy as np
from export_helpers import import_script
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.design import Design
from studio.design.export import export_python
from studio.design.project import new_project
from studio.design.script_text import string_literal as _str
from studio.training.data import prepare_data


def _mlp(inputs, classes=2):
    d = Design()
    i = d.add_node("Input", {"shape": (inputs,)})
    lin = d.add_node("Linear", {"out_features": classes})
    out = d.add_node("Output")
    d.connect(i.id, lin.id)
    d.connect(lin.id, out.id)
    return d


def _constants(code) -> dict:
    tree = ast.parse(code)
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                out[node.targets[0].id] = ast.unparse(node.value)
    return out


def _csv(folder, columns, rows=24):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "table.csv"
    lines = [",".join(columns)] + [f"{i % 5},{(i * 7) % 3},{i % 2}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12
    )
)
def test_string_literals_are_pythons_own(text):
    """Every text, emoji and lone surrogates included, reads back the same from the script."""
    assert ast.literal_eval(_str(text)) == text


def test_names_and_paths_outside_the_bmp_survive_export_and_the_script_runs(tmp_path):
    folder = tmp_path / "data 🚀"
    path = _csv(folder, ["size 🚀", "wïdth 𝔸", "label"])
    data = {"kind": "csv", "path": str(path), "target": "label", "features": []}  # as the Data panel
    project = new_project(data=data, design=_mlp(2), name="rocket 🚀")
    for target in ("studio", "torch"):
        consts = _constants(export_python(project, target=target))
        assert consts["FEATURES"] == ["size 🚀", "wïdth 𝔸"] and consts["TARGET"] == "label"
        assert consts["DATA"] == str(path)
    script = tmp_path / "net.py"
    script.write_text(export_python(project, target="studio"), encoding="utf-8")
    module = import_script(script)
    module.main(["--epochs", "1", "--weights", str(tmp_path / "w.safetensors")])  # the first batch works
    x, _ = module.load_data(module.DATA)
    assert x.shape == (24, 2)


def test_a_lone_surrogate_in_a_path_survives(tmp_path):
    folder = tmp_path / os.fsdecode(b"d\xff")  # a file name that is not UTF-8
    path = _csv(folder, ["a", "b", "label"])
    assert "\udcff" in str(path)
    project = new_project(data={"kind": "csv", "path": str(path), "target": "label"}, design=_mlp(2))
    script = tmp_path / "net.py"
    script.write_text(export_python(project, target="studio"), encoding="utf-8")
    module = import_script(script)
    data = module.DATA
    assert data == str(path) and module.load_data(data)[0].shape == (24, 2)


def test_features_are_resolved_by_trainings_rule(tmp_path):
    path = _csv(tmp_path, ["a", "b", "label"])
    project = new_project(data={"kind": "csv", "path": str(path), "target": "label", "features": []})
    trained = prepare_data(project).preprocessing["columns"]
    consts = _constants(export_python(new_project(data=project.data, design=_mlp(2)), target="torch"))
    assert consts["FEATURES"] == [c["name"] for c in trained] == ["a", "b"]
    chosen = {**project.data, "features": ["b"]}
    assert _constants(export_python(new_project(data=chosen, design=_mlp(1))))["FEATURES"] == ["b"]


def test_data_paths_are_written_tidily(tmp_path):
    path = _csv(tmp_path / "data", ["a", "b", "label"])
    home = tmp_path / "projects" / "deep"
    home.mkdir(parents=True)
    project = new_project(
        data={"kind": "csv", "path": "../../data/./table.csv", "target": "label"},
        design=_mlp(2),
        path=home / "p.studio",
    )
    assert _constants(export_python(project))["DATA"] == str(path)  # no dir/../.. left
    # beside the script, the data is found relative to the script, wherever the folder moves
    code = export_python(project, script_path=tmp_path / "data" / "net.py")
    assert _constants(code)["DATA"] == "str(Path(__file__).resolve().parent / 'table.csv')"
    script = tmp_path / "data" / "net.py"
    script.write_text(code, encoding="utf-8")
    moved = tmp_path / "moved"
    (tmp_path / "data").rename(moved)
    module = import_script(moved / "net.py")
    data = module.DATA
    assert data == str(moved / "table.csv")
    assert np.asarray(module.load_data(data)[0]).shape == (24, 2)


def test_a_semicolon_csv_with_decimal_commas_trains_and_exports_as_read(tmp_path):
    """A European spreadsheet's export: the script reads it with the options training found."""
    path = tmp_path / "mesures.csv"
    rows = [f"{i % 5},{i % 2}5;{(i * 7) % 3},5;{'oui' if i % 2 else 'non'}" for i in range(24)]
    path.write_text("longueur;largeur;réponse\n" + "\n".join(rows) + "\n", encoding="cp1252")
    project = new_project(data={"kind": "csv", "path": str(path), "target": "réponse"}, design=_mlp(2))
    assert [c["name"] for c in prepare_data(project).preprocessing["columns"]] == ["longueur", "largeur"]
    script = tmp_path / "net.py"
    script.write_text(export_python(project, target="studio"), encoding="utf-8")
    assert 'pd.read_csv(path, encoding="cp1252", sep=";", decimal=",")' in script.read_text()
    module = import_script(script)
    x, y = module.load_data(module.DATA)
    assert x.shape == (24, 2) and np.allclose(x[1], [1.15, 1.5]) and sorted(set(y.tolist())) == [0, 1]


def _text_column_table(folder):
    """A table whose text column has a category that only a few rows hold."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pets.csv"
    colours = ["red", "green", "blue"] * 9 + ["violet"]
    lines = ["size,colour,label"] + [
        f"{i * 0.37 % 5:.2f},{c},{'cat' if i % 3 else 'dog'}" for i, c in enumerate(colours)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_text_columns_are_coded_alike_by_new_training_and_the_script(tmp_path):
    """One-hot codes come from the whole file: the Input `studio new` sizes is what training feeds,
    whichever split a category's rows land in, and the exported script codes and scales as training."""
    import pandas as pd

    from studio.design.datasource import describe_table

    path = _text_column_table(tmp_path)
    data = {"kind": "csv", "path": str(path), "target": "label"}
    width = describe_table(pd.read_csv(path), data, str(path)).input_shape
    assert width == (5,)  # size, then colour=blue, green, red, violet
    project = new_project(data=data, design=_mlp(5))
    prepared = prepare_data(project)
    assert prepared.input_shape == width
    script = tmp_path / "net.py"
    script.write_text(export_python(project, target="studio"), encoding="utf-8")
    module = import_script(script)
    assert module.CATEGORIES == {"colour": ["blue", "green", "red", "violet"]} and module.ONE_HOT == [
        1,
        2,
        3,
        4,
    ]
    parts = module.split_data(*module.load_data(module.DATA))
    for (x, y), split in zip(parts, ("train", "val", "test")):
        np.testing.assert_allclose(x, prepared.splits[split][0], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(y, prepared.splits[split][1])
