"""The search space of a sweep: which training settings and layer parameters vary, over what values.

A dimension is named like a training setting (`lr`, `sgd.momentum`, checked by the training spec,
which also says how a setting is searched: on a log or a linear scale, or among choices) or like a
layer parameter (`hidden1.out_features`: a node's name, or id, and a parameter of its layer type,
checked by the catalogue). Values are a range `LOW:HIGH[:log|linear]` or a list `a,b,c`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

from .catalogue import ParamError
from .training_spec import TRAINING_SPEC, SettingError

SCALES = ("log", "linear")
GRID_POINTS = 3  # points of a range in a grid search
NUMERIC = ("int", "float")


class SpaceError(ValueError):
    """A dimension that cannot be searched; the message names it and says what was wrong."""


@dataclass(frozen=True)
class Dimension:
    """One varied quantity: a training setting (`node` None) or a node's parameter.

    `values` is the list searched (choice), or None for a range from `low` to `high` on `scale`.
    """

    name: str
    kind: str  # "int", "float" or "choice"
    low: float | None = None
    high: float | None = None
    scale: str = "linear"
    values: tuple | None = None
    node: str | None = None  # the node id of a layer parameter
    param: str | None = None  # the parameter's name, or the dotted setting name

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind}
        if self.values is not None:
            d["values"] = list(self.values)
        else:
            d.update(low=self.low, high=self.high, scale=self.scale)
        return d

    def grid(self) -> list:
        """The values a grid search tries."""
        if self.values is not None:
            return list(self.values)
        lo, hi = self.low, self.high
        if self.scale == "log":
            pts = [
                math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * i / (GRID_POINTS - 1))
                for i in range(GRID_POINTS)
            ]
        else:
            pts = [lo + (hi - lo) * i / (GRID_POINTS - 1) for i in range(GRID_POINTS)]
        if self.kind == "int":
            return sorted({int(round(p)) for p in pts})
        return [float(f"{p:.6g}") for p in pts]

    def text(self) -> str:
        """The dimension as `studio sweep --param` takes it."""
        if self.values is not None:
            return f"{self.name}={','.join(str(v) for v in self.values)}"
        return f"{self.name}={self.low:g}:{self.high:g}:{self.scale}"


def _declaration(project, name: str):
    """(declaration, node id or None, parameter name) for a dimension's name, or SpaceError."""
    full = TRAINING_SPEC.resolve(project.training, name)
    try:
        return TRAINING_SPEC.setting(full), None, full
    except SettingError:
        pass
    head, dot, tail = name.partition(".")
    design = project.design
    node = design.node_by_name(head) or design.nodes.get(head)
    if not dot or node is None:
        nodes = ", ".join(n.name for n in design.nodes.values())
        raise SpaceError(
            f"{name}: not a training setting, nor NODE.PARAM of a node of the design (nodes: {nodes})"
        )
    try:
        return node.spec.param(tail), node.id, tail
    except KeyError:
        names = ", ".join(p.name for p in node.spec.params) or "none"
        raise SpaceError(
            f"{name}: a {node.type} layer has no parameter {tail!r} (its parameters: {names})"
        ) from None


def _check(decl, name: str, value):
    try:
        return decl.validate(value)
    except (ParamError, SettingError) as e:
        reason = str(e).split(": ", 1)[-1] if str(e).startswith(f"{decl.name}:") else str(e)
        raise SpaceError(f"{name}: {reason}") from None


def dimension(project, name: str, values=None, low=None, high=None, scale=None) -> Dimension:
    """A checked dimension: a list of `values`, or a range from `low` to `high` (on `scale`, by
    default the setting's own: log for the learning rate, linear for layer sizes)."""
    name = name.strip()
    decl, node, param = _declaration(project, name)
    kind = decl.kind if decl.kind in NUMERIC else "choice"
    if node is None and not getattr(decl, "sweep", None):
        raise SpaceError(f"{name}: this training setting is not searched by sweeps")
    if decl.kind not in (*NUMERIC, "choice", "bool"):
        raise SpaceError(f"{name}: a {decl.kind} parameter cannot be swept; choose a number or a choice")
    if values is not None:
        checked = tuple(dict.fromkeys(_check(decl, name, v) for v in values))
        if not checked:
            raise SpaceError(f"{name}: no values given")
        return Dimension(name, "choice", values=checked, node=node, param=param)
    if kind == "choice":
        raise SpaceError(
            f"{name}: a choice is swept over a list of values, e.g. {name}="
            + ",".join(str(c) for c in (decl.choices or (True, False))[:2])
        )
    lo, hi = _check(decl, name, low), _check(decl, name, high)
    if not lo < hi:
        raise SpaceError(f"{name}: the range's low end must be below its high end, got {low}:{high}")
    scale = scale or getattr(decl, "sweep", None) or "linear"
    if scale not in SCALES:
        raise SpaceError(f"{name}: the scale must be log or linear, got {scale!r}")
    if scale == "log" and lo <= 0:
        raise SpaceError(f"{name}: a log scale needs a low end above 0, got {low}")
    return Dimension(name, kind, low=lo, high=hi, scale=scale, node=node, param=param)


def parse(project, text: str) -> Dimension:
    """A dimension from `NAME=LOW:HIGH[:log|linear]` or `NAME=a,b,c`."""
    name, eq, spec = text.partition("=")
    if not eq or not name.strip() or not spec.strip():
        raise SpaceError(f"{text!r}: expected NAME=LOW:HIGH[:log|linear] or NAME=a,b,c")
    spec = spec.strip()
    if ":" in spec:
        parts = [p.strip() for p in spec.split(":")]
        if len(parts) not in (2, 3):
            raise SpaceError(f"{name.strip()}: a range is LOW:HIGH or LOW:HIGH:log|linear, got {spec!r}")
        return dimension(
            project, name, low=parts[0], high=parts[1], scale=parts[2] if len(parts) == 3 else None
        )
    return dimension(project, name, values=[v.strip() for v in spec.split(",")])


def check_space(dims) -> list:
    """The dimensions, refused when two vary the same quantity."""
    seen = {}
    for d in dims:
        key = (d.node, d.param)
        if key in seen:
            raise SpaceError(f"{d.name}: varied twice (also as {seen[key]})")
        seen[key] = d.name
    if not dims:
        raise SpaceError("nothing to sweep: give at least one parameter")
    return list(dims)


def applied(project, dims, values: dict):
    """A copy of `project` with the trial's `values` (dimension name -> value) set."""
    from .project import project_from_dict

    out = project_from_dict(copy.deepcopy(project.to_dict()), project.path)
    out.runs = []
    out.sweeps = []
    applied_to(out, dims, values)
    return out


def applied_to(project, dims, values: dict) -> None:
    """Set the trial's `values` in `project` itself (its training settings and its design)."""
    training, params = changes(project, dims, values)
    for node, param, _, new in params:
        project.design.set_param(node, param, new)
    project.training = training


def changes(project, dims, values: dict) -> tuple[dict, list]:
    """What applying `values` changes: (new training settings, [(node id, param, old, new)])."""
    training = TRAINING_SPEC.apply(
        project.training, {d.param: values[d.name] for d in dims if d.node is None}
    )
    params = [
        (d.node, d.param, project.design.nodes[d.node].params.get(d.param), values[d.name])
        for d in dims
        if d.node is not None and d.node in project.design.nodes
    ]
    return training, params


def candidates(project, node_id: str | None = None) -> list[tuple[str, str]]:
    """(name, label) of what a sweep may vary: the searched training settings (options of the chosen
    optimizer and schedule only) and the numeric parameters of the node `node_id`."""
    chosen = {TRAINING_SPEC.get(project.training, f) for f in TRAINING_SPEC.families}
    out = []
    for name, s in TRAINING_SPEC.sweepable():
        head, dot, _ = name.partition(".")
        if dot and head not in TRAINING_SPEC.groups and head not in chosen:
            continue
        out.append((name, s.title or name))
    node = project.design.nodes.get(node_id) if node_id else None
    if node is not None:
        for p in node.spec.params:
            if p.kind in (*NUMERIC, "choice"):
                out.append((f"{node.name}.{p.name}", f"{node.name}: {p.name.replace('_', ' ')}"))
    return out


def starting_text(project, name: str) -> str:
    """A first guess at the values to try for `name` (around its value now), as `parse` reads them."""
    decl, node, param = _declaration(project, name)
    value = (
        TRAINING_SPEC.get(project.training, param)
        if node is None
        else project.design.nodes[node].params.get(param, decl.default)
    )
    if decl.kind == "choice":
        return ",".join(str(c) for c in decl.choices)
    lo_lim = decl.min if decl.min is not None else -math.inf
    hi_lim = decl.max if decl.max is not None else math.inf
    if decl.kind == "int":
        v = int(value or 1)
        picks = sorted({int(min(hi_lim, max(lo_lim, x))) for x in (v // 2, v, v * 2)})
        return ",".join(str(x) for x in picks)
    v = float(value or 0.0)
    if getattr(decl, "sweep", None) == "log" and v > 0:
        return f"{max(lo_lim, v / 10):g}:{min(hi_lim, v * 10):g}:log"
    lo = max(lo_lim, v / 2)
    hi = min(hi_lim, v * 1.5 if v > 0 else lo + (min(hi_lim, 1.0) - lo) / 10)
    return f"{lo:g}:{hi:g}:linear"
