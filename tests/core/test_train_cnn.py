"""Acceptance: a small CNN learns the 8x8 digits, and the same model code runs on PyTorch by changing
its import, trains to the same accuracy, and PyTorch loads the weights Studio saved."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core.data.samples import load_sample


def _digits():
    ds = load_sample("digits")
    x, y = ds.tensors[0].numpy(), ds.tensors[1].numpy()
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    n = int(0.8 * len(x))
    return (x[:n], y[:n]), (x[n:], y[n:])


def make_net(lib):
    """Written once against PyTorch's API; `lib` is studio.core or torch."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def train(lib, epochs=6, seed=0):
    lib.manual_seed(seed)
    (xtr, ytr), (xte, yte) = _digits()
    model = make_net(lib)
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = lib.nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(xtr))
        for start in range(0, len(xtr), 64):
            idx = order[start : start + 64]
            opt.zero_grad()
            loss = loss_fn(model(lib.tensor(xtr[idx])), lib.tensor(ytr[idx]))
            loss.backward()
            opt.step()
    model.eval()
    with lib.no_grad():
        pred = model(lib.tensor(xte)).argmax(1).numpy()
    return model, float((pred == yte).mean()), xte


def test_small_cnn_learns_the_digits():
    _, acc, _ = train(sc)
    assert acc >= 0.95


def test_the_same_code_trains_alike_on_pytorch_and_pytorch_loads_the_weights(torch, tmp_path):
    from safetensors.torch import load_file

    model, acc, xte = train(sc)
    _, torch_acc, _ = train(torch)
    assert acc >= 0.95 and torch_acc >= 0.95
    assert abs(acc - torch_acc) < 0.03
    path = tmp_path / "digits.safetensors"
    sc.save(model.state_dict(), path)
    twin = make_net(torch)
    twin.load_state_dict(load_file(str(path)))
    twin.eval()
    with torch.no_grad():
        theirs = twin(torch.tensor(xte[:64])).numpy()
    with sc.no_grad():
        ours = model(sc.tensor(xte[:64])).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bad", [(8, 5)])
def test_a_layer_fed_the_wrong_shape_says_which(bad):
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=4\) got input of shape \(8, 5\)"):
        sc.nn.Linear(4, 2)(sc.zeros(*bad))
