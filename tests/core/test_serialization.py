"""save/load: state dicts and checkpoints round-trip exactly through safetensors; bad files fail clearly."""

from __future__ import annotations

import io
import json
import math
import os

import numpy as np
import pytest

import studio.core as sc
from studio.core.serialization import load, save


def _state():
    return {
        "fc.weight": sc.randn(3, 4),
        "fc.bias": sc.randn(3),
        "bn.num_batches_tracked": sc.tensor(7),
        "mask": sc.tensor([True, False]),
        "half": sc.randn(2).half(),
    }


def _same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, sc.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a.numpy(), b.numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def test_state_dict_round_trip(tmp_path):
    state = _state()
    path = tmp_path / "weights.safetensors"
    save(state, path)
    back = load(path)
    _same(state, back)
    assert not back["fc.weight"].requires_grad
    back["fc.weight"].add_(1)  # loaded tensors own writable memory
    assert os.listdir(tmp_path) == ["weights.safetensors"]  # no temporary file left behind


def test_state_dict_loads_in_pytorch(torch, tmp_path):
    from safetensors.torch import load_file

    state = _state()
    path = tmp_path / "w.safetensors"
    save(state, str(path))
    loaded = load_file(str(path))
    assert set(loaded) == set(state)
    for k, v in state.items():
        assert str(loaded[k].dtype).split(".")[-1] == v.dtype.name
        np.testing.assert_array_equal(loaded[k].numpy(), v.numpy())


def test_loads_plain_safetensors_written_by_others(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, str(path))
    back = load(path)
    assert list(back) == ["a"] and back["a"].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_checkpoint_round_trip(tmp_path):
    w = sc.randn(2, 2)
    optimizer = {
        "state": {0: {"step": sc.tensor(3.0), "exp_avg": sc.randn(2, 2), "exp_avg_sq": sc.randn(2, 2)}},
        "param_groups": [
            {
                "lr": 0.001,
                "betas": (0.9, 0.999),
                "eps": 1e-08,
                "weight_decay": 0,
                "amsgrad": False,
                "maximize": False,
                "foreach": None,
                "params": [0, 1],
            }
        ],
    }
    checkpoint = {
        "model": {"w": w, "tied": w},
        "optimizer": optimizer,
        "scheduler": {"last_epoch": 4, "_last_lr": [0.0005], "milestones": {2: 1, 4: 1}},
        "epoch": 4,
        "metadata": {
            "name": "run 1",
            "loss": 0.1 + 0.2,
            "best": float("inf"),
            "nan": float("nan"),
            "dtype": sc.float32,
            "shape": (2, 2),
            "none": None,
            "nested": [[1, 2], {"a": []}],
        },
        "array": np.arange(3),
        "flags": [np.bool_(True), np.int32(3), np.float32(0.5)],
        "__tensor__": "a key that looks like a tag",
    }
    path = tmp_path / "ckpt.safetensors"
    save(checkpoint, path)
    back = load(path)
    assert back.pop("flags") == [True, 3, 0.5]  # numpy scalars come back as Python numbers
    checkpoint.pop("flags")
    _same(checkpoint, back)
    assert back["model"]["w"] is back["model"]["tied"]
    assert list(back["optimizer"]["state"]) == [0]
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["metadata"]["loss"] == 0.1 + 0.2  # floats round-trip bit for bit


def test_requires_grad_is_kept(tmp_path):
    p = sc.randn(3, requires_grad=True)
    save({"p": p}, tmp_path / "p.safetensors")
    assert load(tmp_path / "p.safetensors")["p"].requires_grad


def test_file_objects_and_map_location(tmp_path):
    buf = io.BytesIO()
    save({"x": sc.arange(4)}, buf)
    buf.seek(0)
    assert load(buf, map_location="cpu")["x"].tolist() == [0, 1, 2, 3]
    save({"x": sc.ones(2)}, tmp_path / "m.safetensors")
    assert load(tmp_path / "m.safetensors", map_location={"cpu": "cpu"})["x"].device == sc.device("cpu")
    assert load(tmp_path / "m.safetensors", map_location=lambda d: "cpu")["x"].tolist() == [1.0, 1.0]


def test_atomic_save_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "keep.safetensors"
    save({"x": sc.ones(2)}, path)
    with pytest.raises(TypeError, match="cannot store an object of type dict: it holds something"):
        save({"x": sc.zeros(2), "bad": lambda: 0}, path)
    assert load(path)["x"].tolist() == [1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == ["keep.safetensors"]


def test_data_is_never_pickled_and_objects_load_only_when_trusted(tmp_path):
    from safetensors.numpy import load_file

    model = sc.nn.Sequential(sc.nn.Linear(2, 3), sc.nn.ReLU(), sc.nn.BatchNorm1d(3))
    save({"model": model.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    assert set(load_file(str(tmp_path / "ckpt.pt"))) == {
        "model.0.weight",
        "model.0.bias",
        "model.2.weight",
        "model.2.bias",
        "model.2.running_mean",
        "model.2.running_var",
        "model.2.num_batches_tracked",
    }
    save(model, tmp_path / "whole.pt")  # a whole module is pickled, as PyTorch does
    with pytest.raises(RuntimeError, match="whole.pt' holds pickled Python objects.*weights_only=False"):
        load(tmp_path / "whole.pt")
    again = load(tmp_path / "whole.pt", weights_only=False)
    x = sc.randn(4, 2)
    model.eval(), again.eval()
    np.testing.assert_array_equal(again(x).detach().numpy(), model(x).detach().numpy())
    assert isinstance(again[0].weight, sc.nn.Parameter) and len(list(again.parameters())) == 4
    save({frozenset(): 1}, tmp_path / "k.pt")
    assert load(tmp_path / "k.pt", weights_only=False) == {frozenset(): 1}


@pytest.mark.parametrize("damage", ["truncate_header", "truncate_data", "garbage", "empty", "bad_json"])
def test_corrupt_files_name_the_file(tmp_path, damage):
    path = tmp_path / "bad.safetensors"
    save({"x": sc.randn(64)}, path)
    data = path.read_bytes()
    if damage == "truncate_header":
        data = data[:20]
    elif damage == "truncate_data":
        data = data[:-10]
    elif damage == "garbage":
        data = b"\x13" * 100
    elif damage == "empty":
        data = b""
    else:
        n = int.from_bytes(data[:8], "little")
        data = data[:8] + b"{" * n + data[8 + n :]
    path.write_bytes(data)
    with pytest.raises(RuntimeError, match="bad.safetensors"):
        load(path)


def test_newer_format_is_refused(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "new.safetensors"
    meta = {"studio": json.dumps({"version": 99, "structure": {}})}
    save_file({"a": np.zeros(1, np.float32)}, str(path), metadata=meta)
    with pytest.raises(RuntimeError, match="newer studio \\(format 99\\)"):
        load(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        load("/nonexistent/dir/x.safetensors")
