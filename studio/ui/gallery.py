"""The template gallery: start a new project empty or from a shipped template, each shown with a preview."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from studio.design.project import ProjectError, list_templates, load_template

from .canvas import render_preview

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
PREVIEW = (260, 150)


def _empty_preview() -> QPixmap:
    pixmap = QPixmap(*PREVIEW)
    pixmap.fill(QColor("#f4f5f7"))
    painter = QPainter(pixmap)
    painter.setPen(QColor("#7b8088"))
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "Empty design")
    painter.end()
    return pixmap


class TemplateGallery(QDialog):
    """Pick "Empty" or a template; `chosen` is then "" (empty) or the template's name."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("templateGallery")
        self.setWindowTitle("New Project")
        self.chosen: str | None = None
        self.list = QListWidget()
        self.list.setObjectName("templateList")
        self.list.setAccessibleName("Templates")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(*PREVIEW))
        self.list.setGridSize(QSize(PREVIEW[0] + 24, PREVIEW[1] + 44))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWordWrap(True)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setMinimumHeight(40)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Start from an empty design or from a template:"))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.description)
        layout.addWidget(buttons)
        self._add(
            "", "Empty", "An empty design: drag layers from the palette onto the canvas.", _empty_preview()
        )
        for name, title, description, _path in list_templates():
            try:
                project = load_template(name)
            except ProjectError as exc:
                self._add(
                    name, title, f"This template cannot be read: {exc}", _empty_preview(), enabled=False
                )
                continue
            self._add(name, title, description, render_preview(project.design, PREVIEW))
        self.list.currentItemChanged.connect(self._show_description)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.list.setCurrentRow(1 if self.list.count() > 1 else 0)
        self.resize(3 * (PREVIEW[0] + 24) + 60, 2 * (PREVIEW[1] + 44) + 150)

    def _add(self, name, title, description, pixmap, enabled=True) -> None:
        item = QListWidgetItem(pixmap, title)
        item.setData(NAME_ROLE, name)
        item.setToolTip(description)
        if not enabled:
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
        self.list.addItem(item)

    def _show_description(self, item, _previous=None) -> None:
        self.description.setText(item.toolTip() if item is not None else "")

    def accept(self) -> None:
        item = self.list.currentItem()
        self.chosen = item.data(NAME_ROLE) if item is not None else None
        super().accept()
