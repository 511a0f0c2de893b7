"""Runs of a project compared: tick any of them to overlay their loss and metric curves (one colour per
run) and to see their settings (those that differ highlighted) and outcomes in one table."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.design.run_table import outcome_rows, setting_rows

from .eval_curves import colour, fresh_legend, plot_widget

DIFFERS = QColor(255, 213, 79, 110)  # the background of a setting that differs between the runs


def _swatch(c: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(c)
    return QIcon(pixmap)


def run_label(number: int, run: dict) -> str:
    """How a run is named in the list, the legend and the table: its number in the project, and its
    name when it has one (a compressed variant kept as a run)."""
    name = run.get("name")
    return f"run {number}" + (f" ({name})" if name else "")


class RunComparison(QWidget):
    """The runs of a project in a checkable list; the ticked ones overlaid and tabled."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("runComparison")
        self.setAccessibleName("Compare runs")
        self.runs: list[dict] = []
        self.run_list = QListWidget()
        self.run_list.setObjectName("comparedRuns")
        self.run_list.itemChanged.connect(lambda _item: self.refresh())
        self.all_button = QPushButton("All")
        self.all_button.clicked.connect(lambda: self._tick_all(True))
        none_button = QPushButton("None")
        none_button.clicked.connect(lambda: self._tick_all(False))
        self.differences_only = QCheckBox("Only settings that differ")
        self.differences_only.setObjectName("differencesOnly")
        self.differences_only.toggled.connect(lambda _on: self.refresh())
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("Runs to compare:"))
        ll.addWidget(self.run_list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.all_button)
        buttons.addWidget(none_button)
        ll.addLayout(buttons)
        ll.addWidget(self.differences_only)
        self.loss_plot = plot_widget("comparedLoss", "epoch", "loss")
        self.loss_plot.setTitle("solid: validation · dotted: training", size="8pt")
        self.metric_plot = plot_widget("comparedMetric", "epoch", "validation metric")
        self.table = QTableWidget()
        self.table.setObjectName("comparedSettings")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.note = QLabel()
        self.note.setWordWrap(True)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(plots)
        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.note)
        tl.addWidget(self.table, 1)
        right.addWidget(table_box)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        row = QSplitter(Qt.Orientation.Horizontal)
        row.addWidget(left)
        row.addWidget(right)
        row.setStretchFactor(1, 1)
        row.setSizes([230, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(row)

    def set_runs(self, runs: list[dict], checked: list[int] | None = None) -> None:
        """Offer a project's runs; `checked` (indices) are ticked, else the ones ticked before (by id)
        and the runs new since then, or the last two of a project shown for the first time."""
        known = {r.get("id") for r in self.runs}
        before = {r.get("id") for r, on in zip(self.runs, self._ticks()) if on}
        self.runs = list(runs)
        ids = [r.get("id") for r in self.runs]
        if checked is None and known & set(ids):  # the same project: its new runs join the ticked ones
            checked = [i for i, rid in enumerate(ids) if rid in before or rid not in known]
        elif checked is None:
            checked = list(range(max(0, len(ids) - 2), len(ids)))
        self.run_list.blockSignals(True)
        self.run_list.clear()
        for i, run in enumerate(self.runs):
            final = ", ".join(
                f"{k.replace('_', ' ')} {v:.3g}" for k, v in (run.get("final") or {}).items() if v is not None
            )
            item = QListWidgetItem(
                f"{run_label(i + 1, run)}: {run.get('status')}" + (f", {final}" if final else "")
            )
            item.setToolTip(f"{item.text()}\nid {run.get('id')}, started {run.get('started')}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if i in checked else Qt.CheckState.Unchecked)
            self.run_list.addItem(item)
        self.run_list.blockSignals(False)
        self.refresh()

    def _ticks(self) -> list[bool]:
        return [
            self.run_list.item(i).checkState() == Qt.CheckState.Checked for i in range(self.run_list.count())
        ]

    def _tick_all(self, on: bool) -> None:
        self.run_list.blockSignals(True)
        for i in range(self.run_list.count()):
            self.run_list.item(i).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.run_list.blockSignals(False)
        self.refresh()

    def chosen(self) -> list[tuple[int, dict]]:
        """(number in the project, run) of each ticked run."""
        return [(i + 1, r) for i, (r, on) in enumerate(zip(self.runs, self._ticks())) if on]

    def refresh(self) -> None:
        chosen = self.chosen()
        self._draw_curves(chosen)
        self._fill_table(chosen)

    def _draw_curves(self, chosen) -> None:
        metrics = {r.get("metric") for _, r in chosen if r.get("metric")}
        self.metric_plot.setLabel(
            "left", f"validation {metrics.pop()}" if len(metrics) == 1 else "validation metric"
        )
        fresh_legend(self.loss_plot, (-10, 10))  # losses fall: the top right stays clear
        fresh_legend(self.metric_plot, (-10, -10))  # metrics rise: the bottom right does
        shown = self._ticks()
        self.run_list.blockSignals(True)  # an icon changes the item: no refresh for that
        for i in range(self.run_list.count()):  # the list's swatches match the curves' colours
            n = sum(shown[:i])
            self.run_list.item(i).setIcon(_swatch(colour(n, len(chosen))) if shown[i] else QIcon())
        self.run_list.blockSignals(False)
        for n, (number, run) in enumerate(chosen):
            c = run.get("curves") or {}
            epochs = np.asarray(c.get("epoch") or [], np.float64)
            pen = pg.mkPen(colour(n, len(chosen)), width=2)
            label = run_label(number, run)
            for plot, key, style, name in (
                (self.loss_plot, "val_loss", Qt.PenStyle.SolidLine, label),
                (self.loss_plot, "train_loss", Qt.PenStyle.DotLine, None),
                (self.metric_plot, "val_metric", Qt.PenStyle.SolidLine, label),
            ):
                ys = np.array([np.nan if v is None else v for v in c.get(key) or []], np.float64)
                if len(ys) and len(ys) == len(epochs) and np.isfinite(ys).any():
                    p = pg.mkPen(pen.color(), width=2, style=style)
                    plot.plot(
                        epochs,
                        ys,
                        pen=p,
                        name=name,
                        symbol="o" if len(ys) < 30 else None,
                        symbolSize=4,
                        symbolBrush=pen.color(),
                        connect="finite",
                    )
        for plot in (self.loss_plot, self.metric_plot):
            plot.autoRange()

    def _fill_table(self, chosen) -> None:
        runs = [r for _, r in chosen]
        settings = setting_rows(runs) if runs else []
        # what differs first, then how the runs ended, then the settings they share
        rows = [r for r in settings if r.differs] + (outcome_rows(runs) if runs else [])
        if not self.differences_only.isChecked():
            rows += [r for r in settings if not r.differs]
        self.table.clear()
        self.table.setColumnCount(len(runs))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels([run_label(n, r) for n, r in chosen])
        self.table.setVerticalHeaderLabels([r.title for r in rows])
        bold = QFont(self.font())
        bold.setBold(True)
        for i, row in enumerate(rows):
            header = self.table.verticalHeaderItem(i)
            header.setToolTip(row.name)
            for j, text in enumerate(row.values):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row.differs and row.kind == "setting":
                    item.setBackground(QBrush(DIFFERS))
                    item.setFont(bold)
                self.table.setItem(i, j, item)
            if row.differs and row.kind == "setting":
                header.setFont(bold)
        self.table.resizeColumnsToContents()
        differing = [r.title for r in rows if r.differs and r.kind == "setting"]
        if len(runs) < 2:
            self.note.setText("Tick two runs or more to compare them.")
        elif differing:
            self.note.setText("Settings that differ (highlighted): " + ", ".join(differing))
        else:
            self.note.setText("These runs used the same settings.")

    def differing_settings(self) -> list[str]:
        """The dotted names of the settings that differ between the ticked runs."""
        return [r.name for r in setting_rows([r for _, r in self.chosen()]) if r.differs]
