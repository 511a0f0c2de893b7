"""Shape inference and validation: each node's output shape and parameter count, and the problems."""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass, field
from typing import NamedTuple

from .catalogue import CATALOGUE, ParamError, ShapeError, format_shape
from .graph import topological_order

__all__ = ["Inference", "Problem", "format_shape", "gc_paused", "infer"]


class Problem(NamedTuple):
    node_id: str | None
    message: str


@dataclass
class Inference:
    """What the shape rules say about a design: shapes (None batch), parameter counts and problems."""

    shapes: dict = field(default_factory=dict)
    param_counts: dict = field(default_factory=dict)
    dtypes: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    order: list = field(default_factory=list)
    input_id: str | None = None
    output_id: str | None = None

    @property
    def total_params(self) -> int:
        return sum(self.param_counts.values())

    @property
    def output_shape(self):
        return self.shapes.get(self.output_id) if self.output_id is not None else None

    @property
    def ok(self) -> bool:
        return not self.problems


@contextlib.contextmanager
def gc_paused():
    """Build many objects without Python's cycle collector: each collection it starts walks every
    object alive, so that building a 100,000-node design spends a third of its time in them."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def infer(design) -> Inference:
    """Infer shapes in topological order; problems are collected, never raised."""
    with gc_paused():
        return _infer(design)


def _infer(design) -> Inference:
    nodes = design.nodes
    res = Inference()
    order, cyclic = topological_order(nodes, design.edges)
    res.order = order
    if cyclic:
        names = ", ".join(sorted(nodes[n].name for n in cyclic))
        for nid in sorted(cyclic):
            res.problems.append(Problem(nid, f"{nodes[nid].name} is part of (or fed by) a cycle: {names}"))
    feeds, used = _feeds(design, res.problems)
    inputs, outputs = [], []
    for nid in order:
        node = nodes[nid]
        if node.type == "Input":
            inputs.append(nid)
        elif node.type == "Output":
            outputs.append(nid)
        _infer_node(res, node, feeds)
    _ends(res, nodes, inputs, outputs, [n for n in order if n not in used and nodes[n].type != "Input"])
    return res


def _feeds(design, problems) -> tuple[dict, set]:
    """(node id, input port) -> the node feeding it, and the nodes that feed any; bad edges are problems."""
    nodes = design.nodes
    feeds: dict = {}
    used: set = set()
    for e in design.edges:
        if e.src not in nodes or e.dst not in nodes:
            problems.append(Problem(None, f"a connection refers to a missing node ({e.src} -> {e.dst})"))
            continue
        key = (e.dst, e.dst_port)
        if key in feeds:
            node = nodes[e.dst]
            port = node.spec.inputs[e.dst_port] if e.dst_port < len(node.spec.inputs) else e.dst_port
            problems.append(
                Problem(e.dst, f"{node.name}: input {port!r} is connected twice; remove one connection")
            )
            continue
        feeds[key] = e.src
        used.add(e.src)
    return feeds, used


def _param_problems(node, sp) -> list[str]:
    out = []
    for param in sp.params:
        try:
            v = node.params[param.name]
            if param.validate(v) != v:
                raise ParamError(f"{param.name}: expected {param.expected()}, got {v!r}")
        except KeyError:
            out.append(f"{node.name}: parameter {param.name} is missing")
        except ParamError as e:
            out.append(f"{node.name}: {e}")
    return out


def _dtype_problem(node, sp, in_dtypes) -> str | None:
    """Why a layer cannot take its inputs' dtype (its declared `input_dtype`), or None."""
    if sp.input_dtype == "int64" and in_dtypes[0] != "int64":
        return (
            f"{node.name}: {sp.display_name} needs integer token ids but receives floats: "
            "set the Input's dtype to int64"
        )
    if sp.input_dtype == "float" and "int64" in in_dtypes:
        return (
            f"{node.name}: {sp.display_name} needs floating-point input but receives integer "
            "token ids: insert an Embedding first"
        )
    return None


def _infer_node(res, node, feeds) -> None:
    """The shape, parameter count and dtype of one node from its inputs', or its problems."""
    nid, sp, problems = node.id, CATALOGUE.get(node.type), res.problems
    res.shapes[nid], res.param_counts[nid], res.dtypes[nid] = None, 0, "float32"
    if sp is None:
        problems.append(Problem(nid, f"{node.name}: unknown layer type {node.type!r}"))
        return
    bad = _param_problems(node, sp)
    problems += [Problem(nid, m) for m in bad]
    ins = [feeds.get((nid, port)) for port in range(len(sp.inputs))]
    missing = [name for name, src in zip(sp.inputs, ins) if src is None]
    if missing:
        what = "its input" if len(sp.inputs) == 1 else "input " + ", ".join(repr(m) for m in missing)
        problems.append(Problem(nid, f"{node.name} ({sp.display_name}) has nothing connected to {what}"))
        return
    in_shapes = [res.shapes[s] for s in ins]
    if bad or any(s is None for s in in_shapes):
        return
    in_dtypes = [res.dtypes[s] for s in ins]
    why = _dtype_problem(node, sp, in_dtypes)
    if why:
        problems.append(Problem(nid, why))
        return
    try:
        shape = sp.shape(node.params, in_shapes)
        res.param_counts[nid] = sp.count(node.params, in_shapes)
    except ShapeError as e:
        problems.append(Problem(nid, f"{node.name}: {e}"))
        return
    except (ArithmeticError, TypeError, ValueError, IndexError, KeyError) as e:
        problems.append(Problem(nid, f"{node.name}: cannot infer its shape ({e})"))
        return
    if node.type == "Input":
        res.dtypes[nid] = node.params["dtype"]
    elif sp.input_dtype == "any":
        res.dtypes[nid] = in_dtypes[0]
    if any(d is not None and d <= 0 for d in shape):
        problems.append(Problem(nid, f"{node.name}: output shape {format_shape(shape)} is empty"))
        return
    res.shapes[nid] = shape


def _ends(res, nodes, inputs, outputs, sinks) -> None:
    """One Input, at most one Output (or a single last layer standing for it)."""
    problems = res.problems
    if not inputs and nodes:
        problems.append(Problem(None, "the design has no Input node: add one from Input/Output"))
    for extra in inputs[1:]:
        problems.append(
            Problem(extra, f"{nodes[extra].name}: a design takes exactly one Input; remove this one")
        )
    for extra in outputs[1:]:
        problems.append(
            Problem(extra, f"{nodes[extra].name}: a design has at most one Output; remove this one")
        )
    res.input_id = inputs[0] if inputs else None
    if outputs:
        res.output_id = outputs[0]
    elif len(sinks) == 1:
        res.output_id = sinks[0]
    elif nodes and len(nodes) > 1:
        problems.append(Problem(None, "the design has no Output node: add one after the last layer"))
