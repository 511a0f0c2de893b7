"""The Compress panel: prune, fine-tune and quantize a trained run in the worker process, compare the
variants in a table and a plot, keep one as a run, or export it (script or ONNX)."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.training.compress import SETTINGS, CompressError, discard, keep_variant
from studio.training.worker import TrainingProcess

POLL_MS = 50
NAME_WIDTH = 230  # pixels: longer variant names are elided, and whole in their tooltip
COLUMNS = ("variant", "parameters", "non-zero", "size", "ratio", "metric", "change", "latency")
EXPORTS = {"studio": "Studio script", "torch": "PyTorch script", "onnx": "ONNX file (onnxruntime)"}


def _field(setting):
    """An editor for one declared option, its tooltip the option's help."""
    if setting.kind is bool:
        w = QCheckBox()
    elif setting.choices:
        w = QComboBox()
        w.addItems(list(setting.choices))
    elif setting.kind is int:
        w = QSpinBox(minimum=int(setting.low), maximum=int(setting.high))
    else:
        w = QDoubleSpinBox(minimum=setting.low, maximum=setting.high, singleStep=0.05, decimals=2)
    w.setObjectName(f"compress_{setting.name}")
    w.setToolTip(setting.help)
    _set(w, setting.default)
    return w


def _set(w, value):
    if isinstance(w, QCheckBox):
        w.setChecked(bool(value))
    elif isinstance(w, QComboBox):
        w.setCurrentText(str(value))
    else:
        w.setValue(value)


def _get(w):
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QComboBox):
        return w.currentText()
    return w.value()


def row_cells(row: dict, base: dict) -> list[str]:
    """The table's cells for a variant, with size and metric against the first row."""
    value, ref = row.get("value"), base.get("value")
    return [
        row["name"],
        f"{row['parameters']:,}",
        f"{row['nonzero']:,}",
        f"{row['size'] / 1024:.1f} KiB",
        f"{base['size'] / row['size']:.2f}x",
        "-" if value is None else f"{value:.4f}",
        "-" if value is None or ref is None else f"{100 * (value - ref):+.1f} pts",
        "-" if row.get("latency") is None else f"{row['latency'] * 1e6:.1f} us",
    ]


class CompressPanel(QWidget):
    """Compresses a run of the project away from the GUI thread and shows what each variant costs."""

    runKept = Signal(object)  # the new run's summary
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("compressPanel")
        self.project = None
        self.process: TrainingProcess | None = None
        self.rows: list[dict] = []
        self.folder: str | None = None  # where the worker writes the variants of the last compression
        self.run_box = QComboBox(objectName="compressRun")
        self.run_box.setToolTip("the trained run to compress")
        self.fields = {s.name: _field(s) for s in SETTINGS}
        self.start_button = QPushButton("Compress", objectName="compressStart")
        self.stop_button = QPushButton("Stop", objectName="compressStop", enabled=False)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar(objectName="compressProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.status = QLabel("Train a run, then compress it here.", objectName="compressStatus")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), objectName="compressTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.plot = pg.PlotWidget(objectName="compressPlot")
        self.plot.setBackground(None)
        self.plot.setLabel("bottom", "size of the weights file (KiB)")
        self.plot.setLabel("left", "test metric")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.keep_button = QPushButton("Keep as Run", objectName="compressKeep", enabled=False)
        self.keep_button.clicked.connect(self.keep_selected)
        self.export_box = QComboBox(objectName="compressExportTarget")
        for key, label in EXPORTS.items():
            self.export_box.addItem(label, key)
        self.export_button = QPushButton("Export...", objectName="compressExport", enabled=False)
        self.export_button.clicked.connect(self._ask_export)
        self._layout()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    def _layout(self):
        """Options in a grid across the top, the table and the plot below them, actions at the bottom."""
        grid = QGridLayout()
        grid.addWidget(QLabel("Run"), 0, 0)
        grid.addWidget(self.run_box, 0, 1, 1, 3)
        grid.addWidget(self.start_button, 0, 4)
        grid.addWidget(self.stop_button, 0, 5)
        for i, setting in enumerate(SETTINGS):
            row, col = 1 + i // 3, 2 * (i % 3)
            grid.addWidget(QLabel(setting.label), row, col)
            grid.addWidget(self.fields[setting.name], row, col + 1)
        for col in (1, 3, 5):
            grid.setColumnStretch(col, 1)
        status = QHBoxLayout()
        status.addWidget(self.progress, 1)
        status.addWidget(self.status, 2)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([760, 220])
        actions = QHBoxLayout()
        actions.addWidget(self.keep_button)
        actions.addStretch(1)
        actions.addWidget(QLabel("Export as"))
        actions.addWidget(self.export_box)
        actions.addWidget(self.export_button)
        top = QVBoxLayout(self)
        top.addLayout(grid)
        top.addLayout(status)
        top.addWidget(split, 1)
        top.addLayout(actions)

    # ------------------------------------------------------------------ project and runs
    def set_project(self, project):
        if self.running:
            self.shutdown()
        self.project = project
        self._clear()
        self.refresh_runs()

    def refresh_runs(self, select=None):
        """List the project's runs with weights, newest first."""
        self.run_box.clear()
        runs = [
            r for r in (self.project.runs if self.project else []) if isinstance(r, dict) and r.get("weights")
        ]
        for run in reversed(runs):
            final = run.get("final") or {}
            metric = next(
                (f"{k.removeprefix('test_')} {v:.4f}" for k, v in final.items() if k != "test_loss"), ""
            )
            what = (run.get("message") or "") if run.get("compression") else "trained"
            self.run_box.addItem(f"{run['id']} · {what} · {metric}".strip(" ·"), run["id"])
        if select is not None:
            self.run_box.setCurrentIndex(max(0, self.run_box.findData(select)))
        self.start_button.setEnabled(bool(runs) and not self.running)

    def options(self) -> dict:
        return {name: _get(w) for name, w in self.fields.items()}

    @property
    def running(self) -> bool:
        return self.process is not None and not self.process.finished

    # ------------------------------------------------------------------ the work, in the worker
    def start(self):
        if self.project is None or self.running:
            return
        if self.run_box.count() == 0:
            self._say("Train the design first: there is no run with weights to compress.", error=True)
            return
        from studio.training.compress import check_options

        try:
            options = check_options(self.options())
        except CompressError as e:
            self._say(str(e), error=True)
            return
        self._clear()
        if self.process is not None:
            self.process.reap()
        self.folder = tempfile.mkdtemp(prefix="studio-compress-")
        job = {"options": options, "run_id": self.run_box.currentData(), "folder": self.folder}
        self.process = TrainingProcess(self.project, job=job)
        self.process.start()
        self._set_running(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat("starting...")
        self._say("Starting the compression process...")
        self.timer.start()

    def stop(self):
        if self.running:
            self.process.stop()
            self._say("Stopping after the current step...")

    def shutdown(self):
        """End any compression at once and remove its files (the window is closing)."""
        if self.process is not None:
            self.process.kill()
        self.timer.stop()
        self._set_running(False)
        self._clear()

    def poll(self):
        if self.process is None:
            return
        if self.process.finished:
            if self.process.reap():
                self.timer.stop()
            return
        for ev in self.process.poll():
            if ev.kind == "start":
                self.progress.setRange(0, max(ev.total_steps, 1))
                self.progress.setValue(0)
                self._say(ev.message)
            elif ev.kind in ("step", "variant"):
                self.progress.setValue(ev.step)
                self.progress.setFormat(f"{ev.message} · {ev.step}/{ev.total_steps}")
                if ev.kind == "variant":
                    self._add_row(ev.metrics)
            elif ev.kind in ("end", "error"):
                self._finish(ev)

    def _finish(self, ev):
        self._set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if ev.kind == "end" else 0)
        if ev.kind == "error":
            self.progress.setFormat("failed")
            self._say(ev.message, error=True)
            return
        self.progress.setFormat(ev.status)
        made = len(self.rows)
        self._say(
            f"{'Stopped' if ev.status == 'stopped' else 'Done'}: {made} variant{'s' if made != 1 else ''}. "
            "Select one to keep it as a run or to export it."
        )
        if self.rows:
            self.table.selectRow(len(self.rows) - 1)

    # ------------------------------------------------------------------ table and plot
    def _clear(self):
        discard(self.rows)  # the variant files of the last compression (kept ones were copied)
        if self.folder and not self.running:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        self.rows = []
        self.table.setRowCount(0)
        self.plot.clear()
        self._selection_changed()

    def _add_row(self, row: dict):
        self.rows.append(row)
        base = self.rows[0]
        self.table.setHorizontalHeaderItem(5, QTableWidgetItem(base.get("metric", "metric")))
        i = self.table.rowCount()
        self.table.insertRow(i)
        for j, text in enumerate(row_cells(row, base)):
            item = QTableWidgetItem(text)
            item.setToolTip(row["name"] if j == 0 else text)
            if j:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(0, min(self.table.columnWidth(0), NAME_WIDTH))
        self._draw()

    def _draw(self):
        """One point per variant: file size against the test metric, Studio's and onnxruntime's apart."""
        self.plot.clear()
        self.plot.setLabel("left", f"test {self.rows[0].get('metric', 'metric')}")
        for runtime, colour in (("studio", (66, 133, 244)), ("onnxruntime", (234, 67, 53))):
            pts = [
                (i, r)
                for i, r in enumerate(self.rows)
                if r.get("runtime") == runtime and r.get("value") is not None
            ]
            if not pts:
                continue
            xs = [r["size"] / 1024 for _, r in pts]
            ys = [r["value"] for _, r in pts]
            self.plot.plot(xs, ys, pen=None, symbol="o", symbolBrush=colour, symbolSize=9, name=runtime)
            for (i, _), x, y in zip(pts, xs, ys):
                label = pg.TextItem(str(i + 1), color=colour, anchor=(0, 1))
                label.setPos(x, y)
                self.plot.addItem(label)

    def selected(self) -> dict | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.rows[rows[0].row()] if rows else None

    def _selection_changed(self):
        row = self.selected()
        keepable = row is not None and row["key"] != "float32" and row.get("runtime") == "studio"
        self.keep_button.setEnabled(keepable and not self.running)
        self.export_button.setEnabled(row is not None and not self.running)

    # ------------------------------------------------------------------ keep and export
    def keep_selected(self) -> dict | None:
        row = self.selected()
        if row is None or self.project is None:
            return None
        try:
            run = keep_variant(self.project, row)
        except (CompressError, OSError) as e:
            self._say(f"Could not keep the variant: {e}", error=True)
            return None
        self._say(f"Kept {row['name']} as run {run['id']}.")
        self.refresh_runs(select=run["id"])
        self.runKept.emit(run)
        return run

    def export_selected(self, target: str, path) -> list[Path]:
        from studio.training.compress_script import write_variant

        return write_variant(self.project, self.selected(), target, Path(path))

    def _ask_export(self):
        row, target = self.selected(), self.export_box.currentData()
        if row is None:
            return
        suffix = {"studio": ".py", "torch": "_torch.py", "onnx": ".onnx"}[target]
        stem = Path(self.project.path).stem if self.project.path else "model"
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", f"{stem}-{row['key']}")
        filt = "ONNX files (*.onnx)" if target == "onnx" else "Python files (*.py)"
        path, _ = QFileDialog.getSaveFileName(self, "Export the variant", stem + suffix, filt)
        if not path:
            return
        try:
            written = self.export_selected(target, path)
        except (OSError, ValueError) as e:
            self._say(f"Could not export: {e}", error=True)
            return
        self._say("Wrote " + ", ".join(str(p) for p in written))

    def _set_running(self, running: bool):
        self.start_button.setEnabled(not running and self.run_box.count() > 0)
        self.stop_button.setEnabled(running)
        for w in (*self.fields.values(), self.run_box):
            w.setEnabled(not running)
        self._selection_changed()

    def _say(self, text: str, error: bool = False):
        self.status.setText(text)
        self.status.setStyleSheet("color: #d93025;" if error else "")
        self.message.emit(text)
