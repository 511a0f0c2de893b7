"""The run sections of an exported script: settings, the shared recipe, evaluation, training and the entry
point. The run is the one `fit` does (see `studio.design.recipe`); its settings are read through the
training spec. The DDP variant changes only the sections that differ: imports, device, the batches of
the training split, the model's wrapper and who prints.
"""

from __future__ import annotations

import inspect
import textwrap

from . import recipe
from .datasource import loss_name_for
from .script_text import indent, literal, string_literal, wrap_call
from .training_spec import LOSS_CLASSES, RUN_QUANTITIES, TRAINING_SPEC, argument_code


def run_constants(project, settings: dict, task: str, standardize: bool) -> list[str]:
    """The settings a script's run reads, as constants at its top."""
    data = project.data
    split = {"train": 0.7, "val": 0.15, "test": 0.15, **(data.get("split") or {})}
    es = settings["early_stopping"]
    return [
        f"EPOCHS = {int(settings['epochs'])!r}",
        f"BATCH_SIZE = {int(settings['batch_size'])!r}",
        f"LR = {float(settings['lr'])!r}",
        f"WEIGHT_DECAY = {float(settings['weight_decay'])!r}",
        f"SEED = {int(settings['seed'])!r}",
        f"SPLIT_SEED = {int(data.get('seed') or 0)!r}",
        "SPLIT = {" + ", ".join(f'"{k}": {float(split[k])!r}' for k in ("train", "val", "test")) + "}",
        f"STANDARDIZE = {standardize!r}",
        f"TASK = {string_literal(task)}",
        f"MONITOR = {string_literal(es['monitor'])}  # picks the best epoch; early stopping watches it",
        f"PATIENCE = {int(es['patience']) if es['enabled'] else 0!r}  # early stopping (0: off)",
        f"DEVICE = {string_literal(settings['device'])}",
    ]


RECIPE = (
    recipe.split_indices,
    recipe.standardizer,
    recipe.batch_indices,
    recipe.predictions,
    recipe.score,
    recipe.Monitor,
)


def recipe_code(augment: bool) -> list[str]:
    """The recipe's functions, copied: the script splits, scales, batches and judges as `fit` does."""
    parts = [*RECIPE, recipe.augment] if augment else RECIPE
    out = []
    for part in parts:
        out += textwrap.dedent(inspect.getsource(part)).rstrip().splitlines() + ["", ""]
    return out


def split_code(target_fix: str, labels: str, one_hot: bool = False) -> list[str]:
    keep = (
        ["        mean[:, ONE_HOT], std[:, ONE_HOT] = 0.0, 1.0  # one-hot codes stay 0 and 1"]
        if one_hot
        else []
    )
    return [
        "def split_data(x, y):",
        '    """Train, validation and test parts (x, y); features scaled by the training part."""',
        f"    y = {target_fix}",
        f"    split = split_indices(len(x), SPLIT, SPLIT_SEED, {labels})"
        + ("  # each class split on its own" if labels != "None" else ""),
        '    parts = [(x[split[k]], y[split[k]]) for k in ("train", "val", "test")]',
        '    if STANDARDIZE and x.dtype.kind == "f" and x.ndim == 2:',
        "        mean, std = standardizer(parts[0][0])",
        *keep,
        "        parts = [(((xs - mean) / std).astype(np.float32), ys) for xs, ys in parts]",
        "    return parts",
        "",
        "",
    ]


WEIGHTS_CODE = [
    "def save_weights(model, path):",
    '    """Write the weights as safetensors (the format Studio reads and writes)."""',
    "    save_file({k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}, str(path))",
    "",
    "",
    "def load_weights(model, path):",
    '    """Read safetensors weights saved by Studio or by this script into `model`."""',
    "    model.load_state_dict({k: torch.tensor(v) for k, v in load_file(str(path)).items()})",
    "    return model",
    "",
    "",
]

EVALUATE_CODE = [
    "def tensors(x, y, device):",
    '    """A batch of numpy arrays as tensors on `device`."""',
    "    xb = torch.from_numpy(np.ascontiguousarray(x)).to(device)",
    "    return xb, torch.from_numpy(np.ascontiguousarray(y)).to(device)",
    "",
    "",
    "def evaluate(model, x, y, loss_fn, device):",
    '    """Mean loss and the metric (accuracy, or R² for values) over a split, without gradients."""',
    "    if not len(x):",
    "        return None, None",
    "    model.eval()",
    "    total, preds = 0.0, []",
    "    with torch.no_grad():",
    f"        for idx in batch_indices(len(x), BATCH_SIZE * {recipe.EVAL_BATCH_FACTOR}):",
    "            xb, yb = tensors(x[idx], y[idx], device)",
    "            out = model(xb)",
    "            total += float(loss_fn(out, yb).item()) * len(yb)",
    "            preds.append(predictions(out.detach().cpu().numpy(), TASK))",
    "    model.train()",
    "    return total / len(x), score(np.concatenate(preds), y, TASK)",
    "",
    "",
]


def _device_lines(ddp: bool) -> list[str]:
    if not ddp:
        return ['device = "cuda" if DEVICE != "cpu" and torch.cuda.is_available() else "cpu"']
    return [
        'distributed = "WORLD_SIZE" in os.environ  # set by torchrun',
        "rank = 0",
        "if distributed:",
        '    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")',
        '    rank, local_rank = dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0))',
        '    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")',
        '    if device.type == "cuda":',
        "        torch.cuda.set_device(device)",
        "else:",
        '    device = torch.device("cuda" if DEVICE != "cpu" and torch.cuda.is_available() else "cpu")',
    ]


def _model_lines(ddp: bool, loss: str, settings: dict) -> list[str]:
    """The model (wrapped for DDP), its loss, optimizer, monitor and schedule."""
    choice, options = TRAINING_SPEC.options(settings, "optimizer")
    args = ", ".join(["lr=LR", "weight_decay=WEIGHT_DECAY", *argument_code(choice, options, literal)])
    lines = [
        "torch.manual_seed(SEED)  # just before the weights are drawn, as Studio does",
        "model = Net().to(device)",
    ]
    net = "model"
    if ddp:
        net = "net"
        lines += [
            "net = model",
            "if distributed:",
            '    device_ids = [device.index] if device.type == "cuda" else None',
            "    net = DistributedDataParallel(model, device_ids=device_ids)",
        ]
    lines += [f"loss_fn = nn.{LOSS_CLASSES[loss]}()"]
    lines += wrap_call("optimizer = ", f"torch.optim.{choice.cls}({net}.parameters(), {args})", 0)
    lines += ["monitor = Monitor(MONITOR, PATIENCE)"]
    schedule, options = TRAINING_SPEC.options(settings, "schedule")
    if schedule.cls:
        sargs = ", ".join(["optimizer", *argument_code(schedule, options, literal)])
        if any("steps_per_epoch" in RUN_QUANTITIES[q].code for q in schedule.follows.values()):
            lines.append(
                f"steps_per_epoch = {'len(train_loader)' if ddp else '-(-len(x_train) // BATCH_SIZE)'}"
            )
        lines += wrap_call("scheduler = ", f"torch.optim.lr_scheduler.{schedule.cls}({sargs})", 0)
    return lines


def _batches_lines(ddp: bool, augment: bool) -> list[str]:
    """The loop header over the training batches, with `xb` and `yb` tensors on the device inside."""
    aug = ["    xb = augment(xb, rng, **AUGMENT)"] if augment else []
    if not ddp:
        return [
            "for idx in batch_indices(len(x_train), BATCH_SIZE, rng):",
            "    xb = x_train[idx]",
            *aug,
            "    xb, yb = tensors(xb, y_train[idx], device)",
        ]
    aug = ["    xb = torch.from_numpy(augment(xb.numpy(), rng, **AUGMENT))"] if augment else []
    return [
        "if sampler is not None:",
        "    sampler.set_epoch(epoch)",
        "for xb, yb in train_loader:",
        *aug,
        "    xb, yb = xb.to(device), yb.to(device)",
    ]


DDP_LOADER = [
    "train_set = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))",
    "sampler = DistributedSampler(train_set, shuffle=True, seed=SEED) if distributed else None",
    "train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=sampler is None, sampler=sampler)",
]


def _epoch_lines(ddp: bool, augment: bool, when: str, metric: str) -> list[str]:
    """One epoch: the training steps, validation, the schedule, the monitor and the report."""
    net = "net" if ddp else "model"
    step = [
        "    optimizer.zero_grad()",
        f"    loss = loss_fn({net}(xb), yb)",
        "    loss.backward()",
        "    optimizer.step()",
        *(["    scheduler.step()"] if when == "step" else []),
        "    total += float(loss.item()) * len(yb)",
    ]
    after = {
        "epoch": ["scheduler.step()"],
        "plateau": ["scheduler.step(monitor.watched(val_loss, val_score, train_loss))"],
    }.get(when, [])
    report = [
        'line = f"epoch {epoch}: train_loss {train_loss:.4f}"',
        "if val_loss is not None:",
        f'    line += f"  val_loss {{val_loss:.4f}}  val_{metric} {{val_score:.4f}}"',
        "print(line)",
    ]
    return [
        "total = 0.0",
        *_batches_lines(ddp, augment),
        *step,
        "train_loss = total / len(x_train)",
        "val_loss, val_score = evaluate(model, x_val, y_val, loss_fn, device)",
        *after,
        "monitor.update(epoch, val_loss, val_score, train_loss)",
        *(["if rank == 0:", *indent(report, 4)] if ddp else report),
        "if monitor.stop:",
        "    break",
    ]


def _final_lines(ddp: bool, metric: str) -> list[str]:
    final = [
        'print(f"best epoch {monitor.best_epoch} by {MONITOR}")',
        "if test_loss is not None:",
        f'    print(f"test_loss {{test_loss:.4f}}  test_{metric} {{test_score:.4f}}")',
        "save_weights(model, weights_path)",
        'print(f"weights saved to {weights_path}")',
    ]
    lines = ["test_loss, test_score = evaluate(model, x_test, y_test, loss_fn, device)"]
    if not ddp:
        return lines + final
    return [*lines, "if rank == 0:", *indent(final, 4), "if distributed:", "    dist.destroy_process_group()"]


def train_code(project, settings: dict, task: str, ddp: bool, augment: bool) -> list[str]:
    """`train(epochs, data_path, weights_path)`: the run `fit` does, written out."""
    loss = loss_name_for(project, project.data.get("task", "classification"))
    when = TRAINING_SPEC.options(settings, "schedule")[0].when
    metric = "accuracy" if task == "classification" else "r2"
    body = [
        *_device_lines(ddp),
        "(x_train, y_train), (x_val, y_val), (x_test, y_test) = split_data(*load_data(data_path))",
        *(
            ["rng = np.random.default_rng(SEED)  # the batches' order (and augmentation) each epoch"]
            if not ddp or augment
            else []
        ),
        *(DDP_LOADER if ddp else []),
        *_model_lines(ddp, loss, settings),
        "for epoch in range(1, epochs + 1):",
        *indent(_epoch_lines(ddp, augment, when, metric), 4),
        *_final_lines(ddp, metric),
        "return model",
    ]
    return [
        "def train(epochs, data_path, weights_path):",
        '    """Train a fresh Net on the data, report each epoch, test it, and save the weights."""',
        *indent(body, 4),
        "",
        "",
    ]


MAIN_CODE = [
    "def main(argv=None):",
    "    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)",
    '    parser.add_argument("--epochs", type=int, default=EPOCHS, help="passes over the training data")',
    '    parser.add_argument("--data", default=DATA, help="the data file or folder")',
    '    parser.add_argument("--weights", default="net.safetensors", help="where to save the weights")',
    "    args = parser.parse_args(argv)",
    "    train(args.epochs, args.data, args.weights)",
    "",
    "",
    'if __name__ == "__main__":',
    "    main()",
]
