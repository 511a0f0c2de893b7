"""The computation-graph inspector: the autograd graph behind the loss, laid out in layers and explorable.

Operations are boxes with their output shapes, parameters are leaves named by module path, the
input and the loss are marked. Clicking a box shows its tensor's statistics and, after backward,
its gradient's statistics and histogram.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.training.inspect import tensor_stats

from .layout import layered_layout

NODE_W, NODE_H = 170.0, 46.0
SPACING = (220.0, 64.0)
READABLE_SCALE = 0.75  # the first view of a graph zooms out no further: the 8 pt labels stay legible
COLOURS = {
    "op": QColor(66, 133, 244),
    "param": QColor(52, 168, 83),
    "input": QColor(251, 140, 0),
    "leaf": QColor(128, 134, 139),
    "loss": QColor(217, 48, 37),
}


def _shape_text(shape):
    if shape is None:
        return "?"
    return "(" + ", ".join(str(s) for s in shape) + ")"


class GraphNodeItem(QGraphicsItem):
    """One box: label, kind colour, output shape."""

    def __init__(self, node, kind_key, module_name=None):
        super().__init__()
        self.node = node
        self.kind_key = kind_key
        self.title = node.label if not module_name else f"{node.label}  [{module_name}]"
        self.subtitle = _shape_text(node.shape) + (f"  {node.dtype}" if node.dtype else "")
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setToolTip(f"{self.title}\n{self.subtitle}")
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def boundingRect(self):
        return QRectF(-NODE_W / 2 - 2, -NODE_H / 2 - 2, NODE_W + 4, NODE_H + 4)

    def paint(self, painter: QPainter, option, widget=None):
        colour = COLOURS[self.kind_key]
        rect = QRectF(-NODE_W / 2, -NODE_H / 2, NODE_W, NODE_H)
        painter.setPen(QPen(colour.darker(140), 3 if self.isSelected() else 1.2))
        fill = QColor(colour)
        fill.setAlpha(40 if not self.isSelected() else 90)
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(rect, 6, 6)
        painter.setPen(option.palette.text().color() if option else QColor("black"))
        f = QFont(painter.font())
        f.setPointSizeF(8.5)
        f.setBold(True)
        painter.setFont(f)
        painter.drawText(
            rect.adjusted(6, 3, -6, -NODE_H / 2),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            painter.fontMetrics().elidedText(self.title, Qt.TextElideMode.ElideRight, int(NODE_W - 12)),
        )
        f.setBold(False)
        f.setPointSizeF(8)
        painter.setFont(f)
        painter.drawText(
            rect.adjusted(6, NODE_H / 2 - 3, -6, -3),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self.subtitle,
        )


class GraphView(QGraphicsView):
    """Zoom with the wheel around the cursor, pan by dragging."""

    def __init__(self, scene):
        super().__init__(scene)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)

    def wheelEvent(self, event):
        factor = 1.0015 ** event.angleDelta().y()
        self.scale(factor, factor)

    def fit(self, min_scale: float = 0.0):
        """Show the whole graph; with `min_scale`, never zoom out below it (labels stay readable) and
        show the start of the graph instead."""
        rect = self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() < min_scale:
            self.resetTransform()
            self.scale(min_scale, min_scale)
            half_width = self.viewport().width() / (2 * min_scale)
            self.centerOn(QPointF(rect.left() + half_width, rect.center().y()))


class GraphInspector(QWidget):
    """Draws an `Inspection` (studio.training.inspect) and shows the details of the clicked node."""

    inspectRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("graphInspector")
        self.setAccessibleName("Computation graph inspector")
        self.scene = QGraphicsScene(self)
        self.view = GraphView(self.scene)
        self.items: dict[int, GraphNodeItem] = {}
        self.inspection = None
        self._matches: list[int] = []
        self._match_pos = 0

        self.run_button = QPushButton("Inspect")
        self.run_button.setObjectName("inspectButton")
        self.run_button.setToolTip(
            "Run one forward pass and the loss on a batch, then backward, and draw the graph"
        )
        self.run_button.clicked.connect(self.inspectRequested)
        fit = QPushButton("Fit")
        fit.clicked.connect(lambda: self.view.fit())
        self.search = QLineEdit()
        self.search.setObjectName("graphSearch")
        self.search.setPlaceholderText("Find an operation or parameter...")
        self.search.returnPressed.connect(self.find_next)
        self.summary = QLabel("Press Inspect to draw the computation graph of one training step.")
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.run_button)
        top.addWidget(fit)
        top.addWidget(self.search, 1)

        self.details = QLabel("Click a node to see its tensor.")
        self.details.setObjectName("graphNodeDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.histogram = pg.PlotWidget()
        self.histogram.setObjectName("gradientHistogram")
        self.histogram.setBackground(None)
        self.histogram.setTitle("gradient histogram", size="9pt")
        self.histogram.setMinimumHeight(140)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.details, 1)
        sl.addWidget(self.histogram, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.view)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.split = split
        self._sized = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(split, 1)
        self.scene.selectionChanged.connect(self._selection_changed)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if not self._sized and self.split.width() > 100:
            # the graph gets three quarters of the width at first (the splitter would start from the
            # size hints, which favour the details side)
            self._sized = True
            w = self.split.width()
            self.split.setSizes([w * 3 // 4, w - w * 3 // 4])

    # ------------------------------------------------------------------------------ drawing
    def show_inspection(self, inspection):
        """Lay out and draw the graph of an inspection."""
        self.inspection = inspection
        self.scene.clear()
        self.items.clear()
        walk = inspection.walk
        positions = layered_layout(
            [n.id for n in walk.nodes],
            [(s, 0, d, 0) for s, d in walk.edges],
            spacing=SPACING,
            sources_near_consumers=True,
        )
        for node in walk.nodes:
            key = "loss" if node.id == inspection.loss_id else node.kind
            item = GraphNodeItem(node, key, inspection.modules.get(node.id))
            x, y = positions.get(node.id, (0.0, 0.0))
            item.setPos(x, y)
            self.scene.addItem(item)
            self.items[node.id] = item
        pen = QPen(QColor(128, 134, 139), 1.2)
        path = QPainterPath()
        for s, d in walk.edges:
            a, b = self.items[s].pos(), self.items[d].pos()
            start, end = QPointF(a.x() + NODE_W / 2, a.y()), QPointF(b.x() - NODE_W / 2, b.y())
            mid = (start.x() + end.x()) / 2
            path.moveTo(start)
            path.cubicTo(QPointF(mid, start.y()), QPointF(mid, end.y()), end)
        edges = QGraphicsPathItem(path)  # one item for all edges keeps big graphs light
        edges.setPen(pen)
        edges.setZValue(-1)
        self.scene.addItem(edges)
        n_ops = sum(1 for n in walk.nodes if n.kind == "op")
        n_par = sum(1 for n in walk.nodes if n.kind == "param")
        self.summary.setText(
            f"{n_ops} operations, {n_par} parameters, {len(walk.edges)} edges; loss {inspection.loss:.4g}. "
            "Blue: operations, green: parameters, orange: input, red: loss."
        )
        self.view.fit(min_scale=READABLE_SCALE)

    # ------------------------------------------------------------------------------ search
    def find_next(self):
        text = self.search.text().strip().lower()
        if not text or self.inspection is None:
            return
        matches = [i for i, item in self.items.items() if text in item.title.lower()]
        if matches != self._matches:
            self._matches, self._match_pos = matches, 0
        if not matches:
            self.summary.setText(f"Nothing is named like '{self.search.text()}'.")
            return
        self.select(matches[self._match_pos % len(matches)])
        self._match_pos += 1

    def select(self, node_id: int):
        item = self.items[node_id]
        self.scene.clearSelection()
        item.setSelected(True)
        self.view.centerOn(item)

    # ------------------------------------------------------------------------------ details
    def _selection_changed(self):
        sel = [i for i in self.scene.selectedItems() if isinstance(i, GraphNodeItem)]
        if not sel or self.inspection is None:
            return
        self.show_details(sel[0].node.id)

    def show_details(self, node_id: int):
        ins = self.inspection
        node = ins.walk.node(node_id)
        lines = [
            f"<b>{node.label}</b> ({node.kind})",
            f"shape {_shape_text(node.shape)}, {node.dtype or '?'}",
        ]
        if node_id in ins.modules:
            lines.append(f"output of layer <b>{ins.modules[node_id]}</b>")
        value = ins.values.get(node_id)
        if value is not None:
            s = tensor_stats(value)
            lines.append(_stats_html("value", s))
        else:
            lines.append("<i>an intermediate result inside a layer: its values are not kept</i>")
        grad = ins.grads.get(node_id)
        self.histogram.clear()
        if grad is not None:
            lines.append(_stats_html("gradient", tensor_stats(grad)))
            counts, edges = np.histogram(np.asarray(grad, np.float64).ravel(), bins=40)
            self.histogram.plot(edges, counts, stepMode="center", fillLevel=0, brush=(66, 133, 244, 120))
        self.details.setText("<br>".join(lines))


def _stats_html(title, s):
    return (
        f"<b>{title}</b>: mean {s['mean']:.4g}, std {s['std']:.4g}, min {s['min']:.4g}, "
        f"max {s['max']:.4g}, zeros {100 * s['zeros']:.1f}%"
    )
