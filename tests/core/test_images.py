"""Image folders: classes from sub-folders, mode and size conversion, and unreadable files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import studio.core as sc
from studio.core.data import DataLoader, ImageFolder
from studio.core.data import transforms as T
from studio.core.data.images import ImageError


def _folder(tmp_path, corrupt=False):
    root = tmp_path / "pets"
    rng = np.random.default_rng(0)
    for cls, n in (("cat", 3), ("dog", 2)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            arr = rng.integers(0, 255, (6, 5, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    (root / "dog" / "notes.txt").write_text("not an image")
    if corrupt:
        good = (root / "cat" / "0.png").read_bytes()
        (root / "cat" / "truncated.png").write_bytes(good[: len(good) // 2])
        (root / "dog" / "garbage.jpg").write_bytes(b"\x00\x01not a jpeg at all" * 10)
    return root


def test_classes_samples_targets(tmp_path):
    root = _folder(tmp_path)
    ds = ImageFolder(root)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 5 and ds.targets == [0, 0, 0, 1, 1]
    assert ds.samples[0][0].endswith("0.png") and ds.skipped == []
    img, label = ds[4]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (5, 6) and label == 1


def test_mode_size_and_transform(tmp_path):
    ds = ImageFolder(_folder(tmp_path), transform=T.ToTensor(), mode="L", size=(4, 3))
    x, y = ds[0]
    assert x.shape == (1, 4, 3) and x.dtype == sc.float32
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    assert xb.shape == (5, 1, 4, 3) and yb.tolist() == [0, 0, 0, 1, 1]
    ds = ImageFolder(
        _folder(tmp_path / "b"), transform=T.ToTensor(), size=8, target_transform=lambda t: t * 10
    )
    x, y = ds[3]
    assert x.shape == (3, 8, 8) and y == 10


def test_corrupt_files_are_skipped_with_warning(tmp_path):
    root = _folder(tmp_path, corrupt=True)
    with pytest.warns(UserWarning, match="skipped 2 unreadable image"):
        ds = ImageFolder(root)
    assert len(ds) == 5
    skipped = sorted(p for p, _ in ds.skipped)
    assert {p.rsplit("/", 1)[-1] for p in skipped} == {"truncated.png", "garbage.jpg"}
    assert all(reason for _, reason in ds.skipped)


def test_corrupt_file_raises_naming_it(tmp_path):
    root = _folder(tmp_path, corrupt=True)
    with pytest.raises(ImageError, match=r"cannot read image .*(truncated\.png|garbage\.jpg)"):
        ImageFolder(root, on_error="raise")


def test_unreadable_at_load_time_names_the_file(tmp_path):
    root = _folder(tmp_path)
    ds = ImageFolder(root, verify=False)
    (root / "cat" / "1.png").write_bytes(b"broken")
    with pytest.raises(OSError, match=r"cannot read image .*1\.png"):
        ds[1]


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Image folder not found"):
        ImageFolder(tmp_path / "nowhere")
    (tmp_path / "flat").mkdir()
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        ImageFolder(tmp_path / "flat")
    (tmp_path / "flat" / "empty_class").mkdir()
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes empty_class"):
        ImageFolder(tmp_path / "flat")
    assert len(ImageFolder(tmp_path / "flat", allow_empty=True)) == 0
    with pytest.raises(ValueError, match="mode must be 'RGB' or 'L'"):
        ImageFolder(tmp_path / "flat", mode="CMYK")
    with pytest.raises(ValueError, match="on_error must be 'skip' or 'raise'"):
        ImageFolder(tmp_path / "flat", on_error="ignore")
