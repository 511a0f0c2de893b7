"""Export a project to one readable Python script: the network, its data, training, evaluation and saving.

Everything the user typed enters the script as a validated identifier or a `repr` string literal, so no
name, path or column can inject code.
"""

from __future__ import annotations

import inspect
import keyword
import os
import re
import textwrap
from pathlib import Path

from .. import assets
from .build import BuildError
from .catalogue import CATALOGUE, Ctor
from .datasource import split_indices
from .samples import SAMPLE_INFO, make_sequences, make_tokens

TARGETS = ("studio", "torch")

LOSS_CLASSES = {
    "cross_entropy": "CrossEntropyLoss",
    "nll": "NLLLoss",
    "bce_with_logits": "BCEWithLogitsLoss",
    "mse": "MSELoss",
    "l1": "L1Loss",
    "smooth_l1": "SmoothL1Loss",
    "huber": "HuberLoss",
}
OPTIMIZER_CLASSES = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
}

AUGMENTATIONS = ("hflip", "shift", "rotate")
AUGMENT_CODE = '''def augment(x, rng):
    """Random flips, shifts and small rotations of a batch of images (N, C, H, W), new for each batch."""
    n, _, h, w = x.shape
    x = x.copy()
    if AUGMENT.get("hflip"):
        flip = rng.random(n) < 0.5
        x[flip] = x[flip][..., ::-1]
    if AUGMENT.get("shift") or AUGMENT.get("rotate"):
        # each output pixel reads its nearest source pixel; pixels from outside the image are zero
        cy, cx = (h - 1) / 2, (w - 1) / 2
        angle = np.deg2rad(rng.uniform(-15, 15, n)) if AUGMENT.get("rotate") else np.zeros(n)
        limit = max(1, h // 8)
        dy = rng.integers(-limit, limit + 1, n) if AUGMENT.get("shift") else np.zeros(n, int)
        dx = rng.integers(-limit, limit + 1, n) if AUGMENT.get("shift") else np.zeros(n, int)
        cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        yy = np.arange(h, dtype=np.float64)[None, :, None] - cy
        xx = np.arange(w, dtype=np.float64)[None, None, :] - cx
        src_y = np.rint(cos * yy - sin * xx + cy - dy[:, None, None]).astype(np.int64)
        src_x = np.rint(sin * yy + cos * xx + cx - dx[:, None, None]).astype(np.int64)
        inside = (src_y >= 0) & (src_y < h) & (src_x >= 0) & (src_x < w)
        src_y, src_x = np.clip(src_y, 0, h - 1), np.clip(src_x, 0, w - 1)
        out = x[np.arange(n)[:, None, None], :, src_y, src_x]  # (N, H, W, C)
        x = (np.moveaxis(out, -1, 1) * inside[:, None]).astype(x.dtype, copy=False)
    return np.ascontiguousarray(x)
'''

_SAFE_TEXT = re.compile(r"[^A-Za-z0-9 _.,:()+\-]")


def safe_identifier(name: str, fallback: str = "layer") -> str:
    """A valid, non-keyword Python identifier made from `name`."""
    s = re.sub(r"\W", "_", str(name), flags=re.ASCII)
    if not s or s[0].isdigit():
        s = f"{fallback}_{s}"
    if keyword.iskeyword(s) or s.startswith("__"):
        s = f"{fallback}_{s.strip('_')}"
    return s[:64]


def _comment_text(text: str, limit: int = 80) -> str:
    """User text reduced to harmless characters, for docstrings and comments."""
    return _SAFE_TEXT.sub("", str(text)).strip()[:limit]


def _str(text: str) -> str:
    """A Python string literal of `text` by Python's own quoting (`repr`), so that every character
    survives, those outside the Basic Multilingual Plane and lone surrogates included; in double
    quotes unless that needs more escapes, as the formatter writes it."""
    text = str(text)
    r = repr(text)
    if r[0] == '"' or text.count('"') > text.count("'"):
        return r
    out, body, i = ['"'], r[1:-1], 0
    while i < len(body):
        pair = body[i : i + 2] if body[i] == "\\" else body[i]
        out.append("'" if pair == "\\'" else '\\"' if pair == '"' else pair)
        i += len(pair)
    return "".join(out) + '"'


def _lit(value) -> str:
    """A Python literal for a JSON-like value; tuples of one repeated integer collapse to that integer."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value) and isinstance(value[0], int):
        return repr(value[0])
    if isinstance(value, str):
        return _str(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    if isinstance(value, (list, tuple)):
        return repr(tuple(value) if isinstance(value, tuple) else list(value))
    raise TypeError(f"cannot write {type(value).__name__} into a script")


def render_ctor(ctor: Ctor, defaults: dict) -> str:
    """`nn.Cls(args, kw=value)` with keyword arguments left out where they equal PyTorch's default."""
    parts = [render_ctor(a, defaults) if isinstance(a, Ctor) else _lit(a) for a in ctor.args]
    for k, v in ctor.kwargs.items():
        if isinstance(v, Ctor):
            parts.append(f"{k}={render_ctor(v, defaults)}")
        elif k in ctor.keep or not (k in defaults and defaults[k] == v):
            parts.append(f"{k}={_lit(v)}")
    return f"nn.{ctor.cls}({', '.join(parts)})"


def _wrap_call(prefix: str, call: str, indent: int) -> list[str]:
    """One assignment line, or the call's arguments one per line when it is too long."""
    line = " " * indent + prefix + call
    if len(line) <= 110:
        return [line]
    head, _, rest = call.partition("(")
    args, depth, cur = [], 0, ""
    for ch in rest[:-1]:
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        depth += ch in "([{"
        depth -= ch in ")]}"
        cur += ch
    if cur.strip():
        args.append(cur.strip())
    pad = " " * (indent + 4)
    return [" " * indent + prefix + head + "(", *[f"{pad}{a}," for a in args], " " * indent + ")"]


# ---------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------


def network_code(design) -> tuple[list[str], list[str]]:
    """The lines of `Net.__init__` and `Net.forward` bodies for a design (which must validate)."""
    inf = design.infer()
    if inf.problems:
        raise BuildError(f"the design has problems: {inf.problems[0].message}")
    nodes = design.nodes
    order = inf.order
    feeds = {(e.dst, e.dst_port): e.src for e in design.edges}
    consumers: dict = {nid: [] for nid in nodes}
    for e in design.edges:
        consumers[e.src].append(e.dst)
    attr = {nid: safe_identifier(nodes[nid].name) for nid in order}
    # a value lives in `x` when its only reader is the very next step; otherwise it keeps its own name
    steps = [nid for nid in order if nodes[nid].type != "Output"]
    var: dict = {}
    for k, nid in enumerate(steps):
        readers = consumers[nid]
        nxt = steps[k + 1] if k + 1 < len(steps) else None
        only_next = len(readers) == 1 and (readers[0] == nxt or nodes[readers[0]].type == "Output")
        var[nid] = "x" if only_next else attr[nid]
    init, fwd = [], []
    for nid in order:
        node = nodes[nid]
        sp = CATALOGUE[node.type]
        if node.type == "Input":
            if var[nid] != "x":
                fwd.append(f"{var[nid]} = x")
            continue
        srcs = [feeds[(nid, p)] for p in range(len(sp.inputs))]
        if node.type == "Output":
            fwd.append(f"return {var[srcs[0]]}")
            continue
        in_shapes = [inf.shapes[s] for s in srcs]
        if sp.ctor is not None:
            init += _wrap_call(
                f"self.{attr[nid]} = ", render_ctor(sp.ctor(node.params, in_shapes), sp.defaults()), 0
            )
        fwd += sp.code(var[nid], attr[nid], [var[s] for s in srcs], node.params)
    if inf.output_id is not None and nodes[inf.output_id].type != "Output":
        fwd.append(f"return {var[inf.output_id]}")
    return init, fwd


# ---------------------------------------------------------------------------------------------------
# Data loading
# ---------------------------------------------------------------------------------------------------


def _output_node(design):
    for n in design.nodes.values():
        if n.type == "Output":
            return n
    return None


def _loss_name(project) -> str:
    loss = (project.training or {}).get("loss", "auto")
    if loss in LOSS_CLASSES:
        return loss
    out = _output_node(project.design)
    if out is not None:
        return out.params["loss"]
    return "cross_entropy" if project.data.get("task", "classification") == "classification" else "mse"


def _missing_code(missing: str) -> list[str]:
    """Lines of `load_data` that drop rows with missing values, or refuse them, before the columns are read.

    As in the app: 'drop' drops rows missing a feature or the target, 'error' names the first column with a
    gap, and every other strategy refuses a missing target.
    """
    if missing == "drop":
        return ["frame = frame.dropna(subset=[*FEATURES, TARGET]).reset_index(drop=True)"]
    columns = "[*FEATURES, TARGET]" if missing == "error" else "[TARGET]"
    return [
        f"for column in {columns}:",
        "    rows = np.flatnonzero(frame[column].isna().to_numpy())",
        "    if len(rows):",
        "        raise ValueError(",
        '            f"column {column!r} has missing values on lines {(rows + 2).tolist()[:10]} of {path}: "',
        '            "fill them in or choose another missing-value strategy"',
        "        )",
    ]


def _fill_code(missing: str) -> list[str]:
    """Lines of `load_data` that fill the missing feature values the way the data setting says."""
    if missing in ("median", "mean"):
        # a column with no number at all gets 0
        return [f"features = features.fillna(features.{missing}()).fillna(0.0)"]
    if missing == "most_frequent":
        return [
            "most_frequent = features.mode()",
            "features = features.fillna(most_frequent.iloc[0] if len(most_frequent) else 0.0).fillna(0.0)",
        ]
    # 'constant' (and 'zero' in older projects) fill with 0; after 'drop' or 'error' nothing is missing
    # but text that is not a number, which also becomes 0
    return ["features = features.fillna(0.0)"]


def _data_code(project) -> tuple[str, list[str]]:
    """The default data location and the body of `load_data(path) -> (x, y)`."""
    data = project.data
    kind = data.get("kind", "sample")
    if kind == "sample":
        name = data.get("sample")
        if name == "iris":
            return str(assets.DATA / "iris.csv"), [
                "frame = pd.read_csv(path)",
                'classes = sorted(frame["species"].unique())',
                'y = frame["species"].map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)',
                'return frame.drop(columns=["species"]).to_numpy(np.float32), y',
            ]
        if name == "digits":
            return str(assets.DATA / "digits_8x8.npz"), [
                "with np.load(path) as d:",
                '    return d["images"][:, None].astype(np.float32) / 16.0, d["labels"].astype(np.int64)',
            ]
        if name in ("sequences", "tokens"):
            fn = make_sequences if name == "sequences" else make_tokens
            return "", [
                "if path:  # saved arrays x and y; without a path the data is generated",
                "    with np.load(path) as d:",
                '        return d["x"], d["y"]',
                f"return {fn.__name__}()",
            ]
        raise BuildError(f"unknown sample data set {name!r}; samples: {', '.join(SAMPLE_INFO)}")
    path = Path(os.path.normpath(project.data_path()))
    if kind == "csv":
        task = data.get("task", "classification")
        lines = ["frame = pd.read_csv(path)", *_missing_code(data.get("missing") or "mean")]
        lines += [
            "target = frame[TARGET]",
            'features = frame[FEATURES].apply(pd.to_numeric, errors="coerce")',
            *_fill_code(data.get("missing") or "mean"),
            "x = features.to_numpy(np.float32)",
        ]
        if task == "classification":
            lines += [
                "classes = sorted(target.astype(str).unique())",
                "y = target.astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)",
            ]
        else:
            lines.append("y = target.to_numpy(np.float32).reshape(-1, 1)")
        lines.append("return x, y")
        return str(path), lines
    if kind == "images":
        return str(path), [
            "root = Path(path)",
            'classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))',
            "xs, ys = [], []",
            "for label, name in enumerate(classes):",
            "    for file in sorted((root / name).iterdir()):",
            "        if file.suffix.lower() not in IMAGE_EXTENSIONS:",
            "            continue",
            "        with Image.open(file) as image:",
            "            image = image.convert(IMAGE_MODE).resize(IMAGE_SIZE[::-1])",
            "            array = np.asarray(image, np.float32) / 255.0",
            "        xs.append(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))",
            "        ys.append(label)",
            "return np.stack(xs), np.asarray(ys, np.int64)",
        ]
    raise BuildError(f"unknown data kind {kind!r}")


# ---------------------------------------------------------------------------------------------------
# The script
# ---------------------------------------------------------------------------------------------------


def _indent(lines, n):
    pad = " " * n
    return [pad + ln if ln else "" for ln in lines]


def _schedule_lines(name: str) -> tuple[list[str], str]:
    """Lines creating `scheduler`, and when it steps: "epoch", "plateau", "step" or "" (no schedule)."""
    s = "torch.optim.lr_scheduler"
    table = {
        "step": ([f"scheduler = {s}.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)"], "epoch"),
        "cosine": ([f"scheduler = {s}.CosineAnnealingLR(optimizer, T_max=max(1, epochs))"], "epoch"),
        "exponential": ([f"scheduler = {s}.ExponentialLR(optimizer, gamma=0.95)"], "epoch"),
        "plateau": ([f"scheduler = {s}.ReduceLROnPlateau(optimizer, patience=2)"], "plateau"),
        "onecycle": (
            [f"scheduler = {s}.OneCycleLR(optimizer, max_lr=LR, total_steps=epochs * len(train_loader))"],
            "step",
        ),
        "linear": (
            [f"scheduler = {s}.LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=epochs)"],
            "epoch",
        ),
    }
    return table.get(name, ([], ""))


def _data_literal(path: str, script_path) -> tuple[str, bool]:
    """The script's default data location, and whether it is relative to the script's own folder.

    Data inside the folder the script is written to stays found when the folder moves as a whole;
    anything else is written as a tidy absolute path.
    """
    if not path:
        return _str(path), False
    path = os.path.normpath(os.path.abspath(path))
    if script_path is not None:
        folder = os.path.dirname(os.path.abspath(script_path))
        rel = (
            os.path.relpath(path, folder)
            if os.path.splitdrive(path)[0] == os.path.splitdrive(folder)[0]
            else ""
        )
        if rel and rel != os.curdir and not rel.startswith(os.pardir):
            return f"str(Path(__file__).resolve().parent / {_str(Path(rel).as_posix())})", True
    return _str(path), False


def _features(project) -> list[str]:
    """The feature columns of a CSV project, resolved by the rule training uses (an empty list in the
    project means every column but the target, read from the file's header row)."""
    from ..core.data.tabular import feature_columns, read_csv

    data = project.data
    path = project.data_path()
    if data.get("features"):
        return [str(f) for f in data["features"]]
    try:
        columns = list(read_csv(path, nrows=0).columns)
    except (OSError, ValueError) as e:
        raise BuildError(f"the feature columns cannot be read from {path.name}: {e}") from None
    return [str(c) for c in feature_columns(columns, data.get("target"), None, str(path))]


def export_python(project, target: str = "studio", ddp: bool = False, script_path=None) -> str:
    """The project as a standalone script for `target` ("studio" or "torch"; `ddp` needs "torch").

    `script_path`, where the script will be written, lets data beside it be found relative to it.
    """
    if target not in TARGETS:
        raise ValueError(f"export target must be 'studio' or 'torch', got {target!r}")
    if ddp and target != "torch":
        raise ValueError('DistributedDataParallel export needs target="torch"')
    design = project.design
    init, fwd = network_code(design)
    inf = design.infer()
    if inf.input_id is None:
        raise BuildError("the design is empty: add an Input, the layers and an Output before exporting")
    data = project.data
    training = {**_training_defaults(), **(project.training or {})}
    es = {"enabled": False, "patience": 5, **(training.get("early_stopping") or {})}
    loss = _loss_name(project)
    task = (
        "classification"
        if loss in ("cross_entropy", "nll")
        else ("binary" if loss == "bce_with_logits" else "regression")
    )
    input_node = design.nodes[inf.input_id]
    data_default, load_body = _data_code(project)
    data_literal, data_relative = _data_literal(data_default, script_path)
    kind = data.get("kind", "sample")
    generated = kind == "sample" and data.get("sample") in ("sequences", "tokens")
    title = _comment_text(project.name) or "Network"
    split = {"train": 0.7, "val": 0.15, "test": 0.15, **(data.get("split") or {})}
    standardize = (
        data.get("preprocessing", "standardize") == "standardize" and input_node.params["dtype"] == "float32"
    )
    optimizer = OPTIMIZER_CLASSES.get(training["optimizer"], "Adam")
    opt_kwargs = f"lr=LR, weight_decay={float(training.get('weight_decay') or 0.0)!r}"
    if training["optimizer"] == "sgd":
        opt_kwargs += f", momentum={float(training.get('momentum', 0.9))!r}"
    sched_lines, sched_when = _schedule_lines(training.get("schedule", "none"))
    switches = (data.get("augmentation") or {}) if kind == "images" else {}
    augment = [k for k in AUGMENTATIONS if switches.get(k)]

    L: list[str] = []
    run_line = "torchrun --nproc_per_node=N {file}" if ddp else "python {file}"
    L += [
        f'"""{title}: a network exported from Studio ({"PyTorch" if target == "torch" else "studio.core"}).',
        "",
        f"Train it:  {run_line.format(file='this_script.py')} --epochs N --data PATH --weights W.safetensors",
        "Importing this file trains nothing: use `Net`, `load_data` and `load_weights` from your own code.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import argparse",
    ]
    if ddp:
        L.append("import os")
    if kind == "images" or data_relative:
        L.append("from pathlib import Path")
    imports = ["import numpy as np"]
    if kind == "csv" or (kind == "sample" and data.get("sample") == "iris"):
        imports.append("import pandas as pd")
    if target == "torch":
        imports.append("import torch")
        if ddp:
            imports.append("import torch.distributed as dist")
    else:
        imports.append("import studio.core as torch")
    if kind == "images":
        imports.append("from PIL import Image")
    imports.append("from safetensors.numpy import load_file, save_file")
    if target == "torch":
        imports += ["from torch import nn"]
        if ddp:
            imports.append("from torch.nn.parallel import DistributedDataParallel")
        imports.append("from torch.utils.data import DataLoader, TensorDataset")
        if ddp:
            imports.append("from torch.utils.data.distributed import DistributedSampler")
    else:
        imports += ["from studio.core import nn", "from studio.core.data import DataLoader, TensorDataset"]
    L += ["", *imports]
    L += [
        "",
        f"DATA = {data_literal}",
        f"EPOCHS = {int(training['epochs'])!r}",
        f"BATCH_SIZE = {int(training['batch_size'])!r}",
        f"LR = {float(training['lr'])!r}",
        f"SEED = {int(training.get('seed') or 0)!r}",
        f"SPLIT_SEED = {int(data.get('seed') or 0)!r}",
        f'SPLIT = {{"train": {float(split["train"])!r}, "val": {float(split["val"])!r}, '
        f'"test": {float(split["test"])!r}}}',
        f"STANDARDIZE = {standardize!r}",
        f"PATIENCE = {int(es['patience']) if es.get('enabled') else 0!r}  # early stopping (0: off)",
        f"DEVICE = {_str(str(training.get('device') or 'cpu'))}",
    ]
    if kind == "csv":
        features = ", ".join(_str(f) for f in _features(project))
        L += [f"TARGET = {_str(str(data.get('target') or ''))}", f"FEATURES = [{features}]"]
    if kind == "images":
        size = tuple(int(v) for v in (data.get("image_size") or (28, 28)))
        L += [
            f"IMAGE_SIZE = {size!r}",
            f"IMAGE_MODE = {_str(str(data.get('image_mode') or 'L'))}",
            'IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")',
        ]
    if augment:
        L.append("AUGMENT = {" + ", ".join(f"{_str(k)}: True" for k in augment) + "}")
    L += ["", ""]
    # the network
    L += [
        "class Net(nn.Module):",
        f'    """{title}: {len(design.nodes)} nodes, {inf.total_params:,} parameters."""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    L += _indent(init, 8) if init else []
    L += ["", "    def forward(self, x):"]
    L += _indent(fwd, 8)
    L += ["", ""]
    # data
    if generated:
        fn = make_sequences if data.get("sample") == "sequences" else make_tokens
        L += textwrap.dedent(inspect.getsource(fn)).rstrip().splitlines() + ["", ""]
    if augment:
        L += AUGMENT_CODE.splitlines() + ["", ""]
    L += ["def load_data(path):", '    """All samples as numpy arrays: features x and targets y."""']
    L += _indent(load_body, 4)
    L += ["", ""]
    target_fix = {
        "classification": "y.astype(np.int64)",
        "binary": "y.astype(np.float32).reshape(-1, 1)",
        "regression": "y.astype(np.float32).reshape(len(y), -1)",
    }[task]
    # the split is Studio's own function, so that the script splits the data as a run in the app does
    L += textwrap.dedent(inspect.getsource(split_indices)).rstrip().splitlines() + ["", ""]
    L += [
        "def split_data(x, y):",
        '    """Shuffled train, validation and test parts; features scaled by the training part."""',
        f"    y = {target_fix}",
        f"    labels = {'None' if task == 'regression' else 'y.ravel()'}  # classes are split one by one",
        "    split = split_indices(len(x), SPLIT, SPLIT_SEED, labels)",
        '    parts = [split["train"], split["val"], split["test"]]',
        "    if STANDARDIZE and x.dtype == np.float32 and x.ndim == 2:",
        "        mean, std = x[parts[0]].mean(0), x[parts[0]].std(0)",
        "        x = (x - mean) / np.where(std == 0, 1.0, std)",
        '    x = x.astype(np.float32) if x.dtype.kind == "f" else x',
        "    tensors = [(torch.from_numpy(x[i].copy()), torch.from_numpy(y[i].copy())) for i in parts]",
        "    return [TensorDataset(*pair) for pair in tensors]",
        "",
        "",
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
    metric = "accuracy" if task in ("classification", "binary") else "mse"
    L += [
        "def evaluate(model, loader, loss_fn, device):",
        f'    """Mean loss and {metric} over a loader."""',
        "    model.eval()",
        "    total, score, count = 0.0, 0.0, 0",
        "    with torch.no_grad():",
        "        for xb, yb in loader:",
        "            xb, yb = xb.to(device), yb.to(device)",
        "            out = model(xb)",
        "            total += float(loss_fn(out, yb).item()) * len(yb)",
    ]
    if task == "classification":
        L.append("            score += float((out.argmax(1) == yb).float().sum().item())")
    elif task == "binary":
        L.append("            score += float(((out > 0).float() == yb).float().sum().item())")
    else:
        L.append("            score += float(((out - yb) ** 2).mean().item()) * len(yb)")
    L += [
        "            count += len(yb)",
        "    model.train()",
        '    return (total / count, score / count) if count else (float("nan"), float("nan"))',
        "",
        "",
    ]
    # training
    L += [
        "def train(epochs, data_path, weights_path):",
        '    """Train a fresh Net on the data, report each epoch, test it, and save the weights."""',
    ]
    if ddp:
        L += [
            '    distributed = "WORLD_SIZE" in os.environ  # set by torchrun',
            "    rank = 0",
            "    if distributed:",
            '        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")',
            '        rank, local_rank = dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0))',
            '        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")',
            '        if device.type == "cuda":',
            "            torch.cuda.set_device(device)",
            "    else:",
            '        use_cuda = DEVICE != "cpu" and torch.cuda.is_available()',
            '        device = torch.device("cuda" if use_cuda else "cpu")',
        ]
    else:
        L += ['    device = "cuda" if DEVICE != "cpu" and torch.cuda.is_available() else "cpu"']
    L += [
        "    torch.manual_seed(SEED)",
        *(["    rng = np.random.default_rng(SEED)"] if augment else []),
        "    train_set, val_set, test_set = split_data(*load_data(data_path))",
    ]
    if ddp:
        L += [
            "    sampler = DistributedSampler(train_set, shuffle=True, seed=SEED) if distributed else None",
            "    train_loader = DataLoader("
            "train_set, batch_size=BATCH_SIZE, shuffle=sampler is None, sampler=sampler)",
        ]
    else:
        L += ["    train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)"]
    L += [
        "    val_loader = DataLoader(val_set, batch_size=BATCH_SIZE)",
        "    test_loader = DataLoader(test_set, batch_size=BATCH_SIZE)",
        "    model = Net().to(device)",
        "    net = model",
    ]
    if ddp:
        L += [
            "    if distributed:",
            '        device_ids = [device.index] if device.type == "cuda" else None',
            "        net = DistributedDataParallel(model, device_ids=device_ids)",
        ]
    L += [
        f"    loss_fn = nn.{LOSS_CLASSES[loss]}()",
        f"    optimizer = torch.optim.{optimizer}(net.parameters(), {opt_kwargs})",
    ]
    L += _indent(sched_lines, 4)
    L += [
        '    best_loss, best_state, waited = float("inf"), None, 0',
        "    for epoch in range(1, epochs + 1):",
    ]
    if ddp:
        L += ["        if sampler is not None:", "            sampler.set_epoch(epoch)"]
    L += [
        "        total, count = 0.0, 0",
        "        for xb, yb in train_loader:",
        *(["            xb = torch.from_numpy(augment(xb.numpy(), rng))"] if augment else []),
        "            xb, yb = xb.to(device), yb.to(device)",
        "            optimizer.zero_grad()",
        "            loss = loss_fn(net(xb), yb)",
        "            loss.backward()",
        "            optimizer.step()",
    ]
    if sched_when == "step":
        L.append("            scheduler.step()")
    L += [
        "            total += float(loss.item()) * len(yb)",
        "            count += len(yb)",
        "        val_loss, val_score = evaluate(model, val_loader, loss_fn, device)",
    ]
    if sched_when == "epoch":
        L.append("        scheduler.step()")
    elif sched_when == "plateau":
        L.append("        scheduler.step(val_loss)")
    report = [
        "print(",
        '    f"epoch {epoch}: train_loss {total / max(count, 1):.4f}  "',
        f'    f"val_loss {{val_loss:.4f}}  val_{metric} {{val_score:.4f}}"',
        ")",
    ]
    L += ["        if rank == 0:", *_indent(report, 12)] if ddp else _indent(report, 8)
    L += [
        "        if PATIENCE and val_loss == val_loss:",
        "            if val_loss < best_loss:",
        "                best_loss, waited = val_loss, 0",
        "                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}",
        "            else:",
        "                waited += 1",
        "                if waited >= PATIENCE:",
        "                    break",
        "    if best_state is not None:",
        "        model.load_state_dict(best_state)",
        "    test_loss, test_score = evaluate(model, test_loader, loss_fn, device)",
    ]
    final = [
        f'print(f"test_loss {{test_loss:.4f}}  test_{metric} {{test_score:.4f}}")',
        "save_weights(model, weights_path)",
        'print(f"weights saved to {weights_path}")',
    ]
    if ddp:
        L += ["    if rank == 0:"] + _indent(final, 8)
        L += ["    if distributed:", "        dist.destroy_process_group()"]
    else:
        L += _indent(final, 4)
    L += ["    return model", "", ""]
    L += [
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
    return "\n".join(L) + "\n"


def _training_defaults() -> dict:
    from .project import DEFAULT_TRAINING

    return dict(DEFAULT_TRAINING)
