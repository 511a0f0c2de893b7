"""The app's own speed: start-up, appending to a long curve, and laying out a big computation graph."""

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


def bench_curve_append(repeats: int = 10) -> float:
    """Milliseconds to append 1,000 points to a 100,000-point loss curve and redraw it."""
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
    times = []
    step = 100_001
    for _ in range(repeats):
        t0 = time.perf_counter()
        plots.add_steps(np.arange(step, step + 1000), rng.random(1000))
        plots.redraw()
        plots.loss_plot.viewport().repaint()
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1000)
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
    # an LSTM cell unrolled by hand: each step adds a few dozen small ops
    w_ih = core.randn(16, 32, requires_grad=True)
    w_hh = core.randn(32, 32, requires_grad=True)
    x = core.randn(4, 150, 16)
    h = core.zeros(4, 32)
    c = core.zeros(4, 32)
    for t in range(150):
        gates = x[:, t] @ w_ih + h @ w_hh
        i, f, g, o = gates.sigmoid(), gates.sigmoid(), gates.tanh(), gates.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
    loss = h.sum()
    walk = graph_walk(loss)
    view = GraphInspector()
    view.resize(1000, 700)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        view.show_inspection(Inspection(walk=walk, loss=0.0, loss_id=walk.output_id))
        app.processEvents()
        times.append(time.perf_counter() - t0)
    assert len(walk.nodes) >= 1900, len(walk.nodes)
    return statistics.median(times)
