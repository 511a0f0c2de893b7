"""The summary and problems panel: total parameters, output shape, and the design's problems."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QStyle, QVBoxLayout, QWidget

from studio.design.catalogue import format_shape

from .editor import Editor

NODE_ROLE = Qt.ItemDataRole.UserRole + 1


class IssuesPanel(QWidget):
    """Refreshes from the design's change events; clicking a problem emits `nodeRequested(node_id)`."""

    nodeRequested = Signal(str)

    def __init__(self, editor: Editor, parent=None):
        super().__init__(parent)
        self.setObjectName("issuesPanel")
        self.setAccessibleName("Summary and problems")
        self.editor = editor
        self.design = None
        self.summary = QLabel()
        self.summary.setObjectName("designSummary")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("problemList")
        self.list.setAccessibleName("Problems")
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        self.list.itemClicked.connect(self._on_item)
        self.list.itemActivated.connect(self._on_item)
        self._stale = False
        editor.designReplaced.connect(self._bind)
        editor.editsFinished.connect(self._flush)
        self._bind(editor.design)

    def _bind(self, design) -> None:
        if self.design is not None:
            self.design.changed.disconnect(self._on_change)
        self.design = design
        design.changed.connect(self._on_change)
        self.refresh()

    def detach(self) -> None:
        if self.design is not None:
            self.design.changed.disconnect(self._on_change)
            self.design = None

    def _on_change(self, change) -> None:
        if change.kind == "moved":
            return
        if self.editor.batching:
            self._stale = True  # refreshed once when the undo step ends
        else:
            self.refresh()

    def _flush(self) -> None:
        if self._stale and self.design is not None:
            self.refresh()

    def refresh(self) -> None:
        self._stale = False
        inference = self.design.infer()
        count = len(self.design.nodes)
        problems = inference.problems
        state = (
            "no problems" if not problems else f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        )
        self.summary.setText(
            f"<b>{inference.total_params:,}</b> parameters &nbsp;·&nbsp; output "
            f"<b>{format_shape(inference.output_shape)}</b> &nbsp;·&nbsp; "
            f"{count} layer{'s' if count != 1 else ''} &nbsp;·&nbsp; {state}"
        )
        self.list.clear()
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for problem in problems:
            node = self.design.nodes.get(problem.node_id) if problem.node_id else None
            named = node is None or node.name in problem.message
            text = problem.message if named else f"{node.name}: {problem.message}"
            item = QListWidgetItem(icon, text)
            item.setData(NODE_ROLE, problem.node_id)
            item.setToolTip(problem.message + ("\nClick to show the node." if node is not None else ""))
            self.list.addItem(item)
        if not problems:
            item = QListWidgetItem("No problems: every layer has the input it needs.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(item)

    def _on_item(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id and node_id in self.design.nodes:
            self.nodeRequested.emit(node_id)
