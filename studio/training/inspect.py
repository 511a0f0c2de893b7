"""One forward pass and loss on a batch, with backward, turned into a walkable graph with tensor values.

This is what the app's computation-graph inspector draws: the autograd graph behind the loss, each
layer's output and gradient, and each parameter with its gradient.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Inspection:
    walk: object  # studio.core.autograd.graph_walk.GraphWalk
    values: dict = field(default_factory=dict)  # walk node id -> numpy array (the node's output)
    grads: dict = field(default_factory=dict)  # walk node id -> numpy array (its gradient)
    modules: dict = field(default_factory=dict)  # walk node id -> name of the layer that produced it
    loss: float = 0.0
    loss_id: int | None = None
    input_ids: list = field(default_factory=list)
    weights: str = "fresh"  # "fresh", or the id of the run whose weights were inspected
    batch: str = ""  # which examples went through, and in which mode, in words
    note: str = ""  # why the inspection differs from what was asked (a run's weights that do not fit)


def tensor_stats(arr) -> dict:
    """Mean, std, min, max and the share of zeros of an array (float64 accumulation)."""
    a = np.asarray(arr)
    if a.size == 0:
        return {
            "mean": float("nan"),
            "std": float("nan"),
            "min": float("nan"),
            "max": float("nan"),
            "zeros": 0.0,
        }
    f = a.astype(np.float64, copy=False)
    return {
        "mean": float(f.mean()),
        "std": float(f.std()),
        "min": float(f.min()),
        "max": float(f.max()),
        "zeros": float((a == 0).mean()),
    }


def inspect_model(model, x, y, loss_fn, train: bool = True) -> Inspection:
    """Run `loss_fn(model(x), y)` with autograd and backward, and collect what the inspector shows.

    `train` chooses the model's mode (dropout and batch statistics on, as in a training step, or off,
    as when a trained model is judged)."""
    import studio.core as core
    from studio.core.autograd.graph_walk import graph_walk

    outputs = {}

    def keep(name):
        def hook(module, args, out):
            if isinstance(out, tuple):
                out = out[0]
            if isinstance(out, core.Tensor) and out.requires_grad:
                out.retain_grad()
                outputs[name] = out

        return hook

    if x.is_floating_point() and not x.requires_grad:
        x = x.detach().requires_grad_()  # so that the input appears in the graph as a leaf
    handles = [child.register_forward_hook(keep(name)) for name, child in model.named_children()]
    try:
        model.train(train)
        model.zero_grad()
        with core.enable_grad():
            out = model(x)
            loss = loss_fn(out, y)
            walk = graph_walk(loss, module=model, inputs=x)
            loss.backward(retain_graph=False)
    finally:
        for h in handles:
            h.remove()
    result = Inspection(walk=walk, loss=float(loss.item()), loss_id=walk.output_id)
    for name, t in outputs.items():
        nid = walk.id_of(t.grad_fn)
        if nid is None:
            continue
        result.values[nid] = t.detach().cpu().numpy()
        result.modules[nid] = name
        if t.grad is not None:
            result.grads[nid] = t.grad.cpu().numpy()
    params = dict(model.named_parameters())
    for node in walk.nodes:
        if node.kind == "param" and node.label in params:
            p = params[node.label]
            result.values[node.id] = p.detach().cpu().numpy()
            if p.grad is not None:
                result.grads[node.id] = p.grad.cpu().numpy()
        elif node.kind == "input":
            result.values[node.id] = x.detach().cpu().numpy()
            result.input_ids.append(node.id)
    return result


INSPECTED_AT_MOST = 256  # examples of a split a trained run is inspected on


class InspectError(ValueError):
    """The inspection cannot be made as asked (a run's weights that no longer fit), in plain words."""


def inspect_project(project, batch_size: int = 16, run: dict | None = None) -> Inspection:
    """Build the project's design and inspect it.

    Without `run`: freshly initialised weights, one training step on the first training batch. With a
    run (a summary from `project.runs`): its trained weights in evaluation mode on the split its
    final loss was measured on (the test split, up to INSPECTED_AT_MOST examples), with the loss the
    run trained with, so that the loss shown is the run's test loss. When the run's weights cannot be
    loaded (the design changed since), the fresh step is shown with a note saying why.
    """
    from studio.core import nn
    from studio.design import build

    from .data import prepare_data
    from .fit import _make_loss, loss_name_for

    prepared = prepare_data(project)
    model = build(project.design)
    note = ""
    if run is not None:
        try:
            _load_run(model, project, run)
        except InspectError as e:  # the design changed since: what can be shown is a fresh step
            note, run = f"{str(e)[0].upper()}{str(e)[1:]}: fresh weights are shown.", None
            model = build(project.design)
    if run is None:
        _, loss_fn = _make_loss(nn, loss_name_for(project, prepared.task), prepared.task)
        x, y = next(iter(prepared.loader("train", batch_size)))
        result = inspect_model(model, x, y, loss_fn)
        result.batch, result.note = f"a training batch of {len(y)}, training mode", note
        return result
    trained = copy.copy(project)
    trained.training = dict(run.get("settings") or project.training or {})
    _, loss_fn = _make_loss(nn, loss_name_for(trained, prepared.task), prepared.task)
    split = next((k for k in ("test", "val", "train") if len(prepared.splits[k][0])), "test")
    x, y = next(iter(prepared.loader(split, INSPECTED_AT_MOST)))
    result = inspect_model(model, x, y, loss_fn, train=False)
    result.weights = str(run.get("id"))
    total = len(prepared.splits[split][0])
    some = f"{len(y)} of the {total}" if len(y) < total else f"the {total}"
    result.batch = f"{some} {split} examples, evaluation mode"
    return result


def _load_run(model, project, run) -> None:
    """Put a run's last weights into a model built from the project's design."""
    from studio.design.runs import RunWeightsError, load_run_weights

    try:
        load_run_weights(model, project, run)
    except RunWeightsError as e:
        raise InspectError(str(e)) from None
