"""The app's own speed: start-up, appending to a long curve, laying out a big computation graph, and
how smooth the window stays while a run trains."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])

_STARTUP = r"""
import os, sys, time
t0 = float(sys.argv[1])
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication.instance() or QApplication([])
from studio.ui import MainWindow
w = MainWindow()
w.show()
def done():
    print(time.time() - t0)
    app.quit()
QTimer.singleShot(0, done)
app.exec()
"""


def bench_startup(repeats: int = 3) -> float:
    """Seconds from launching a Python process to the main window shown and its first events handled."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _STARTUP, repr(time.time())],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "start-up run failed")
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


_APP = []  # the QApplication must outlive every widget the benchmarks make


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    if not _APP:
        _APP.append(QApplication.instance() or QApplication([]))
    return _APP[0]


class _PaintCounter:
    """Counts the paint events of a widget, to check that a timed redraw really painted."""

    def __init__(self, widget):
        from PySide6.QtCore import QEvent, QObject

        class Filter(QObject):
            def eventFilter(inner, obj, event):  # noqa: N805 - Qt's signature
                if event.type() == QEvent.Type.Paint:
                    self.count += 1
                return False

        self.count = 0
        self._filter = Filter()
        widget.installEventFilter(self._filter)


def bench_curve_append(repeats: int = 10) -> float:
    """Milliseconds to append 1,000 points to a 100,000-point loss curve and redraw it.

    Each timed round appends, redraws, and lets the event loop paint, as the app's redraw timer does;
    a round that did not paint the plot is an error rather than a fast figure.
    """
    import numpy as np

    app = _app()
    from studio.ui.plots import LivePlots

    plots = LivePlots()
    plots.resize(900, 600)
    plots.show()
    rng = np.random.default_rng(0)
    plots.add_steps(np.arange(1, 100_001), rng.random(100_000))
    plots.redraw()
    app.processEvents()
    painted = _PaintCounter(plots.loss_plot.viewport())
    times = []
    step = 100_001
    for _ in range(repeats):
        before = painted.count
        t0 = time.perf_counter()
        plots.add_steps(np.arange(step, step + 1000), rng.random(1000))
        plots.redraw()
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1000)
        if painted.count == before:
            raise RuntimeError("the loss plot was not repainted after new points arrived")
        step += 1000
    plots.close()
    plots.deleteLater()
    app.processEvents()
    return statistics.median(times)


def bench_graph_layout(repeats: int = 3) -> float:
    """Seconds to lay out and draw the computation graph of an unrolled LSTM of about 2,000 nodes."""
    app = _app()
    import studio.core as core
    from studio.core.autograd.graph_walk import graph_walk
    from studio.training.inspect import Inspection
    from studio.ui.inspector import GraphInspector

    core.manual_seed(0)
    # an LSTM cell unrolled by hand, step after step until the graph has 2,000 nodes (how many ops
    # a step adds depends on which of them the engine fuses)
    w_ih = core.randn(16, 32, requires_grad=True)
    w_hh = core.randn(32, 32, requires_grad=True)
    x = core.randn(4, 400, 16)
    h = core.zeros(4, 32)
    c = core.zeros(4, 32)
    walk = None
    for t in range(400):
        gates = x[:, t] @ w_ih + h @ w_hh
        i, f, g, o = gates.sigmoid(), gates.sigmoid(), gates.tanh(), gates.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        if t % 10 == 9:
            walk = graph_walk(h.sum())
            if len(walk.nodes) >= 2000:
                break
    view = GraphInspector()
    view.resize(1000, 700)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        view.show_inspection(Inspection(walk=walk, loss=0.0, loss_id=walk.output_id))
        app.processEvents()
        times.append(time.perf_counter() - t0)
    if len(walk.nodes) < 2000:
        raise RuntimeError(f"the unrolled graph has only {len(walk.nodes)} nodes")
    return statistics.median(times)


_STALL_TICKS: list[int] = []  # how many timer ticks each stall measurement saw


class _StallProbe:
    """A timer that asks to fire every 5 ms; each tick records how much later than that it fired."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.lateness: list[float] = []
        self._last = None
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self):
        now = time.perf_counter()
        if self._last is not None:
            self.lateness.append(max(0.0, (now - self._last) * 1000 - 5.0))
        self._last = now

    def percentile(self, percentile: float) -> float:
        import numpy as np

        _STALL_TICKS.append(len(self.lateness))
        if len(self.lateness) < 10:
            raise RuntimeError("too few timer ticks were measured")
        return float(np.percentile(self.lateness, percentile))


def bench_gui_stall(percentile: float = 99.0, epochs: int = 1) -> float:
    """The 99th-percentile stall of the GUI event loop, in ms, while an epoch of the Digits CNN template
    trains in the worker process with the live plots and progress updating.

    A timer asks to fire every 5 ms; a stall is how much later than that it fired. Measured from the
    press of Train (the worker process is started from the GUI thread) to the run's end.
    """
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QHBoxLayout, QWidget

    app = _app()
    from studio.design import load_template
    from studio.ui.plots import LivePlots
    from studio.ui.training_panel import TrainingPanel

    project = load_template("digits_lenet")
    project.training["epochs"] = int(epochs)
    frame = QWidget()
    plots = LivePlots()
    panel = TrainingPanel(plots)
    lay = QHBoxLayout(frame)
    lay.addWidget(panel)
    lay.addWidget(plots, 2)
    frame.resize(1366, 420)
    frame.show()
    panel.set_project(project)
    app.processEvents()

    probe = _StallProbe()
    loop = QEventLoop()
    outcome = {}

    def finished(run):
        outcome["run"] = run
        loop.quit()

    panel.runFinished.connect(finished)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(300_000)
    probe.timer.start()
    panel.start()
    loop.exec()
    probe.timer.stop()
    guard.stop()
    panel.shutdown()
    frame.close()
    frame.deleteLater()
    app.processEvents()
    if "run" not in outcome or outcome["run"].get("status") != "completed":
        raise RuntimeError(f"the Digits run did not complete: {panel.status.text()}")
    return probe.percentile(percentile)


def bench_sweep_stall(percentile: float = 99.0, trials: int = 6, jobs: int = 2, epochs: int = 3) -> float:
    """The 99th-percentile stall of the GUI event loop, in ms, while the Experiments panel runs a sweep
    of the Iris MLP (`trials` trials, `jobs` worker processes at once) and fills its table and plots.

    Measured with the same 5 ms timer as `bench_gui_stall`, from the press of Start to the sweep kept.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    app = _app()
    from studio.design import load_template
    from studio.design.search_space import parse
    from studio.ui.experiments_panel import ExperimentsPanel

    project = load_template("iris_mlp")
    panel = ExperimentsPanel()
    panel.resize(1366, 560)
    panel.show()
    panel.set_project(project)
    for dim in (parse(project, "lr=1e-3:1e-1:log"), parse(project, "hidden1.out_features=8,16,32")):
        name, _, text = dim.text().partition("=")
        panel.add_param(name, text)
    panel.trials.setValue(trials)
    panel.jobs.setValue(jobs)
    panel.epochs.setValue(epochs)
    app.processEvents()
    probe = _StallProbe()
    loop = QEventLoop()
    panel.sweepFinished.connect(lambda _run: loop.quit())
    QTimer.singleShot(600_000, loop.quit)
    probe.timer.start()
    panel.start()
    loop.exec()
    probe.timer.stop()
    done = [t for t in (project.sweeps[-1]["trials"] if project.sweeps else []) if t["status"] == "completed"]
    panel.shutdown()
    panel.close()
    panel.deleteLater()
    app.processEvents()
    if len(done) != trials:
        raise RuntimeError(f"the sweep did not complete its trials: {panel.status.text()}")
    return probe.percentile(percentile)


_OVERHEAD_RUNS: list = []  # (unwatched, watched) run seconds of each overhead measurement


def bench_training_overhead(epochs: int = 30, repeats: int = 5) -> float:
    """How much slower, in percent, a Digits CNN run trains while the app shows it live (events polled
    every 50 ms, curves and progress redrawn) than while nobody watches (events drained twice a second).

    The run's own clock (`run["seconds"]`, from its first step to its end) is compared, not the
    worker's start-up; the two ways alternate, and the fastest of each is compared (on a shared
    machine other work only ever slows a run down, so the fastest is the least disturbed).
    """
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QHBoxLayout, QWidget

    app = _app()
    from studio.design import load_template
    from studio.training.worker import TrainingProcess
    from studio.ui.plots import LivePlots
    from studio.ui.training_panel import TrainingPanel

    def project():
        p = load_template("digits_lenet")
        p.training["epochs"] = int(epochs)
        return p

    def unwatched() -> float:
        proc = TrainingProcess(project())
        proc.start()
        end = None
        while end is None:
            time.sleep(0.5)
            end = next((e for e in proc.poll() if e.kind in ("end", "error")), None)
        proc.join(10)
        if end.kind != "end":
            raise RuntimeError(end.message)
        return end.run["seconds"]

    def watched() -> float:
        frame = QWidget()
        plots = LivePlots()
        panel = TrainingPanel(plots)
        lay = QHBoxLayout(frame)
        lay.addWidget(panel)
        lay.addWidget(plots, 2)
        frame.resize(1366, 420)
        frame.show()
        panel.set_project(project())
        loop = QEventLoop()
        runs = []
        panel.runFinished.connect(lambda run: (runs.append(run), loop.quit()))
        QTimer.singleShot(300_000, loop.quit)
        panel.start()
        loop.exec()
        panel.shutdown()
        frame.close()
        frame.deleteLater()
        app.processEvents()
        if not runs:
            raise RuntimeError(f"the watched run did not finish: {panel.status.text()}")
        return runs[0]["seconds"]

    bare, live = [], []
    for _ in range(repeats):
        bare.append(unwatched())
        live.append(watched())
    _OVERHEAD_RUNS.append((bare, live))
    return (min(live) / min(bare) - 1.0) * 100.0


def bench_stop_latency(repeats: int = 3) -> float:
    """Seconds from Stop to the run's end event reaching the app, for a run in its worker process
    (median of `repeats`; the tests check only that Stop ends a run, not how soon)."""
    from studio.design import load_template
    from studio.training.worker import TrainingProcess

    def wait_for(proc, kinds):
        while True:
            events = proc.poll()
            found = next((e for e in events if e.kind in kinds), None)
            if found is not None:
                return found
            time.sleep(0.005)

    times = []
    for _ in range(repeats):
        project = load_template("digits_lenet")
        project.training["epochs"] = 10_000
        proc = TrainingProcess(project)
        proc.start()
        wait_for(proc, ("step", "error"))
        t0 = time.perf_counter()
        proc.stop()
        end = wait_for(proc, ("end", "error"))
        times.append(time.perf_counter() - t0)
        proc.join(30)
        if end.kind != "end" or end.status != "stopped":
            raise RuntimeError(f"the run did not stop: {end.kind} {end.message}")
    return statistics.median(times)


def _window_wait(app, condition, seconds: float = 60.0) -> None:
    from PySide6.QtCore import QEventLoop

    end = time.perf_counter() + seconds
    while not condition():
        if time.perf_counter() > end:
            raise RuntimeError("the window did not get there in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


def bench_preview_latency(repeats: int = 3) -> float:
    """Seconds from choosing the digits data for the digits CNN (whose data was Iris) to its first
    conv layer's feature maps painted on the canvas, in a window that opened as the app does (with
    the example project's previews); median of `repeats`, the first of which reads the data file."""
    app = _app()
    from studio.design import load_template
    from studio.ui import MainWindow

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    previews = window.previews
    previews.action.setChecked(True)
    _window_wait(app, lambda: previews.result is not None)
    project = load_template("digits_lenet")
    project.data["sample"] = "iris"
    window.set_project(project)
    conv = next(n.id for n in project.design.nodes.values() if n.name == "conv1")
    times = []
    for _ in range(repeats):
        _window_wait(app, lambda: getattr(previews.item(conv), "preview", None) is not None)
        item = previews.item(conv)
        painted = item.painted
        t0 = time.perf_counter()
        window.data_panel.sample_buttons["digits"].click()
        _window_wait(app, lambda i=item, p=painted: i.preview.kind == "maps" and i.painted > p)
        times.append(time.perf_counter() - t0)
        window.data_panel.sample_buttons["iris"].click()
        _window_wait(app, lambda i=item: i.preview.kind == "message")
    window.project.runs.clear()
    window.undo_stack.setClean()
    window.close()
    window.deleteLater()
    app.processEvents()
    return statistics.median(times)


def bench_preview_stall(percentile: float = 99.0, examples: int = 20) -> float:
    """The 99th-percentile stall of the GUI event loop, in ms, while the canvas's previews of the
    residual digits CNN are computed for `examples` examples in turn (stepped from the canvas's bar,
    each after the previous one is shown), timed as bench_gui_stall does."""
    import numpy as np
    from PySide6.QtCore import QTimer

    app = _app()
    from studio.design import load_template
    from studio.ui import MainWindow

    window = MainWindow(project=load_template("digits_resnet"))
    window.resize(1600, 1000)
    window.show()
    previews = window.previews
    previews.action.setChecked(True)
    _window_wait(app, lambda: previews.result is not None)
    lateness: list[float] = []
    last = [None]

    def tick():
        now = time.perf_counter()
        if last[0] is not None:
            lateness.append(max(0.0, (now - last[0]) * 1000 - 5.0))
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    for number in range(2, examples + 2):
        previews.bar.example.setValue(number)
        _window_wait(app, lambda n=number: previews.result.index == n - 1)
    timer.stop()
    window.close()
    window.deleteLater()
    app.processEvents()
    if len(lateness) < 10:
        raise RuntimeError("too few timer ticks were measured")
    return float(np.percentile(lateness, percentile))
