"""Files that must never hang or break the data readers: pipes, devices, folders, /proc, link loops."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from studio.core.data import ImageFolder
from studio.core.data.files import MAX_TABLE_BYTES, DataFileError, open_regular
from studio.core.data.images import ImageError
from studio.core.data.tabular import read_csv

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, /dev and /proc are POSIX")


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    return path


@posix_only
def test_a_fifo_is_refused_at_once(fifo, finishes):
    with pytest.raises(DataFileError, match="named pipe"):
        finishes(read_csv, fifo)


@posix_only
@pytest.mark.parametrize(
    "path, fragment",
    [("/dev/zero", "character device"), ("/proc/self/status", "/proc"), ("/proc", "/proc")],
)
def test_devices_and_proc_are_refused(path, fragment, finishes):
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(DataFileError, match=fragment):
        finishes(read_csv, path)


def test_a_folder_is_not_a_csv_file(tmp_path):
    with pytest.raises(DataFileError, match="a folder"):
        read_csv(tmp_path)


def test_size_limit(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataFileError, match="more than"):
        open_regular(path, 4, "CSV file")
    assert MAX_TABLE_BYTES >= 1024**3
    with open_regular(path, 100) as f:
        assert f.read() == b"a,b\n1,2\n"


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("a,b\n1,2\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert read_csv(link).shape == (1, 2)


def _images(root, counts):
    rng = np.random.default_rng(0)
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (4, 4), dtype=np.uint8)).save(root / cls / f"{i}.png")
    return root


@posix_only
def test_a_fifo_or_device_inside_a_class_folder_is_skipped(tmp_path, finishes):
    root = _images(tmp_path / "imgs", {"a": 2, "b": 2})
    os.mkfifo(root / "a" / "pipe.png")
    (root / "b" / "zero.png").symlink_to("/dev/zero")
    for verify in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = finishes(ImageFolder, root, verify=verify)
        assert len(ds) == 4 and ds.targets == [0, 0, 1, 1]
        assert sorted(os.path.basename(p) for p, _ in ds.skipped) == ["pipe.png", "zero.png"]


@posix_only
@pytest.mark.parametrize("path", ["/proc", "/dev/zero"])
def test_proc_or_a_device_as_the_image_folder(path, finishes):
    with pytest.raises((DataFileError, FileNotFoundError)):
        finishes(ImageFolder, path)


def test_a_symlink_loop_in_a_class_folder_neither_multiplies_nor_mislabels(tmp_path, finishes):
    root = _images(tmp_path / "imgs", {"a": 6, "b": 6})
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    (root / "a" / "self").symlink_to(root / "a", target_is_directory=True)
    (root / "a" / "to_b").symlink_to(root / "b", target_is_directory=True)
    ds = finishes(ImageFolder, root)
    assert len(ds) == 12 and ds.targets == [0] * 6 + [1] * 6
    assert len({os.path.realpath(p) for p, _ in ds.samples}) == 12


def test_class_folders_that_are_one_folder_are_refused(tmp_path):
    root = _images(tmp_path / "imgs", {"a": 2, "b": 2})
    (root / "c").symlink_to(root / "b", target_is_directory=True)
    with pytest.raises(ImageError, match="'b' and 'c'"):
        ImageFolder(root)
    (root / "c").unlink()
    (root / "up").symlink_to(root, target_is_directory=True)
    with pytest.raises(ImageError, match="links back"):
        ImageFolder(root)


def test_a_class_folder_linked_from_elsewhere_is_used(tmp_path):
    elsewhere = _images(tmp_path / "store", {"cats": 3})
    root = _images(tmp_path / "imgs", {"dogs": 2})
    (root / "cats").symlink_to(elsewhere / "cats", target_is_directory=True)
    ds = ImageFolder(root)
    assert ds.classes == ["cats", "dogs"] and ds.targets == [0, 0, 0, 1, 1]
