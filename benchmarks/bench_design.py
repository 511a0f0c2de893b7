"""Live shape inference: how long re-inferring a 200-node design takes after one parameter change."""

from __future__ import annotations

import statistics
import time

from studio.design import Design


def design_200() -> tuple[Design, list[str]]:
    """A 200-node CNN-and-MLP design with residual merges; returns it and its Linear node ids."""
    d = Design()
    prev = d.add_node("Input", {"shape": (3, 32, 32)}).id
    for _ in range(12):  # convolution blocks with a skip connection: 8 nodes each
        a = d.add_node("Conv2d", {"out_channels": 3, "padding": 1}).id
        d.connect(prev, a)
        b = d.add_node("BatchNorm2d").id
        d.connect(a, b)
        c = d.add_node("ReLU").id
        d.connect(b, c)
        e = d.add_node("Conv2d", {"out_channels": 3, "padding": 1}).id
        d.connect(c, e)
        f = d.add_node("Add").id
        d.connect(e, f, 0, 0)
        d.connect(prev, f, 0, 1)
        g = d.add_node("GELU").id
        d.connect(f, g)
        h = d.add_node("Dropout2d").id
        d.connect(g, h)
        k = d.add_node("Tanh").id
        d.connect(h, k)
        prev = k
    flat = d.add_node("Flatten").id
    d.connect(prev, flat)
    prev = flat
    linears = []
    while len(d.nodes) < 198:
        lin = d.add_node("Linear", {"out_features": 32}).id
        d.connect(prev, lin)
        linears.append(lin)
        act = d.add_node("ReLU").id
        d.connect(lin, act)
        prev = act
    drop = d.add_node("Dropout").id
    d.connect(prev, drop)
    prev = drop
    out = d.add_node("Output", {"task": "regression", "loss": "mse"}).id
    d.connect(prev, out)
    return d, linears


def bench_inference(repeats: int = 50) -> float:
    """Median milliseconds to re-infer the 200-node design after a parameter change (target: under 5 ms)."""
    d, linears = design_200()
    assert len(d.nodes) == 200 and not d.infer().problems
    times = []
    for i in range(repeats + 3):
        d.set_param(linears[i % len(linears)], "out_features", 16 + i % 2)
        t0 = time.perf_counter()
        d.infer()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[3:]) * 1000.0


def chain_project_dict(n: int) -> dict:
    """A project file's content: an n-node chain Input -> (Linear, ReLU)... -> Output, built as JSON."""
    from studio.design.project import new_project

    nodes = [{"id": "n1", "type": "Input", "name": "inputs", "params": {"shape": [4]}, "pos": [0, 0]}]
    for i in range(2, n):
        kind = "Linear" if i % 2 == 0 else "ReLU"
        params = {"out_features": 4} if kind == "Linear" else {}
        nodes.append({"id": f"n{i}", "type": kind, "name": f"layer_{i}", "params": params, "pos": [i, 0]})
    nodes.append({"id": f"n{n}", "type": "Output", "name": "output", "params": {}, "pos": [n, 0]})
    edges = [[f"n{i}", 0, f"n{i + 1}", 0] for i in range(1, n)]
    d = new_project().to_dict()
    d["design"] = {"nodes": nodes, "edges": edges}
    return d


def time_large_project(n: int, folder) -> dict:
    """Seconds to load, infer, `studio info` and export an n-node chain (each step once)."""
    import contextlib
    import io
    import json
    from pathlib import Path

    from studio import cli
    from studio.design.export import export_python
    from studio.design.project import load_project

    path = Path(folder) / f"chain{n}.studio"
    path.write_text(json.dumps(chain_project_dict(n)))
    out = {}
    t0 = time.perf_counter()
    project = load_project(path)
    out["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    problems = project.design.infer().problems
    out["infer"] = time.perf_counter() - t0
    assert not problems, problems[:3]
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        assert cli.main(["info", str(path)]) == 0
        out["info"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    export_python(project)
    out["export"] = time.perf_counter() - t0
    return out


def bench_large_project(n: int = 100_000) -> float:
    """Seconds for the slowest of load, infer, `info` and export of a 100,000-node chain (target: 5 s)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return max(time_large_project(n, folder).values())


if __name__ == "__main__":
    import tempfile

    print(f"200-node design re-inferred in {bench_inference():.2f} ms (median)")
    with tempfile.TemporaryDirectory() as folder:
        for n in (20_000, 100_000):
            t = time_large_project(n, folder)
            print(f"{n:,}-node chain: " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()))
