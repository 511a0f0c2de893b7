"""Evaluation metrics: accuracy, precision/recall/F1, ROC and precision-recall curves, calibration,
confusion matrix and regression errors.

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
    "average_precision_score",
    "calibration_curve",
    "confusion_matrix",
    "f1_score",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "precision_recall_f1",
    "precision_recall_curve",
    "r2_score",
    "recall",
    "roc_auc_score",
    "roc_curve",
    "root_mean_squared_error",
    "support",
]


def _array(x, where, name):
    if isinstance(x, Tensor):
        return x._data
    if B.is_array(x):
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


# ------------------------------------------------------------------------- curves from scores


def _softmax_rows(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _scores(scores, target, where):
    """Scores as float64 host arrays: (N,) for a binary task, or (N, C) probabilities, and int64 targets.

    Binary scores may be probabilities or logits of class 1, or (N, 2) class scores; (N, C) scores
    that are not probabilities (outside [0, 1] or rows not summing to 1) go through a softmax.
    """
    s = B.to_numpy(_array(scores, where, "scores")).astype(np.float64)
    t = B.to_numpy(_array(target, where, "target"))
    if t.dtype.kind == "f" and t.size and bool((t != np.round(t)).any()):
        raise ValueError(f"{where}: target must hold class indices, got non-integer values")
    t = t.astype(np.int64).reshape(-1)
    if s.ndim == 2 and s.shape[1] == 2 and s.shape[0] == t.size:
        s = _softmax_rows(s)[:, 1] if not _are_probabilities(s) else s[:, 1]
    if s.ndim == 1 or (s.ndim == 2 and s.shape[1] == 1):
        s = s.reshape(-1)
        if s.size != t.size:
            raise ValueError(f"{where}: {s.size} scores for {t.size} targets")
        if t.size and (t.min() < 0 or t.max() > 1):
            raise ValueError(f"{where}: binary scores need targets 0 and 1, got classes up to {int(t.max())}")
        return s, t
    if s.ndim != 2 or s.shape[0] != t.size:
        raise ValueError(
            f"{where}: scores of shape {tuple(s.shape)} do not fit target of shape ({t.size},): expected "
            "(N,) binary scores or (N, C) class scores"
        )
    if t.size and (t.min() < 0 or t.max() >= s.shape[1]):
        raise ValueError(
            f"{where}: target holds class {int(t.max())}, out of range for {s.shape[1]} score columns"
        )
    return (s if _are_probabilities(s) else _softmax_rows(s)), t


def _are_probabilities(s):
    return bool(s.size == 0 or (s.min() >= 0 and s.max() <= 1 and np.allclose(s.sum(axis=1), 1, atol=1e-4)))


def _binary_counts(score, positive):
    """False and true positives at each distinct threshold, thresholds descending (scikit-learn's rule)."""
    order = np.argsort(score, kind="mergesort")[::-1]
    score, positive = score[order], positive[order].astype(np.float64)
    last = np.r_[np.flatnonzero(np.diff(score)), positive.size - 1]
    tps = np.cumsum(positive)[last]
    return 1 + last - tps, tps, score[last]


def _check_both_classes(positive, where):
    if positive.size == 0 or positive.all() or not positive.any():
        raise ValueError(f"{where}: only one class present in target; the score is not defined")


def roc_curve(scores, target, *, drop_intermediate=True):
    """(false positive rates, true positive rates, thresholds) of binary scores, as scikit-learn's.

    Thresholds descend from +inf; `drop_intermediate` drops the points that do not change the curve's
    shape. Targets are 0 and 1.
    """
    s, t = _scores(scores, target, "roc_curve")
    if s.ndim != 1:
        raise ValueError("roc_curve: needs binary scores; use roc_auc_score for class scores")
    positive = t == 1
    _check_both_classes(positive, "roc_curve")
    fps, tps, thr = _binary_counts(s, positive)
    if drop_intermediate and fps.size > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps, thr = fps[keep], tps[keep], thr[keep]
    fps, tps, thr = np.r_[0, fps], np.r_[0, tps], np.r_[np.inf, thr]
    return fps / fps[-1], tps / tps[-1], thr


def precision_recall_curve(scores, target):
    """(precision, recall, thresholds) of binary scores, as scikit-learn's: thresholds ascend, and
    the curve ends at precision 1, recall 0."""
    s, t = _scores(scores, target, "precision_recall_curve")
    if s.ndim != 1:
        raise ValueError("precision_recall_curve: needs binary scores; use one column of class scores")
    positive = t == 1
    _check_both_classes(positive, "precision_recall_curve")
    fps, tps, thr = _binary_counts(s, positive)
    prec = _divide(tps, tps + fps)
    rec = tps / tps[-1]
    return np.r_[prec[::-1], 1.0], np.r_[rec[::-1], 0.0], thr[::-1]


def _per_class(scores, target, where, binary_score):
    """A binary score of each class against the rest, with the support of each class; NaN where a
    class is absent from target (or is every sample), as its score is not defined then."""
    s, t = _scores(scores, target, where)
    if s.ndim == 1:
        return np.array([binary_score(s, t == 1)]), np.array([int((t == 1).sum())])
    values, support = [], []
    for c in range(s.shape[1]):
        positive = t == c
        defined = positive.any() and not positive.all()
        values.append(binary_score(s[:, c], positive) if defined else np.nan)
        support.append(int(positive.sum()))
    return np.array(values), np.array(support)


def _average(values, support, average, where):
    if average not in ("macro", "weighted", None):
        raise ValueError(f"{where}: average must be 'macro', 'weighted' or None, got {average!r}")
    if average is None:
        return values
    defined = ~np.isnan(values)
    if not defined.any():
        raise ValueError(f"{where}: only one class present in target; the score is not defined")
    if average == "weighted":
        return float(np.average(values[defined], weights=support[defined]))
    return float(values[defined].mean())


def _auc_of(score, positive):
    _check_both_classes(positive, "roc_auc_score")
    fps, tps, _ = _binary_counts(score, positive)
    fpr, tpr = np.r_[0, fps] / fps[-1], np.r_[0, tps] / tps[-1]
    return float(np.trapezoid(tpr, fpr))


def _ap_of(score, positive):
    _check_both_classes(positive, "average_precision_score")
    fps, tps, _ = _binary_counts(score, positive)
    prec = np.r_[_divide(tps, tps + fps)[::-1], 1.0]
    rec = np.r_[(tps / tps[-1])[::-1], 0.0]
    return float(-np.sum(np.diff(rec) * prec[:-1]))


def roc_auc_score(scores, target, *, average="macro"):
    """The area under the ROC curve: of binary scores, or of each class against the rest (one-vs-rest)
    averaged as `average` says ('macro', 'weighted' by support, or None for per-class values)."""
    return _average(*_per_class(scores, target, "roc_auc_score", _auc_of), average, "roc_auc_score")


def average_precision_score(scores, target, *, average="macro"):
    """The area under the precision-recall curve as a step sum (scikit-learn's), binary or one-vs-rest."""
    values, support = _per_class(scores, target, "average_precision_score", _ap_of)
    return _average(values, support, average, "average_precision_score")


def calibration_curve(scores, target, *, n_bins=5, strategy="uniform"):
    """(fraction of positives, mean predicted probability) per non-empty bin of binary probabilities,
    as scikit-learn's; `strategy` 'uniform' bins [0, 1] evenly, 'quantile' by the scores' quantiles."""
    s, t = _scores(scores, target, "calibration_curve")
    if s.ndim != 1:
        raise ValueError(
            "calibration_curve: needs binary probabilities (for class scores, pass the "
            "top probability and whether the prediction was right)"
        )
    if s.size and (s.min() < 0 or s.max() > 1):
        raise ValueError("calibration_curve: scores must be probabilities in [0, 1]")
    if not (isinstance(n_bins, int) and n_bins >= 1):
        raise ValueError(f"calibration_curve: n_bins must be a positive int, got {n_bins!r}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(s, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        raise ValueError(f"calibration_curve: strategy must be 'uniform' or 'quantile', got {strategy!r}")
    ids = np.searchsorted(edges[1:-1], s)
    total = np.bincount(ids, minlength=n_bins)
    full = total != 0
    true = np.bincount(ids, weights=t.astype(np.float64), minlength=n_bins)
    pred = np.bincount(ids, weights=s, minlength=n_bins)
    return true[full] / total[full], pred[full] / total[full]


def support(target, num_classes=None):
    """The number of samples of each class: an int64 array of length num_classes."""
    t = B.to_numpy(_array(target, "support", "target")).astype(np.int64).reshape(-1)
    if t.size and t.min() < 0:
        raise ValueError(f"support: target holds a negative class index {int(t.min())}")
    n = int(t.max()) + 1 if t.size else 0
    if num_classes is not None:
        if n > num_classes:
            raise ValueError(
                f"support: target holds class {n - 1}, out of range for num_classes={num_classes}"
            )
        n = num_classes
    return np.bincount(t, minlength=n).astype(np.int64)


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
