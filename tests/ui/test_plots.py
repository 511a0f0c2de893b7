"""Plot legends under a window being deleted."""

from __future__ import annotations


def test_legends_stop_following_their_plots_once_released(qtbot):
    """A window about to be deleted releases its legends' anchors (pyqtgraph would otherwise read
    half-destroyed plots while the window is deleted)."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QWidget

    from studio.ui.plots import release_legends

    root = QWidget()
    qtbot.addWidget(root)
    plot = pg.PlotWidget(parent=root)
    plot.addLegend(offset=(-10, -10))  # anchored to the bottom right: it moves as the plot grows
    plot.plot([1, 2], [3, 4], name="a")
    legend, view = plot.getPlotItem().legend, plot.getPlotItem().legend.parentItem()
    view.resize(300, 300)
    before = legend.pos()
    view.resize(400, 400)
    assert legend.pos() != before
    release_legends(root)
    after = legend.pos()
    view.resize(500, 500)
    assert legend.pos() == after
