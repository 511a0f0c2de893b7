"""Reading PyTorch's .pt files without torch: tensors come back, code in the pickle never runs."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest

from studio.core.torch_checkpoint import CheckpointError, load_torch_file


def test_state_dict_saved_by_pytorch_reads_back_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.GRU(3, 4))
    state = model.state_dict()
    state["strided"] = torch.arange(12.0).reshape(3, 4).t()[1:]
    state["half"] = torch.randn(3).half()
    state["bf16"] = torch.randn(3).to(torch.bfloat16)
    path = tmp_path / "w.pt"
    torch.save(state, path)
    got = load_torch_file(path)
    assert list(got) == list(state)
    for name, t in state.items():
        want = t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
        assert got[name].shape == want.shape and np.array_equal(got[name], want), name
    assert got["1.num_batches_tracked"].dtype == np.int64


def test_checkpoint_dicts_keep_their_plain_values(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "ck.pth"
    torch.save({"epoch": 3, "lr": [0.1, 0.01], "state_dict": {"w": torch.ones(2)}}, path)
    got = load_torch_file(path)
    assert got["epoch"] == 3 and got["lr"] == [0.1, 0.01] and got["state_dict"]["w"].tolist() == [1.0, 1.0]


class _Boom:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


def _zip_with(pkl: bytes, path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")


def test_pickled_code_is_refused_and_never_run(tmp_path, monkeypatch):
    import os

    path = tmp_path / "evil.pt"
    _zip_with(pickle.dumps({"w": _Boom()}, protocol=2), path)
    ran = []
    monkeypatch.setattr(os, "system", lambda cmd: ran.append(cmd))
    with pytest.raises(CheckpointError, match=r"posix\.system|os\.system"):
        load_torch_file(path)
    assert ran == []


def test_whole_pickled_modules_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(CheckpointError, match="torch.nn.modules.linear.Linear.*state_dict"):
        load_torch_file(path)


def test_files_that_are_not_pytorch_archives(tmp_path):
    legacy = tmp_path / "old.pt"
    legacy.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match="not a PyTorch zip archive"):
        load_torch_file(legacy)
    empty = tmp_path / "empty.pt"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("x.txt", "hi")
    with pytest.raises(CheckpointError, match="no single data.pkl"):
        load_torch_file(empty)
    buf = io.BytesIO()
    pickle.dump((1, 2), buf, protocol=2)
    broken = tmp_path / "broken.pt"
    _zip_with(buf.getvalue()[:-3], broken)
    with pytest.raises(CheckpointError):
        load_torch_file(broken)
