"""An image folder as one array: its common mode and size, decoded once in parallel, cached on disk.

- `survey(root)` reads image headers only (no decoding) and proposes the mode (RGB where any image
  has colour, RGBA and palettes included; L where all are grey) and the most common size, scaled
  down to fit a cap.
- `load_arrays(root, mode, size, cache_dir=...)` decodes every image once, on a thread pool (Pillow
  releases the GIL while it decodes), into a (N, C, H, W) uint8 array, reporting progress and
  stopping when asked. With a cache folder, the array is saved there as a `.npy` file (written
  atomically) keyed by the files' names, sizes and modification times, the mode and the size; the
  next call maps it from disk instead of decoding. A cache that does not match or cannot be read
  is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from PIL import Image

from .. import atomic
from .files import MAX_IMAGE_BYTES, DataFileError, open_regular
from .images import ImageError, ImageFolder

__all__ = ["Cancelled", "ImageArrays", "load_arrays", "survey"]

_CACHE_VERSION = 1
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


class Cancelled(Exception):
    """Loading was stopped by the caller."""


class ImageArrays:
    """Decoded images (N, C, H, W) uint8 with their labels, class names and the files left out."""

    def __init__(self, x, y, classes, skipped, from_cache):
        self.x, self.y, self.classes = x, y, classes
        self.skipped = skipped  # [(path, reason)]
        self.from_cache = from_cache


# ------------------------------------------------------------------------------------------- survey


def survey(root, cap: int = 64, limit: int = 2000) -> dict:
    """Mode, size (height, width) and counts proposed for an image folder, from image headers.

    At most `limit` files, spread evenly over the folder, are opened. The size is the most common
    one, scaled down (keeping its aspect ratio) so that neither side exceeds `cap`.
    """
    ds = ImageFolder(root, verify=False, on_error="skip")
    paths = [p for p, _ in ds.samples]
    if not paths:
        raise ImageError(f"no images under {ds.root}: expected one sub-folder of images per class")
    step = max(1, len(paths) // limit)
    modes, sizes = Counter(), Counter()
    for path in paths[::step]:
        try:
            with open_regular(path, MAX_IMAGE_BYTES, "image file") as f, Image.open(f) as img:
                modes[img.mode] += 1
                sizes[(img.height, img.width)] += 1
        except (DataFileError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            continue  # unreadable files are reported when the folder is loaded
    if not sizes:
        raise ImageError(f"none of the images under {ds.root} could be read")
    colour = any(m not in _GREY_MODES for m in modes)
    (h, w), _ = sizes.most_common(1)[0]
    scale = min(1.0, cap / max(h, w))
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return {
        "mode": "RGB" if colour else "L",
        "size": size,
        "native_size": (h, w),
        "sizes_seen": len(sizes),
        "images": len(paths),
        "classes": list(ds.classes),
    }


# ------------------------------------------------------------------------------------------ loading


def load_arrays(root, mode="RGB", size=(32, 32), *, cache_dir=None, workers=None, progress=None, stop=None):
    """Every image of the folder as (N, C, H, W) uint8, decoded once (see the module's notes).

    `progress(done, total)` is called as images are decoded; `stop()` returning True ends the work
    with `Cancelled`. Unreadable images are left out and listed in `.skipped`.
    """
    size = (int(size[0]), int(size[1]))
    ds = ImageFolder(root, mode=mode, size=size, verify=False, on_error="skip")
    files = [p for p, _ in ds.samples]
    y_all = np.asarray(ds.targets, np.int64)
    key = _cache_key(ds.root, mode, size, files)
    cached = _read_cache(cache_dir, ds.root, key, (len(files), 1 if mode == "L" else 3, *size))
    if cached is not None:
        x, keep, skipped = cached
        if progress is not None:
            progress(len(files), len(files))
        return ImageArrays(x, y_all[keep], list(ds.classes), skipped, True)
    x, ok, skipped = _decode_all(ds, files, workers, progress, stop)
    skipped = ds.skipped + skipped
    if not ok.all():
        x = x[ok]
    if cache_dir is not None:
        mapped = _write_cache(cache_dir, ds.root, key, x, ok, skipped)
        x = x if mapped is None else mapped
    return ImageArrays(x, y_all[ok], list(ds.classes), skipped, False)


def _decode_all(ds, files, workers, progress, stop):
    n = len(files)
    channels = 1 if ds.mode == "L" else 3
    x = np.empty((n, channels, *ds.size), np.uint8)
    ok = np.ones(n, bool)
    skipped = []
    lock = threading.Lock()

    def decode(lo, hi):
        for i in range(lo, hi):
            if stop is not None and stop():
                raise Cancelled("image loading was stopped")
            try:
                arr = np.asarray(ds.load(files[i]))
            except ImageError as e:
                ok[i] = False
                with lock:
                    skipped.append((files[i], str(e)))
                continue
            x[i] = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        return hi - lo

    chunk = 32
    workers = workers or min(16, (os.cpu_count() or 1) * 2)
    done = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="studio-decode") as pool:
        futures = [pool.submit(decode, lo, min(lo + chunk, n)) for lo in range(0, n, chunk)]
        try:
            for fut in as_completed(futures):
                done += fut.result()
                if progress is not None:
                    progress(done, n)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
    skipped.sort()
    return x, ok, skipped


# -------------------------------------------------------------------------------------------- cache


def _cache_key(root, mode, size, files) -> str:
    """A digest of what the decoded array depends on: each file's name, size and time, mode, size."""
    h = hashlib.sha256(json.dumps([_CACHE_VERSION, os.path.realpath(root), mode, list(size)]).encode())
    for path in files:
        try:
            st = os.stat(path)
            h.update(f"{os.path.relpath(path, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{path}\0missing\n".encode())
    return h.hexdigest()


def _cache_paths(cache_dir, root):
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(root).name)[:40] or "images"
    tag = hashlib.sha256(os.path.realpath(root).encode()).hexdigest()[:12]
    base = Path(cache_dir) / f"{name}-{tag}"
    return base.with_suffix(".npy"), base.with_suffix(".json")


def _read_cache(cache_dir, root, key, full_shape):
    """(x, kept mask, skipped) from a cache that matches `key`, else None."""
    if cache_dir is None:
        return None
    npy, meta_path = _cache_paths(cache_dir, root)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        keep = np.zeros(full_shape[0], bool)
        keep[np.asarray(meta["kept"], np.int64)] = True
        x = np.load(npy, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # missing, torn or from another version: decode again
    if x.dtype != np.uint8 or x.shape != (int(keep.sum()), *full_shape[1:]):
        return None
    return x, keep, [tuple(s) for s in meta.get("skipped", [])]


def _write_cache(cache_dir, root, key, x, ok, skipped):
    """Save the array and its key; the saved array mapped from disk, or None when it cannot be saved."""
    npy, meta_path = _cache_paths(cache_dir, root)
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        atomic.ensure_room(cache_dir, x.nbytes + (1 << 20), "the decoded-image cache")
        with atomic.atomic_open(npy, "wb") as f:
            np.save(f, np.ascontiguousarray(x), allow_pickle=False)
        meta = {"key": key, "kept": np.flatnonzero(ok).tolist(), "skipped": [list(s) for s in skipped]}
        atomic.write_text(meta_path, json.dumps(meta))
        return np.load(npy, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None  # a cache is a convenience: training goes on from memory
