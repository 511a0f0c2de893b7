"""The command line checks the data when it is chosen, prints nothing that acts on the terminal, and
takes options only by their full names."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from studio.cli import main, printable
from studio.design.project import load_project, load_template, save_project


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _table(path, rows, header="a,b,label"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


# ------------------------------------------------------------------------------------------- data
def test_classes_come_from_the_whole_file(tmp_path, capsys):
    rows = [f"{i % 10},{i % 7},{'a' if i % 2 else 'b'}" for i in range(100_000)]
    rows += [f"{i % 10},{i % 7},c" for i in range(30)]  # a third class, after the first 100,000 rows
    csv = _table(tmp_path / "late.csv", rows)
    path = tmp_path / "late.studio"
    code, _, err = run(capsys, "new", "--data", str(csv), "-o", str(path))
    assert code == 0, err
    project = load_project(path)
    assert project.design.infer().output_shape == (None, 3)
    code, out, _ = run(capsys, "info", str(path), "--json")
    check = json.loads(out)["data_check"]
    assert check["num_classes"] == 3 and check["class_counts"]["c"] == 30 and check["problems"] == []

    from studio.training.data import prepare_data

    prepared = prepare_data(project)
    assert prepared.num_classes == 3
    for split in ("train", "val", "test"):  # the split is stratified: every split has the rare class
        assert 2 in set(prepared.splits[split][1].tolist())


def test_a_head_too_small_for_the_classes_is_found_by_info_and_train(tmp_path, capsys):
    project = load_template("iris_mlp")
    head = next(n for n in project.design.nodes.values() if n.name == "head")
    project.design.set_param(head.id, "out_features", 2)
    path = tmp_path / "small.studio"
    save_project(project, path)
    code, out, _ = run(capsys, "info", str(path))
    assert code == 0 and "Data problems (1)" in out and "gives 2 outputs" in out and "3 classes" in out
    code, _, err = run(capsys, "train", str(path), "--epochs", "1")
    assert code == 1 and "gives 2 outputs" in err and "out_features=3" in err


def test_a_template_is_fitted_to_the_classes_of_a_csv(tmp_path, capsys):
    rows = [f"{i % 10},{i % 7},k{i % 5}" for i in range(200)]
    csv = _table(tmp_path / "five.csv", rows)
    path = tmp_path / "five.studio"
    code, _, err = run(capsys, "new", "--data", str(csv), "--template", "iris_mlp", "-o", str(path))
    assert code == 0 and err == "", err
    assert load_project(path).design.infer().output_shape == (None, 5)


def test_a_text_cell_in_a_numeric_column_is_named_by_line_and_column(tmp_path, capsys):
    rows = [f"{i},{i * 2},{i % 3}" for i in range(60)]
    rows[41] = "41,oops,2"
    csv = _table(tmp_path / "typo.csv", rows)
    code, _, err = run(capsys, "new", "--data", str(csv), "-o", str(tmp_path / "t.studio"))
    assert code == 1 and "column 'b'" in err and "line 43" in err and "'oops'" in err
    assert not (tmp_path / "t.studio").exists()


def test_a_column_of_words_is_not_mistaken_for_numbers(tmp_path, capsys):
    rows = [f"{i},{'red' if i % 3 else 'blue'},{i % 2}" for i in range(60)]
    csv = _table(tmp_path / "words.csv", rows)
    code, _, err = run(capsys, "new", "--data", str(csv), "-o", str(tmp_path / "w.studio"))
    assert code == 0, err
    # a, and b one-hot coded as two columns: the same features as training uses
    assert load_project(tmp_path / "w.studio").data["features"] == ["a", "b"]
    assert load_project(tmp_path / "w.studio").design.nodes["n1"].params["shape"] == (3,)


def test_a_one_class_target_is_said_plainly(tmp_path, capsys):
    rows = [f"{i},{i % 4},same" for i in range(30)]
    csv = _table(tmp_path / "one.csv", rows)
    code, _, err = run(capsys, "new", "--data", str(csv), "-o", str(tmp_path / "o.studio"))
    assert code == 1 and "only one class ('same')" in err


def test_a_one_class_project_is_refused_by_training(tmp_path, capsys):
    from studio.training import fit

    rows = [f"{i},{i % 4},{i % 2}" for i in range(30)]
    csv = _table(tmp_path / "two.csv", rows)
    run(capsys, "new", "--data", str(csv), "-o", str(tmp_path / "p.studio"))
    project = load_project(tmp_path / "p.studio")
    _table(csv, [f"{i},{i % 4},1" for i in range(30)])  # the file changed since
    events = list(fit(project, epochs=1))
    assert events[-1].kind == "error" and "only one class ('1')" in events[-1].message


def test_stratified_split_keeps_every_class_in_training():
    from studio.design.datasource import split_indices

    labels = np.array([0] * 90 + [1] * 9 + [2])
    idx = split_indices(len(labels), {"train": 0.7, "val": 0.15, "test": 0.15}, 3, labels)
    parts = {k: labels[v] for k, v in idx.items()}
    assert sorted(np.concatenate(list(idx.values())).tolist()) == list(range(100))
    assert np.bincount(parts["train"], minlength=3).tolist() == [63, 6, 1]
    assert np.bincount(parts["val"], minlength=3).tolist()[:2] == [14, 1]
    plain = split_indices(100, {"train": 0.7, "val": 0.15, "test": 0.15}, 3)
    assert [len(v) for v in plain.values()] == [70, 15, 15]


# -------------------------------------------------------------------------------------- terminal
def test_control_characters_are_escaped_in_everything_printed(tmp_path, capsys):
    project = load_template("iris_mlp")
    project.name = "evil\x1b]0;pwned\x07\x1b[2J\u202etxt.exe\ud800"
    path = tmp_path / "evil\x1b[31m.studio"
    save_project(project, path)
    code, out, err = run(capsys, "info", str(path))
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "\ud800" not in out
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J\\u202etxt.exe\\ud800" in out
    code, _, err = run(capsys, "info", str(tmp_path / "missing\x1b[2J.studio"))
    assert code == 1 and "\x1b" not in err and "\\x1b[2J" in err


def test_a_lone_surrogate_in_a_name_does_not_break_the_real_program(tmp_path):
    path = tmp_path / "s.studio"
    d = load_template("iris_mlp")
    d.name = "bad\ud800name"
    save_project(d, path)
    res = subprocess.run(
        [sys.executable, "-m", "studio", "info", str(path)], capture_output=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert b"bad\\ud800name" in res.stdout and b"Traceback" not in res.stderr


def test_printable_keeps_ordinary_text():
    assert printable("Iris MLP — 3 classes, ünïcode 🚀") == "Iris MLP — 3 classes, ünïcode 🚀"
    assert printable("two\nlines\tand tab") == "two\nlines\tand tab"
    assert printable("one\nline", newlines=False) == "one\\nline"


def test_options_are_not_abbreviated(tmp_path, capsys):
    path = tmp_path / "m.studio"
    run(capsys, "new", "--data", "iris", "-o", str(path))
    code, _, err = run(capsys, "train", str(path), "--epoch", "1")
    assert code == 1 and "--epoch" in err and "unrecognized" in err
    code, _, err = run(capsys, "export", str(path), "--out", str(tmp_path / "x.py"))
    assert code == 1 and not (tmp_path / "x.py").exists()


@pytest.mark.parametrize("content", [b"hello, this is a text file\n", b"\x00\x01\x02binary", b"[1, 2]"])
def test_info_on_a_file_that_is_no_project_names_the_file(tmp_path, capsys, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    code, _, err = run(capsys, "info", str(path))
    assert code == 1 and err.startswith(f"studio: error: {path}: not a project file")
    assert "$" not in err and err.count("\n") == 1


@pytest.mark.parametrize("value", ["inf", "-inf", "1e308", "1e39"])
def test_numbers_a_network_cannot_read_are_named(tmp_path, capsys, value):
    rows = [f"{i},{i * 2},{i % 3}" for i in range(30)]
    rows[4] = f"4,{value},1"
    csv = _table(tmp_path / "big.csv", rows)
    code, _, err = run(capsys, "new", "--data", str(csv), "-o", str(tmp_path / "b.studio"))
    assert code == 1 and "column 'b'" in err and "line 6" in err and "finite" in err


def test_a_data_path_that_loops_through_links_is_saved_and_said(tmp_path, capsys):
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    project = load_template("iris_mlp")
    project.data.update(kind="csv", path=str(loop), target="label")
    save_project(project, tmp_path / "p.studio")  # saving does not fail on the path
    code, out, _ = run(capsys, "info", str(tmp_path / "p.studio"))
    assert code == 0 and "the data cannot be used" in out and "loop.csv" in out


def test_an_empty_design_is_said_plainly_by_info_train_and_export(tmp_path, capsys):
    from studio.design.project import new_project

    path = tmp_path / "empty.studio"
    save_project(new_project(), path)
    code, out, _ = run(capsys, "info", str(path))
    assert code == 0 and "the design is empty" in out
    for argv in (["train", str(path)], ["export", str(path), "-o", str(tmp_path / "e.py")]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and "the design is empty" in err and "KeyError" not in err
