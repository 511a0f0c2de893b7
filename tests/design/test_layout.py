"""Automatic layout without Qt: folding into bands, fitting a view, recognising it, arrow-key moves."""

from __future__ import annotations

from studio.design.layout import (
    NODE_H,
    NODE_W,
    STEP,
    fit_layout,
    fold_layout,
    folded_size,
    is_automatic,
    layered_layout,
    neighbour,
)


def chain(n):
    ids = [f"n{i}" for i in range(n)]
    return ids, [(a, 0, b, 0) for a, b in zip(ids, ids[1:])]


def test_a_long_edge_keeps_a_row_of_its_own():
    # a -> b -> c -> d with a skip a -> d: b and c leave the skip's row free
    ids = ["a", "b", "c", "d"]
    edges = [("a", 0, "b", 0), ("b", 0, "c", 0), ("c", 0, "d", 0), ("a", 0, "d", 1)]
    pos = layered_layout(ids, edges, spacing=STEP)
    assert pos["a"][1] == pos["d"][1]
    assert pos["b"][1] == pos["c"][1] != pos["a"][1]
    assert set(pos) == set(ids)  # the placeholders are not part of the result


def test_fold_makes_bands_of_columns_top_to_bottom():
    ids, edges = chain(7)
    folded = fold_layout(layered_layout(ids, edges, spacing=STEP), 3)
    assert [folded[n] for n in ids[:3]] == [(0.0, 0.0), (STEP[0], 0.0), (2 * STEP[0], 0.0)]
    assert folded["n3"][0] == 0.0 and folded["n3"][1] > NODE_H
    assert folded["n6"][1] > folded["n3"][1]
    assert folded_size(folded) == (2 * STEP[0] + NODE_W, folded["n6"][1] + NODE_H)


def test_fit_layout_folds_only_as_far_as_readability_needs():
    ids, edges = chain(12)
    wide, per_band, scale = fit_layout(ids, edges, 1e5, 1e5, least=0.5)
    assert per_band == 12 and scale >= 0.5
    tall, per_band, scale = fit_layout(ids, edges, 1200, 900, margin=40, least=0.6)
    assert 1 < per_band < 12 and scale >= 0.6
    w, h = folded_size(tall)
    assert (w + 80) * scale <= 1200 + 1e-6 and (h + 80) * scale <= 900 + 1e-6
    # nothing reaches the wished scale: the best one found is taken
    _, _, best = fit_layout(ids, edges, 100, 100, least=10.0)
    assert 0 < best < 10.0


def test_is_automatic_anywhere_on_the_plane_folded_or_not():
    ids, edges = chain(6)
    base = layered_layout(ids, edges, spacing=STEP)
    assert is_automatic(base, ids, edges)
    folded = {n: (x + 500, y - 300) for n, (x, y) in fold_layout(base, 2).items()}
    assert is_automatic(folded, ids, edges)
    moved = dict(folded)
    moved["n3"] = (moved["n3"][0] + 30, moved["n3"][1])
    assert not is_automatic(moved, ids, edges)
    assert not is_automatic({}, ids, edges)


def test_neighbour_follows_connections_across_bands():
    ids, edges = chain(6)
    pos = fold_layout(layered_layout(ids, edges, spacing=STEP), 3)
    assert neighbour(pos, edges, "n0", "right") == "n1"
    assert neighbour(pos, edges, "n2", "right") == "n3"  # the end of a band leads to the next band
    assert neighbour(pos, edges, "n3", "left") == "n2"
    assert neighbour(pos, edges, "n1", "down") == "n4"
    assert neighbour(pos, edges, "n4", "up") == "n1"
    assert neighbour(pos, edges, "n5", "right") is None
    assert neighbour(pos, edges, "n0", "up") is None
