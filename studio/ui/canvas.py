"""The design canvas: nodes, ports and edges drawn from the design's events, and the gestures that edit it."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontInfo, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QStyle,
)

from studio.design import catalogue
from studio.design.catalogue import format_shape

from .editor import MIME_LAYER, Editor
from .layout import BAND_GAP, DIRECTIONS, NODE_H, NODE_W, STEP, fit_layout, is_automatic, neighbour
from .theme import PROBLEM_COLOR, CanvasColors, category_color, small_font, spec_icon

PORT_R = 6.0
GRID = 24.0
MIN_ZOOM, MAX_ZOOM = 0.08, 4.0
READABLE_PX = 9.0  # a node's title is never drawn smaller than this on a first view
FIT_MARGIN = 24.0  # scene units shown around the nodes when the view fits them
EDGE_REACH_PX = 10.0  # a layer dropped this close to an edge (on screen) is inserted into it
# how far an edge that runs back to a port left of its start (the next row of a folded layout) reaches
# beyond its ports: less than the margin a fitted view keeps around the nodes
TURN = 12.0


def title_font():
    """The font of a node's name on the canvas."""
    return small_font(0, bold=True)


def readable_zoom() -> float:
    """The zoom at which a node's title is READABLE_PX pixels high on screen."""
    return READABLE_PX / max(1, QFontInfo(title_font()).pixelSize())


def _port_y(index: int, count: int) -> float:
    """Vertical offset of port `index` of `count` on a node's side."""
    return (index - (count - 1) / 2.0) * min(22.0, (NODE_H - 20.0) / max(1, count - 1) if count > 1 else 0.0)


def spread_overlapping(design) -> bool:
    """Stretch a design drawn for smaller nodes (nodes closer than a node's size) so no two overlap.

    The arrangement is kept, only scaled: columns closer than a node's width move apart, rows likewise.
    Returns whether anything moved. Used when a design is opened, before any view draws it.
    """
    pos = [n.pos for n in design.nodes.values()]
    if len(pos) < 2:
        return False
    min_dx = min(
        (
            abs(a[0] - b[0])
            for i, a in enumerate(pos)
            for b in pos[i + 1 :]
            if abs(a[1] - b[1]) < NODE_H and abs(a[0] - b[0]) > 1e-6
        ),
        default=None,
    )
    min_dy = min(
        (
            abs(a[1] - b[1])
            for i, a in enumerate(pos)
            for b in pos[i + 1 :]
            if abs(a[0] - b[0]) < NODE_W and abs(a[1] - b[1]) > 1e-6
        ),
        default=None,
    )
    sx = STEP[0] / min_dx if min_dx is not None and min_dx < NODE_W + 20.0 else 1.0
    sy = STEP[1] / min_dy if min_dy is not None and min_dy < NODE_H + 16.0 else 1.0
    if sx == 1.0 and sy == 1.0:
        return False
    for node in list(design.nodes.values()):
        design.move(node.id, (round(node.pos[0] * sx), round(node.pos[1] * sy)))
    return True


class PortItem(QGraphicsEllipseItem):
    """An input (left) or output (right) port; dragging from it draws a new connection."""

    def __init__(self, node_item: NodeItem, is_output: bool, index: int, name: str):
        super().__init__(-PORT_R, -PORT_R, 2 * PORT_R, 2 * PORT_R, node_item)
        self.node_item, self.is_output, self.index, self.name = node_item, is_output, index, name
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        side = "output" if is_output else "input"
        self.setToolTip(
            f"{side} {name!r}: drag to {'an input' if is_output else 'an output'} port to connect"
        )
        self.setZValue(2)
        self._hover = False

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def scene_center(self) -> QPointF:
        return self.mapToScene(QPointF(0.0, 0.0))

    def boundingRect(self) -> QRectF:
        return self.rect().adjusted(-4, -4, 4, 4)  # room for the enlarged hover dot

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(QPointF(0, 0), PORT_R + 4, PORT_R + 4)  # easier to hit than it looks
        return path

    def set_hover(self, on: bool) -> None:
        if on != self._hover:
            self._hover = on
            self.update()

    def hoverEnterEvent(self, event):
        self.set_hover(True)

    def hoverLeaveEvent(self, event):
        self.set_hover(False)

    def paint(self, painter, option, widget=None):
        colors = self.node_item.canvas.colors
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colors.node, 1.5))
        fill = colors.selection if self._hover else colors.port
        painter.setBrush(fill)
        r = PORT_R + (1.5 if self._hover else 0.0)
        painter.drawEllipse(QPointF(0, 0), r, r)

    def mousePressEvent(self, event):
        if event.button() == Qt.MouseButton.LeftButton:
            self.node_item.canvas.begin_connect(self, event.scenePos())
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event):
        self.node_item.canvas.drag_connect(event.scenePos())

    def mouseReleaseEvent(self, event):
        self.node_item.canvas.end_connect(event.scenePos())


class BadgeItem(QGraphicsEllipseItem):
    """The red mark on a node with problems; its tooltip holds the messages."""

    def __init__(self, parent):
        super().__init__(-9, -9, 18, 18, parent)
        self.setBrush(PROBLEM_COLOR)
        self.setPen(QPen(QColor("white"), 1.5))
        self.setZValue(3)
        self.setAcceptHoverEvents(True)

    def paint(self, painter, option, widget=None):
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        super().paint(painter, option, widget)
        painter.setPen(QColor("white"))
        painter.setFont(small_font(0, bold=True))
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "!")


class NodeItem(QGraphicsItem):
    """One layer: name, type, output shape and parameter count; `pos` is the node's centre."""

    def __init__(self, canvas: CanvasScene, node):
        super().__init__()
        self.canvas = canvas
        self.node_id = node.id
        spec = catalogue.spec(node.type)
        self.spec = spec
        self.name = node.name
        self.shape_text = "?"
        self.params_text = ""
        self.problems: list[str] = []
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsFocusable)
        # A cached pixmap per node keeps dragging smooth with hundreds of nodes on screen.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.setToolTip(f"{spec.display_name}: {spec.help}")
        self.inputs = [PortItem(self, False, i, n) for i, n in enumerate(spec.inputs)]
        self.outputs = [PortItem(self, True, i, n) for i, n in enumerate(spec.outputs)]
        for i, port in enumerate(self.inputs):
            port.setPos(-NODE_W / 2, _port_y(i, len(self.inputs)))
        for i, port in enumerate(self.outputs):
            port.setPos(NODE_W / 2, _port_y(i, len(self.outputs)))
        self.badge = BadgeItem(self)
        self.badge.setPos(NODE_W / 2 - 6, -NODE_H / 2 + 6)
        self.badge.hide()
        self.below = None  # an item drawn under the box (the layer's preview), which fitting takes in
        self.setPos(*node.pos)

    def boundingRect(self) -> QRectF:
        return QRectF(-NODE_W / 2 - 3, -NODE_H / 2 - 3, NODE_W + 6, NODE_H + 6)

    def set_info(self, name: str, shape_text: str, params_text: str, problems: list[str]) -> None:
        if (name, shape_text, params_text, problems) == (
            self.name,
            self.shape_text,
            self.params_text,
            self.problems,
        ):
            return
        self.name, self.shape_text, self.params_text, self.problems = name, shape_text, params_text, problems
        self.badge.setVisible(bool(problems))
        self.badge.setToolTip("\n".join(problems))
        self.setToolTip(
            f"{self.spec.display_name}: {self.spec.help}" + ("\n\n" + "\n".join(problems) if problems else "")
        )
        self.update()

    def paint(self, painter: QPainter, option, widget=None):
        colors = self.canvas.colors
        rect = QRectF(-NODE_W / 2, -NODE_H / 2, NODE_W, NODE_H)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            border = QPen(colors.selection, 2.5)
        elif self.problems:
            border = QPen(PROBLEM_COLOR, 1.8)
        else:
            border = QPen(colors.node_border, 1.0)
        painter.setPen(border)
        painter.setBrush(colors.node)
        painter.drawRoundedRect(rect, 7, 7)
        # category strip on the left
        strip = QPainterPath()
        strip.addRoundedRect(QRectF(rect.left(), rect.top(), 14, rect.height()), 7, 7)
        clip = QPainterPath()
        clip.addRect(QRectF(rect.left(), rect.top(), 7, rect.height()))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(category_color(self.spec.category))
        painter.drawPath(strip.intersected(clip))
        # icon, name, type
        spec_icon(self.spec).paint(painter, QRectF(rect.left() + 14, rect.top() + 7, 18, 18).toRect())
        left = rect.left() + 38
        width = rect.right() - left - 12
        font = title_font()
        painter.setFont(font)
        painter.setPen(colors.text)
        metrics = QFontMetricsF(font)
        painter.drawText(
            QRectF(left, rect.top() + 5, width, 20),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(self.name, Qt.TextElideMode.ElideRight, width),
        )
        dim_font = small_font(-1.0)
        painter.setFont(dim_font)
        painter.setPen(colors.dim_text)
        dim_metrics = QFontMetricsF(dim_font)
        painter.drawText(
            QRectF(left, rect.top() + 25, width, 16),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            dim_metrics.elidedText(self.spec.display_name, Qt.TextElideMode.ElideRight, width),
        )
        # output shape and parameter count on the last line
        bottom = QRectF(rect.left() + 14, rect.bottom() - 24, rect.width() - 26, 18)
        painter.setPen(PROBLEM_COLOR if self.problems and self.shape_text == "?" else colors.text)
        painter.drawText(bottom, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.shape_text)
        painter.setPen(colors.dim_text)
        painter.drawText(
            bottom, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self.params_text
        )

    # -- dragging: the design moves live; the whole drag becomes one undo step on release
    def mousePressEvent(self, event):
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.canvas.begin_drag(event.scenePos())

    def mouseMoveEvent(self, event):
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.canvas.drag_to(event.scenePos())

    def mouseReleaseEvent(self, event):
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self.canvas.end_drag()

    def mouseDoubleClickEvent(self, event):
        self.canvas.nodeActivated.emit(self.node_id)


class EdgeItem(QGraphicsPathItem):
    """A connection: a curve from an output port to an input port, labelled with its tensor's shape."""

    def __init__(self, canvas: CanvasScene, edge, src_port: PortItem, dst_port: PortItem):
        super().__init__()
        self.canvas, self.edge = canvas, edge
        self.src_port, self.dst_port = src_port, dst_port
        self.label = ""
        self._label_rect = QRectF()
        self.targeted = False  # a layer dragged over it would be inserted here
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)
        self.update_path()

    def update_path(self) -> None:
        p0, p1 = self.src_port.scene_center(), self.dst_port.scene_center()
        self.prepareGeometryChange()
        self.setPath(bezier(p0, p1))
        if self.label:
            self._place_label()

    def set_targeted(self, on: bool) -> None:
        if on != self.targeted:
            self.targeted = on
            self.update()

    def set_label(self, text: str) -> None:
        if text != self.label:
            self.prepareGeometryChange()
            self.label = text
            self._place_label()
            self.update()

    def _place_label(self) -> None:
        mid = self.path().pointAtPercent(0.5)
        metrics = QFontMetricsF(small_font(-1.5))
        w = metrics.horizontalAdvance(self.label) + 10
        h = metrics.height() + 4
        self._label_rect = QRectF(mid.x() - w / 2, mid.y() - h - 3, w, h)  # above the line, clear of ports

    def boundingRect(self) -> QRectF:
        rect = super().boundingRect().adjusted(-3, -3, 3, 3)
        return rect.united(self._label_rect) if self.label else rect

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        shape = stroker.createStroke(self.path())
        if self.label:
            shape.addRect(self._label_rect)
        return shape

    def paint(self, painter: QPainter, option, widget=None):
        colors = self.canvas.colors
        selected = self.isSelected() or self.targeted
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = 4.0 if self.targeted else 2.6 if selected else 1.8
        painter.setPen(QPen(colors.selection if selected else colors.edge, width))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        if self.label and self.canvas.show_edge_labels(painter):
            painter.setPen(QPen(colors.selection if selected else colors.edge, 1.0))
            painter.setBrush(colors.label_background)
            painter.drawRoundedRect(self._label_rect, 4, 4)
            painter.setFont(small_font(-1.5))
            painter.setPen(colors.text)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


def bezier(p0: QPointF, p1: QPointF) -> QPainterPath:
    """A curve from an output port to an input port: left to right, or, to a port left of the output
    (the next band of a folded layout), out to the right, back between the rows and in from the left."""
    if p1.x() >= p0.x() + 2 * TURN:
        dx = max(40.0, abs(p1.x() - p0.x()) * 0.5)
        path = QPainterPath(p0)
        path.cubicTo(QPointF(p0.x() + dx, p0.y()), QPointF(p1.x() - dx, p1.y()), p1)
        return path
    if p1.y() - p0.y() >= NODE_H + BAND_GAP:  # to a lower row: back along the gap above that row
        middle = p1.y() - (NODE_H + BAND_GAP) / 2
    elif p0.y() - p1.y() >= NODE_H + BAND_GAP:  # to a higher row: along the gap below it
        middle = p1.y() + (NODE_H + BAND_GAP) / 2
    else:  # the ports are about level: pass below both nodes
        middle = max(p0.y(), p1.y()) + NODE_H / 2 + TURN
    out, back = p0.x() + 2 * TURN, p1.x() - 2 * TURN
    path = QPainterPath(p0)
    path.cubicTo(QPointF(out, p0.y()), QPointF(out, middle), QPointF(p0.x(), middle))
    path.lineTo(QPointF(p1.x(), middle))
    path.cubicTo(QPointF(back, middle), QPointF(back, p1.y()), p1)
    return path


class CanvasScene(QGraphicsScene):
    """Draws one design and turns mouse gestures into editor calls. Redraws only from the design's events."""

    message = Signal(str)
    nodeActivated = Signal(str)  # double-click on a node

    def __init__(self, editor: Editor, parent=None):
        super().__init__(parent)
        self.editor = editor
        self.colors = CanvasColors()
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict = {}
        self._edges_of: dict[str, set] = {}
        self._drag_start: dict | None = None
        self._drag_origin: QPointF | None = None
        self._connect_from: PortItem | None = None
        self._connect_line: QGraphicsPathItem | None = None
        self._hover_port: PortItem | None = None
        self.design = None
        self._info_stale = False
        self.setSceneRect(-50_000, -50_000, 100_000, 100_000)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setBackgroundBrush(self.colors.background)
        editor.designReplaced.connect(self.set_design)
        editor.editsFinished.connect(self._flush)
        self.set_design(editor.design)

    # -- following the design
    def set_design(self, design) -> None:
        if self.design is not None:
            self.design.changed.disconnect(self._on_change)
        self.design = design
        design.changed.connect(self._on_change)
        self._rebuild()

    def detach(self) -> None:
        """Stop listening to the design (the scene is about to be deleted)."""
        if self.design is not None:
            self.design.changed.disconnect(self._on_change)
            self.design = None

    def _rebuild(self) -> None:
        self._cancel_connect()
        self.clearSelection()
        for item in list(self.edges.values()) + list(self.nodes.values()):
            self.removeItem(item)
        self.nodes.clear()
        self.edges.clear()
        self._edges_of.clear()
        for node in self.design.nodes.values():
            self._add_node_item(node)
        for edge in self.design.edges:
            self._add_edge_item(edge)
        self.refresh_info()

    def _on_change(self, change) -> None:
        kind = change.kind
        if kind == "moved":
            item = self.nodes.get(change.node_id)
            if item is not None:
                item.setPos(*self.design.nodes[change.node_id].pos)
                for edge_item in self._edges_of.get(change.node_id, ()):
                    edge_item.update_path()
            return
        if kind == "node_added":
            self._add_node_item(self.design.nodes[change.node_id])
        elif kind == "node_removed":
            item = self.nodes.pop(change.node_id, None)
            for edge_item in list(self._edges_of.pop(change.node_id, ())):
                self._remove_edge_item(edge_item.edge)
            if item is not None:
                self.removeItem(item)
        elif kind == "edge_added":
            self._add_edge_item(change.edge)
        elif kind == "edge_removed":
            self._remove_edge_item(change.edge)
        elif kind == "reset":
            self._rebuild()
            return
        if self.editor.batching:
            self._info_stale = True  # refreshed once when the undo step ends
        else:
            self.refresh_info()

    def _flush(self) -> None:
        if self._info_stale and self.design is not None:
            self.refresh_info()

    def _add_node_item(self, node) -> None:
        item = NodeItem(self, node)
        self.addItem(item)
        self.nodes[node.id] = item

    def _add_edge_item(self, edge) -> None:
        src, dst = self.nodes.get(edge.src), self.nodes.get(edge.dst)
        if (
            src is None
            or dst is None
            or edge.src_port >= len(src.outputs)
            or edge.dst_port >= len(dst.inputs)
        ):
            return
        item = EdgeItem(self, edge, src.outputs[edge.src_port], dst.inputs[edge.dst_port])
        self.addItem(item)
        self.edges[edge] = item
        self._edges_of.setdefault(edge.src, set()).add(item)
        self._edges_of.setdefault(edge.dst, set()).add(item)

    def _remove_edge_item(self, edge) -> None:
        item = self.edges.pop(edge, None)
        if item is None:
            return
        for end in (edge.src, edge.dst):
            self._edges_of.get(end, set()).discard(item)
        self.removeItem(item)

    def refresh_info(self) -> None:
        """Shapes, parameter counts and problems from the design's (cached) inference."""
        self._info_stale = False
        inference = self.design.infer()
        problems: dict = {}
        for problem in inference.problems:
            if problem.node_id is not None:
                problems.setdefault(problem.node_id, []).append(problem.message)
        for node_id, item in self.nodes.items():
            node = self.design.nodes[node_id]
            shape = inference.shapes.get(node_id)
            count = inference.param_counts.get(node_id, 0)
            params_text = f"{count:,} params" if count else ""
            shape_text = format_shape(shape) if shape is not None or item.spec.outputs else ""
            item.set_info(node.name, shape_text, params_text, problems.get(node_id, []))
        for edge, item in self.edges.items():
            item.set_label(format_shape(inference.shapes.get(edge.src)))

    def apply_palette(self) -> None:
        self.colors = CanvasColors()
        self.setBackgroundBrush(self.colors.background)
        for item in self.nodes.values():
            item.update()
        self.update()

    def show_edge_labels(self, painter: QPainter) -> bool:
        # labels are unreadable when zoomed far out; skipping them also keeps big designs fast
        return painter.worldTransform().m11() >= 0.45

    # -- background grid
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, self.colors.background)
        scale = painter.worldTransform().m11()
        if scale < 0.3:
            return
        step = GRID if scale >= 0.6 else GRID * 4
        pen = QPen(self.colors.grid, 0)
        painter.setPen(pen)
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        lines = []
        x = left
        while x < rect.right():
            lines.append(QLineF(x, rect.top(), x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            lines.append(QLineF(rect.left(), y, rect.right(), y))
            y += step
        painter.drawLines(lines)

    def edge_at(self, scene_pos: QPointF, reach: float):
        """The edge passing within `reach` of a point where no node is, or None."""
        box = QRectF(scene_pos.x() - reach, scene_pos.y() - reach, 2 * reach, 2 * reach)
        items = self.items(box)
        if any(isinstance(i, NodeItem) and i.sceneBoundingRect().contains(scene_pos) for i in items):
            return None
        stroker = QPainterPathStroker()
        stroker.setWidth(2 * reach)
        for item in items:
            if isinstance(item, EdgeItem) and stroker.createStroke(item.path()).contains(scene_pos):
                return item
        return None

    # -- selection helpers
    def selected_node_ids(self) -> list[str]:
        return [item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)]

    def selected_edges(self) -> list:
        return [item.edge for item in self.selectedItems() if isinstance(item, EdgeItem)]

    def select_nodes(self, node_ids) -> None:
        """Select exactly these nodes, announcing the new selection once."""
        self.blockSignals(True)
        try:
            self.clearSelection()
            for node_id in node_ids:
                item = self.nodes.get(node_id)
                if item is not None:
                    item.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    # -- moving nodes
    def begin_drag(self, scene_pos: QPointF) -> None:
        ids = self.selected_node_ids()
        self._drag_start = {n: self.design.nodes[n].pos for n in ids if n in self.design.nodes}
        self._drag_origin = QPointF(scene_pos)

    def drag_to(self, scene_pos: QPointF) -> None:
        if not self._drag_start:
            return
        dx = scene_pos.x() - self._drag_origin.x()
        dy = scene_pos.y() - self._drag_origin.y()
        for node_id, (x, y) in self._drag_start.items():
            self.design.move(node_id, (x + dx, y + dy))

    def end_drag(self) -> None:
        start, self._drag_start = self._drag_start, None
        if start:
            self.editor.record_move(
                {n: (p, self.design.nodes[n].pos) for n, p in start.items() if n in self.design.nodes}
            )

    # -- connecting ports
    def begin_connect(self, port: PortItem, scene_pos: QPointF) -> None:
        self._connect_from = port
        self._connect_line = QGraphicsPathItem()
        self._connect_line.setPen(QPen(self.colors.selection, 2, Qt.PenStyle.DashLine))
        self._connect_line.setZValue(5)
        self.addItem(self._connect_line)
        self.drag_connect(scene_pos)

    def port_at(self, scene_pos: QPointF) -> PortItem | None:
        """The port under a point, or the first free port of the right direction on the node under it."""
        source = self._connect_from
        for item in self.items(scene_pos):
            if isinstance(item, PortItem) and item is not source:
                return item
        for item in self.items(scene_pos):
            if isinstance(item, NodeItem) and source is not None and item is not source.node_item:
                ports = item.inputs if source.is_output else item.outputs
                if not ports:
                    return None
                if source.is_output:
                    taken = {e.dst_port for e in self.design.edges if e.dst == item.node_id}
                    free = [p for p in ports if p.index not in taken]
                    return free[0] if free else ports[0]
                return ports[0]
        return None

    def drag_connect(self, scene_pos: QPointF) -> None:
        if self._connect_from is None:
            return
        start = self._connect_from.scene_center()
        target = self.port_at(scene_pos)
        if self._hover_port is not None and self._hover_port is not target:
            self._hover_port.set_hover(False)
        self._hover_port = target
        end = target.scene_center() if target is not None else scene_pos
        if target is not None:
            target.set_hover(True)
        path = bezier(start, end) if self._connect_from.is_output else bezier(end, start)
        self._connect_line.setPath(path)

    def end_connect(self, scene_pos: QPointF) -> None:
        source = self._connect_from
        target = self.port_at(scene_pos) if source is not None else None
        self._cancel_connect()
        if source is None or target is None:
            return
        if target.is_output == source.is_output:
            side = "outputs" if source.is_output else "inputs"
            self.message.emit(
                f"Cannot connect two {side}: drag from an output port (right side) "
                "to an input port (left side)"
            )
            return
        out, inp = (source, target) if source.is_output else (target, source)
        self.editor.connect(out.node_id, inp.node_id, out.index, inp.index)

    def _cancel_connect(self) -> None:
        if self._hover_port is not None:
            self._hover_port.set_hover(False)
            self._hover_port = None
        if self._connect_line is not None:
            self.removeItem(self._connect_line)
            self._connect_line = None
        self._connect_from = None

    # -- layout
    def auto_layout(self, width: float = 1e9, height: float = 1e9, least: float = 0.0) -> None:
        """Arrange all nodes in layers from left to right, folded into bands to suit a `width` x `height`
        view (see `fit_layout`), keeping the drawing where it was; one undo step."""
        if not self.design.nodes:
            return
        positions = self.fitted_layout(width, height, least)
        old = [n.pos for n in self.design.nodes.values()]
        cx = (min(p[0] for p in old) + max(p[0] for p in old)) / 2
        cy = (min(p[1] for p in old) + max(p[1] for p in old)) / 2
        xs = [p[0] for p in positions.values()]
        ys = [p[1] for p in positions.values()]
        sx, sy = cx - (min(xs) + max(xs)) / 2, cy - (min(ys) + max(ys)) / 2
        self.editor.move_nodes({n: (round(x + sx), round(y + sy)) for n, (x, y) in positions.items()})

    def fitted_layout(self, width: float, height: float, least: float = 0.0) -> dict:
        """The automatic layout folded to suit a view of `width` x `height` pixels."""
        design = self.design
        positions, _, _ = fit_layout(list(design.nodes), design.edges, width, height, FIT_MARGIN, least)
        return positions

    def has_automatic_layout(self) -> bool:
        """Whether the nodes still stand where the automatic layout (folded or not) put them."""
        design = self.design
        return is_automatic({n.id: n.pos for n in design.nodes.values()}, list(design.nodes), design.edges)

    def nodes_rect(self) -> QRectF:
        rect = QRectF()
        for item in self.nodes.values():
            rect = rect.united(item.sceneBoundingRect())
            if item.below is not None and item.below.isVisible():
                rect = rect.united(item.below.sceneBoundingRect())
        return rect


# The canvas's mouse gestures, for the keyboard and mouse help (the keys are the window's actions).
GESTURES = (
    ("Wheel", "Zoom around the pointer"),
    ("Space + drag, middle-button drag, or drag with the hand tool", "Pan the canvas"),
    ("Drag on empty canvas", "Select the layers in a box"),
    ("Drag from an output port to an input port", "Connect (replaces the input's connection)"),
    ("Drop a layer onto a connection", "Insert the layer into it"),
    ("Double-click a layer", "Rename it"),
)


class CanvasView(QGraphicsView):
    """The canvas widget: zoom with the wheel around the cursor, pan with the middle button, space+drag
    or the hand tool, rubber-band selection, drops from the palette and of project files."""

    fileDropped = Signal(str)
    zoomChanged = Signal(float)

    def __init__(self, scene: CanvasScene, parent=None):
        super().__init__(scene, parent)
        self.setObjectName("canvas")
        self.setAccessibleName("Design canvas")
        self.setAccessibleDescription("The network design: layers as nodes, connections as edges")
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPointF | None = None
        self._space = False
        self._hand = False  # the hand tool: a left drag pans
        self._drop_edge: EdgeItem | None = None
        # Until the user touches the view or the design, the first view follows the view's size (the
        # window settles its size after the first view is drawn).
        self._fresh = False
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(0)
        self._refit.timeout.connect(lambda: self._fresh and self.show_design())
        scene.editor.undo_stack.indexChanged.connect(self._touched)
        self.node_actions: list = []  # context menu over a node (the window fills these in)
        self.canvas_actions: list = []  # context menu over empty canvas

    @property
    def canvas(self) -> CanvasScene:
        return self.scene()

    # -- zoom and pan
    def zoom(self) -> float:
        return self.transform().m11()

    def _touched(self, *_ignored) -> None:
        self._fresh = False

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self._fresh:
            self._refit.start()

    def content_grew(self) -> None:
        """Something drawn beside the nodes arrived after the first view (a layer's preview): while the
        user has not touched the view, it is fitted again to take it in, as after a resize."""
        if self._fresh:
            self._refit.start()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Scale the view, keeping the scene point under `anchor` still."""
        self._fresh = False
        current = self.zoom()
        factor = max(MIN_ZOOM / current, min(MAX_ZOOM / current, factor))
        if abs(factor - 1.0) < 1e-6:
            return
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        fixed = self.mapToScene(anchor.toPoint())
        self.scale(factor, factor)
        moved = self.mapFromScene(fixed)
        self.horizontalScrollBar().setValue(
            self.horizontalScrollBar().value() + moved.x() - round(anchor.x())
        )
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y() - round(anchor.y()))
        self.zoomChanged.emit(self.zoom())

    def wheelEvent(self, event):
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(1.0015**delta, event.position())
        event.accept()

    def fit_all(self, most: float = 1.25, least: float = MIN_ZOOM) -> None:
        """Show every node (or the selection, if any), zoomed no closer than `most`; when that would
        take a zoom below `least`, show the top left of them at `least`."""
        scene = self.canvas
        ids = scene.selected_node_ids()
        rect = QRectF()
        for node_id in ids or scene.nodes:
            rect = rect.united(scene.nodes[node_id].sceneBoundingRect())
        if not ids:  # the whole design: the edges' turns too
            for edge in scene.edges.values():
                rect = rect.united(edge.path().boundingRect())
        self.resetTransform()
        if rect.isNull():
            self.centerOn(0, 0)
            self.zoomChanged.emit(self.zoom())
            return
        rect.adjust(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
        vp = self.viewport().rect()
        zoom = min(most, vp.width() / rect.width(), vp.height() / rect.height())
        zoom = max(zoom, least, MIN_ZOOM)
        self.scale(zoom, zoom)
        half_w, half_h = vp.width() / (2 * zoom), vp.height() / (2 * zoom)
        # centred where it fits, else from its left or top edge
        x = rect.center().x() if rect.width() <= 2 * half_w else rect.left() + half_w
        y = rect.center().y() if rect.height() <= 2 * half_h else rect.top() + half_h
        self.centerOn(x, y)
        self.zoomChanged.emit(self.zoom())

    def show_design(self) -> None:
        """A freshly opened design, as large as fits and never smaller than readable. A design still in
        the automatic layout is folded into bands to suit the view first (not an undo step: nothing
        the user placed moves)."""
        scene = self.canvas
        if scene.design is None:  # the window closed before its first view was drawn
            return
        least = readable_zoom()
        if scene.nodes and scene.has_automatic_layout():
            vp = self.viewport()
            for node_id, pos in scene.fitted_layout(vp.width(), vp.height(), least).items():
                scene.design.move(node_id, pos)
        self.fit_all(most=1.0, least=least)
        self._fresh = True

    def auto_layout(self) -> None:
        """Automatic layout folded to suit this view, then fitted (one undo step)."""
        vp = self.viewport()
        self.canvas.auto_layout(vp.width(), vp.height(), readable_zoom())
        self.fit_all(most=1.0, least=readable_zoom())

    def reset_zoom(self) -> None:
        self._fresh = False
        center = self.mapToScene(self.viewport().rect().center())
        self.resetTransform()
        self.centerOn(center)
        self.zoomChanged.emit(self.zoom())

    def centre_on_node(self, node_id: str) -> None:
        item = self.canvas.nodes.get(node_id)
        if item is not None:
            self.canvas.select_nodes([node_id])
            self.centerOn(item)

    def visible_center(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    @property
    def hand_tool(self) -> bool:
        return self._hand

    def set_hand_tool(self, on: bool) -> None:
        """The hand tool: a left drag anywhere pans, and nothing is selected or moved."""
        self._hand = bool(on)
        self.setDragMode(
            QGraphicsView.DragMode.NoDrag if self._hand else QGraphicsView.DragMode.RubberBandDrag
        )
        self._show_idle_cursor()

    def _show_idle_cursor(self) -> None:
        hand = self._hand or self._space
        self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if hand else Qt.CursorShape.ArrowCursor)

    def mousePressEvent(self, event):
        self._fresh = False
        middle = event.button() == Qt.MouseButton.MiddleButton
        if middle or (event.button() == Qt.MouseButton.LeftButton and (self._space or self._hand)):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self._pan_from is not None:
            self._pan_from = None
            self._show_idle_cursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # -- the keyboard: arrows go from node to node, Alt+arrows nudge (the window binds them as actions)
    def select_neighbour(self, direction: str) -> str | None:
        """Select the node an arrow key leads to from the selected one (the first node when none is)."""
        self._fresh = False
        design = self.canvas.design
        if not design.nodes:
            return None
        selected = self.canvas.selected_node_ids()
        if selected:
            positions = {n.id: n.pos for n in design.nodes.values()}
            target = neighbour(positions, design.edges, selected[0], direction)
            if target is None:
                return None
        else:
            target = design.topological_order()[0]
        self.canvas.select_nodes([target])
        self.ensureVisible(self.canvas.nodes[target], 40, 40)
        return target

    def nudge(self, direction: str, far: bool = False) -> None:
        """Move the selected nodes a grid step (four with `far`); repeated nudges are one undo step."""
        ids = self.canvas.selected_node_ids()
        if ids:
            dx, dy = DIRECTIONS[direction]
            step = GRID * (4 if far else 1)
            self.canvas.editor.nudge(ids, (dx * step, dy * step))

    def contextMenuEvent(self, event):
        from PySide6.QtWidgets import QMenu

        scene_pos = self.mapToScene(event.pos())
        node = next((i for i in self.canvas.items(scene_pos) if isinstance(i, NodeItem)), None)
        if node is not None and not node.isSelected():
            self.canvas.select_nodes([node.node_id])
        actions = self.node_actions if node is not None else self.canvas_actions
        if actions:
            menu = QMenu(self)
            for action in actions:
                if action is None:
                    menu.addSeparator()
                else:
                    menu.addAction(action)
            menu.exec(event.globalPos())
        event.accept()

    def keyPressEvent(self, event):
        self._fresh = False
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self._show_idle_cursor()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event):
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._show_idle_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event):
        self._space = False
        if self._pan_from is None:
            self._show_idle_cursor()
        super().focusOutEvent(event)

    # -- drops: a palette entry adds a layer where it is dropped; a .studio file opens
    def _accepts(self, mime) -> bool:
        if mime.hasFormat(MIME_LAYER):
            return True
        return any(url.isLocalFile() and url.toLocalFile().endswith(".studio") for url in mime.urls())

    def dragEnterEvent(self, event):
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
            self._target_edge(self._insertion_edge(event))
        else:
            event.ignore()

    def dragLeaveEvent(self, event):
        self._target_edge(None)
        super().dragLeaveEvent(event)

    def _insertion_edge(self, event):
        """The edge a layer dragged here would be inserted into: one near the pointer, when the layer
        has an input and an output."""
        mime = event.mimeData()
        if not mime.hasFormat(MIME_LAYER):
            return None
        spec = catalogue.CATALOGUE.get(bytes(mime.data(MIME_LAYER)).decode("utf-8"))
        if spec is None or not spec.inputs or not spec.outputs:
            return None
        pos = self.mapToScene(event.position().toPoint())
        return self.canvas.edge_at(pos, EDGE_REACH_PX / max(self.zoom(), 1e-6))

    def _target_edge(self, item) -> None:
        if self._drop_edge is not None and self._drop_edge is not item:
            self._drop_edge.set_targeted(False)
        self._drop_edge = item
        if item is not None:
            item.set_targeted(True)

    def dropEvent(self, event):
        self._fresh = False
        mime = event.mimeData()
        edge_item = self._insertion_edge(event)
        self._target_edge(None)
        if mime.hasFormat(MIME_LAYER):
            type_ = bytes(mime.data(MIME_LAYER)).decode("utf-8")
            pos = self.mapToScene(event.position().toPoint())
            if type_ in catalogue.CATALOGUE:
                editor = self.canvas.editor
                if edge_item is not None:
                    node_id = editor.insert_on_edge(type_, edge_item.edge, (pos.x(), pos.y()))
                else:
                    node_id = editor.add_node(type_, (pos.x(), pos.y()))
                if node_id is not None:
                    self.canvas.select_nodes([node_id])
                event.acceptProposedAction()
                return
        for url in mime.urls():
            if url.isLocalFile() and url.toLocalFile().endswith(".studio"):
                event.acceptProposedAction()
                # opening may show dialogs: do it after the drop returns, so the drag source is released
                path = str(Path(url.toLocalFile()))
                QTimer.singleShot(0, lambda path=path: self.fileDropped.emit(path))
                return
        event.ignore()


def render_preview(design, size=(320, 200)):
    """A picture of a design (for the template gallery), drawn by a throwaway canvas."""
    from PySide6.QtGui import QImage, QPixmap

    # folded as suits the picture's shape, the largest it can be drawn
    positions, _, _ = fit_layout(list(design.nodes), design.edges, size[0], size[1], 20.0, math.inf)
    for node_id, pos in positions.items():
        design.move(node_id, pos)
    editor = Editor(design)
    scene = CanvasScene(editor)
    image = QImage(size[0], size[1], QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(scene.colors.background)
    rect = scene.nodes_rect().adjusted(-20, -20, 20, 20)
    if not rect.isNull():
        scale = min(size[0] / rect.width(), size[1] / rect.height())
        w, h = rect.width() * scale, rect.height() * scale
        target = QRectF((size[0] - w) / 2, (size[1] - h) / 2, w, h)  # centred in the picture
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scene.render(painter, target, rect, Qt.AspectRatioMode.KeepAspectRatio)
        painter.end()
    scene.detach()
    scene.deleteLater()
    return QPixmap.fromImage(image)
