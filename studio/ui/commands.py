"""Undo commands: each edit of the design is a list of small reversible operations in one QUndoCommand."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand


def _resolve(ref):
    """A node id given late, as a callable, when an earlier operation of the same command creates it."""
    return ref() if callable(ref) else ref


class AddNodeOp:
    """Add one node; redo after undo restores the same id and name."""

    def __init__(self, type_, params=None, name=None, pos=(0.0, 0.0)):
        self.type, self.params, self.name, self.pos = type_, params, name, pos
        self.node = None
        self.node_id = None

    def do(self, design):
        if self.node is None:
            self.node_id = design.add_node(self.type, params=self.params, name=self.name, pos=self.pos).id
        else:
            design.restore_node(self.node, [])

    def undo(self, design):
        self.node, _ = design.remove_node(self.node_id)


class RemoveNodeOp:
    """Remove a node with its edges."""

    def __init__(self, node_id):
        self.node_id = node_id
        self.saved = None

    def do(self, design):
        self.saved = design.remove_node(self.node_id)

    def undo(self, design):
        design.restore_node(*self.saved)


class ConnectOp:
    """Join an output port to an input port."""

    def __init__(self, src, dst, src_port=0, dst_port=0):
        self.src, self.dst, self.src_port, self.dst_port = src, dst, src_port, dst_port
        self.edge = None

    def do(self, design):
        self.edge = design.connect(_resolve(self.src), _resolve(self.dst), self.src_port, self.dst_port)

    def undo(self, design):
        design.disconnect(self.edge)


class DisconnectOp:
    """Remove one edge."""

    def __init__(self, edge):
        self.edge = edge

    def do(self, design):
        design.disconnect(self.edge)

    def undo(self, design):
        e = self.edge
        self.edge = design.connect(e.src, e.dst, e.src_port, e.dst_port)


class SetParamOp:
    """Change one parameter of a node."""

    def __init__(self, node_id, name, old, new):
        self.node_id, self.name, self.old, self.new = node_id, name, old, new

    def do(self, design):
        design.set_param(self.node_id, self.name, self.new)

    def undo(self, design):
        design.set_param(self.node_id, self.name, self.old)


class RenameOp:
    """Give a node a new name."""

    def __init__(self, node_id, old, new):
        self.node_id, self.old, self.new = node_id, old, new

    def do(self, design):
        design.rename(self.node_id, self.new)

    def undo(self, design):
        design.rename(self.node_id, self.old)


class MoveOp:
    """Move nodes: {node_id: (old_pos, new_pos)}."""

    def __init__(self, moves: dict):
        self.moves = moves

    def do(self, design):
        for node_id, (_, new) in self.moves.items():
            design.move(node_id, new)

    def undo(self, design):
        for node_id, (old, _) in self.moves.items():
            design.move(node_id, old)


class PasteOp:
    """Paste a copied subgraph; redo after undo restores the same ids and names."""

    def __init__(self, data: dict, offset=(40.0, 40.0)):
        self.data, self.offset = data, offset
        self.node_ids: list[str] = []
        self.removed: list | None = None

    def do(self, design):
        if self.removed is None:
            self.node_ids = [node.id for node in design.paste_dict(self.data, offset=self.offset)]
        else:
            for node, edges in reversed(self.removed):
                design.restore_node(node, edges)

    def undo(self, design):
        self.removed = [design.remove_node(node_id) for node_id in reversed(self.node_ids)]


class EditCommand(QUndoCommand):
    """One user gesture: operations applied in order, undone in reverse.

    When the first application fails (the design refuses an operation), the operations already done
    are rolled back, `error` holds the design's reason and the command marks itself obsolete, so the
    undo stack drops it. `applied=True` means the gesture already changed the design live (a drag).
    """

    def __init__(self, design, text: str, ops: list, applied: bool = False, merge_key=None, editor=None):
        super().__init__(text)
        self.design = design
        self.editor = editor  # told when a run of operations starts and ends, so views redraw once
        self.ops = list(ops)
        self.merge_key = merge_key
        self.error: str | None = None
        self._skip_first = applied
        self._first = True

    def _begin(self):
        if self.editor is not None:
            self.editor.begin_batch()

    def _end(self):
        if self.editor is not None:
            self.editor.end_batch()

    def redo(self):
        if self._skip_first:
            self._skip_first = False
            self._first = False
            return
        self._begin()
        try:
            self._redo()
        finally:
            self._end()

    def _redo(self):
        done = []
        try:
            for op in self.ops:
                op.do(self.design)
                done.append(op)
        except ValueError as exc:  # DesignError, ParamError: the design refused, nothing changed by that op
            if not self._first:
                raise
            for op in reversed(done):
                op.undo(self.design)
            self.error = str(exc)
            self.setObsolete(True)
        self._first = False

    def undo(self):
        self._begin()
        try:
            for op in reversed(self.ops):
                op.undo(self.design)
        finally:
            self._end()

    def id(self) -> int:
        return 0x5D1 if self.merge_key is not None else -1

    def mergeWith(self, other) -> bool:
        if getattr(other, "merge_key", None) != self.merge_key or other.design is not self.design:
            return False
        self.ops.extend(other.ops)
        return True
