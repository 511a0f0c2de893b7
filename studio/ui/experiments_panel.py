"""The Experiments panel: define a sweep over training settings and layer parameters, run it in worker
processes (a thread of the panel only asks the search and reads the trials' events), and compare the
trials in a sortable table, a parallel-coordinates plot and their loss curves; apply the best."""

from __future__ import annotations

import copy
import math
import os
import queue
import threading

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
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

from studio.design.search_space import SpaceError, candidates, dimension, parse, starting_text
from studio.training.sweep import METHODS, OBJECTIVES, Sweep, SweepError, SweepEvent, best_trial

POLL_MS = 50
EVENTS_PER_TICK = 200  # the events handled per poll, so that a burst never holds the window up
BEST_COLOUR = QColor(255, 196, 0, 90)
CMAP = pg.colormap.get("viridis")


class _Number(QTableWidgetItem):
    """A cell that sorts by its number, not its text (a missing number sorts last)."""

    def __init__(self, value, text=None):
        super().__init__(text if text is not None else ("-" if value is None else f"{value:.4g}"))
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other):
        a, b = self.value, getattr(other, "value", None)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        if a is None or b is None:
            return b is None and a is not None
        return str(a) < str(b)


def _cell(value) -> QTableWidgetItem:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _Number(value, str(value))
    return _Number(value)


def _position(param: dict, value) -> float | None:
    """Where `value` sits on a parameter's axis, from 0 to 1."""
    if "values" in param:
        values = param["values"]
        if value not in values:
            return None
        return 0.5 if len(values) == 1 else values.index(value) / (len(values) - 1)
    lo, hi, v = param["low"], param["high"], value
    if param.get("scale") == "log":
        lo, hi, v = math.log(lo), math.log(hi), math.log(max(v, 1e-300))
    return min(1.0, max(0.0, (v - lo) / (hi - lo))) if hi > lo else 0.5


class SetTrainingOp:
    """An undoable change of the project's training settings (they live in the project, not the design);
    `shown()` is called after each change, so that the training panel shows the settings."""

    def __init__(self, project, old: dict, new: dict, shown):
        self.project, self.old, self.new, self.shown = project, copy.deepcopy(old), copy.deepcopy(new), shown

    def do(self, design):
        self._set(self.new)

    def undo(self, design):
        self._set(self.old)

    def _set(self, training):
        self.project.training = copy.deepcopy(training)
        self.shown()


def apply_ops(project, dims, values, shown) -> list:
    """The operations that set a trial's values: its training settings, then its layer parameters."""
    from studio.design.search_space import changes

    from .commands import SetParamOp

    training, params = changes(project, dims, values)
    ops = [SetTrainingOp(project, project.training, training, shown)] if training != project.training else []
    return ops + [SetParamOp(node, name, old, new) for node, name, old, new in params if old != new]


def _ends(param: dict) -> tuple:
    """The values at the bottom and the top of a parameter's axis."""
    if "values" in param:
        return param["values"][0], param["values"][-1]
    return param["low"], param["high"]


def _abbreviated(name: str, limit: int = 14) -> str:
    """An axis's name short enough that neighbouring names do not run into each other."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _run_sweep(sweep: Sweep, out: queue.Queue) -> None:
    """The panel's thread: ask the search, start and read the trials' processes; hand over events."""
    try:
        for ev in sweep.run():
            out.put(ev)
    except (ValueError, OSError, RuntimeError) as e:
        out.put(SweepEvent("error", message=f"the sweep failed: {e}"))
        sweep.kill()
    finally:
        out.put(None)


class ExperimentsPanel(QWidget):
    """A sweep of the project: its parameters and options, its trials and the best settings."""

    sweepFinished = Signal(object)  # the run kept from the best trial (None when none completed)
    applyBest = Signal(object, object)  # the sweep's dimensions and the best trial's values
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("experimentsPanel")
        self.project = None
        self.node_id: str | None = None
        self.sweep: Sweep | None = None
        self.thread: threading.Thread | None = None
        self.events: queue.Queue = queue.Queue()
        self.record: dict | None = None  # the sweep shown: running, or the project's last
        self._make_definition()
        self._make_results()
        self._layout()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    # ------------------------------------------------------------------ widgets
    def _make_definition(self):
        self.pick = QComboBox(objectName="sweepPick")
        self.pick.setToolTip("a training setting, or a numeric parameter of the layer selected on the canvas")
        self.add_button = QPushButton("Add", objectName="sweepAdd", clicked=self.add_selected_param)
        self.remove_button = QPushButton("Remove", objectName="sweepRemove", clicked=self._remove_param)
        self.params = QTableWidget(0, 2, objectName="sweepParams")
        self.params.setHorizontalHeaderLabels(["parameter", "values"])
        self.params.setToolTip(
            "values: a range LOW:HIGH, on a log or linear scale (1e-4:1e-1:log), or a list (8,16,32)"
        )
        self.params.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.params.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.params.verticalHeader().hide()
        self.method = QComboBox(objectName="sweepMethod")
        for key, label in zip(METHODS, ("Grid", "Random", "Bayesian (TPE)")):
            self.method.addItem(label, key)
        self.method.setCurrentIndex(1)
        self.objective = QComboBox(objectName="sweepObjective")
        for key, (words, direction) in OBJECTIVES.items():
            self.objective.addItem(f"{words} ({direction[:3]})", key)
        self.trials = QSpinBox(objectName="sweepTrials", minimum=1, maximum=10_000, value=10)
        cores = os.cpu_count() or 1
        self.jobs = QSpinBox(objectName="sweepJobs", minimum=1, maximum=max(1, cores * 2), value=cores)
        self.jobs.setToolTip("trials at once, each in its own process")
        self.epochs = QSpinBox(objectName="sweepEpochs", minimum=1, maximum=1_000_000, value=5)
        self.epochs.setToolTip("epochs of each trial (short trials find good settings sooner)")
        self.start_button = QPushButton("Start", objectName="sweepStart", clicked=self.start)
        self.stop_button = QPushButton("Stop", objectName="sweepStop", enabled=False, clicked=self.stop)
        self.progress = QProgressBar(objectName="sweepProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.status = QLabel("Add parameters to vary, then Start.", objectName="sweepStatus")
        self.status.setWordWrap(True)

    def _make_results(self):
        self.table = QTableWidget(0, 0, objectName="sweepTable")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().hide()
        self.coords = pg.PlotWidget(objectName="sweepCoordinates")
        self.coords.setBackground(None)
        self.coords.setToolTip(
            "one line per trial across its parameters and its objective, coloured by the objective "
            "(bright: better); the best trial in yellow"
        )
        self.coords.hideAxis("left")
        self.coords.setMouseEnabled(False, False)
        self.curves = pg.PlotWidget(objectName="sweepCurves")
        self.curves.setBackground(None)
        self.curves.setLabel("bottom", "epoch")
        self.curves.setLabel("left", "validation loss")
        self.curves.getAxis("left").enableAutoSIPrefix(False)
        self.apply_button = QPushButton(
            "Apply Best Settings", objectName="sweepApply", enabled=False, clicked=self.apply_best
        )
        self.apply_button.setToolTip("set the best trial's settings and layer parameters (one undo step)")

    def _layout(self):
        pick = QHBoxLayout()
        pick.addWidget(self.pick, 1)
        pick.addWidget(self.add_button)
        pick.addWidget(self.remove_button)
        grid = QGridLayout()
        for i, (label, w) in enumerate(
            (
                ("Method", self.method),
                ("Trials", self.trials),
                ("Objective", self.objective),
                ("Jobs", self.jobs),
                ("Epochs", self.epochs),
            )
        ):
            grid.addWidget(QLabel(label), i // 2, 2 * (i % 2))
            grid.addWidget(w, i // 2, 2 * (i % 2) + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(QLabel("Parameters to vary"))
        lv.addLayout(pick)
        lv.addWidget(self.params, 1)
        lv.addLayout(grid)
        lv.addLayout(buttons)
        lv.addWidget(self.progress)
        lv.addWidget(self.status)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.coords)
        plots.addWidget(self.curves)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.table)
        right.addWidget(plots)
        right.setSizes([240, 200])  # the table keeps room for several trials in a short window
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.apply_button)
        rv = QWidget()
        rl = QVBoxLayout(rv)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(right, 1)
        rl.addLayout(bottom)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(rv)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        split.setSizes([330, 770])
        QVBoxLayout(self).addWidget(split)

    # ------------------------------------------------------------------ project and parameters
    def set_project(self, project):
        if self.running:
            self.shutdown()
        self.project = project
        self.node_id = None
        self.params.setRowCount(0)
        self.epochs.setValue(min(5, int(project.training.get("epochs") or 5)))
        self._fill_pick()
        self.show_record(project.sweeps[-1] if project.sweeps else None)
        if self.record is not None:
            self._restore_definition(self.record)

    def _restore_definition(self, record: dict):
        """The last sweep's parameters, method, objective, epochs and trial count, ready to run again
        or to change: a parameter the design no longer has is left out."""
        for param in record.get("params", []):
            try:
                dim = self._recorded_dimension(param)
            except SpaceError:
                continue
            self.add_param(dim.name, dim.text().partition("=")[2])
        for combo, key in ((self.method, "method"), (self.objective, "objective")):
            index = combo.findData(record.get(key))
            if index >= 0:
                combo.setCurrentIndex(index)
        if isinstance(record.get("epochs"), int):
            self.epochs.setValue(record["epochs"])
        if record.get("trials"):
            self.trials.setValue(len(record["trials"]))

    def set_selected_node(self, node_id: str | None):
        """The canvas's selection: its numeric parameters join the list of what may be varied."""
        self.node_id = node_id
        self._fill_pick()

    def _fill_pick(self):
        self.pick.clear()
        if self.project is None:
            return
        for name, label in candidates(self.project, self.node_id):
            self.pick.addItem(f"{label}  ({name})", name)
        if self.node_id in self.project.design.nodes:  # the selected layer's parameters first
            self.pick.setCurrentIndex(self.pick.count() - 1)

    def add_param(self, name: str, text: str | None = None) -> None:
        """A row of the parameters table: `name` with `text` (default: values around its value now)."""
        try:
            text = text if text is not None else starting_text(self.project, name)
        except SpaceError as e:
            self._say(str(e), error=True)
            return
        for row in range(self.params.rowCount()):
            if self.params.item(row, 0).text() == name:
                self.params.item(row, 1).setText(text)
                return
        row = self.params.rowCount()
        self.params.insertRow(row)
        item = QTableWidgetItem(name)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.params.setItem(row, 0, item)
        self.params.setItem(row, 1, QTableWidgetItem(text))

    def add_selected_param(self):
        if self.pick.currentData():
            self.add_param(self.pick.currentData())

    def _remove_param(self):
        rows = sorted({i.row() for i in self.params.selectedIndexes()}, reverse=True)
        for row in rows or [self.params.rowCount() - 1]:
            if row >= 0:
                self.params.removeRow(row)

    def dimensions(self) -> list:
        """The parameters table as checked dimensions, or SpaceError naming the first bad row."""
        rows = [
            (self.params.item(r, 0).text(), self.params.item(r, 1).text())
            for r in range(self.params.rowCount())
        ]
        return [parse(self.project, f"{name}={text}") for name, text in rows]

    # ------------------------------------------------------------------ the sweep
    @property
    def running(self) -> bool:
        return self.thread is not None

    def start(self):
        if self.project is None or self.running:
            return
        try:
            dims = self.dimensions()
            sweep = Sweep(
                self.project,
                dims,
                method=self.method.currentData(),
                trials=self.trials.value(),
                jobs=self.jobs.value(),
                epochs=self.epochs.value(),
                objective=self.objective.currentData(),
            )
        except (SpaceError, SweepError) as e:
            self._say(str(e), error=True)
            return
        self.sweep = sweep
        self.events = queue.Queue()
        self.record = {**sweep.record(), "trials": []}
        self._reset_results()
        self.thread = threading.Thread(
            target=_run_sweep, args=(sweep, self.events), daemon=True, name="studio-sweep"
        )
        self.thread.name = "studio-sweep"
        self.thread.start()
        self._set_running(True)
        self.progress.setRange(0, sweep.trials)
        self.progress.setValue(0)
        self.progress.setFormat(f"0 of {sweep.trials} trials")
        self._say(f"Starting {sweep.trials} trials, {sweep.jobs} at a time...")
        self.timer.start()

    def stop(self):
        if self.running:
            self.sweep.stop()
            self._say("Stopping the running trials; the finished ones are kept...")

    def shutdown(self):
        """End the sweep at once and remove its files (the window is closing, or another project opens)."""
        if self.sweep is not None and self.running:
            self.sweep.kill()
            self.thread.join(10)
        self.thread = None
        self.timer.stop()
        self._set_running(False)

    def poll(self):
        for _ in range(EVENTS_PER_TICK):
            try:
                ev = self.events.get_nowait()
            except queue.Empty:
                return
            if ev is None:
                self._finish()
                return
            self._event(ev)

    def _event(self, ev):
        if ev.kind == "trial":
            values = ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in ev.trial["values"].items()
            )
            self._say(f"Trial {ev.trial['number']}: {values}")
        elif ev.kind == "result":
            self.record["trials"].append(ev.trial)
            best = best_trial(self.record["trials"], self.record["direction"])
            self.record["best"] = best["number"] if best else None
            done = len(self.record["trials"])
            self.progress.setValue(done)
            self.progress.setFormat(f"{done} of {self.sweep.trials} trials")
            self._show_trials()
        elif ev.kind == "error":
            self._say(ev.message, error=True)
        elif ev.kind == "end":
            self._say(ev.message[0].upper() + ev.message[1:])

    def _finish(self):
        self.timer.stop()
        self.thread.join(10)
        self.thread = None
        self._set_running(False)
        sweep = self.sweep
        if sweep.finished and sweep.results and self.project is not None:
            before = len(self.project.runs)
            self.record = sweep.keep(self.project)
            self._show_trials()
            self.sweepFinished.emit(self.project.runs[-1] if len(self.project.runs) > before else None)
        self.apply_button.setEnabled(self.record is not None and self.record.get("best") is not None)

    # ------------------------------------------------------------------ results
    def show_record(self, record: dict | None):
        """Show a sweep's trials (the project's last sweep when a project opens)."""
        self.record = record
        self._reset_results()
        if record is not None:
            self._show_trials()
            self._say(f"Sweep {record['id']}: {len(record['trials'])} trials ({record['status']}).")
        self.apply_button.setEnabled(bool(record) and record.get("best") is not None)

    def _reset_results(self):
        self.table.setRowCount(0)
        self.coords.clear()
        self.curves.clear()

    def best_row(self) -> int | None:
        """The table row of the best trial, as the table is sorted now."""
        best = (self.record or {}).get("best")
        for row in range(self.table.rowCount()):
            if best is not None and self.table.item(row, 0).value == best:
                return row
        return None

    def _show_trials(self):
        record = self.record
        names = [p["name"] for p in record["params"]]
        trials = record["trials"]
        metric = next((k for t in trials for k in t["metrics"] if k != "test_loss"), None)
        heads = ["trial", *names, "status", record["objective"], *([metric] if metric else []), "seconds"]
        self.table.setSortingEnabled(False)
        self.table.setColumnCount(len(heads))
        self.table.setHorizontalHeaderLabels(heads)
        self.table.setRowCount(len(trials))
        for row, t in enumerate(trials):
            cells = [t["number"], *(t["values"].get(n) for n in names), t["status"], t["objective"]]
            cells += [t["metrics"].get(metric)] if metric else []
            cells.append(t["seconds"])
            for col, value in enumerate(cells):
                item = _cell(value)
                if t["status"] != "completed" and t.get("message"):
                    item.setToolTip(t["message"])
                self.table.setItem(row, col, item)
        self.table.setSortingEnabled(True)
        self._mark_best()
        self.table.resizeColumnsToContents()
        self._draw()

    def _mark_best(self):
        best = self.best_row()
        for row in range(self.table.rowCount()):
            for col in range(self.table.columnCount()):
                item = self.table.item(row, col)
                font = QFont(item.font())
                font.setBold(row == best)
                item.setFont(font)
                item.setBackground(QBrush(BEST_COLOUR) if row == best else QBrush())
                if row == best:
                    item.setToolTip("the best trial")
        if best is not None:
            self.table.scrollToItem(self.table.item(best, 0))

    def _colours(self) -> dict:
        """Trial number -> its colour by objective (better: brighter)."""
        done = [t for t in self.record["trials"] if t["objective"] is not None]
        if not done:
            return {}
        lo = min(t["objective"] for t in done)
        hi = max(t["objective"] for t in done)
        flip = self.record.get("direction") == "minimize"
        out = {}
        for t in done:
            x = 0.5 if hi == lo else (t["objective"] - lo) / (hi - lo)
            out[t["number"]] = CMAP.map(1 - x if flip else x, mode="qcolor")
        return out

    def _draw(self):
        self.coords.clear()
        self.curves.clear()
        record = self.record
        params = record["params"]
        axes = [p["name"] for p in params] + [record["objective"]]
        done = [t for t in record["trials"] if t["objective"] is not None]
        colours = self._colours()
        lo = min((t["objective"] for t in done), default=0.0)
        hi = max((t["objective"] for t in done), default=1.0)
        ends = [_ends(p) for p in params] + [(lo, hi)]
        for i, (low, high) in enumerate(ends):
            self.coords.addItem(pg.InfiniteLine(pos=i, angle=90, pen=pg.mkPen((128, 128, 128), width=1)))
            for y, value, anchor in ((1.0, high, (0.0, 1.0)), (0.0, low, (0.0, 0.0))):
                label = pg.TextItem(_short(value), color=(110, 110, 110), anchor=anchor)
                label.setPos(i + 0.02, y)  # beside the axis line, not across it
                self.coords.addItem(label)
        self.coords.getAxis("bottom").setTicks([[(i, _abbreviated(a)) for i, a in enumerate(axes)]])
        for t in sorted(done, key=lambda t: t["number"] == record.get("best")):
            best = t["number"] == record.get("best")
            ys = [_position(p, t["values"].get(p["name"])) for p in params]
            ys.append(0.5 if hi == lo else (t["objective"] - lo) / (hi - lo))
            pen = pg.mkPen(QColor(255, 196, 0) if best else colours[t["number"]], width=3 if best else 1.5)
            xs = [i for i, y in enumerate(ys) if y is not None]
            self.coords.plot(xs, [y for y in ys if y is not None], pen=pen)
            c = t.get("curves") or {}
            if c.get("epoch") and c.get("val_loss"):
                pts = [(e, v) for e, v in zip(c["epoch"], c["val_loss"]) if v is not None]
                if pts:
                    self.curves.plot([p[0] for p in pts], [p[1] for p in pts], pen=pen)
        self.coords.disableAutoRange()
        self.coords.setRange(xRange=(-0.45, len(axes) - 0.55), yRange=(-0.22, 1.22), padding=0)

    # ------------------------------------------------------------------ apply
    def best_values(self) -> dict | None:
        record = self.record or {}
        return next(
            (t["values"] for t in record.get("trials", []) if t["number"] == record.get("best")), None
        )

    def _recorded_dimension(self, param: dict):
        """A parameter of a kept sweep, checked against the project as it is now (SpaceError if not)."""
        keys = ("values", "low", "high", "scale")
        return dimension(self.project, param["name"], **{k: param.get(k) for k in keys})

    def apply_best(self):
        """Ask the window to set the best trial's values (it makes them one undo step)."""
        values = self.best_values()
        if values is None or self.project is None:
            return
        try:
            dims = [self._recorded_dimension(p) for p in self.record["params"]]
        except SpaceError as e:
            self._say(f"The best settings no longer fit the design: {e}", error=True)
            return
        self.applyBest.emit(dims, values)

    # ------------------------------------------------------------------ state
    def _set_running(self, running: bool):
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        for w in (
            self.params,
            self.pick,
            self.add_button,
            self.remove_button,
            self.method,
            self.trials,
            self.jobs,
            self.epochs,
            self.objective,
        ):
            w.setEnabled(not running)
        if running:
            self.apply_button.setEnabled(False)

    def _say(self, text: str, error: bool = False):
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")
        self.message.emit(text)
