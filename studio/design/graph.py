"""The rules a design's graph follows, with no other part of the design: node names, and the order in which
nodes run. The document, shape inference, validation and import all read them from here."""

from __future__ import annotations

import heapq
import keyword
import re

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

# Names that would clash with a Module's own attributes or with the locals of an exported forward()
RESERVED_NAMES = frozenset(
    {
        "self",
        "x",
        "torch",
        "nn",
        "np",
        "F",
        "Net",
        "main",
        "super",
        "forward",
        "training",
        "parameters",
        "buffers",
        "children",
        "modules",
        "state_dict",
        "load_state_dict",
        "train",
        "eval",
        "to",
        "cuda",
        "cpu",
        "apply",
        "zero_grad",
        "register_buffer",
        "register_parameter",
        "add_module",
        "named_parameters",
        "named_buffers",
        "named_children",
        "named_modules",
        "requires_grad_",
        "type",
        "float",
        "double",
        "half",
        "extra_repr",
        "get_submodule",
        "get_parameter",
        "get_buffer",
        "dump_patches",
        "call_super_init",
        "register_module",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_backward_hook",
        "share_memory",
        "bfloat16",
        "ipu",
        "xpu",
        "mtia",
        "compile",
        "set_extra_state",
        "get_extra_state",
        "print",
        "len",
        "range",
        "int",
        "str",
        "list",
        "tuple",
        "dict",
        "None",
        "True",
        "False",
    }
)


def name_problem(name) -> str | None:
    """Why a node name is refused, or None when it is acceptable (uniqueness aside)."""
    if not isinstance(name, str) or not name:
        return "a name must be a non-empty text"
    if len(name) > 64:
        return f"name {name[:20]!r}... is longer than 64 characters"
    if not NAME_RE.match(name):
        return f"name {name!r} may hold only letters, digits and underscores, and must not start with a digit"
    if keyword.iskeyword(name) or name in RESERVED_NAMES or name.startswith("__"):
        return f"name {name!r} is reserved in Python or by the network module: choose another"
    return None


def topological_order(nodes: dict, edges: list) -> tuple[list[str], set]:
    """Kahn's algorithm in insertion order; returns (order, ids left on or behind a cycle)."""
    index = {nid: i for i, nid in enumerate(nodes)}
    indeg = dict.fromkeys(nodes, 0)
    succ: dict = {nid: [] for nid in nodes}
    for e in edges:
        if e.src in index and e.dst in index:
            indeg[e.dst] += 1
            succ[e.src].append(e.dst)
    ready = [index[n] for n, k in indeg.items() if k == 0]
    heapq.heapify(ready)
    ids = list(nodes)
    order = []
    while ready:
        nid = ids[heapq.heappop(ready)]
        order.append(nid)
        for m in succ[nid]:
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(ready, index[m])
    return order, set(nodes) - set(order)
