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
    _route_long_edges(ids, succ, pred, column)
    columns: dict = {}
    for n in column:
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
            if n in index:  # placeholders only kept their rows
                positions[n] = (c * spacing[0], (top + i) * spacing[1])
    if positions:
        xs = [p[0] for p in positions.values()]
        shift = (min(xs) + max(xs)) / 2.0
        positions = {n: (x - shift, y) for n, (x, y) in positions.items()}
    return positions


BAND_GAP = 56.0  # between bands of a folded layout: room for the edge back to the next band and its label


def fold_layout(positions: dict, per_band: int, spacing=STEP, band_gap: float = BAND_GAP) -> dict:
    """A left-to-right layout folded into bands of `per_band` columns, each band under the one before.

    `positions` is a layered layout (columns `spacing[0]` apart). Each band keeps its columns' rows;
    a band is as tall as its tallest column, and the next starts `band_gap` below it. The result has
    its top-left node at (0, 0).
    """
    if not positions:
        return {}
    xs = sorted({round(x) for x, _ in positions.values()})
    column = {x: i for i, x in enumerate(xs)}
    per_band = max(1, int(per_band))
    bands: dict = {}
    for n, (x, y) in positions.items():
        band, c = divmod(column[round(x)], per_band)
        bands.setdefault(band, []).append((n, c, y))
    out, top = {}, 0.0
    for band in sorted(bands):
        members = bands[band]
        lo = min(y for _, _, y in members)
        hi = max(y for _, _, y in members)
        for n, c, y in members:
            out[n] = (c * spacing[0], top + y - lo)
        top += hi - lo + NODE_H + band_gap
    return out


def folded_size(positions: dict) -> tuple[float, float]:
    """Width and height of the nodes' area of a layout (node centres plus a node's size)."""
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    return max(xs) - min(xs) + NODE_W, max(ys) - min(ys) + NODE_H


def fit_layout(node_ids, edges, width: float, height: float, margin: float = 0.0, least: float = 0.0):
    """The layered layout folded to suit a `width` x `height` view: (positions, columns per band, scale).

    The scale is the largest magnification at which the folded layout (plus `margin` around it) fits
    the view. The fewest bands that reach the scale `least` win, so a design that fits unfolded stays
    one row; when no folding reaches it, the one with the largest scale does.
    """
    base = layered_layout(node_ids, edges, spacing=STEP)
    if not base:
        return {}, 0, 1.0
    best = None
    for per_band in range(len({round(x) for x, _ in base.values()}), 0, -1):
        folded = fold_layout(base, per_band)
        w, h = folded_size(folded)
        scale = min(width / (w + 2 * margin), height / (h + 2 * margin))
        if scale >= least:
            return folded, per_band, scale
        if best is None or scale > best[2]:
            best = (folded, per_band, scale)
    return best


def is_automatic(positions: dict, node_ids, edges, tolerance: float = 1.0) -> bool:
    """Whether `positions` are the layered layout, folded or not, anywhere on the plane: a layout the
    app made, which it may make again for another view, rather than one a person arranged."""
    ids = list(node_ids)
    if not ids or any(n not in positions for n in ids):
        return False
    base = layered_layout(ids, edges, spacing=STEP)
    count = len({round(x) for x, _ in base.values()})
    xs = [positions[n][0] for n in ids]
    left = min(xs)
    per_band = round((max(xs) - left) / STEP[0]) + 1  # the widest band spans all its columns
    if not 1 <= per_band <= count:
        return False
    candidate = fold_layout(base, per_band)
    top = min(positions[n][1] for n in ids)
    return all(
        abs(positions[n][0] - left - candidate[n][0]) <= tolerance
        and abs(positions[n][1] - top - candidate[n][1]) <= tolerance
        for n in ids
    )


DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def neighbour(positions: dict, edges, node_id, direction: str):
    """The node an arrow key moves to from `node_id`, or None.

    Right and left follow the connections (to the node this one feeds, or is fed by, nearest its row),
    so that the next layer is reached even at the end of a band; without one, and for up and down, the
    nearest node that way is taken, straying little from the line.
    """
    dx, dy = DIRECTIONS[direction]
    x0, y0 = positions[node_id]

    def along(n):
        return (positions[n][0] - x0) * dx + (positions[n][1] - y0) * dy

    def across(n):
        return abs((positions[n][0] - x0) * dy) + abs((positions[n][1] - y0) * dx)

    if dx:
        ends = (0, 2) if dx > 0 else (2, 0)  # (from, to) fields of an edge tuple
        linked = [e[ends[1]] for e in edges if e[ends[0]] == node_id and e[ends[1]] in positions]
        if linked:
            return min(linked, key=lambda n: (across(n), abs(along(n))))
    ahead = [n for n in positions if n != node_id and along(n) > 1.0]
    return min(ahead, key=lambda n: along(n) + 2 * across(n)) if ahead else None


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


def _route_long_edges(ids, succ, pred, column) -> None:
    """An edge that skips columns passes through a placeholder in each column it crosses, so that it
    keeps a row of its own there instead of running behind the nodes of those columns."""
    long_edges = [(src, m, port) for src in ids for m, port in succ[src] if column[m] - column[src] > 1]
    for k, (src, dst, port) in enumerate(long_edges):
        succ[src].remove((dst, port))
        pred[dst].remove((src, port))
        prev = src
        for c in range(column[src] + 1, column[dst]):
            ghost = ("skip", k, c)
            column[ghost], succ[ghost], pred[ghost] = c, [], [(prev, 0)]
            succ[prev].append((ghost, 0))
            prev = ghost
        succ[prev].append((dst, port))
        pred[dst].append((prev, port))
