"""Export to Python: both targets run, match the Studio model exactly, and cannot be injected into."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from export_helpers import engine_has, import_script, tiny_data
from safetensors.numpy import save_file

from studio.design import Design
from studio.design.export import export_python, safe_identifier
from studio.design.project import list_templates, load_template, new_project

NAMES = [t[0] for t in list_templates()]
TOP_LEVEL_FUNCTIONS = {
    "augment",
    "load_data",
    "split_data",
    "split_indices",
    "save_weights",
    "load_weights",
    "evaluate",
    "train",
    "main",
    "make_sequences",
    "make_tokens",
    "standardizer",
    "batch_indices",
    "predictions",
    "score",
    "tensors",
}
CONSTANTS = {
    "DATA",
    "EPOCHS",
    "BATCH_SIZE",
    "LR",
    "WEIGHT_DECAY",
    "TASK",
    "MONITOR",
    "SEED",
    "SPLIT_SEED",
    "SPLIT",
    "STANDARDIZE",
    "PATIENCE",
    "DEVICE",
    "TARGET",
    "FEATURES",
    "IMAGE_SIZE",
    "IMAGE_MODE",
    "IMAGE_EXTENSIONS",
    "AUGMENT",
}
IMPORTS = {
    "__future__",
    "argparse",
    "os",
    "pathlib",
    "numpy",
    "pandas",
    "PIL",
    "safetensors.numpy",
    "torch",
    "torch.distributed",
    "torch.nn.parallel",
    "torch.utils.data",
    "torch.utils.data.distributed",
    "studio.core",
    "studio.core.data",
}


def check_structure(code: str) -> ast.Module:
    """The script holds only the expected kinds of top-level statement, and calls nothing dangerous."""
    tree = ast.parse(code)
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr):
            assert isinstance(stmt.value, ast.Constant) and stmt is tree.body[0]
        elif isinstance(stmt, ast.Import):
            assert all(a.name in IMPORTS for a in stmt.names)
        elif isinstance(stmt, ast.ImportFrom):
            assert stmt.module in IMPORTS
        elif isinstance(stmt, ast.Assign):
            assert [t.id for t in stmt.targets] in [[c] for c in CONSTANTS]
            assert all(
                isinstance(n, (ast.Constant, ast.Tuple, ast.List, ast.Dict, ast.Load))
                for n in ast.walk(stmt.value)
                if not isinstance(n, ast.expr_context)
            )
        elif isinstance(stmt, ast.ClassDef):
            assert stmt.name in ("Net", "Monitor")
        elif isinstance(stmt, ast.FunctionDef):
            assert stmt.name in TOP_LEVEL_FUNCTIONS
        elif isinstance(stmt, ast.If):
            assert ast.unparse(stmt.test) == "__name__ == '__main__'"
            assert ast.unparse(stmt.body[0]) == "main()" and len(stmt.body) == 1
        else:
            raise AssertionError(f"unexpected statement: {ast.unparse(stmt)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"eval", "exec", "compile", "__import__", "open", "getattr"}
        if isinstance(node, ast.Attribute):
            assert node.attr not in {"system", "popen", "remove", "rmtree", "unlink"}
    return tree


def run_and_compare(project, target, tmp_path, backend):
    """Export, import, check parameters and outputs against the Studio-built model, then train one epoch."""
    import studio.core as sc
    from studio.design.build import build

    design = project.design
    code = export_python(project, target=target)
    check_structure(code)
    path = tmp_path / f"net_{target}.py"
    path.write_text(code)
    module = import_script(path)
    net = module.Net()
    inf = design.infer()
    assert sum(p.numel() for p in net.parameters()) == inf.total_params
    # weights trained in Studio load into Net and give the same outputs
    ours = build(design)
    ours.eval()
    weights = tmp_path / "studio.safetensors"
    save_file({k: np.array(v.detach().numpy()) for k, v in ours.state_dict().items()}, str(weights))
    module.load_weights(net, weights)
    net.eval()
    shape = design.nodes[inf.input_id].params["shape"]
    rng = np.random.default_rng(1)
    if design.nodes[inf.input_id].params["dtype"] == "int64":
        x = rng.integers(0, 10, size=(3, *shape)).astype(np.int64)
    else:
        x = rng.standard_normal((3, *shape)).astype(np.float32)
    with backend.no_grad():
        got = net(backend.from_numpy(x)).detach().numpy()
    expected = ours(sc.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    # one epoch on tiny data
    out = tmp_path / f"trained_{target}.safetensors"
    module.main(["--epochs", "1", "--data", str(tiny_data(project, tmp_path)), "--weights", str(out)])
    assert out.is_file()


@pytest.mark.parametrize("name", NAMES)
def test_template_exports_to_torch(name, tmp_path, torch, capsys):
    project = load_template(name)
    if not engine_has(project.design):
        pytest.skip("the engine lacks a layer of this template (needed for the reference outputs)")
    run_and_compare(project, "torch", tmp_path, torch)
    assert "epoch 1:" in capsys.readouterr().out


@pytest.mark.parametrize("name", NAMES)
def test_template_exports_to_studio(name, tmp_path, capsys):
    import studio.core as sc

    project = load_template(name)
    if not engine_has(project.design):
        pytest.skip("the engine lacks a layer of this template")
    run_and_compare(project, "studio", tmp_path, sc)
    assert "epoch 1:" in capsys.readouterr().out


@pytest.mark.parametrize("target", ["studio", "torch"])
def test_script_runs_as_a_program(target, tmp_path, request):
    if target == "torch":
        request.getfixturevalue("torch")
    project = load_template("iris_mlp")
    path = tmp_path / "script.py"
    path.write_text(export_python(project, target=target))
    weights = tmp_path / "w.safetensors"
    res = subprocess.run(
        [
            sys.executable,
            str(path),
            "--epochs",
            "1",
            "--data",
            str(tiny_data(project, tmp_path)),
            "--weights",
            str(weights),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "epoch 1:" in res.stdout and weights.is_file()


def test_ddp_export_uses_distributed_training(tmp_path, torch, capsys):
    project = load_template("iris_mlp")
    code = export_python(project, target="torch", ddp=True)
    check_structure(code)
    assert (
        "DistributedDataParallel(" in code and "DistributedSampler(" in code and "sampler.set_epoch" in code
    )
    assert "torchrun --nproc_per_node=N" in code
    path = tmp_path / "ddp.py"
    path.write_text(code)
    module = import_script(path)  # without torchrun it trains in one process
    module.main(
        ["--epochs", "1", "--data", str(tiny_data(project, tmp_path)), "--weights", str(tmp_path / "w")]
    )
    assert "epoch 1:" in capsys.readouterr().out
    with pytest.raises(ValueError):
        export_python(project, target="studio", ddp=True)


@pytest.mark.skipif(
    not os.environ.get("STUDIO_SLOW_TESTS"),
    reason="starts two processes (about 10 s): set STUDIO_SLOW_TESTS=1",
)
def test_ddp_export_under_torchrun(tmp_path, torch):
    project = load_template("iris_mlp")
    path = tmp_path / "ddp.py"
    path.write_text(export_python(project, target="torch", ddp=True))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            str(path),
            "--epochs",
            "1",
            "--data",
            str(tiny_data(project, tmp_path)),
            "--weights",
            str(tmp_path / "w.safetensors"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.count("epoch 1:") == 1 and (tmp_path / "w.safetensors").is_file()


EVIL = '"); import os; os.system("echo pwned") #\n"""\\x\'\'\' {__import__("os")}'


def test_user_text_cannot_inject_code(tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,y\n1,2,0\n3,4,1\n")
    d = Design()
    i = d.add_node("Input", {"shape": (2,)}, "os_system")
    lin = d.add_node("Linear", {"out_features": 2}, "exec_")
    out = d.add_node("Output", None, "import_os")
    d.connect(i.id, lin.id)
    d.connect(lin.id, out.id)
    lin.name = "x); import os; os.system('boom'"  # a name that bypassed validation is still made safe
    project = new_project(
        data={
            "kind": "csv",
            "path": str(tmp_path / EVIL),
            "target": EVIL,
            "features": [EVIL, "a\nimport os"],
        },
        design=d,
        name=EVIL,
    )
    for target in ("studio", "torch"):
        code = export_python(project, target=target)
        tree = check_structure(code)
        strings = {
            n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
        assert EVIL in strings and "a\nimport os" in strings
        assert str(tmp_path / EVIL) in strings
        assert "boom" not in code.replace(repr("boom"), "") or "'boom'" not in code
        net = next(n for n in tree.body if isinstance(n, ast.ClassDef))
        attrs = {
            t.attr
            for n in ast.walk(net)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Attribute)
        }
        assert attrs == {safe_identifier(lin.name)} and attrs.pop().isidentifier()


def test_safe_identifier():
    for raw in ["x); import os", "class", "1abc", "__init__", "", "naïve", "a b"]:
        s = safe_identifier(raw)
        assert s.isidentifier() and s.isascii() and not s.startswith("__")
        import keyword

        assert not keyword.iskeyword(s)


def test_exported_scripts_are_lint_clean_and_formatted(tmp_path):
    import shutil

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    for name in NAMES:
        project = load_template(name)
        for target, ddp in (("studio", False), ("torch", False), ("torch", True)):
            (tmp_path / f"{name}_{target}_{int(ddp)}.py").write_text(export_python(project, target, ddp))
    opts = ["--isolated", "--line-length", "110"]
    fmt = subprocess.run(
        [ruff, "format", "--check", *opts, "."], capture_output=True, text=True, cwd=tmp_path
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    lint = subprocess.run(
        [ruff, "check", *opts, "--select", "E,F,W,I,B,UP,SIM", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_image_folder_and_csv_projects_export_and_train(tmp_path, capsys):
    from PIL import Image

    import studio.core as sc
    from studio.design.datasource import describe_data
    from studio.design.starter import default_design

    rng = np.random.default_rng(0)
    for k, name in enumerate(["circle", "square"]):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(6):
            pixels = (rng.random((10, 12)) * 120 + 100 * k).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / name / f"{i}.png")
    csv = tmp_path / "table.csv"
    rows = [f"{i % 5},{(i * 7) % 3},{'yes' if i % 2 else 'no'}" for i in range(24)]
    csv.write_text("a,b,answer\n" + "\n".join(rows) + "\n")
    sources = [
        {
            "kind": "images",
            "path": str(tmp_path / "imgs"),
            "image_size": [8, 8],
            "augmentation": {"hflip": True, "shift": True, "rotate": True},
        },
        {"kind": "csv", "path": str(csv), "target": "answer", "features": ["a", "b"]},
    ]
    for data in sources:
        info = describe_data(data)
        project = new_project(data={**data, "task": info["task"]}, design=default_design(info, data))
        assert project.design.infer().problems == []
        code = export_python(project, target="studio")
        check_structure(code)
        path = tmp_path / f"{data['kind']}.py"
        path.write_text(code)
        module = import_script(path)
        module.main(["--epochs", "1", "--weights", str(tmp_path / f"{data['kind']}.safetensors")])
        x, y = module.load_data(module.DATA)
        assert len(x) == len(y) == (12 if data["kind"] == "images" else 24)
        assert sc.is_tensor(module.Net()(sc.from_numpy(x[:2].astype(np.float32))))
        if data["kind"] == "images":
            moved = module.augment(x, np.random.default_rng(0), **module.AUGMENT)
            assert moved.shape == x.shape and moved.dtype == x.dtype and not np.array_equal(moved, x)
    assert capsys.readouterr().out.count("epoch 1:") == 2


@pytest.mark.parametrize("missing", ["median", "drop", "error"])
def test_csv_script_honours_the_missing_value_setting(missing, tmp_path):
    csv = tmp_path / "gaps.csv"
    rows = [f"{'' if i in (3, 7) else i % 5},{(i * 7) % 3 + i},{i % 2}" for i in range(20)]
    csv.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    d = Design()
    i = d.add_node("Input", {"shape": (2,)})
    lin = d.add_node("Linear", {"out_features": 2})
    out = d.add_node("Output")
    d.connect(i.id, lin.id)
    d.connect(lin.id, out.id)
    data = {"kind": "csv", "path": str(csv), "target": "label", "features": ["a", "b"], "missing": missing}
    project = new_project(data=data, design=d)
    path = tmp_path / "script.py"
    path.write_text(export_python(project, target="studio"))
    module = import_script(path)
    if missing == "error":
        with pytest.raises(ValueError, match=r"column 'a' has missing values on lines \[5, 9\]"):
            module.load_data(module.DATA)
        return
    x, y = module.load_data(module.DATA)
    if missing == "drop":
        assert len(x) == len(y) == 18
        assert x[:, 1].tolist() == [float((k * 7) % 3 + k) for k in range(20) if k not in (3, 7)]
    else:
        assert len(x) == 20
        assert x[3, 0] == x[7, 0] == np.median([k % 5 for k in range(20) if k not in (3, 7)])
    assert not np.isnan(x).any()
    res = subprocess.run(
        [sys.executable, str(path), "--epochs", "1", "--weights", str(tmp_path / "w.safetensors")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "epoch 1:" in res.stdout


def test_an_image_folder_script_reads_the_images_the_app_reads(tmp_path, capsys):
    """Sub-folders, every extension Studio reads, mixed modes and an unreadable file: the script's
    samples are the app's, in the app's order, decoded alike."""
    from PIL import Image

    from studio.design.datasource import describe_data
    from studio.design.starter import default_design
    from studio.training.data import prepare_data

    rng = np.random.default_rng(1)
    root = tmp_path / "photos"
    for k, name in enumerate(["cats", "dogs"]):
        (root / name / "more").mkdir(parents=True)
        for i, ext in enumerate([".PNG", ".jpeg", ".webp", ".tif", ".bmp"]):
            pixels = (rng.random((14, 10, 3)) * 200 + 40 * k).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}{ext}")
        Image.fromarray((rng.random((9, 9)) * 255).astype(np.uint8)).save(root / name / "more" / "gray.png")
        Image.fromarray((rng.random((9, 9, 4)) * 255).astype(np.uint8)).save(root / name / "rgba.png")
        (root / name / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a picture")
        (root / name / "Thumbs.db").write_bytes(b"\0" * 64)
    data = {"kind": "images", "path": str(root), "image_size": [12, 8], "image_mode": "RGB"}
    info = describe_data(data)
    project = new_project(data={**data, "task": info["task"]}, design=default_design(info, data))
    prepared = prepare_data(project)
    path = tmp_path / "script.py"
    path.write_text(export_python(project, target="studio"))
    module = import_script(path)
    parts = module.split_data(*module.load_data(module.DATA))
    assert "left out 2 unreadable image(s)" in capsys.readouterr().out
    for (x, y), split in zip(parts, ("train", "val", "test")):
        np.testing.assert_allclose(x, prepared.splits[split][0], atol=1e-6)
        np.testing.assert_array_equal(y, prepared.splits[split][1])
    assert sum(len(y) for _, y in parts) == 14
