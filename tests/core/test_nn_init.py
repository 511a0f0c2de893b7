"""nn.init: distributions checked statistically (mean, std, bounds), gains, fans and in-place behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

import studio.core as sc
from studio.core import nn
from studio.core.nn import init


def _arr(t):
    return t.detach().numpy().astype(np.float64)


def test_functions_work_in_place_on_parameters_and_return_them():
    w = nn.Parameter(sc.empty(64, 32))
    for fn, args in [
        (init.uniform_, ()),
        (init.normal_, ()),
        (init.zeros_, ()),
        (init.ones_, ()),
        (init.constant_, (0.3,)),
        (init.xavier_uniform_, ()),
        (init.xavier_normal_, ()),
        (init.kaiming_uniform_, ()),
        (init.kaiming_normal_, ()),
        (init.orthogonal_, ()),
        (init.trunc_normal_, ()),
        (init.eye_, ()),
    ]:
        v = w._version
        out = fn(w, *args)
        assert out is w, fn.__name__
        assert w.requires_grad and w.grad_fn is None and w.dtype is sc.float32
        assert w._version > v


def test_constant_zeros_ones_eye():
    t = sc.empty(3, 4)
    assert np.all(_arr(init.constant_(t, 2.5)) == 2.5)
    assert np.all(_arr(init.zeros_(t)) == 0)
    assert np.all(_arr(init.ones_(t)) == 1)
    assert np.array_equal(_arr(init.eye_(t)), np.eye(3, 4))


def test_uniform_and_normal_statistics():
    t = sc.empty(200, 200)
    a = _arr(init.uniform_(t, -2.0, 3.0))
    assert a.min() >= -2.0 and a.max() < 3.0
    assert abs(a.mean() - 0.5) < 0.05 and abs(a.std() - 5 / math.sqrt(12)) < 0.03
    a = _arr(init.normal_(t, 1.0, 0.5))
    assert abs(a.mean() - 1.0) < 0.01 and abs(a.std() - 0.5) < 0.01


def test_trunc_normal_bounds_and_spread():
    t = sc.empty(100, 100)
    a = _arr(init.trunc_normal_(t, mean=0.0, std=1.0, a=-2.0, b=2.0))
    assert a.min() >= -2.0 and a.max() <= 2.0
    assert abs(a.mean()) < 0.03 and abs(a.std() - 0.8796) < 0.02  # std of N(0,1) truncated to [-2, 2]
    a = _arr(init.trunc_normal_(t, std=0.02))
    assert abs(a.std() - 0.02) < 0.001
    a = _arr(init.trunc_normal_(t, mean=0.0, std=1.0, a=3.0, b=3.5))  # far in the tail: still fills
    assert a.min() >= 3.0 and a.max() <= 3.5 and a.mean() < 3.25


def test_calculate_gain_table(torch):
    for name, param in [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_xavier_statistics():
    t = sc.empty(300, 200)
    bound = math.sqrt(6 / 500)
    a = _arr(init.xavier_uniform_(t))
    assert a.min() >= -bound and a.max() <= bound and a.max() > 0.95 * bound
    a = _arr(init.xavier_normal_(t, gain=2.0))
    assert abs(a.std() - 2.0 * math.sqrt(2 / 500)) < 0.002


def test_kaiming_statistics_modes_and_fans():
    t = sc.empty(64, 16, 3, 3)  # fan_in = 144, fan_out = 576
    a = _arr(init.kaiming_uniform_(t, a=math.sqrt(5)))
    assert a.max() <= 1 / math.sqrt(144) and a.max() > 0.95 / math.sqrt(144)
    a = _arr(init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"))
    assert abs(a.std() - math.sqrt(2 / 576)) < 0.002
    a = _arr(init.kaiming_normal_(t, a=0.1, nonlinearity="leaky_relu"))
    assert abs(a.std() - math.sqrt(2 / (1 + 0.01)) / 12) < 0.003
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(t, mode="fan_avg")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(sc.empty(5))
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(sc.empty(0, 3))


def test_orthogonal_rows_or_columns_are_orthonormal():
    for shape in [(6, 10), (10, 6), (4, 3, 2, 2)]:
        t = init.orthogonal_(sc.empty(*shape), gain=2.0)
        q = _arr(t).reshape(shape[0], -1)
        if q.shape[0] <= q.shape[1]:
            np.testing.assert_allclose(q @ q.T, 4 * np.eye(q.shape[0]), atol=1e-5)
        else:
            np.testing.assert_allclose(q.T @ q, 4 * np.eye(q.shape[1]), atol=1e-5)


def test_seeded_draws_repeat_and_generator_argument():
    sc.manual_seed(7)
    a = _arr(init.normal_(sc.empty(5)))
    sc.manual_seed(7)
    b = _arr(init.normal_(sc.empty(5)))
    assert np.array_equal(a, b)
    g1, g2 = sc.Generator().manual_seed(3), sc.Generator().manual_seed(3)
    assert np.array_equal(
        _arr(init.uniform_(sc.empty(4), generator=g1)), _arr(init.uniform_(sc.empty(4), generator=g2))
    )


def test_float64_stays_float64():
    t = sc.empty(4, 4, dtype=sc.float64)
    init.kaiming_uniform_(t)
    init.orthogonal_(t)
    init.trunc_normal_(t)
    assert t.dtype is sc.float64


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.Linear(50, 40),
        lambda m: m.Conv2d(8, 16, 3),
        lambda m: m.Conv1d(6, 4, 5),
        lambda m: m.ConvTranspose2d(8, 4, 3),
        lambda m: m.Bilinear(20, 10, 30),
    ],
)
def test_layer_default_init_matches_torch_distribution(torch, make):
    # Pool several freshly built layers so that even small biases give stable statistics.
    torch.manual_seed(0)
    ours = [make(nn) for _ in range(40)]
    theirs = [make(torch.nn) for _ in range(40)]
    for name, _ in ours[0].named_parameters():
        a = np.concatenate([_arr(m.get_parameter(name)).ravel() for m in ours])
        b = np.concatenate([m.get_parameter(name).detach().numpy().ravel() for m in theirs])
        assert abs(np.abs(a).max() - np.abs(b).max()) < 0.05 * np.abs(b).max(), name
        assert abs(a.std() - b.std()) < 0.1 * b.std(), name
        # a tenth of the spread, or four standard errors of the mean where few values are pooled
        assert abs(a.mean()) < max(0.1 * b.std(), 4 * b.std() / np.sqrt(a.size)), name


def test_norm_layers_and_embedding_init():
    bn = nn.BatchNorm2d(3)
    assert np.all(_arr(bn.weight) == 1) and np.all(_arr(bn.bias) == 0)
    assert np.all(_arr(bn.running_var) == 1) and int(bn.num_batches_tracked) == 0
    emb = nn.Embedding(2000, 8, padding_idx=3)
    w = _arr(emb.weight)
    assert np.all(w[3] == 0) and abs(w.std() - 1) < 0.05
