"""Structural checks of a design's JSON form, each problem named by its JSON path."""

from __future__ import annotations

import functools

from .catalogue import CATALOGUE, ParamError
from .checks import got, is_int, is_num
from .graph import name_problem


@functools.cache
def _params_of(type_: str) -> dict:
    return {p.name: p for p in CATALOGUE[type_].params}


def design_problems(d, path: str = "design") -> list[str]:
    """Every problem of a design dict, as "path: message" lines; an empty list when it is well formed."""
    if not isinstance(d, dict):
        return [f"{path}: expected an object with nodes and edges, got {got(d)}"]
    problems = [f"{path}.{key}: unknown field" for key in d if key not in ("nodes", "edges")]
    nodes = d.get("nodes", [])
    edges = d.get("edges", [])
    if not isinstance(nodes, list):
        return problems + [f"{path}.nodes: expected a list, got {got(nodes)}"]
    if not isinstance(edges, list):
        return problems + [f"{path}.edges: expected a list, got {got(edges)}"]
    ids: dict = {}  # node id -> layer type
    names: set = set()
    for i, nd in enumerate(nodes):
        problems += _node_problems(nd, f"{path}.nodes[{i}]", ids, names)
    for j, e in enumerate(edges):
        problems += _edge_problems(e, f"{path}.edges[{j}]", ids)
    return problems


def _node_problems(nd, at: str, ids: dict, names: set) -> list[str]:
    """A node's problems; its id and name join `ids` and `names` when they are good."""
    if not isinstance(nd, dict):
        return [f"{at}: expected an object, got {got(nd)}"]
    problems = [
        f"{at}.{key}: unknown field" for key in nd if key not in ("id", "type", "name", "params", "pos")
    ]
    nid = nd.get("id")
    if not isinstance(nid, str) or not nid or len(nid) > 64:
        problems.append(f"{at}.id: expected a non-empty text of at most 64 characters, got {got(nid)}")
    elif nid in ids:
        problems.append(f"{at}.id: {nid!r} is used by an earlier node")
    t = nd.get("type")
    if not isinstance(t, str) or t not in CATALOGUE:
        problems.append(f"{at}.type: unknown layer type {got(t)}")
        t = None
    elif isinstance(nid, str):
        ids[nid] = t
    name = nd.get("name")
    why = name_problem(name)
    if why:
        problems.append(f"{at}.name: {why}")
    elif name in names:
        problems.append(f"{at}.name: {name!r} is used by an earlier node")
    else:
        names.add(name)
    pos = nd.get("pos", [0.0, 0.0])
    if not (isinstance(pos, (list, tuple)) and len(pos) == 2 and is_num(pos[0]) and is_num(pos[1])):
        problems.append(f"{at}.pos: expected two numbers [x, y], got {got(pos)}")
    return problems + _params_problems(nd.get("params", {}), t, at)


def _params_problems(params, t, at: str) -> list[str]:
    if not isinstance(params, dict):
        return [f"{at}.params: expected an object, got {got(params)}"]
    if t is None:
        return []
    problems = []
    known = _params_of(t)
    for key, value in params.items():
        if key not in known:
            problems.append(f"{at}.params.{key}: {t} has no parameter of this name")
            continue
        try:
            known[key].validate(value)
        except ParamError as e:
            problems.append(f"{at}.params.{key}: {str(e).split(': ', 1)[-1]}")
    return problems


def _edge_problems(e, at: str, ids: dict) -> list[str]:
    if not (isinstance(e, (list, tuple)) and len(e) == 4):
        return [f"{at}: expected [source id, output port, target id, input port], got {got(e)}"]
    src, sp, dst, dp = e
    problems = [
        f"{at}: {where} {got(value)} is not a node id of the design"
        for value, where in ((src, "source"), (dst, "target"))
        if not isinstance(value, str) or value not in ids
    ]
    if not (is_int(sp) and is_int(dp)):
        return problems + [f"{at}: ports must be integers, got {got(sp)} and {got(dp)}"]
    if not problems:
        if not 0 <= sp < len(CATALOGUE[ids[src]].outputs):
            problems.append(f"{at}: {ids[src]} has no output port {sp}")
        if not 0 <= dp < len(CATALOGUE[ids[dst]].inputs):
            problems.append(f"{at}: {ids[dst]} has no input port {dp}")
    return problems
