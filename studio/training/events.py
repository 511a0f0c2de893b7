"""The events a training run reports, shared by the fit loop, the worker process, the CLI and the app."""

from __future__ import annotations

from dataclasses import dataclass, field

START, STEP, EPOCH, END, ERROR = "start", "step", "epoch", "end", "error"
PAUSED, RESUMED = "paused", "resumed"  # sent by the worker process when it has really paused or resumed
LOADING = "loading"  # data being read before the start: step of total_steps items done
VARIANT = "variant"  # a compressed model was made and measured (studio.training.compress)


@dataclass
class Event:
    """One thing that happened in a run. Which fields are set depends on `kind`.

    start: total_epochs, total_steps, message (a summary of the data and model).
    step: epoch, step (global, from 1), loss, lr, samples_per_sec, eta (seconds left).
    epoch: epoch, metrics (train_loss, val_loss, val_<metric>...), lr, grad_norms (per layer).
    end: status ("completed" | "stopped" | "early_stopped"), metrics (final test metrics), run (summary).
    error: message (what went wrong, in plain words, with a hint), run (summary so far).
    paused / resumed: epoch, step (the last step done before the pause).
    loading: step (items read so far), total_steps (items in all), message (what is read).
    variant: metrics (one row of the compression table: see studio.training.compress).
    """

    kind: str
    epoch: int = 0
    step: int = 0
    total_epochs: int = 0
    total_steps: int = 0
    loss: float | None = None
    lr: float | None = None
    samples_per_sec: float | None = None
    eta: float | None = None
    metrics: dict = field(default_factory=dict)
    grad_norms: dict = field(default_factory=dict)
    status: str = ""
    message: str = ""
    run: dict | None = None

    def to_dict(self) -> dict:
        """The fields as a plain dict; shallow, as the values are plain data already (a deep copy, as
        `dataclasses.asdict` makes, costs more than a small training step's bookkeeping)."""
        return dict(self.__dict__)
