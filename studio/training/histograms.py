"""Histograms of every parameter tensor's weights and gradients at the end of each epoch, as
TensorBoard keeps them: a fixed number of equal bins over the tensor's range, so that a run's record
grows by a fixed amount per epoch, and thins itself to a bounded number of epochs."""

from __future__ import annotations

import numpy as np

BINS = 30
ENTRY_BUDGET = 4000  # histograms kept with a run: tensors x 2 (weights, gradients) x epochs
EPOCHS_KEPT = (8, 100)  # however many tensors, between this few and this many epochs are kept


def histogram(values, bins: int = BINS) -> dict:
    """The counts of `bins` equal bins over the finite values' range [lo, hi] (the edges are
    `linspace(lo, hi, bins + 1)`); a constant tensor gets the range [v - 0.5, v + 0.5], as numpy's."""
    a = np.asarray(values, np.float64).ravel()
    a = a[np.isfinite(a)]
    if not a.size:
        return {"range": [0.0, 0.0], "counts": [0] * bins}
    lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, _ = np.histogram(a, bins=bins, range=(lo, hi))
    return {"range": [float(f"{lo:.7g}"), float(f"{hi:.7g}")], "counts": counts.tolist()}


class HistogramRecorder:
    """Records into `record` (a run's "histograms" entry) the histograms of a model's parameters.

    Every epoch is kept until the budget's number of epochs is reached; then every second kept epoch
    goes and only every second epoch after it is recorded, and so on, so that the record spans the
    whole run at an even spacing and stays bounded."""

    def __init__(self, model, record: dict, bins: int = BINS):
        self.params = [(name, p) for name, p in model.named_parameters()]
        self.bins = bins
        self.limit = max(EPOCHS_KEPT[0], min(EPOCHS_KEPT[1], ENTRY_BUDGET // max(2 * len(self.params), 1)))
        self.stride = 1
        self.record = record
        record.update(
            bins=bins,
            epochs=[],
            tensors={name: {"shape": list(p.shape), "weight": [], "grad": []} for name, p in self.params},
        )

    def epoch_end(self, epoch: int) -> None:
        """Record the weights and the last step's gradients, when this epoch is one the record keeps."""
        if (epoch - 1) % self.stride:
            return
        self.record["epochs"].append(epoch)
        for name, p in self.params:
            entry = self.record["tensors"][name]
            entry["weight"].append(histogram(p.detach().cpu().numpy(), self.bins))
            grad = p.grad
            entry["grad"].append(None if grad is None else histogram(grad.detach().cpu().numpy(), self.bins))
        if len(self.record["epochs"]) > self.limit:
            self._halve()

    def _halve(self) -> None:
        self.stride *= 2
        keep = [i for i, e in enumerate(self.record["epochs"]) if (e - 1) % self.stride == 0]
        self.record["epochs"] = [self.record["epochs"][i] for i in keep]
        for entry in self.record["tensors"].values():
            for kind in ("weight", "grad"):
                entry[kind] = [entry[kind][i] for i in keep]
