"""Image folders (on Pillow): one sub-folder per class, images loaded as RGB or grey at an optional size.

Unreadable or truncated images are found when the folder is scanned: skipped with a warning and
listed in `.skipped` (`on_error='skip'`), or reported as an error naming the file (`on_error='raise'`).
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

from PIL import Image

from .dataset import Dataset
from .files import MAX_IMAGE_BYTES, DataFileError, check_folder, open_regular

__all__ = ["IMG_EXTENSIONS", "ImageFolder", "find_classes", "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")


class ImageError(OSError):
    """An image file that cannot be read, naming the file."""


def find_classes(directory):
    """The class names (sorted sub-folder names) and their indices."""
    directory = os.fspath(directory)
    if not os.path.lexists(directory):
        raise FileNotFoundError(f"Image folder not found: {directory}")
    check_folder(directory, "an image folder")
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {c: i for i, c in enumerate(classes)}


def pil_loader(path, mode="RGB"):
    """Open and fully decode an image, converted to `mode`; errors name the file."""
    try:
        with open_regular(path, MAX_IMAGE_BYTES, "image file") as f, Image.open(f) as img:
            img.load()
            return img.convert(mode) if img.mode != mode else img.copy()
    except DataFileError as e:
        raise ImageError(str(e)) from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ImageError(f"cannot read image {path}: {e}") from None


def _check_readable(path):
    """None when the image decodes completely, else the reason it does not."""
    try:
        with open_regular(path, MAX_IMAGE_BYTES, "image file") as f, Image.open(f) as img:
            img.load()
    except DataFileError as e:
        return str(e)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def _not_regular(path):
    """None for a regular file of a readable size, else why it is left out (without opening it)."""
    try:
        st = os.stat(path)
    except OSError as e:
        return f"cannot read it: {e.strerror or e}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > MAX_IMAGE_BYTES:
        return f"larger than {MAX_IMAGE_BYTES // 1024**2} MiB"
    return None


def _same_or_inside(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


def _linked_class_problem(root: str, classes) -> str | None:
    """Why the class folders cannot be told apart, when a link makes one the root, another class or
    a folder holding one: each image would then count (and be labelled) more than once."""
    real_root = os.path.realpath(root)
    real = {c: os.path.realpath(os.path.join(root, c)) for c in classes}
    for c, r in real.items():
        if _same_or_inside(real_root, r):
            return f"the class folder {c!r} in {root} links back to the image folder itself"
    names = list(real)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if _same_or_inside(real[a], real[b]) or _same_or_inside(real[b], real[a]):
                return f"the class folders {a!r} and {b!r} in {root} are one folder (through a link)"
    return None


class ImageFolder(Dataset):
    """Images in `root/<class>/<file>` as `(image, class index)` samples.

    Args:
        root: the folder with one sub-folder per class.
        transform: applied to each PIL image (e.g. `transforms.ToTensor()`); without it samples
            are PIL images.
        target_transform: applied to each class index.
        mode: 'RGB' (colour) or 'L' (grey) conversion of every image.
        size: resize every image to (height, width) (an int for square) before `transform`.
        on_error: 'skip' (default) leaves out unreadable images with a warning and lists them in
            `.skipped` as (path, reason); 'raise' raises an error naming the first one.
        verify: decode every image when scanning, to find unreadable ones early (default True).
        is_valid_file: a predicate on paths choosing the files to use (default: image extensions).
        allow_empty: allow class folders without images (default False).
    """

    def __init__(
        self,
        root,
        transform=None,
        target_transform=None,
        loader=None,
        is_valid_file=None,
        allow_empty=False,
        *,
        mode="RGB",
        size=None,
        on_error="skip",
        verify=True,
    ):
        if mode not in ("RGB", "L"):
            raise ValueError(f"ImageFolder: mode must be 'RGB' or 'L', got {mode!r}")
        if on_error not in ("skip", "raise"):
            raise ValueError(f"ImageFolder: on_error must be 'skip' or 'raise', got {on_error!r}")
        if isinstance(size, int):
            size = (size, size)
        if size is not None and (len(size) != 2 or min(size) <= 0):
            raise ValueError(f"ImageFolder: size must be a positive int or (height, width), got {size!r}")
        self.root = os.fspath(root)
        self.transform = transform
        self.target_transform = target_transform
        self.loader = loader
        self.mode = mode
        self.size = tuple(size) if size is not None else None
        self.on_error = on_error
        self.extensions = IMG_EXTENSIONS if is_valid_file is None else None
        self.classes, self.class_to_idx = find_classes(self.root)
        self.skipped: list[tuple[str, str]] = []
        self.samples = self._scan(is_valid_file, allow_empty, verify)
        self.targets = [t for _, t in self.samples]
        self.imgs = self.samples

    def _scan(self, is_valid_file, allow_empty, verify):
        if is_valid_file is None:

            def is_valid_file(p):
                return p.lower().endswith(IMG_EXTENSIONS)

        problem = _linked_class_problem(self.root, self.classes)
        if problem:
            raise ImageError(problem)
        samples, empty = [], []
        for cls in self.classes:
            index = self.class_to_idx[cls]
            folder = os.path.join(self.root, cls)
            found = 0
            # links to folders are not followed: a link back up would repeat (and mislabel) images
            for dirpath, _, files in sorted(os.walk(folder, followlinks=False)):
                for name in sorted(files):
                    path = os.path.join(dirpath, name)
                    if not is_valid_file(path):
                        continue
                    found += 1
                    reason = _check_readable(path) if verify else _not_regular(path)
                    if reason is not None:
                        if self.on_error == "raise":
                            raise ImageError(f"cannot read image {path}: {reason}")
                        self.skipped.append((path, reason))
                        continue
                    samples.append((path, index))
            if found == 0:
                empty.append(cls)
        if empty and not allow_empty:
            raise FileNotFoundError(
                f"Found no valid file for the classes {', '.join(empty)} in {self.root}. Supported "
                f"extensions are: {', '.join(IMG_EXTENSIONS)}"
            )
        if self.skipped:
            first = self.skipped[0]
            warnings.warn(
                f"ImageFolder: skipped {len(self.skipped)} unreadable image(s) in {self.root} "
                f"(see .skipped); the first is {first[0]}: {first[1]}",
                stacklevel=3,
            )
        return samples

    def load(self, path):
        """The image at `path`, converted to this folder's mode and size."""
        img = self.loader(path) if self.loader is not None else pil_loader(path, self.mode)
        if self.loader is not None and img.mode != self.mode:
            img = img.convert(self.mode)
        if self.size is not None and (img.height, img.width) != self.size:
            img = img.resize((self.size[1], self.size[0]), Image.Resampling.BILINEAR)
        return img

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.load(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self):
        return len(self.samples)

    def __repr__(self):
        return (
            f"ImageFolder({Path(self.root).name}: {len(self)} images, {len(self.classes)} classes, "
            f"mode={self.mode!r}, size={self.size})"
        )
