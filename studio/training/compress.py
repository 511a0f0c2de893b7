"""Compress a trained run: prune, fine-tune and quantize its network, measure each variant, keep one.

`compress(project, options)` is a generator of events, like `fit`: it yields one `variant` event per
model it makes (the run's own float32 network first), with what the variant costs and gains
(parameters, non-zero parameters, size of its weights file, test metric, latency per sample), and an
`end` event with the whole table. Each variant's weights are written to a folder of their own;
`keep_variant` turns one of them into a new run of the project. The options are declared once in
SETTINGS, which the command line and the app's Compress panel read.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .events import END, ERROR, START, STEP, VARIANT, Event

COMPRESSION_KEY = "studio.compression"  # weights-file metadata: what was done to the run's weights
LATENCY_REPEATS = 7
CALIBRATION_SAMPLES = 512


class CompressError(ValueError):
    """Options or a run that cannot be compressed, said in plain words."""


@dataclass(frozen=True)
class Setting:
    """One option of Compress: its type, default, range or choices, and what it does."""

    name: str
    kind: type
    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    label: str = ""
    help: str = ""


SETTINGS = (
    Setting(
        "prune",
        float,
        0.5,
        0.0,
        0.95,
        label="Prune to sparsity",
        help="fraction of the Linear and Conv weights set to zero, the smallest first (0: no pruning)",
    ),
    Setting(
        "scope",
        str,
        "global",
        choices=("global", "per_layer"),
        label="Pruning scope",
        help="global: the smallest weights of the whole network; per_layer: the same fraction of each layer",
    ),
    Setting(
        "finetune",
        int,
        0,
        0,
        100,
        label="Fine-tune epochs",
        help="epochs of training after pruning, with the pruned weights held at zero (0: none)",
    ),
    Setting(
        "quantize",
        str,
        "dynamic",
        choices=("none", "dynamic", "static"),
        label="Quantize",
        help="int8 weights: dynamic (Linear, activations quantized on the fly) or static "
        "(Conv and Linear, activations calibrated on the training split); none: keep float32",
    ),
    Setting(
        "onnx",
        bool,
        False,
        label="Also in onnxruntime",
        help="export the last float variant to ONNX, quantize it with onnxruntime the same way, and "
        "measure both files there, beside Studio's own inference (needs the onnx extra)",
    ),
)
SETTING = {s.name: s for s in SETTINGS}


def check_options(options: dict | None) -> dict:
    """The options with defaults filled in; CompressError names the first one out of range."""
    out = {s.name: s.default for s in SETTINGS}
    for key, value in (options or {}).items():
        if key not in SETTING:
            raise CompressError(f"unknown compress option {key!r}: expected one of {', '.join(SETTING)}")
        s = SETTING[key]
        if s.kind is bool:
            if not isinstance(value, bool):
                raise CompressError(f"{key} must be true or false, got {value!r}")
        elif s.choices:
            if value not in s.choices:
                raise CompressError(f"{key} must be one of {', '.join(s.choices)}, got {value!r}")
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if s.kind is int and ok:
                ok = float(value).is_integer()
            if not ok or not math.isfinite(value) or not s.low <= value <= s.high:
                raise CompressError(f"{key} must be a number from {s.low:g} to {s.high:g}, got {value!r}")
            value = s.kind(value)
        out[key] = value
    if out["onnx"]:
        from .deploy import available

        if not available():
            raise CompressError(
                "onnx: onnxruntime is not installed; install the onnx extra: pip install 'studio[onnx]'"
            )
    if out["prune"] == 0 and out["quantize"] == "none":
        raise CompressError("nothing to do: choose a sparsity above 0, a quantization, or both")
    return out


def _prunable(model):
    import studio.core as core

    kinds = (core.nn.Linear, core.nn.Conv1d, core.nn.Conv2d, core.nn.Conv3d)
    return [(m, "weight") for _, m in model.named_modules() if isinstance(m, kinds)]


def prune_model(model, amount: float, scope: str):
    """Prune the weights of every Linear and Conv layer to `amount` (L1, unstructured); the masks stay
    attached (weight_orig, weight_mask), so that fine-tuning keeps pruned weights at zero."""
    import studio.core.nn.utils.prune as prune

    params = _prunable(model)
    if not params:
        raise CompressError("the network has no Linear or Conv layer to prune")
    if scope == "global":
        prune.global_unstructured(params, prune.L1Unstructured, amount=amount)
    else:
        for module, name in params:
            prune.l1_unstructured(module, name, amount=amount)
    return model


def remove_masks(model):
    """Make pruning permanent: the zeros go into plain weights, so the state dict is the design's."""
    import studio.core.nn.utils.prune as prune

    for module, name in _prunable(model):
        if prune.is_pruned(module):
            prune.remove(module, name)
    return model


def dense_copy(base, pruned):
    """A copy of the unpruned `base` holding the weights of `pruned` (masks applied), without masks.
    (A module with masks attached cannot be deep-copied, as in PyTorch.)"""
    state = pruned.state_dict()
    dense = {}
    for key, value in state.items():
        if key.endswith("_orig"):
            dense[key.removesuffix("_orig")] = value * state[key.removesuffix("_orig") + "_mask"]
        elif not key.endswith("_mask"):
            dense[key] = value
    out = copy.deepcopy(base)
    out.load_state_dict(dense)
    return out.eval()


def quantize_model(model, mode: str, calibration=None):
    """An int8 copy of `model`, as torch.ao.quantization makes it: dynamic (Linear and recurrent
    layers), or static (each Conv and Linear in a QuantWrapper, its input range observed on the
    `calibration` batches). Wrapping each layer, rather than the whole network, quantizes any graph:
    residual additions, concatenations and other functions between the layers stay float32."""
    import studio.core as core
    import studio.core.ao.quantization as q

    model = copy.deepcopy(model).eval()
    if mode == "dynamic":
        return q.quantize_dynamic(model, {core.nn.Linear, core.nn.LSTM, core.nn.GRU})
    kinds = (core.nn.Linear, core.nn.Conv1d, core.nn.Conv2d)
    qconfig = q.get_default_qconfig("onednn")
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) in kinds:
                wrapper = q.QuantWrapper(child)
                wrapper.qconfig = qconfig  # only the wrapped layers: batch norms and the rest stay float
                setattr(parent, name, wrapper)
    prepared = q.prepare(model)
    with core.no_grad():
        for xb in calibration or ():
            prepared(xb)
    return q.convert(prepared)


def count_parameters(state: dict) -> tuple[int, int]:
    """(parameters, non-zero parameters) of a state dict's weights and biases, float or int8 (whose
    weights are quantized symmetrically: zero stays zero); buffers such as running statistics, scales
    and zero points are not parameters."""
    import numpy as np

    total = nonzero = 0
    for key, v in state.items():
        if key.rsplit(".", 1)[-1] not in ("weight", "bias", "weight_orig", "bias_orig"):
            continue
        mask = state.get(key.removesuffix("_orig") + "_mask")
        a = np.asarray(v.detach().cpu().numpy())
        if mask is not None:  # a pruned layer still holding its mask: the zeros are the mask's
            a = a * np.asarray(mask.detach().cpu().numpy())
        total += a.size
        nonzero += int(np.count_nonzero(a))
    return total, nonzero


@dataclass
class _Job:
    """What the stages of one compression share: the project, its data, and where variants go."""

    project: object
    source: dict
    prepared: object
    loss_fn: object
    folder: Path
    options: dict
    stop: object = None

    def stopped(self) -> bool:
        return bool(self.stop is not None and self.stop())


def _describe(opts: dict, *, pruned=False, tuned=False, quantized=False) -> tuple[str, dict]:
    """A variant's name for people and its compression record for files and runs."""
    parts, record = [], {}
    if pruned:
        scope = "global" if opts["scope"] == "global" else "per layer"
        parts.append(f"pruned {opts['prune']:.0%} ({scope})")
        record.update(prune=opts["prune"], scope=opts["scope"])
    if tuned:
        parts.append(f"fine-tuned {opts['finetune']} epoch{'s' if opts['finetune'] != 1 else ''}")
        record["finetune"] = opts["finetune"]
    if quantized:
        parts.append(f"int8 {opts['quantize']}")
        record["quantize"] = opts["quantize"]
    return (", ".join(parts) or "float32 (as trained)"), record


def _latency(model, x) -> float:
    """Median seconds per sample of Studio's inference on the batch `x` (after one warm-up pass)."""
    import studio.core as core

    times = []
    with core.no_grad():
        model(x)
        for _ in range(LATENCY_REPEATS):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return statistics.median(times) / max(len(x), 1)


def _measure(job: _Job, key: str, name: str, record: dict, model, float_file=None) -> dict:
    """Write a variant's weights and measure it: one row of the table."""
    import studio.core as core
    from studio.design.weights import save_weights

    from .fit import _design_name, _evaluation_summary, evaluate

    state = model.state_dict()
    path = job.folder / f"{key}.safetensors"
    save_weights(state, path, _design_name(job.project), extra={COMPRESSION_KEY: json.dumps(record)})
    params, nonzero = count_parameters(state)
    test = job.prepared.loader("test", 256)
    outputs = []
    loss, metric, preds, targets = evaluate(
        core, model, test, job.loss_fn, job.prepared.task, outputs=outputs
    )
    x_test = job.prepared.splits["test"][0]
    return {
        "key": key,
        "name": name,
        "source": job.source.get("id"),
        "runtime": "studio",
        "compression": record,
        "parameters": params,
        "nonzero": nonzero,
        "size": path.stat().st_size,
        "metric": "accuracy" if job.prepared.task == "classification" else "r2",
        "value": metric,
        "test_loss": loss,
        "latency": _latency(model.eval(), core.tensor(x_test)) if len(x_test) else None,
        "file": str(path),
        "float_file": float_file,
        "evaluation": _evaluation_summary(job.prepared, preds, targets, outputs),
    }


def _finetune(job: _Job, model, epochs: int, step0: int, total: int):
    """Train a pruned model (masks attached) for `epochs` epochs, yielding step events."""
    import studio.core as core
    from studio.core import optim

    from .fit import _make_optimizer, settings_of

    s = settings_of(job.project)
    core.manual_seed(int(s["seed"]))
    loader = job.prepared.loader("train", int(s["batch_size"]), rng=np.random.default_rng(int(s["seed"])))
    run = {"epochs": epochs, "steps_per_epoch": len(loader), "lr": float(s["lr"]), "mode": "min"}
    opt = _make_optimizer(optim, model.parameters(), s, run)
    step = step0
    model.train()
    for epoch in range(1, epochs + 1):
        for xb, yb in loader:
            if job.stopped():
                return step
            opt.zero_grad()
            loss = job.loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            step += 1
            yield Event(
                STEP,
                epoch=epoch,
                step=step,
                total_epochs=epochs,
                total_steps=total,
                loss=float(loss.item()),
                message=f"fine-tuning, epoch {epoch} of {epochs}",
            )
    model.eval()
    return step


def _prepare(project, run_id, data):
    """The source run, its network with the run's weights, the data and the loss."""
    from studio.core import nn
    from studio.design.build import BuildError, build
    from studio.design.datasource import loss_name_for

    from .data import DataError, prepare_data
    from .fit import _make_loss
    from .onnx_export import OnnxExportError, _load_run_weights, choose_run

    try:
        source = choose_run(project, run_id)
        model = build(project.design)
        _load_run_weights(model, project, source)
        prepared = data if data is not None else prepare_data(project)
    except (OnnxExportError, BuildError, DataError) as e:
        raise CompressError(str(e).replace("export untrained weights", "compress a trained run")) from None
    if not len(prepared.splits.get("test", ((),))[0]):
        raise CompressError(
            "the test split is empty: variants cannot be measured; give the test split a share"
        )
    _, loss_fn = _make_loss(nn, loss_name_for(project, prepared.task), prepared.task)
    return source, model.eval(), prepared, loss_fn


def compress(project, options=None, run_id=None, stop=None, data=None, folder=None):
    """Make and measure the variants `options` ask for from run `run_id` (default: the newest run
    with weights), yielding events; the end event's metrics hold {"variants": rows}."""
    try:
        opts = check_options(options)
        source, model, prepared, loss_fn = _prepare(project, run_id, data)
    except (CompressError, OSError, ValueError, RuntimeError) as e:
        yield Event(ERROR, message=str(e))
        return
    folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="studio-compress-"))
    folder.mkdir(parents=True, exist_ok=True)
    job = _Job(project, source, prepared, loss_fn, folder, opts, stop)
    steps_per_epoch = len(prepared.loader("train", int(_batch(project))))
    onnx_stages = (1 + (opts["quantize"] != "none")) if opts["onnx"] else 0
    stages = onnx_stages + (
        1 + (opts["prune"] > 0) + (opts["finetune"] > 0 and opts["prune"] > 0) + (opts["quantize"] != "none")
    )
    total = stages + (opts["finetune"] * steps_per_epoch if opts["prune"] > 0 else 0)
    yield Event(START, total_steps=total, message=f"compressing run {source.get('id')}: {prepared.summary}")
    rows, status = [], "completed"
    try:
        for ev in _stages(job, model, total):
            if ev.kind == VARIANT:
                rows.append(ev.metrics)
            yield ev
            if job.stopped():
                status = "stopped"
                break
    except (CompressError, RuntimeError, ValueError, MemoryError, OSError, ImportError) as e:
        yield Event(ERROR, message=f"compression failed: {e}", metrics={"variants": rows})
        return
    yield Event(END, status=status, total_steps=total, step=total, metrics={"variants": rows})


def _batch(project):
    from .fit import settings_of

    return settings_of(project)["batch_size"]


def _stages(job: _Job, model, total: int):
    """Base, pruned, fine-tuned and quantized variants, in that order, each a variant event."""
    opts, step = job.options, 0

    def variant(key, model, float_file=None, **done):
        nonlocal step
        name, record = _describe(opts, **done)
        row = _measure(job, key, name, record, model, float_file)
        step += 1
        return Event(VARIANT, step=step, total_steps=total, metrics=row, message=name)

    ev = variant("float32", model)
    yield ev
    current, done, current_file = model, {}, ev.metrics["file"]
    if opts["prune"] > 0 and not job.stopped():
        pruned = prune_model(copy.deepcopy(model), opts["prune"], opts["scope"])
        done = {"pruned": True}
        current = dense_copy(model, pruned)
        ev = variant("pruned", current, **done)
        yield ev
        current_file = ev.metrics["file"]
        if opts["finetune"] > 0 and not job.stopped():
            step = yield from _finetune(job, pruned, opts["finetune"], step, total)
            if job.stopped():
                return
            done["tuned"] = True
            current = remove_masks(pruned)
            ev = variant("finetuned", current, **done)
            yield ev
            current_file = ev.metrics["file"]
    last = None
    if opts["quantize"] != "none" and not job.stopped():
        quantized = quantize_model(current, opts["quantize"], _calibration(job))
        last = variant("quantized", quantized, float_file=current_file, **done, quantized=True)
        yield last
    if opts["onnx"] and not job.stopped():
        for row in _onnx_rows(job, current_file, ev.metrics, last.metrics if last else None, done):
            step += 1
            yield Event(VARIANT, step=step, total_steps=total, metrics=row, message=row["name"])
            if job.stopped():
                return


def _onnx_rows(job: _Job, float_file: str, float_row: dict, int8_row: dict | None, done: dict):
    """The last float variant as ONNX in onnxruntime, then quantized there as Studio quantized it."""
    from . import deploy

    x, y = job.prepared.splits["test"]
    x = x.astype("float32") if x.dtype.kind == "f" else x
    f32 = deploy.export_float(job.project, float_file, job.folder / "onnx-float32.onnx")
    record = _describe(job.options, **done)[1]
    base = {"source": job.source.get("id"), "runtime": "onnxruntime", "metric": float_row["metric"]}
    counts = {"parameters": float_row["parameters"], "nonzero": float_row["nonzero"]}
    measured = deploy.measure_onnx(f32, x, y, job.prepared.task)
    yield {
        **base,
        **counts,
        **measured,
        "key": "onnx-float32",
        "name": "onnxruntime: float32",
        "compression": {**record, "onnx": True},
        "file": str(f32),
        "float_file": float_file,
    }
    if int8_row is None or job.stopped():
        return
    train = job.prepared.splits["train"][0][:CALIBRATION_SAMPLES]
    train = train.astype("float32") if train.dtype.kind == "f" else train
    int8 = deploy.quantize_onnx(f32, job.folder / "onnx-int8.onnx", job.options["quantize"], train)
    measured = deploy.measure_onnx(int8, x, y, job.prepared.task)
    counts = {"parameters": int8_row["parameters"], "nonzero": int8_row["nonzero"]}
    yield {
        **base,
        **counts,
        **measured,
        "key": "onnx-int8",
        "name": f"onnxruntime: int8 {job.options['quantize']}",
        "compression": {**int8_row["compression"], "onnx": True},
        "file": str(int8),
        "float_file": float_file,
    }


def _calibration(job: _Job):
    """Batches of the training split that static quantization observes (none for dynamic)."""
    if job.options["quantize"] != "static":
        return None
    import studio.core as core

    x = job.prepared.splits["train"][0][:CALIBRATION_SAMPLES]
    return [core.tensor(x[i : i + 128]) for i in range(0, len(x), 128)]


# ------------------------------------------------------------------------------- keep and load


def keep_variant(project, row: dict, source_run: dict | None = None) -> dict:
    """Make the variant `row` a new run of `project`: its weights copied into the project's runs
    folder under the run's own names, the run appended to `project.runs` and returned.

    A quantized variant's run keeps the float weights it was quantized from as its `weights` (they
    load into the design, so evaluation, scripts and ONNX export work as for any run) and its int8
    file as `quantized_weights` (see `load_variant`).
    """
    from studio.core import atomic
    from studio.design.runs import new_run_id, runs_folder, weights_files

    from .fit import _stored_path

    if row.get("runtime") == "onnxruntime":
        raise CompressError("an onnxruntime file is not a run: export it (ONNX int8) instead of keeping it")
    if source_run is None:
        source_run = _run_by_id(project, row.get("source"))
    folder = runs_folder(project)
    folder.mkdir(parents=True, exist_ok=True)
    quantized = "quantize" in row["compression"]
    for _ in range(20):
        run_id = new_run_id()
        last = weights_files(folder, run_id)[0]
        int8 = last.with_name(f"run-{run_id}-int8.safetensors")
        try:
            atomic.copy_file(Path(row["float_file"] if quantized else row["file"]), last, exclusive=True)
            if quantized:
                atomic.copy_file(Path(row["file"]), int8, exclusive=True)
        except FileExistsError:
            last.unlink(missing_ok=True)
            continue
        break
    else:
        raise FileExistsError(f"no free weights file name in {folder}")
    run = _variant_run(source_run, row, run_id)
    run["weights"] = _stored_path(last, project)
    run["quantized_weights"] = _stored_path(int8, project) if quantized else None
    project.runs.append(run)
    return run


def _run_by_id(project, run_id):
    for r in project.runs:
        if isinstance(r, dict) and r.get("id") == run_id:
            return r
    return {}


def _variant_run(source: dict, row: dict, run_id: str) -> dict:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    metric = row["metric"]
    final = {f"test_{metric}": row["value"]}
    if row.get("test_loss") is not None:
        final["test_loss"] = row["test_loss"]
    return {
        "id": run_id,
        "started": now,
        "finished": now,
        "status": "completed",
        "settings": copy.deepcopy(source.get("settings") or {}),
        "epochs_completed": int(source.get("epochs_completed") or 0)
        + int(row["compression"].get("finetune", 0)),
        "curves": copy.deepcopy(source.get("curves") or {}),
        "metric": metric,
        "loss_name": source.get("loss_name"),
        "final": final,
        "evaluation": row.get("evaluation"),
        "best": None,
        "best_weights": None,
        "grad_norms": [],
        "message": f"{row['name']}, from run {source.get('id')}",
        "compression": {
            **row["compression"],
            "source": source.get("id"),
            "parameters": row["parameters"],
            "nonzero": row["nonzero"],
            "size": row["size"],
            "latency": row["latency"],
        },
    }


def load_variant(project, run: dict):
    """The network of a kept run as it was measured: the design built with the run's weights, and for
    a quantized run, quantized the same way with its int8 weights loaded (checked by fingerprint)."""
    import studio.core as core
    from studio.core import serialization
    from studio.design.build import build
    from studio.design.weights import FINGERPRINT_KEY, WeightsError, fingerprint, load_weights

    model = build(project.design)
    model.load_state_dict(load_weights(project.folder / run["weights"], project.design, project.name))
    model.eval()
    mode = (run.get("compression") or {}).get("quantize")
    if not mode or not run.get("quantized_weights"):
        return model
    path = project.folder / run["quantized_weights"]
    state, meta = serialization.load_with_metadata(path, map_location="cpu")
    inp = next(n for n in project.design.nodes.values() if n.type == "Input")
    example = [core.zeros(2, *inp.params["shape"])] if mode == "static" else None
    quantized = quantize_model(model, mode, example)
    want = fingerprint(quantized.state_dict())
    if fingerprint(state) != want or meta.get(FINGERPRINT_KEY) not in (None, want):
        raise WeightsError(f"{path.name} holds int8 weights of another network than run {run.get('id')}'s")
    quantized.load_state_dict(state)
    return quantized


def discard(rows) -> None:
    """Remove the folder of a compression's variant files (those kept were copied out)."""
    folders = {Path(r["file"]).parent for r in rows or () if r.get("file")}
    for folder in folders:
        if folder.name.startswith("studio-compress-"):
            shutil.rmtree(folder, ignore_errors=True)
