"""Export a project's network to ONNX with a run's trained weights and its input preprocessing.

The preprocessing (standardisation of table features, scaling of image pixels) is either folded
into the graph, so that the file takes raw values, or written beside it as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PREPROCESSING_MODES = ("fold", "json")
TRACE_BATCH = 2


class OnnxExportError(ValueError):
    """The project cannot be exported to ONNX; the message says why in plain words."""


@dataclass
class OnnxExportResult:
    path: Path
    json_path: Path | None
    run_id: int | None
    max_difference: float | None  # Studio against onnxruntime on a sample batch; None without onnxruntime
    operators: list = field(default_factory=list)
    folded: dict = field(default_factory=dict)


def choose_run(project, run_id=None):
    """The run whose weights are exported: `run_id`, or the newest run that saved weights."""
    runs = [r for r in project.runs if isinstance(r, dict) and r.get("weights")]
    if run_id is None:
        if not runs:
            raise OnnxExportError(
                "the project has no trained run with weights: train it first, or export untrained weights"
            )
        return runs[-1]
    for r in runs:
        if str(r.get("id")) == str(run_id):
            return r
    have = ", ".join(str(r.get("id")) for r in runs) or "none"
    raise OnnxExportError(f"no run {run_id} with weights in the project (runs with weights: {have})")


def _load_run_weights(model, project, run):
    from studio.design.runs import RunWeightsError, load_run_weights

    try:
        load_run_weights(model, project, run)
    except RunWeightsError as e:
        raise OnnxExportError(str(e)) from None


def preprocessing_of(project) -> dict:
    """What the training run does to raw inputs before the network sees them, as JSON-able data."""
    from .data import DataError, prepare_data

    data = project.data or {}
    kind = data.get("kind", "sample")
    if kind == "images":
        return {
            "kind": "scale",
            "scale": 1.0 / 255.0,
            "image_mode": data.get("image_mode") or "L",
            "image_size": list(data.get("image_size") or (28, 28)),
            "note": "pixels 0-255 are divided by 255; channels first (N, C, H, W)",
        }
    try:
        prepared = prepare_data(project)
    except DataError as e:
        raise OnnxExportError(f"the data the preprocessing is learned from cannot be read: {e}") from None
    pre = dict(prepared.preprocessing or {})
    pre["classes"] = list(prepared.class_names)
    if kind == "csv" and pre.get("columns"):
        pre["kind"] = "table"
    return pre


def _fold_arrays(pre: dict):
    """(mean, std) per input feature that the graph applies to raw values, or None when nothing is done."""
    kind = pre.get("kind")
    if kind == "standardize":
        return np.asarray(pre["mean"], np.float32), np.asarray(pre["std"], np.float32)
    if kind == "table":
        if not pre.get("standardize"):
            return None
        mean, std = [], []
        for c in pre["columns"]:
            if c["kind"] == "numeric":
                mean.append(c["mean"])
                std.append(c["std"] or 1.0)
            else:  # one-hot codes pass through unchanged
                mean += [0.0] * len(c["categories"])
                std += [1.0] * len(c["categories"])
        return np.asarray(mean, np.float32), np.asarray(std, np.float32)
    if kind == "scale":
        return np.float32(0.0), np.float32(1.0 / pre["scale"])
    return None


def _wrap_preprocessing(model, fold):
    import studio.core as core

    mean, std = (core.tensor(np.asarray(a, np.float32)) for a in fold)

    class Preprocessed(core.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net((x - mean) / std)

    return Preprocessed(model)


def _example_input(design):
    import studio.core as core

    inp = next(n for n in design.nodes.values() if n.type == "Input")
    shape = (TRACE_BATCH, *inp.params["shape"])
    rng = np.random.default_rng(0)
    if inp.params["dtype"] == "int64":
        return core.tensor(np.zeros(shape, np.int64))
    return core.tensor(rng.standard_normal(shape).astype(np.float32))


def _metadata(model_proto, project, run, pre, mode):
    info = {
        "studio.project": project.name or Path(project.path or "project").stem,
        "studio.run": str(run.get("id")) if run else "untrained",
        "studio.preprocessing": mode,
    }
    if pre.get("classes"):
        info["studio.classes"] = json.dumps(pre["classes"])
    for k, v in info.items():
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = k, v


def export_onnx(project, path, run_id=None, preprocessing="fold", untrained=False, opset_version=None):
    """Write `project`'s network to `path` as ONNX; returns what was written and how it was checked."""
    from studio.core import atomic
    from studio.core import onnx as core_onnx
    from studio.design.build import BuildError, build

    if preprocessing not in PREPROCESSING_MODES:
        raise OnnxExportError(
            f"preprocessing must be one of {', '.join(PREPROCESSING_MODES)}, got {preprocessing!r}"
        )
    try:
        model = build(project.design)
    except BuildError as e:
        raise OnnxExportError(str(e)) from None
    run = None if untrained else choose_run(project, run_id)
    if run is not None:
        _load_run_weights(model, project, run)
    model.eval()
    pre = preprocessing_of(project)
    fold = _fold_arrays(pre) if preprocessing == "fold" else None
    if fold is not None:
        model = _wrap_preprocessing(model, fold)
    x = _example_input(project.design)
    axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    try:
        proto = core_onnx.export(
            model,
            (x,),
            None,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes=axes,
            opset_version=opset_version,
            export_modules_as_functions=True,
        )
    except core_onnx.OnnxExporterError as e:
        raise OnnxExportError(str(e)) from None
    _metadata(
        proto, project, run, pre, preprocessing if fold is not None or preprocessing == "json" else "none"
    )
    path = Path(path)
    atomic.write_bytes(path, proto.SerializeToString())
    json_path = None
    if preprocessing == "json":
        json_path = path.with_suffix(".preprocessing.json")
        atomic.write_bytes(
            json_path, (json.dumps({"input": "input", "preprocessing": pre}, indent=2) + "\n").encode()
        )
    diff = verify(proto, model, x)
    ops = sorted({n.op_type for n in proto.graph.node})
    folded = {"kind": pre.get("kind")} if fold is not None else {}
    return OnnxExportResult(path, json_path, run.get("id") if run else None, diff, ops, folded)


def verify(proto, model, x) -> float | None:
    """Largest difference between Studio's output and onnxruntime's on `x` with a batch of 3."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import studio.core as core

    xb = core.cat([x, x[:1]], 0)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": xb.numpy()})[0]
    with core.no_grad():
        want = model(xb).numpy()
    return float(np.abs(got - want).max()) if got.size else 0.0
