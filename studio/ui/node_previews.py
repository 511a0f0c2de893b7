"""Live previews on the canvas: what each layer outputs for one example of the data, drawn under its box.

They are computed away from the GUI thread (`studio.training.node_preview`) a short pause after the
design, the data, the training settings or the runs change; a newer request supersedes an older one.
A bar on the canvas says whose weights made them and steps through the examples; View > Layer
Previews shows or hides them, and the choice is remembered.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QEvent,
    QIODevice,
    QObject,
    QPointF,
    QRectF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QFontMetricsF, QImage, QPainter
from PySide6.QtWidgets import QFrame, QGraphicsItem, QHBoxLayout, QLabel, QSpinBox

from studio.design.project import project_from_dict
from studio.training.node_preview import compute_previews, fresh_model, newest_trained_run, preview_key

from .background import Background
from .layout import BAND_GAP, NODE_H, NODE_W
from .theme import category_color, small_font

# The preview fits the gap under a row of the automatic layout, above the path that an edge to the
# next band of a folded layout takes (BAND_GAP / 2 under the row), so that the path stays in sight.
GAP = 2.0  # between a node's box and its preview
PREVIEW_H = BAND_GAP / 2 - GAP - 2.0
HEAT_WIDEST = 4.0  # a heat map under a node is stretched to this many times as wide as high
TOOLTIP_W = 360  # the width of a preview enlarged in its tooltip
NODES_AT_MOST = 400  # a bigger design shows none: its previews would cost more than they tell
DEBOUNCE_MS = 250  # a change is followed after this pause, so that a burst of edits computes once
SETTING = "canvas/previews"

# a perceptually even ramp from dark blue to yellow for heat maps (close to matplotlib's viridis)
_RAMP = np.array([(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)], float)
_HEAT = np.stack(
    [np.interp(np.linspace(0, 4, 256), np.arange(5), _RAMP[:, c]) for c in range(3)], axis=1
).astype(np.uint8)


def _image(values: np.ndarray, heat: bool) -> QImage:
    """A QImage that owns a copy of `values` (uint8, (h, w)): grey, or coloured by the heat ramp."""
    if heat:
        rgb = np.ascontiguousarray(_HEAT[values])
        h, w = values.shape
        return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    grey = np.ascontiguousarray(values)
    h, w = grey.shape
    return QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


class Picture:
    """Draws a preview into a rectangle at any size: on the canvas, and enlarged in its tooltip."""

    def __init__(self, preview, colors, accent: QColor):
        self.preview, self.colors, self.accent = preview, colors, accent
        if preview.kind == "maps":
            self.images = [_image(m, heat=False) for m in preview.values]
        elif preview.kind == "heatmap":
            self.images = [_image(preview.values, heat=True)]
        else:
            self.images = []

    def paint(self, painter: QPainter, inner: QRectF, widest: float | None = None) -> None:
        """Fill `inner`; a heat map keeps its own proportions, or is stretched to `widest` times as
        wide as high (under a node, where a square map would be a few pixels wide)."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        kind = self.preview.kind
        if kind == "maps":
            self._maps(painter, inner)
        elif kind == "heatmap":
            image = self.images[0]
            ratio = image.width() / image.height()
            ratio = ratio if widest is None else max(ratio, widest)
            width = min(inner.width(), inner.height() * ratio)
            target = QRectF(inner.center().x() - width / 2, inner.top(), width, inner.height())
            painter.drawImage(target, image)
        elif kind in ("bars", "histogram"):
            self._bars(painter, inner)
        else:
            painter.setFont(small_font(-1.5))
            painter.setPen(self.colors.dim_text)
            text = QFontMetricsF(painter.font()).elidedText(
                self.preview.caption, Qt.TextElideMode.ElideRight, inner.width()
            )
            painter.drawText(inner, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)

    def _maps(self, painter, inner: QRectF) -> None:
        n = len(self.images)
        gap = max(2.0, inner.height() / 8)
        side = min(inner.height(), (inner.width() - gap * (n - 1)) / max(1, n))
        left = inner.left() + (inner.width() - n * side - gap * (n - 1)) / 2
        for i, image in enumerate(self.images):
            aspect = image.width() / max(1, image.height())
            w, h = (side, side / aspect) if aspect >= 1 else (side * aspect, side)
            cell = QRectF(left + i * (side + gap) + (side - w) / 2, inner.top() + (side - h) / 2, w, h)
            painter.drawImage(cell, image)  # nearest neighbour: each value stays a sharp square

    def _bars(self, painter, inner: QRectF) -> None:
        values = np.asarray(self.preview.values, np.float64)
        if self.preview.kind == "histogram":
            values = np.sqrt(values)  # so that a tall bin of zeros (after a ReLU) leaves the others visible
        lo, hi = min(0.0, float(values.min())), max(0.0, float(values.max()), self.preview.full)
        scale = inner.height() / (hi - lo) if hi > lo else 0.0
        zero = inner.top() + hi * scale
        step = inner.width() / len(values)
        painter.setPen(Qt.PenStyle.NoPen)
        for i, v in enumerate(values):
            painter.setBrush(self.colors.selection if i == self.preview.highlight else self.accent)
            top = min(zero, zero - v * scale)
            painter.drawRect(QRectF(inner.left() + i * step + 0.5, top, max(1.0, step - 1.0), abs(v) * scale))
        painter.setPen(self.colors.dim_text)
        painter.drawLine(QPointF(inner.left(), zero), QPointF(inner.right(), zero))

    def enlarged(self) -> QImage:
        """The preview drawn large, for its tooltip."""
        kind = self.preview.kind
        if kind == "maps":  # as high as the maps side by side are wide, up to 96 pixels
            n = len(self.images)
            height = int(min(96, TOOLTIP_W / (n + (n - 1) / 8)))
        else:
            height = 200 if kind == "heatmap" else 90
        image = QImage(TOOLTIP_W, height, QImage.Format.Format_ARGB32)
        image.fill(self.colors.node)
        painter = QPainter(image)
        self.paint(painter, QRectF(0, 0, TOOLTIP_W, height))
        painter.end()
        return image


class PreviewItem(QGraphicsItem):
    """A node's preview, drawn under its box: feature maps, a heat map, value bars, a histogram, or
    a short message. A child of the node's item, so that it moves with it."""

    def __init__(self, node_item):
        super().__init__(node_item)
        self.node_item = node_item
        self.preview = None
        self.picture: Picture | None = None
        self.painted = 0  # how often it was painted (tests check that a preview reached the screen)
        self.context = ""
        self._tip_drawn = False
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setAcceptHoverEvents(True)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def boundingRect(self) -> QRectF:
        return QRectF(-NODE_W / 2, NODE_H / 2 + GAP, NODE_W, PREVIEW_H)

    def set_preview(self, preview, context: str = "") -> None:
        self.preview = preview
        accent = category_color(self.node_item.spec.category)
        self.picture = Picture(preview, self.node_item.canvas.colors, accent)
        self.context = context
        self.setToolTip(preview.caption)  # the enlarged picture is drawn once the pointer comes
        self._tip_drawn = False
        self.update()

    def hoverEnterEvent(self, event):
        if not self._tip_drawn and self.picture is not None:
            self.setToolTip(_tooltip(self.picture, self.context))
            self._tip_drawn = True
        super().hoverEnterEvent(event)

    def paint(self, painter: QPainter, option, widget=None):
        self.painted += 1
        if self.picture is None:
            return
        colors = self.node_item.canvas.colors
        rect = self.boundingRect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(colors.node_border)
        painter.setBrush(colors.node)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
        self.picture.paint(painter, rect.adjusted(4, 2, -4, -2), widest=HEAT_WIDEST)


def _tooltip(picture: Picture, context: str) -> str:
    """The preview enlarged, what it shows in words, and whose weights and which example made it."""
    preview = picture.preview
    lines = [html.escape(preview.caption)]
    if preview.shape:
        lines.append(f"output {tuple(preview.shape)}, values {preview.span[0]:.4g} to {preview.span[1]:.4g}")
    if preview.kind == "bars" and len(preview.labels) <= 16:
        lines.append(
            html.escape(", ".join(f"{label} {v:.3g}" for label, v in zip(preview.labels, preview.values)))
        )
    if context:
        lines.append(html.escape(context))
    if preview.kind == "message":
        return "<br>".join(lines)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    picture.enlarged().save(buffer, "PNG")
    image = f'<img src="data:image/png;base64,{bytes(data.toBase64()).decode()}">'
    return image + "<br>" + "<br>".join(lines)


class PreviewBar(QFrame):
    """The line on the canvas that says whose weights made the previews, and picks the example."""

    def __init__(self, parent):
        super().__init__(parent)
        self.setObjectName("previewBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.label = QLabel("Previews: computing...")
        self.label.setObjectName("previewWeights")
        self.example = QSpinBox()
        self.example.setObjectName("previewExample")
        self.example.setAccessibleName("Example shown in the previews")
        self.example.setToolTip("Which example of the data goes through the design for the previews")
        self.example.setRange(1, 1)
        self.example.setPrefix("example ")
        self.rest = QLabel("")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        lay.addWidget(self.label)
        lay.addWidget(self.example)
        lay.addWidget(self.rest)

    def say(self, text: str) -> None:
        """A line in place of the weights and the example (no previews to describe)."""
        self.label.setText(text)
        self.label.setToolTip("")
        self.example.setVisible(False)
        self.rest.setText("")
        self.adjustSize()

    def show_result(self, result) -> None:
        self.label.setToolTip(result.note)
        self.example.blockSignals(True)
        self.example.setRange(1, max(1, result.count))
        self.example.setValue(result.index + 1)
        self.example.blockSignals(False)
        self.example.setEnabled(result.count > 0)
        self.label.setText(f"Previews: {result.weights_text}" + (f", {result.split}" if result.split else ""))
        self.rest.setText(f"of {result.count}{result.label}" if result.count else "")
        self.example.setVisible(result.count > 0)
        self.adjustSize()


def _fresh(project):
    """The design with fresh weights, drawn here on the GUI thread: the random stream it seeds and
    puts back is the whole process's, and other work draws from it on this thread. None when the
    design cannot be built (the previews then say why)."""
    from studio.design.build import BuildError

    try:
        return fresh_model(project)
    except (BuildError, ValueError, RuntimeError):
        return None


class NodePreviews(QObject):
    """Keeps the canvas's previews following the window's project. `shown` follows each new set."""

    shown = Signal()

    def __init__(self, window, settings):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.result = None
        self.index = 0
        self._key = None  # what the shown (or coming) previews were computed from
        self.job = Background(window, "studio-previews")
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.refresh)
        self.bar = PreviewBar(window.view)
        self.bar.example.valueChanged.connect(self._choose_example)
        window.view.installEventFilter(self)
        self.action = QAction("Layer &Previews", window)
        self.action.setObjectName("actionPreviews")
        self.action.setCheckable(True)
        self.action.setStatusTip("Show under each layer what it outputs for one example of the data")
        self.action.setChecked(bool(settings().value(SETTING, True, type=bool)))
        self.action.toggled.connect(self._toggled)
        window.undo_stack.indexChanged.connect(self.schedule)
        window.training_panel.settingsChanged.connect(self.schedule)
        self.bar.setVisible(self.enabled)
        self.schedule()

    @property
    def enabled(self) -> bool:
        return self.action.isChecked()

    def schedule(self, *_ignored) -> None:
        """Follow a change after a short pause (a burst of changes is followed once)."""
        if self.enabled:
            self.timer.start()

    def reset(self) -> None:
        """Another project is shown: its first example, computed afresh."""
        self.index, self._key, self.result = 0, None, None
        self.job.cancel()
        self.schedule()

    def refresh(self) -> None:
        """Compute the previews for the project as it is now, unless they are already shown."""
        self.timer.stop()
        if not self.enabled:
            return
        project = self.window.project
        if len(project.design.nodes) > NODES_AT_MOST:
            self._key, self.result = None, None
            self.job.cancel()
            self.apply()
            self.bar.say(f"Previews: off for designs of more than {NODES_AT_MOST:,} layers")
            return
        key = preview_key(project, newest_trained_run(project), self.index)
        if key == self._key:
            self.apply()  # nodes drawn since (a rebuilt canvas) get theirs
            return
        self._key = key
        # the thread works on a copy: edits made meanwhile do not reach it half-way
        snapshot = project_from_dict(project.to_dict(), project.path)
        run = newest_trained_run(snapshot)
        self.job.run(compute_previews, self._deliver, snapshot, run, self.index, _fresh(snapshot))

    def _deliver(self, result, error) -> None:
        if error is not None:
            if not isinstance(error, (ValueError, RuntimeError, OSError)):
                raise error
            self.bar.say(f"Previews: {error}")
            self._key = None
            return
        if result.note and (self.result is None or self.result.note != result.note):
            self.window.show_status(result.note)
        self.result = result
        self.bar.show_result(result)
        self._place_bar()
        self.apply()
        self.window.view.content_grew()
        self.shown.emit()

    def apply(self) -> None:
        """Put the newest previews under the nodes on the canvas (hidden while previews are off)."""
        nodes = self.result.nodes if self.result is not None else {}
        context = f"{self.result.weights_text}, {self.result.example}" if self.result is not None else ""
        for node_id, node_item in self.window.scene.nodes.items():
            item = self.item(node_id)
            preview = nodes.get(node_id)
            if item is None and preview is None:
                continue
            if item is None:
                item = PreviewItem(node_item)
                node_item.below = item
            if preview is not None and (item.preview is not preview or item.context != context):
                item.set_preview(preview, context)
            item.setVisible(self.enabled and preview is not None)

    def item(self, node_id) -> PreviewItem | None:
        """The preview item of a node on the canvas, if it has one."""
        node_item = self.window.scene.nodes.get(node_id)
        found = getattr(node_item, "below", None)
        return found if isinstance(found, PreviewItem) else None

    def _toggled(self, on: bool) -> None:
        self.settings().setValue(SETTING, bool(on))
        self.bar.setVisible(on)
        if on:
            self._place_bar()
            self.refresh()
        else:
            self.timer.stop()
            self.job.cancel()
            self._key = None
            self.apply()

    def _choose_example(self, number: int) -> None:
        self.index = number - 1
        self.schedule()

    def _place_bar(self) -> None:
        view = self.window.view
        self.bar.adjustSize()
        self.bar.move(8, view.height() - self.bar.height() - 8)
        self.bar.raise_()

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._place_bar()
        return False
