"""The engine workloads, written once against PyTorch's API and run with either library.

Each `make_*` takes the library module (`studio.core` or `torch`) and returns a no-argument step
function; building models and data happens outside the timed step.
"""

from __future__ import annotations

import numpy as np


def _data(lib, shape, seed=0, kind="float"):
    rng = np.random.default_rng(seed)
    if kind == "float":
        return lib.tensor(rng.standard_normal(shape).astype(np.float32))
    return lib.tensor(rng.integers(0, kind, shape).astype(np.int64))


def make_micro(lib):
    x = lib.randn(16, requires_grad=True)

    def step():
        (x * 2 + 1).sum().backward()

    return step


def _train_step(lib, model, opt, x, y, loss_fn):
    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def make_tiny_mlp(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    return _train_step(lib, model, opt, _data(lib, (32, 4)), _data(lib, (32,), kind=3), nn.CrossEntropyLoss())


def make_mlp(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    return _train_step(
        lib, model, opt, _data(lib, (256, 784)), _data(lib, (256,), kind=10), nn.CrossEntropyLoss()
    )


def cnn_model(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 5 * 5, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def make_cnn(lib):
    model = cnn_model(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    x = _data(lib, (64, 1, 28, 28))
    return _train_step(lib, model, opt, x, _data(lib, (64,), kind=10), lib.nn.CrossEntropyLoss())


def make_lstm(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(32, 128, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    model = Net()
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x = _data(lib, (32, 50, 32))
    return _train_step(lib, model, opt, x, _data(lib, (32,), kind=10), nn.CrossEntropyLoss())


def make_transformer(lib):
    nn = lib.nn
    layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, dropout=0.0, batch_first=True)
    opt = lib.optim.Adam(layer.parameters(), lr=1e-3)
    x = _data(lib, (32, 32, 64))
    target = _data(lib, (32, 32, 64), seed=1)
    return _train_step(lib, layer, opt, x, target, nn.MSELoss())


def make_digits_cnn(lib):
    """Train the digits CNN from scratch until 95% test accuracy (checked after each epoch)."""
    from studio.core.data.samples import load_sample

    ds = load_sample("digits")
    x, y = ds.tensors[0].numpy(), ds.tensors[1].numpy()
    order = np.random.default_rng(0).permutation(len(x))
    n = int(0.8 * len(x))
    xtr, ytr, xte, yte = x[order[:n]], y[order[:n]], lib.tensor(x[order[n:]]), y[order[n:]]
    nn = lib.nn

    def step():
        lib.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10),
        )  # fmt: skip
        opt = lib.optim.Adam(model.parameters(), lr=3e-3)
        loss_fn = nn.CrossEntropyLoss()
        rng = np.random.default_rng(0)
        for _ in range(30):
            perm = rng.permutation(len(xtr))
            for start in range(0, len(xtr), 64):
                idx = perm[start : start + 64]
                opt.zero_grad()
                loss_fn(model(lib.tensor(xtr[idx])), lib.tensor(ytr[idx])).backward()
                opt.step()
            with lib.no_grad():
                if (model(xte).argmax(1).numpy() == yte).mean() >= 0.95:
                    return
        raise RuntimeError("the digits CNN did not reach 95% test accuracy in 30 epochs")

    return step


def make_numpy_limit():
    """Forward and backward of the 784-512-512-10 MLP by hand in numpy, with an SGD update."""
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in ((784, 512), (512, 512), (512, 10))]
    bs = [np.zeros(s, np.float32) for s in (512, 512, 10)]
    x = rng.standard_normal((256, 784)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    rows = np.arange(256)

    def step():
        h1 = x @ ws[0] + bs[0]
        a1 = np.maximum(h1, 0)
        h2 = a1 @ ws[1] + bs[1]
        a2 = np.maximum(h2, 0)
        logits = a2 @ ws[2] + bs[2]
        shifted = logits - logits.max(1, keepdims=True)
        e = np.exp(shifted)
        p = e / e.sum(1, keepdims=True)
        g = p
        g[rows, y] -= 1
        g /= 256
        gw3, gb3 = a2.T @ g, g.sum(0)
        g2 = (g @ ws[2].T) * (h2 > 0)
        gw2, gb2 = a1.T @ g2, g2.sum(0)
        g1 = (g2 @ ws[1].T) * (h1 > 0)
        gw1, gb1 = x.T @ g1, g1.sum(0)
        for w, gw in zip(ws, (gw1, gw2, gw3)):
            w -= 0.01 * gw
        for b, gb in zip(bs, (gb1, gb2, gb3)):
            b -= 0.01 * gb

    return step


ENGINE_WORKLOADS = [
    # name, builder, target ratio studio/torch, repeats[, harness options]
    ("(x * 2 + 1).sum().backward(), 16 floats", make_micro, 0.5, 2000),
    ("tiny MLP 4-16-3, batch 32, Adam step", make_tiny_mlp, 0.3, 1000),
    ("MLP 784-512-512-10, batch 256, SGD step", make_mlp, 0.6, 60),
    ("CNN 2 conv + 2 linear, batch 64, 28x28, SGD step", make_cnn, 0.7, 20),
    ("digits CNN trained to 95% test accuracy", make_digits_cnn, 0.8, 3, {"warmup": 1, "block": 1}),
    ("LSTM 32->128, 50 steps, batch 32, Adam step", make_lstm, 0.8, 20),
    ("Transformer encoder layer d=64, 4 heads, seq 32, batch 32", make_transformer, 0.5, 40),
]
