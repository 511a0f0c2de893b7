"""The editor: the open design, its undo stack, and every edit a view can ask for, each as one undo step."""

from __future__ import annotations

import atexit
import json

from PySide6.QtCore import QMimeData, QObject, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication

from studio.design import catalogue

from .commands import (
    AddNodeOp,
    ConnectOp,
    DisconnectOp,
    EditCommand,
    MoveOp,
    PasteOp,
    RemoveNodeOp,
    RenameOp,
    SetParamOp,
)
from .layout import NODE_H, NODE_W, STEP

# Clipboard and drag-and-drop formats; custom types so other programs never mistake them for text.
MIME_NODES = "application/x-studio-nodes+json"
MIME_LAYER = "application/x-studio-layer"


class Editor(QObject):
    """Owns the undo stack of one design. Views read `design` and call these methods to change it."""

    designReplaced = Signal(object)
    message = Signal(str)  # a refusal or a note for the status bar
    editsFinished = Signal()  # the last operation of an undo step (or its undo) has run

    def __init__(self, design, parent=None):
        super().__init__(parent)
        self.design = design
        self.undo_stack = QUndoStack(self)
        self._batch_depth = 0

    # -- batches: views defer costly refreshes (shape inference) while an undo step runs
    @property
    def batching(self) -> bool:
        return self._batch_depth > 0

    def begin_batch(self) -> None:
        self._batch_depth += 1

    def end_batch(self) -> None:
        self._batch_depth -= 1
        if self._batch_depth == 0:
            self.editsFinished.emit()

    # -- the design as a whole
    def set_design(self, design) -> None:
        """Edit another design from now on; the history of the old one is forgotten."""
        self.undo_stack.clear()
        self.design = design
        self.undo_stack.setClean()
        self.designReplaced.emit(design)

    def push(self, text: str, ops: list, applied: bool = False, merge_key=None) -> str | None:
        """Run `ops` as one undo step; return the design's reason when it refused (nothing changed then)."""
        command = EditCommand(self.design, text, ops, applied=applied, merge_key=merge_key, editor=self)
        self.undo_stack.push(command)
        if command.error:
            self.message.emit(command.error)
        return command.error

    # -- nodes
    def add_node(self, type_: str, pos, after: str | None = None) -> str | None:
        """Add a layer at `pos`; with `after`, connect it behind that node (spliced into its outputs)."""
        spec = catalogue.spec(type_)
        add = AddNodeOp(type_, pos=(float(pos[0]), float(pos[1])))
        ops: list = [add]
        if after is not None and after in self.design.nodes and spec.inputs:
            src = self.design.nodes[after]
            if catalogue.spec(src.type).outputs:
                outgoing = [e for e in self.design.edges if e.src == after and e.src_port == 0]
                if spec.outputs:  # splice: after -> new -> the old successors
                    for edge in outgoing:
                        ops.append(DisconnectOp(edge))
                ops.append(ConnectOp(after, lambda: add.node_id, 0, 0))
                if spec.outputs:
                    for edge in outgoing:
                        ops.append(ConnectOp(lambda: add.node_id, edge.dst, 0, edge.dst_port))
        if self.push(f"Add {spec.display_name}", ops) is not None:
            return None
        return add.node_id

    def free_position_after(self, node_id: str):
        """A spot to the right of a node that no other node occupies."""
        x, y = self.design.nodes[node_id].pos
        x += STEP[0]
        taken = [n.pos for n in self.design.nodes.values()]
        while any(abs(px - x) < STEP[0] * 0.8 and abs(py - y) < STEP[1] * 0.8 for px, py in taken):
            y += STEP[1]
        return (x, y)

    def delete(self, node_ids=(), edges=(), text: str | None = None) -> None:
        """Remove nodes (with their edges) and edges, as one step."""
        node_ids = [n for n in node_ids if n in self.design.nodes]
        doomed = set(node_ids)
        ops: list = [DisconnectOp(e) for e in edges if e.src not in doomed and e.dst not in doomed]
        ops += [RemoveNodeOp(n) for n in node_ids]
        if not ops:
            return
        if not node_ids:
            what = "Connection" if len(ops) == 1 else f"{len(ops)} Connections"
        elif len(node_ids) == 1:
            what = self.design.nodes[node_ids[0]].name
        else:
            what = f"{len(node_ids)} Nodes"
        self.push(text or f"Delete {what}", ops)

    def set_param(self, node_id: str, name: str, value) -> str | None:
        """Validate and set a parameter; return the reason when the value is refused."""
        node = self.design.nodes[node_id]
        param = next((p for p in catalogue.spec(node.type).params if p.name == name), None)
        if param is None:
            return f"{node.type} has no parameter {name!r}"
        try:
            value = param.validate(value)
        except ValueError as exc:
            return str(exc)
        old = node.params.get(name, param.default)
        if old == value and type(old) is type(value):
            return None
        return self.push(f"Set {node.name}.{name}", [SetParamOp(node_id, name, old, value)])

    def rename(self, node_id: str, name: str) -> str | None:
        """Rename a node; return the reason when the name is refused."""
        old = self.design.nodes[node_id].name
        if name == old:
            return None
        return self.push(f"Rename {old} to {name}", [RenameOp(node_id, old, name)])

    def record_move(self, moves: dict) -> None:
        """A finished drag: {node_id: (old_pos, new_pos)}, already applied live to the design."""
        moves = {k: v for k, v in moves.items() if v[0] != v[1] and k in self.design.nodes}
        if moves:
            n = len(moves)
            self.push(
                "Move " + (self.design.nodes[next(iter(moves))].name if n == 1 else f"{n} Nodes"),
                [MoveOp(moves)],
                applied=True,
            )

    def nudge(self, node_ids, delta) -> None:
        """Move nodes by `delta`; consecutive nudges of the same nodes are one undo step."""
        design = self.design
        moves = {}
        for n in node_ids:
            if n in design.nodes:
                x, y = design.nodes[n].pos
                moves[n] = ((x, y), (x + delta[0], y + delta[1]))
        if moves:
            self.push("Nudge", [MoveOp(moves)], merge_key=("nudge", frozenset(moves)))

    def move_nodes(self, positions: dict, text: str = "Automatic Layout") -> None:
        """Move nodes to new positions as one step (automatic layout)."""
        moves = {
            k: (self.design.nodes[k].pos, tuple(v)) for k, v in positions.items() if k in self.design.nodes
        }
        moves = {k: (old, new) for k, (old, new) in moves.items() if tuple(old) != tuple(new)}
        if moves:
            self.push(text, [MoveOp(moves)])

    # -- edges
    def connect(self, src: str, dst: str, src_port: int = 0, dst_port: int = 0) -> str | None:
        """Connect an output port to an input port, replacing the connection the input had (one undo
        step); return the reason when the design refuses (nothing changes then)."""
        design = self.design
        old = next((e for e in design.edges if e.dst == dst and e.dst_port == dst_port), None)
        if old is not None and (old.src, old.src_port) == (src, src_port):
            return None  # already so connected
        ops = [DisconnectOp(old)] if old is not None else []
        reason = design.can_connect(src, dst, src_port, dst_port) if old is None else None
        if reason is None and old is not None and src not in design.nodes:
            reason = "both ends of a connection must be nodes of the design"
        if reason:
            self.message.emit(f"Cannot connect: {reason}")
            return reason
        text = f"Connect {design.nodes[src].name} to {design.nodes[dst].name}"
        if old is not None:  # the design checks the new connection (a cycle?) once the old one is gone
            text += f" instead of {design.nodes[old.src].name}"
        return self.push(text, [*ops, ConnectOp(src, dst, src_port, dst_port)])

    def insert_on_edge(self, type_: str, edge, pos) -> str | None:
        """Add a layer into a connection: src -> new -> dst, as one undo step. The layer takes the place
        one column after the source when that is free (the nodes after it move right to make room),
        else `pos`. Returns the new node's id, or None when the design refused."""
        spec = catalogue.spec(type_)
        design = self.design
        if edge not in design.edges or not spec.inputs or not spec.outputs:
            return self.add_node(type_, pos)
        after = downstream(design, edge.dst)
        x, y = design.nodes[edge.src].pos
        spot = (x + STEP[0], y)
        if any(_overlaps(spot, n.pos) for n in design.nodes.values() if n.id not in after):
            spot = (float(pos[0]), float(pos[1]))
        ops: list = []
        if any(_overlaps(spot, design.nodes[n].pos) for n in after):
            ops.append(MoveOp({n: (design.nodes[n].pos, _shifted(design.nodes[n].pos)) for n in after}))
        add = AddNodeOp(type_, pos=spot)
        ops += [
            add,
            DisconnectOp(edge),
            ConnectOp(edge.src, lambda: add.node_id, edge.src_port, 0),
            ConnectOp(lambda: add.node_id, edge.dst, 0, edge.dst_port),
        ]
        names = (design.nodes[edge.src].name, design.nodes[edge.dst].name)
        if self.push(f"Insert {spec.display_name} between {names[0]} and {names[1]}", ops) is not None:
            return None
        return add.node_id

    # -- clipboard
    def copy(self, node_ids) -> bool:
        """Put the nodes (and the edges among them) on the clipboard."""
        node_ids = [n for n in node_ids if n in self.design.nodes]
        if not node_ids:
            return False
        mime = QMimeData()
        mime.setData(MIME_NODES, json.dumps(self.design.subgraph_dict(node_ids)).encode("utf-8"))
        QApplication.clipboard().setMimeData(mime)
        _forget_at_exit()
        return True

    def paste(self, data: dict | None = None, offset=(40.0, 40.0)) -> list[str]:
        """Paste copied nodes (from the clipboard when `data` is None); return the new node ids."""
        if data is None:
            data = clipboard_nodes()
            if data is None:
                self.message.emit("Nothing to paste: copy some nodes first")
                return []
        op = PasteOp(data, offset=offset)
        count = len(data.get("nodes", ())) if isinstance(data, dict) else 0
        error = self.push("Paste" if count != 1 else "Paste Node", [op])
        return [] if error else list(op.node_ids)

    def duplicate(self, node_ids) -> list[str]:
        """Copies of the nodes, offset a little, with the edges among them."""
        node_ids = [n for n in node_ids if n in self.design.nodes]
        if not node_ids:
            return []
        op = PasteOp(self.design.subgraph_dict(node_ids), offset=(40.0, 40.0))
        return [] if self.push("Duplicate", [op]) else list(op.node_ids)


def downstream(design, node_id: str) -> set:
    """The node and every node its outputs reach."""
    succ: dict = {}
    for e in design.edges:
        succ.setdefault(e.src, []).append(e.dst)
    seen, stack = {node_id}, [node_id]
    while stack:
        for m in succ.get(stack.pop(), ()):
            if m not in seen:
                seen.add(m)
                stack.append(m)
    return seen


def _overlaps(a, b) -> bool:
    """Whether nodes centred at `a` and `b` would touch (with a little room between them)."""
    return abs(a[0] - b[0]) < NODE_W + 16 and abs(a[1] - b[1]) < NODE_H + 8


def _shifted(pos):
    return (pos[0] + STEP[0], pos[1])


_exit_hook = []


def _forget_at_exit() -> None:
    """Take our nodes off the clipboard before Python shuts down.

    With PySide6, a QMimeData still on the clipboard when the interpreter finalises is destroyed
    twice and the process dies with a segmentation fault on exit; clearing it first avoids that.
    """
    if _exit_hook:
        return

    def forget():
        app = QApplication.instance()
        if app is None:
            return
        mime = app.clipboard().mimeData()
        if mime is not None and mime.hasFormat(MIME_NODES):
            app.clipboard().clear()

    atexit.register(forget)
    _exit_hook.append(forget)


def clipboard_nodes() -> dict | None:
    """The copied subgraph on the clipboard, or None when it holds something else."""
    mime = QApplication.clipboard().mimeData()
    if mime is None or not mime.hasFormat(MIME_NODES):
        return None
    try:
        data = json.loads(bytes(mime.data(MIME_NODES)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
