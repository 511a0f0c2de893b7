"""Compression and memory techniques on trained models: what each costs and gains.

One row per technique and model: size on disk (safetensors) against float32, test accuracy change in
points, peak memory of a training step against the plain step (Studio's host counter), and
inference latency per sample against the float32 model (Studio, and PyTorch doing the same for
reference). Models: the digits CNN, the residual CNN template (both trained on the 8x8 digits for a
few epochs) and a 16-block MLP for checkpointing.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings

import numpy as np

from . import harness


def _digits():
    from studio.core.data.samples import load_sample

    ds = load_sample("digits")
    x, y = ds.tensors[0].numpy(), ds.tensors[1].numpy()
    order = np.random.default_rng(0).permutation(len(x))
    n = int(0.8 * len(x))
    return x[order[:n]], y[order[:n]], x[order[n:]], y[order[n:]]


def digits_cnn(lib, inplace=False):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(inplace),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(inplace),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 64),
        nn.ReLU(inplace),
        nn.Linear(64, 10),
    )


def resnet_template(lib):
    from studio.design import build, load_template

    return build(load_template("digits_resnet").design, backend=lib)


def _train(lib, model, x, y, epochs, autocast=False):
    lib.manual_seed(0)
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = lib.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 64):
            idx = order[start : start + 64]
            opt.zero_grad()
            with lib.autocast("cpu", dtype=lib.float16, enabled=autocast):
                loss = loss_fn(model(lib.tensor(x[idx])), lib.tensor(y[idx]))
            loss.backward()
            opt.step()
    return model.eval()


def _accuracy(lib, model, x, y, autocast=False):
    with lib.no_grad(), lib.autocast("cpu", dtype=lib.float16, enabled=autocast):
        return float((model(lib.tensor(x)).argmax(1).numpy() == y).mean())


def _size(state_dict):
    import studio.core as sc

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "state.safetensors")
        sc.save(state_dict, path)
        return os.path.getsize(path)


def _latencies(lib, base, variant, x, repeats, autocast=False):
    """Median seconds per sample of inference on the whole test batch: the float32 model and the
    variant, timed in alternation so that both see the same machine load."""
    batch = lib.tensor(x)

    def runner(model, amp):
        def run():
            with lib.no_grad(), lib.autocast("cpu", dtype=lib.float16, enabled=amp):
                model(batch)

        return run

    med = harness.interleaved(
        {"base": runner(base, False), "variant": runner(variant, autocast)}, repeats, 2, 3
    )
    return med["base"] / len(x), med["variant"] / len(x)


def _step_peak(lib, model, x, y, forward=None, autocast=False, plain=None):
    """Peak bytes a training step allocates (Studio's host counter, after a warm-up step), and its
    median time; with `plain` (another such step), the time is taken in alternation with it and
    returned as (peak, time, time of plain)."""
    from studio.core import memory

    loss_fn = lib.nn.CrossEntropyLoss()
    forward = forward or model
    # an input that requires grad, as a reentrant checkpoint needs to reach its first segment
    xb, yb = lib.tensor(x, requires_grad=True), lib.tensor(y)

    def step():
        model.zero_grad()
        with lib.autocast("cpu", dtype=lib.float16, enabled=autocast):
            loss = loss_fn(forward(xb), yb)
        loss.backward()

    step()
    with memory.counting() as stats:
        step()
    steps = {"s": step} if plain is None else {"s": step, "plain": plain}
    med = harness.interleaved(steps, 6, warmup=1, block=3)
    return stats["peak"], med["s"], med.get("plain"), step


def _training_row(name, technique, plain, variant, dacc=0.0):
    """A row from `_step_peak` results of the plain step and a variant (timed against each other)."""
    (plain_peak, *_), (peak, t, t_plain, _) = plain, variant
    return (name, technique, None, dacc, peak / plain_peak, t, t / t_plain, None, None)


# ------------------------------------------------------------------------------------- variants


def _pruned(model):
    import studio.core as sc
    import studio.core.nn.utils.prune as prune

    model = copy.deepcopy(model)
    params = [(m, "weight") for m in model.modules() if isinstance(m, sc.nn.Conv2d | sc.nn.Linear)]
    prune.global_unstructured(params, prune.L1Unstructured, amount=0.5)
    for m, name in params:
        prune.remove(m, name)
    return model


def _torch_pruned(torch, model):
    import torch.nn.utils.prune as prune

    model = copy.deepcopy(model)
    params = [(m, "weight") for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    prune.global_unstructured(params, prune.L1Unstructured, amount=0.5)
    for m, name in params:
        prune.remove(m, name)
    return model


def _static(lib, q, model, x, fuse):
    wrapped = lib.nn.Sequential(q.QuantStub(), copy.deepcopy(model), q.DeQuantStub()).eval()
    wrapped = q.fuse_modules(wrapped, fuse)
    wrapped.qconfig = q.get_default_qconfig("onednn" if lib.__name__ != "torch" else "x86")
    prepared = q.prepare(wrapped)
    with lib.no_grad():
        for start in range(0, 512, 128):
            prepared(lib.tensor(x[start : start + 128]))
    return q.convert(prepared)


def _torch_twin(torch, make, model):
    twin = make(torch)
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    return twin.eval()


# ---------------------------------------------------------------------------------------- rows


def _model_rows(name, make, epochs, torch, repeats, fuse=None):
    import studio.core as sc
    import studio.core.ao.quantization as sq

    xtr, ytr, xte, yte = _digits()
    model = _train(sc, make(sc), xtr, ytr, epochs)
    base_acc = _accuracy(sc, model, xte, yte)
    base_size = _size(model.state_dict())
    base_lat = _latencies(sc, model, model, xte, repeats)[0]
    twin = _torch_twin(torch, make, model) if torch is not None else None
    rows = [(name, "float32 (trained)", base_size, None, None, base_lat, 1.0, None, base_acc)]

    def add(technique, variant, torch_variant=None, autocast=False):
        acc = _accuracy(sc, variant, xte, yte, autocast)
        base, lat = _latencies(sc, model, variant, xte, repeats, autocast)
        tratio = None
        if torch_variant is not None:
            tbase, tlat = _latencies(torch, twin, torch_variant, xte, repeats, autocast)
            tratio = tlat / tbase
        size = _size(variant.state_dict()) if not autocast else base_size
        rows.append((name, technique, size, acc - base_acc, None, lat, lat / base, tratio, acc))

    tq = None
    if torch is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torch.ao.quantization as tq
    add("prune 50% (global L1)", _pruned(model), _torch_pruned(torch, twin) if twin else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        add(
            "quantize dynamic int8 (Linear)",
            sq.quantize_dynamic(model, {sc.nn.Linear}),
            tq.quantize_dynamic(twin, {torch.nn.Linear}) if twin else None,
        )
        if fuse is not None:
            add(
                "quantize static int8 (Conv, Linear)",
                _static(sc, sq, model, xtr, fuse),
                _static(torch, tq, twin, xtr, fuse) if twin else None,
            )
    add("autocast float16 (inference)", model, twin, autocast=True)
    xs, ys = xtr[:256], ytr[:256]
    plain = _step_peak(sc, model.train(), xs, ys)
    amp = _step_peak(sc, model, xs, ys, autocast=True, plain=plain[3])
    rows.append(_training_row(name, "autocast float16 (training step)", plain, amp, None))
    if isinstance(model, sc.nn.Sequential):
        from studio.core.utils.checkpoint import checkpoint_sequential

        def ckpt(x):
            return checkpoint_sequential(model, 3, x, use_reentrant=False)

        variant = _step_peak(sc, model, xs, ys, forward=ckpt, plain=plain[3])
        rows.append(_training_row(name, "checkpoint_sequential, 3 segments", plain, variant))
        inplace = make(sc, inplace=True)
        inplace.load_state_dict(model.state_dict())
        variant = _step_peak(sc, inplace.train(), xs, ys, plain=plain[3])
        rows.append(_training_row(name, "ReLU(inplace=True)", plain, variant))
    return rows


def _mlp_checkpoint_rows():
    import studio.core as sc
    from studio.core.utils.checkpoint import checkpoint_sequential

    sc.manual_seed(0)
    nn = sc.nn
    blocks = [nn.Sequential(nn.Linear(128, 128), nn.LayerNorm(128), nn.ReLU()) for _ in range(16)]
    model = nn.Sequential(*blocks, nn.Linear(128, 10))
    x = np.random.default_rng(0).standard_normal((1024, 128)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 10, 1024)
    plain = _step_peak(sc, model, x, y)
    rows = []
    for reentrant in (False, True):

        def forward(t, reentrant=reentrant):
            return checkpoint_sequential(model, 4, t, use_reentrant=reentrant)

        variant = _step_peak(sc, model, x, y, forward=forward, plain=plain[3])
        label = f"checkpoint_sequential, 4 segments{', reentrant' if reentrant else ''}"
        rows.append(_training_row("16-block MLP", label, plain, variant))
    return rows


def compress_rows(torch=None, quick=False):
    """Rows: (model, technique, size bytes, accuracy change, peak ratio, latency/sample, latency ratio,
    PyTorch's latency ratio for the same technique, accuracy)."""
    repeats = 6 if quick else 15
    rows = _model_rows(
        "digits CNN",
        digits_cnn,
        2 if quick else 5,
        torch,
        repeats,
        fuse=[["1.0", "1.1"], ["1.3", "1.4"], ["1.7", "1.8"]],
    )
    rows += _model_rows("residual CNN template", _resnet_maker, 2 if quick else 5, torch, repeats)
    rows += _mlp_checkpoint_rows()
    return rows


def _resnet_maker(lib, inplace=False):
    return resnet_template(lib)


def print_rows(rows, row):
    """The table: size is the float32 model's, then how many times smaller each variant is on disk;
    time is per sample for inference rows and per step for training rows."""
    widths = (22, 42, 10, 8, 6, 10, 6, 7)
    print(row(("model", "technique", "size", "acc. pts", "peak", "time", "ratio", "PyTorch"), widths))
    print(row(tuple("-" * w for w in widths), widths))
    base = {}
    for model, technique, size, dacc, peak, seconds, ratio, tratio, acc in rows:
        if size is not None and dacc is None:
            base[model] = size
            size_cell, technique = f"{size / 1024:.1f} KiB", f"{technique}, accuracy {acc:.3f}"
        else:
            size_cell = "-" if size is None else f"{base[model] / size:.2f}x"
        cells = (
            model,
            technique,
            size_cell,
            "-" if dacc is None else f"{100 * dacc:+.1f}",
            "-" if peak is None else f"{peak:.2f}",
            f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else harness.fmt_time(seconds),
            f"{ratio:.2f}",
            "-" if tratio is None else f"{tratio:.2f}",
        )
        print(row(cells, widths))
