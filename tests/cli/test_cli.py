"""The command line: new, info, train and export, with one-line errors and no tracebacks."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from studio.cli import main
from studio.design.project import load_project


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_new_from_a_sample_sizes_the_model(tmp_path, capsys):
    path = tmp_path / "iris.studio"
    code, out, err = run(capsys, "new", "--data", "iris", "-o", str(path))
    assert code == 0 and "wrote" in out and err == ""
    p = load_project(path)
    inf = p.design.infer()
    assert inf.problems == [] and inf.output_shape == (None, 3)
    assert p.design.nodes[inf.input_id].params["shape"] == (4,)


def test_new_from_a_csv_with_target(tmp_path, capsys):
    csv = tmp_path / "houses.csv"
    rows = "\n".join(f"{i},{i * 2 % 7},{i * 1.5 + 0.25}" for i in range(30))
    csv.write_text("rooms,age,price\n" + rows + "\n")
    path = tmp_path / "h.studio"
    code, _, err = run(capsys, "new", "--data", str(csv), "--target", "price", "-o", str(path))
    assert code == 0, err
    p = load_project(path)
    assert p.data["kind"] == "csv" and p.data["target"] == "price" and p.data["task"] == "regression"
    assert json.loads(path.read_text())["data"]["path"] == "houses.csv"
    inf = p.design.infer()
    assert inf.output_shape == (None, 1) and p.design.nodes[inf.input_id].params["shape"] == (2,)


def test_new_from_a_template_and_image_folder(tmp_path, capsys):
    path = tmp_path / "d.studio"
    code, _, err = run(capsys, "new", "--data", "digits", "--template", "digits_resnet", "-o", str(path))
    assert code == 0, err
    assert load_project(path).design.infer().problems == []
    from PIL import Image

    images = tmp_path / "imgs"
    for c in ("cat", "dog", "eel"):
        (images / c).mkdir(parents=True)
        for i in range(2):
            Image.new("L", (5, 4), 40 * i).save(images / c / f"{i}.png")
    code, _, err = run(capsys, "new", "--data", str(images), "-o", str(tmp_path / "i.studio"))
    assert code == 0, err
    inf = load_project(tmp_path / "i.studio").design.infer()
    assert inf.problems == [] and inf.output_shape == (None, 3)


def test_info_table_and_json(tmp_path, capsys):
    path = tmp_path / "m.studio"
    run(capsys, "new", "--data", "iris", "-o", str(path))
    code, out, _ = run(capsys, "info", str(path))
    assert code == 0
    assert (
        "Layer (type)" in out
        and "hidden1 (Linear)" in out
        and "(N, 16)" in out
        and "Total params: 403" in out
    )
    code, out, _ = run(capsys, "info", str(path), "--json")
    info = json.loads(out)
    assert info["total_params"] == 403 and info["output_shape"] == [None, 3]
    assert [layer["name"] for layer in info["layers"]][:2] == ["inputs", "hidden1"]
    assert info["layers"][1]["params"] == 80 and info["problems"] == []


def test_train_writes_weights_and_run_summary(tmp_path, capsys):
    path = tmp_path / "m.studio"
    run(capsys, "new", "--data", "iris", "-o", str(path))
    code, out, err = run(capsys, "train", str(path), "--epochs", "1")
    assert code == 0, err
    assert "epoch 1:" in out
    p = load_project(path)
    assert len(p.runs) == 1 and p.weights_path() is not None and p.weights_path().is_file()


def test_export_both_targets(tmp_path, capsys):
    path = tmp_path / "m.studio"
    run(capsys, "new", "--data", "iris", "-o", str(path))
    for target in ("studio", "torch"):
        out_py = tmp_path / f"{target}.py"
        code, out, err = run(capsys, "export", str(path), "-o", str(out_py), "--target", target)
        assert code == 0, err
        ast.parse(out_py.read_text())
    code, _, _ = run(capsys, "export", str(path), "-o", str(tmp_path / "d.py"), "--target", "torch", "--ddp")
    assert code == 0 and "DistributedDataParallel" in (tmp_path / "d.py").read_text()


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["info", "missing.studio"], "no project file"),
        (["new", "--data", "not-a-sample", "-o", "x.studio"], "neither a file"),
        (["info"], "required"),
        (["export", "m.studio", "-o", "x.py", "--target", "cobol"], "invalid choice"),
        (["frobnicate", "x"], "unknown command"),
    ],
)
def test_errors_are_one_line(argv, fragment, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code != 0
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_project_reports_json_path(tmp_path, capsys):
    path = tmp_path / "m.studio"
    run(capsys, "new", "--data", "iris", "-o", str(path))
    d = json.loads(path.read_text())
    d["design"]["nodes"][1]["params"]["out_features"] = -2
    path.write_text(json.dumps(d))
    code, _, err = run(capsys, "info", str(path))
    assert code == 1 and "design.nodes[1].params.out_features: expected a positive integer, got -2" in err
    assert err.count("\n") == 1


def test_no_traceback_from_the_real_program(tmp_path):
    bad = tmp_path / "bad.studio"
    bad.write_text("{oops")
    res = subprocess.run(
        [sys.executable, "-m", "studio.cli", "info", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 1 and "not valid JSON" in res.stderr and "Traceback" not in res.stderr


def test_no_command_starts_the_app(monkeypatch):
    import studio.ui.app as app

    calls = []
    monkeypatch.setattr(app, "run_app", lambda path=None: calls.append(path) or 0)
    assert main([]) == 0 and calls == [None]


def _images(folder, classes, size, mode, count=3):
    from PIL import Image

    for c in classes:
        (folder / c).mkdir(parents=True)
        for i in range(count):
            Image.new(mode, size[::-1], color=(40 * i,) * len(mode)).save(folder / c / f"{i}.png")


def test_new_from_an_image_folder_follows_its_mode_and_size(tmp_path, capsys):
    _images(tmp_path / "rgb", ("a", "b"), (32, 32), "RGB")
    _images(tmp_path / "rgba", ("a", "b"), (24, 40), "RGBA")
    _images(tmp_path / "grey", ("a", "b", "c"), (100, 200), "L")
    expected = {"rgb": ("RGB", [32, 32]), "rgba": ("RGB", [24, 40]), "grey": ("L", [32, 64])}
    for name, (mode, size) in expected.items():
        path = tmp_path / f"{name}.studio"
        code, _, err = run(capsys, "new", "--data", str(tmp_path / name), "-o", str(path))
        assert code == 0, err
        p = load_project(path)
        assert (p.data["image_mode"], p.data["image_size"]) == (mode, size), name
        inf = p.design.infer()
        channels = 3 if mode == "RGB" else 1
        assert inf.problems == [] and p.design.nodes[inf.input_id].params["shape"] == (channels, *size)
    path = tmp_path / "chosen.studio"
    argv = [
        "new",
        "--data",
        str(tmp_path / "rgb"),
        "-o",
        str(path),
        "--image-size",
        "16x20",
        "--image-mode",
        "L",
    ]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert load_project(path).data["image_size"] == [16, 20] and load_project(path).data["image_mode"] == "L"
    for bad in (
        ["--image-size", "0"],
        ["--image-size", "3x"],
        ["--image-size", "4097"],
        ["--image-mode", "CMYK"],
    ):
        code, _, err = run(
            capsys, "new", "--data", str(tmp_path / "rgb"), "-o", str(tmp_path / "x.studio"), *bad
        )
        assert code != 0 and "--image-" in err and "Traceback" not in err
        assert "image-size" not in bad[0] or "sides from 1 to 4096" in err
    code, _, err = run(capsys, "new", "--data", "iris", "-o", str(tmp_path / "i.studio"), "--image-size", "8")
    assert code != 0 and "apply to image folders" in err


def test_train_takes_every_setting_as_a_flag_for_this_run(tmp_path, capsys):
    from studio.design import load_template, save_project

    path = tmp_path / "iris.studio"
    save_project(load_template("iris_mlp"), path)
    args = ["--epochs", "2", "--optimizer", "sgd", "--momentum", "0.8", "--nesterov", "--batch-size", "64"]
    args += ["--schedule", "step", "--gamma", "0.5", "--set", "early_stopping.monitor=val_loss"]
    code, out, err = run(capsys, "train", str(path), *args)
    assert code == 0, err
    project = load_project(path)
    s = project.runs[-1]["settings"]
    assert (s["epochs"], s["optimizer"], s["batch_size"]) == (2, "sgd", 64)
    assert s["sgd"] == {"momentum": 0.8, "dampening": 0.0, "nesterov": True}
    assert s["step"]["gamma"] == 0.5 and s["early_stopping"]["monitor"] == "val_loss"
    assert project.training["optimizer"] == "adam"  # the project's own settings stay


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "0"], "lr: expected a number from 1e-10 to 1e+06, got '0'"),
        (["--momentum", "0.9"], "momentum: neither the chosen optimizer nor the chosen schedule"),
        (["--set", "sgd.lr=1"], "unknown training setting 'sgd.lr'"),
        (["--set", "lr"], "expected NAME=VALUE"),
        (["--seed", str(2**31)], "seed: expected an integer from 0 to 2147483647"),
    ],
)
def test_train_refuses_bad_settings_in_one_line(tmp_path, capsys, args, message):
    from studio.design import load_template, save_project

    path = tmp_path / "iris.studio"
    save_project(load_template("iris_mlp"), path)
    code, _, err = run(capsys, "train", str(path), *args)
    assert code == 1 and message in err and err.count("\n") == 1
    assert load_project(path).runs == []


def test_export_writes_what_the_output_name_says(tmp_path, capsys):
    path = tmp_path / "m.studio"
    assert main(["new", "--data", "iris", "-o", str(path)]) == 0
    assert main(["train", str(path), "--epochs", "1"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "export", str(path), "-o", str(tmp_path / "m.onnx"))
    assert code == 0 and "(ONNX, run " in out and (tmp_path / "m.onnx").read_bytes()[:2] != b'""'
    code, out, _ = run(capsys, "export", str(path), "-o", str(tmp_path / "m.py"))
    assert code == 0 and "(studio)" in out
    for argv, wanted in (
        (["-o", "x.onnx", "--target", "torch"], "use *.py"),
        (["-o", "x.py", "--target", "onnx"], "use *.onnx"),
    ):
        code, _, err = run(
            capsys, "export", str(path), *[str(tmp_path / a) if a.startswith("x.") else a for a in argv]
        )
        assert code == 1 and wanted in err and not (tmp_path / argv[1]).exists()
