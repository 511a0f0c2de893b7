"""Live training curves: loss per step (raw and smoothed) and per epoch, the metric and the learning rate.

Data lives in preallocated numpy buffers; the plots redraw from them on a timer (never per event),
with clipping to the view and peak downsampling, so 100,000 points stay smooth.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsItem,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.training.history import write_curves_csv

from . import file_dialogs

SMOOTHING = 0.9  # weight of the running average in the smoothed loss, as TensorBoard's slider
REDRAW_MS = 80  # at least 10 redraws a second while data arrives
OVERLAY_COLOURS = ("#9aa0a6", "#c58af9", "#fdd663", "#81c995", "#f28b82")


class Series:
    """A growing (x, y) series in a preallocated buffer that doubles when full."""

    __slots__ = ("x", "y", "n", "version", "lo", "hi")

    def __init__(self, capacity=1024):
        self.x = np.empty(capacity, np.float64)
        self.y = np.empty(capacity, np.float64)
        self.n = 0
        self.version = 0  # bumped on every change, so that redraw touches only the curves that changed
        self.lo, self.hi = np.inf, -np.inf  # the finite y extent, kept up to date as points arrive

    def extend(self, xs, ys):
        k = len(xs)
        if self.n + k > len(self.x):
            cap = max(len(self.x) * 2, self.n + k)
            self.x = np.resize(self.x, cap)
            self.y = np.resize(self.y, cap)
        self.x[self.n : self.n + k] = xs
        self.y[self.n : self.n + k] = ys
        new = self.y[self.n : self.n + k]
        finite = new[np.isfinite(new)]
        if len(finite):
            self.lo, self.hi = min(self.lo, float(finite.min())), max(self.hi, float(finite.max()))
        self.n += k
        self.version += 1

    def view(self):
        return self.x[: self.n], self.y[: self.n]

    def clear(self):
        self.n = 0
        self.version += 1
        self.lo, self.hi = np.inf, -np.inf

    def x_extent(self):
        """(first x, last x): steps only grow, so no pass over the data is needed."""
        return (float(self.x[0]), float(self.x[self.n - 1])) if self.n else None


def smooth(values, weight: float = SMOOTHING) -> np.ndarray:
    """Exponential moving average with bias correction (the first points are not pulled to zero)."""
    return _Smoother(weight).feed(values)


class _Smoother:
    """Incremental smoothing, so each new batch of points costs only its own length.

    The running average acc[t] = w * acc[t-1] + (1 - w) * v[t] is computed a block at a time: inside a
    block of B points it is a product with the B x B matrix of powers of w, and only the value carried
    from block to block is a Python loop (one step per block, not per point).
    """

    BLOCK = 64

    def __init__(self, weight=SMOOTHING):
        self.weight = weight
        self.acc = 0.0
        self.debias = 1.0
        b = np.arange(self.BLOCK)
        lag = b[:, None] - b[None, :]
        self._decay = np.where(lag >= 0, weight ** np.maximum(lag, 0), 0.0)  # [t, i] = w^(t-i), i <= t
        self._carry = weight ** (b + 1)  # how much of the value carried into a block is left at t

    def feed(self, values):
        v = np.asarray(values, np.float64)
        n = len(v)
        if n == 0:
            return np.empty(0)
        w, bsz = self.weight, self.BLOCK
        blocks = -(-n // bsz)
        padded = np.zeros(blocks * bsz)
        padded[:n] = v
        local = (1 - w) * (padded.reshape(blocks, bsz) @ self._decay.T)  # each block started from zero
        carried = []
        acc, keep = self.acc, float(self._carry[-1])
        for end in local[:, -1].tolist():
            carried.append(acc)
            acc = keep * acc + end
        acc_all = (local + np.asarray(carried)[:, None] * self._carry[None, :]).ravel()[:n]
        self.acc = float(acc_all[-1])
        with np.errstate(under="ignore"):
            debias = self.debias * w ** np.arange(1, n + 1, dtype=np.float64)
        self.debias = float(debias[-1])
        return acc_all / (1 - debias)


def _plot(name: str, title: str, left: str, legend_columns: int = 1, legend_at=(-6, 6)) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setObjectName(name)
    w.setAccessibleName(title)
    w.setBackground(None)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.setTitle(title, size="10pt")
    w.setLabel("left", left)
    w.setLabel("bottom", "step")
    legend = w.addLegend(offset=legend_at, labelTextSize="8pt", colCount=legend_columns, verSpacing=-6)
    base = w.palette().base().color()
    base.setAlpha(150)
    legend.setBrush(pg.mkBrush(base))  # curves stay visible under the legend, the labels stay legible
    w.getPlotItem().getAxis("left").enableAutoSIPrefix(False)  # an accuracy of 0.9 reads 0.9, not 900 m
    # a live plot changes all over on each redraw; painting the whole view at once is far cheaper than
    # clipping a dense curve to the many small dirty rectangles of a minimal update
    w.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
    item = w.getPlotItem()
    item.setClipToView(True)
    item.setDownsampling(auto=True, mode="peak")
    return w


def _cache_axes(plot: pg.PlotWidget):
    """Keep each axis (labels and grid) as a pixmap, redrawn only when its range changes, not per paint."""
    item = plot.getPlotItem()
    for name in ("left", "bottom", "right"):
        if item.getAxis(name).isVisible():
            item.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


class LivePlots(QWidget):
    """The loss plot and the metrics plot, fed with training events and redrawn on a timer."""

    exported = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.loss_plot = _plot("lossPlot", "Loss", "loss", legend_columns=2)
        self.metrics_plot = _plot("metricsPlot", "Validation metric", "metric", legend_at=(-6, -6))
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
        # about one drawn point per pixel column: the raw curve keeps its peaks (min and max of each
        # column), the smoothed one needs only a sample
        for c, method in ((self.raw_curve, "peak"), (self.smooth_curve, "subsample")):
            c.opts["autoDownsampleFactor"] = 1.0
            c.opts["connect"] = "all"  # losses are finite (a run ends at the first that is not)
            c.setClipToView(True)
            c.setDownsampling(auto=True, method=method)
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
        item.getAxis("right").enableAutoSIPrefix(False)
        self.lr_view.setXLink(item)
        self.lr_curve = pg.PlotCurveItem(pen=pg.mkPen((161, 66, 244), width=1, style=Qt.PenStyle.DashLine))
        self.lr_view.addItem(self.lr_curve)
        item.legend.addItem(self.lr_curve, "learning rate (right)")
        item.vb.sigResized.connect(self._sync_lr_view)
        _cache_axes(self.loss_plot)
        _cache_axes(self.metrics_plot)
        self._overlays: list = []
        self._curves = (
            (self.raw_curve, self.raw),
            (self.smooth_curve, self.smoothed),
            (self.train_epoch_curve, self.train_loss),
            (self.val_curve, self.val_loss),
            (self.metric_curve, self.val_metric),
            (self.lr_curve, self.lr),
        )
        self._drawn: dict = {}  # curve -> version of its series last drawn
        self._overlay_extent = None  # ((x0, x1), (y0, y1)) of the overlaid run
        # Each plot's range follows its data, computed here from running extents rather than by
        # pyqtgraph's auto-range, which scans every point and, with clipping to the view, settles
        # only after a second paint. Zooming or panning by hand stops following; the plot's "A"
        # button starts it again.
        self._follow = {self.loss_plot: True, self.metrics_plot: True}
        self._x_total = None  # the run's length in steps, once known: the step axes span all of it
        for plot in (self.loss_plot, self.metrics_plot):
            item = plot.getPlotItem()
            item.vb.disableAutoRange()
            item.vb.sigRangeChangedManually.connect(lambda *_, p=plot: self._follow.__setitem__(p, False))
            item.autoBtn.clicked.connect(lambda *_, p=plot: self.follow(p))

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
        # a splitter: the user shares the width between the plots; neither is clipped in a narrow dock
        row = QSplitter(Qt.Orientation.Horizontal)
        row.setChildrenCollapsible(False)
        for plot in (self.loss_plot, self.metrics_plot):
            plot.setMinimumWidth(220)  # axes, labels and a little of the curves
        row.addWidget(self.loss_plot)
        row.addWidget(self.metrics_plot)
        row.setStretchFactor(0, 3)
        row.setStretchFactor(1, 2)
        lay.addWidget(row, 1)
        self.splitter = row
        self._runs: list[tuple[int, dict]] = []  # (number in the project, run)

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
        self._follow = dict.fromkeys(self._follow, True)
        self._x_total = None
        if metric_name:
            self.metric_name = metric_name
            self.metrics_plot.setLabel("left", metric_name)
        self._dirty = True

    def set_total_steps(self, total: int):
        """Span the step axes over the whole run, so that they stay put while it fills them."""
        if total and total > 0:
            self._x_total = int(total)
            self._dirty = True
            for plot, on in self._follow.items():
                if on:
                    self._fit_view(plot)

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
        key = next((k for k in metrics if k.startswith("val_") and k != "val_loss"), None)
        value = metrics[key] if key else None
        if key and key[4:] != self.metric_name and key != "val_metric":
            self.metric_name = key[4:]
            self.metrics_plot.setLabel("left", self.metric_name)
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
                self.set_total_steps(ev.total_steps)
            elif ev.kind == "step" and ev.loss is not None:
                steps.append(ev.step)
                losses.append(ev.loss)
            elif ev.kind == "epoch":
                self.add_steps(steps, losses)
                steps, losses = [], []
                self.add_epoch(ev.epoch, ev.step, ev.metrics, ev.lr)
            elif ev.kind in ("end", "error"):
                self.add_steps(steps, losses)
                steps, losses = [], []
                self.end_run()
        self.add_steps(steps, losses)

    def end_run(self):
        """The run is over (finished, stopped early or failed): the step axes fit the steps it took
        instead of the ones it planned."""
        self._x_total = None
        self._dirty = True
        for plot, on in self._follow.items():
            if on:
                self._fit_view(plot)

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
        if c.get("step"):
            self.set_total_steps(c["step"][-1])

    # ---------------------------------------------------------------------------- drawing
    def redraw(self):
        """Hand the curves whose data changed to their plots, with the loss plot's range set first."""
        if not self._dirty:
            return
        self._dirty = False
        # the ranges first, so that each curve is clipped and downsampled once, for its final view
        if self._follow[self.loss_plot] and any(self._drawn.get(c) != s.version for c, s in self._curves[:4]):
            self._fit_view(self.loss_plot)
        if self._follow[self.metrics_plot] and self._drawn.get(self.metric_curve) != self.val_metric.version:
            self._fit_view(self.metrics_plot)
        for curve, series in self._curves:
            if self._drawn.get(curve) != series.version:
                self._drawn[curve] = series.version
                curve.setData(*series.view())
        if self._drawn.get("lr") != self.lr.version:
            self._drawn["lr"] = self.lr.version
            ys = self.lr.view()[1]
            if len(ys):
                self.lr_view.setYRange(0, float(ys.max()) * 1.15, padding=0)  # rates are never negative

    def follow(self, plot=None):
        """Let a plot's range (the loss plot's by default) follow the data again."""
        plot = plot or self.loss_plot
        plot.getPlotItem().vb.disableAutoRange()
        self._follow[plot] = True
        self._fit_view(plot)

    def _fit_view(self, plot):
        loss = plot is self.loss_plot
        xs, ys = [], []
        for series in (
            (self.raw, self.smoothed, self.train_loss, self.val_loss) if loss else (self.val_metric,)
        ):
            ext = series.x_extent()
            if ext is not None and series.lo <= series.hi:
                xs += ext
                ys += (series.lo, series.hi)
        if loss and self._overlay_extent is not None:
            xs += self._overlay_extent[0]
            ys += self._overlay_extent[1]
        if not xs:
            if self._x_total:
                plot.getPlotItem().vb.setXRange(0, self._x_total, padding=0.02)
            return
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        if loss and self.log_box.isChecked():
            tiny = min((v for v in ys if v > 0), default=1e-12)
            y0, y1 = np.log10(max(y0, tiny)), np.log10(max(y1, tiny))
        # The axes change in notches, not with every point, so that they (and their tick labels) are
        # redrawn now and then rather than on each redraw: the step axis spans the whole run when its
        # length is known, else grows by tenths of its decade; the value axis snaps to round values.
        if self._x_total is not None and self._x_total >= x1:
            x0, x1 = min(x0, 0.0), float(self._x_total)
        else:
            notch = 10 ** np.floor(np.log10(max(x1, 1.0))) / 10
            x1 = max(np.ceil(x1 / notch) * notch, x0 + 1)
        if y1 <= y0:
            y0, y1 = y0 - 0.5, y1 + 0.5
        unit = 10 ** np.floor(np.log10(y1 - y0)) / 2
        y0, y1 = np.floor(y0 / unit) * unit, np.ceil(y1 / unit) * unit
        plot.getPlotItem().vb.setRange(
            xRange=(float(x0), float(x1)), yRange=(float(y0), float(y1)), padding=0.02
        )

    def _sync_lr_view(self):
        vb = self.metrics_plot.getPlotItem().vb
        self.lr_view.setGeometry(vb.sceneBoundingRect())
        self.lr_view.linkedViewChanged(vb, self.lr_view.XAxis)

    def set_log_scale(self, on: bool):
        self.loss_plot.setLogMode(y=bool(on))
        if self._follow[self.loss_plot]:
            self._fit_view(self.loss_plot)

    # ---------------------------------------------------------------------------- overlays
    def set_runs(self, runs: list[dict]):
        """The earlier runs that can be overlaid."""
        # runs are numbered by their place in the project (their ids are unique, not short)
        self._runs = [(i, r) for i, r in enumerate(runs, 1) if (r.get("curves") or {}).get("step")]
        self.overlay_box.blockSignals(True)
        self.overlay_box.clear()
        self.overlay_box.addItem("Compare with: none")
        for number, r in self._runs:
            final = ", ".join(
                f"{k} {v:.3g}" for k, v in (r.get("final") or {}).items() if isinstance(v, float)
            )
            self.overlay_box.addItem(f"Run {number} ({r.get('status')}{', ' + final if final else ''})")
        self.overlay_box.blockSignals(False)
        self._overlay_changed(0)

    def _overlay_changed(self, index: int):
        for item in self._overlays:
            self.loss_plot.removeItem(item)
        self._overlays = []
        self._overlay_extent = None
        if index <= 0 or index > len(self._runs):
            if self._follow[self.loss_plot]:
                self._fit_view(self.loss_plot)
            return
        number, run = self._runs[index - 1]
        c = run["curves"]
        colour = OVERLAY_COLOURS[(index - 1) % len(OVERLAY_COLOURS)]
        xs = np.asarray(c["step"], np.float64)
        ys = smooth(np.asarray(c["loss"], np.float64))
        finite = ys[np.isfinite(ys)]
        if len(xs) and len(finite):
            self._overlay_extent = ((float(xs[0]), float(xs[-1])), (float(finite.min()), float(finite.max())))
        item = self.loss_plot.plot(
            xs,
            ys,
            pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
            name=f"run {number} (smoothed)",
        )
        self._overlays.append(item)
        if self._follow[self.loss_plot]:
            self._fit_view(self.loss_plot)

    # ------------------------------------------------------------------------------ export
    def _ask_export(self, kind: str):
        filt = "PNG image (*.png)" if kind == "png" else "CSV file (*.csv)"
        path = file_dialogs.save_file(self, f"Export curves as {kind.upper()}", f"curves.{kind}", filt)
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


def release_legends(root) -> None:
    """Stop the plot legends under `root` from following their plots' geometry, before `root` is
    deleted. A legend is anchored to its plot through the plot's geometryChanged signal; while a
    window is being deleted, its half-destroyed plots still emit it, and the legend then reads them
    (a crash at teardown, seen once under load)."""
    for widget in root.findChildren(pg.PlotWidget):
        legend = widget.getPlotItem().legend
        parent = legend.parentItem() if legend is not None else None
        if parent is None:
            continue
        # never anchored, or released already: nothing to undo
        with contextlib.suppress(RuntimeError, TypeError, AttributeError):
            parent.geometryChanged.disconnect(legend._GraphicsWidgetAnchor__geometryChanged)
