"""What a training run does, as self-contained functions of numpy alone: `fit` calls them and the exported
scripts carry their source verbatim, so that the app and its scripts split the data, scale it on the
training split, batch it, augment it, pick the best epoch and stop early alike.

Each function here must stay self-contained (numpy as `np`, nothing else from the module), because
`inspect.getsource` copies it into scripts.
"""

from __future__ import annotations

import numpy as np

EVAL_BATCH_FACTOR = 4  # evaluation batches are this many training batches: no gradients are kept


def split_indices(n, fractions, seed, labels=None):
    """Shuffled, disjoint train/val/test indices in the given proportions. With `labels` (class codes)
    each class is split on its own, so that every split keeps the classes' proportions and every class
    with a row has one in training."""
    f = [float(fractions.get(k, 0.0)) for k in ("train", "val", "test")]
    total = sum(f)
    if total <= 0 or min(f) < 0:
        raise ValueError(f"split fractions must be non-negative and not all zero, got {fractions}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if labels is None:
        groups = [order]
    else:
        codes = np.unique(np.asarray(labels)[order], return_inverse=True)[1].reshape(-1)
        groups = [order[codes == g] for g in range(int(codes.max()) + 1 if n else 0)]
    parts = {"train": [], "val": [], "test": []}
    for group in groups:
        m = len(group)
        n_train = int(round(m * f[0] / total))
        n_val = int(round(m * f[1] / total))
        if labels is not None and m:
            n_train = max(n_train, 1)
            n_val = min(n_val, m - n_train)
        parts["train"].append(group[:n_train])
        parts["val"].append(group[n_train : n_train + n_val])
        parts["test"].append(group[n_train + n_val :])
    if labels is None:
        return {k: v[0] if v else np.zeros(0, np.int64) for k, v in parts.items()}
    return {k: rng.permutation(np.concatenate(v)) if v else np.zeros(0, np.int64) for k, v in parts.items()}


def standardizer(x_train):
    """Each feature's mean and spread over the training split (a spread of 0 counts as 1)."""
    mean = x_train.mean(axis=0, keepdims=True)
    std = x_train.std(axis=0, keepdims=True)
    std[std == 0] = 1.0
    return mean, std


def batch_indices(n, batch_size, rng=None):
    """The rows of each batch: slices in order, or a fresh shuffle drawn from `rng` on each pass."""
    if rng is None:
        return [slice(start, start + batch_size) for start in range(0, n, batch_size)]
    order = rng.permutation(n)
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]


def augment(x, rng, hflip=False, shift=False, rotate=False):
    """Random flips, shifts and small rotations of a batch of (N, C, H, W) images, new for each batch."""
    n, _, h, w = x.shape
    x = x.copy()
    if hflip:
        flip = rng.random(n) < 0.5
        x[flip] = x[flip][..., ::-1]
    if shift or rotate:
        # one nearest-neighbour resampling for both: each output pixel reads a source pixel, and
        # pixels from outside the image are zero
        cy, cx = (h - 1) / 2, (w - 1) / 2
        angle = np.deg2rad(rng.uniform(-15, 15, n)) if rotate else np.zeros(n)
        limit = max(1, h // 8)
        dy = rng.integers(-limit, limit + 1, n) if shift else np.zeros(n, int)
        dx = rng.integers(-limit, limit + 1, n) if shift else np.zeros(n, int)
        cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        yy = np.arange(h, dtype=np.float64)[None, :, None] - cy
        xx = np.arange(w, dtype=np.float64)[None, None, :] - cx
        src_y = np.rint(cos * yy - sin * xx + cy - dy[:, None, None]).astype(np.int64)
        src_x = np.rint(sin * yy + cos * xx + cx - dx[:, None, None]).astype(np.int64)
        inside = (src_y >= 0) & (src_y < h) & (src_x >= 0) & (src_x < w)
        src_y, src_x = np.clip(src_y, 0, h - 1), np.clip(src_x, 0, w - 1)
        out = x[np.arange(n)[:, None, None], :, src_y, src_x]  # (N, H, W, C)
        x = (np.moveaxis(out, -1, 1) * inside[:, None]).astype(x.dtype, copy=False)
    return np.ascontiguousarray(x)


def predictions(out, task):
    """What a network's outputs (a numpy array) predict: class indices, or the values themselves."""
    if task == "classification":
        return out.argmax(1) if out.ndim == 2 and out.shape[1] > 1 else (out.reshape(len(out)) > 0)
    return out.reshape(len(out), -1)


class Monitor:
    """Picks the best epoch by the monitored quantity, and says when early stopping ends the run.

    `quantity` is "val_metric" (higher is better) or "val_loss" (lower is better); without validation
    data the training loss is watched. `patience` 0 never stops early.
    """

    def __init__(self, quantity="val_metric", patience=0):
        self.quantity = quantity
        self.mode = "max" if quantity == "val_metric" else "min"
        self.patience = patience
        self.best, self.best_epoch, self.waited = None, 0, 0

    def watched(self, val_loss, val_metric, train_loss):
        """The value this epoch is judged by."""
        if val_loss is None:
            return -train_loss if self.mode == "max" else train_loss
        return val_metric if self.mode == "max" else val_loss

    def update(self, epoch, val_loss, val_metric, train_loss):
        """Record an epoch; True when it is the best so far."""
        value = self.watched(val_loss, val_metric, train_loss)
        better = self.best is None or (value > self.best if self.mode == "max" else value < self.best)
        if better:
            self.best, self.best_epoch, self.waited = value, epoch, 0
        else:
            self.waited += 1
        return better

    @property
    def stop(self):
        """Whether the run has gone `patience` epochs without a better one."""
        return self.patience > 0 and self.waited >= self.patience


def score(pred, target, task):
    """The scripts' metric: accuracy of class predictions, or R² of values (the mean over output
    columns; a constant target scores 1 when met exactly, else 0), as Studio's metrics give them."""
    if task == "classification":
        return float((pred.reshape(-1) == target.reshape(-1)).mean()) if len(pred) else 0.0
    p = pred.reshape(len(pred), -1).astype(np.float64)
    t = target.reshape(len(target), -1).astype(np.float64)
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
    return float(r2.mean())
