"""Image folders decoded once into arrays: survey, parallel decoding, progress, stop, and the cache."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from studio.core.data.image_arrays import Cancelled, load_arrays, survey


def _folder(root, classes=("a", "b"), count=4, size=(6, 5), mode="RGB"):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(count):
            shape = (size[0], size[1], len(mode)) if mode != "L" else size
            Image.fromarray(rng.integers(0, 256, shape).astype(np.uint8), mode).save(root / c / f"{i}.png")
    return root


def test_survey_proposes_colour_and_the_common_size_within_the_cap(tmp_path):
    root = _folder(tmp_path / "f", size=(120, 60), mode="L")
    Image.new("P", (60, 120)).save(root / "a" / "palette.png")
    found = survey(root, cap=64)
    assert found["mode"] == "RGB"  # a palette image has colour
    assert found["size"] == (64, 32) and found["native_size"] == (120, 60)
    assert found["images"] == 9 and found["classes"] == ["a", "b"]
    assert survey(_folder(tmp_path / "g", mode="L"))["mode"] == "L"


def test_arrays_match_what_the_image_folder_loads(tmp_path):
    from studio.core.data.images import ImageFolder

    root = _folder(tmp_path / "f")
    Image.new("RGBA", (5, 6), (9, 8, 7, 0)).save(root / "b" / "alpha.png")
    got = load_arrays(root, "RGB", (6, 5), workers=3)
    ds = ImageFolder(root, mode="RGB", size=(6, 5))
    assert got.x.shape == (9, 3, 6, 5) and got.x.dtype == np.uint8 and not got.from_cache
    for i in range(len(ds)):
        np.testing.assert_array_equal(got.x[i], np.asarray(ds[i][0]).transpose(2, 0, 1))
    assert got.y.tolist() == ds.targets and got.classes == ["a", "b"]
    grey = load_arrays(root, "L", (3, 4))
    assert grey.x.shape == (9, 1, 3, 4)


def test_unreadable_images_are_left_out_and_named(tmp_path):
    root = _folder(tmp_path / "f")
    (root / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    got = load_arrays(root, "RGB", (6, 5))
    assert len(got.x) == 8 and len(got.y) == 8
    assert [os.path.basename(p) for p, _ in got.skipped] == ["broken.png"]


def test_progress_reaches_the_total_and_stop_cancels(tmp_path):
    root = _folder(tmp_path / "f", count=40)
    seen = []
    load_arrays(root, "RGB", (6, 5), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (80, 80) and all(t == 80 for _, t in seen)
    with pytest.raises(Cancelled):
        load_arrays(root, "RGB", (6, 5), stop=lambda: True)


def test_the_cache_is_used_then_invalidated_by_a_changed_file_and_survives_corruption(tmp_path):
    root = _folder(tmp_path / "f")
    cache = tmp_path / "cache"
    first = load_arrays(root, "RGB", (6, 5), cache_dir=cache)
    again = load_arrays(root, "RGB", (6, 5), cache_dir=cache)
    assert not first.from_cache and again.from_cache and isinstance(again.x, np.memmap)
    np.testing.assert_array_equal(first.x, again.x)
    assert not load_arrays(root, "L", (6, 5), cache_dir=cache).from_cache  # another mode, another key
    Image.new("RGB", (5, 6), (1, 2, 3)).save(root / "a" / "0.png")  # same name, new content
    os.utime(root / "a" / "0.png", ns=(1, 1))
    changed = load_arrays(root, "RGB", (6, 5), cache_dir=cache)
    assert not changed.from_cache and changed.x[0, :, 0, 0].tolist() == [1, 2, 3]
    (npy,) = cache.glob("*.npy")
    npy.write_bytes(b"torn")
    assert not load_arrays(root, "RGB", (6, 5), cache_dir=cache).from_cache
    (meta,) = cache.glob("*.json")
    meta.write_text("{not json")
    rebuilt = load_arrays(root, "RGB", (6, 5), cache_dir=cache)
    assert not rebuilt.from_cache and json.loads(meta.read_text())["key"]
    assert not [p for p in cache.iterdir() if p.name.endswith(".studio-tmp")]
