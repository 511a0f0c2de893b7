"""End to end on an image folder: `studio new` on 5,000 RGB 32x32 PNGs in 10 classes, then training.

Studio's first run (decoding included), its second run (from the decoded-image cache) and one epoch
are timed against the same project exported as a PyTorch script, run with its own data pipeline.
Each side runs in a fresh process, so that neither warms the other's caches.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = str(Path(__file__).resolve().parents[1])
IMAGES, CLASSES, SIDE = 5000, 10, 32

_STUDIO = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from studio.design.project import load_project
from studio.training.fit import fit
project = load_project(sys.argv[2])
t0 = time.perf_counter()
marks = {}
for ev in fit(project, epochs=2, weights_dir=sys.argv[3]):
    now = time.perf_counter() - t0
    if ev.kind == "start":
        marks["start"] = now
    elif ev.kind == "epoch":
        marks.setdefault("epochs", []).append(now)
    elif ev.kind == "error":
        raise SystemExit(ev.message)
marks["total"] = time.perf_counter() - t0
print(json.dumps(marks))
"""

_TORCH = r"""
import builtins, importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
marks = []
printed = builtins.print
def timed_print(*args, **kwargs):
    if args and str(args[0]).startswith("epoch "):
        marks.append(time.perf_counter() - t0)
    printed(*args, **kwargs)
m.print = timed_print
t0 = time.perf_counter()
m.train(2, sys.argv[2], sys.argv[3])
print(json.dumps({"epochs": marks}))
"""


def make_folder(root: Path) -> Path:
    """5,000 RGB 32x32 PNGs in 10 class folders: coloured noise with a class-dependent tint."""
    from PIL import Image

    rng = np.random.default_rng(0)
    tints = rng.integers(0, 256, (CLASSES, 3))
    for c in range(CLASSES):
        folder = root / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(IMAGES // CLASSES):
            noise = rng.integers(0, 96, (SIDE, SIDE, 3))
            Image.fromarray((noise + tints[c] * 0.6).astype(np.uint8), "RGB").save(folder / f"{i}.png")
    return root


def _run(script, *args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError((res.stderr or res.stdout).strip().splitlines()[-1])
    return json.loads(res.stdout.strip().splitlines()[-1])


def _studio(*argv) -> None:
    """A studio command, its report kept out of the benchmark's table."""
    from studio.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        if main(list(argv)) != 0:
            raise RuntimeError(f"studio {argv[0]} failed on the benchmark folder")


def bench_image_folder(work: Path | None = None) -> list:
    """Rows (label, studio seconds, PyTorch seconds) for the first run, the cached run and one epoch."""
    tmp = Path(work or tempfile.mkdtemp(prefix="studio-bench-images-"))
    try:
        folder = make_folder(tmp / "rgb5000") if not (tmp / "rgb5000").exists() else tmp / "rgb5000"
        project = tmp / "images.studio"
        _studio("new", "--data", str(folder), "-o", str(project), "--force")
        shutil.rmtree(tmp / ".studio-cache", ignore_errors=True)
        first = _run(_STUDIO, ROOT, str(project), str(tmp / "weights"))
        second = _run(_STUDIO, ROOT, str(project), str(tmp / "weights"))
        script = tmp / "images_torch.py"
        _studio("export", str(project), "-o", str(script), "--target", "torch")
        ref = _run(_TORCH, str(script), str(folder), str(tmp / "torch.safetensors"))
    finally:
        if work is None:
            shutil.rmtree(tmp, ignore_errors=True)
    epoch = second["epochs"][1] - second["epochs"][0]
    return [
        ("image folder: first run, decoding + 1 epoch", first["epochs"][0], ref["epochs"][0]),
        ("image folder: second run, from the cache + 1 epoch", second["epochs"][0], ref["epochs"][0]),
        ("image folder: one epoch (3,500 images)", epoch, ref["epochs"][1] - ref["epochs"][0]),
    ]


if __name__ == "__main__":
    for label, ours, theirs in bench_image_folder():
        print(f"{label:58s} {ours:7.2f} s  {theirs:7.2f} s  {ours / theirs:.2f}")
