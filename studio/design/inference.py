"""Shape inference and validation: each node's output shape and parameter count, and the problems."""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass, field
from typing import NamedTuple

from .catalogue import CATALOGUE, ParamError, ShapeError, format_shape

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

    def problems_for(self, node_id) -> list[str]:
        return [p.message for p in self.problems if p.node_id == node_id]


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
    from .document import _topo

    nodes, edges = design.nodes, design.edges
    res = Inference()
    problems = res.problems
    order, cyclic = _topo(nodes, edges)
    res.order = order
    if cyclic:
        names = ", ".join(sorted(nodes[n].name for n in cyclic))
        for nid in sorted(cyclic):
            problems.append(Problem(nid, f"{nodes[nid].name} is part of (or fed by) a cycle: {names}"))
    feeds: dict = {}
    used: set = set()
    for e in edges:
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
    shapes, counts, dtypes = res.shapes, res.param_counts, res.dtypes
    inputs, outputs = [], []
    for nid in order:
        node = nodes[nid]
        sp = CATALOGUE.get(node.type)
        shapes[nid] = None
        counts[nid] = 0
        dtypes[nid] = "float32"
        if sp is None:
            problems.append(Problem(nid, f"{node.name}: unknown layer type {node.type!r}"))
            continue
        if node.type == "Input":
            inputs.append(nid)
        elif node.type == "Output":
            outputs.append(nid)
        p = node.params
        bad = False
        for param in sp.params:
            try:
                v = p[param.name]
                if param.validate(v) != v:
                    raise ParamError(f"{param.name}: expected {param.expected()}, got {v!r}")
            except KeyError:
                problems.append(Problem(nid, f"{node.name}: parameter {param.name} is missing"))
                bad = True
            except ParamError as e:
                problems.append(Problem(nid, f"{node.name}: {e}"))
                bad = True
        ins = []
        missing = []
        for port, port_name in enumerate(sp.inputs):
            src = feeds.get((nid, port))
            if src is None:
                missing.append(port_name)
            else:
                ins.append(src)
        if missing:
            what = "its input" if len(sp.inputs) == 1 else "input " + ", ".join(repr(m) for m in missing)
            problems.append(Problem(nid, f"{node.name} ({sp.display_name}) has nothing connected to {what}"))
            continue
        if bad:
            continue
        in_shapes = [shapes[s] for s in ins]
        if any(s is None for s in in_shapes):
            continue
        in_dtypes = [dtypes[s] for s in ins]
        if node.type == "Embedding":
            if in_dtypes[0] != "int64":
                problems.append(
                    Problem(
                        nid,
                        f"{node.name}: Embedding needs integer token ids but receives floats: "
                        "set the Input's dtype to int64",
                    )
                )
                continue
        elif sp.float_input and "int64" in in_dtypes:
            problems.append(
                Problem(
                    nid,
                    f"{node.name}: {sp.display_name} needs floating-point input but receives integer "
                    "token ids: insert an Embedding first",
                )
            )
            continue
        try:
            shape = sp.shape(p, in_shapes)
            counts[nid] = sp.count(p, in_shapes)
        except ShapeError as e:
            problems.append(Problem(nid, f"{node.name}: {e}"))
            continue
        except (ArithmeticError, TypeError, ValueError, IndexError, KeyError) as e:
            problems.append(Problem(nid, f"{node.name}: cannot infer its shape ({e})"))
            continue
        if node.type == "Input":
            dtypes[nid] = p["dtype"]
        elif not sp.float_input and node.type != "Embedding":
            dtypes[nid] = in_dtypes[0]
        if any(d is not None and d <= 0 for d in shape):
            problems.append(Problem(nid, f"{node.name}: output shape {format_shape(shape)} is empty"))
            continue
        shapes[nid] = shape
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
    else:
        sinks = [n for n in order if n not in used and nodes[n].type != "Input"]
        if len(sinks) == 1:
            res.output_id = sinks[0]
        elif nodes and len(nodes) > 1:
            problems.append(Problem(None, "the design has no Output node: add one after the last layer"))
    return res
