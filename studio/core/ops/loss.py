"""Losses, each one fused node: regression losses, cross-entropy (log-softmax + NLL), binary
cross-entropy (on probabilities or logits) and KL divergence.

cross_entropy's backward is softmax minus the (smoothed, weighted) target, in one pass.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import backend as B
from .._arrays import sum_to
from ..amp.autocast_mode import BANNED, FP32, autocast_op
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..tensor import Tensor
from .activation import _sigmoid, log_softmax
from .elementwise import where
from .shape import movedim

_xp = B.array_module

_REDUCTIONS = ("none", "mean", "sum")


def _size(shape):
    return "studio.core.Size([" + ", ".join(str(s) for s in shape) + "])"


def _reduction(size_average, reduce, reduction, allowed=_REDUCTIONS):
    """PyTorch's reduction string, honouring the legacy size_average/reduce flags."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _as_float_target(target, x, where):
    if not isinstance(target, Tensor):
        raise TypeError(f"{where}: expected target to be a Tensor, got {type(target).__name__}")
    t = target._data
    if t.dtype != x.dtype:
        t = t.astype(x.dtype)
    return t


# ------------------------------------------------------------------------ elementwise regression


def _reduced(elem, reduction, weight=None):
    """reduce(w * elem) with differentiable ops: a loss's recorded backward goes through this."""
    if weight is not None:
        elem = elem * weight
    if reduction == "none":
        return elem
    if reduction == "sum":
        return elem.sum()
    return elem.sum() / weight.sum() if weight is not None else elem.mean()


class _PointwiseLossBackward(Node):
    """Backward of reduce(w * f(input, target)): derivatives of f were computed in forward.

    `composite` is f of the difference, written with differentiable ops (a recorded backward).
    """

    __slots__ = ("reduction", "shapes", "denom", "composite")
    saved_roles = (None, None, 2, None, 0, 1)
    decomposed = True

    def decompose(self, d_in, d_t, w, elem, x, t):
        return _reduced(self.composite(x - t), self.reduction, w)

    def backward(self, g):
        d_in, d_t, w, elem, _, _ = self.saved
        s_in, s_t, s_w = self.shapes
        scale = g / self.denom if self.reduction == "mean" else g
        if w is not None:
            scale = scale * w
        gi = sum_to(d_in * scale, s_in) if self.needs_grad(0) else None
        gt = sum_to(d_t * scale, s_t) if self.needs_grad(1) else None
        gw = None
        if self.needs_grad(2):
            gw = sum_to(elem * (g / self.denom if self.reduction == "mean" else g), s_w)
            if self.reduction == "mean":
                # mean with weights divides by sum(w): its derivative has a second term
                gw = gw - g * (elem * w).sum() / (self.denom * self.denom)
        return (gi, gt, gw)[: len(self.next_functions)]


def _loss_node(name):
    return type(name, (_PointwiseLossBackward,), {"__slots__": ()})


MseLossBackward0 = _loss_node("MseLossBackward0")
L1LossBackward0 = _loss_node("L1LossBackward0")
SmoothL1LossBackward0 = _loss_node("SmoothL1LossBackward0")
HuberLossBackward0 = _loss_node("HuberLossBackward0")


def _pointwise_loss(input, target, weight, reduction, fn, node_cls, where, composite):
    x = input._data
    t = _as_float_target(target, x, where)
    if x.shape != t.shape:
        warnings.warn(
            f"Using a target size ({_size(t.shape)}) that is different to the input size ({_size(x.shape)}). "
            "This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )
        try:
            np.broadcast_shapes(x.shape, t.shape)
        except ValueError:
            raise RuntimeError(
                f"The size of tensor a ({x.shape[-1] if x.ndim else 1}) must match the size of tensor b "
                f"({t.shape[-1] if t.ndim else 1}): input of shape {tuple(x.shape)} and target of shape "
                f"{tuple(t.shape)} cannot be broadcast together"
            ) from None
    w = None
    if weight is not None:
        if tuple(weight._data.shape) != tuple(x.shape):
            raise ValueError("Weights and input must have the same size.")
        w = weight._data.astype(x.dtype, copy=False)
    rec = needs_grad(input, target, weight)
    elem, d = fn(x - t, rec)
    weighted = elem if w is None else elem * w
    if reduction == "none":
        out, denom = weighted, 1
    elif reduction == "sum":
        out, denom = weighted.sum(), 1
    else:
        denom = weighted.size if w is None else w.sum()
        out = weighted.sum() / denom if w is not None else weighted.mean()
    out = _xp(x).asarray(out, dtype=x.dtype)
    if rec:
        node = node_cls()
        node.reduction, node.denom = reduction, denom
        node.shapes = (x.shape, t.shape, None if w is None else w.shape)
        node.composite = composite
        tensors = (input, target) + ((weight,) if weight is not None else ())
        record(node, tensors, (d, -d, w, elem if w is not None else None, x, t))
        return _result(out, node)
    return _result(out)


@autocast_op(cpu=FP32, cuda=FP32)
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: reduce((input - target)^2)."""
    reduction = _reduction(size_average, reduce, reduction)

    def fn(diff, rec):
        return diff * diff, (2 * diff if rec else None)

    return _pointwise_loss(
        input, target, weight, reduction, fn, MseLossBackward0, "mse_loss", lambda d: d * d
    )


@autocast_op(cpu=FP32, cuda=FP32)
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error: reduce(|input - target|)."""
    reduction = _reduction(size_average, reduce, reduction)

    def fn(diff, rec):
        xp = _xp(diff)
        return xp.abs(diff), (xp.sign(diff) if rec else None)

    return _pointwise_loss(
        input, target, weight, reduction, fn, L1LossBackward0, "l1_loss", lambda d: d.abs()
    )


@autocast_op(cpu=FP32, cuda=FP32)
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target)."""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got beta={beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)

    def fn(diff, rec):
        xp = _xp(diff)
        a = xp.abs(diff)
        small = a < beta
        elem = xp.where(small, (0.5 / beta) * diff * diff, a - 0.5 * beta).astype(diff.dtype, copy=False)
        d = xp.where(small, diff / beta, xp.sign(diff)).astype(diff.dtype, copy=False) if rec else None
        return elem, d

    def composite(d):
        a = d.abs()
        return where(a < beta, (0.5 / beta) * d * d, a - 0.5 * beta)

    return _pointwise_loss(
        input, target, None, reduction, fn, SmoothL1LossBackward0, "smooth_l1_loss", composite
    )


@autocast_op(cpu=FP32, cuda=FP32)
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, delta * (|d| - 0.5 delta) elsewhere (d = input - target)."""
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got delta={delta}")

    def fn(diff, rec):
        xp = _xp(diff)
        a = xp.abs(diff)
        small = a < delta
        elem = xp.where(small, 0.5 * diff * diff, delta * (a - 0.5 * delta)).astype(diff.dtype, copy=False)
        d = xp.where(small, diff, delta * xp.sign(diff)).astype(diff.dtype, copy=False) if rec else None
        return elem, d

    def composite(d):
        a = d.abs()
        return where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))

    return _pointwise_loss(input, target, weight, reduction, fn, HuberLossBackward0, "huber_loss", composite)


# --------------------------------------------------------------------- cross-entropy and NLL


def _class_layout(x, where):
    """(M, C) rows of class scores from (C,), (N, C) or (N, C, d1, ...), and how to undo it."""
    if x.ndim == 0:
        raise RuntimeError(f"{where}: input must have at least 1 dimension (classes), got a 0-d tensor")
    if x.ndim == 1:
        return x[None], x.shape
    if x.ndim == 2:
        return x, x.shape
    moved = _xp(x).moveaxis(x, 1, -1)
    return moved.reshape(-1, x.shape[1]), moved.shape


def _rows_back(g2, x_shape, moved_shape):
    """Undo `_class_layout` on a gradient."""
    if len(x_shape) <= 2:
        return g2.reshape(x_shape)
    return _xp(g2).moveaxis(g2.reshape(moved_shape), -1, 1)


def _check_index_target(x, t, where):
    if t.dtype.kind not in "iu":
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {B.from_numpy_dtype(t.dtype).name}"
        )
    if x.ndim == 1:
        if t.ndim != 0:
            raise RuntimeError(
                f"{where}: for input of shape {tuple(x.shape)} "
                "(unbatched) the target must be a 0-d class index, "
                f"got target of shape {tuple(t.shape)}"
            )
        return
    if x.ndim == 2 and t.ndim != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if t.ndim == 0 or x.shape[0] != t.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({x.shape[0]}) to match "
            f"target batch_size ({t.shape[0] if t.ndim else 0})."
        )
    expected = (x.shape[0],) + x.shape[2:]
    if t.shape != expected:
        raise RuntimeError(
            f"Expected target size [{', '.join(str(s) for s in expected)}], "
            f"got [{', '.join(str(s) for s in t.shape)}]"
        )


def _rows(t, c):
    """`_class_layout` with differentiable ops: (M, C) rows of a tensor."""
    if t.ndim == 1:
        return t.unsqueeze(0)
    return t if t.ndim == 2 else movedim(t, 1, -1).reshape(-1, c)


class _ClassLossBackward(Node):
    """Backward of cross-entropy (from logits) or NLL (from log-probabilities) over (M, C) rows.

    Its recorded backward goes through the loss written with differentiable ops (`decompose`).
    """

    __slots__ = (
        "layout",
        "reduction",
        "denom",
        "smoothing",
        "from_logits",
        "probs_target",
        "plain",
        "saved_roles",  # set per node: the plain and the general case save different things
    )
    decomposed = True

    def decompose(self, *saved):
        if self.plain:
            _, tc, x = saved
            total = -log_softmax(x, 1)[_xp(tc).arange(tc.shape[0]), tc].sum()
            return total / self.denom if self.reduction == "mean" else total
        _, tc, wt, valid, w, _, _, x, target = saved
        x_shape = self.layout[0]
        c = x_shape[1] if len(x_shape) > 1 else x_shape[0]
        logp = _rows(x, c)
        if self.from_logits:
            logp = log_softmax(logp, 1)
        ls = self.smoothing
        if self.probs_target:
            coef = _rows(target, c).to(logp.dtype)
            coef = coef * (1 - ls) + ls / c if ls else coef
            per = -(logp * (coef if w is None else coef * w)).sum(1)
        else:
            per = -logp[_xp(tc).arange(tc.shape[0]), tc] * wt
            if ls:
                smooth = -(logp if w is None else logp * w).sum(1) * valid
                per = (1 - ls) * per + (ls / c) * smooth
        if self.reduction == "none":
            return per.reshape(() if len(x_shape) == 1 else (x_shape[0],) + tuple(x_shape[2:]))
        return per.sum() if self.reduction == "sum" else per.sum() / self.denom

    def backward(self, g):
        if self.plain:
            return self._plain_backward(g)
        p, tc, wt, valid, w, tp, logp, _, _ = self.saved
        xp = _xp(p)
        x_shape, moved_shape = self.layout
        m, c = p.shape
        ls = self.smoothing
        if self.reduction == "none":
            scale = g.reshape(-1, 1).astype(p.dtype, copy=False)
        elif self.reduction == "mean":
            scale = g / self.denom
        else:
            scale = g
        gx = gt = None
        if self.needs_grad(0):
            if tp is not None:
                coef = tp if w is None else tp * w
                grad = (p * coef.sum(axis=1, keepdims=True) - coef) if self.from_logits else -coef
            else:
                ar = xp.arange(m)
                hit = (1 - ls) * wt
                if self.from_logits:
                    wsum = c if w is None else w.sum()
                    rowsum = hit + (ls / c) * wsum * valid
                    grad = p * rowsum[:, None].astype(p.dtype, copy=False)
                else:
                    grad = xp.zeros((m, c), dtype=p.dtype)
                grad[ar, tc] -= hit.astype(p.dtype, copy=False)
                if ls:
                    smooth = (ls / c) * valid[:, None].astype(p.dtype, copy=False)
                    grad -= smooth if w is None else smooth * w
            gx = _rows_back((grad * scale).astype(p.dtype, copy=False), x_shape, moved_shape)
        if tp is not None and self.needs_grad(1):
            gt2 = -logp * (1 - ls)
            if w is not None:
                gt2 = gt2 * w
            gt = _rows_back((gt2 * scale).astype(p.dtype, copy=False), x_shape, moved_shape)
        return (gx, gt)

    def _plain_backward(self, g):
        """Softmax minus one-hot, scaled: cross-entropy of (N, C) logits, no weights or smoothing."""
        if not self.needs_grad(0):
            return (None, None)
        p, tc, _ = self.saved
        xp = _xp(p)
        scale = (g / self.denom if self.reduction == "mean" else g).astype(p.dtype, copy=False)
        grad = xp.multiply(p, scale)
        grad[xp.arange(p.shape[0]), tc] -= scale
        return (grad, None)


class CrossEntropyLossBackward0(_ClassLossBackward):
    __slots__ = ()


class NllLossBackward0(_ClassLossBackward):
    __slots__ = ()


def _plain_cross_entropy(input, target, ignore_index, reduction):
    """Cross-entropy of (N, C) logits against in-range class indices, mean or sum, no weights or
    smoothing: the training loop's case, in a few array operations. None when it does not apply."""
    x, t = input._data, target._data
    if x.ndim != 2 or t.ndim != 1 or x.dtype.kind != "f" or t.dtype.kind not in "iu":
        return None
    m, c = x.shape
    if t.shape[0] != m or m == 0 or c == 0 or reduction == "none" or 0 <= ignore_index < c:
        return None
    if t.min() < 0 or t.max() >= c:
        return None  # the general path reports the bad target
    xp = _xp(x)
    shifted = x - x.max(axis=1, keepdims=True)
    e = xp.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    # -sum(log softmax at the target) = sum(log s) - sum(shifted at the target)
    total = xp.log(s).sum() - shifted[xp.arange(m), t].sum()
    out = xp.asarray(total / m if reduction == "mean" else total, dtype=x.dtype)
    if not (needs_grad(input)):
        return _result(out)
    e /= s
    node = CrossEntropyLossBackward0()
    node.plain = True
    node.reduction = reduction
    node.denom = m
    node.saved_roles = (None, None, 0)
    record(node, (input, target), (e, t, x))
    node.save_versions(target)
    return _result(out, node)


def _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, from_logits, where):
    x = input._data
    if not B.is_float_np(x.dtype):
        raise RuntimeError(f"{where}: expected a floating point input, got {x.dtype}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    xp = _xp(x)
    x2, moved_shape = _class_layout(x, where)
    m, c = x2.shape
    t = target._data
    probs_target = t.dtype.kind == "f" and t.shape == x.shape and from_logits
    w = None
    if weight is not None:
        if weight._data.shape != (c,):
            raise RuntimeError(
                f"{where}: weight tensor should be defined either for all {c} classes or no classes but got "
                f"weight tensor of shape: {list(weight._data.shape)}"
            )
        w = weight._data.astype(x.dtype, copy=False)
    # log-probabilities of the rows, and probabilities when backward needs them
    rec = needs_grad(input, target)
    if from_logits:
        shifted = x2 - x2.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        log_s = xp.log(s)
    else:
        shifted, e, s, log_s = x2, None, None, None
    tp = tc = wt = valid = None
    logp = None
    if probs_target:
        tp = xp.moveaxis(t, 1, -1).reshape(-1, c) if t.ndim > 2 else (t[None] if t.ndim == 1 else t)
        tp = tp.astype(x.dtype, copy=False)
        if label_smoothing:
            tp = tp * (1 - label_smoothing) + label_smoothing / c
        logp = shifted - log_s
        coef = tp if w is None else tp * w
        per = -(logp * coef).sum(axis=1)
        denom = m
    else:
        _check_index_target(x, t, where)
        tf = t.reshape(-1).astype(xp.int64, copy=False)
        valid = tf != ignore_index
        bad = valid & ((tf < 0) | (tf >= c))
        if bad.any():
            raise IndexError(f"Target {int(tf[bad][0])} is out of bounds.")
        tc = xp.where(valid, tf, 0)
        wt = (w[tc] if w is not None else xp.ones(m, dtype=x.dtype)) * valid
        picked = shifted[xp.arange(m), tc]
        if from_logits:
            picked = picked - log_s[:, 0]
        per = -picked * wt
        if label_smoothing:
            logp_all = shifted - log_s if from_logits else shifted
            smooth = -(logp_all if w is None else logp_all * w).sum(axis=1) * valid
            per = (1 - label_smoothing) * per + (label_smoothing / c) * smooth
        denom = wt.sum()
    if reduction == "none":
        out = per.reshape(() if x.ndim == 1 else (x.shape[0],) + x.shape[2:])
    elif reduction == "sum":
        out = per.sum()
    else:
        out = per.sum() / denom if denom else xp.asarray(xp.nan)
    out = xp.asarray(out, dtype=x.dtype)
    if rec:
        node = CrossEntropyLossBackward0() if from_logits else NllLossBackward0()
        node.plain = False
        node.layout = (x.shape, moved_shape)
        node.reduction = reduction
        node.denom = denom if denom else float("nan")
        node.smoothing = float(label_smoothing)
        node.from_logits = from_logits
        node.probs_target = probs_target
        if from_logits:
            e /= s  # the softmax, in the array exp already filled
            p = e
        else:
            p = x2
        node.saved_roles = (None,) * 7 + (0, 1)
        record(node, (input, target), (p, tc, wt, valid, w, tp, logp, x, t))
        return _result(out, node)
    return _result(out)


@autocast_op(cpu=FP32, cuda=FP32)
def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    """Cross-entropy of logits (N, C) or (N, C, d1, ...) against class indices or class probabilities."""
    reduction = _reduction(size_average, reduce, reduction)
    if weight is None and not label_smoothing and isinstance(target, Tensor):
        out = _plain_cross_entropy(input, target, ignore_index, reduction)
        if out is not None:
            return out
    return _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, True, "cross_entropy")


@autocast_op(cpu=FP32, cuda=FP32)
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C) or (N, C, d1, ...) for class indices."""
    reduction = _reduction(size_average, reduce, reduction)
    if target._data.dtype.kind == "f":
        raise RuntimeError(
            f"expected scalar type Long but found {B.from_numpy_dtype(target._data.dtype).name}"
        )
    return _class_loss(input, target, weight, ignore_index, reduction, 0.0, False, "nll_loss")


# ----------------------------------------------------------------------- binary cross-entropy


class _BinaryLossBackward(Node):
    """Backward of reduce(f(input, target)) with both derivatives of f computed in forward.

    The recorded backward goes through `elementwise(x, t)`, f written with differentiable ops.
    """

    __slots__ = ("reduction", "denom", "shapes", "consts")
    saved_roles = (None, None, 0, 1)
    decomposed = True

    def decompose(self, d_in, d_t, x, t):
        elem = self.elementwise(x, t.to(x.dtype), *self.consts)
        if self.reduction == "mean" and self.denom != elem.numel():
            return elem.sum() / self.denom  # kl_div's batchmean
        return _reduced(elem, self.reduction)

    def backward(self, g):
        d_in, d_t, _, _ = self.saved
        s_in, s_t = self.shapes
        scale = g / self.denom if self.reduction == "mean" else g
        gi = sum_to(d_in * scale, s_in).astype(d_in.dtype, copy=False) if self.needs_grad(0) else None
        gt = None
        if self.needs_grad(1) and d_t is not None:
            gt = sum_to(d_t * scale, s_t).astype(d_t.dtype, copy=False)
        return (gi, gt)


class BinaryCrossEntropyBackward0(_BinaryLossBackward):
    __slots__ = ()

    @staticmethod
    def elementwise(x, t, w):
        elem = -(t * x.log().clamp(min=-100) + (1 - t) * (-x).log1p().clamp(min=-100))
        return elem if w is None else elem * w


class BinaryCrossEntropyWithLogitsBackward0(_BinaryLossBackward):
    __slots__ = ()

    @staticmethod
    def elementwise(x, t, w, pw):
        sp_neg = (-x.abs()).exp().log1p() + (-x).clamp(min=0)  # softplus(-x), without overflow
        elem = (1 - t) * x + (sp_neg if pw is None else (1 + (pw - 1) * t) * sp_neg)
        return elem if w is None else elem * w


def _reduce(elem, reduction):
    if reduction == "none":
        return elem, 1
    if reduction == "sum":
        return elem.sum(), 1
    return elem.mean(), elem.size


@autocast_op(cpu=FP32, cuda=BANNED)
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-w (t log(x) + (1 - t) log(1 - x)) on probabilities x, with the logs clamped at -100."""
    reduction = _reduction(size_average, reduce, reduction)
    x = input._data
    t = _as_float_target(target, x, "binary_cross_entropy")
    if t.shape != x.shape:
        raise ValueError(
            f"Using a target size ({_size(t.shape)}) that is "
            f"different to the input size ({_size(x.shape)}) is "
            "deprecated. Please ensure they have the same size."
        )
    xp = _xp(x)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise RuntimeError("all elements of input should be between 0 and 1")
    w = weight._data.astype(x.dtype, copy=False) if weight is not None else None
    with np.errstate(divide="ignore"):
        log_x = xp.maximum(xp.log(x), x.dtype.type(-100))
        log_1x = xp.maximum(xp.log1p(-x), x.dtype.type(-100))
    elem = -(t * log_x + (1 - t) * log_1x)
    if w is not None:
        elem = elem * w
    out, denom = _reduce(elem, reduction)
    out = xp.asarray(out, dtype=x.dtype)
    if needs_grad(input, target):
        d_in = (x - t) / xp.maximum(x * (1 - x), x.dtype.type(1e-12))
        d_t = log_1x - log_x
        if w is not None:
            d_in, d_t = d_in * w, d_t * w
        node = BinaryCrossEntropyBackward0()
        node.reduction, node.denom, node.shapes = reduction, denom, (x.shape, t.shape)
        node.consts = (w,)
        record(node, (input, target), (d_in, d_t, x, t))
        return _result(out, node)
    return _result(out)


@autocast_op(cpu=FP32, cuda=FP32)
def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """Binary cross-entropy of sigmoid(input), computed stably from logits; pos_weight scales positives."""
    reduction = _reduction(size_average, reduce, reduction)
    x = input._data
    t = _as_float_target(target, x, "binary_cross_entropy_with_logits")
    if t.shape != x.shape:
        raise ValueError(f"Target size ({_size(t.shape)}) must be the same as input size ({_size(x.shape)})")
    xp = _xp(x)
    # softplus(-x) = log(1 + exp(-x)), written so that it never overflows
    sp_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
    if pos_weight is not None:
        pw = pos_weight._data.astype(x.dtype, copy=False)
        lw = 1 + (pw - 1) * t
        elem = (1 - t) * x + lw * sp_neg
    else:
        pw = lw = None
        elem = (1 - t) * x + sp_neg
    w = None
    if weight is not None:
        w = weight._data.astype(x.dtype, copy=False)
        elem = elem * w
    out, denom = _reduce(elem, reduction)
    out = xp.asarray(out, dtype=x.dtype)
    if needs_grad(input, target):
        sig_neg = _sigmoid(-x)
        if lw is None:
            d_in = (1 - t) - sig_neg
            d_t = -x
        else:
            d_in = (1 - t) - lw * sig_neg
            d_t = -x + (pw - 1) * sp_neg
        if w is not None:
            d_in, d_t = d_in * w, d_t * w
        if d_in.shape != x.shape:
            d_in = xp.broadcast_to(d_in, np.broadcast_shapes(d_in.shape, x.shape))
        node = BinaryCrossEntropyWithLogitsBackward0()
        node.reduction, node.denom, node.shapes = reduction, denom, (x.shape, t.shape)
        node.consts = (w, pw)
        record(node, (input, target), (d_in, d_t, x, t))
        return _result(out, node)
    return _result(out)


# ------------------------------------------------------------------------------ KL divergence


class KlDivBackward0(_BinaryLossBackward):
    __slots__ = ()

    @staticmethod
    def elementwise(x, t, log_target):
        if log_target:
            return t.exp() * (t - x)
        return where(t > 0, t * t.log(), 0.0) - t * x


@autocast_op(cpu=FP32, cuda=FP32)
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: target * (log(target) - input), with 0 where target is 0."""
    reduction = _reduction(size_average, reduce, reduction, _REDUCTIONS + ("batchmean",))
    x = input._data
    t = _as_float_target(target, x, "kl_div")
    xp = _xp(x)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            UserWarning,
            stacklevel=2,
        )
    if log_target:
        et = xp.exp(t)
        elem = et * (t - x)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_t = xp.log(t)
        elem = xp.where(t > 0, t * log_t, 0).astype(x.dtype, copy=False) - t * x
    if reduction == "batchmean":
        if x.ndim == 0:
            raise RuntimeError("kl_div: reduction='batchmean' needs an input with a batch dimension")
        out, denom = elem.sum(), x.shape[0]
        out = out / denom
        red = "mean"
    else:
        out, denom = _reduce(elem, reduction)
        red = reduction
    out = xp.asarray(out, dtype=elem.dtype)
    if needs_grad(input, target):
        if log_target:
            d_in = -et
            d_t = et * (t - x + 1)
        else:
            d_in = -t
            # t log t has no finite derivative at 0: PyTorch reports nan there
            d_t = xp.where(t > 0, log_t + 1, xp.nan).astype(x.dtype, copy=False) - x
        shape = np.broadcast_shapes(x.shape, t.shape)
        d_in = xp.broadcast_to(d_in, shape)
        d_t = xp.broadcast_to(d_t, shape)
        node = KlDivBackward0()
        node.reduction, node.denom, node.shapes = red, denom, (x.shape, t.shape)
        node.consts = (log_target,)
        record(node, (input, target), (d_in, d_t, x, t))
        return _result(out, node)
    return _result(out)
