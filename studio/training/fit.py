"""The training run: `fit(project)` is a generator of events that trains the project's design on its data.

It holds no UI: the command line prints its events, and the app runs it in a worker process.
"""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from studio.design.datasource import loss_name_for
from studio.design.export import LOSS_CLASSES, OPTIMIZER_CLASSES
from studio.design.project import DEFAULT_TRAINING, SCHEDULES
from studio.design.runs import new_run_id, runs_folder, unsaved_root, weights_files

from .events import END, EPOCH, ERROR, LOADING, START, STEP, Event

# The settings, losses, optimizers and schedules are the design's: a project file and a run agree by
# construction. The class-name maps are the exporter's, so a run and an exported script use the same classes.
DEFAULT_SETTINGS = DEFAULT_TRAINING
LOSSES = LOSS_CLASSES
OPTIMIZERS = OPTIMIZER_CLASSES
SPEED_WINDOW = 50  # steps over which speed and time left are measured
STEP_CURVE_LIMIT = 5000  # step losses kept in a run summary; longer runs keep every k-th point


class TrainingError(Exception):
    """A run that cannot start or go on, with a message for the user."""


def settings_of(project) -> dict:
    s = copy.deepcopy(DEFAULT_SETTINGS)
    s.update(project.training or {})
    es = dict(DEFAULT_SETTINGS["early_stopping"])
    es.update(s.get("early_stopping") or {})
    s["early_stopping"] = es
    return s


def _make_loss(nn, name, task):
    if name in (None, "", "auto"):
        name = "cross_entropy" if task == "classification" else "mse"
    if name not in LOSSES:
        raise TrainingError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}")
    return name, getattr(nn, LOSSES[name])()


def _make_optimizer(optim, params, s):
    name = s["optimizer"]
    if name not in OPTIMIZERS:
        raise TrainingError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    lr = float(s["lr"])
    if not lr > 0:
        raise TrainingError(f"learning rate must be positive, got {s['lr']}")
    kwargs = {"lr": lr, "weight_decay": float(s.get("weight_decay") or 0.0)}
    if name == "sgd":
        kwargs["momentum"] = float(s.get("momentum", 0.9))
    return getattr(optim, OPTIMIZERS[name])(params, **kwargs)


def _make_schedule(optim, opt, s, steps_per_epoch):
    name = s.get("schedule") or "none"
    epochs = int(s["epochs"])
    sched = optim.lr_scheduler
    if name == "none":
        return None, None
    if name == "step":
        return sched.StepLR(opt, step_size=max(1, epochs // 3), gamma=0.1), "epoch"
    if name == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=max(1, epochs)), "epoch"
    if name == "exponential":
        return sched.ExponentialLR(opt, gamma=0.95), "epoch"
    if name == "plateau":
        return sched.ReduceLROnPlateau(opt, patience=2), "plateau"
    if name == "onecycle":
        return sched.OneCycleLR(
            opt, max_lr=float(s["lr"]), total_steps=max(1, epochs * steps_per_epoch)
        ), "step"
    if name == "linear":
        return sched.LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=max(1, epochs)), "epoch"
    raise TrainingError(f"unknown schedule {name!r}: choose one of {', '.join(SCHEDULES)}")


def _metric_name(task):
    return "accuracy" if task == "classification" else "r2"


def _evaluate(core, model, loader, loss_fn, task, device, stop=None):
    """Mean loss and the task's metric over a loader, without recording a graph."""
    model.eval()
    total, count = 0.0, 0
    preds, targets = [], []
    with core.no_grad():
        for xb, yb in loader:
            if stop is not None and stop():
                break
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            loss = loss_fn(out, yb)
            n = len(yb)
            total += float(loss.item()) * n
            count += n
            o = out.detach().cpu().numpy()
            preds.append(o.argmax(1) if task == "classification" else o.reshape(len(o), -1))
            targets.append(
                yb.cpu().numpy().reshape(len(o), -1) if task != "classification" else yb.cpu().numpy()
            )
    model.train()
    if count == 0:
        return None, None, None, None
    p, t = np.concatenate(preds), np.concatenate(targets)
    if task == "classification":
        metric = float((p == t).mean())
    else:
        ss_res = float(((t - p) ** 2).sum())
        ss_tot = float(((t - t.mean(0)) ** 2).sum())
        metric = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    return total / count, metric, p, t


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


def fit(project, epochs=None, stop=None, pause=None, weights_dir=None, data=None, init=None):
    """Train `project`'s design on its data, yielding `Event`s; appends the run to `project.runs`.

    `stop()` and `pause()` are polled between steps: stop ends the run (status "stopped"), pause
    waits. `data` may supply prepared data (a `studio.training.data.PreparedData`). `init` is a
    weights file (safetensors, or a PyTorch .pt/.pth state dict) the run starts from instead of a
    fresh initialisation: tensors are matched by name and shape, the rest stays initialised.
    """
    import studio.core as core
    from studio.core import nn, optim
    from studio.design import build

    from .data import DataError, prepare_data

    s = settings_of(project)
    if epochs is not None:
        s["epochs"] = int(epochs)
    if int(s["epochs"]) < 1:
        raise TrainingError(f"epochs must be at least 1, got {s['epochs']}")
    core.manual_seed(int(s["seed"]))
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run = {
        "id": new_run_id(),
        "started": started,
        "finished": None,
        "status": "running",
        "settings": s,
        "epochs_completed": 0,
        "curves": {
            "step": [],
            "loss": [],
            "epoch": [],
            "train_loss": [],
            "val_loss": [],
            "val_metric": [],
            "lr": [],
        },
        "metric": None,
        "final": {},
        "best": None,
        "weights": None,
        "best_weights": None,
        "grad_norms": [],
    }

    def fail(message):
        run["status"] = "failed"
        run["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        run["message"] = message
        project.runs.append(run)
        return Event(ERROR, message=message, run=run)

    try:
        if data is None:
            data = yield from _load_data(project, prepare_data, stop)
            if data is None:
                run["status"] = "stopped"
                run["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
                run["message"] = "stopped while the data was loading"
                project.runs.append(run)
                yield Event(END, status="stopped", message=run["message"], run=run)
                return
        prepared = data
        device = s.get("device") or "cpu"
        if device == "auto":
            device = "cuda" if core.cuda.is_available() else "cpu"
        if device == "cuda" and not core.cuda.is_available():
            raise TrainingError(
                "device 'cuda' was chosen, but no CUDA GPU is usable here (cupy missing or no GPU)"
            )
        _check_fit(project, prepared)
        model = build(project.design)
        if init is not None:
            from studio.design.init_weights import load_into

            run["init"] = {"file": str(init), "report": load_into(model, init).report()}
        model = model.to(device)
        loss_name, loss_fn = _make_loss(nn, loss_name_for(project, prepared.task), prepared.task)
        train_loader = prepared.loader("train", int(s["batch_size"]), shuffle=True)
        val_loader = prepared.loader("val", int(s["batch_size"]) * 4)
        test_loader = prepared.loader("test", int(s["batch_size"]) * 4)
        steps_per_epoch = len(train_loader)
        if steps_per_epoch == 0:
            raise TrainingError("the training split is empty: use more data or a larger training fraction")
        opt = _make_optimizer(optim, model.parameters(), s)
        scheduler, sched_when = _make_schedule(optim, opt, s, steps_per_epoch)
        wdir = Path(weights_dir) if weights_dir else weights_dir_for(project)
        _check_room(model, wdir)
    except (TrainingError, DataError) as e:
        yield fail(str(e))
        return
    except (ValueError, RuntimeError, KeyError, FileNotFoundError, OSError) as e:
        yield fail(f"the run could not start: {e}")
        return

    metric = _metric_name(prepared.task)
    run["metric"] = metric
    run["loss_name"] = loss_name
    total_epochs = int(s["epochs"])
    total_steps = total_epochs * steps_per_epoch
    yield Event(
        START,
        total_epochs=total_epochs,
        total_steps=total_steps,
        message=f"{prepared.summary}; {sum(p.numel() for p in model.parameters()):,} parameters"
        + (f"\n{run['init']['report']}" if run.get("init") else ""),
    )
    curves = run["curves"]
    step = 0
    best_metric, best_state, best_epoch = None, None, 0
    patience = int(s["early_stopping"].get("patience", 5))
    early = bool(s["early_stopping"].get("enabled"))
    since_best = 0
    status = "completed"
    t_start = time.perf_counter()
    # (end time, samples) of the last steps, for speed and time left measured by the wall clock, so
    # that data loading, evaluation and pauses count too
    recent = deque([(t_start, 0)], maxlen=SPEED_WINDOW + 1)
    model.train()
    try:
        for epoch in range(1, total_epochs + 1):
            train_sum, train_n = 0.0, 0
            for xb, yb in train_loader:
                if pause is not None and pause():
                    held = time.perf_counter()
                    while pause() and not (stop is not None and stop()):
                        time.sleep(0.05)
                    held = time.perf_counter() - held  # a pause is not part of the speed
                    recent = deque(((t + held, k) for t, k in recent), maxlen=SPEED_WINDOW + 1)
                if stop is not None and stop():
                    status = "stopped"
                    break
                xb, yb = xb.to(device), yb.to(device)
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                value = float(loss.item())
                step += 1
                if not math.isfinite(value):
                    yield fail(
                        f"the loss became {value} at epoch {epoch}, step {step}: training diverged. "
                        f"Try a lower learning rate (now {s['lr']}), standardised inputs, "
                        "or gradient clipping."
                    )
                    return
                loss.backward()
                opt.step()
                if sched_when == "step":
                    scheduler.step()
                n = len(yb)
                train_sum += value * n
                train_n += n
                now = time.perf_counter()
                recent.append((now, n))
                sec = now - recent[0][0]
                sps = sum(k for _, k in list(recent)[1:]) / sec if sec > 0 else None
                eta = sec / (len(recent) - 1) * (total_steps - step)
                curves["step"].append(step)
                curves["loss"].append(value)
                yield Event(
                    STEP,
                    epoch=epoch,
                    step=step,
                    total_epochs=total_epochs,
                    total_steps=total_steps,
                    loss=value,
                    lr=opt.param_groups[0]["lr"],
                    samples_per_sec=sps,
                    eta=eta,
                )
            if status == "stopped":
                break
            norms = _grad_norms(model)
            val_loss, val_metric, _, _ = _evaluate(
                core, model, val_loader, loss_fn, prepared.task, device, stop
            )
            if stop is not None and stop():
                status = "stopped"
                break
            lr = opt.param_groups[0]["lr"]
            train_loss = train_sum / max(train_n, 1)
            curves["epoch"].append(epoch)
            curves["train_loss"].append(train_loss)
            curves["val_loss"].append(val_loss)
            curves["val_metric"].append(val_metric)
            curves["lr"].append(lr)
            run["grad_norms"].append(norms)
            run["epochs_completed"] = epoch
            metrics = {"train_loss": train_loss}
            if val_loss is not None:
                metrics["val_loss"] = val_loss
                metrics[f"val_{metric}"] = val_metric
            if sched_when == "epoch":
                scheduler.step()
            elif sched_when == "plateau":
                scheduler.step(val_loss if val_loss is not None else train_loss)
            score = val_metric if val_metric is not None else -train_loss
            if best_metric is None or score > best_metric:
                best_metric, best_state, best_epoch = score, _state_copy(model), epoch
                since_best = 0
            else:
                since_best += 1
            yield Event(
                EPOCH,
                epoch=epoch,
                step=step,
                total_epochs=total_epochs,
                total_steps=total_steps,
                metrics=metrics,
                lr=lr,
                grad_norms=norms,
            )
            if early and since_best >= patience:
                status = "early_stopped"
                break
    except (RuntimeError, ValueError, MemoryError) as e:
        kind = "ran out of memory" if isinstance(e, MemoryError) else "failed"
        yield fail(f"training {kind} at epoch {epoch}, step {step}: {e}")
        return

    final = {}
    test_loss, test_metric, preds, targets = _evaluate(
        core, model, test_loader, loss_fn, prepared.task, device
    )
    if test_loss is not None:
        final = {"test_loss": test_loss, f"test_{metric}": test_metric}
    run["final"] = final
    run["evaluation"] = _evaluation_summary(prepared, preds, targets)
    run["best"] = {"epoch": best_epoch, "score": best_metric} if best_epoch else None
    run["status"] = status
    try:
        _save_weights(run, model, best_state, wdir, project)
    except OSError as e:
        rescued = _rescue_weights(run, model, best_state, project)
        if rescued is None:
            yield fail(f"the run finished, but its weights could not be written: {e}")
            return
        run["message"] = f"the weights could not be written where they belong ({e}); they are in {rescued}"
    run["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run["seconds"] = round(time.perf_counter() - t_start, 3)
    _thin_curves(curves)
    project.runs.append(run)
    yield Event(
        END,
        epoch=run["epochs_completed"],
        step=step,
        total_epochs=total_epochs,
        total_steps=total_steps,
        status=status,
        metrics=final,
        message=run.get("message", ""),
        run=run,
    )


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


def _evaluation_summary(prepared, preds, targets):
    """What the evaluation views show: confusion matrix, per-class scores and misclassified examples,
    or predicted against actual values for regression."""
    if preds is None:
        return None
    x_test = prepared.splits["test"][0]
    if prepared.task == "classification":
        k = max(prepared.num_classes, int(max(preds.max(), targets.max())) + 1)
        cm = np.zeros((k, k), dtype=np.int64)
        np.add.at(cm, (targets.astype(np.int64), preds.astype(np.int64)), 1)
        tp = np.diag(cm).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.nan_to_num(tp / cm.sum(0))
            recall = np.nan_to_num(tp / cm.sum(1))
            f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
        wrong = np.flatnonzero(preds != targets)[:MISCLASSIFIED_KEPT]
        columns, raw_rows = prepared.raw_test or (None, None)
        return {
            "task": "classification",
            "classes": list(prepared.class_names) or [str(i) for i in range(k)],
            "confusion": cm.tolist(),
            "precision": precision.round(6).tolist(),
            "recall": recall.round(6).tolist(),
            "f1": f1.round(6).tolist(),
            "support": cm.sum(1).tolist(),
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
        }
    return {
        "task": "regression",
        "predicted": preds[:, 0].astype(float).round(6).tolist()[:2000],
        "actual": targets[:, 0].astype(float).round(6).tolist()[:2000],
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
