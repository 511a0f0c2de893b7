"""The design document: layer nodes, edges between their ports, edit operations and change events."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .catalogue import CATALOGUE, ParamError, validate_params
from .graph import name_problem, topological_order


class DesignError(ValueError):
    """An edit the design refuses; the message says why in plain words."""


class Edge(NamedTuple):
    src: str
    src_port: int
    dst: str
    dst_port: int


@dataclass
class Node:
    id: str
    type: str
    params: dict
    name: str
    pos: tuple = (0.0, 0.0)

    @property
    def spec(self):
        return CATALOGUE[self.type]


@dataclass(frozen=True)
class Change:
    kind: str
    node_id: str | None = None
    edge: Edge | None = None
    data: Any = None


class Event:
    """A small callback list: `connect(cb)`, `disconnect(cb)`, `emit(change)`."""

    def __init__(self):
        self._callbacks: list = []

    def connect(self, callback) -> None:
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def disconnect(self, callback) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, change: Change) -> None:
        for cb in list(self._callbacks):
            cb(change)


def _base_name(type_: str) -> str:
    return type_.lower()


@dataclass
class Design:
    """A directed acyclic graph of layers, edited through methods that emit `changed` events."""

    nodes: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)

    def __post_init__(self):
        self.changed = Event()
        self._next_id = 1
        self._inference = None
        self._version = 0
        # where removed nodes and their edges sat, so an undo puts them back in the same order
        self._removed_at: dict = {}

    # --- events and cache -------------------------------------------------------------------------

    def _emit(self, kind, node_id=None, edge=None, data=None, shapes=True):
        self._version += 1
        if shapes:
            self._inference = None
        self.changed.emit(Change(kind, node_id, edge, data))

    # --- queries ----------------------------------------------------------------------------------

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise DesignError(f"there is no node with id {node_id!r}") from None

    def node_by_name(self, name: str) -> Node | None:
        for n in self.nodes.values():
            if n.name == name:
                return n
        return None

    def in_edges(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.dst == node_id]

    def unique_name(self, base: str) -> str:
        taken = {n.name for n in self.nodes.values()}
        k = 1
        while f"{base}_{k}" in taken:
            k += 1
        return f"{base}_{k}"

    def _new_id(self) -> str:
        while f"n{self._next_id}" in self.nodes:
            self._next_id += 1
        nid = f"n{self._next_id}"
        self._next_id += 1
        return nid

    # --- nodes ------------------------------------------------------------------------------------

    def add_node(self, type: str, params=None, name=None, pos=(0.0, 0.0), node_id=None) -> Node:
        if type not in CATALOGUE:
            raise DesignError(f"unknown layer type {type!r}")
        clean, problems = validate_params(type, dict(params or {}))
        if problems:
            raise DesignError(f"{type}: " + "; ".join(problems))
        if name is None:
            name = self.unique_name(_base_name(type))
        else:
            self._check_name(name, None)
        if node_id is None:
            node_id = self._new_id()
        elif node_id in self.nodes:
            raise DesignError(f"node id {node_id!r} is already used")
        node = Node(node_id, type, clean, name, (float(pos[0]), float(pos[1])))
        self.nodes[node_id] = node
        self._emit("node_added", node_id, data=node)
        return node

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        node = self.node(node_id)
        removed = [e for e in self.edges if e.src == node_id or e.dst == node_id]
        edge_index = {e: i for i, e in enumerate(self.edges) if e.src == node_id or e.dst == node_id}
        for e in removed:
            self.edges.remove(e)
            self._emit("edge_removed", edge=e)
        node_index = list(self.nodes).index(node_id)
        del self.nodes[node_id]
        self._removed_at[node_id] = (node, node_index, edge_index)
        self._emit("node_removed", node_id, data=node)
        return node, removed

    def restore_node(self, node: Node, edges=()) -> None:
        """Undo `remove_node`: the node and its edges return to their places in `nodes` and `edges`."""
        if node.id in self.nodes:
            raise DesignError(f"node id {node.id!r} is already used")
        self._check_name(node.name, None)
        saved = self._removed_at.pop(node.id, None)
        if saved is None or saved[0] is not node:
            saved = (node, None, {})  # not from remove_node: it goes at the end
        _, node_index, edge_index = saved
        if node_index is not None and node_index < len(self.nodes):
            # rebuilt in place: views and editors hold this very dict
            items = list(self.nodes.items())
            items.insert(node_index, (node.id, node))
            self.nodes.clear()
            self.nodes.update(items)
        else:
            self.nodes[node.id] = node
        self._emit("node_added", node.id, data=node)
        placed = []
        for e in edges:
            placed.append(self.connect(e.src, e.dst, e.src_port, e.dst_port))
        # connect appends; move each edge back to where it was, lowest position first
        known = sorted((edge_index[e], e) for e in placed if e in edge_index)
        for _, e in known:
            self.edges.remove(e)
        for i, e in known:
            self.edges.insert(min(i, len(self.edges)), e)

    def _check_name(self, name, node_id) -> None:
        why = name_problem(name)
        if why:
            raise DesignError(why)
        other = self.node_by_name(name)
        if other is not None and other.id != node_id:
            raise DesignError(f"name {name!r} is already used by another node")

    def rename(self, node_id: str, name: str) -> None:
        node = self.node(node_id)
        if name == node.name:
            return
        self._check_name(name, node_id)
        old = node.name
        node.name = name
        self._emit("renamed", node_id, data=(old, name), shapes=False)

    def move(self, node_id: str, pos) -> None:
        node = self.node(node_id)
        node.pos = (float(pos[0]), float(pos[1]))
        self._emit("moved", node_id, data=node.pos, shapes=False)

    def set_param(self, node_id: str, name: str, value) -> None:
        node = self.node(node_id)
        try:
            p = node.spec.param(name)
        except KeyError as e:
            raise DesignError(str(e.args[0])) from None
        try:
            v = p.validate(value)
        except ParamError as e:
            raise DesignError(str(e)) from None
        old = node.params.get(name)
        if old == v and type(old) is type(v):
            return
        node.params[name] = v
        self._emit("param_changed", node_id, data=(name, old, v))

    # --- edges ------------------------------------------------------------------------------------

    def _reaches(self, start: str, goal: str) -> bool:
        succ: dict = {}
        for e in self.edges:
            succ.setdefault(e.src, []).append(e.dst)
        stack, seen = [start], {start}
        while stack:
            n = stack.pop()
            if n == goal:
                return True
            for m in succ.get(n, ()):
                if m not in seen:
                    seen.add(m)
                    stack.append(m)
        return False

    def can_connect(self, src: str, dst: str, src_port: int = 0, dst_port: int = 0) -> str | None:
        if src not in self.nodes or dst not in self.nodes:
            return "both ends of a connection must be nodes of the design"
        s, d = self.nodes[src], self.nodes[dst]
        if src == dst:
            return f"{s.name} cannot be connected to itself"
        if not 0 <= src_port < len(s.spec.outputs):
            return f"{s.name} ({s.type}) has no output port {src_port}"
        if not 0 <= dst_port < len(d.spec.inputs):
            return f"{d.name} ({d.type}) has no input port {dst_port}"
        for e in self.edges:
            if e.dst == dst and e.dst_port == dst_port:
                port = d.spec.inputs[dst_port]
                return f"input {port!r} of {d.name} is already connected (from {self.nodes[e.src].name})"
        if self._reaches(dst, src):
            return f"connecting {s.name} to {d.name} would make a cycle"
        return None

    def connect(self, src: str, dst: str, src_port: int = 0, dst_port: int = 0) -> Edge:
        why = self.can_connect(src, dst, src_port, dst_port)
        if why:
            raise DesignError(why)
        e = Edge(src, int(src_port), dst, int(dst_port))
        self.edges.append(e)
        self._emit("edge_added", edge=e)
        return e

    def disconnect(self, edge: Edge) -> None:
        edge = Edge(*edge)
        if edge not in self.edges:
            raise DesignError("there is no such connection")
        self.edges.remove(edge)
        self._emit("edge_removed", edge=edge)

    # --- whole-graph views ------------------------------------------------------------------------

    def topological_order(self) -> list[str]:
        """Node ids, each after all its inputs; ties follow insertion order. Nodes on a cycle are left out."""
        return topological_order(self.nodes, self.edges)[0]

    def infer(self):
        if self._inference is None:
            from .inference import infer

            self._inference = infer(self)
        return self._inference

    def build(self, backend=None):
        from .build import build

        return build(self, backend)

    def clear(self) -> None:
        self.nodes.clear()
        self.edges.clear()
        self._next_id = 1
        self._emit("reset")

    # --- serialisation ----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "nodes": [
                {
                    "id": n.id,
                    "type": n.type,
                    "name": n.name,
                    "params": {k: list(v) if isinstance(v, tuple) else v for k, v in n.params.items()},
                    "pos": [n.pos[0], n.pos[1]],
                }
                for n in self.nodes.values()
            ],
            "edges": [[e.src, e.src_port, e.dst, e.dst_port] for e in self.edges],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Design:
        """A design from `to_dict` output; DesignError names the first problem (the loader reports all)."""
        from .validate import design_problems

        problems = design_problems(d, "design")
        if problems:
            raise DesignError(problems[0])
        return cls.from_checked_dict(d)

    @classmethod
    def from_checked_dict(cls, d: dict) -> Design:
        """A design from a dict that `design_problems` found no fault in."""
        # design_problems has checked ids, names and parameters: the nodes go in directly, in linear
        # time, rather than through add_node, whose checks compare each name with every other
        design = cls()
        for nd in d.get("nodes", []):
            clean, problems = validate_params(nd["type"], dict(nd.get("params") or {}))
            if problems:
                raise DesignError(f"{nd['type']}: " + "; ".join(problems))
            x, y = nd.get("pos", (0, 0))
            design.nodes[nd["id"]] = Node(nd["id"], nd["type"], clean, nd["name"], (float(x), float(y)))
        for e in d.get("edges", []):
            src, sp, dst, dp = e
            design.edges.append(Edge(src, sp, dst, dp))
        design._inference = None
        return design

    def subgraph_dict(self, node_ids) -> dict:
        ids = set(node_ids)
        full = self.to_dict()
        return {
            "nodes": [n for n in full["nodes"] if n["id"] in ids],
            "edges": [e for e in full["edges"] if e[0] in ids and e[2] in ids],
        }

    def paste_dict(self, d: dict, offset=(40.0, 40.0)) -> list[Node]:
        """Add a copied subgraph with new ids and unique names; its internal edges are kept."""
        new_ids: dict = {}
        added: list[Node] = []
        for nd in d.get("nodes", []):
            name = nd.get("name")
            if not name or name_problem(name) or self.node_by_name(name) is not None:
                base = (
                    re.sub(r"_\d+$", "", name) if isinstance(name, str) and not name_problem(name) else None
                )
                name = self.unique_name(base or _base_name(nd["type"]))
            x, y = nd.get("pos", (0.0, 0.0))
            node = self.add_node(nd["type"], nd.get("params"), name, (x + offset[0], y + offset[1]))
            new_ids[nd["id"]] = node.id
            added.append(node)
        for src, sp, dst, dp in d.get("edges", []):
            if (
                src in new_ids
                and dst in new_ids
                and self.can_connect(new_ids[src], new_ids[dst], sp, dp) is None
            ):
                self.connect(new_ids[src], new_ids[dst], sp, dp)
        return added
