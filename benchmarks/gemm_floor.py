"""`python -m benchmarks.gemm_floor`: how much of each engine workload is matrix products, and how
fast the same products run in numpy's BLAS and in PyTorch's.

For each workload, one Studio step is recorded: every product it makes (`studio.core.backend.matmul`,
the one door all of the engine's products on numpy go through) is kept with its operands. Those exact
products are then replayed alone, in numpy and in PyTorch, interleaved. Columns:

  studio, torch   a training step, median (as in `python -m benchmarks`)
  gemm np         the step's products alone, in numpy: what Studio's step cannot go below
  gemm torch      the same products in PyTorch
  ratio           studio / torch
  floor           gemm np / torch: the ratio of a Studio step that spent no time outside its products
  at torch gemm   (studio - gemm np + gemm torch) / torch: Studio's ratio if numpy's products ran at
                  PyTorch's speed, everything else unchanged

A target below `floor` cannot be met by work outside the products.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import harness, workloads
from .__main__ import _pin_threads, _row, _thread_note, _torch


def _recorded_products(step):
    """The operands of every product one call of `step` makes, copied in their layouts."""
    from studio.core import backend

    calls = []
    plain = backend.matmul

    def recording(a, b, out=None):
        if type(a) is np.ndarray and type(b) is np.ndarray:
            calls.append((a.copy(order="K"), b.copy(order="K"), out is not None))
        return plain(a, b, out=out)

    backend.matmul = recording
    try:
        step()
    finally:
        backend.matmul = plain
    return calls


def _replays(calls, torch):
    # products Studio writes into its own buffers are replayed into buffers made beforehand
    outs = [np.matmul(a, b) if into else None for a, b, into in calls]

    def numpy_products():
        for (a, b, _), out in zip(calls, outs):
            np.matmul(a, b, out=out)

    steps = {"gemm np": numpy_products}
    if torch is not None:
        pairs = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b, _ in calls]

        def torch_products():
            for a, b in pairs:
                torch.matmul(a, b)

        steps["gemm torch"] = torch_products
    return steps


def rows(torch, only=None):
    import studio.core as sc

    out = []
    for name, make, target, repeats, *options in workloads.ENGINE_WORKLOADS:
        if (only and only not in name) or options:  # whole trainings (options) are not one step
            continue
        studio_step = make(sc)
        for _ in range(3):
            studio_step()
        steps = {"studio": studio_step, **_replays(_recorded_products(studio_step), torch)}
        if torch is not None:
            steps["torch"] = make(torch)
        med = harness.interleaved(steps, repeats)
        out.append((name, target, med))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gemm_floor", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--only", help="run only workloads whose name contains this text")
    parser.add_argument("--threads", type=int, default=1, help="threads for both libraries' math (default 1)")
    args = parser.parse_args(argv)
    _pin_threads(args.threads, argv, module="benchmarks.gemm_floor")
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(_thread_note(torch) + "\n")
    fmt = harness.fmt_time
    widths = (58, 10, 10, 10, 10, 6, 6, 13, 7)
    head = (
        "workload",
        "studio",
        "gemm np",
        "torch",
        "gemm torch",
        "ratio",
        "floor",
        "at torch gemm",
        "target",
    )
    print(_row(head, widths))
    print(_row(["-" * w for w in widths], widths))
    for name, target, med in rows(torch, args.only):
        s, g = med["studio"], med["gemm np"]
        t, gt = med.get("torch"), med.get("gemm torch")
        cells = [name, fmt(s), fmt(g)]
        if t is None:
            cells += ["-"] * 5
        else:
            cells += [fmt(t), fmt(gt), f"{s / t:.2f}", f"{g / t:.2f}", f"{(s - g + gt) / t:.2f}"]
        print(_row(cells + [f"<= {target}"], widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
