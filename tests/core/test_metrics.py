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
