"""`studio compress`: the variants' table, keeping one as a run, and plain errors."""

from __future__ import annotations

import pytest

from studio.cli import main
from studio.design.project import load_project
from studio.training.compress import load_variant


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "lenet.studio"
    assert main(["new", "--data", "digits", "--template", "digits_lenet", "-o", str(path)]) == 0
    assert main(["train", str(path), "--epochs", "2"]) == 0
    return path


def test_compress_prints_the_table_and_keeps_the_last_variant(trained, capsys):
    source = load_project(trained).runs[-1]
    code, out, err = run(
        capsys,
        "compress",
        str(trained),
        "--prune",
        "0.5",
        "--quantize",
        "dynamic",
        "--finetune",
        "1",
        "--keep",
    )
    assert code == 0, err
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("variant"))
    table = lines[head + 2 : head + 6]
    assert [line.split("  ")[0] for line in table] == [
        "float32 (as trained)",
        "pruned 50% (global)",
        "pruned 50% (global), fine-tuned 1 epoch",
        "pruned 50% (global), fine-tuned 1 epoch, int8 dynamic",
    ]
    assert "accuracy" in lines[head] and "latency" in lines[head] and " us" in table[0]
    assert f"as run {load_project(trained).runs[-1]['id']}" in out
    project = load_project(trained)
    kept = project.runs[-1]
    assert kept["compression"]["source"] == source["id"] and kept["compression"]["quantize"] == "dynamic"
    model = load_variant(project, kept)
    assert type(model.fc1).__name__ == "Linear" and "quantized" in type(model.fc1).__module__


def test_compress_refuses_bad_options_and_untrained_projects(trained, tmp_path, capsys):
    before = trained.read_bytes()
    code, _, err = run(capsys, "compress", str(trained), "--prune", "1.5")
    assert code == 1 and err.startswith("studio: error: --prune must be a number from 0 to 0.95")
    code, _, err = run(capsys, "compress", str(trained), "--prune", "0", "--quantize", "none")
    assert code == 1 and "nothing to do" in err
    code, _, err = run(capsys, "compress", str(trained), "--run", "nope")
    assert code == 1 and "no run nope with weights" in err and "Traceback" not in err
    code, _, err = run(
        capsys, "compress", str(trained), "--prune", "0.2", "--quantize", "none", "--keep", "finetuned"
    )
    assert code == 1 and "--keep finetuned: no such variant was made (made: pruned)" in err
    fresh = tmp_path / "fresh.studio"
    assert main(["new", "--data", "iris", "-o", str(fresh)]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, "compress", str(fresh))
    assert code == 1 and "no trained run" in err
    assert trained.read_bytes() == before  # refusals change nothing


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_the_onnx_route_measures_onnxruntime_beside_studio(trained, tmp_path, capsys, mode):
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    from studio.training.data import prepare_data

    out = tmp_path / "net-int8.onnx"
    code, text, err = run(
        capsys,
        "compress",
        str(trained),
        "--prune",
        "0.5",
        "--quantize",
        mode,
        "--onnx",
        "--onnx-output",
        str(out),
    )
    assert code == 0, err
    names = [line.split("  ")[0] for line in text.splitlines()]
    assert "onnxruntime: float32" in names and f"onnxruntime: int8 {mode}" in names
    assert f"wrote {out} (onnxruntime: int8 {mode})" in text
    assert out.with_suffix(".preprocessing.json").is_file()
    # the file runs in onnxruntime, holds int8 weights, and classifies the test split as Studio does
    project = load_project(trained)
    x, y = prepare_data(project).splits["test"]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    accuracy = float((session.run(None, {"input": x.astype(np.float32)})[0].argmax(1) == y).mean())
    row = next(line for line in text.splitlines() if line.startswith(f"onnxruntime: int8 {mode}"))
    assert f"{accuracy:.4f}" in row
    assert accuracy >= project.runs[-1]["final"]["test_accuracy"] - 0.05
    import onnx

    weights = [t for t in onnx.load(str(out)).graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert weights  # int8 weights, not a float file under another name
