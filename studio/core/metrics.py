"""Evaluation metrics: accuracy, precision/recall/F1, confusion matrix and regression errors.

Every metric takes predictions and targets as Tensors or arrays (numpy or cupy). Classification
predictions are class indices, or scores (logits or probabilities) with the classes along dim 1
(PyTorch's (N, C, ...) layout); binary scores of the targets' shape are thresholded. Results are
Python floats, or numpy arrays for per-class values and the confusion matrix. No autograd here.
"""

from __future__ import annotations

import numpy as np

from . import backend as B
from .tensor import Tensor

__all__ = [
    "accuracy",
    "confusion_matrix",
    "f1_score",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "precision_recall_f1",
    "r2_score",
    "recall",
    "root_mean_squared_error",
]


def _array(x, where, name):
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray) or B.is_cuda_array(x):
        return x
    if isinstance(x, list | tuple | int | float):
        return np.asarray(x)
    raise TypeError(f"{where}: {name} must be a Tensor or an array, got {type(x).__name__}")


def _labels(preds, target, threshold, where):
    """Predicted and true class indices as int64 numpy arrays of the same shape, and the score width."""
    p = _array(preds, where, "preds")
    t = _array(target, where, "target")
    xp = B.array_module(p)
    n_scores = None
    if p.ndim == t.ndim + 1:
        n_scores = p.shape[1]
        p = xp.argmax(p, axis=1)  # on the device: only the indices travel to the host
    elif p.shape == t.shape and p.dtype.kind == "f":
        # binary scores: probabilities in [0, 1], anything else is taken as logits
        if p.size and (p.min() < 0 or p.max() > 1):
            p = 1 / (1 + xp.exp(-p))
        p = p >= threshold
    if p.shape != t.shape:
        raise ValueError(
            f"{where}: preds of shape {tuple(_array(preds, where, 'preds').shape)} do not match target of "
            f"shape {tuple(t.shape)}: expected the same shape (class indices or binary scores) or one more "
            "dim of class scores at dim 1"
        )
    if t.dtype.kind == "f" and t.size and bool((t != xp.round(t)).any()):
        raise ValueError(f"{where}: target must hold class indices, got non-integer values")
    p = B.to_numpy(p).astype(np.int64, copy=False).reshape(-1)
    t = B.to_numpy(t).astype(np.int64, copy=False).reshape(-1)
    for name, a in (("preds", p), ("target", t)):
        if a.size and a.min() < 0:
            raise ValueError(f"{where}: {name} holds a negative class index {int(a.min())}")
    return p, t, n_scores


def _num_classes(p, t, n_scores, num_classes, where):
    n = num_classes
    if n is None:
        n = n_scores if n_scores is not None else 0
        if p.size:
            n = max(n, int(p.max()) + 1, int(t.max()) + 1)
    for name, a in (("preds", p), ("target", t)):
        if a.size and a.max() >= n:
            raise ValueError(f"{where}: {name} holds class {int(a.max())}, out of range for num_classes={n}")
    return max(n, 1)


def accuracy(preds, target, *, top_k=1, threshold=0.5):
    """The fraction of correct predictions; with `top_k`, a hit is the target among the k best scores."""
    if top_k != 1:
        s = _array(preds, "accuracy", "preds")
        t = _array(target, "accuracy", "target")
        if s.ndim != t.ndim + 1:
            raise ValueError(
                f"accuracy: top_k={top_k} needs class scores, got preds of shape {tuple(s.shape)}"
            )
        if not 1 <= top_k <= s.shape[1]:
            raise ValueError(f"accuracy: top_k must be in [1, {s.shape[1]}], got {top_k}")
        xp = B.array_module(s)
        best = xp.argsort(-s, axis=1)[:, :top_k]
        hit = (best == xp.expand_dims(t.astype(np.int64), 1)).any(axis=1)
        return float(hit.mean()) if hit.size else 0.0
    p, t, _ = _labels(preds, target, threshold, "accuracy")
    return float((p == t).mean()) if p.size else 0.0


def confusion_matrix(preds, target, num_classes=None, *, threshold=0.5):
    """A (num_classes, num_classes) int64 array: row = true class, column = predicted class."""
    p, t, n_scores = _labels(preds, target, threshold, "confusion_matrix")
    n = _num_classes(p, t, n_scores, num_classes, "confusion_matrix")
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)


def _divide(a, b):
    """a / b elementwise, 0 where b is 0 (scikit-learn's zero_division=0)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


def precision_recall_f1(preds, target, *, average="macro", num_classes=None, threshold=0.5):
    """(precision, recall, F1), averaged as `average` says.

    average: 'macro' (unweighted mean over the classes that occur in preds or target), 'micro'
    (from the pooled counts; equals accuracy for single-label data), 'weighted' (by support),
    'binary' (class 1 only) or None (per-class arrays).
    """
    if average not in ("macro", "micro", "weighted", "binary", None):
        raise ValueError(f"average must be 'macro', 'micro', 'weighted', 'binary' or None, got {average!r}")
    if average == "binary" and num_classes is None:
        num_classes = 2
    cm = confusion_matrix(preds, target, num_classes, threshold=threshold)
    tp = np.diag(cm).astype(np.float64)
    pred_count = cm.sum(axis=0)
    true_count = cm.sum(axis=1)
    if average == "micro":
        p = r = float(_divide(tp.sum(), pred_count.sum()))
        f = float(_divide(2 * p * r, p + r))
        return p, r, f
    prec = _divide(tp, pred_count)
    rec = _divide(tp, true_count)
    f1 = _divide(2 * prec * rec, prec + rec)
    if average is None:
        return prec, rec, f1
    if average == "binary":
        if cm.shape[0] != 2:
            raise ValueError(f"average='binary' needs two classes, got num_classes={cm.shape[0]}")
        return float(prec[1]), float(rec[1]), float(f1[1])
    if average == "weighted":
        w = true_count / max(true_count.sum(), 1)
        return float((prec * w).sum()), float((rec * w).sum()), float((f1 * w).sum())
    present = (pred_count + true_count) > 0
    if not present.any():
        return 0.0, 0.0, 0.0
    return float(prec[present].mean()), float(rec[present].mean()), float(f1[present].mean())


def _prf(preds, target, average, num_classes, threshold):
    return precision_recall_f1(preds, target, average=average, num_classes=num_classes, threshold=threshold)


def precision(preds, target, *, average="macro", num_classes=None, threshold=0.5):
    """Of the predictions of a class, the fraction that were right (see `precision_recall_f1`)."""
    return _prf(preds, target, average, num_classes, threshold)[0]


def recall(preds, target, *, average="macro", num_classes=None, threshold=0.5):
    """Of the samples of a class, the fraction predicted as it (see `precision_recall_f1`)."""
    return _prf(preds, target, average, num_classes, threshold)[1]


def f1_score(preds, target, *, average="macro", num_classes=None, threshold=0.5):
    """The harmonic mean of precision and recall (see `precision_recall_f1`)."""
    return _prf(preds, target, average, num_classes, threshold)[2]


# ----------------------------------------------------------------------------------- regression


def _pair(preds, target, where):
    p = _array(preds, where, "preds")
    t = _array(target, where, "target")
    if p.shape != t.shape:
        if p.size == t.size and p.squeeze().shape == t.squeeze().shape:
            p = p.reshape(t.shape)  # (N, 1) predictions against (N,) targets
        else:
            raise ValueError(
                f"{where}: preds of shape {tuple(p.shape)} do not match target of shape {tuple(t.shape)}"
            )
    if p.size == 0:
        raise ValueError(f"{where}: got no samples")
    return B.to_numpy(p).astype(np.float64), B.to_numpy(t).astype(np.float64)


def mean_absolute_error(preds, target):
    """mean(|preds - target|)."""
    p, t = _pair(preds, target, "mean_absolute_error")
    return float(np.abs(p - t).mean())


def mean_squared_error(preds, target):
    """mean((preds - target)^2)."""
    p, t = _pair(preds, target, "mean_squared_error")
    return float(((p - t) ** 2).mean())


def root_mean_squared_error(preds, target):
    """sqrt(mean((preds - target)^2))."""
    return float(np.sqrt(mean_squared_error(preds, target)))


def r2_score(preds, target):
    """Coefficient of determination 1 - SS_res / SS_tot; for 2-d targets, the mean over the columns.

    A constant target scores 1.0 when predicted exactly and 0.0 otherwise (scikit-learn's rule).
    """
    p, t = _pair(preds, target, "r2_score")
    if p.ndim == 1:
        p, t = p[:, None], t[:, None]
    p, t = p.reshape(p.shape[0], -1), t.reshape(t.shape[0], -1)
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    score = np.where(ss_tot > 0, 1 - _divide(ss_res, ss_tot), np.where(ss_res == 0, 1.0, 0.0))
    return float(score.mean())
