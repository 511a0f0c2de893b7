"""Automatic layout of a design: layered, left to right (longest-path layers, barycentre ordering).

Pure geometry without Qt: the canvas, the graph inspector and the ONNX import all place nodes with it.
"""

from __future__ import annotations

from collections import deque

NODE_W, NODE_H = 184.0, 72.0  # a node's size on the canvas
STEP = (NODE_W + 96.0, NODE_H + 40.0)  # column and row pitch: room between nodes for the edge's shape label


def layered_layout(
    node_ids, edges, spacing=(230.0, 110.0), sweeps: int = 4, sources_near_consumers: bool = False
) -> dict:
    """Positions {node_id: (x, y)}: each node one column right of its furthest input, crossings reduced.

    `edges` are (src, src_port, dst, dst_port) tuples; columns are `spacing[0]` apart and rows `spacing[1]`.
    With `sources_near_consumers`, a node without inputs (a parameter, an input) sits one column before
    its first consumer instead of in the first column, so its edges stay short.
    The result is centred on (0, 0); callers shift it where they want it.
    """
    ids = list(node_ids)
    index = {n: i for i, n in enumerate(ids)}
    succ: dict = {n: [] for n in ids}
    pred: dict = {n: [] for n in ids}
    for e in edges:
        src, dst = e[0], e[2]
        if src in index and dst in index:
            succ[src].append((dst, e[3]))
            pred[dst].append((src, e[3]))
    column = _columns(ids, succ, pred, sources_near_consumers)
    columns: dict = {}
    for n in ids:
        columns.setdefault(column[n], []).append(n)
    layers = [columns[c] for c in sorted(columns)]
    # Barycentre sweeps: order each column by the mean row of its neighbours in the previous column.
    row = {n: float(i) for layer in layers for i, n in enumerate(layer)}
    for sweep in range(sweeps):
        forward = sweep % 2 == 0
        order = layers[1:] if forward else layers[-2::-1]
        for layer in order:
            neighbours = pred if forward else succ

            def key(n, neighbours=neighbours):
                linked = neighbours[n]
                if not linked:
                    return row[n]
                # the input port breaks ties so a merge's first input sits above its second
                return sum(row[m] + 0.01 * port for m, port in linked) / len(linked)

            layer.sort(key=key)
            for i, n in enumerate(layer):
                row[n] = float(i)
    positions = {}
    for c, layer in enumerate(layers):
        top = -(len(layer) - 1) / 2.0
        for i, n in enumerate(layer):
            positions[n] = (c * spacing[0], (top + i) * spacing[1])
    if positions:
        xs = [p[0] for p in positions.values()]
        shift = (min(xs) + max(xs)) / 2.0
        positions = {n: (x - shift, y) for n, (x, y) in positions.items()}
    return positions


def _columns(ids, succ, pred, sources_near_consumers) -> dict:
    """Each node's column: its longest path from the sources, in Kahn order (nodes left on a cycle stay
    in column 0)."""
    indeg = {n: len(pred[n]) for n in ids}
    column = dict.fromkeys(ids, 0)
    sources = [n for n in ids if indeg[n] == 0]
    ready = deque(sources)
    while ready:
        n = ready.popleft()
        for m, _ in succ[n]:
            column[m] = max(column[m], column[n] + 1)
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    if sources_near_consumers:
        # longest-path layering leaves every source in column 0; pull each one right to just before
        # the earliest column that reads it (every consumer is at column >= 1, so this stays >= 0)
        for n in sources:
            if succ[n]:
                column[n] = min(column[m] for m, _ in succ[n]) - 1
    return column
