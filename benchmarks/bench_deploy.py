"""The Compress step and its deployment route on the digits CNN and the residual CNN templates.

`python -m benchmarks.bench_deploy [--quick]`: each template is trained on the 8x8 digits, then
compressed as `studio compress --prune 0.5 --finetune 1 --quantize MODE --onnx` does it, for dynamic
and static int8. One table per model and mode: parameters, non-zero parameters, weights file size
and its ratio to float32, test accuracy and its change in points, latency per sample on the whole
test split (Studio's own inference, then onnxruntime's on the exported files), and PyTorch's float32
latency on the same batch for reference.
"""

from __future__ import annotations

import argparse
import tempfile

from . import harness

TEMPLATES = {"digits CNN": ("digits_lenet", 15), "residual CNN template": ("digits_resnet", 5)}


def _trained(template: str, epochs: int, folder: str):
    from studio.design import load_template
    from studio.design.runs import save_with_runs
    from studio.training import fit

    project = load_template(template)
    project.training.update({"epochs": epochs, "seed": 0})
    last = list(fit(project))[-1]
    if last.kind != "end":
        raise RuntimeError(last.message)
    save_with_runs(project, f"{folder}/{template}.studio")
    return project


def _torch_latency(project):
    """PyTorch's float32 inference per sample on the test split, with the run's weights."""
    try:
        import torch
    except ImportError:
        return None
    from studio.design.build import build
    from studio.design.weights import load_weights
    from studio.training.data import prepare_data

    net = build(project.design, backend=torch).eval()
    state = load_weights(project.folder / project.runs[-1]["weights"], project.design)
    net.load_state_dict({k: torch.tensor(v.numpy()) for k, v in state.items()})
    x = torch.tensor(prepare_data(project).splits["test"][0])

    def run():
        with torch.no_grad():
            net(x)

    return harness.interleaved({"torch": run}, 15)["torch"] / len(x)


def main(argv=None) -> int:
    from studio.cli import compression_table
    from studio.training.compress import compress, discard

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_deploy", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="train for 2 epochs only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        for label, (template, epochs) in TEMPLATES.items():
            project = _trained(template, 2 if args.quick else epochs, folder)
            torch_latency = _torch_latency(project)
            for mode in ("dynamic", "static"):
                options = {"prune": 0.5, "finetune": 1, "quantize": mode, "onnx": True}
                last = list(compress(project, options))[-1]
                if last.kind != "end":
                    print(f"{label}, {mode}: {last.message}")
                    continue
                rows = last.metrics["variants"]
                print(f"\n{label}, int8 {mode} ({project.runs[-1]['epochs_completed']} epochs of training)")
                print("\n".join(compression_table(rows)))
                discard(rows)
            if torch_latency is not None:
                print(
                    f"PyTorch float32 (as trained), same test batch: {torch_latency * 1e6:.1f} us per sample"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
