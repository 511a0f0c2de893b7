"""Observers: modules that watch the tensors passing through them and choose quantization parameters.

As in `torch.ao.quantization.observer`: MinMax (running extremes), MovingAverage (extremes averaged
over calibration batches), PerChannel (extremes per channel, for weights) and Histogram (the range
that minimises the L2 quantization error of a 2048-bin histogram). Each returns its input unchanged;
`calculate_qparams()` gives (scale, zero_point) tensors.
"""

from __future__ import annotations

import math
import warnings
from functools import partial

import numpy as np

from ... import backend as B
from ...creation import tensor as _tensor
from ...nn.module import Module
from ...tensor import Tensor, _wrap
from ..quantized_tensor import (
    is_per_channel,
    is_per_tensor,
    per_channel_affine,
    per_channel_affine_float_qparams,
    per_channel_symmetric,
    per_tensor_affine,
    per_tensor_symmetric,
)

__all__ = [
    "HistogramObserver",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "MovingAveragePerChannelMinMaxObserver",
    "NoopObserver",
    "ObserverBase",
    "PerChannelMinMaxObserver",
    "PlaceholderObserver",
    "default_observer",
    "default_weight_observer",
    "default_per_channel_weight_observer",
    "default_histogram_observer",
    "default_dynamic_quant_observer",
    "default_placeholder_observer",
]

_EPS = float(np.finfo(np.float32).eps)


class _PartialWrapper:
    """A constructor with some arguments bound (`Observer.with_args(...)`); calling it makes an observer."""

    def __init__(self, p):
        self.p = p

    def __call__(self, *args, **kwargs):
        return self.p(*args, **kwargs)

    def __repr__(self):
        return repr(self.p)

    def with_args(self, **kwargs):
        return _PartialWrapper(partial(self.p, **kwargs))


def _with_args(cls, **kwargs):
    return _PartialWrapper(partial(cls, **kwargs))


class ObserverBase(Module):
    """Base of observers: `forward(x)` records what it needs and returns `x`."""

    with_args = classmethod(_with_args)

    def __init__(self, dtype, is_dynamic=False):
        super().__init__()
        self.dtype = dtype
        self.is_dynamic = is_dynamic

    def forward(self, x):  # pragma: no cover - every observer overrides it
        raise NotImplementedError

    def calculate_qparams(self, **kwargs):  # pragma: no cover
        raise NotImplementedError


def calculate_qmin_qmax(quant_min, quant_max, has_customized_qrange, dtype, reduce_range):
    """The integer range an observer quantizes to, as PyTorch computes it."""
    if has_customized_qrange:
        if reduce_range:
            quant_min, quant_max = quant_min // 2, quant_max // 2
        return quant_min, quant_max
    if dtype is B.qint8:
        return (-64, 63) if reduce_range else (-128, 127)
    if dtype is B.quint8:
        return (0, 127) if reduce_range else (0, 255)
    if dtype is B.qint32:
        return -(2**31), 2**31 - 1
    raise ValueError(f"observers quantize to qint8, quint8 or qint32, got dtype={dtype!r}")


class UniformQuantizationObserverBase(ObserverBase):
    """What the uniform observers share: the integer range and the min/max -> (scale, zero_point) rule."""

    def __init__(
        self,
        dtype=B.quint8,
        qscheme=per_tensor_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        factory_kwargs=None,
        eps=_EPS,
        is_dynamic=False,
        **kwargs,
    ):
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        if qscheme not in (
            per_tensor_affine,
            per_tensor_symmetric,
            per_channel_affine,
            per_channel_symmetric,
            per_channel_affine_float_qparams,
        ):
            raise AssertionError(f"{type(self).__name__}: unsupported qscheme {qscheme!r}")
        if dtype not in B.QUANTIZED_DTYPES:
            raise AssertionError(
                f"{type(self).__name__}: dtype must be studio.core.qint8, quint8 or qint32, got {dtype!r}"
            )
        self.qscheme = qscheme
        self.reduce_range = reduce_range
        self.register_buffer("eps", _tensor([float(eps)]))
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        if self.has_customized_qrange and not quant_min <= 0 <= quant_max:
            raise AssertionError("Used-specified quantization range must include 0.")
        if self.has_customized_qrange and quant_min >= quant_max:
            raise AssertionError(
                "qmin must be strictly less than qmax for user-specified quantization range."
            )
        self.quant_min, self.quant_max = calculate_qmin_qmax(
            quant_min, quant_max, self.has_customized_qrange, dtype, reduce_range
        )

    def _calculate_qparams(self, min_val, max_val):
        """(scale, zero_point) tensors for the given extremes (arrays of one or more channels)."""
        min_val = np.asarray(B.to_numpy(min_val), dtype=np.float32)
        max_val = np.asarray(B.to_numpy(max_val), dtype=np.float32)
        if min_val.size == 0 or not np.all(min_val <= max_val):
            if min_val.size == 0 or np.any(np.isinf(min_val)) or np.any(np.isinf(max_val)):
                warnings.warn(
                    "must run observer before calling calculate_qparams. Returning default values.",
                    stacklevel=3,
                )
                return _tensor([1.0]), _tensor([0])
            raise AssertionError(f"min {min_val} should be less than max {max_val}")
        qmin, qmax = self.quant_min, self.quant_max
        eps = np.float32(B.to_numpy(self.eps._data)[0])
        min_neg = np.minimum(min_val, np.float32(0))
        max_pos = np.maximum(max_val, np.float32(0))
        zero_point = np.zeros(min_neg.shape, np.int64)
        if self.qscheme in (per_tensor_symmetric, per_channel_symmetric):
            max_pos = np.maximum(-min_neg, max_pos)
            scale = np.maximum(max_pos / np.float32((qmax - qmin) / 2), eps)
            if self.dtype is B.quint8:
                zero_point[...] = (qmin + qmax) // 2 if self.has_customized_qrange else 128
        elif self.qscheme is per_channel_affine_float_qparams:
            scale = (max_val - min_val) / np.float32(qmax - qmin)
            scale = np.where(scale > eps, scale, np.float32(1.0))
            zero_point = -1 * min_val / scale
        else:
            scale = np.maximum((max_pos - min_neg) / np.float32(qmax - qmin), eps)
            zero_point = qmin - np.rint(min_neg / scale).astype(np.int64)
            zero_point = np.clip(zero_point, qmin, qmax)
        scale = np.atleast_1d(scale.astype(np.float32))
        zero_point = np.atleast_1d(zero_point)
        return _wrap(scale), _wrap(zero_point)

    def reset_min_max_vals(self):
        raise NotImplementedError("Cannot reset min/max values in the given observer.")


_ObserverBase = UniformQuantizationObserverBase


def _values(x):
    """The finite float32 values of a tensor an observer sees, as a numpy array."""
    return B.to_numpy(x._data).astype(np.float32, copy=False)


# Observers reckon on the host, where the quantized kernels run: their buffers are read out with
# _host and written back with _placed, on whatever device the buffer was moved to.
def _host(t):
    return B.to_numpy(t._data)


def _placed(values, like):
    """A tensor of the numpy `values` on the device of the buffer `like` it replaces."""
    return _wrap(B.to_array_like(np.asarray(values), like._data))


def _empty_buffer(*shape):
    return _wrap(B.host_array(np.zeros(shape, np.float32)))


class MinMaxObserver(UniformQuantizationObserverBase):
    """Quantization parameters from the running minimum and maximum of everything observed."""

    def __init__(
        self,
        dtype=B.quint8,
        qscheme=per_tensor_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        factory_kwargs=None,
        eps=_EPS,
        is_dynamic=False,
        **kwargs,
    ):
        if not is_per_tensor(qscheme):
            raise NotImplementedError(
                f"{type(self).__name__}'s qscheme only supports per_tensor_symmetric and per_tensor_affine"
            )
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, factory_kwargs, eps, is_dynamic)
        self.register_buffer("min_val", _tensor(float("inf")))
        self.register_buffer("max_val", _tensor(float("-inf")))
        if qscheme is per_tensor_symmetric and reduce_range and dtype is B.quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for quint8")

    def forward(self, x_orig):
        if not isinstance(x_orig, Tensor) or x_orig.numel() == 0:
            return x_orig
        x = _values(x_orig)
        self._update(np.float32(x.min()), np.float32(x.max()))
        return x_orig

    def _update(self, lo, hi):
        self.min_val._data[...] = min(lo, np.float32(_host(self.min_val)))
        self.max_val._data[...] = max(hi, np.float32(_host(self.max_val)))

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val._data, self.max_val._data)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def reset_min_max_vals(self):
        self.min_val._data[...] = np.inf
        self.max_val._data[...] = -np.inf


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Like MinMaxObserver, but each batch moves the extremes by `averaging_constant` of the way."""

    def __init__(
        self,
        averaging_constant=0.01,
        dtype=B.quint8,
        qscheme=per_tensor_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        eps=_EPS,
        is_dynamic=False,
        **kwargs,
    ):
        if is_dynamic and averaging_constant != 1:
            raise NotImplementedError(
                "MovingAverageMinMaxObserver doesn't support dynamic quantization for averaging constant "
                f"of {averaging_constant}"
            )
        self.averaging_constant = averaging_constant
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, None, eps, is_dynamic)

    def _update(self, lo, hi):
        c = np.float32(self.averaging_constant)
        mn, mx = np.float32(_host(self.min_val)), np.float32(_host(self.max_val))
        if np.isinf(mn) and np.isinf(mx):
            mn, mx = lo, hi
        else:
            mn, mx = mn + c * (lo - mn), mx + c * (hi - mx)
        self.min_val._data[...], self.max_val._data[...] = mn, mx


class PerChannelMinMaxObserver(UniformQuantizationObserverBase):
    """Extremes per slice along `ch_axis`: one scale and zero point per output channel of a weight."""

    def __init__(
        self,
        ch_axis=0,
        dtype=B.quint8,
        qscheme=per_channel_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        factory_kwargs=None,
        eps=_EPS,
        is_dynamic=False,
        **kwargs,
    ):
        if not is_per_channel(qscheme):
            raise NotImplementedError(
                f"{type(self).__name__}'s qscheme only supports per_channel_symmetric, per_channel_affine "
                "and per_channel_affine_float_qparams"
            )
        if is_dynamic:
            raise NotImplementedError(f"{type(self).__name__} doesn't support dynamic quantization")
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, factory_kwargs, eps, is_dynamic)
        self.ch_axis = ch_axis
        self.register_buffer("min_val", _empty_buffer(0))
        self.register_buffer("max_val", _empty_buffer(0))
        if qscheme is per_channel_symmetric and reduce_range and dtype is B.quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for quint8")

    def forward(self, x_orig):
        if not isinstance(x_orig, Tensor) or x_orig.numel() == 0:
            return x_orig
        y = np.moveaxis(_values(x_orig), self.ch_axis, 0).reshape(x_orig.shape[self.ch_axis], -1)
        lo, hi = y.min(axis=1), y.max(axis=1)
        if self.min_val.numel() == 0:
            self._set(lo, hi)
        else:
            self._combine(lo, hi)
        return x_orig

    def _set(self, lo, hi):
        self._buffers["min_val"] = _placed(lo.astype(np.float32), self.min_val)
        self._buffers["max_val"] = _placed(hi.astype(np.float32), self.max_val)

    def _combine(self, lo, hi):
        self._set(np.minimum(lo, _host(self.min_val)), np.maximum(hi, _host(self.max_val)))

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val._data, self.max_val._data)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def reset_min_max_vals(self):
        self._set(np.zeros((0,), np.float32), np.zeros((0,), np.float32))


class MovingAveragePerChannelMinMaxObserver(PerChannelMinMaxObserver):
    """Per-channel extremes, moved by `averaging_constant` of the way at each batch."""

    def __init__(
        self,
        averaging_constant=0.01,
        ch_axis=0,
        dtype=B.quint8,
        qscheme=per_channel_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        eps=_EPS,
        is_dynamic=False,
        **kwargs,
    ):
        super().__init__(ch_axis, dtype, qscheme, reduce_range, quant_min, quant_max, None, eps, is_dynamic)
        self.averaging_constant = averaging_constant

    def _combine(self, lo, hi):
        c = np.float32(self.averaging_constant)
        mn, mx = _host(self.min_val), _host(self.max_val)
        self._set(mn + c * (lo - mn), mx + c * (hi - mx))


class HistogramObserver(UniformQuantizationObserverBase):
    """The range that minimises the L2 quantization error, searched over a histogram of what it saw.

    The histogram (`bins` bins) grows with the range it has to cover; `calculate_qparams` narrows
    [min, max] step by step from the sparser end while the expected error keeps falling.
    """

    def __init__(
        self,
        bins=2048,
        dtype=B.quint8,
        qscheme=per_tensor_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        factory_kwargs=None,
        eps=_EPS,
        is_dynamic=False,
        **kwargs,
    ):
        if not is_per_tensor(qscheme):
            raise NotImplementedError(
                "HistogramObserver's qscheme only supports per_tensor_symmetric and per_tensor_affine"
            )
        if is_dynamic:
            raise NotImplementedError("HistogramObserver doesn't support dynamic quantization")
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, factory_kwargs, eps, is_dynamic)
        self.bins = bins
        self.register_buffer("histogram", _empty_buffer(bins))
        self.register_buffer("min_val", _tensor(float("inf")))
        self.register_buffer("max_val", _tensor(float("-inf")))
        self.dst_nbins = 2 ** (np.iinfo(dtype.np).bits)
        self.upsample_rate = 16  # finer bins when an old histogram is spread over a wider range

    def forward(self, x_orig):
        if not isinstance(x_orig, Tensor) or x_orig.numel() == 0:
            return x_orig
        x = _values(x_orig).ravel()
        if not np.all(np.isfinite(x)):
            warnings.warn("inf detected in input tensor, ignoring input", stacklevel=2)
            x = x[np.isfinite(x)]
            if x.size == 0:
                return x_orig
        lo, hi = np.float32(x.min()), np.float32(x.max())
        cur_min, cur_max = np.float32(_host(self.min_val)), np.float32(_host(self.max_val))
        if np.isinf(cur_min) or np.isinf(cur_max):
            self._store(_histc(x, self.bins, lo, hi), lo, hi)
            return x_orig
        new_min, new_max = min(cur_min, lo), max(cur_max, hi)
        update = _histc(x, self.bins, new_min, new_max)
        if new_min == cur_min and new_max == cur_max:
            self._store(_host(self.histogram) + update, new_min, new_max)
        else:
            combined = self._combine_histograms(
                _host(self.histogram), cur_min, cur_max, update, new_min, new_max
            )
            self._store(combined, new_min, new_max)
        return x_orig

    def _store(self, histogram, lo, hi):
        self._buffers["histogram"] = _placed(histogram.astype(np.float32), self.histogram)
        self.min_val._data[...] = lo
        self.max_val._data[...] = hi

    def _combine_histograms(self, orig_hist, orig_min, orig_max, update_hist, update_min, update_max):
        if orig_min == orig_max:
            return (
                _histc(np.asarray([orig_min]), self.bins, update_min, update_max) * orig_hist.sum()
                + update_hist
            )
        rate = self.upsample_rate
        hist = np.repeat(orig_hist, rate) / rate
        bin_size = (orig_max - orig_min) / (self.bins * rate)
        mids = np.linspace(orig_min, orig_max, self.bins * rate + 1, dtype=np.float32)[:-1] + 0.5 * bin_size
        bounds = np.linspace(update_min, update_max, self.bins + 1, dtype=np.float32)
        buckets = np.clip(np.searchsorted(bounds, mids, side="right") - 1, 0, self.bins - 1)
        return update_hist + np.bincount(buckets, weights=hist, minlength=self.bins).astype(np.float32)

    def _get_norm(self, delta_begin, delta_end, density):
        return density * (delta_end * delta_end * delta_end - delta_begin * delta_begin * delta_begin) / 3

    def _compute_quantization_error(self, next_start_bin, next_end_bin):
        """Expected squared error of quantizing the histogram to `dst_nbins` levels over the given bins."""
        bin_width = (float(self.max_val._data) - float(self.min_val._data)) / self.bins
        dst_bin_width = bin_width * (next_end_bin - next_start_bin + 1) / self.dst_nbins
        if dst_bin_width == 0.0:
            return 0.0
        src_begin = (np.arange(self.bins, dtype=np.float32) - next_start_bin) * np.float32(bin_width)
        src_end = src_begin + np.float32(bin_width)
        last = self.dst_nbins - 1
        dst_of_begin = np.clip(np.floor(src_begin / np.float32(dst_bin_width)), 0, last)
        dst_of_end = np.clip(np.floor(src_end / np.float32(dst_bin_width)), 0, last)
        density = _host(self.histogram) / np.float32(bin_width)
        half = np.float32(dst_bin_width / 2)
        norm = self._get_norm(src_begin - (dst_of_begin + 0.5) * np.float32(dst_bin_width), half, density)
        norm = norm + (dst_of_end - dst_of_begin - 1) * self._get_norm(-half, half, density)
        end_center = dst_of_end * np.float32(dst_bin_width) + half
        norm = norm + self._get_norm(-half, src_end - end_center, density)
        return float(norm.astype(np.float32).sum(dtype=np.float32))

    def _non_linear_param_search(self):
        hist = _host(self.histogram)
        lo, hi = _host(self.min_val), _host(self.max_val)
        bin_width = (hi - lo) / np.float32(self.bins)
        total = float(hist.sum())
        csum = np.cumsum(hist, dtype=np.float32)
        stepsize, alpha, beta = 1e-5, 0.0, 1.0
        start_bin, end_bin = 0, self.bins - 1
        norm_min = math.inf
        while alpha < beta:
            next_alpha, next_beta = alpha + stepsize, beta - stepsize
            left, right = start_bin, end_bin
            while left < end_bin and csum[left] < next_alpha * total:
                left += 1
            while right > start_bin and csum[right] > next_beta * total:
                right -= 1
            next_start, next_end = start_bin, end_bin
            if (left - start_bin) > (end_bin - right):
                next_start, alpha = left, next_alpha
            else:
                next_end, beta = right, next_beta
            if next_start == start_bin and next_end == end_bin:
                continue
            norm = self._compute_quantization_error(next_start, next_end)
            if norm > norm_min:
                break
            norm_min, start_bin, end_bin = norm, next_start, next_end
        new_min = lo + bin_width * np.float32(start_bin)
        new_max = lo + bin_width * np.float32(end_bin + 1)
        return new_min, new_max

    def calculate_qparams(self):
        if np.isinf(_host(self.min_val)) and np.isinf(_host(self.max_val)):
            warnings.warn(
                "must run observer before calling calculate_qparams. Returning default scale and zero point",
                stacklevel=2,
            )
            return _tensor([1.0]), _tensor([0])
        new_min, new_max = self._non_linear_param_search()
        return self._calculate_qparams(new_min, new_max)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


def _histc(x, bins, lo, hi):
    """torch.histc: `bins` equal bins over [lo, hi] (values outside ignored; hi falls in the last bin)."""
    x = np.asarray(x, dtype=np.float32)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    lo, hi = np.float32(lo), np.float32(hi)
    inside = x[(x >= lo) & (x <= hi)]
    idx = ((inside - lo) / (hi - lo) * np.float32(bins)).astype(np.int64)
    idx = np.minimum(idx, bins - 1)
    return np.bincount(idx, minlength=bins).astype(np.float32)


class PlaceholderObserver(ObserverBase):
    """Observes nothing: it carries the dtype (and is_dynamic) a conversion should quantize to."""

    def __init__(
        self,
        dtype=B.float32,
        custom_op_name="",
        compute_dtype=None,
        quant_min=None,
        quant_max=None,
        qscheme=None,
        eps=None,
        is_dynamic=False,
    ):
        super().__init__(dtype=dtype, is_dynamic=is_dynamic or compute_dtype is not None)
        self.qscheme = qscheme if qscheme is not None else per_tensor_affine
        self.quant_min = quant_min
        self.quant_max = quant_max
        self.eps = eps if eps is not None else _EPS
        self.custom_op = custom_op_name

    def forward(self, x):
        return x

    def extra_repr(self):
        return f"dtype={self.dtype}, is_dynamic={self.is_dynamic}"

    def calculate_qparams(self):
        raise RuntimeError("calculate_qparams should not be called for PlaceholderObserver")


class NoopObserver(ObserverBase):
    """Observes nothing; marks a tensor to be cast (float16 weights) rather than quantized."""

    def __init__(self, dtype=B.float16, custom_op_name=""):
        super().__init__(dtype=dtype, is_dynamic=False)
        self.custom_op = custom_op_name

    def forward(self, x):
        return x

    def calculate_qparams(self):
        raise RuntimeError("calculate_qparams should not be called for NoopObserver")


default_observer = MinMaxObserver.with_args(quant_min=0, quant_max=127)
default_placeholder_observer = PlaceholderObserver
default_weight_observer = MinMaxObserver.with_args(dtype=B.qint8, qscheme=per_tensor_symmetric)
default_histogram_observer = HistogramObserver.with_args(quant_min=0, quant_max=127)
default_per_channel_weight_observer = PerChannelMinMaxObserver.with_args(
    dtype=B.qint8, qscheme=per_channel_symmetric
)
default_dynamic_quant_observer = PlaceholderObserver.with_args(
    dtype=B.quint8, quant_min=0, quant_max=255, is_dynamic=True
)
default_float_qparams_observer = PerChannelMinMaxObserver.with_args(
    dtype=B.quint8, qscheme=per_channel_affine_float_qparams, ch_axis=0
)
