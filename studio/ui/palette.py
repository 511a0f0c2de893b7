"""The layer palette: every catalogue layer by category, searchable; drag an entry to the canvas."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from studio.design import catalogue

from .editor import MIME_LAYER
from .theme import spec_icon

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1


def layer_mime_data(type_: str) -> QMimeData:
    """What a palette entry carries when dragged: the layer type in Studio's own format."""
    mime = QMimeData()
    mime.setData(MIME_LAYER, type_.encode("utf-8"))
    return mime


class _LayerTree(QTreeWidget):
    """The tree of categories and layers; dragging an entry carries its layer type."""

    def mimeTypes(self):
        return [MIME_LAYER]

    def mimeData(self, items):
        types = [item.data(0, TYPE_ROLE) for item in items if item.data(0, TYPE_ROLE)]
        return layer_mime_data(types[0]) if types else QMimeData()

    def supportedDropActions(self):
        return Qt.DropAction.CopyAction


class LayerPalette(QWidget):
    """Search box over a category tree of layers. Emits `layerActivated(type)` on double-click or Enter."""

    layerActivated = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("layerPalette")
        self.setAccessibleName("Layer palette")
        self.search = QLineEdit(self)
        self.search.setObjectName("layerSearch")
        self.search.setAccessibleName("Search layers")
        self.search.setPlaceholderText("Search layers (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.tree = _LayerTree(self)
        self.tree.setObjectName("layerTree")
        self.tree.setAccessibleName("Layers")
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(12)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._populate()
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._activate_first_visible)
        self.tree.itemActivated.connect(self._on_activated)

    def _populate(self) -> None:
        for category, specs in catalogue.by_category().items():
            if not specs:
                continue
            top = QTreeWidgetItem(self.tree, [category])
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for spec in specs:
                item = QTreeWidgetItem(top, [spec.display_name])
                item.setIcon(0, spec_icon(spec))
                item.setToolTip(0, f"<b>{spec.display_name}</b> ({spec.type})<br>{spec.help}")
                item.setData(0, TYPE_ROLE, spec.type)
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
                )
                self._items[spec.type] = item
            top.setExpanded(True)

    def item_for(self, type_: str) -> QTreeWidgetItem:
        return self._items[type_]

    def filter(self, text: str) -> None:
        """Show only layers whose name, type, category or help mentions every word typed."""
        words = text.lower().split()
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            shown = 0
            for j in range(top.childCount()):
                item = top.child(j)
                spec = catalogue.spec(item.data(0, TYPE_ROLE))
                haystack = f"{spec.display_name} {spec.type} {spec.category} {spec.help}".lower()
                visible = all(w in haystack for w in words)
                item.setHidden(not visible)
                shown += visible
            top.setHidden(shown == 0)
            if words and shown:
                top.setExpanded(True)

    def visible_types(self) -> list[str]:
        return [t for t, item in self._items.items() if not item.isHidden() and not item.parent().isHidden()]

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _activate_first_visible(self) -> None:
        visible = self.visible_types()
        if visible:
            self.layerActivated.emit(visible[0])

    def _on_activated(self, item, column) -> None:
        type_ = item.data(0, TYPE_ROLE)
        if type_:
            self.layerActivated.emit(type_)
