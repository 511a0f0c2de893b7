"""Live previews on the canvas, driven through the MainWindow: they follow the data, the design and the
runs, are computed away from the GUI thread, can be hidden, and step through the examples."""

from __future__ import annotations

import threading
import time

from studio.design import load_template
from studio.ui import node_previews


def node_id(window, name):
    return next(n.id for n in window.project.design.nodes.values() if n.name == name)


def preview_of(window, name):
    item = window.previews.item(node_id(window, name))
    return None if item is None else item.preview


def conv_window_on_iris(make_window, qtbot):
    """A window opened as the app opens (on the example project, whose previews are shown), then on
    the digits CNN with its data set to Iris (whose rows do not fit its Input)."""
    window = make_window(project=None)
    qtbot.waitUntil(lambda: window.previews.result is not None)
    project = load_template("digits_lenet")
    project.data["sample"] = "iris"
    window.set_project(project)
    qtbot.waitUntil(lambda: preview_of(window, "conv1") is not None)
    return window


def test_choosing_the_digits_data_shows_a_conv_layers_feature_maps(qtbot, make_window, record_property):
    window = conv_window_on_iris(make_window, qtbot)
    assert preview_of(window, "conv1").kind == "message"  # Iris rows do not fit a (1, 8, 8) Input
    item = window.previews.item(node_id(window, "conv1"))
    painted = item.painted
    start = time.monotonic()
    window.data_panel.sample_buttons["digits"].click()
    qtbot.waitUntil(lambda: preview_of(window, "conv1").kind == "maps" and item.painted > painted)
    elapsed = time.monotonic() - start
    record_property("digits_conv_preview_seconds", round(elapsed, 3))
    print(f"\nconv preview painted {elapsed:.3f} s after choosing the digits data")
    conv = preview_of(window, "conv1")
    assert conv.values.shape == (6, 8, 8) and item.isVisible()
    assert window.previews.bar.label.text() == "Previews: fresh weights, test"
    assert window.previews.bar.rest.text().startswith("of ")


def test_editing_a_layer_refreshes_its_preview(qtbot, make_window):
    window = make_window(project=load_template("digits_lenet"))
    qtbot.waitUntil(lambda: preview_of(window, "conv2") is not None)
    assert preview_of(window, "conv2").caption == "8 of 16 maps, 4x4"
    window.editor.set_param(node_id(window, "conv2"), "out_channels", 4)
    qtbot.waitUntil(lambda: preview_of(window, "conv2").caption == "4 maps, 4x4")
    assert preview_of(window, "conv2").values.shape == (4, 4, 4)
    window.undo_stack.undo()
    qtbot.waitUntil(lambda: preview_of(window, "conv2").caption == "8 of 16 maps, 4x4")


def test_previews_are_computed_off_the_gui_thread_and_a_newer_request_wins(qtbot, make_window, monkeypatch):
    threads = []
    compute = node_previews.compute_previews

    def recording(*args):
        threads.append(threading.get_ident())
        return compute(*args)

    monkeypatch.setattr(node_previews, "compute_previews", recording)
    window = make_window(project=load_template("iris_mlp"))
    previews = window.previews
    qtbot.waitUntil(lambda: previews.result is not None)
    assert threads and threading.get_ident() not in threads
    shown = []
    previews.shown.connect(lambda: shown.append(previews.result.index))
    for number in (3, 4, 5):  # three requests at once: only the last one's previews are shown
        previews.index = number - 1
        previews.refresh()
    qtbot.waitUntil(lambda: bool(shown))
    qtbot.wait(50)
    assert shown == [4] and previews.bar.example.value() == 5


def test_the_example_can_be_stepped_from_the_canvas(qtbot, make_window):
    window = make_window(project=load_template("iris_mlp"))
    previews = window.previews
    qtbot.waitUntil(lambda: previews.result is not None)
    inputs = node_id(window, "inputs")
    first = previews.item(inputs).preview.values.copy()
    assert previews.bar.example.value() == 1 and previews.bar.isVisible()
    previews.bar.example.setValue(7)
    qtbot.waitUntil(lambda: previews.result.index == 6)
    assert (previews.item(inputs).preview.values != first).any()
    assert previews.bar.example.maximum() == previews.result.count


def test_the_toggle_hides_the_previews_and_is_remembered(qtbot, make_window):
    window = make_window(project=load_template("iris_mlp"))
    previews = window.previews
    qtbot.waitUntil(lambda: previews.result is not None)
    action = previews.action
    assert action in window.view_menu.actions() and action.isCheckable() and action.isChecked()
    items = [previews.item(n) for n in window.project.design.nodes]
    assert all(item.isVisible() for item in items)
    action.trigger()
    assert not any(item.isVisible() for item in items) and not previews.bar.isVisible()
    again = make_window(project=load_template("iris_mlp"))  # remembered for the next window
    assert not again.previews.action.isChecked()
    qtbot.wait(node_previews.DEBOUNCE_MS * 2)
    assert again.previews.result is None  # nothing is computed while they are hidden
    action.trigger()
    qtbot.waitUntil(lambda: all(item.isVisible() for item in items))


def test_previews_use_the_trained_run_once_it_finishes(qtbot, make_window):
    window = make_window(project=load_template("iris_mlp"))
    previews = window.previews
    qtbot.waitUntil(lambda: previews.result is not None)
    assert previews.bar.label.text().startswith("Previews: fresh weights")
    window.project.training["epochs"] = 2
    window.training_panel.set_project(window.project)
    with qtbot.waitSignal(window.training_panel.runFinished, timeout=60_000):
        window.train()
    qtbot.waitUntil(lambda: previews.result.weights != "fresh")
    assert previews.bar.label.text().startswith("Previews: trained weights of run 1")


def test_the_fitted_view_takes_the_previews_in(qtbot, make_window):
    window = make_window(project=load_template("iris_mlp"))
    previews = window.previews
    qtbot.waitUntil(lambda: previews.result is not None)
    rect = window.scene.nodes_rect()
    for node in window.project.design.nodes:
        assert rect.contains(previews.item(node).sceneBoundingRect())


def test_a_preview_shows_enlarged_in_its_tooltip(qtbot, make_window):
    from PySide6.QtCore import QByteArray, QEvent
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QGraphicsSceneHoverEvent

    window = make_window(project=load_template("tokens_transformer"))
    qtbot.waitUntil(lambda: preview_of(window, "encoder") is not None)
    item = window.previews.item(node_id(window, "encoder"))
    assert item.preview.kind == "heatmap" and item.toolTip() == item.preview.caption
    item.hoverEnterEvent(QGraphicsSceneHoverEvent(QEvent.Type.GraphicsSceneHoverEnter))
    tip = item.toolTip()
    assert item.preview.caption in tip and "fresh weights, test example 1 of " in tip
    encoded = tip.split("base64,", 1)[1].split('"', 1)[0]
    image = QImage.fromData(QByteArray.fromBase64(encoded.encode()), "PNG")
    assert image.width() == node_previews.TOOLTIP_W and image.height() > node_previews.PREVIEW_H


def test_a_design_too_big_for_previews_says_so(qtbot, make_window, monkeypatch):
    monkeypatch.setattr(node_previews, "NODES_AT_MOST", 5)
    window = make_window(project=load_template("iris_mlp"))  # 7 layers
    qtbot.waitUntil(lambda: "off for designs" in window.previews.bar.label.text())
    assert window.previews.result is None
    assert not window.previews.bar.example.isVisibleTo(window.previews.bar)
