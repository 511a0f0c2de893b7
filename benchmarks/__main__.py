"""`python -m benchmarks`: the engine and app workloads, Studio against PyTorch CPU, as one table."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from . import harness, workloads

ROOT = str(Path(__file__).resolve().parents[1])


def _torch():
    try:
        import torch

        return torch
    except ImportError:
        return None


_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _pin_threads(threads: int, argv, module: str = "benchmarks") -> None:
    """Restart `module` with every BLAS and OpenMP pool at `threads`: numpy's pool is sized when it
    loads."""
    if all(os.environ.get(v) == str(threads) for v in _THREAD_VARS):
        return
    env = dict(os.environ, **{v: str(threads) for v in _THREAD_VARS})
    args = list(sys.argv[1:] if argv is None else argv)
    os.execve(sys.executable, [sys.executable, "-m", module, *args], env)


def _thread_note(torch) -> str:
    blas = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    note = f"threads: numpy BLAS {blas or f'default ({os.cpu_count()} cores)'}"
    if torch is not None:
        note += f", PyTorch {torch.get_num_threads()}"
    return note


def _row(cells, widths):
    return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))


def engine_rows(torch, only=None, scale=1.0):
    import studio.core as sc

    rows = []
    for name, make, target, repeats, *options in workloads.ENGINE_WORKLOADS:
        if only and only not in name:
            continue
        steps = {"studio": make(sc)}
        if torch is not None:
            steps["torch"] = make(torch)
        opts = options[0] if options else {}
        med = harness.interleaved(steps, max(opts.get("block", 5), int(repeats * scale)), **opts)
        ratio = med["studio"] / med["torch"] if torch is not None else None
        rows.append((name, med["studio"], med.get("torch"), ratio, target))
        if make is workloads.make_mlp:
            lim = harness.interleaved(
                {"studio": make(sc), "numpy": workloads.make_numpy_limit()}, max(5, int(repeats * scale))
            )
            rows.append(
                (
                    "  same MLP against the numpy limit",
                    lim["studio"],
                    lim["numpy"],
                    lim["studio"] / lim["numpy"],
                    1.1,
                )
            )
    return rows


# the first run decodes in parallel where the reference decodes in one thread; the second starts
# from the decoded-image cache; an epoch is the engine and the batching alone
IMAGE_TARGETS = {
    "image folder: first run, decoding + 1 epoch": 0.8,
    "image folder: second run, from the cache + 1 epoch": 0.6,
    "image folder: one epoch (3,500 images)": 0.8,
}


def image_rows():
    """End-to-end rows on a generated image folder (see bench_images)."""
    from .bench_images import bench_image_folder

    return bench_image_folder()


def app_rows():
    """The app's own figures, from the benchmark modules that measure them."""
    rows = []
    probes = [
        ("bench_design", "bench_inference", "shape inference, 200-node design", "ms", 5.0, "max"),
        (
            "bench_design",
            "bench_large_project",
            "load, infer, info or export a 100,000-node chain (slowest)",
            "s",
            5.0,
            "max",
        ),
        ("bench_canvas", "bench_drag", "canvas drag with 300 nodes", "fps", 30.0, "min"),
        ("bench_app", "bench_startup", "start to window shown", "s", 1.5, "max"),
        (
            "bench_app",
            "bench_curve_append",
            "append 1,000 points to a 100,000-point curve",
            "ms",
            16.0,
            "max",
        ),
        ("bench_app", "bench_graph_layout", "lay out a 2,000-node computation graph", "s", 1.0, "max"),
        (
            "bench_app",
            "bench_gui_stall",
            "GUI event-loop stall (p99) while the Digits CNN trains",
            "ms",
            50.0,
            "max",
        ),
        (
            "bench_app",
            "bench_sweep_stall",
            "GUI event-loop stall (p99) while a 6-trial sweep runs, 2 jobs",
            "ms",
            50.0,
            "max",
        ),
        ("bench_app", "bench_stop_latency", "Stop to the end of a run (Digits CNN)", "s", 1.0, "max"),
        (
            "bench_app",
            "bench_preview_latency",
            "digits data chosen to the conv layer's preview painted",
            "s",
            1.0,
            "max",
        ),
        (
            "bench_app",
            "bench_preview_stall",
            "GUI event-loop stall (p99) while previews are computed",
            "ms",
            50.0,
            "max",
        ),
        (
            "bench_app",
            "bench_training_overhead",
            "training slowed by the live curves and progress",
            "%",
            5.0,
            "max",
        ),
    ]
    for module, fn, label, unit, target, kind in probes:
        try:
            mod = importlib.import_module(f"benchmarks.{module}")
            func = getattr(mod, fn)
        except (ImportError, AttributeError):
            continue
        value = func()
        ok = value <= target if kind == "max" else value >= target
        rows.append(
            (
                label,
                f"{value:.2f} {unit}",
                f"{'<=' if kind == 'max' else '>='} {target} {unit}",
                "yes" if ok else "NO",
            )
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__, allow_abbrev=False)
    parser.add_argument("--only", help="run only workloads whose name contains this text")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a rough figure)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory run")
    parser.add_argument("--no-app", action="store_true", help="skip the app's own benchmarks")
    parser.add_argument(
        "--no-images", action="store_true", help="skip the end-to-end image-folder runs (about a minute)"
    )
    parser.add_argument(
        "--no-compress", action="store_true", help="skip pruning, quantization, autocast and checkpointing"
    )
    parser.add_argument(
        "--threads", type=int, help="threads for both libraries' math (default: each library's own choice)"
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        _pin_threads(args.threads, argv)
    torch = _torch()
    if torch is None:
        print("PyTorch is not installed: Studio figures only (pip install torch==2.13.0 to compare).\n")
    else:
        if args.threads is not None:
            torch.set_num_threads(args.threads)
    print(_thread_note(torch) + "\n")
    rows = engine_rows(torch, args.only, 0.25 if args.quick else 1.0)
    widths = (58, 11, 11, 7, 7, 4)
    print(_row(("workload", "studio", "reference", "ratio", "target", "met"), widths))
    print(_row(("-" * 58, "-" * 11, "-" * 11, "-" * 7, "-" * 7, "-" * 4), widths))
    for name, s, t, ratio, target in rows:
        print(
            _row(
                (
                    name,
                    harness.fmt_time(s),
                    harness.fmt_time(t) if t is not None else "-",
                    f"{ratio:.2f}" if ratio is not None else "-",
                    f"<= {target}",
                    ("yes" if ratio <= target else "NO") if ratio is not None else "-",
                ),
                widths,
            )
        )
    if torch is not None and not args.no_images and (not args.only or args.only in "image folder"):
        for name, s, t in image_rows():
            ratio = s / t if t else None
            target = IMAGE_TARGETS.get(name)
            met = ("yes" if ratio <= target else "NO") if ratio is not None and target else "-"
            cells = (name, harness.fmt_time(s), harness.fmt_time(t), f"{ratio:.2f}", f"<= {target}", met)
            print(_row(cells, widths))
    if not args.no_memory and not args.only:
        studio_kb = harness.peak_memory_kb("studio.core", ROOT)
        line = ["peak memory of the CNN run", f"{studio_kb / 1024:.1f} MiB"]
        if torch is not None:
            torch_kb = harness.peak_memory_kb("torch", ROOT)
            ratio = studio_kb / max(torch_kb, 1)
            line += [f"{torch_kb / 1024:.1f} MiB", f"{ratio:.2f}", "<= 1.5", "yes" if ratio <= 1.5 else "NO"]
        else:
            line += ["-", "-", "<= 1.5", "-"]
        print(_row(line, widths))
    if not args.no_compress and (not args.only or args.only in "compress"):
        from . import bench_compress

        print(
            "\ncompression and memory (size: times smaller on disk; peak: training-step peak against "
            "the plain step;\nratio: time against float32; PyTorch: its ratio for the same technique)"
        )
        bench_compress.print_rows(bench_compress.compress_rows(torch, args.quick), _row)
    if not args.no_app and not args.only:
        rows = app_rows()
        if rows:
            print()
            w2 = (58, 14, 16, 4)
            print(_row(("app", "measured", "target", "met"), w2))
            print(_row(("-" * 58, "-" * 14, "-" * 16, "-" * 4), w2))
            for r in rows:
                print(_row(r, w2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
