"""The training panel: run settings, Train / Pause / Stop, and progress of a run in its worker process."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.design.training_spec import FAMILIES, TRAINING_SPEC
from studio.training.fit import settings_of
from studio.training.worker import TrainingProcess

from .setting_fields import SettingField

POLL_MS = 50
# the widgets' attribute names, for the window and its tests
ATTRIBUTES = {
    "loss": "loss",
    "optimizer": "optimizer",
    "lr": "lr",
    "weight_decay": "weight_decay",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "schedule": "schedule",
    "seed": "seed",
    "device": "device",
    "early_stopping.enabled": "early",
    "early_stopping.patience": "patience",
    "early_stopping.monitor": "monitor",
}
LABELS = {
    "loss": {"auto": "auto (from the task)"},
    "optimizer": {k: c.title for k, c in FAMILIES["optimizer"].items()},
    "schedule": {k: c.title for k, c in FAMILIES["schedule"].items()},
    "device": {"cpu": "CPU", "auto": "Auto (the GPU when there is one)", "cuda": "GPU (CUDA)"},
    "early_stopping.monitor": {"val_metric": "validation metric", "val_loss": "validation loss"},
}
PROGRESS_S = 0.2  # the progress bar's text changes at most this often


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_text(ev) -> str:
    """The progress bar's text for a step event: epoch, step, speed and time left."""
    parts = [f"epoch {ev.epoch}/{ev.total_epochs}", f"step {ev.step}/{ev.total_steps}"]
    if ev.samples_per_sec:
        parts.append(f"{ev.samples_per_sec:,.0f} samples/s")
    parts.append(f"{_duration(ev.eta)} left")
    return " · ".join(parts)


class TrainingPanel(QWidget):
    """Edits `project.training`, starts runs away from the GUI thread, and relays their events."""

    settingsChanged = Signal()
    runStarted = Signal()
    runFinished = Signal(object)  # the run summary dict, passed as is
    eventsArrived = Signal(list)
    message = Signal(str)

    def __init__(self, plots=None, parent=None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.setAccessibleName("Training")
        self.plots = plots
        self.project = None
        self.process: TrainingProcess | None = None
        self._loading = False
        self._shown_at = 0.0
        self._epoch_line = None

        self.fields = self._make_fields()
        self.option_fields: dict = {}  # (choice key, option name) -> SettingField
        self._gpu_checked = False
        self.options_form = QGridLayout()
        self.options_form.setHorizontalSpacing(8)
        self.options_form.setVerticalSpacing(4)

        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        self.train_button.setToolTip("Train the design on its data (F5)")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.train_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 2)
        buttons.addWidget(self.pause_button, 1)
        buttons.addWidget(self.stop_button, 1)

        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setTextVisible(True)
        self.progress.setFormat("ready")
        self.status = QLabel("Press Train to start.")
        self.status.setObjectName("trainingStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # weights loaded from a file (Run > Load Weights...): the next runs start from them
        self.init_weights = None
        self.init_label = QLabel()
        self.init_label.setObjectName("initWeights")
        self.init_label.setWordWrap(True)
        self.init_clear = QPushButton("Start fresh")
        self.init_clear.setToolTip("Start the next runs from freshly initialised weights")
        self.init_clear.clicked.connect(lambda: self.set_init_weights(None))
        init_row = QHBoxLayout()
        init_row.addWidget(self.init_label, 1)
        init_row.addWidget(self.init_clear)
        self.set_init_weights(None)

        lay = QVBoxLayout(self)
        lay.addLayout(self._form())
        lay.addLayout(self.options_form)
        lay.addLayout(init_row)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addStretch(1)

        for field in self.fields.values():
            field.connect(self._store)
        self.optimizer.currentIndexChanged.connect(self._show_options)
        self.schedule.currentIndexChanged.connect(self._show_options)
        self._show_options()

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._set_running(False)

    # ---------------------------------------------------------------------------- settings
    def showEvent(self, event):
        super().showEvent(event)
        if not self._gpu_checked:
            self._gpu_checked = True
            from studio.core import cuda

            i = self.device.findData("cuda")
            # offered only when cupy finds a GPU (or when the project asks for it: it stays shown)
            if not cuda.is_available() and self.device.currentIndex() != i:
                self.device.removeItem(i)

    def set_init_weights(self, path, summary: str = "", report: str = "") -> None:
        """Start the next runs from the weights file at `path` (None: from fresh initialisation)."""
        self.init_weights = str(path) if path else None
        self.init_label.setToolTip(report)
        self.init_label.setVisible(path is not None)
        self.init_clear.setVisible(path is not None)
        if path:
            self.init_label.setText(
                f"Next runs start from {Path(path).name}" + (f" ({summary})" if summary else "")
            )

    def _make_fields(self) -> dict:
        """A field for each top-level and grouped setting of the training spec, by dotted name; the
        widgets are also attributes (`self.lr`, `self.patience`) for the window and its tests."""
        fields = {}
        for name in TRAINING_SPEC.names():
            head = name.split(".")[0]
            if head in TRAINING_SPEC.settings or head in TRAINING_SPEC.groups:
                fields[name] = SettingField(TRAINING_SPEC.setting(name), LABELS.get(name))
        for name, attr in ATTRIBUTES.items():
            setattr(self, attr, fields[name].widget)
        self.lr.setObjectName("learningRate")
        self.epochs.setObjectName("epochs")
        self.early.setText("after")
        self.patience.setSuffix(" epochs")
        return fields

    def _form(self) -> QGridLayout:
        """Two label-field pairs per row: the panel fits under the canvas at 1366x768."""
        form = QGridLayout()
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(4)
        early = QHBoxLayout()
        early.setContentsMargins(0, 0, 0, 0)
        early.addWidget(self.early)
        early.addWidget(self.patience, 1)
        placed = {"early_stopping.enabled", "early_stopping.patience"}
        pairs = [(f.setting.title, f.widget) for n, f in self.fields.items() if n not in placed]
        pairs.insert(
            pairs.index(("Monitor", self.fields["early_stopping.monitor"].widget)), ("Early stopping", early)
        )
        for i, (label, field) in enumerate(pairs):
            row, col = divmod(i, 2)
            form.addWidget(QLabel(label), row, col * 2)
            if isinstance(field, QHBoxLayout):
                form.addLayout(field, row, col * 2 + 1)
            else:
                form.addWidget(field, row, col * 2 + 1)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        return form

    def _show_options(self, *_):
        """The fields of the chosen optimizer's and schedule's own settings."""
        while self.options_form.count():
            item = self.options_form.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # at once: deletion waits for the event loop
                item.widget().deleteLater()
        self.option_fields = {}
        i = 0
        training = self.project.training if self.project is not None else {}
        for family in ("optimizer", "schedule"):
            choice = FAMILIES[family][self.fields[family].get()]
            for setting in choice.settings:
                field = SettingField(setting)
                field.set(TRAINING_SPEC.get(training, f"{choice.key}.{setting.name}"))
                field.connect(lambda *_, c=choice.key, f=field: self._store_option(c, f))
                field.widget.setEnabled(not self.running)
                self.option_fields[(choice.key, setting.name)] = field
                row, col = divmod(i, 2)
                self.options_form.addWidget(QLabel(f"{choice.title} {setting.title.lower()}"), row, col * 2)
                self.options_form.addWidget(field.widget, row, col * 2 + 1)
                i += 1
        self.options_form.setColumnStretch(1, 1)
        self.options_form.setColumnStretch(3, 1)

    def set_project(self, project):
        self.project = project
        self.set_init_weights(None)
        if not self.running:  # nothing of another project's last run stays on show
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("ready")
            self._say_quietly("Press Train to start.")
        s = settings_of(project)
        self._loading = True
        try:
            for name, field in self.fields.items():
                field.set(TRAINING_SPEC.get(s, name))
            self._show_options()
        finally:
            self._loading = False
        if self.plots is not None:
            self.plots.set_runs(project.runs)

    def settings(self) -> dict:
        """The top-level and grouped settings the fields show (options are stored as they change)."""
        out: dict = {}
        for name, field in self.fields.items():
            head, _, tail = name.partition(".")
            if tail:
                out.setdefault(head, {})[tail] = field.get()
            else:
                out[name] = field.get()
        out["device"] = out["device"] or "cpu"
        return out

    def _store(self, *_):
        if self._loading or self.project is None:
            return
        new = self.settings()
        if new != {k: self.project.training.get(k) for k in new}:
            self.project.training.update(new)
            self.settingsChanged.emit()

    def _store_option(self, choice: str, field) -> None:
        """Keep an optimizer's or schedule's option the user changed (refused text is put back)."""
        if self._loading or self.project is None:
            return
        name = f"{choice}.{field.setting.name}"
        value = field.get()
        if value is None and not field.setting.optional:
            field.set(TRAINING_SPEC.get(self.project.training, name))
            self._say(f"{field.setting.title}: expected {field.setting.expected()}", error=True)
            return
        if value != TRAINING_SPEC.get(self.project.training, name):
            TRAINING_SPEC.set(self.project.training, name, value)
            self.settingsChanged.emit()

    # -------------------------------------------------------------------------------- runs
    @property
    def running(self) -> bool:
        return self.process is not None and not self.process.finished

    def start(self):
        """Start a run with the current settings, unless the design has problems."""
        if self.project is None or self.running:
            return
        problems = self.project.design.infer().problems
        if problems:
            first = problems[0]
            self._say(f"Fix the design first: {first.message}", error=True)
            self._design_problem = True
            return
        self._store()
        if self.plots is not None:
            self.plots.reset()
        if self.process is not None:
            self.process.reap()
        self.process = TrainingProcess(self.project, init=self.init_weights)
        self._shown_at, self._epoch_line = 0.0, None
        self.process.start()
        self._set_running(True)
        self.progress.setRange(0, 0)  # busy until the run reports its size
        self.progress.setFormat("starting...")
        self._say("Starting the training process...")
        self.timer.start()
        self.runStarted.emit()

    def _pause_toggled(self, paused: bool):
        if not self.running:
            return
        if paused:
            self.process.pause()
            self.pause_button.setText("Resume")
            self._say("Pausing after the current step...")
        else:
            self.process.resume()
            self.pause_button.setText("Pause")
            self._say("Resuming...")

    def stop(self):
        if self.running:
            self.process.stop()
            self._say("Stopping...")

    def shutdown(self):
        """End any run at once (the window is closing)."""
        if self.process is not None:
            self.process.kill()
        self.timer.stop()

    def poll(self):
        if self.process is None:
            return
        if self.process.finished:  # the run has ended: collect its process at once, then rest
            if self.process.reap():
                self.timer.stop()
            return
        events = self.process.poll()
        if not events:
            return
        if self.plots is not None:
            self.plots.feed(events)
        self.eventsArrived.emit(events)
        last = None  # the latest step event, unless a pause came after it
        for ev in events:
            if ev.kind == "step":
                last = ev
            elif ev.kind == "loading":
                self.progress.setRange(0, max(ev.total_steps, 1))
                self.progress.setValue(ev.step)
                self.progress.setFormat(f"{ev.message}: {ev.step:,} of {ev.total_steps:,}")
            elif ev.kind == "start":
                self.progress.setRange(0, max(ev.total_steps, 1))
                self.progress.setValue(0)
                self._say(f"Training: {ev.message}")
            elif ev.kind == "epoch":
                self._epoch_line = ev  # shown with the next progress update
            elif ev.kind == "paused":
                # the pause is the news: a step or epoch line from before it must not cover it
                last, self._epoch_line = None, None
                self.progress.setValue(ev.step)
                self.progress.setFormat(f"paused at epoch {ev.epoch}, step {ev.step}")
                self._say(f"Paused at epoch {ev.epoch}, step {ev.step}. Press Resume to go on.")
            elif ev.kind == "resumed":
                self._say("Resumed.")
            elif ev.kind in ("end", "error"):
                self._finish(ev)
        now = time.monotonic()
        if self.running and (last or self._epoch_line) and now - self._shown_at >= PROGRESS_S:
            # a few times a second is enough to read, and each repaint takes time from the run
            self._shown_at = now
            if last is not None:
                self.progress.setValue(last.step)
                self.progress.setFormat(progress_text(last))
            if self._epoch_line is not None:
                ev, self._epoch_line = self._epoch_line, None
                parts = [f"epoch {ev.epoch}/{ev.total_epochs}"] + [
                    f"{k.replace('_', ' ')} {v:.4g}" for k, v in ev.metrics.items() if v is not None
                ]
                self._say(", ".join(parts))

    def _finish(self, ev):
        self._set_running(False)
        self.progress.setRange(0, 1)
        run = ev.run if isinstance(ev.run, dict) and "id" in ev.run else None
        if ev.kind == "error":
            self.progress.setValue(0)
            self.progress.setFormat("failed")
            self._say(ev.message, error=True)
        else:
            self.progress.setValue(1)
            final = ", ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in ev.metrics.items())
            self.progress.setFormat(ev.status.replace("_", " "))
            note = f" Note: {ev.message}" if ev.message else ""
            self._say(f"Run {ev.status.replace('_', ' ')} after {ev.epoch} epochs. {final}{note}")
        if run is not None and self.project is not None:
            self.project.runs.append(run)
            if self.plots is not None:
                self.plots.set_runs(self.project.runs[:-1])
            self.runFinished.emit(run)

    def _set_running(self, running: bool):
        self.train_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        if not running:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)
        for field in [*self.fields.values(), *self.option_fields.values()]:
            field.widget.setEnabled(not running)

    def design_changed(self) -> None:
        """The design was edited: a "Fix the design first" message goes once the design is fixed."""
        if getattr(self, "_design_problem", False) and not self.project.design.infer().problems:
            self._say("The design is ready: press Train to start.")

    def _say(self, text: str, error: bool = False):
        self._say_quietly(text, error)
        self.message.emit(text)

    def _say_quietly(self, text: str, error: bool = False):
        """Show `text` in the panel only (not in the window's status bar)."""
        self._design_problem = False
        self.status.setText(text)
        self.status.setStyleSheet("color: #d93025;" if error else "")
