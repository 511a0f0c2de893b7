"""A finished run's test predictions judged as scikit-learn would: ROC and precision-recall curves per
class, calibration and top-k accuracy for a classifier; errors and residuals for a regressor. All of it
comes from `studio.core.metrics`, is computed in the run's process, and is bounded in size."""

from __future__ import annotations

import numpy as np

CURVE_POINTS = 200  # points kept of each ROC or precision-recall curve
CALIBRATION_BINS = 10
TOP_K = 5  # top-k accuracy for k = 1 .. min(TOP_K, classes)
SCORE_VALUES_KEPT = 20_000  # class probabilities kept with the run: about 2,000 rows of 10 classes
SCORE_DECIMALS = 6


def _num(v) -> float:
    """A float as the run keeps it: seven significant digits (float32's), no longer noise."""
    return float(f"{float(v):.7g}")


def _nums(a) -> list[float]:
    return [_num(v) for v in np.asarray(a, np.float64).ravel()]


def thin(*series, limit=CURVE_POINTS) -> list[list[float]]:
    """Curves of one length cut to at most `limit` points at evenly spaced places, the first and the
    last always among them; the curves' values as lists of floats."""
    n = len(series[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(np.int64)) if n else []
    return [_nums(np.asarray(s, np.float64)[keep]) for s in series]


def probabilities(outputs: np.ndarray) -> np.ndarray:
    """A classifier's outputs as (N, C) class probabilities: a softmax of class scores (log-softmax
    outputs give the same probabilities back), or for one binary logit the sigmoid, as two columns."""
    out = np.asarray(outputs, np.float64).reshape(len(outputs), -1)
    if out.shape[1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-out[:, 0]))
        return np.stack([1.0 - p1, p1], axis=1)
    e = np.exp(out - out.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _per_class_curves(metrics, probs, targets, classes) -> tuple[list, list]:
    """ROC and precision-recall curves of each class against the rest (one curve for two classes)."""
    k = probs.shape[1]
    positives = [1] if k == 2 else range(k)
    roc, pr = [], []
    for c in positives:
        positive = (targets == c).astype(np.int64)
        if positive.all() or not positive.any():
            continue  # a class absent from the test split (or alone in it) has no curve
        fpr, tpr, _ = metrics.roc_curve(probs[:, c], positive)
        precision, recall, _ = metrics.precision_recall_curve(probs[:, c], positive)
        auc = metrics.roc_auc_score(probs[:, c], positive)
        ap = metrics.average_precision_score(probs[:, c], positive)
        fpr, tpr = thin(fpr, tpr)
        precision, recall = thin(precision, recall)
        roc.append({"class": c, "name": classes[c], "fpr": fpr, "tpr": tpr, "auc": _num(auc)})
        pr.append(
            {
                "class": c,
                "name": classes[c],
                "precision": precision,
                "recall": recall,
                "ap": _num(ap),
                "prevalence": _num(positive.mean()),
            }
        )
    return roc, pr


def _calibration(metrics, probs, targets) -> dict:
    """A reliability curve: for two classes the probability of the second against how often it is true,
    else the top probability (the confidence) against how often the top class is right; with the
    expected calibration error, the bins weighted by their counts."""
    if probs.shape[1] == 2:
        kind, score, hit = "positive", probs[:, 1], (targets == 1)
    else:
        kind, score, hit = "confidence", probs.max(axis=1), probs.argmax(axis=1) == targets
    hit = hit.astype(np.int64)
    fraction, mean_pred = metrics.calibration_curve(score, hit, n_bins=CALIBRATION_BINS)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], score), minlength=CALIBRATION_BINS)
    counts = counts[counts > 0]
    ece = float(np.sum(counts / max(len(score), 1) * np.abs(fraction - mean_pred)))
    return {
        "kind": kind,
        "bins": CALIBRATION_BINS,
        "fraction_positive": _nums(fraction),
        "mean_predicted": _nums(mean_pred),
        "count": [int(c) for c in counts],
        "ece": _num(ece),
    }


def classification_curves(outputs, targets, classes) -> dict:
    """The curve part of a classifier's evaluation, from its raw test outputs and true classes.

    The probabilities are rounded as they are kept (`scores`), and every figure is computed from the
    rounded values, so that what a run keeps is what its kept predictions give."""
    from studio.core import metrics

    targets = np.asarray(targets, np.int64).reshape(-1)
    probs = np.round(probabilities(outputs), SCORE_DECIMALS)
    k = probs.shape[1]
    classes = [str(c) for c in classes] if len(classes) >= k else [str(i) for i in range(k)]
    roc, pr = _per_class_curves(metrics, probs, targets, classes)
    kept = min(len(probs), max(1, SCORE_VALUES_KEPT // k))
    out = {
        "roc": roc,
        "pr": pr,
        "top_k": [_num(metrics.accuracy(probs, targets, top_k=j)) for j in range(1, min(TOP_K, k) + 1)],
        "scores": probs[:kept].tolist(),
        "targets": targets[:kept].tolist(),
        "test_size": int(len(probs)),
    }
    if len(probs):
        out["calibration"] = _calibration(metrics, probs, targets)
    if roc:
        out["roc_auc_macro"] = _num(np.mean([c["auc"] for c in roc]))
        out["average_precision_macro"] = _num(np.mean([c["ap"] for c in pr]))
    return out


def regression_errors(preds, targets) -> dict:
    """Mean absolute error, root mean squared error and R² of the first output column."""
    from studio.core import metrics

    p, t = np.asarray(preds, np.float64)[:, :1], np.asarray(targets, np.float64)[:, :1]
    if not len(p):
        return {}
    return {
        "mae": _num(metrics.mean_absolute_error(p, t)),
        "rmse": _num(metrics.root_mean_squared_error(p, t)),
        "r2": _num(metrics.r2_score(p, t)),
        "test_size": int(len(p)),
    }
