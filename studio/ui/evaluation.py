"""Judging a finished run: confusion matrix, per-class scores with top-k accuracy, ROC, precision-recall
and calibration curves, misclassified examples; or predicted against actual values and residuals; and
the gradient flow of each layer and the weights' and gradients' histograms over training."""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics, QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from . import eval_curves

VANISHING, EXPLODING = 1e-6, 1e3  # gradient norms outside these are flagged


def gradient_flags(grad_norms: list[dict]) -> dict:
    """Per layer: 'vanishing' or 'exploding' when its last gradient norm is out of the healthy range."""
    if not grad_norms:
        return {}
    last = grad_norms[-1]
    flags = {}
    for name, v in last.items():
        if not math.isfinite(v) or v > EXPLODING:
            flags[name] = "exploding"
        elif v < VANISHING:
            flags[name] = "vanishing"
    return flags


class EvaluationView(QTabWidget):
    """Tabs that show a run's evaluation summary (see studio.training.fit)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("evaluationPanel")
        self.setAccessibleName("Evaluation")
        self.run = None
        # classification
        self.confusion = pg.PlotWidget()
        self.confusion.setObjectName("confusionMatrix")
        self.confusion.setBackground(None)
        self.confusion.setAspectLocked(True)
        self.confusion.invertY(True)
        self.confusion.setLabel("left", "true class")
        self.confusion.setLabel("bottom", "predicted class")
        self._cell_texts: list = []
        self._class_names: list[str] = []
        self._numbered = None  # whether the columns are numbered (names too wide for them)
        self.confusion.getPlotItem().vb.sigResized.connect(self._fit_cell_texts)
        self.confusion.getPlotItem().vb.sigRangeChanged.connect(self._fit_cell_texts)
        self.scores = QTableWidget(0, 4)
        self.scores.setObjectName("classScores")
        self.scores.setHorizontalHeaderLabels(["precision", "recall", "F1", "support"])
        self.scores_note = QLabel()
        self.scores_note.setObjectName("classScoresNote")
        self.scores_note.setWordWrap(True)
        self.scores_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scores_page = QWidget()
        sl = QVBoxLayout(scores_page)
        sl.setContentsMargins(0, 4, 0, 0)
        sl.addWidget(self.scores_note)
        sl.addWidget(self.scores, 1)
        self.roc = eval_curves.plot_widget("rocCurves", "false positive rate", "true positive rate", True)
        self.pr = eval_curves.plot_widget("precisionRecallCurves", "recall", "precision", True)
        self.calibration = eval_curves.plot_widget("calibrationCurve", "mean predicted probability", "", True)
        self.residual_hist = eval_curves.plot_widget(
            "residualHistogram", "residual (actual - predicted)", "test examples"
        )
        self.histograms = eval_curves.HistogramsView()
        self.wrong = QWidget()
        self.wrong_grid = QGridLayout(self.wrong)
        wrong_scroll = QScrollArea()
        wrong_scroll.setWidgetResizable(True)
        wrong_scroll.setWidget(self.wrong)
        # regression
        self.scatter = pg.PlotWidget()
        self.scatter.setObjectName("predictedVsActual")
        self.scatter.setBackground(None)
        self.scatter.setLabel("bottom", "actual")
        self.scatter.setLabel("left", "predicted")
        self.residuals = pg.PlotWidget()
        self.residuals.setBackground(None)
        self.residuals.setLabel("bottom", "predicted")
        self.residuals.setLabel("left", "residual (actual - predicted)")
        # gradient flow
        self.flow = pg.PlotWidget()
        self.flow.setObjectName("gradientFlow")
        self.flow.setBackground(None)
        self.flow.setLogMode(y=True)
        self.flow.setLabel("bottom", "epoch")
        self.flow.setLabel("left", "gradient norm")
        # the legend sits beside the plot, never over its lines
        self.flow_legend = QLabel()
        self.flow_legend.setObjectName("gradientFlowLegend")
        self.flow_legend.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.flow_legend.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        legend_scroll = QScrollArea()
        legend_scroll.setWidgetResizable(True)
        legend_scroll.setWidget(self.flow_legend)
        legend_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        legend_scroll.setMaximumWidth(220)
        self.flow_note = QLabel()
        self.flow_note.setWordWrap(True)
        flow_page = QWidget()
        fl = QVBoxLayout(flow_page)
        fl.addWidget(self.flow_note)
        row = QHBoxLayout()
        row.addWidget(self.flow, 1)
        row.addWidget(legend_scroll)
        fl.addLayout(row, 1)
        self.empty = QLabel("Train the model to see how it does on the test split.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._pages = {
            "confusion": (self.confusion, "Confusion matrix"),
            "scores": (scores_page, "Per-class scores"),
            "roc": (self.roc, "ROC"),
            "pr": (self.pr, "Precision-recall"),
            "calibration": (self.calibration, "Calibration"),
            "wrong": (wrong_scroll, "Misclassified"),
            "scatter": (self.scatter, "Predicted vs actual"),
            "residuals": (self.residuals, "Residuals"),
            "residual_hist": (self.residual_hist, "Residual histogram"),
            "flow": (flow_page, "Gradient flow"),
            "histograms": (self.histograms, "Histograms"),
        }
        self.addTab(self.empty, "Evaluation")

    def show_run(self, run: dict | None, input_shape=None):
        """Fill the tabs from a run summary; `input_shape` tells images from table rows."""
        self.run = run
        while self.count():
            self.removeTab(0)
        ev = (run or {}).get("evaluation")
        if not ev:
            self.addTab(self.empty, "Evaluation")
            return
        if ev["task"] == "classification":
            self._show_classification(ev, input_shape)
            keys = ["confusion", "scores", "roc", "pr", "calibration", "wrong"]
            keys = [k for k in keys if k not in ("roc", "pr", "calibration") or ev.get(k)]
        else:
            self._show_regression(ev)
            keys = ["scatter", "residuals", "residual_hist"]
        self._show_flow(run.get("grad_norms") or [])
        keys.append("flow")
        if (run.get("histograms") or {}).get("epochs"):
            self.histograms.show_record(run["histograms"])
            keys.append("histograms")
        for key in keys:
            self.addTab(*self._pages[key])

    def tab_titles(self) -> list[str]:
        """The titles of the tabs shown."""
        return [self.tabText(i) for i in range(self.count())]

    def show_tab(self, key: str) -> None:
        """Bring one page (a key of the pages: "roc", "histograms"...) to the front."""
        self.setCurrentWidget(self._pages[key][0])

    def _show_classification(self, ev, input_shape):
        cm = np.asarray(ev["confusion"], np.float64)
        k = cm.shape[0]
        self.confusion.clear()
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        img = pg.ImageItem(norm.T)  # ImageItem is indexed [x, y]
        img.setColorMap(pg.colormap.get("viridis"))
        img.setLevels((0, 1))
        self.confusion.addItem(img)
        self._cell_texts = []
        for i in range(k):
            for j in range(k):
                t = pg.TextItem(str(int(cm[i, j])), color="w" if norm[i, j] < 0.6 else "k", anchor=(0.5, 0.5))
                t.setPos(j + 0.5, i + 0.5)
                self.confusion.addItem(t)
                self._cell_texts.append(t)
        names = ev.get("classes") or [str(i) for i in range(k)]
        self._class_names = [str(n) for n in names]
        self._numbered = None
        self._fit_cell_texts()
        self.scores.setRowCount(k)
        self.scores.setVerticalHeaderLabels([str(n) for n in names])
        for i in range(k):
            for col, key in enumerate(("precision", "recall", "f1", "support")):
                v = ev[key][i]
                item = QTableWidgetItem(f"{v:.3f}" if key != "support" else str(int(v)))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.scores.setItem(i, col, item)
        self._show_misclassified(ev, names, input_shape)
        self._show_class_curves(ev)

    def _show_class_curves(self, ev) -> None:
        """Top-k accuracy and the areas above the table; the ROC, precision-recall and calibration plots."""
        parts = [f"top-{k} accuracy {v:.3f}" for k, v in enumerate(ev.get("top_k") or [], 1)]
        if ev.get("roc_auc_macro") is not None:
            parts.append(f"ROC AUC (macro, one-vs-rest) {ev['roc_auc_macro']:.3f}")
        if ev.get("average_precision_macro") is not None:
            parts.append(f"average precision (macro) {ev['average_precision_macro']:.3f}")
        if ev.get("test_size") is not None:
            parts.append(f"{ev['test_size']} test examples")
        self.scores_note.setText(" · ".join(parts))
        self.scores_note.setVisible(bool(parts))
        if ev.get("roc"):
            eval_curves.show_roc(self.roc, ev["roc"])
            eval_curves.show_pr(self.pr, ev["pr"])
        if ev.get("calibration"):
            eval_curves.show_calibration(self.calibration, ev["calibration"])

    def _fit_cell_texts(self, *_):
        """Counts sized to their cells, and hidden when the cells are too small to hold them legibly."""
        if not self._cell_texts:
            return
        vb = self.confusion.getPlotItem().vb
        (x0, x1), _ = vb.viewRange()
        cell = vb.width() / max(x1 - x0, 1e-9)  # pixels per cell (the aspect is locked)
        size = int(min(11, cell * 0.4))
        font = QFont(self.font())
        font.setPixelSize(max(size, 1))
        for t in self._cell_texts:
            t.setFont(font)
            t.setVisible(size >= 7)
        self._label_classes(cell)

    def _label_classes(self, cell: float) -> None:
        """Whole class names on both axes when they fit under the columns; else the columns are numbered
        and the rows carry the numbers with the names, so that no name is ever cut."""
        names = self._class_names
        left, bottom = self.confusion.getAxis("left"), self.confusion.getAxis("bottom")
        metrics = QFontMetrics(bottom.style["tickFont"] or self.font())
        numbered = any(metrics.horizontalAdvance(n) > cell - 6 for n in names)
        if numbered == self._numbered:
            return
        self._numbered = numbered
        rows = [f"{i + 1}  {n}" if numbered else n for i, n in enumerate(names)]
        columns = [str(i + 1) for i in range(len(names))] if numbered else names
        left.setTicks([[(i + 0.5, n) for i, n in enumerate(rows)]])
        bottom.setTicks([[(i + 0.5, n) for i, n in enumerate(columns)]])
        # wide enough for the longest name: the axis drops labels that do not fit
        widest = max(
            (QFontMetrics(left.style["tickFont"] or self.font()).horizontalAdvance(n) for n in rows),
            default=0,
        )
        left.setWidth(widest + 24)
        self.confusion.setLabel(
            "bottom", "predicted class (numbered as the rows)" if numbered else "predicted class"
        )

    def _show_misclassified(self, ev, names, input_shape):
        while self.wrong_grid.count():
            w = self.wrong_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        examples = ev.get("misclassified") or []
        if not examples:
            self.wrong_grid.addWidget(QLabel("No test example was misclassified."), 0, 0)
            return
        is_image = input_shape is not None and len(input_shape) == 3
        if not is_image and all("raw" in ex for ex in examples):
            self.wrong_grid.addWidget(_raw_table(examples, ev.get("columns"), names), 0, 0)
            return
        for n, ex in enumerate(examples):
            caption = f"true {names[ex['true']]}, predicted {names[ex['pred']]}"
            values = np.asarray(ex["input"], np.float64)
            if is_image and values.ndim == 3:  # a run of an earlier design may have kept table rows
                cell = QLabel()
                cell.setPixmap(_image_pixmap(values, 72))
                cell.setToolTip(caption)
                text = QLabel(caption)
                text.setWordWrap(True)
                box = QWidget()
                bl = QVBoxLayout(box)
                bl.addWidget(cell, 0, Qt.AlignmentFlag.AlignHCenter)
                bl.addWidget(text)
                self.wrong_grid.addWidget(box, n // 6, n % 6)
            else:
                shown = ", ".join(f"{v:.3g}" for v in values.ravel()[:12])
                self.wrong_grid.addWidget(QLabel(f"{caption}: [{shown}]"), n, 0)

    def _show_regression(self, ev):
        actual = np.asarray(ev["actual"], np.float64)
        pred = np.asarray(ev["predicted"], np.float64)
        self.scatter.clear()
        self.scatter.plot(actual, pred, pen=None, symbol="o", symbolSize=5, symbolBrush=(66, 133, 244, 150))
        if len(actual):
            lo, hi = float(min(actual.min(), pred.min())), float(max(actual.max(), pred.max()))
            self.scatter.plot([lo, hi], [lo, hi], pen=pg.mkPen((128, 128, 128), style=Qt.PenStyle.DashLine))
        self.residuals.clear()
        self.residuals.plot(
            pred, actual - pred, pen=None, symbol="o", symbolSize=5, symbolBrush=(234, 67, 53, 150)
        )
        self.residuals.addLine(y=0, pen=pg.mkPen((128, 128, 128)))
        eval_curves.show_residual_histogram(self.residual_hist, actual, pred)
        errors = [(label, ev.get(key)) for label, key in (("MAE", "mae"), ("RMSE", "rmse"), ("R²", "r2"))]
        title = " · ".join(f"{label} {v:.4g}" for label, v in errors if v is not None)
        self.scatter.setTitle(f"test: {title}" if title else None, size="9pt")

    def _show_flow(self, grad_norms):
        self.flow.clear()
        layers = []
        for d in grad_norms:
            for name in d:
                if name not in layers:
                    layers.append(name)
        epochs = np.arange(1, len(grad_norms) + 1)
        values, keys = [], []
        for i, name in enumerate(layers):
            ys = np.array([d.get(name, np.nan) for d in grad_norms], np.float64)
            values.append(ys)
            colour = pg.intColor(i, hues=max(len(layers), 1))
            keys.append(f'<span style="color:{colour.name()}">&#9632;</span>&nbsp;{html.escape(name)}')
            self.flow.plot(
                epochs,
                np.maximum(ys, 1e-12),
                pen=pg.mkPen(colour, width=2),
                name=name,
                symbol="o",
                symbolSize=4,
                symbolBrush=colour,
            )
        self.flow.getAxis("left").setTicks(_log_ticks(np.concatenate(values)) if values else None)
        self.flow_legend.setText("<br>".join(keys))
        flags = gradient_flags(grad_norms)
        if flags:
            self.flow_note.setText("Check: " + "; ".join(f"{n} looks {f}" for n, f in flags.items()))
            self.flow_note.setStyleSheet("color: #d93025;")
        else:
            self.flow_note.setText(
                "Gradient norm of each layer at the end of every epoch; all in a healthy range."
            )
            self.flow_note.setStyleSheet("")


def _raw_table(examples, columns, names) -> QTableWidget:
    """The misclassified rows as the data file has them: true and predicted class, then each column."""
    width = max(len(ex["raw"]) for ex in examples)
    columns = list(columns or [f"column {i + 1}" for i in range(width)])
    table = QTableWidget(len(examples), 2 + len(columns))
    table.setObjectName("misclassifiedRows")
    table.setHorizontalHeaderLabels(["true", "predicted", *columns])
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, ex in enumerate(examples):
        cells = [
            names[ex["true"]],
            names[ex["pred"]],
            *("" if v is None else str(v) for v in ex["raw"]),
        ]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c >= 2 and isinstance(ex["raw"][c - 2], (int, float)):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
    return table


def _log_ticks(values: np.ndarray):
    """Labels for a log axis: the decades, and 2 and 5 times them when few decades are spanned (the
    axis's own choice labels every 2..9 tick, which crowds a short plot)."""
    v = values[np.isfinite(values) & (values > 0)]
    if not len(v):
        return None
    lo, hi = int(np.floor(np.log10(v.min()))), int(np.ceil(np.log10(v.max())))
    steps = (1, 2, 5) if hi - lo <= 2 else (1,)
    every = max(1, (hi - lo) // 6)  # at most about six decade labels
    major = [(float(e), f"{10.0**e:g}") for e in range(lo, hi + 1, every)]
    minor = [(float(np.log10(m * 10.0**e)), f"{m * 10.0**e:g}") for e in range(lo, hi) for m in steps[1:]]
    return [major, minor]


def _image_pixmap(arr: np.ndarray, size: int) -> QPixmap:
    """A (C, H, W) float image in [0, 1] (or any range) as a grey or colour pixmap."""
    a = arr
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = np.moveaxis(a, 0, -1)
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    a = np.ascontiguousarray((a * 255).astype(np.uint8))
    if a.ndim == 3 and a.shape[2] == 1:
        a = np.ascontiguousarray(a[:, :, 0])
    if a.ndim == 2:
        img = QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_Grayscale8)
    else:
        img = QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(img.copy()).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )
