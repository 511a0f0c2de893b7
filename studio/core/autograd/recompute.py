"""Saved values that a checkpointed segment drops in forward and recomputes in backward.

While a `Frame` is active, `record` hands each node a `Deferred` placeholder instead of the arrays
its backward will read, so the segment's activations are freed as soon as forward is done with
them. The first node of the segment that backward reaches runs the segment again (a `Replay`,
which collects what each recorded op saves, in order); each node then takes its own values, and
releases them as usual once it has run. The graph itself is recorded normally, so gradients reach
parameters and inputs without a node of their own, and `autograd.grad` works through it.
"""

from __future__ import annotations

active = None  # the Frame or Replay that `record` reports to, or None


class Deferred:
    """Stands for the saved values of the `index`-th recorded op of `frame`."""

    __slots__ = ("frame", "index")

    def __init__(self, frame, index):
        self.frame, self.index = frame, index

    def materialize(self):
        return self.frame.take(self.index)


class Frame:
    """The first run of a checkpointed segment: numbers its recorded ops and drops what they save.

    `recompute()` re-runs the segment under a Replay and returns the Replay's list of saved values.
    """

    __slots__ = ("recompute", "count", "values")

    def __init__(self, recompute):
        self.recompute = recompute
        self.count = 0
        self.values = None

    def keep(self, saved):
        index = self.count
        self.count += 1
        return None if saved is None else Deferred(self, index)

    def take(self, index):
        if self.values is None:
            values = self.recompute()
            if len(values) != self.count:
                raise RuntimeError(
                    f"checkpoint: recomputing the segment recorded {len(values)} operations, its first run "
                    f"{self.count}: the checkpointed function must run the same operations each time (no "
                    "branches on values changed in between, no different inputs)"
                )
            self.values = values
            self.recompute = None  # the segment's inputs may go once everything is recomputed
        value, self.values[index] = self.values[index], None  # each node frees its own values
        return value


class Replay:
    """The recomputation of a segment: collects every recorded op's saved values, in order."""

    __slots__ = ("values",)

    def __init__(self):
        self.values = []

    def keep(self, saved):
        self.values.append(saved)
        return saved
