"""The computation-graph inspector: the autograd graph behind the loss, laid out in layers and explorable.

Operations are boxes with their output shapes, parameters are leaves named by module path, the
input and the loss are marked. Clicking a box shows its tensor's statistics and, after backward,
its gradient's statistics and histogram.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QComboBox,
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

NODE_W, NODE_H = 170.0, 46.0  # the smallest box; a longer label widens its box
GAP_X = 60.0  # between the columns of boxes
SPACING = (NODE_W + GAP_X, 64.0)
READABLE_SCALE = 0.75  # the first view of a graph zooms out no further: the 8 pt labels stay legible
REFRESH_MS = 400  # a change of the design or the data re-inspects after this pause
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


def _fonts(base: QFont) -> tuple[QFont, QFont]:
    """The title (bold) and subtitle fonts of a box."""
    title = QFont(base)
    title.setPointSizeF(8.5)
    title.setBold(True)
    sub = QFont(base)
    sub.setPointSizeF(8)
    return title, sub


class GraphNodeItem(QGraphicsItem):
    """One box: label, kind colour, output shape; as wide as its text needs."""

    PAD = 8.0

    def __init__(self, node, kind_key, module_name=None, font: QFont | None = None):
        super().__init__()
        self.node = node
        self.kind_key = kind_key
        self.title = node.label if not module_name else f"{node.label}  [{module_name}]"
        self.subtitle = _shape_text(node.shape) + (f"  {node.dtype}" if node.dtype else "")
        self.title_font, self.sub_font = _fonts(font or QFont())
        text = max(
            QFontMetricsF(self.title_font).horizontalAdvance(self.title),
            QFontMetricsF(self.sub_font).horizontalAdvance(self.subtitle),
        )
        self.width = max(NODE_W, math.ceil(text + 2 * self.PAD + 2))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setToolTip(f"{self.title}\n{self.subtitle}")
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def boundingRect(self):
        return QRectF(-self.width / 2 - 2, -NODE_H / 2 - 2, self.width + 4, NODE_H + 4)

    def paint(self, painter: QPainter, option, widget=None):
        colour = COLOURS[self.kind_key]
        rect = QRectF(-self.width / 2, -NODE_H / 2, self.width, NODE_H)
        painter.setPen(QPen(colour.darker(140), 3 if self.isSelected() else 1.2))
        fill = QColor(colour)
        fill.setAlpha(40 if not self.isSelected() else 90)
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(rect, 6, 6)
        painter.setPen(option.palette.text().color() if option else QColor("black"))
        painter.setFont(self.title_font)
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(rect.adjusted(self.PAD, 3, -self.PAD, -NODE_H / 2), flags, self.title)
        painter.setFont(self.sub_font)
        painter.drawText(rect.adjusted(self.PAD, NODE_H / 2 - 3, -self.PAD, -3), flags, self.subtitle)


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
        self.weights_box = QComboBox()
        self.weights_box.setObjectName("inspectWeights")
        self.weights_box.setToolTip(
            "Whose weights to inspect: a run's trained weights on its test examples, in evaluation mode, "
            "or fresh weights in one training step"
        )
        self.weights_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.weights_box.activated.connect(lambda _index: self.inspectRequested.emit())
        self._runs: list[dict] = []
        self.set_runs([])
        fit = QPushButton("Fit")
        fit.clicked.connect(lambda: self.view.fit())
        self.search = QLineEdit()
        self.search.setObjectName("graphSearch")
        self.search.setPlaceholderText("Find an operation or parameter...")
        self.search.returnPressed.connect(self.find_next)
        self.summary = QLabel("Press Inspect to draw the computation graph of the loss.")
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.run_button)
        top.addWidget(self.weights_box)
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

    # ------------------------------------------------------------------------------ weights
    def set_runs(self, runs) -> None:
        """Offer the runs that kept weights; the newest is chosen, unless fresh weights were chosen."""
        fresh_chosen = bool(self._runs) and self.weights_box.currentData() is None
        chosen = self.weights_box.currentData()
        self._runs = [r for r in runs if isinstance(r, dict) and r.get("weights")]
        numbers = {id(r): i for i, r in enumerate(runs, 1)}
        self.weights_box.clear()
        self.weights_box.addItem("Fresh weights, one training step", None)
        for run in reversed(self._runs):
            loss = (run.get("final") or {}).get("test_loss")
            text = f"Run {numbers[id(run)]} trained weights" + (f" (test loss {loss:.4g})" if loss else "")
            self.weights_box.addItem(text, str(run.get("id")))
        ids = [str(r.get("id")) for r in self._runs]
        if fresh_chosen or not ids:
            self.weights_box.setCurrentIndex(0)
        else:
            self.weights_box.setCurrentIndex(self.weights_box.findData(chosen if chosen in ids else ids[-1]))

    def chosen_run(self) -> dict | None:
        """The run whose weights are inspected, or None for fresh weights."""
        chosen = self.weights_box.currentData()
        return next((r for r in self._runs if str(r.get("id")) == chosen), None)

    # ------------------------------------------------------------------------------ drawing
    def clear(self) -> None:
        """Forget the graph drawn (another project is shown)."""
        self.inspection = None
        self.scene.clear()
        self.items.clear()
        self.details.setText("Click a node to see its tensor.")
        self.histogram.clear()
        self.summary.setText("Press Inspect to draw the computation graph of the loss.")

    def show_inspection(self, inspection):
        """Lay out and draw the graph of an inspection."""
        self.inspection = inspection
        self.scene.clear()
        self.items.clear()
        walk = inspection.walk
        font = self.font()
        for node in walk.nodes:
            key = "loss" if node.id == inspection.loss_id else node.kind
            self.items[node.id] = GraphNodeItem(node, key, inspection.modules.get(node.id), font)
        # the columns are as far apart as the widest box needs, so that no box's text is cut
        self.column_step = (
            max(item.width for item in self.items.values()) + GAP_X if self.items else SPACING[0]
        )
        positions = layered_layout(
            [n.id for n in walk.nodes],
            [(s, 0, d, 0) for s, d in walk.edges],
            spacing=(self.column_step, SPACING[1]),
            sources_near_consumers=True,
        )
        for node_id, item in self.items.items():
            item.setPos(*positions.get(node_id, (0.0, 0.0)))
            self.scene.addItem(item)
        pen = QPen(QColor(128, 134, 139), 1.2)
        path = QPainterPath()
        for s, d in walk.edges:
            a, b = self.items[s], self.items[d]
            start = QPointF(a.pos().x() + a.width / 2, a.pos().y())
            end = QPointF(b.pos().x() - b.width / 2, b.pos().y())
            mid = (start.x() + end.x()) / 2
            path.moveTo(start)
            path.cubicTo(QPointF(mid, start.y()), QPointF(mid, end.y()), end)
        edges = QGraphicsPathItem(path)  # one item for all edges keeps big graphs light
        edges.setPen(pen)
        edges.setZValue(-1)
        self.scene.addItem(edges)
        n_ops = sum(1 for n in walk.nodes if n.kind == "op")
        n_par = sum(1 for n in walk.nodes if n.kind == "param")
        whose = "fresh weights" if inspection.weights == "fresh" else self.weights_box.currentText()
        batch = f" on {inspection.batch}" if inspection.batch else ""
        note = f"{inspection.note} " if inspection.note else ""
        self.summary.setText(
            f"{note}Loss {inspection.loss:.4g} with {whose}{batch}. {n_ops} operations, {n_par} parameters, "
            f"{len(walk.edges)} edges. Blue: operations, green: parameters, orange: input, red: loss."
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
