"""Export a project to one readable Python script: the network, its data, training, evaluation and saving.

The script is put together from sections, each rendered by a short function: the header and imports
here, the network here, the data in `export_data`, and the run in `export_train` (the run `fit` does,
its functions copied from `studio.design.recipe`). Everything the user typed enters the script as a
validated identifier or a `repr` string literal (`script_text`), so no name, path or column can inject
code.
"""

from __future__ import annotations

from .build import BuildError
from .catalogue import CATALOGUE, Ctor
from .datasource import loss_name_for
from .export_data import data_section
from .export_train import (
    EVALUATE_CODE,
    MAIN_CODE,
    WEIGHTS_CODE,
    recipe_code,
    run_constants,
    split_code,
    train_code,
)
from .script_text import comment_text, indent, literal, safe_identifier, string_literal, wrap_call
from .training_spec import TRAINING_SPEC

TARGETS = ("studio", "torch")
AUGMENTATIONS = ("hflip", "shift", "rotate")

__all__ = ["TARGETS", "export_python", "network_code", "render_ctor", "safe_identifier"]


def render_ctor(ctor: Ctor, defaults: dict) -> str:
    """`nn.Cls(args, kw=value)` with keyword arguments left out where they equal PyTorch's default."""
    parts = [render_ctor(a, defaults) if isinstance(a, Ctor) else literal(a) for a in ctor.args]
    for k, v in ctor.kwargs.items():
        if isinstance(v, Ctor):
            parts.append(f"{k}={render_ctor(v, defaults)}")
        elif k in ctor.keep or not (k in defaults and defaults[k] == v):
            parts.append(f"{k}={literal(v)}")
    return f"nn.{ctor.cls}({', '.join(parts)})"


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
            init += wrap_call(
                f"self.{attr[nid]} = ", render_ctor(sp.ctor(node.params, in_shapes), sp.defaults()), 0
            )
        fwd += sp.code(var[nid], attr[nid], [var[s] for s in srcs], node.params)
    if inf.output_id is not None and nodes[inf.output_id].type != "Output":
        fwd.append(f"return {var[inf.output_id]}")
    return init, fwd


# ---------------------------------------------------------------------------------------------------
# The script
# ---------------------------------------------------------------------------------------------------


def _header(title: str, target: str, ddp: bool) -> list[str]:
    run_line = "torchrun --nproc_per_node=N {file}" if ddp else "python {file}"
    return [
        f'"""{title}: a network exported from Studio ({"PyTorch" if target == "torch" else "studio.core"}).',
        "",
        f"Train it:  {run_line.format(file='this_script.py')} --epochs N --data PATH --weights W.safetensors",
        "Importing this file trains nothing: use `Net`, `load_data` and `load_weights` from your own code.",
        '"""',
        "",
    ]


def _imports(target: str, ddp: bool, data) -> list[str]:
    first = ["from __future__ import annotations", "", "import argparse"]
    first += ["import os"] if ddp or data.uses_os else []
    first += ["from pathlib import Path"] if data.uses_path else []
    third = ["import numpy as np", *[i for i in data.imports if i.startswith("import")]]
    if target == "torch":
        third += ["import torch", *(["import torch.distributed as dist"] if ddp else [])]
    else:
        third.append("import studio.core as torch")
    third += [i for i in data.imports if i.startswith("from")]
    third.append("from safetensors.numpy import load_file, save_file")
    if target == "torch":
        third.append("from torch import nn")
        if ddp:
            third += [
                "from torch.nn.parallel import DistributedDataParallel",
                "from torch.utils.data import DataLoader, TensorDataset",
                "from torch.utils.data.distributed import DistributedSampler",
            ]
    else:
        third.append("from studio.core import nn")
    return [*first, "", *third, ""]


def _net_code(design, title: str) -> list[str]:
    init, fwd = network_code(design)
    inf = design.infer()
    return [
        "class Net(nn.Module):",
        f'    """{title}: {len(design.nodes)} nodes, {inf.total_params:,} parameters."""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
        *indent(init, 8),
        "",
        "    def forward(self, x):",
        *indent(fwd, 8),
        "",
        "",
    ]


def _task_of(loss: str) -> tuple[str, str, str]:
    """The metric's task, how targets are typed for the loss, and the labels a split keeps by class."""
    if loss in ("cross_entropy", "nll"):
        return "classification", "y.astype(np.int64)", "y.ravel()"
    if loss == "bce_with_logits":
        return "classification", "y.astype(np.float32).reshape(-1, 1)", "y.ravel()"
    return "regression", "y.astype(np.float32).reshape(len(y), -1)", "None"


def export_python(project, target: str = "studio", ddp: bool = False, script_path=None) -> str:
    """The project as a standalone script for `target` ("studio" or "torch"; `ddp` needs "torch").

    `script_path`, where the script will be written, lets data beside it be found relative to it.
    """
    if target not in TARGETS:
        raise ValueError(f"export target must be 'studio' or 'torch', got {target!r}")
    if ddp and target != "torch":
        raise ValueError('DistributedDataParallel export needs target="torch"')
    design = project.design
    inf = design.infer()
    if inf.input_id is None and not inf.problems:
        raise BuildError("the design is empty: add an Input, the layers and an Output before exporting")
    title = comment_text(project.name) or "Network"
    net = _net_code(design, title)
    data = data_section(project, script_path)
    settings = TRAINING_SPEC.complete(project.training)
    task, target_fix, labels = _task_of(loss_name_for(project, project.data.get("task", "classification")))
    standardize = (
        project.data.get("preprocessing", "standardize") == "standardize"
        and design.nodes[inf.input_id].params["dtype"] == "float32"
    )
    switches = (project.data.get("augmentation") or {}) if project.data.get("kind") == "images" else {}
    augment = [k for k in AUGMENTATIONS if switches.get(k)]
    constants = [f"DATA = {data.location}", *run_constants(project, settings, task, standardize)]
    constants += data.constants
    constants += (
        ["AUGMENT = {" + ", ".join(f"{string_literal(k)}: True" for k in augment) + "}"] if augment else []
    )
    lines = [*_header(title, target, ddp), *_imports(target, ddp, data), *constants, "", "", *net, *data.code]
    lines += recipe_code(bool(augment)) + split_code(target_fix, labels, data.one_hot)
    lines += WEIGHTS_CODE + EVALUATE_CODE
    lines += train_code(project, settings, task, ddp, bool(augment)) + MAIN_CODE
    return "\n".join(lines) + "\n"
