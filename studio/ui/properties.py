"""The properties panel: a form generated from the selected layer's declared parameters, plus its name."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.design import catalogue
from studio.design.catalogue import format_shape

from .editor import Editor
from .theme import PROBLEM_COLOR, spec_icon

INT_LIMIT = 2**31 - 1
ERROR_STYLE = f"color: {PROBLEM_COLOR.name()};"


def format_value(param, value) -> str:
    """A parameter value as the text its line edit shows."""
    if value is None:
        return ""
    if param.kind == "ints":
        return ", ".join(str(v) for v in value)
    if param.kind == "float":
        return f"{float(value):.10g}"
    return str(value)


class ParamField(QWidget):
    """One parameter's editor with the reason shown beneath it when a value is refused."""

    def __init__(self, panel: PropertiesPanel, node_id: str, param, value):
        super().__init__()
        self.panel, self.node_id, self.param = panel, node_id, param
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        kind = param.kind
        if kind == "int" and not param.optional:
            widget = QSpinBox()
            widget.setRange(
                int(param.min) if param.min is not None else -INT_LIMIT,
                int(param.max) if param.max is not None else INT_LIMIT,
            )
            widget.setKeyboardTracking(False)  # commit on Enter, focus loss or arrow, not on every keystroke
            widget.setAccelerated(True)
            widget.valueChanged.connect(self._commit)
        elif kind == "bool":
            widget = QCheckBox()
            widget.toggled.connect(self._commit)
        elif kind == "choice":
            widget = QComboBox()
            widget.addItems([str(c) for c in param.choices])
            widget.activated.connect(lambda _i: self._commit(widget.currentText()))
        else:
            widget = QLineEdit()
            if param.optional:
                widget.setPlaceholderText("none")
            elif kind == "ints":
                widget.setPlaceholderText("e.g. 3, 3")
            widget.editingFinished.connect(lambda: self._commit(widget.text()))
        widget.setObjectName(f"param_{param.name}")
        widget.setAccessibleName(param.name)
        widget.setToolTip(f"{param.help}\nExpected: {param.expected()}")
        self.widget = widget
        self.error = QLabel()
        self.error.setObjectName(f"error_{param.name}")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(widget)
        layout.addWidget(self.error)
        self.show_value(value)

    def show_value(self, value) -> None:
        """Display a value from the design without sending it back."""
        widget = self.widget
        widget.blockSignals(True)
        try:
            if isinstance(widget, QSpinBox):
                widget.setValue(int(value))
            elif isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QComboBox):
                widget.setCurrentText(str(value))
            else:
                widget.setText(format_value(self.param, value))
        finally:
            widget.blockSignals(False)
        self.set_error(None)

    def set_error(self, reason: str | None) -> None:
        self.error.setText(reason or "")
        self.error.setVisible(bool(reason))
        if isinstance(self.widget, QLineEdit):
            self.widget.setStyleSheet(f"border: 1px solid {PROBLEM_COLOR.name()};" if reason else "")

    def _commit(self, value) -> None:
        design = self.panel.design
        if design is None or self.node_id not in design.nodes:
            return
        if isinstance(value, str) and self.param.kind != "str":
            value = value.strip()
            if value == "" and self.param.optional:
                value = None
            elif self.param.kind == "ints" and value.lstrip("-").isdigit():
                value = int(value)  # one number fills every dimension, as in PyTorch (kernel_size=3)
        reason = self.panel.editor.set_param(self.node_id, self.param.name, value)
        self.set_error(reason)


class PropertiesPanel(QScrollArea):
    """Edits the selected node: its name and every declared parameter, with ranges and choices enforced."""

    def __init__(self, editor: Editor, parent=None):
        super().__init__(parent)
        self.setObjectName("propertiesPanel")
        self.setAccessibleName("Properties")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.editor = editor
        self.design = None
        self.node_id: str | None = None
        self.fields: dict[str, ParamField] = {}
        self.name_edit: QLineEdit | None = None
        self.name_error: QLabel | None = None
        self.shape_label: QLabel | None = None
        self._summary_stale = False
        editor.designReplaced.connect(self._bind)
        editor.editsFinished.connect(self._flush)
        self._bind(editor.design)

    def _bind(self, design) -> None:
        if self.design is not None:
            self.design.changed.disconnect(self._on_change)
        self.design = design
        design.changed.connect(self._on_change)
        self.set_node(None)

    def detach(self) -> None:
        if self.design is not None:
            self.design.changed.disconnect(self._on_change)
            self.design = None

    def set_selection(self, node_ids: list[str]) -> None:
        if len(node_ids) == 1:
            self.set_node(node_ids[0])
        else:
            self.set_node(None, count=len(node_ids))

    def set_node(self, node_id: str | None, count: int = 0) -> None:
        """Show the form of a node (None: a hint instead)."""
        self.node_id = node_id if node_id in self.design.nodes else None
        self.fields = {}
        self.name_edit = self.name_error = self.shape_label = None
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(8, 8, 8, 8)
        if self.node_id is None:
            hint = QLabel(
                f"{count} nodes selected." if count > 1 else "Select a layer on the canvas to edit it."
            )
            hint.setWordWrap(True)
            hint.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            hint.setEnabled(False)
            outer.addWidget(hint)
            outer.addStretch(1)
            self.setWidget(page)
            return
        node = self.design.nodes[self.node_id]
        spec = catalogue.spec(node.type)
        header = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(spec_icon(spec).pixmap(24, 24))
        title = QLabel(f"<b>{spec.display_name}</b>")
        header.addWidget(icon)
        header.addWidget(title, 1)
        outer.addLayout(header)
        help_label = QLabel(spec.help)
        help_label.setWordWrap(True)
        outer.addWidget(help_label)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.name_edit = QLineEdit(node.name)
        self.name_edit.setObjectName("nodeName")
        self.name_edit.setAccessibleName("Node name")
        self.name_edit.setToolTip("The layer's name: letters, digits and underscores; used in exported code.")
        self.name_edit.editingFinished.connect(self._commit_name)
        self.name_error = QLabel()
        self.name_error.setStyleSheet(ERROR_STYLE)
        self.name_error.setWordWrap(True)
        self.name_error.hide()
        name_box = QWidget()
        name_layout = QVBoxLayout(name_box)
        name_layout.setContentsMargins(0, 0, 0, 0)
        name_layout.setSpacing(2)
        name_layout.addWidget(self.name_edit)
        name_layout.addWidget(self.name_error)
        form.addRow("Name", name_box)
        self.shape_label = QLabel()
        self.shape_label.setObjectName("nodeShape")
        self.shape_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Output", self.shape_label)
        for param in spec.params:
            field = ParamField(self, self.node_id, param, node.params.get(param.name, param.default))
            label = QLabel(param.name)
            label.setToolTip(param.help)
            label.setBuddy(field.widget)
            form.addRow(label, field)
            self.fields[param.name] = field
        outer.addLayout(form)
        outer.addStretch(1)
        self.setWidget(page)
        self._show_summary()

    def _show_summary(self) -> None:
        self._summary_stale = False
        if self.shape_label is None or self.node_id is None:
            return
        inference = self.design.infer()
        shape = format_shape(inference.shapes.get(self.node_id))
        count = inference.param_counts.get(self.node_id, 0)
        self.shape_label.setText(f"{shape}   {count:,} parameters")

    def _commit_name(self) -> None:
        if self.design is None or self.node_id not in self.design.nodes or self.name_edit is None:
            return
        reason = self.editor.rename(self.node_id, self.name_edit.text().strip())
        self.name_error.setText(reason or "")
        self.name_error.setVisible(bool(reason))

    def _on_change(self, change) -> None:
        if change.kind == "moved" or self.node_id is None:
            return
        if change.kind in ("node_removed", "reset") and (
            change.kind == "reset" or change.node_id == self.node_id
        ):
            self.set_node(None)
            return
        if change.node_id == self.node_id:
            node = self.design.nodes[self.node_id]
            if change.kind == "param_changed":
                name = change.data[0] if isinstance(change.data, tuple) else None
                for pname, field in self.fields.items():
                    if name is None or pname == name:
                        field.show_value(node.params.get(pname, field.param.default))
            elif change.kind == "renamed" and self.name_edit is not None:
                self.name_edit.setText(node.name)
                self.name_error.hide()
        if self.editor.batching:
            self._summary_stale = True
        else:
            self._show_summary()

    def _flush(self) -> None:
        if self._summary_stale and self.design is not None:
            self._show_summary()
