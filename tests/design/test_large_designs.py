"""Large designs: loading, shape inference, `studio info` and export grow linearly with the node count.

Growth is measured in Python operations (lines run and calls made), which do not depend on the
machine's speed or load: four times the nodes must cost about four times the operations, where a
check of each node against every other would cost sixteen.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

import pytest

from benchmarks.bench_design import chain_project_dict
from studio import cli
from studio.design.export import export_python
from studio.design.project import load_project


def _operations(fn) -> int:
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        count += 1
        return tracer

    def profiler(frame, event, arg):
        nonlocal count
        if event == "c_call":
            count += 1

    sys.settrace(tracer)
    sys.setprofile(profiler)
    try:
        fn()
    finally:
        sys.settrace(None)
        sys.setprofile(None)
    return count


def _steps(path):
    project = {}

    def load():
        project["p"] = load_project(path)

    def infer():
        assert not project["p"].design.infer().problems

    def info():
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(["info", str(path)]) == 0

    def export():
        export_python(project["p"])

    return {"load": load, "infer": infer, "info": info, "export": export}


@pytest.mark.parametrize("step", ["load", "infer", "info", "export"])
def test_work_grows_linearly_with_the_number_of_nodes(tmp_path, step):
    counts = {}
    for n in (400, 1600):
        path = tmp_path / f"chain{n}.studio"
        path.write_text(json.dumps(chain_project_dict(n)))
        steps = _steps(path)
        if step != "load":
            steps["load"]()
        counts[n] = _operations(steps[step])
    ratio = counts[1600] / counts[400]
    assert ratio < 5.0, f"{step}: 4x the nodes took {ratio:.1f}x the operations ({counts})"


def test_a_long_chain_loads_and_infers(tmp_path):
    path = tmp_path / "chain.studio"
    path.write_text(json.dumps(chain_project_dict(5000)))
    project = load_project(path)
    inference = project.design.infer()
    assert not inference.problems and len(inference.order) == 5000
