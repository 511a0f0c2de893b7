"""Live training curves: loss per step (raw and smoothed) and per epoch, the metric and the learning rate.

Data lives in preallocated numpy buffers; the plots redraw from them on a timer (never per event),
with clipping to the view and peak downsampling, so 100,000 points stay smooth.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.training.history import write_curves_csv

SMOOTHING = 0.9  # weight of the running average in the smoothed loss, as TensorBoard's slider
REDRAW_MS = 80  # at least 10 redraws a second while data arrives
OVERLAY_COLOURS = ("#9aa0a6", "#c58af9", "#fdd663", "#81c995", "#f28b82")


class Series:
    """A growing (x, y) series in a preallocated buffer that doubles when full."""

    __slots__ = ("x", "y", "n")

    def __init__(self, capacity=1024):
        self.x = np.empty(capacity, np.float64)
        self.y = np.empty(capacity, np.float64)
        self.n = 0

    def extend(self, xs, ys):
        k = len(xs)
        if self.n + k > len(self.x):
            cap = max(len(self.x) * 2, self.n + k)
            self.x = np.resize(self.x, cap)
            self.y = np.resize(self.y, cap)
        self.x[self.n : self.n + k] = xs
        self.y[self.n : self.n + k] = ys
        self.n += k

    def view(self):
        return self.x[: self.n], self.y[: self.n]

    def clear(self):
        self.n = 0


def smooth(values, weight: float = SMOOTHING) -> np.ndarray:
    """Exponential moving average with bias correction (the first points are not pulled to zero)."""
    return _Smoother(weight).feed(values)


class _Smoother:
    """Incremental smoothing, so each new batch of points costs only its own length."""

    def __init__(self, weight=SMOOTHING):
        self.weight = weight
        self.acc = 0.0
        self.debias = 1.0

    def feed(self, values):
        out = np.empty(len(values))
        w = self.weight
        acc, debias = self.acc, self.debias
        for i, v in enumerate(values):
            acc = acc * w + (1 - w) * v
            debias *= w
            out[i] = acc / (1 - debias)
        self.acc, self.debias = acc, debias
        return out


def _plot(name: str, title: str, left: str) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setObjectName(name)
    w.setAccessibleName(title)
    w.setBackground(None)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.setTitle(title, size="10pt")
    w.setLabel("left", left)
    w.setLabel("bottom", "step")
    w.addLegend(offset=(-10, 10), labelTextSize="8pt")
    item = w.getPlotItem()
    item.setClipToView(True)
    item.setDownsampling(auto=True, mode="peak")
    return w


class LivePlots(QWidget):
    """The loss plot and the metrics plot, fed with training events and redrawn on a timer."""

    exported = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.loss_plot = _plot("lossPlot", "Loss", "loss")
        self.metrics_plot = _plot("metricsPlot", "Validation metric, learning rate", "metric")
        self.metric_name = "metric"
        self.raw = Series(4096)
        self.smoothed = Series(4096)
        self.val_loss = Series(256)
        self.train_loss = Series(256)
        self.val_metric = Series(256)
        self.lr = Series(256)
        self._smoother = _Smoother()
        self._epoch_steps: dict[int, int] = {}
        self._dirty = False

        pen_raw = pg.mkPen((66, 133, 244, 90), width=1)
        pen_smooth = pg.mkPen((66, 133, 244), width=2)
        self.raw_curve = self.loss_plot.plot(name="train (raw)", pen=pen_raw)
        self.smooth_curve = self.loss_plot.plot(name="train (smoothed)", pen=pen_smooth)
        self.train_epoch_curve = self.loss_plot.plot(
            name="train (epoch)",
            pen=pg.mkPen((52, 168, 83), width=2),
            symbol="o",
            symbolSize=5,
            symbolBrush=(52, 168, 83),
        )
        self.val_curve = self.loss_plot.plot(
            name="validation",
            pen=pg.mkPen((234, 67, 53), width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush=(234, 67, 53),
        )
        for c in (self.raw_curve, self.smooth_curve):
            c.setClipToView(True)
            c.setDownsampling(auto=True, method="peak")
            c.setSkipFiniteCheck(True)
        self.metric_curve = self.metrics_plot.plot(
            name="validation metric",
            pen=pg.mkPen((251, 188, 4), width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush=(251, 188, 4),
        )
        # the learning rate has its own scale, on the right
        item = self.metrics_plot.getPlotItem()
        self.lr_view = pg.ViewBox()
        item.showAxis("right")
        item.scene().addItem(self.lr_view)
        item.getAxis("right").linkToView(self.lr_view)
        item.getAxis("right").setLabel("learning rate")
        self.lr_view.setXLink(item)
        self.lr_curve = pg.PlotCurveItem(pen=pg.mkPen((161, 66, 244), width=1, style=Qt.PenStyle.DashLine))
        self.lr_view.addItem(self.lr_curve)
        item.vb.sigResized.connect(self._sync_lr_view)
        self._overlays: list = []

        self.log_box = QCheckBox("Log scale")
        self.log_box.setObjectName("logScaleToggle")
        self.log_box.toggled.connect(self.set_log_scale)
        self.overlay_box = QComboBox()
        self.overlay_box.setObjectName("overlayRuns")
        self.overlay_box.setToolTip("Overlay an earlier run for comparison")
        self.overlay_box.addItem("Compare with: none")
        self.overlay_box.currentIndexChanged.connect(self._overlay_changed)
        png = QPushButton("Export PNG")
        png.clicked.connect(lambda: self._ask_export("png"))
        csv_b = QPushButton("Export CSV")
        csv_b.clicked.connect(lambda: self._ask_export("csv"))
        bar = QHBoxLayout()
        bar.addWidget(self.log_box)
        bar.addWidget(QLabel("  "))
        bar.addWidget(self.overlay_box, 1)
        bar.addWidget(png)
        bar.addWidget(csv_b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        row = QHBoxLayout()
        row.addWidget(self.loss_plot, 3)
        row.addWidget(self.metrics_plot, 2)
        lay.addLayout(row, 1)
        self._runs: list[dict] = []

        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    # ----------------------------------------------------------------------------- data in
    def reset(self, metric_name: str | None = None):
        for s in (self.raw, self.smoothed, self.val_loss, self.train_loss, self.val_metric, self.lr):
            s.clear()
        self._smoother = _Smoother()
        self._epoch_steps.clear()
        if metric_name:
            self.metric_name = metric_name
            self.metrics_plot.setLabel("left", metric_name)
        self._dirty = True

    def add_steps(self, steps, losses):
        """Append per-step training losses (arrays or lists of equal length)."""
        if not len(steps):
            return
        ys = np.asarray(losses, np.float64)
        self.raw.extend(steps, ys)
        self.smoothed.extend(steps, self._smoother.feed(ys))
        self._dirty = True

    def add_epoch(self, epoch: int, step: int, metrics: dict, lr: float | None):
        self._epoch_steps[epoch] = step
        if metrics.get("train_loss") is not None:
            self.train_loss.extend([step], [metrics["train_loss"]])
        if metrics.get("val_loss") is not None:
            self.val_loss.extend([step], [metrics["val_loss"]])
        value = next((v for k, v in metrics.items() if k.startswith("val_") and k != "val_loss"), None)
        if value is not None:
            self.val_metric.extend([step], [value])
        if lr is not None:
            self.lr.extend([step], [lr])
        self._dirty = True

    def feed(self, events):
        """Take a batch of training events (studio.training.Event)."""
        steps, losses = [], []
        for ev in events:
            if ev.kind == "start":
                steps, losses = [], []
                self.reset()
            elif ev.kind == "step" and ev.loss is not None:
                steps.append(ev.step)
                losses.append(ev.loss)
            elif ev.kind == "epoch":
                self.add_steps(steps, losses)
                steps, losses = [], []
                self.add_epoch(ev.epoch, ev.step, ev.metrics, ev.lr)
        self.add_steps(steps, losses)

    def show_run(self, run: dict):
        """Fill the plots from a finished run's stored curves."""
        self.reset(run.get("metric") or "metric")
        c = run.get("curves") or {}
        self.add_steps(c.get("step", []), c.get("loss", []))
        steps_per_epoch = (c["step"][-1] / max(len(c.get("epoch", [])), 1)) if c.get("step") else 1
        for i, ep in enumerate(c.get("epoch", [])):
            metrics = {
                "train_loss": _at(c.get("train_loss"), i),
                "val_loss": _at(c.get("val_loss"), i),
                "val_metric": _at(c.get("val_metric"), i),
            }
            self.add_epoch(ep, round(ep * steps_per_epoch), metrics, _at(c.get("lr"), i))

    # ---------------------------------------------------------------------------- drawing
    def redraw(self):
        if not self._dirty:
            return
        self._dirty = False
        self.raw_curve.setData(*self.raw.view())
        self.smooth_curve.setData(*self.smoothed.view())
        self.train_epoch_curve.setData(*self.train_loss.view())
        self.val_curve.setData(*self.val_loss.view())
        self.metric_curve.setData(*self.val_metric.view())
        xs, ys = self.lr.view()
        self.lr_curve.setData(xs, ys)
        if len(ys):
            self.lr_view.setYRange(0, float(ys.max()) * 1.15, padding=0)  # rates are never negative

    def _sync_lr_view(self):
        vb = self.metrics_plot.getPlotItem().vb
        self.lr_view.setGeometry(vb.sceneBoundingRect())
        self.lr_view.linkedViewChanged(vb, self.lr_view.XAxis)

    def set_log_scale(self, on: bool):
        self.loss_plot.setLogMode(y=bool(on))

    # ---------------------------------------------------------------------------- overlays
    def set_runs(self, runs: list[dict]):
        """The earlier runs that can be overlaid."""
        self._runs = [r for r in runs if (r.get("curves") or {}).get("step")]
        self.overlay_box.blockSignals(True)
        self.overlay_box.clear()
        self.overlay_box.addItem("Compare with: none")
        for r in self._runs:
            final = ", ".join(
                f"{k} {v:.3g}" for k, v in (r.get("final") or {}).items() if isinstance(v, float)
            )
            self.overlay_box.addItem(f"Run {r.get('id')} ({r.get('status')}{', ' + final if final else ''})")
        self.overlay_box.blockSignals(False)
        self._overlay_changed(0)

    def _overlay_changed(self, index: int):
        for item in self._overlays:
            self.loss_plot.removeItem(item)
        self._overlays = []
        if index <= 0 or index > len(self._runs):
            return
        run = self._runs[index - 1]
        c = run["curves"]
        colour = OVERLAY_COLOURS[(index - 1) % len(OVERLAY_COLOURS)]
        ys = np.asarray(c["loss"], np.float64)
        item = self.loss_plot.plot(
            np.asarray(c["step"], np.float64),
            smooth(ys),
            pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
            name=f"run {run.get('id')} (smoothed)",
        )
        self._overlays.append(item)

    # ------------------------------------------------------------------------------ export
    def _ask_export(self, kind: str):
        filt = "PNG image (*.png)" if kind == "png" else "CSV file (*.csv)"
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export curves as {kind.upper()}", f"curves.{kind}", filt
        )
        if path:
            (self.export_png if kind == "png" else self.export_csv)(path)

    def export_png(self, path):
        """Both plots, one above the other, as one PNG image."""
        self.redraw()
        pixmap = self.grab()
        if not pixmap.save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        self.exported.emit(str(path))

    def export_csv(self, path):
        """Every curve as rows of (series, step, value)."""
        series = []
        for name, buf in (
            ("train_loss_step", self.raw),
            ("train_loss_smoothed", self.smoothed),
            ("train_loss_epoch", self.train_loss),
            ("val_loss", self.val_loss),
            (f"val_{self.metric_name}", self.val_metric),
            ("lr", self.lr),
        ):
            xs, ys = buf.view()
            series.append((name, xs, ys))
        write_curves_csv(path, series)
        self.exported.emit(str(path))


def _at(seq, i):
    if seq is None or i >= len(seq):
        return None
    return seq[i]
