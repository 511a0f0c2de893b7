"""Image transforms under torchvision's names: conversion, normalization, resizing, crops, flips, rotation.

Transforms take a PIL image or a tensor of shape (C, H, W) (geometric ones also (H, W)) and return
the same kind; `ToTensor` turns a PIL image or an (H, W, C) uint8 array into a (C, H, W) float32
tensor in [0, 1]. Random transforms draw from studio's default generator, so `manual_seed`
repeats them.
"""

from __future__ import annotations

import numbers

import numpy as np
from PIL import Image

from .. import backend as B
from ..tensor import Tensor, _wrap

__all__ = [
    "CenterCrop",
    "Compose",
    "Grayscale",
    "InterpolationMode",
    "Lambda",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomRotation",
    "RandomVerticalFlip",
    "Resize",
    "ToTensor",
]


class InterpolationMode:
    """Resampling filters by torchvision's names."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
    "lanczos": Image.Resampling.LANCZOS,
}


def _pil_filter(mode):
    try:
        return _PIL_FILTERS[mode]
    except KeyError:
        raise ValueError(f"interpolation must be one of {sorted(_PIL_FILTERS)}, got {mode!r}") from None


def _rng():
    return B.default_generator.numpy


def _pair(size, name):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, list | tuple) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, list | tuple) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{name}: size should be an int or a sequence of one or two ints, got {size!r}")


def _check_image(img, where):
    if isinstance(img, Image.Image):
        return
    if isinstance(img, Tensor) and img.ndim >= 2:
        return
    shape = tuple(img.shape) if hasattr(img, "shape") else None
    raise TypeError(
        f"{where}: expected a PIL image or a tensor of shape (C, H, W) or (H, W), got "
        f"{type(img).__name__}{'' if shape is None else f' of shape {shape}'}"
    )


def _size_hw(img):
    if isinstance(img, Image.Image):
        return img.height, img.width
    return img.shape[-2], img.shape[-1]


def _per_channel_pil(t: Tensor, fn):
    """Apply a PIL operation to each channel of a tensor as a float image ('F' mode) and restack."""
    arr = B.to_numpy(t._data)
    lead = arr.shape[:-2]
    planes = arr.reshape((-1,) + arr.shape[-2:]).astype(np.float32, copy=False)
    out = np.stack([np.asarray(fn(Image.fromarray(p, mode="F")), dtype=np.float32) for p in planes])
    out = out.reshape(lead + out.shape[-2:])
    if arr.dtype.kind in "iub":
        out = np.clip(np.rint(out), np.iinfo(arr.dtype).min, np.iinfo(arr.dtype).max)
    out = out.astype(arr.dtype, copy=False)
    return _wrap(B.to_device_array(out, t.device))


class Compose:
    """Apply transforms one after another."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class ToTensor:
    """A PIL image or an (H, W, C) / (H, W) array to a (C, H, W) tensor; uint8 values scale to [0, 1]."""

    def __call__(self, pic):
        if isinstance(pic, Image.Image):
            if pic.mode == "1":
                arr = np.asarray(pic, dtype=np.uint8) * np.uint8(255)
            elif pic.mode in ("I;16", "I;16B", "I;16L"):
                arr = np.asarray(pic, dtype=np.int32)
            else:
                arr = np.asarray(pic)
        elif isinstance(pic, np.ndarray):
            arr = pic
        else:
            raise TypeError(f"ToTensor: pic should be a PIL Image or ndarray, got {type(pic).__name__}")
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ValueError(f"ToTensor: pic should be 2 or 3 dimensional, got {arr.ndim} dimensions")
        chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            out = chw.astype(B.get_default_dtype().np)
            out /= 255
            return _wrap(B.host_array(out))
        if chw.dtype not in B._BY_NP:
            chw = chw.astype(B.from_numpy_dtype(chw.dtype).np)
        return _wrap(B.host_array(chw))

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean) / std per channel of a (..., C, H, W) float tensor."""

    def __init__(self, mean, std, inplace=False):
        self.mean = list(mean) if isinstance(mean, list | tuple) else [mean]
        self.std = list(std) if isinstance(std, list | tuple) else [std]
        self.inplace = inplace
        if any(s == 0 for s in self.std):
            raise ValueError(
                f"std evaluated to zero after conversion to float32, leading to division by zero (std={std})"
            )

    def __call__(self, tensor):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: expected a Tensor, got {type(tensor).__name__}")
        if not tensor.is_floating_point():
            raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
        if tensor.ndim < 3:
            raise ValueError(
                "Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = "
                f"{tuple(tensor.shape)}"
            )
        c = tensor.shape[-3]
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise ValueError(
                f"Normalize: mean has {len(self.mean)} and std {len(self.std)} values, expected 1 or {c} "
                f"(the channels of an image of shape {tuple(tensor.shape)})"
            )
        xp = B.array_module(tensor._data)
        dt = tensor._data.dtype
        mean = xp.asarray(self.mean, dtype=dt).reshape(-1, 1, 1)
        std = xp.asarray(self.std, dtype=dt).reshape(-1, 1, 1)
        if self.inplace:
            return tensor.sub_(_wrap(mean)).div_(_wrap(std))
        return (tensor - _wrap(mean)) / _wrap(std)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Resize:
    """Resize to `size` (h, w), or make the smaller edge `size` keeping the aspect ratio when it is an int."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        if isinstance(size, list | tuple) and len(size) not in (1, 2):
            raise ValueError(f"Resize: size should be an int or a sequence of one or two ints, got {size!r}")
        self.size = size
        self.interpolation = interpolation
        self.max_size = max_size
        self.antialias = antialias
        _pil_filter(interpolation)

    def _target(self, h, w):
        if isinstance(self.size, list | tuple) and len(self.size) == 2:
            return int(self.size[0]), int(self.size[1])
        size = int(self.size[0] if isinstance(self.size, list | tuple) else self.size)
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size, int(size * long / short)
        if self.max_size is not None and new_long > self.max_size:
            new_short, new_long = int(self.max_size * new_short / new_long), self.max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)

    def __call__(self, img):
        _check_image(img, "Resize")
        h, w = _size_hw(img)
        th, tw = self._target(h, w)
        if (th, tw) == (h, w):
            return img
        resample = _pil_filter(self.interpolation)
        if isinstance(img, Image.Image):
            return img.resize((tw, th), resample)
        return _per_channel_pil(img, lambda p: p.resize((tw, th), resample))

    def __repr__(self):
        return f"Resize(size={self.size}, interpolation={self.interpolation})"


def _crop(img, top, left, height, width):
    """Crop, padding with zeros where the box leaves the image (as torchvision's crop does)."""
    if isinstance(img, Image.Image):
        return img.crop((left, top, left + width, top + height))
    h, w = img.shape[-2], img.shape[-1]
    if top >= 0 and left >= 0 and top + height <= h and left + width <= w:
        return img[..., top : top + height, left : left + width]
    xp = B.array_module(img._data)
    out = xp.zeros(img.shape[:-2] + (height, width), dtype=img._data.dtype)
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + height, h), min(left + width, w)
    if t1 > t0 and l1 > l0:
        out[..., t0 - top : t1 - top, l0 - left : l1 - left] = img._data[..., t0:t1, l0:l1]
    return _wrap(out)


class CenterCrop:
    """Crop the centre `size` (h, w) of the image (padding with zeros when the image is smaller)."""

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def __call__(self, img):
        _check_image(img, "CenterCrop")
        h, w = _size_hw(img)
        th, tw = self.size
        top = int(round((h - th) / 2.0))
        left = int(round((w - tw) / 2.0))
        return _crop(img, top, left, th, tw)

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


def _pad(img, padding, fill=0, padding_mode="constant"):
    """Pad by `padding` (int, (left/right, top/bottom) or (left, top, right, bottom))."""
    if isinstance(padding, numbers.Number):
        pl = pt = pr = pb = int(padding)
    elif len(padding) == 2:
        pl, pt = pr, pb = int(padding[0]), int(padding[1])
    elif len(padding) == 4:
        pl, pt, pr, pb = (int(p) for p in padding)
    else:
        raise ValueError(f"padding must be an int or a sequence of 2 or 4 ints, got {padding!r}")
    modes = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}
    if padding_mode not in modes:
        raise ValueError(f"padding_mode must be one of {sorted(modes)}, got {padding_mode!r}")
    if isinstance(img, Image.Image):
        arr = np.asarray(img)
        widths = ((pt, pb), (pl, pr)) + (((0, 0),) if arr.ndim == 3 else ())
        kw = {"constant_values": fill} if padding_mode == "constant" else {}
        out = np.pad(arr, widths, mode=modes[padding_mode], **kw)
        return Image.fromarray(out, mode=img.mode)
    xp = B.array_module(img._data)
    widths = ((0, 0),) * (img.ndim - 2) + ((pt, pb), (pl, pr))
    kw = {"constant_values": fill} if padding_mode == "constant" else {}
    return _wrap(xp.pad(img._data, widths, mode=modes[padding_mode], **kw))


class RandomCrop:
    """Crop a random `size` (h, w) window, after optional `padding` (and padding up to size if asked)."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _pair(size, "RandomCrop")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, img):
        _check_image(img, "RandomCrop")
        if self.padding is not None:
            img = _pad(img, self.padding, self.fill, self.padding_mode)
        h, w = _size_hw(img)
        th, tw = self.size
        if self.pad_if_needed and w < tw:
            img = _pad(img, (tw - w, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = _pad(img, (0, th - h), self.fill, self.padding_mode)
        h, w = _size_hw(img)
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        rng = _rng()
        top = int(rng.integers(0, h - th + 1))
        left = int(rng.integers(0, w - tw + 1))
        return _crop(img, top, left, th, tw)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left to right with probability `p`."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        _check_image(img, "RandomHorizontalFlip")
        if _rng().random() < self.p:
            if isinstance(img, Image.Image):
                return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            return _wrap(B.array_module(img._data).flip(img._data, -1))
        return img

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip:
    """Flip the image upside down with probability `p`."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        _check_image(img, "RandomVerticalFlip")
        if _rng().random() < self.p:
            if isinstance(img, Image.Image):
                return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
            return _wrap(B.array_module(img._data).flip(img._data, -2))
        return img

    def __repr__(self):
        return f"RandomVerticalFlip(p={self.p})"


class RandomRotation:
    """Rotate by an angle drawn uniformly from `degrees` ((-d, d) for a number), counter-clockwise."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=0):
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError(f"If degrees is a single number, it must be positive, got {degrees}")
            degrees = (-float(degrees), float(degrees))
        elif len(degrees) != 2:
            raise ValueError(f"If degrees is a sequence, it must be of len 2, got {degrees!r}")
        self.degrees = (float(degrees[0]), float(degrees[1]))
        self.interpolation = interpolation
        self.expand = expand
        self.center = center
        self.fill = fill
        _pil_filter(interpolation)

    def __call__(self, img):
        _check_image(img, "RandomRotation")
        angle = float(_rng().uniform(self.degrees[0], self.degrees[1]))
        resample = _pil_filter(self.interpolation)
        if resample not in (Image.Resampling.NEAREST, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC):
            raise ValueError("RandomRotation: interpolation must be nearest, bilinear or bicubic")
        kw = {"expand": self.expand, "center": self.center}
        if isinstance(img, Image.Image):
            fill = self.fill
            if isinstance(fill, numbers.Number) and len(img.getbands()) > 1:
                fill = (fill,) * len(img.getbands())
            return img.rotate(angle, resample, fillcolor=fill, **kw)
        return _per_channel_pil(img, lambda p: p.rotate(angle, resample, fillcolor=float(self.fill), **kw))

    def __repr__(self):
        return f"RandomRotation(degrees={self.degrees}, interpolation={self.interpolation})"


class Grayscale:
    """Convert to grey (ITU-R 601-2 luma), with 1 or 3 output channels."""

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"num_output_channels should be either 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        _check_image(img, "Grayscale")
        if isinstance(img, Image.Image):
            grey = img.convert("L")
            return grey.convert("RGB") if self.num_output_channels == 3 else grey
        if img.ndim < 3 or img.shape[-3] not in (1, 3):
            raise TypeError(
                f"Grayscale: expected an image tensor with 1 or 3 channels, got shape {tuple(img.shape)}"
            )
        if img.shape[-3] == 1:
            grey = img
        else:
            arr = img._data
            xp = B.array_module(arr)
            work = arr if arr.dtype.kind == "f" else arr.astype(np.float32)
            g = 0.2989 * work[..., 0:1, :, :] + 0.587 * work[..., 1:2, :, :] + 0.114 * work[..., 2:3, :, :]
            if arr.dtype.kind != "f":
                g = xp.clip(xp.floor(g), 0, None)  # torchvision truncates integer images
            grey = _wrap(g.astype(arr.dtype, copy=False))
        if self.num_output_channels == 3:
            xp = B.array_module(grey._data)
            return _wrap(xp.concatenate([grey._data] * 3, axis=-3))
        return grey

    def __repr__(self):
        return f"Grayscale(num_output_channels={self.num_output_channels})"


class Lambda:
    """Apply a user function as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return "Lambda()"
