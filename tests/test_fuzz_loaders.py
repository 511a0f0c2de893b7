"""Property-based fuzzing of the project loader and the CSV reader, on a budget of seconds: whatever the
bytes, the result is a project that works or one clear error naming the file, never an internal error
(KeyError, IndexError, TypeError... flattened into a line) or a traceback. benchmarks/fuzz_report.py
runs the same checks over hundreds of mutated projects and hostile data files, by hand."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio import cli
from studio.core.data.tabular import TabularError, read_csv
from studio.design.datasource import DataError, describe_table
from studio.design.project import ProjectError, load_project, load_template, save_project

INTERNAL = re.compile(r"\b(KeyError|IndexError|TypeError|AttributeError|RecursionError|UnboundLocalError)\b")
BUDGET = settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _clean(message: str) -> None:
    assert message.strip(), "an empty error message"
    assert not INTERNAL.search(message), f"an internal error reached the user: {message}"
    assert "Traceback" not in message


@pytest.fixture(scope="module")
def project_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("seed") / "iris.studio"
    project = load_template("iris_mlp")
    project.runs = []
    save_project(project, path)
    return path.read_bytes()


edits = st.lists(
    st.tuples(
        st.floats(0, 1, exclude_max=True),
        st.sampled_from(["flip", "cut", "insert", "drop"]),
        st.binary(max_size=8),
    ),
    min_size=1,
    max_size=6,
)


def _mutate(raw: bytes, steps) -> bytes:
    data = bytearray(raw)
    for where, how, blob in steps:
        i = int(where * max(len(data), 1))
        if how == "flip" and data:
            data[min(i, len(data) - 1)] ^= 1 << (len(blob) % 8)
        elif how == "cut":
            del data[i:]
        elif how == "insert":
            data[i:i] = blob
        elif how == "drop":
            del data[i : i + 1 + len(blob) * 8]
    return bytes(data)


@BUDGET
@given(edits)
def test_mutated_project_bytes_load_and_work_or_fail_in_one_clean_line(
    tmp_path_factory, project_bytes, steps
):
    path = tmp_path_factory.mktemp("fuzz") / "m.studio"
    path.write_bytes(_mutate(project_bytes, steps))
    try:
        project = load_project(path)
    except ProjectError as e:
        _clean(str(e))
        assert str(e).startswith(f"{path}: ")
        return
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["info", str(path)])
    assert code == 0, err.getvalue()
    project.design.infer()


cell = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["", "NA", "nan", "?", "-", "inf", "1e400", '"', '""', "a,b", "\x00", "é", "🚀", " ", "\\"]
    ),
    st.text(max_size=6),
)


@BUDGET
@given(
    st.lists(st.text(min_size=0, max_size=5), min_size=1, max_size=5),
    st.lists(st.lists(cell, min_size=1, max_size=6), max_size=25),
    st.booleans(),
)
def test_generated_csv_files_are_read_or_refused_in_one_clean_line(tmp_path_factory, header, rows, quote):
    def line(cells):
        if quote:
            return ",".join('"' + c.replace('"', '""') + '"' for c in cells)
        return ",".join(cells)

    path = tmp_path_factory.mktemp("csv") / "t.csv"
    text = "\n".join([line(header)] + [line(r) for r in rows]) + "\n"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        df = read_csv(path)
    except (TabularError, OSError, ValueError) as e:
        _clean(str(e))
        return
    try:
        info = describe_table(df, {"kind": "csv", "path": str(path)}, str(path))
    except DataError as e:
        _clean(str(e))
        return
    assert info["input_shape"][0] >= 1 and info["task"] in ("classification", "regression")
    for problem in info["problems"]:
        _clean(problem)


@BUDGET
@given(st.dictionaries(st.text(max_size=8), st.none() | st.integers() | st.text(max_size=4), max_size=4))
def test_project_files_of_random_json_objects_are_refused_cleanly(tmp_path_factory, d):
    path = tmp_path_factory.mktemp("obj") / "o.studio"
    path.write_text(json.dumps(d))
    try:
        load_project(path)
    except ProjectError as e:
        _clean(str(e))
