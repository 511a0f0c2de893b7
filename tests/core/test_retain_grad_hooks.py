"""retain_grad keeps the gradient after every hook of the tensor, whatever the order they were added in."""

from __future__ import annotations

import studio.core as sc


def test_retained_grad_sees_hooks_added_later(torch):
    results = []
    for lib in (sc, torch):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g * 10)
        (y**2).sum().backward()
        results.append((y.grad.tolist(), x.grad.tolist()))
    assert results[0] == results[1] == ([40.0, -80.0, 120.0], [80.0, -160.0, 240.0])
