"""Colours, fonts and icons of the app, derived from the system palette so light and dark themes both work."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from .. import assets

ICON_DIR = assets.ICONS

# One hue per palette category; the same colour marks the node's header on the canvas.
CATEGORY_COLORS = {
    "Input/Output": "#43a047",
    "Core": "#1e88e5",
    "Convolution": "#fb8c00",
    "Pooling": "#8e24aa",
    "Normalization": "#00897b",
    "Recurrent": "#d81b60",
    "Attention": "#5e35b1",
    "Activation": "#7cb342",
    "Merge": "#6d4c41",
    "Reshape": "#546e7a",
    "Regularization": "#f9a825",
}
PROBLEM_COLOR = QColor("#e53935")


def category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category, "#757575"))


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether the palette is a dark one (light text on a dark window)."""
    palette = palette or QApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


class CanvasColors:
    """The canvas's colours for the current palette."""

    def __init__(self, palette: QPalette | None = None):
        palette = palette or QApplication.palette()
        dark = is_dark(palette)
        base = palette.color(QPalette.ColorRole.Base)
        self.background = base.darker(115) if dark else QColor("#f4f5f7")
        self.grid = self.background.lighter(130) if dark else self.background.darker(108)
        self.node = palette.color(QPalette.ColorRole.Window).lighter(115) if dark else QColor("#ffffff")
        self.node_border = palette.color(QPalette.ColorRole.Mid)
        self.text = palette.color(QPalette.ColorRole.WindowText)
        self.dim_text = palette.color(QPalette.ColorRole.PlaceholderText)
        self.selection = palette.color(QPalette.ColorRole.Highlight)
        self.edge = QColor("#9aa0a6") if dark else QColor("#7b8088")
        self.label_background = self.node
        self.port = QColor("#b0b6bd") if dark else QColor("#5f6368")


def small_font(delta: float = -1.0, bold: bool = False) -> QFont:
    font = QFont(QApplication.font())
    size = font.pointSizeF() if font.pointSizeF() > 0 else 9.0
    font.setPointSizeF(max(6.5, size + delta))
    font.setBold(bold)
    return font


@lru_cache(maxsize=256)
def _generated_icon(label: str, color: str, size: int) -> QPixmap:
    """A coloured tile with a short label, for layer icons that have no SVG file."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawRoundedRect(QRectF(0.5, 0.5, size - 1, size - 1), size * 0.22, size * 0.22)
    font = QFont(QApplication.font())
    font.setBold(True)
    font.setPixelSize(max(6, int(size * (0.5 if len(label) <= 2 else 0.38))))
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, label)
    painter.end()
    return pixmap


def _tinted(pixmap: QPixmap, color: QColor) -> QPixmap:
    out = QPixmap(pixmap.size())
    out.setDevicePixelRatio(pixmap.devicePixelRatio())
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.drawPixmap(0, 0, pixmap)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    painter.fillRect(out.rect(), color)
    painter.end()
    return out


def _short_label(type_: str) -> str:
    capitals = [c for c in type_ if c.isupper() or c.isdigit()]
    if 2 <= len(capitals) <= 3:
        return "".join(capitals)
    return type_[:2]


@lru_cache(maxsize=256)
def layer_icon(type_: str, icon: str, category: str) -> QIcon:
    """The layer's icon: its SVG from assets/icons when present, else a tile in the category's colour."""
    path = ICON_DIR / f"{icon}.svg"
    color = QColor(CATEGORY_COLORS.get(category, "#757575"))
    if path.is_file():
        svg = QIcon(str(path))
        if not svg.isNull() and not svg.pixmap(16, 16).isNull():
            # the SVGs draw in currentColor (black to Qt): tint them with the category's colour, which
            # reads on light and dark palettes alike and matches the node's strip on the canvas
            qicon = QIcon()
            for size in (16, 20, 24, 32, 48):
                qicon.addPixmap(_tinted(svg.pixmap(size, size), color))
            return qicon
    qicon = QIcon()
    for size in (16, 20, 24, 32, 48):
        qicon.addPixmap(_generated_icon(_short_label(type_), CATEGORY_COLORS.get(category, "#757575"), size))
    return qicon


def spec_icon(spec) -> QIcon:
    return layer_icon(spec.type, spec.icon, spec.category)
