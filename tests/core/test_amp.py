"""Mixed precision against PyTorch: autocast's casting decision op by op (PyTorch's per-op lists),
GradScaler's scale schedule and skipped steps, and training in autocast as accurate as float32."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import studio.core as sc
from studio.core.amp import autocast_mode as am

nn = sc.nn


def _ops(lib):
    """Each op once, on float inputs of dtype `d` (float32 when None), written against either library."""
    F = lib.nn.functional
    rng = np.random.default_rng(0)

    def T(*shape, d=None):
        t = lib.tensor((rng.random(shape) + 0.5).astype(np.float32))
        return t if d is None else t.to(d)

    def idx(*values):
        return lib.tensor(np.array(values))

    return {
        "matmul": lambda d: lib.matmul(T(3, 4, d=d), T(4, 5, d=d)),
        "mm": lambda d: lib.mm(T(3, 4, d=d), T(4, 5, d=d)),
        "bmm": lambda d: lib.bmm(T(2, 3, 4, d=d), T(2, 4, 5, d=d)),
        "mv": lambda d: lib.mv(T(3, 4, d=d), T(4, d=d)),
        "dot": lambda d: lib.dot(T(4, d=d), T(4, d=d)),
        "outer": lambda d: lib.outer(T(3, d=d), T(4, d=d)),
        "inner": lambda d: lib.inner(T(3, 4, d=d), T(5, 4, d=d)),
        "tensordot": lambda d: lib.tensordot(T(3, 4, d=d), T(4, 5, d=d), dims=1),
        "einsum": lambda d: lib.einsum("ij,jk->ik", T(3, 4, d=d), T(4, 5, d=d)),
        "@": lambda d: T(3, 4, d=d) @ T(4, 2, d=d),
        "linear": lambda d: F.linear(T(3, 4, d=d), T(5, 4, d=d), T(5, d=d)),
        "bilinear": lambda d: F.bilinear(T(3, 4, d=d), T(3, 2, d=d), T(5, 4, 2, d=d)),
        "conv1d": lambda d: F.conv1d(T(1, 2, 8, d=d), T(3, 2, 3, d=d)),
        "conv2d": lambda d: F.conv2d(T(1, 2, 8, 8, d=d), T(3, 2, 3, 3, d=d)),
        "conv_transpose2d": lambda d: F.conv_transpose2d(T(1, 2, 4, 4, d=d), T(2, 3, 3, 3, d=d)),
        "prelu": lambda d: F.prelu(T(2, 3, d=d), T(1, d=d)),
        "scaled_dot_product_attention": lambda d: F.scaled_dot_product_attention(
            T(1, 2, 3, 4, d=d), T(1, 2, 3, 4, d=d), T(1, 2, 3, 4, d=d)
        ),
        "softmax": lambda d: F.softmax(T(3, 4, d=d), 1),
        "log_softmax": lambda d: F.log_softmax(T(3, 4, d=d), 1),
        "softmin": lambda d: F.softmin(T(3, 4, d=d), 1),
        "exp": lambda d: lib.exp(T(3, d=d)),
        "expm1": lambda d: lib.expm1(T(3, d=d)),
        "log": lambda d: lib.log(T(3, d=d)),
        "log1p": lambda d: lib.log1p(T(3, d=d)),
        "pow": lambda d: lib.pow(T(3, d=d), 2),
        "**": lambda d: T(3, d=d) ** 2,
        "rsqrt": lambda d: lib.rsqrt(T(3, d=d)),
        "reciprocal": lambda d: lib.reciprocal(T(3, d=d)),
        "tan": lambda d: lib.tan(T(3, d=d)),
        "sum": lambda d: lib.sum(T(3, d=d)),
        "mean": lambda d: lib.mean(T(3, d=d)),
        "prod": lambda d: lib.prod(T(3, d=d)),
        "cumsum": lambda d: lib.cumsum(T(3, d=d), 0),
        "norm": lambda d: lib.norm(T(3, d=d)),
        "logsumexp": lambda d: lib.logsumexp(T(3, d=d), 0),
        "layer_norm": lambda d: F.layer_norm(T(2, 4, d=d), (4,), lib.ones(4), lib.zeros(4)),
        "group_norm": lambda d: F.group_norm(T(2, 4, 3, d=d), 2, lib.ones(4), lib.zeros(4)),
        "batch_norm": lambda d: F.batch_norm(
            T(2, 4, d=d), lib.zeros(4), lib.ones(4), lib.ones(4), lib.zeros(4)
        ),
        "cross_entropy": lambda d: F.cross_entropy(T(3, 4, d=d), idx(0, 1, 2)),
        "nll_loss": lambda d: F.nll_loss(T(3, 4, d=d), idx(0, 1, 2)),
        "mse_loss": lambda d: F.mse_loss(T(3, d=d), T(3, d=d)),
        "l1_loss": lambda d: F.l1_loss(T(3, d=d), T(3, d=d)),
        "smooth_l1_loss": lambda d: F.smooth_l1_loss(T(3, d=d), T(3, d=d)),
        "huber_loss": lambda d: F.huber_loss(T(3, d=d), T(3, d=d)),
        "kl_div": lambda d: F.kl_div(T(3, d=d), T(3, d=d), reduction="batchmean"),
        "binary_cross_entropy": lambda d: F.binary_cross_entropy(T(3, d=d) * 0.5, T(3, d=d) * 0.5),
        "binary_cross_entropy_with_logits": lambda d: F.binary_cross_entropy_with_logits(
            T(3, d=d), T(3, d=d) / 2
        ),
        "cosine_similarity": lambda d: F.cosine_similarity(T(3, 4, d=d), T(3, 4, d=d)),
        "normalize": lambda d: F.normalize(T(3, 4, d=d)),
        "addcmul": lambda d: lib.addcmul(T(3, d=d), T(3, d=d), T(3, d=d)),
        "addcdiv": lambda d: lib.addcdiv(T(3, d=d), T(3, d=d), T(3, d=d)),
        "relu": lambda d: F.relu(T(3, d=d)),
        "gelu": lambda d: F.gelu(T(3, d=d)),
        "softplus": lambda d: F.softplus(T(3, d=d)),
        "sigmoid": lambda d: lib.sigmoid(T(3, d=d)),
        "tanh": lambda d: lib.tanh(T(3, d=d)),
        "max_pool2d": lambda d: F.max_pool2d(T(1, 1, 4, 4, d=d), 2),
        "avg_pool2d": lambda d: F.avg_pool2d(T(1, 1, 4, 4, d=d), 2),
        "adaptive_avg_pool2d": lambda d: F.adaptive_avg_pool2d(T(1, 1, 4, 4, d=d), 1),
        "embedding": lambda d: F.embedding(idx(0, 1), T(3, 4, d=d)),
        "dropout": lambda d: F.dropout(T(3, d=d)),
        "pad": lambda d: F.pad(T(2, 3, d=d), (1, 1)),
        "MultiheadAttention": lambda d: lib.nn.MultiheadAttention(4, 2).to(d or lib.float32)(
            T(3, 1, 4, d=d), T(3, 1, 4, d=d), T(3, 1, 4, d=d)
        )[0],
        "RNN": lambda d: lib.nn.RNN(4, 3).to(d or lib.float32)(T(2, 1, 4, d=d))[0],
        "GRU": lambda d: lib.nn.GRU(4, 3).to(d or lib.float32)(T(2, 1, 4, d=d))[0],
        "TransformerEncoderLayer": lambda d: lib.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0).to(
            d or lib.float32
        )(T(3, 1, 4, d=d)),
    }


def _decisions(lib, low):
    """Per op: the result dtype in autocast for float32 input, and for half input (or the error)."""
    result = {}
    for name, op in _ops(lib).items():
        row = []
        for d in (None, low):
            try:
                with lib.autocast("cpu", dtype=low):
                    row.append(str(op(d).dtype).split(".")[-1])
            except RuntimeError:
                row.append("error")
        result[name] = row
    return result


def test_cpu_autocast_casts_every_op_as_pytorch_does(torch):
    warnings.filterwarnings("ignore", category=UserWarning)
    theirs = _decisions(torch, torch.float16)
    ours = _decisions(sc, sc.float16)
    differ = {k: (theirs[k], ours[k]) for k in theirs if theirs[k] != ours[k]}
    assert not differ
    assert ours["linear"] == ["float16", "float16"] and ours["cross_entropy"] == ["float32", "float32"]


# PyTorch's CUDA lists (aten/src/ATen/autocast_mode.cpp) for the ops Studio has; cupy runs them
CUDA_LISTS = {
    "lower": "matmul mm bmm mv inner einsum linear conv1d conv2d conv_transpose2d prelu "
    "scaled_dot_product_attention multi_head_attention_forward rnn_tanh_layer rnn_relu_layer lstm_layer "
    "gru_layer",
    "fp32": "exp expm1 log log2 log10 log1p reciprocal rsqrt tan pow softplus layer_norm group_norm norm "
    "logsumexp cosine_similarity mse_loss l1_loss smooth_l1_loss huber_loss cross_entropy nll_loss kl_div "
    "binary_cross_entropy_with_logits",
    "fp32_unless_dtype": "softmax log_softmax sum prod cumsum",
    "promote": "dot vdot tensordot bilinear addcmul addcdiv",
    "banned": "binary_cross_entropy",
}


def _policies():
    from studio.core.ops import (
        activation,
        attention,
        conv,
        elementwise,
        linalg,
        linear,
        loss,
        mha,
        misc,
        norm,
        reduce,
        rnn,
    )

    found = {}
    for module in (
        activation,
        attention,
        conv,
        elementwise,
        linalg,
        linear,
        loss,
        mha,
        misc,
        norm,
        reduce,
        rnn,
    ):
        for name, fn in vars(module).items():
            policies = getattr(fn, "autocast_policies", None)
            if policies is not None and not name.startswith("_"):
                found[name] = policies
    return found


def test_cuda_policies_are_pytorchs_lists():
    policies = _policies()
    for policy, names in CUDA_LISTS.items():
        for name in names.split():
            assert policies[name]["cuda"] == policy, name
    # float_power is pow computed in float64: unlisted in PyTorch, it gives float64 either way
    listed = {n for names in CUDA_LISTS.values() for n in names.split()} | {"float_power"}
    extra = {n for n, p in policies.items() if p["cuda"] not in (None, am.NATIVE) and n not in listed}
    assert not extra


def test_autocast_regions_nest_restore_and_refuse_bad_arguments():
    w = nn.Linear(4, 4)
    with sc.autocast("cpu", dtype=sc.float16):
        assert sc.is_autocast_enabled("cpu") and sc.get_autocast_dtype("cpu") is sc.float16
        assert w(sc.randn(2, 4)).dtype is sc.float16
        with sc.autocast("cpu", enabled=False):
            assert w(sc.randn(2, 4)).dtype is sc.float32
        assert w(sc.randn(2, 4)).dtype is sc.float16
    assert not sc.is_autocast_enabled("cpu") and w(sc.randn(2, 4)).dtype is sc.float32
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'xpu'"):
        sc.autocast("xpu")
    with pytest.warns(UserWarning, match="the target dtype is not supported. Disabling autocast"):
        region = sc.autocast("cpu", dtype=sc.float64)
    with region:
        assert not sc.is_autocast_enabled("cpu")

    @sc.autocast("cpu", dtype=sc.float16)
    def decorated(x):
        return w(x)

    assert decorated(sc.randn(1, 4)).dtype is sc.float16


def test_autocast_gradients_reach_float32_parameters_and_parameter_casts_are_cached():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = sc.randn(5, 4)
    with sc.autocast("cpu", dtype=sc.float16):
        out = model(x)
        again = model(x)
        assert len(am._cache) == 4  # two weights and two biases, cast once for both calls
        loss = out.float().pow(2).mean() + again.float().mean()
    assert am._cache == {}
    loss.backward()
    assert all(p.grad.dtype is sc.float32 for p in model.parameters())


def test_binary_cross_entropy_is_float32_on_cpu_and_refused_only_on_cuda():
    x = sc.rand(3) * 0.5
    with sc.autocast("cpu", dtype=sc.float16):
        assert nn.functional.binary_cross_entropy(x.half(), x.half()).dtype is sc.float32
    assert sc.ops.loss.binary_cross_entropy.autocast_policies["cuda"] == am.BANNED


# ----------------------------------------------------------------------------------- GradScaler


def _scaler_run(lib, steps):
    lib.manual_seed(0)
    model = lib.nn.Linear(3, 2)
    with_weights = np.arange(8, dtype=np.float32).reshape(2, 4) / 10
    with lib.no_grad():
        model.weight.copy_(lib.tensor(with_weights[:, :3]))
        model.bias.copy_(lib.tensor(with_weights[:, 3]))
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=2)
    scales = []
    for i in range(steps):
        opt.zero_grad()
        x = lib.tensor(np.full((2, 3), float("inf") if i in (2, 5) else 0.5, np.float32))
        scaler.scale(model(x).sum()).backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return scales, model.weight.detach().numpy(), scaler.state_dict()


def test_grad_scaler_grows_backs_off_and_skips_steps_like_pytorch(torch):
    scales, weights, state = _scaler_run(sc, 7)
    their_scales, their_weights, their_state = _scaler_run(torch, 7)
    assert scales == their_scales
    np.testing.assert_allclose(weights, their_weights, rtol=1e-6)
    assert state == their_state


def test_grad_scaler_errors_and_disabled_scaler():
    model = nn.Linear(2, 1)
    opt = sc.optim.SGD(model.parameters(), lr=0.1)
    scaler = sc.amp.GradScaler("cpu")
    with pytest.raises(RuntimeError, match="did not use scaler.scale"):
        scaler.step(opt)
    scaler.scale(model(sc.randn(1, 2)).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    off = sc.amp.GradScaler("cpu", enabled=False)
    loss = model(sc.randn(1, 2)).sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    with pytest.warns(UserWarning, match="CUDA is not available"):
        assert not sc.amp.GradScaler("cuda").is_enabled() or sc.cuda.is_available()
    with pytest.warns(FutureWarning, match="deprecated"):
        sc.cuda.amp.GradScaler()


# ---------------------------------------------------------------------------- training accuracy


def _iris():
    from test_quantization import _iris as iris

    return iris()


def _train(model, x, y, amp, epochs, lr, batch):
    opt = sc.optim.Adam(model.parameters(), lr=lr)
    scaler = sc.amp.GradScaler("cpu", enabled=amp)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            with sc.autocast("cpu", dtype=sc.float16, enabled=amp):
                loss = loss_fn(model(sc.tensor(x[idx])), sc.tensor(y[idx]))
            assert loss.dtype is sc.float32
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    return model.eval()


def _accuracy(model, x, y, amp):
    with sc.no_grad(), sc.autocast("cpu", dtype=sc.float16, enabled=amp):
        return float((model(sc.tensor(x)).argmax(1).numpy() == y).mean())


def test_iris_mlp_trains_in_autocast_to_the_float32_accuracy():
    xtr, ytr, xte, yte = _iris()
    accs = []
    for amp in (False, True):
        sc.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
        accs.append(_accuracy(_train(model, xtr, ytr, amp, 60, 1e-2, 16), xte, yte, amp))
    assert accs[0] >= 0.9 and abs(accs[1] - accs[0]) <= 0.025  # one flower in 45 at most


def test_digits_cnn_trains_in_autocast_to_the_float32_accuracy():
    from test_quantization import _digits, _digits_cnn

    xtr, ytr, xte, yte = _digits()
    accs = []
    for amp in (False, True):
        sc.manual_seed(0)
        accs.append(_accuracy(_train(_digits_cnn(), xtr, ytr, amp, 4, 3e-3, 64), xte, yte, amp))
    assert accs[0] >= 0.9 and abs(accs[1] - accs[0]) <= 0.01
