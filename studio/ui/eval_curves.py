"""The curves that judge a classifier (ROC, precision-recall, calibration) and a regressor (residuals'
histogram), and the heat maps of each parameter tensor's weights and gradients over the epochs."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

HEAT_ROWS = 64  # value rows of a histogram heat map
CHANCE_PEN = (128, 128, 128)


def colour(i: int, n: int):
    """The i-th of n distinct colours (one per class or run)."""
    return pg.intColor(i, hues=max(n, 1), values=1, maxValue=230)


def plot_widget(name: str, bottom: str, left: str, square: bool = False) -> pg.PlotWidget:
    """A plot with its axes named; `square` plots live in [0, 1] x [0, 1] with equal scales."""
    plot = pg.PlotWidget()
    plot.setObjectName(name)
    plot.setBackground(None)
    plot.setLabel("bottom", bottom)
    plot.setLabel("left", left)
    plot.showGrid(x=True, y=True, alpha=0.15)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)  # values as they are, never "(x0.001)"
    if square:
        plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.02)
        plot.setLimits(xMin=-0.05, xMax=1.05, yMin=-0.05, yMax=1.05)
    return plot


def fresh_legend(plot: pg.PlotWidget, offset, columns: int = 1) -> pg.LegendItem:
    """Clear the plot and its legend, which the curves plotted next fill."""
    plot.clear()
    item = plot.getPlotItem()
    if item.legend is None:
        item.addLegend(offset=offset, labelTextSize="8pt")
        item.legend.setBrush(pg.mkBrush(255, 255, 255, 200))
    item.legend.clear()
    item.legend.setColumnCount(columns)
    item.legend.setOffset(offset)
    return item.legend


def legend_texts(plot: pg.PlotWidget) -> list[str]:
    """The legend's entries as shown."""
    legend = plot.getPlotItem().legend
    return [label.text for _sample, label in legend.items] if legend is not None else []


def show_roc(plot: pg.PlotWidget, curves: list[dict]) -> None:
    """One ROC curve per class against the rest, its area in the legend, and the diagonal of chance."""
    fresh_legend(plot, (-10, -10), 2 if len(curves) > 5 else 1)
    plot.plot([0, 1], [0, 1], pen=pg.mkPen(CHANCE_PEN, style=Qt.PenStyle.DashLine))
    for i, c in enumerate(curves):
        plot.plot(
            c["fpr"], c["tpr"], pen=pg.mkPen(colour(i, len(curves)), width=2), name=_name(c, "AUC", "auc")
        )


def show_pr(plot: pg.PlotWidget, curves: list[dict]) -> None:
    """One precision-recall curve per class, its average precision in the legend."""
    fresh_legend(plot, (10, -10), 2 if len(curves) > 5 else 1)
    for i, c in enumerate(curves):
        plot.plot(
            c["recall"],
            c["precision"],
            pen=pg.mkPen(colour(i, len(curves)), width=2),
            name=_name(c, "AP", "ap"),
            stepMode=None,
        )


def _name(curve, label, key) -> str:
    return f"{curve.get('name', curve['class'])} ({label} {curve[key]:.3f})"


def show_calibration(plot: pg.PlotWidget, cal: dict) -> None:
    """The reliability curve against the diagonal of perfect calibration, with its expected error."""
    legend = fresh_legend(plot, (10, 10))
    plot.plot(
        [0, 1], [0, 1], pen=pg.mkPen(CHANCE_PEN, style=Qt.PenStyle.DashLine), name="perfectly calibrated"
    )
    what = "top class" if cal.get("kind") == "confidence" else "positive class"
    sizes = np.asarray(cal["count"], np.float64)
    sizes = 5 + 9 * np.sqrt(sizes / max(sizes.max(), 1))  # the symbols grow with their bins' examples
    plot.plot(
        cal["mean_predicted"],
        cal["fraction_positive"],
        pen=pg.mkPen((66, 133, 244), width=2),
        symbol="o",
        symbolSize=list(sizes),
        symbolBrush=(66, 133, 244),
        name=f"{what} (ECE {cal.get('ece', float('nan')):.3f})",
    )
    plot.setLabel("bottom", f"mean predicted probability ({what})")
    plot.setLabel("left", "fraction correct" if cal.get("kind") == "confidence" else "fraction positive")
    legend.setOffset((10, 10))


def show_residual_histogram(plot: pg.PlotWidget, actual, predicted, bins: int = 30) -> None:
    """How the residuals (actual - predicted) spread, with the zero line."""
    plot.clear()
    residuals = np.asarray(actual, np.float64) - np.asarray(predicted, np.float64)
    if not len(residuals):
        return
    counts, edges = np.histogram(residuals, bins=bins)
    plot.plot(edges, counts, stepMode="center", fillLevel=0, brush=(234, 67, 53, 110), pen=(234, 67, 53))
    plot.addLine(x=0, pen=pg.mkPen(CHANCE_PEN, style=Qt.PenStyle.DashLine))


def heat_image(series: list, epochs: list[int], rows: int = HEAT_ROWS):
    """Histograms of one tensor over the epochs on one value grid: an (epochs, rows) array of the
    fraction of values in each grid row, and the grid's range. Each bin's count is spread evenly over
    its own range, so that bins of different widths (the range changes by epoch) add up rightly."""
    kept = [h for h in series if h is not None]
    if not kept:
        return None, (0.0, 1.0)
    lo = min(h["range"][0] for h in kept)
    hi = max(h["range"][1] for h in kept)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    grid = np.linspace(lo, hi, rows + 1)
    image = np.zeros((len(epochs), rows))
    for i, h in enumerate(series):
        if h is None:
            continue
        counts = np.asarray(h["counts"], np.float64)
        edges = np.linspace(h["range"][0], h["range"][1], len(counts) + 1)
        cumulative = np.r_[0.0, np.cumsum(counts)]
        image[i] = np.diff(np.interp(grid, edges, cumulative)) / max(cumulative[-1], 1.0)
    return image, (lo, hi)


class HistogramsView(QWidget):
    """A run's weight and gradient histograms per parameter tensor, as heat maps over the epochs (x the
    epoch, y the value, the colour how many values), weights and gradients side by side."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("histogramsView")
        self.record = None
        self.picker = QComboBox()
        self.picker.setObjectName("histogramTensor")
        self.picker.setToolTip("The parameter tensor whose histograms are shown")
        self.picker.currentIndexChanged.connect(self._draw)
        self.note = QLabel()
        self.note.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Tensor:"))
        top.addWidget(self.picker, 1)
        top.addWidget(self.note, 2)
        self.plots, self.images = {}, {}
        row = QSplitter(Qt.Orientation.Horizontal)
        row.setChildrenCollapsible(False)
        for kind, title in (("weight", "weights"), ("grad", "gradients")):
            plot = plot_widget(f"{kind}Histograms", "epoch", "value")
            plot.setTitle(title)
            plot.setMinimumWidth(200)
            image = pg.ImageItem()
            image.setColorMap(pg.colormap.get("inferno"))
            plot.addItem(image)
            self.plots[kind], self.images[kind] = plot, image
            row.addWidget(plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(row, 1)

    def show_record(self, record: dict | None) -> None:
        """Show a run's "histograms" entry (see studio.training.histograms)."""
        self.record = record
        self.picker.blockSignals(True)
        self.picker.clear()
        for name, entry in (record or {}).get("tensors", {}).items():
            self.picker.addItem(f"{name}  {tuple(entry.get('shape', ()))}", name)
        self.picker.blockSignals(False)
        self._draw()

    def _draw(self, *_):
        name = self.picker.currentData()
        if self.record is None or name is None:
            for image in self.images.values():
                image.clear()
            return
        epochs = self.record["epochs"]
        step = epochs[1] - epochs[0] if len(epochs) > 1 else 1
        for kind, image in self.images.items():
            data, (lo, hi) = heat_image(self.record["tensors"][name][kind], epochs)
            if data is None:
                image.clear()
                continue
            image.setImage(np.sqrt(data), autoLevels=False, levels=(0, max(float(np.sqrt(data).max()), 1e-9)))
            image.setRect(QRectF(epochs[0] - step / 2, lo, step * len(epochs), hi - lo))
            self.plots[kind].autoRange(padding=0.02)
        spacing = f", every {step} epochs" if step > 1 else ""
        self.note.setText(
            f"{len(epochs)} epochs{spacing}; {self.record['bins']} bins per tensor and epoch; brighter: "
            "more values (square-root scale)"
        )
