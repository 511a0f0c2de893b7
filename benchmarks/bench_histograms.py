"""What recording the weights' and gradients' histograms costs a run: the digits CNN template trained
with and without them (median seconds per epoch, alternating runs), and the recording alone per epoch
against PyTorch's torch.histc over the same tensors.

    python -m benchmarks.bench_histograms [--epochs 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

TEMPLATE = "digits_lenet"


def epoch_seconds(histograms: bool, epochs: int, data) -> list[float]:
    """Seconds of each epoch but the first (which warms caches) of one run of the template."""
    from studio.design import load_template
    from studio.training import fit

    project = load_template(TEMPLATE)
    project.training["epochs"] = epochs
    marks = []
    with tempfile.TemporaryDirectory() as folder:
        for ev in fit(project, weights_dir=folder, data=data, histograms=histograms):
            if ev.kind in ("start", "epoch"):
                marks.append(time.perf_counter())
            if ev.kind == "error":
                raise RuntimeError(ev.message)
    return list(np.diff(marks)[1:])


def recording_ms(repeats: int = 20) -> tuple[float, float | None]:
    """Milliseconds to histogram every parameter and gradient of the template once: Studio's recorder,
    and torch.histc over tensors of the same shapes (None without PyTorch)."""
    import studio.core as core
    from studio.design import build, load_template
    from studio.training.histograms import BINS, HistogramRecorder

    design = load_template(TEMPLATE).design
    model = build(design)
    for p in model.parameters():
        p.grad = core.randn(*p.shape)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        HistogramRecorder(model, {}).epoch_end(1)
        times.append(time.perf_counter() - t0)
    studio_ms = statistics.median(times) * 1e3
    try:
        import torch
    except ImportError:
        return studio_ms, None
    torch.set_num_threads(1)  # as Studio's recording (numpy's histogram is single-threaded)
    tensors = [torch.randn(*p.shape) for p in model.parameters() for _ in range(2)]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for t in tensors:
            lo, hi = t.min().item(), t.max().item()
            torch.histc(t, bins=BINS, min=lo, max=hi).tolist()
        times.append(time.perf_counter() - t0)
    return studio_ms, statistics.median(times) * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from studio.design import load_template
    from studio.training.data import prepare_data

    data = prepare_data(load_template(TEMPLATE))
    on, off = [], []
    for _ in range(args.repeats):  # alternating, so that a busy machine weighs on both alike
        off += epoch_seconds(False, args.epochs, data)
        on += epoch_seconds(True, args.epochs, data)
    m_off, m_on = statistics.median(off), statistics.median(on)
    studio_ms, torch_ms = recording_ms()
    print(f"{TEMPLATE}: median seconds per epoch over {len(on)} epochs each")
    print(f"  without histograms  {m_off:.4f} s")
    print(f"  with histograms     {m_on:.4f} s   ({(m_on / m_off - 1) * 100:+.1f}%)")
    line = f"  recording alone     {studio_ms:.2f} ms per epoch (Studio)"
    if torch_ms is not None:
        line += f", {torch_ms:.2f} ms with torch.histc: ratio {studio_ms / torch_ms:.2f}"
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
