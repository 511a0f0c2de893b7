"""Run histories as files: curves as CSV rows of (series, step, value), written atomically."""

from __future__ import annotations

import csv
from pathlib import Path


def run_series(run: dict) -> list[tuple[str, list, list]]:
    """The curves of a stored run as (name, steps, values) series."""
    c = run.get("curves") or {}
    steps = c.get("step", [])
    n_epochs = len(c.get("epoch", []))
    # epoch values sit at the step where their epoch ended
    per_epoch = (steps[-1] / n_epochs) if steps and n_epochs else 1
    ends = [round(e * per_epoch) for e in c.get("epoch", [])]
    metric = run.get("metric") or "metric"
    out = [("train_loss_step", steps, c.get("loss", []))]
    for key, name in (
        ("train_loss", "train_loss_epoch"),
        ("val_loss", "val_loss"),
        ("val_metric", f"val_{metric}"),
        ("lr", "lr"),
    ):
        values = c.get(key, [])
        pairs = [(s, v) for s, v in zip(ends, values) if v is not None]
        out.append((name, [p[0] for p in pairs], [p[1] for p in pairs]))
    return out


def write_curves_csv(path, series) -> Path:
    """Write (name, steps, values) series as one CSV file; a crash mid-write leaves no half file."""
    from studio.core import atomic

    path = Path(path)
    with atomic.atomic_open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["series", "step", "value"])
        for name, xs, ys in series:
            for x, y in zip(xs, ys):
                w.writerow([name, int(x), repr(float(y))])
    return path
