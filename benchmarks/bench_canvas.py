"""Canvas speed: frames per second while dragging a node on a 300-node design, rendered offscreen."""

from __future__ import annotations

import os
import time


def _design(count: int):
    """Parallel chains of ordinary layers (Input, Linear, ReLU, Dropout, ...) laid out in columns."""
    from studio.design import Design
    from studio.ui.layout import STEP, layered_layout

    design = Design()
    cycle = [
        ("Linear", {"out_features": 32}),
        ("ReLU", {}),
        ("Dropout", {}),
        ("LayerNorm", {}),
    ]
    length = 10
    while len(design.nodes) < count:
        prev = design.add_node("Input", {"shape": (32,)}).id
        for i in range(1, min(length, count - len(design.nodes) + 1)):
            type_, params = cycle[(i - 1) % len(cycle)]
            node = design.add_node(type_, params).id
            design.connect(prev, node)
            prev = node
    for node_id, pos in layered_layout(list(design.nodes), design.edges, spacing=STEP).items():
        design.move(node_id, pos)
    return design


def bench_drag(nodes: int = 300, frames: int = 60, size=(1366, 768), fit: bool = True) -> float:
    """Frames per second of dragging one node: each frame moves it (through the design, as a drag does)
    and repaints the whole canvas viewport into an offscreen image. `fit` shows all nodes at once."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    from studio.ui.canvas import CanvasScene, CanvasView
    from studio.ui.editor import Editor

    app = QApplication.instance() or QApplication([])
    editor = Editor(_design(nodes))
    scene = CanvasScene(editor)
    view = CanvasView(scene)
    view.resize(*size)
    if fit:
        view.fit_all()
    image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32_Premultiplied)
    ids = list(editor.design.nodes)
    dragged = ids[len(ids) // 2 + 3]
    scene.select_nodes([dragged])
    start = scene.nodes[dragged].pos()
    scene.begin_drag(start)

    def frame(i: int) -> None:
        scene.drag_to(start + QPointF(3.0 * (i % 40), 2.0 * (i % 25)))
        app.processEvents()
        view.viewport().render(image)

    for i in range(5):  # warm the item caches, as the first frames of a real drag do
        frame(i)
    t0 = time.perf_counter()
    for i in range(frames):
        frame(i)
    elapsed = time.perf_counter() - t0
    scene.end_drag()
    scene.detach()
    view.deleteLater()
    app.processEvents()
    return frames / elapsed


if __name__ == "__main__":
    print(f"all 300 nodes visible: {bench_drag():.1f} fps")
    print(f"at 100% zoom:          {bench_drag(fit=False):.1f} fps")
