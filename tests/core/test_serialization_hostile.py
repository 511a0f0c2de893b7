"""The weights loader against hostile files: every failure is one clear error naming the file, at once.

Pipes, devices, folders, truncated files, huge header lengths, crafted metadata and tampered bytes
are refused; a fuzz test mutates real files (bytes, header, metadata, also with re-computed
checksums) and accepts only a clean error or a correct load.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import random
import struct

import numpy as np
import pytest
from conftest import _finishes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import studio.core as sc
from studio.core.serialization import load, load_with_metadata, save


def _checkpoint():
    w = sc.randn(3, 4)
    return {
        "model": {"fc.weight": w, "fc.bias": sc.randn(3), "steps": sc.tensor(7), "tied": w},
        "optimizer": {"state": {0: {"m": sc.zeros(2)}}, "lr": 0.01, "betas": (0.9, 0.999)},
        "best": float("inf"),
        "dtype": sc.float16,
        "mask": np.array([True, False]),
    }


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, sc.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.numpy(), b.numpy())
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _clean(err: BaseException, path) -> bool:
    """One line that names the file: what the user sees when a weights file cannot be read."""
    text = str(err)
    return isinstance(err, RuntimeError | OSError) and str(path) in text and "\n" not in text


def _load_soon(path) -> dict:
    """{"value": ...} or {"error": ...} of loading `path`; a loader that blocks (on a pipe, a device)
    fails the test instead of hanging it."""
    try:
        return {"value": _finishes(load, path, limit=10.0)}
    except AssertionError:
        raise
    except BaseException as e:  # noqa: BLE001 - the test inspects whatever happened
        return {"error": e}


# ---------------------------------------------------------------------------------------------------
# Paths that are not weights files
# ---------------------------------------------------------------------------------------------------


def test_a_named_pipe_is_refused_at_once(tmp_path):
    fifo = tmp_path / "weights.safetensors"
    os.mkfifo(fifo)
    try:
        out = _load_soon(fifo)
    finally:  # unblock a loader stuck on the pipe, if any
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert _clean(out["error"], fifo) and "named pipe" in str(out["error"])


def test_a_link_to_a_pipe_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "w.safetensors").symlink_to(tmp_path / "pipe")
    out = _load_soon(tmp_path / "w.safetensors")
    assert _clean(out["error"], tmp_path / "w.safetensors")


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null", "/proc/self/status"])
def test_devices_and_proc_files_are_refused(path):
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    out = _load_soon(path)
    assert _clean(out["error"], path), out


def test_a_folder_is_refused(tmp_path):
    out = _load_soon(tmp_path)
    assert _clean(out["error"], tmp_path) and "folder" in str(out["error"])


def test_a_missing_file_is_file_not_found_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        load(tmp_path / "nothing.safetensors")


# ---------------------------------------------------------------------------------------------------
# Crafted files
# ---------------------------------------------------------------------------------------------------


def _file(header: dict, body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def _studio_meta(doc) -> dict:
    text = json.dumps(doc) if not isinstance(doc, str) else doc
    return {"studio": text, "studio.sha256": hashlib.sha256(text.encode()).hexdigest()}


def _x(n=4):
    return {"x": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}


def _deep(depth):
    node = "leaf"
    for _ in range(depth):
        node = {"a": node}
    return node


def _deep_text(depth):
    return '{"a": ' * depth + '"leaf"' + "}" * depth


CRAFTED = {
    "huge header length": struct.pack("<Q", 2**63) + b"{}",
    "header longer than the file": struct.pack("<Q", 1000) + b"{}",
    "length only": struct.pack("<Q", 0),
    "header is a list": _file([1, 2]),  # type: ignore[arg-type]
    "metadata is a list": _file({"__metadata__": [1]}),
    "metadata value is a number": _file({"__metadata__": {"studio": 5}}),
    "tensor description is a number": _file({"x": 5}),
    "unknown dtype": _file({"x": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
    "unsupported dtype": _file({"x": {"dtype": "U32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
    "negative shape": _file({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4)),
    "shape of texts": _file({"x": {"dtype": "F32", "shape": ["a"], "data_offsets": [0, 4]}}, bytes(4)),
    "huge shape": _file({"x": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 4]}}, bytes(4)),
    "offsets reversed": _file({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, bytes(4)),
    "offsets past the end": _file({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}),
    "offsets of a dict": _file({"x": {"dtype": "F32", "shape": [1], "data_offsets": {"a": 1}}}, bytes(4)),
    "size not the shape's": _file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4)),
    "studio metadata not JSON": _file({"__metadata__": {"studio": "{"}, **_x()}, bytes(16)),
    "studio metadata a list": _file({"__metadata__": {"studio": "[]"}, **_x()}, bytes(16)),
    "version a text": _file(
        {"__metadata__": {"studio": json.dumps({"version": "1", "structure": {}})}, **_x()}, bytes(16)
    ),
    "tensor name a list": _file(
        {"__metadata__": {"studio": json.dumps({"version": 1, "structure": {"__tensor__": [1]}})}, **_x()},
        bytes(16),
    ),
    "dict pairs a number": _file(
        {"__metadata__": {"studio": json.dumps({"version": 1, "structure": {"__dict__": 5}})}}
    ),
    "dict key a dict": _file(
        {"__metadata__": {"studio": json.dumps({"version": 1, "structure": {"__dict__": [[{}, 1]]}})}}
    ),
    "float a list": _file(
        {"__metadata__": {"studio": json.dumps({"version": 1, "structure": {"__float__": []}})}}
    ),
    "dtype unknown": _file(
        {"__metadata__": {"studio": json.dumps({"version": 1, "structure": {"__dtype__": 7}})}}
    ),
    "tuple a dict": _file(
        {"__metadata__": {"studio": json.dumps({"version": 1, "structure": {"__tuple__": {}}})}}
    ),
    "device a number": _file(
        {
            "__metadata__": {
                "studio": json.dumps({"version": 1, "structure": {"__tensor__": "x", "device": 3}})
            },
            **_x(),
        },
        bytes(16),
    ),
    "integer tensor with a gradient": _file(
        {
            "__metadata__": {
                "studio": json.dumps({"version": 1, "structure": {"__tensor__": "x", "requires_grad": True}})
            },
            "x": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]},
        },
        bytes(4),
    ),
    "structure nested 5,000 deep": _file(
        {"__metadata__": {"studio": '{"version": 1, "structure": ' + _deep_text(5000) + "}"}}
    ),
    "structure nested 500 deep": _file(
        {"__metadata__": {"studio": '{"version": 1, "structure": ' + _deep_text(500) + "}"}}
    ),
    "checksums a list": _file({"__metadata__": _studio_meta({"version": 1, "structure": {}, "tensors": []})}),
    "checksum of the metadata missing": _file(
        {"__metadata__": {"studio": json.dumps({"version": 1, "structure": {}, "tensors": {}})}}
    ),
    "user metadata a number": _file(
        {"__metadata__": _studio_meta({"version": 1, "structure": {}, "tensors": {}, "metadata": 3})}
    ),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_files_are_one_clear_error(tmp_path, case):
    path = tmp_path / "crafted.safetensors"
    path.write_bytes(CRAFTED[case])
    out = _load_soon(path)
    assert "error" in out, f"{case}: loaded {out.get('value')!r}"
    assert _clean(out["error"], path), f"{case}: {type(out['error']).__name__}: {out['error']}"


def test_a_flipped_byte_in_a_tensor_is_refused_naming_the_tensor(tmp_path):
    path = tmp_path / "w.safetensors"
    save({"fc.weight": sc.randn(8, 8), "fc.bias": sc.randn(8)}, path)
    data = bytearray(path.read_bytes())
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    start = 8 + n + header["fc.bias"]["data_offsets"][0]
    data[start + 5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match=r"w\.safetensors.*'fc\.bias' do not match their checksum"):
        load(path)


def test_a_changed_dtype_with_the_same_bytes_is_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    save({"x": sc.arange(4, dtype=sc.float32)}, path)
    data = path.read_bytes().replace(b'"dtype":"F32"', b'"dtype":"I32"')
    path.write_bytes(data)
    with pytest.raises(RuntimeError, match="'x' is I32 \\[4\\] in the file but was written as F32"):
        load(path)


def test_files_without_checksums_still_load(tmp_path):
    """Files written before checksums, and other writers' files, load as they are."""
    from safetensors.numpy import save_file

    old = tmp_path / "old.safetensors"
    doc = {"version": 1, "structure": {"w": {"__tensor__": "w"}, "epoch": 3}}
    save_file({"w": np.ones(2, np.float32)}, str(old), metadata={"studio": json.dumps(doc)})
    assert load(old)["epoch"] == 3 and load(old)["w"].tolist() == [1.0, 1.0]
    other = tmp_path / "other.safetensors"
    save_file({"a": np.arange(3, dtype=np.int64)}, str(other))
    assert load(other)["a"].tolist() == [0, 1, 2]


def test_metadata_round_trips_and_is_covered_by_the_checksum(tmp_path):
    path = tmp_path / "w.safetensors"
    save({"x": sc.ones(2)}, path, metadata={"design": "Iris MLP 🚀"})
    obj, meta = load_with_metadata(path)
    assert meta == {"design": "Iris MLP 🚀"} and obj["x"].tolist() == [1.0, 1.0]
    path.write_bytes(path.read_bytes().replace(b"Iris", b"Iric"))
    with pytest.raises(RuntimeError, match="metadata does not match its checksum"):
        load(path)


# ---------------------------------------------------------------------------------------------------
# Fuzzing: mutated real files
# ---------------------------------------------------------------------------------------------------


def _split(data: bytes):
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _join(header, body) -> bytes:
    return _file(header, body)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(node, at=()):
    """Every place in a JSON value, as key paths."""
    yield at
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*at, i))


def _replace(node, path, value):
    if not path:
        return value
    node[path[0]] = _replace(node[path[0]], path[1:], value)
    return node


def mutate(data: bytes, rng: random.Random, value=None) -> tuple[bytes, bool]:
    """One random mutation of a weights file; True when the mutation also re-signed the metadata."""
    kind = rng.choice(["flip", "span", "truncate", "insert", "length", "header", "doc", "doc-resigned"])
    b = bytearray(data)
    if kind == "flip":
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    elif kind == "span":
        i = rng.randrange(len(b))
        b[i : i + rng.randint(1, 16)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == "truncate":
        del b[rng.randrange(len(b)) :]
    elif kind == "insert":
        i = rng.randrange(len(b))
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == "length":
        b[:8] = struct.pack("<Q", rng.choice([0, 1, 2**63 - 1, 2**64 - 1, rng.randrange(2**32)]))
    else:
        header, body = _split(data)
        if kind == "header":
            where = rng.choice(list(_paths(header))[1:])
            header = _replace(header, list(where), value)
        else:
            doc = json.loads(header["__metadata__"]["studio"])
            where = rng.choice(list(_paths(doc)))
            doc = _replace(doc, list(where), value)
            meta = _studio_meta(doc)
            if kind == "doc":
                meta["studio.sha256"] = header["__metadata__"]["studio.sha256"]
            header["__metadata__"].update(meta)
        return _join(header, body), kind == "doc-resigned"
    return bytes(b), False


def _flat(data: bytes) -> dict:
    from safetensors.numpy import load as st_load

    return st_load(data)


def outcome(path, original, resigned) -> str:
    """How the loader took a mutated file.

    'refused': a clean error; 'same': loaded, equal to what was saved; 'changed': loaded what a
    re-signed file says; 'stripped': the metadata was replaced, so the file reads as another
    writer's flat file of the same, intact tensors; 'bad: ...': anything else (an internal error,
    or a changed file that loaded without a word).
    """
    out = _load_soon(path)
    if "error" in out:
        err = out["error"]
        return "refused" if _clean(err, path) else f"bad: {type(err).__name__}: {err}"
    value = out["value"]
    if _same(value, original):
        return "same"
    if resigned:
        return "changed"
    header, _ = _split(path.read_bytes())
    if "studio" not in (header.get("__metadata__") or {}):
        flat = _flat(ORIGINAL_BYTES[0])
        if sorted(value) == sorted(flat) and all(np.array_equal(value[k].numpy(), flat[k]) for k in flat):
            return "stripped"
    return "bad: a changed file loaded without an error"


ORIGINAL_BYTES: list = []


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "original.safetensors"
    obj = _checkpoint()
    save(obj, path)
    ORIGINAL_BYTES[:] = [path.read_bytes()]
    return path.read_bytes(), obj


def run_mutations(data, original, folder, count, seed=0) -> collections.Counter:
    """Outcomes of `count` seeded mutations of `data` (the closing counts of the fuzz run)."""
    rng = random.Random(seed)
    values = [None, True, 0, -1, 2**64, 1.5, "", "x", "F32", [], [0, 4], {}, {"__tensor__": "x"}, _deep(300)]
    counts = collections.Counter()
    for i in range(count):
        mutated, resigned = mutate(data, rng, rng.choice(values))
        path = folder / f"m{i % 10}.safetensors"
        path.write_bytes(mutated)
        counts[outcome(path, original, resigned)] += 1
    return counts


def test_hundreds_of_mutations_give_only_clean_errors_or_correct_loads(saved, tmp_path):
    data, original = saved
    counts = run_mutations(data, original, tmp_path, 400, seed=10)
    bad = {k: v for k, v in counts.items() if k.startswith("bad")}
    assert not bad, bad
    assert counts["refused"] > 200 and counts["same"] > 0


@settings(
    max_examples=int(os.environ.get("STUDIO_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), value=JSON_VALUES)
def test_fuzzed_weights_files_load_correctly_or_fail_clearly(saved, tmp_path, seed, value):
    data, original = saved
    mutated, resigned = mutate(data, random.Random(seed), value)
    path = tmp_path / "fuzzed.safetensors"
    path.write_bytes(mutated)
    result = outcome(path, original, resigned)
    assert not result.startswith("bad"), result
