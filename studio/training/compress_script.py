"""A script that reproduces a compressed variant: the exported network, its trained weights, and the
same pruning and quantization written out with the framework's own API (PyTorch's or Studio's)."""

from __future__ import annotations

import json
from pathlib import Path

MAIN_GUARD = '\n\nif __name__ == "__main__":\n'


def compression_script(project, row: dict, target: str, weights_name: str, script_path=None) -> str:
    """`project` exported for `target` ("studio" or "torch"), whose entry point loads `weights_name`
    (a safetensors file beside the script), applies the compression of the variant `row` and saves the
    result. Fine-tuning is not repeated: the weights are those after it, so pruning them again at the
    same amount finds the same zeros."""
    from studio.design.export import export_python

    code = export_python(project, target=target, script_path=script_path)
    head, guard, _ = code.rpartition(MAIN_GUARD)
    if not guard:
        raise ValueError("the exported script has no entry point to add the compression to")
    c = row.get("compression") or {}
    block = _block(row, c, weights_name, "torch" if target == "torch" else "studio.core")
    return head + "\n\n" + "\n".join(block) + "\n"


def _block(row: dict, c: dict, weights_name: str, package: str) -> list[str]:
    amount, scope, quantize = c.get("prune"), c.get("scope", "global"), c.get("quantize")
    backend = "x86" if package == "torch" else "onednn"  # each framework's default CPU engine
    return [
        f"# Compression, as Studio made the variant {json.dumps(row['name'])}",
        "import os  # noqa: E402",
        "",
        f"PRUNE_AMOUNT = {amount!r}  # fraction of Linear and Conv weights set to zero (None: no pruning)",
        f"PRUNE_SCOPE = {scope!r}  # 'global' or 'per_layer'",
        f"QUANTIZE = {quantize!r}  # 'dynamic' (int8 Linear), 'static' (int8 Conv and Linear) or None",
        f"WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), {weights_name!r})",
        "",
        "",
        *_prune_function(package),
        *_quantize_function(package, backend),
        *_entry_point(),
    ]


def _prune_function(package: str) -> list[str]:
    return [
        "def prune_model(model):",
        '    """L1 unstructured pruning of every Linear and Conv weight, made permanent (plain weights)."""',
        f"    import {package}.nn.utils.prune as prune",
        "    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)",
        '    layers = [(m, "weight") for m in model.modules() if isinstance(m, kinds)]',
        '    if PRUNE_SCOPE == "global":',
        "        prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=PRUNE_AMOUNT)",
        "    else:",
        "        for module, name in layers:",
        "            prune.l1_unstructured(module, name, amount=PRUNE_AMOUNT)",
        "    for module, name in layers:",
        "        prune.remove(module, name)",
        "    return model",
        "",
        "",
    ]


def _quantize_function(package: str, backend: str) -> list[str]:
    return [
        "def quantize_model(model, calibration):",
        '    """int8, as torch.ao.quantization does it: dynamic, or static calibrated on `calibration`."""',
        f"    import {package}.ao.quantization as q",
        '    if QUANTIZE == "dynamic":',
        "        return q.quantize_dynamic(model.eval(), {nn.Linear}, dtype=torch.qint8)",
        "    # each Conv and Linear between its own QuantStub and DeQuantStub: what lies between them",
        "    # (additions, concatenations) stays float",
        "    for parent in list(model.modules()):",
        "        for name, child in list(parent.named_children()):",
        "            if type(child) in (nn.Linear, nn.Conv1d, nn.Conv2d):",
        "                wrapper = q.QuantWrapper(child)",
        f"                wrapper.qconfig = q.get_default_qconfig({backend!r})",
        "                setattr(parent, name, wrapper)",
        "    prepared = q.prepare(model.eval())",
        "    with torch.no_grad():",
        "        prepared(calibration)",
        "    return q.convert(prepared)",
        "",
        "",
    ]


def _entry_point() -> list[str]:
    return [
        "def compress(weights=WEIGHTS, output=None, data=DATA):",
        '    """Load the trained weights, prune and quantize the network as Studio did, and test it."""',
        "    (x_train, y_train), _, (x_test, y_test) = split_data(*load_data(data))",
        "    model = load_weights(Net(), weights).eval()",
        "    if PRUNE_AMOUNT:",
        "        model = prune_model(model)",
        "    total = sum(p.numel() for p in model.parameters())",
        "    zeros = sum(int((p == 0).sum()) for p in model.parameters())",
        '    print(f"{total} parameters, {total - zeros} non-zero ({zeros / max(total, 1):.1%} zeros)")',
        "    if output:",
        "        save_weights(model, output)",
        '        print(f"pruned weights saved to {output}")',
        "    if QUANTIZE:",
        '        model = quantize_model(model, tensors(x_train[:512], y_train[:512], "cpu")[0])',
        '    x, y = tensors(x_test, y_test, "cpu")',
        "    with torch.no_grad():",
        "        out = model(x)",
        "    if out.ndim == 2 and out.shape[1] > 1 and y.ndim == 1:",
        '        print(f"test accuracy {(out.argmax(1) == y).float().mean().item():.4f}")',
        "    return model",
        "",
        "",
        'if __name__ == "__main__":',
        "    import sys",
        "",
        '    if sys.argv[1:2] == ["compress"]:',
        '        cli = argparse.ArgumentParser(description="prune and quantize the trained network")',
        '        cli.add_argument("--weights", default=WEIGHTS, help="the trained weights (safetensors)")',
        '        cli.add_argument("--output", help="where to save the pruned weights")',
        '        cli.add_argument("--data", default=DATA, help="the data file or folder")',
        "        args = cli.parse_args(sys.argv[2:])",
        "        compress(args.weights, args.output, args.data)",
        "    else:",
        "        main()",
    ]


def write_variant(project, row: dict, target: str, path: Path) -> list[Path]:
    """Export the variant `row`: a script (`studio` or `torch`) with its float weights beside it, or
    (`onnx`) the onnxruntime file with its preprocessing note. Returns the files written."""
    from studio.core import atomic

    path = Path(path)
    if target == "onnx":
        if row.get("runtime") != "onnxruntime":
            raise ValueError(
                "choose an onnxruntime row to export ONNX (tick 'Also in onnxruntime' and compress again)"
            )
        written = [atomic.copy_file(Path(row["file"]), path)]
        note = Path(row["file"]).parent / "onnx-float32.preprocessing.json"
        if note.is_file():
            written.append(atomic.copy_file(note, path.with_suffix(".preprocessing.json")))
        return written
    quantized = "quantize" in (row.get("compression") or {}) or row.get("runtime") == "onnxruntime"
    source = Path(row["float_file"] if quantized else row["file"])
    weights = path.with_suffix(".safetensors")
    code = compression_script(project, row, target, weights.name, script_path=path)
    atomic.copy_file(source, weights)
    return [atomic.write_text(path, code), weights]
