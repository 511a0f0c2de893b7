"""One forward pass and loss on a batch, with backward, turned into a walkable graph with tensor values.

This is what the app's computation-graph inspector draws: the autograd graph behind the loss, each
layer's output and gradient, and each parameter with its gradient.
"""

from __future__ import annotations

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


def inspect_model(model, x, y, loss_fn) -> Inspection:
    """Run `loss_fn(model(x), y)` with autograd and backward, and collect what the inspector shows."""
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
        model.train()
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


def inspect_project(project, batch_size: int = 16) -> Inspection:
    """Build the project's design and inspect it on the first training batch of its data."""
    from studio.core import nn
    from studio.design import build

    from .data import prepare_data
    from .fit import _make_loss, loss_name_for

    prepared = prepare_data(project)
    model = build(project.design)
    _, loss_fn = _make_loss(nn, loss_name_for(project, prepared.task), prepared.task)
    x, y = next(iter(prepared.loader("train", batch_size)))
    return inspect_model(model, x, y, loss_fn)
