"""The training run: `fit(project)` is a generator of events that trains the project's design on its data.

It holds no UI: the command line prints its events, and the app runs it in a worker process. What a run
does (splits, scaling, batches, best epoch, early stopping) is `studio.design.recipe`, shared with the
exported scripts; its settings are `studio.design.training_spec`'s.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from studio.design import recipe
from studio.design.datasource import loss_name_for
from studio.design.runs import new_run_id, runs_folder, unsaved_root, weights_files
from studio.design.training_spec import LOSS_CLASSES, TRAINING_SPEC, run_arguments

from .events import END, EPOCH, ERROR, LOADING, START, STEP, Event
from .histograms import HistogramRecorder

SPEED_WINDOW = 50  # steps over which speed and time left are measured
STEP_CURVE_LIMIT = 5000  # step losses kept in a run summary; longer runs keep every k-th point


class TrainingError(Exception):
    """A run that cannot start or go on, with a message for the user."""


class _Diverged(Exception):
    """The loss stopped being a finite number."""


def settings_of(project) -> dict:
    """Every training setting of a project, defaults filled in (see `TRAINING_SPEC.complete`)."""
    return TRAINING_SPEC.complete(project.training)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _make_loss(nn, name, task):
    if name in (None, "", "auto"):
        name = "cross_entropy" if task == "classification" else "mse"
    if name not in LOSS_CLASSES:
        raise TrainingError(f"unknown loss {name!r}: choose one of {', '.join(LOSS_CLASSES)}")
    return name, getattr(nn, LOSS_CLASSES[name])()


def _run_quantities(s, steps_per_epoch, monitor) -> dict:
    return {
        "epochs": int(s["epochs"]),
        "steps_per_epoch": steps_per_epoch,
        "lr": float(s["lr"]),
        "mode": monitor.mode,
    }


def _make_optimizer(optim, params, s, run):
    choice, options = TRAINING_SPEC.options(s, "optimizer")
    kwargs = {"lr": float(s["lr"]), "weight_decay": float(s["weight_decay"])}
    return getattr(optim, choice.cls)(params, **kwargs, **run_arguments(choice, options, run))


def _make_schedule(optim, opt, s, run):
    """The learning-rate schedule and when it steps ("epoch", "step", "plateau"), or (None, "")."""
    choice, options = TRAINING_SPEC.options(s, "schedule")
    if not choice.cls:
        return None, ""
    cls = getattr(optim.lr_scheduler, choice.cls)
    return cls(opt, **run_arguments(choice, options, run)), choice.when


def _metric_name(task):
    return "accuracy" if task == "classification" else "r2"


def _evaluate(ctx, split, stop=None, outputs=None):
    """Mean loss, the task's metric, predictions and targets over one of the run's splits."""
    return evaluate(ctx.core, ctx.model, ctx.loaders[split], ctx.loss_fn, ctx.task, ctx.device, stop, outputs)


def evaluate(core, model, loader, loss_fn, task, device="cpu", stop=None, outputs=None):
    """Mean loss, the task's metric, predictions and targets over a loader, without recording a graph;
    the raw outputs (numpy arrays, one per batch) are appended to the list `outputs` when one is given."""
    from studio.core import metrics

    model.eval()
    total, count = 0.0, 0
    preds, targets = [], []
    with core.no_grad():
        for xb, yb in loader:
            if stop is not None and stop():
                break
            out = model(xb.to(device))
            total += float(loss_fn(out, yb.to(device)).item()) * len(yb)
            count += len(yb)
            raw = out.detach().cpu().numpy()
            if outputs is not None:
                outputs.append(raw)
            preds.append(recipe.predictions(raw, task))
            targets.append(yb.numpy().reshape(len(yb), -1) if task != "classification" else yb.numpy())
    model.train()
    if count == 0:
        return None, None, None, None
    p, t = np.concatenate(preds), np.concatenate(targets)
    score = metrics.accuracy(p, t) if task == "classification" else metrics.r2_score(p, t)
    return total / count, score, p, t


def _grad_norms(model) -> dict:
    """The gradient norm of each top-level layer: the data of the gradient-flow view."""
    norms = {}
    for name, child in model.named_children():
        sq = 0.0
        seen = False
        for p in child.parameters():
            if p.grad is not None:
                g = p.grad.detach().cpu().numpy()
                sq += float(np.dot(g.ravel().astype(np.float64), g.ravel().astype(np.float64)))
                seen = True
        if seen:
            norms[name] = math.sqrt(sq)
    return norms


def _state_copy(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _check_fit(project, prepared) -> None:
    """Refuse, before any training, a design whose Input or head does not fit the data."""
    from studio.design.datasource import fit_problems

    info = {
        "kind": (project.data or {}).get("kind", "sample"),
        "input_shape": prepared.input_shape,
        "task": prepared.task,
        "num_classes": prepared.num_classes,
    }
    problems = fit_problems(project.design, info, loss_name_for(project, prepared.task))
    if problems:
        raise TrainingError(problems[0])


def weights_dir_for(project) -> Path:
    """Where a project's run weights live: a folder of that project alone (see studio.design.runs)."""
    return runs_folder(project)


def _load_data(project, prepare_data, stop, every=0.25):
    """prepare_data(project) on a thread, yielding LOADING events meanwhile; None when stopped."""
    import queue
    import threading

    from studio.core.data.image_arrays import Cancelled
    from studio.core.ops._kernels import warm

    if (project.data or {}).get("kind") == "images":
        # loading numba and its kernels (a second or more) overlaps the decoding, not the first step;
        # other data loads too fast to hide it
        threading.Thread(target=warm, name="studio-warm-kernels", daemon=True).start()
    box, ticks = {}, queue.Queue()
    stopped = threading.Event()

    def asked_to_stop():
        return stopped.is_set() or bool(stop is not None and stop())

    def work():
        try:
            box["data"] = prepare_data(project, progress=lambda d, t: ticks.put((d, t)), stop=asked_to_stop)
        except BaseException as e:  # noqa: BLE001 - handed to the generator's thread
            box["error"] = e
        ticks.put(None)

    threading.Thread(target=work, name="studio-load-data", daemon=True).start()
    shown = 0.0
    try:
        while True:
            try:
                tick = ticks.get(timeout=every)
            except queue.Empty:
                continue
            if tick is None:  # the work is done, or failed
                break
            now = time.monotonic()
            if now - shown >= every or tick[0] == tick[1]:
                shown = now
                yield Event(LOADING, step=tick[0], total_steps=tick[1], message="decoding images")
    finally:
        stopped.set()  # a generator closed early stops the decoding too
    if isinstance(box.get("error"), Cancelled):
        return None
    if "error" in box:
        raise box["error"]
    return box["data"]


@dataclass
class _Context:
    """What a started run works with."""

    core: object
    model: object
    loss_fn: object
    opt: object
    scheduler: object
    when: str
    loaders: dict
    device: str
    task: str
    wdir: Path
    total_epochs: int
    steps_per_epoch: int
    monitor: recipe.Monitor
    curves: dict = field(default_factory=dict)
    step: int = 0
    recent: deque = None
    histograms: HistogramRecorder | None = None

    @property
    def total_steps(self) -> int:
        return self.total_epochs * self.steps_per_epoch

    def progress(self) -> dict:
        """Where the run is, as every event after the start says it."""
        return {"step": self.step, "total_epochs": self.total_epochs, "total_steps": self.total_steps}


def _device(core, name) -> str:
    if name == "auto":
        return "cuda" if core.cuda.is_available() else "cpu"
    if name == "cuda" and not core.cuda.is_available():
        raise TrainingError(
            "device 'cuda' was chosen, but no CUDA GPU is usable here (cupy missing or no GPU)"
        )
    return name


def _setup(project, s, prepared, init, weights_dir, run) -> _Context:
    """Build the model, loss, loaders, optimizer and schedule of a run; TrainingError when it cannot."""
    import studio.core as core
    from studio.core import nn, optim
    from studio.design import build

    device = _device(core, s["device"])
    _check_fit(project, prepared)
    core.manual_seed(int(s["seed"]))  # just before the weights are drawn, as an exported script does
    model = build(project.design)
    if init is not None:
        from studio.design.init_weights import load_into

        run["init"] = {"file": str(init), "report": load_into(model, init).report()}
    model = model.to(device)
    loss_name, loss_fn = _make_loss(nn, loss_name_for(project, prepared.task), prepared.task)
    run["loss_name"] = loss_name
    batch = int(s["batch_size"])
    loaders = {
        "train": prepared.loader("train", batch, rng=np.random.default_rng(int(s["seed"]))),
        "val": prepared.loader("val", batch * recipe.EVAL_BATCH_FACTOR),
        "test": prepared.loader("test", batch * recipe.EVAL_BATCH_FACTOR),
    }
    steps_per_epoch = len(loaders["train"])
    if steps_per_epoch == 0:
        raise TrainingError("the training split is empty: use more data or a larger training fraction")
    es = s["early_stopping"]
    monitor = recipe.Monitor(es["monitor"], int(es["patience"]) if es["enabled"] else 0)
    quantities = _run_quantities(s, steps_per_epoch, monitor)
    opt = _make_optimizer(optim, model.parameters(), s, quantities)
    scheduler, when = _make_schedule(optim, opt, s, quantities)
    wdir = Path(weights_dir) if weights_dir else weights_dir_for(project)
    _check_room(model, wdir)
    return _Context(
        core,
        model,
        loss_fn,
        opt,
        scheduler,
        when,
        loaders,
        device,
        prepared.task,
        wdir,
        int(s["epochs"]),
        steps_per_epoch,
        monitor,
        run["curves"],
    )


def _new_run(s) -> dict:
    curves = {k: [] for k in ("step", "loss", "epoch", "train_loss", "val_loss", "val_metric", "lr")}
    return {
        "id": new_run_id(),
        "started": _now(),
        "finished": None,
        "status": "running",
        "settings": s,
        "epochs_completed": 0,
        "curves": curves,
        "metric": None,
        "final": {},
        "best": None,
        "weights": None,
        "best_weights": None,
        "grad_norms": [],
    }


def _fail(project, run, message) -> Event:
    run["status"] = "failed"
    run["finished"] = _now()
    run["message"] = message
    project.runs.append(run)
    return Event(ERROR, message=message, run=run)


def _train_steps(ctx, epoch, s, stop, pause):
    """One pass over the training batches, yielding STEP events; the mean loss, or None when stopped."""
    train_sum, train_n = 0.0, 0
    for xb, yb in ctx.loaders["train"]:
        if pause is not None and pause():
            _wait(ctx, pause, stop)
        if stop is not None and stop():
            return None
        xb, yb = xb.to(ctx.device), yb.to(ctx.device)
        ctx.opt.zero_grad()
        loss = ctx.loss_fn(ctx.model(xb), yb)
        value = float(loss.item())
        ctx.step += 1
        if not math.isfinite(value):
            raise _Diverged(
                f"the loss became {value} at epoch {epoch}, step {ctx.step}: training diverged. "
                f"Try a lower learning rate (now {s['lr']}), standardised inputs, or gradient clipping."
            )
        loss.backward()
        ctx.opt.step()
        if ctx.when == "step":
            ctx.scheduler.step()
        train_sum += value * len(yb)
        train_n += len(yb)
        yield _step_event(ctx, epoch, value, len(yb))
    return train_sum / max(train_n, 1)


def _wait(ctx, pause, stop) -> None:
    held = time.perf_counter()
    while pause() and not (stop is not None and stop()):
        time.sleep(0.05)
    held = time.perf_counter() - held  # a pause is not part of the speed
    ctx.recent = deque(((t + held, k) for t, k in ctx.recent), maxlen=SPEED_WINDOW + 1)


def _step_event(ctx, epoch, value, n) -> Event:
    # speed and time left by the wall clock over the last steps, so that loading and evaluation count
    now = time.perf_counter()
    ctx.recent.append((now, n))
    sec = now - ctx.recent[0][0]
    sps = sum(k for _, k in list(ctx.recent)[1:]) / sec if sec > 0 else None
    eta = sec / (len(ctx.recent) - 1) * (ctx.total_steps - ctx.step)
    ctx.curves["step"].append(ctx.step)
    ctx.curves["loss"].append(value)
    return Event(
        STEP,
        epoch=epoch,
        **ctx.progress(),
        loss=value,
        lr=ctx.opt.param_groups[0]["lr"],
        samples_per_sec=sps,
        eta=eta,
    )


def _epochs(ctx, s, run, stop, pause, metric):
    """Every epoch: train, validate, schedule, keep the best; the run's status when it ends."""
    best_state = None
    for epoch in range(1, ctx.total_epochs + 1):
        train_loss = yield from _train_steps(ctx, epoch, s, stop, pause)
        if train_loss is None:
            return "stopped", best_state
        norms = _grad_norms(ctx.model)
        if ctx.histograms is not None:
            ctx.histograms.epoch_end(epoch)
        val_loss, val_metric, _, _ = _evaluate(ctx, "val", stop)
        if stop is not None and stop():
            return "stopped", best_state
        lr = ctx.opt.param_groups[0]["lr"]
        for key, value in (
            ("epoch", epoch),
            ("train_loss", train_loss),
            ("val_loss", val_loss),
            ("val_metric", val_metric),
            ("lr", lr),
        ):
            ctx.curves[key].append(value)
        run["grad_norms"].append(norms)
        run["epochs_completed"] = epoch
        if ctx.when == "epoch":
            ctx.scheduler.step()
        elif ctx.when == "plateau":
            ctx.scheduler.step(ctx.monitor.watched(val_loss, val_metric, train_loss))
        if ctx.monitor.update(epoch, val_loss, val_metric, train_loss):
            best_state = _state_copy(ctx.model)
        metrics = {"train_loss": train_loss}
        if val_loss is not None:
            metrics.update({"val_loss": val_loss, f"val_{metric}": val_metric})
        yield Event(
            EPOCH,
            epoch=epoch,
            **ctx.progress(),
            metrics=metrics,
            lr=lr,
            grad_norms=norms,
        )
        if ctx.monitor.stop:
            return "early_stopped", best_state
    return "completed", best_state


def fit(project, epochs=None, stop=None, pause=None, weights_dir=None, data=None, init=None, histograms=True):
    """Train `project`'s design on its data, yielding `Event`s; appends the run to `project.runs`.

    `stop()` and `pause()` are polled between steps: stop ends the run (status "stopped"), pause
    waits. `data` may supply prepared data (a `studio.training.data.PreparedData`). `init` is a
    weights file (safetensors, or a PyTorch .pt/.pth state dict) the run starts from instead of a
    fresh initialisation: tensors are matched by name and shape, the rest stays initialised.
    `histograms` records the weights' and gradients' histograms of each epoch (see .histograms).
    """
    from .data import DataError, prepare_data

    s = settings_of(project)
    if epochs is not None:
        s["epochs"] = int(epochs)
    if int(s["epochs"]) < 1:
        raise TrainingError(f"epochs must be at least 1, got {s['epochs']}")
    run = _new_run(s)
    try:
        if data is None:
            data = yield from _load_data(project, prepare_data, stop)
            if data is None:
                yield _stopped_loading(project, run)
                return
        ctx = _setup(project, s, data, init, weights_dir, run)
    except (TrainingError, DataError) as e:
        yield _fail(project, run, str(e))
        return
    except (ValueError, RuntimeError, KeyError, FileNotFoundError, OSError) as e:
        yield _fail(project, run, f"the run could not start: {e}")
        return
    metric = run["metric"] = _metric_name(data.task)
    if histograms:
        run["histograms"] = {}
        ctx.histograms = HistogramRecorder(ctx.model, run["histograms"])
    n_params = sum(p.numel() for p in ctx.model.parameters())
    init_note = f"\n{run['init']['report']}" if run.get("init") else ""
    yield Event(
        START,
        total_epochs=ctx.total_epochs,
        total_steps=ctx.total_steps,
        message=f"{data.summary}; {n_params:,} parameters{init_note}",
    )
    t_start = time.perf_counter()
    ctx.recent = deque([(t_start, 0)], maxlen=SPEED_WINDOW + 1)
    ctx.model.train()
    try:
        status, best_state = yield from _epochs(ctx, s, run, stop, pause, metric)
    except _Diverged as e:
        yield _fail(project, run, str(e))
        return
    except (RuntimeError, ValueError, MemoryError) as e:
        kind = "ran out of memory" if isinstance(e, MemoryError) else "failed"
        yield _fail(
            project, run, f"training {kind} at epoch {run['epochs_completed'] + 1}, step {ctx.step}: {e}"
        )
        return
    yield from _finish(project, run, ctx, data, status, best_state, t_start)


def _stopped_loading(project, run) -> Event:
    run.update(status="stopped", finished=_now(), message="stopped while the data was loading")
    project.runs.append(run)
    return Event(END, status="stopped", message=run["message"], run=run)


def _finish(project, run, ctx, prepared, status, best_state, t_start):
    """Test the last weights, save the last and the best, and end with the END event."""
    outputs = []
    test_loss, test_metric, preds, targets = _evaluate(ctx, "test", outputs=outputs)
    run["final"] = (
        {"test_loss": test_loss, f"test_{run['metric']}": test_metric} if test_loss is not None else {}
    )
    run["evaluation"] = _evaluation_summary(prepared, preds, targets, outputs)
    monitor = ctx.monitor
    run["best"] = (
        {"epoch": monitor.best_epoch, "score": _best_score(ctx, run)} if monitor.best_epoch else None
    )
    run["status"] = status
    try:
        _save_weights(run, ctx.model, best_state, ctx.wdir, project)
    except OSError as e:
        rescued = _rescue_weights(run, ctx.model, best_state, project)
        if rescued is None:
            yield _fail(project, run, f"the run finished, but its weights could not be written: {e}")
            return
        run["message"] = f"the weights could not be written where they belong ({e}); they are in {rescued}"
    run["finished"] = _now()
    run["seconds"] = round(time.perf_counter() - t_start, 3)
    _thin_curves(run["curves"])
    project.runs.append(run)
    yield Event(
        END,
        epoch=run["epochs_completed"],
        **ctx.progress(),
        status=status,
        metrics=run["final"],
        message=run.get("message", ""),
        run=run,
    )


def _best_score(ctx, run):
    """The best epoch's validation metric (its monitored loss when there is no metric)."""
    i = run["curves"]["epoch"].index(ctx.monitor.best_epoch)
    metric = run["curves"]["val_metric"][i]
    return metric if metric is not None else ctx.monitor.best


MISCLASSIFIED_KEPT = 24


def _json_cell(v):
    """A value of a data file as JSON keeps it: numbers as numbers (rounded off float32 noise), a missing
    value as None, anything else as its text."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        return (
            None
            if not math.isfinite(f)
            else int(f)
            if f.is_integer() and abs(f) < 2**53
            else float(f"{f:.7g}")
        )
    return None if v is None else str(v)


def _evaluation_summary(prepared, preds, targets, outputs=None):
    """What the evaluation views show: confusion matrix, per-class scores, misclassified examples and
    the curves of the class probabilities, or predicted against actual values and the errors."""
    if preds is None:
        return None
    from studio.core import metrics

    from .evaluation import classification_curves, regression_errors

    x_test = prepared.splits["test"][0]
    if prepared.task == "classification":
        preds, targets = preds.astype(np.int64), targets.astype(np.int64)
        k = max(prepared.num_classes, int(max(preds.max(), targets.max())) + 1)
        cm = metrics.confusion_matrix(preds, targets, num_classes=k)
        precision, recall, f1 = metrics.precision_recall_f1(preds, targets, average=None, num_classes=k)
        wrong = np.flatnonzero(preds != targets)[:MISCLASSIFIED_KEPT]
        columns, raw_rows = prepared.raw_test or (None, None)
        names = list(prepared.class_names) or [str(i) for i in range(k)]
        return {
            "task": "classification",
            "classes": names,
            "confusion": cm.tolist(),
            "precision": precision.round(6).tolist(),
            "recall": recall.round(6).tolist(),
            "f1": f1.round(6).tolist(),
            "support": metrics.support(targets, num_classes=k).tolist(),
            "misclassified": [
                {
                    "input": np.asarray(x_test[i], np.float64).round(5).tolist(),
                    "true": int(targets[i]),
                    "pred": int(preds[i]),
                    **({"raw": [_json_cell(v) for v in raw_rows[i]]} if raw_rows is not None else {}),
                }
                for i in wrong
            ],
            **({"columns": columns} if columns is not None else {}),
            **(classification_curves(np.concatenate(outputs), targets, names) if outputs else {}),
        }
    return {
        "task": "regression",
        "predicted": preds[:, 0].astype(float).round(6).tolist()[:2000],
        "actual": targets[:, 0].astype(float).round(6).tolist()[:2000],
        **regression_errors(preds, targets),
    }


def _design_name(project) -> str:
    return project.name or (Path(project.path).stem if getattr(project, "path", None) else "untitled")


def _check_room(model, wdir: Path) -> None:
    """Fail before the long work when the weights could not be written at its end."""
    from studio.core.atomic import WriteError, ensure_room

    size = sum(v.numel() * v.element_size() for v in model.state_dict().values())
    try:
        ensure_room(wdir, 2 * size + WEIGHTS_OVERHEAD, "the weights of this run")
    except WriteError as e:
        raise TrainingError(f"the run could not start: {e}") from None


WEIGHTS_OVERHEAD = 256 << 10  # headers and metadata of two weights files, and the project file


def _save_weights(run, model, best_state, wdir: Path, project) -> None:
    """Write the run's last (and best) weights under names no other run has; the run records them.

    The files are created exclusively: should another run have taken the names, this one draws a
    new id. On failure, nothing of this run is left in `wdir`.
    """
    from studio.design.weights import save_weights

    wdir.mkdir(parents=True, exist_ok=True)
    name = _design_name(project)
    for _ in range(20):
        last, best = weights_files(wdir, run["id"])
        try:
            save_weights(model.state_dict(), last, name, exclusive=True)
        except FileExistsError:
            run["id"] = new_run_id()
            continue
        try:
            if best_state is not None:
                save_weights(best_state, best, name, exclusive=True)
        except BaseException as e:
            last.unlink(missing_ok=True)
            if isinstance(e, FileExistsError):
                run["id"] = new_run_id()
                continue
            raise
        run["weights"] = _stored_path(last, project)
        run["best_weights"] = _stored_path(best, project) if best_state is not None else None
        return
    raise FileExistsError(f"no free weights file name in {wdir}")


def _stored_path(p: Path, project) -> str:
    """A weights path as a run records it: relative to the project's folder when inside it."""
    base = Path(project.path).resolve().parent if getattr(project, "path", None) else None
    if base is not None:
        try:
            return str(p.resolve().relative_to(base))
        except ValueError:
            pass
    return str(p)


def _rescue_weights(run, model, best_state, project) -> Path | None:
    """The weights folder could not take the weights (a full disk): keep them elsewhere; the folder
    they went to, or None when they could be written nowhere."""
    import tempfile

    for folder in (unsaved_root().parent / "rescued", Path(tempfile.gettempdir()) / "studio-rescued"):
        try:
            _save_weights(run, model, best_state, folder, project)
        except OSError:
            continue
        return folder
    return None


def _thin_curves(curves):
    n = len(curves["step"])
    if n > STEP_CURVE_LIMIT:
        k = math.ceil(n / STEP_CURVE_LIMIT)
        curves["step"] = curves["step"][::k]
        curves["loss"] = curves["loss"][::k]
