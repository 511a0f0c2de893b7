"""Metrics: classification from indices, logits and binary scores; regression errors; bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import studio.core as sc
from studio.core import metrics as M

# 3 classes; hand-checked counts: rows = true class, columns = predicted class
PRED = [0, 2, 1, 1, 0, 2, 2]
TRUE = [0, 1, 1, 1, 2, 2, 0]
CM = [[1, 0, 1], [0, 2, 1], [1, 0, 1]]


def test_confusion_matrix_and_accuracy():
    cm = M.confusion_matrix(sc.tensor(PRED), sc.tensor(TRUE), num_classes=3)
    assert cm.tolist() == CM and cm.dtype == np.int64
    assert M.confusion_matrix(np.array(PRED), np.array(TRUE), 4).shape == (4, 4)
    assert M.accuracy(sc.tensor(PRED), sc.tensor(TRUE)) == pytest.approx(4 / 7)
    assert M.accuracy(np.array(PRED), TRUE) == pytest.approx(4 / 7)


def test_precision_recall_f1_averages():
    prec = np.array([1 / 2, 2 / 2, 1 / 3])
    rec = np.array([1 / 2, 2 / 3, 1 / 2])
    f1 = 2 * prec * rec / (prec + rec)
    p, r, f = M.precision_recall_f1(sc.tensor(PRED), sc.tensor(TRUE), average=None)
    np.testing.assert_allclose(p, prec)
    np.testing.assert_allclose(r, rec)
    np.testing.assert_allclose(f, f1)
    assert M.precision(sc.tensor(PRED), sc.tensor(TRUE)) == pytest.approx(prec.mean())
    assert M.recall(sc.tensor(PRED), sc.tensor(TRUE)) == pytest.approx(rec.mean())
    assert M.f1_score(sc.tensor(PRED), sc.tensor(TRUE)) == pytest.approx(f1.mean())
    for fn in (M.precision, M.recall, M.f1_score):
        assert fn(sc.tensor(PRED), sc.tensor(TRUE), average="micro") == pytest.approx(4 / 7)
    support = np.array([2, 3, 2]) / 7
    assert M.f1_score(PRED, TRUE, average="weighted") == pytest.approx((f1 * support).sum())


def test_logits_are_argmaxed_along_dim_1():
    logits = np.full((7, 3), -1.0, np.float32)
    logits[np.arange(7), PRED] = 2.0
    assert M.accuracy(sc.tensor(logits), sc.tensor(TRUE)) == pytest.approx(4 / 7)
    assert M.confusion_matrix(sc.tensor(logits), sc.tensor(TRUE)).tolist() == CM
    # (N, C, L) scores against (N, L) targets, as for a sequence model
    seq = np.stack([logits, logits], axis=2)
    assert M.accuracy(seq, np.stack([TRUE, TRUE], axis=1)) == pytest.approx(4 / 7)


def test_top_k_accuracy():
    scores = sc.tensor([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    target = sc.tensor([2, 1, 0])
    assert M.accuracy(scores, target) == 0.0
    assert M.accuracy(scores, target, top_k=2) == pytest.approx(2 / 3)
    assert M.accuracy(scores, target, top_k=3) == 1.0


def test_binary_scores_and_average():
    probs = sc.tensor([0.9, 0.2, 0.7, 0.4])
    target = sc.tensor([1, 0, 0, 1])
    assert M.accuracy(probs, target) == 0.5
    assert M.accuracy(sc.tensor([3.0, -2.0, 1.0, -0.5]), target) == 0.5  # logits: sigmoid first
    assert M.accuracy(probs, target, threshold=0.3) == 0.75
    p, r, f = M.precision_recall_f1(probs, target, average="binary")
    assert (p, r) == (0.5, 0.5) and f == pytest.approx(0.5)


def test_absent_class_and_zero_division():
    # class 2 never predicted: its precision is 0 (not NaN); class 3 never occurs: left out of macro
    p = M.precision([0, 1, 1], [0, 1, 2], average=None, num_classes=4)
    assert p.tolist() == [1.0, 0.5, 0.0, 0.0]
    assert M.precision([0, 1, 1], [0, 1, 2], num_classes=4) == pytest.approx(0.5)
    assert M.accuracy(np.zeros(0, np.int64), np.zeros(0, np.int64)) == 0.0


def test_regression_metrics():
    pred = sc.tensor([2.5, 0.0, 2.0, 8.0])
    true = sc.tensor([3.0, -0.5, 2.0, 7.0])
    assert M.mean_absolute_error(pred, true) == pytest.approx(0.5)
    assert M.mean_squared_error(pred, true) == pytest.approx(0.375)
    assert M.root_mean_squared_error(pred, true) == pytest.approx(math.sqrt(0.375))
    assert M.r2_score(pred, true) == pytest.approx(0.9486081370449679)
    assert M.r2_score(pred.reshape(4, 1), true) == pytest.approx(0.9486081370449679)
    true2 = np.array([[0.5, 1], [-1, 1], [7, -6]])
    pred2 = np.array([[0, 2], [-1, 2], [8, -5]])
    assert M.r2_score(pred2, true2) == pytest.approx(0.9368005266622779)
    assert M.r2_score([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert M.r2_score([1.0, 2.0], [1.0, 1.0]) == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="do not match target of shape"):
        M.accuracy(sc.tensor([0, 1, 2]), sc.tensor([0, 1]))
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        M.confusion_matrix([0, 2], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="negative class index -1"):
        M.confusion_matrix([0, -1], [0, 1])
    with pytest.raises(ValueError, match="average must be"):
        M.f1_score([0], [0], average="samples")
    with pytest.raises(TypeError, match="preds must be a Tensor or an array"):
        M.accuracy("abc", [0])
    with pytest.raises(ValueError, match="preds of shape \\(3,\\) do not match target of shape \\(2,\\)"):
        M.mean_absolute_error([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="top_k must be in \\[1, 3\\]"):
        M.accuracy(sc.zeros(2, 3), sc.zeros(2, dtype=sc.int64), top_k=4)


def test_binary_average_with_one_class_present():
    assert M.precision_recall_f1([0, 0], [0, 0], average="binary") == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="needs two classes, got num_classes=3"):
        M.f1_score([0, 2], [0, 1], average="binary", num_classes=3)
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        M.f1_score([0, 2], [0, 1], average="binary")


# ------------------------------------------------------------- curves, against scikit-learn


def _binary_case(seed, n=60, ties=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]  # both classes present
    s = rng.random(n) * 0.6 + 0.4 * y  # informative but overlapping
    if ties:
        s = np.round(s, 1)
    return s, y


def _multiclass_case(seed, n=90, c=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    y[:c] = np.arange(c)
    logits = rng.normal(size=(n, c)) + 1.5 * np.eye(c)[y]
    return logits, y


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("drop", [False, True])
def test_roc_curve_matches_sklearn(ties, drop):
    skm = pytest.importorskip("sklearn.metrics")
    for seed in range(5):
        s, y = _binary_case(seed, ties=ties)
        fpr, tpr, thr = M.roc_curve(sc.tensor(s), sc.tensor(y), drop_intermediate=drop)
        efpr, etpr, ethr = skm.roc_curve(y, s, drop_intermediate=drop)
        np.testing.assert_allclose(fpr, efpr)
        np.testing.assert_allclose(tpr, etpr)
        np.testing.assert_allclose(thr, ethr)
        assert M.roc_auc_score(s, y) == pytest.approx(skm.roc_auc_score(y, s))


@pytest.mark.parametrize("ties", [False, True])
def test_precision_recall_curve_and_average_precision_match_sklearn(ties):
    skm = pytest.importorskip("sklearn.metrics")
    for seed in range(5):
        s, y = _binary_case(seed, ties=ties)
        p, r, thr = M.precision_recall_curve(s, y)
        ep, er, ethr = skm.precision_recall_curve(y, s)
        np.testing.assert_allclose(p, ep)
        np.testing.assert_allclose(r, er)
        np.testing.assert_allclose(thr, ethr)
        assert M.average_precision_score(s, y) == pytest.approx(skm.average_precision_score(y, s))


@pytest.mark.parametrize("average", ["macro", "weighted", None])
def test_one_vs_rest_scores_match_sklearn(average):
    skm = pytest.importorskip("sklearn.metrics")
    from sklearn.preprocessing import label_binarize

    for seed in range(4):
        logits, y = _multiclass_case(seed)
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        auc = M.roc_auc_score(sc.tensor(logits), sc.tensor(y), average=average)  # logits: softmax first
        np.testing.assert_allclose(auc, skm.roc_auc_score(y, probs, multi_class="ovr", average=average))
        onehot = label_binarize(y, classes=range(probs.shape[1]))
        ap = M.average_precision_score(probs, y, average=average)
        np.testing.assert_allclose(ap, skm.average_precision_score(onehot, probs, average=average))


def test_two_column_scores_are_binary_scores():
    skm = pytest.importorskip("sklearn.metrics")
    s, y = _binary_case(7)
    logits = np.stack([np.zeros_like(s), np.log(s / (1 - s + 1e-12) + 1e-12)], 1)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert M.roc_auc_score(logits, y) == pytest.approx(skm.roc_auc_score(y, probs[:, 1]))


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [1, 5, 10])
def test_calibration_curve_matches_sklearn(strategy, n_bins):
    calibration = pytest.importorskip("sklearn.calibration")
    for seed in range(4):
        s, y = _binary_case(seed, ties=seed % 2 == 1)
        s = np.clip(s, 0, 1)
        got = M.calibration_curve(s, y, n_bins=n_bins, strategy=strategy)
        want = calibration.calibration_curve(y, s, n_bins=n_bins, strategy=strategy)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w)


def test_support_counts_each_class():
    assert M.support(sc.tensor(TRUE)).tolist() == [2, 3, 2]
    assert M.support(np.array([1, 1]), num_classes=4).tolist() == [0, 2, 0, 0]
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        M.support([0, 3], num_classes=2)


def test_curve_errors_name_the_problem():
    with pytest.raises(ValueError, match="only one class present"):
        M.roc_auc_score([0.1, 0.7], [1, 1])
    with pytest.raises(ValueError, match="only one class present"):
        M.precision_recall_curve([0.1, 0.7], [0, 0])
    with pytest.raises(ValueError, match=r"3 scores for 2 targets"):
        M.roc_curve([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match="binary scores need targets 0 and 1"):
        M.roc_curve([0.1, 0.2, 0.3], [0, 1, 2])
    with pytest.raises(ValueError, match="out of range for 3 score columns"):
        M.roc_auc_score(np.full((2, 3), 1 / 3), [0, 3])
    with pytest.raises(ValueError, match="probabilities in"):
        M.calibration_curve([0.5, 1.5], [0, 1])
    with pytest.raises(ValueError, match="average must be"):
        M.roc_auc_score(np.full((2, 2), 0.5), [0, 1], average="micro")


def test_a_class_absent_from_target_is_nan_per_class_and_left_out_of_the_mean():
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]])
    y = np.array([0, 1, 0, 1])
    per_class = M.roc_auc_score(probs, y, average=None)
    assert np.isnan(per_class[2]) and per_class[:2].tolist() == [1.0, 1.0]
    assert M.roc_auc_score(probs, y) == 1.0
