"""Layers against PyTorch: outputs, input and parameter gradients, running statistics, modes, errors.

Each case builds the layer in both libraries, copies our weights into torch's module through
state_dict, runs forward and backward with the same upstream gradient and compares everything.
"""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import nn
from studio.core.autograd import gradcheck

RNG = np.random.default_rng(1234)


def _randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _copy_into_torch(torch, ours, theirs):
    theirs.load_state_dict({k: torch.tensor(np.array(v.numpy())) for k, v in ours.state_dict().items()})


def _compare(torch, make, inputs, *, train=True, rtol=1e-4, atol=1e-5, kwargs=None, steps=1):
    """Run `make(nn)` and `make(torch.nn)` on `inputs` (numpy arrays) and compare outputs and gradients."""
    ours, theirs = make(nn), make(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _copy_into_torch(torch, ours, theirs)
    ours.train(train)
    theirs.train(train)
    kwargs = kwargs or {}
    for _ in range(steps):
        xs = [sc.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
        ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
        out, expected = ours(*xs, **kwargs), theirs(*ts, **kwargs)
        if isinstance(expected, tuple):
            out, expected = out[0], expected[0]
        assert tuple(out.shape) == tuple(expected.shape)
        assert out.dtype is sc.float32
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)
        upstream = _randn(*expected.shape)
        (out * sc.tensor(upstream)).sum().backward()
        (expected * torch.tensor(upstream)).sum().backward()
        for x, t in zip(xs, ts):
            if t.requires_grad:
                np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        q = named[name]
        if q.grad is None:
            assert p.grad is None or not np.any(p.grad.numpy()), name
            continue
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=atol, err_msg=name)
    buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(b.numpy(), buffers[name].numpy(), rtol=rtol, atol=atol, err_msg=name)
    return ours, theirs


CASES = {
    "linear": (lambda m: m.Linear(5, 3), [(4, 5)]),
    "linear_3d_nobias": (lambda m: m.Linear(5, 3, bias=False), [(2, 4, 5)]),
    "bilinear": (lambda m: m.Bilinear(3, 4, 2), [(5, 3), (5, 4)]),
    "conv1d": (lambda m: m.Conv1d(3, 4, 3, stride=2, padding=1), [(2, 3, 9)]),
    "conv1d_same_reflect": (lambda m: m.Conv1d(3, 2, 4, padding="same", padding_mode="reflect"), [(2, 3, 8)]),
    "conv1d_unbatched": (lambda m: m.Conv1d(3, 2, 3, dilation=2, bias=False), [(3, 10)]),
    "conv2d": (lambda m: m.Conv2d(3, 4, 3), [(2, 3, 7, 7)]),
    "conv2d_groups": (lambda m: m.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2), [(2, 4, 9, 8)]),
    "conv2d_same_replicate": (
        lambda m: m.Conv2d(2, 3, (3, 2), padding="same", padding_mode="replicate"),
        [(2, 2, 5, 6)],
    ),
    "conv2d_circular": (lambda m: m.Conv2d(2, 3, 3, padding=1, padding_mode="circular"), [(1, 2, 5, 5)]),
    "conv2d_unbatched": (lambda m: m.Conv2d(2, 3, 2, stride=(1, 2)), [(2, 5, 6)]),
    "conv_transpose2d": (
        lambda m: m.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
        [(2, 4, 5, 5)],
    ),
    "conv_transpose2d_groups": (
        lambda m: m.ConvTranspose2d(4, 6, 2, groups=2, dilation=2, bias=False),
        [(1, 4, 4, 3)],
    ),
    "maxpool1d": (lambda m: m.MaxPool1d(2), [(2, 3, 9)]),
    "maxpool2d": (lambda m: m.MaxPool2d(2), [(2, 3, 8, 8)]),
    "maxpool2d_pad_ceil": (lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), [(2, 2, 7, 8)]),
    "maxpool2d_indices": (lambda m: m.MaxPool2d(2, return_indices=True), [(1, 2, 4, 4)]),
    "avgpool2d": (lambda m: m.AvgPool2d(2), [(2, 3, 8, 8)]),
    "avgpool2d_nopad_count": (lambda m: m.AvgPool2d(3, 2, 1, count_include_pad=False), [(2, 2, 7, 7)]),
    "adaptive_avgpool2d": (lambda m: m.AdaptiveAvgPool2d((2, 3)), [(2, 3, 7, 8)]),
    "adaptive_avgpool2d_none": (lambda m: m.AdaptiveAvgPool2d((3, None)), [(1, 2, 6, 5)]),
    "batchnorm1d": (lambda m: m.BatchNorm1d(4), [(8, 4)]),
    "batchnorm1d_3d": (lambda m: m.BatchNorm1d(4, momentum=0.3), [(6, 4, 5)]),
    "batchnorm2d": (lambda m: m.BatchNorm2d(3), [(4, 3, 5, 5)]),
    "batchnorm2d_no_affine": (lambda m: m.BatchNorm2d(3, affine=False), [(4, 3, 2, 2)]),
    "batchnorm1d_untracked": (lambda m: m.BatchNorm1d(3, track_running_stats=False), [(5, 3)]),
    "layernorm": (lambda m: m.LayerNorm(5), [(3, 4, 5)]),
    "layernorm_2d_no_bias": (lambda m: m.LayerNorm((4, 5), bias=False), [(3, 4, 5)]),
    "layernorm_no_affine": (lambda m: m.LayerNorm(6, elementwise_affine=False, eps=1e-3), [(2, 6)]),
    "groupnorm": (lambda m: m.GroupNorm(2, 4), [(3, 4, 5, 5)]),
    "groupnorm_3d": (lambda m: m.GroupNorm(3, 6, affine=False), [(2, 6, 7)]),
    "flatten": (lambda m: m.Flatten(), [(2, 3, 4)]),
    "unflatten": (lambda m: m.Unflatten(1, (3, 4)), [(2, 12)]),
    "relu": (lambda m: m.ReLU(), [(4, 5)]),
    "leaky_relu": (lambda m: m.LeakyReLU(0.2), [(4, 5)]),
    "elu": (lambda m: m.ELU(alpha=0.7), [(4, 5)]),
    "gelu": (lambda m: m.GELU(), [(4, 5)]),
    "gelu_tanh": (lambda m: m.GELU(approximate="tanh"), [(4, 5)]),
    "silu": (lambda m: m.SiLU(), [(4, 5)]),
    "sigmoid": (lambda m: m.Sigmoid(), [(4, 5)]),
    "tanh": (lambda m: m.Tanh(), [(4, 5)]),
    "softmax": (lambda m: m.Softmax(dim=1), [(4, 5)]),
    "softmax_last": (lambda m: m.Softmax(dim=-1), [(2, 3, 5)]),
    "log_softmax": (lambda m: m.LogSoftmax(dim=1), [(4, 5)]),
    "softplus": (lambda m: m.Softplus(beta=2.0, threshold=3.0), [(4, 5)]),
    "relu6": (lambda m: m.ReLU6(), [(4, 5)]),
    "hardtanh": (lambda m: m.Hardtanh(-0.5, 0.5), [(4, 5)]),
    "identity": (lambda m: m.Identity(), [(4, 5)]),
    "dropout_eval": (lambda m: m.Dropout(0.5), [(4, 5)]),
    "sequential": (
        lambda m: m.Sequential(
            m.Conv2d(2, 4, 3, padding=1),
            m.BatchNorm2d(4),
            m.ReLU(),
            m.MaxPool2d(2),
            m.Flatten(),
            m.Linear(16, 3),
        ),
        [(3, 2, 4, 4)],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_layer_matches_torch(torch, name):
    make, shapes = CASES[name]
    inputs = [_randn(*s) * 2 for s in shapes]
    train = name != "dropout_eval"
    _compare(torch, make, inputs, train=train)


@pytest.mark.parametrize("name", ["batchnorm1d", "batchnorm2d", "batchnorm1d_3d", "sequential"])
def test_batchnorm_eval_after_training_matches_torch(torch, name):
    make, shapes = CASES[name]
    ours, theirs = _compare(torch, make, [_randn(*s) for s in shapes], steps=3)
    ours.eval()
    theirs.eval()
    x = _randn(*shapes[0])
    np.testing.assert_allclose(
        ours(sc.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5
    )


def test_batchnorm_cumulative_average_with_momentum_none(torch):
    batches = [_randn(6, 3) + i for i in range(4)]
    ours, theirs = nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None)
    for b in batches:
        ours(sc.tensor(b))
        theirs(torch.tensor(b))
    assert int(ours.num_batches_tracked) == 4
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-5, atol=1e-6)
    # the cumulative average is the plain mean of the batch means
    np.testing.assert_allclose(ours.running_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5)


def test_batchnorm_eval_uses_running_stats_and_does_not_update():
    bn = nn.BatchNorm1d(2)
    with sc.no_grad():
        bn.running_mean.copy_(sc.tensor([1.0, -1.0]))
        bn.running_var.copy_(sc.tensor([4.0, 1.0]))
    bn.eval()
    out = bn(sc.tensor([[3.0, 0.0]]))
    np.testing.assert_allclose(
        out.detach().numpy(), [[2.0 / np.sqrt(4 + 1e-5), 1.0 / np.sqrt(1 + 1e-5)]], rtol=1e-6
    )
    assert int(bn.num_batches_tracked) == 0
    np.testing.assert_array_equal(bn.running_mean.numpy(), [1.0, -1.0])


def test_conv_transpose2d_output_size(torch):
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    _copy_into_torch(torch, ours, theirs)
    x = _randn(1, 2, 4, 4)
    out = ours(sc.tensor(x), output_size=[8, 8])
    assert out.shape == (1, 3, 8, 8)
    np.testing.assert_allclose(
        out.detach().numpy(),
        theirs(torch.tensor(x), output_size=[8, 8]).detach().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )
    with pytest.raises(ValueError, match="requested an output size"):
        ours(sc.tensor(x), output_size=[10, 10])


def test_embedding_matches_torch_and_padding_row_gets_no_gradient(torch):
    ours, theirs = nn.Embedding(10, 4, padding_idx=1), torch.nn.Embedding(10, 4, padding_idx=1)
    assert not np.any(ours.weight.detach().numpy()[1])
    _copy_into_torch(torch, ours, theirs)
    idx = np.array([[1, 2, 3], [2, 1, 9]], dtype=np.int64)
    out, expected = ours(sc.tensor(idx)), theirs(torch.tensor(idx))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy())
    up = _randn(2, 3, 4)
    (out * sc.tensor(up)).sum().backward()
    (expected * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-6)
    assert not np.any(ours.weight.grad.numpy()[1])
    neg = nn.Embedding(5, 2, padding_idx=-1)
    assert neg.padding_idx == 4 and repr(neg) == "Embedding(5, 2, padding_idx=4)"
    with pytest.raises(AssertionError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(RuntimeError, match="integer indices"):
        ours(sc.zeros(3))


def test_embedding_from_pretrained():
    table = sc.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(sc.tensor([1, 0])).numpy(), [[3.0, 4.0], [1.0, 2.0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_dropout_train_and_eval():
    x = sc.ones(200, 100)
    drop = nn.Dropout(0.3)
    out = drop(x).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    drop.eval()
    assert np.array_equal(drop(x).numpy(), x.numpy())
    sc.manual_seed(3)
    a = nn.Dropout(0.5)(x).numpy()
    sc.manual_seed(3)
    assert np.array_equal(a, nn.Dropout(0.5)(x).numpy())
    assert not np.any(nn.Dropout(1.0)(x).numpy())
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


def test_dropout2d_zeroes_whole_channels():
    x = sc.ones(20, 30, 3, 3)
    out = nn.Dropout2d(0.5)(x).numpy()
    per_channel = out.reshape(20, 30, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0.35 < (per_channel == 0).all(-1).mean() < 0.65
    assert np.array_equal(nn.Dropout2d(0.5).eval()(x).numpy(), x.numpy())


def test_dropout_gradient_follows_mask():
    x = sc.ones(50, 50, requires_grad=True)
    out = nn.Dropout(0.4)(x)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), out.detach().numpy())


# -------------------------------------------------------------------------------- float64 gradchecks


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.Linear(3, 2), (4, 3)),
        (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1, groups=1), (2, 2, 5, 5)),
        (lambda: nn.ConvTranspose2d(2, 2, 2, stride=2), (1, 2, 3, 3)),
        (lambda: nn.BatchNorm1d(3), (5, 3)),
        (lambda: nn.LayerNorm(4), (3, 4)),
        (lambda: nn.GroupNorm(2, 4), (2, 4, 3)),
        (lambda: nn.Bilinear(2, 3, 2), None),
    ],
)
def test_gradcheck_float64(make, shape):
    m = make().double()
    params = list(m.parameters())
    if shape is None:
        x1 = sc.randn(4, 2, dtype=sc.float64, requires_grad=True)
        x2 = sc.randn(4, 3, dtype=sc.float64, requires_grad=True)
        assert gradcheck(lambda a, b, *ps: m(a, b), (x1, x2, *params))
        return
    x = sc.randn(*shape, dtype=sc.float64, requires_grad=True)
    out = m(x)
    assert out.dtype is sc.float64
    assert gradcheck(lambda a, *ps: m(a), (x, *params))


# ----------------------------------------------------------------------------------------- bad input


def test_linear_wrong_shape_names_layer():
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=4\) got input of shape \(8, 5\)"):
        nn.Linear(4, 3)(sc.zeros(8, 5))
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.Linear(4, 3)(np.zeros((8, 4)))
    with pytest.raises(ValueError, match="out_features=-2"):
        nn.Linear(4, -2)


def test_conv_wrong_channels_or_rank_names_layer():
    with pytest.raises(RuntimeError, match=r"Conv2d\(in_channels=3\) got input of shape \(8, 5, 28, 28\)"):
        nn.Conv2d(3, 8, 3)(sc.zeros(8, 5, 28, 28))
    with pytest.raises(RuntimeError, match=r"Conv2d\(in_channels=3\) got input of shape \(8, 5\)"):
        nn.Conv2d(3, 8, 3)(sc.zeros(8, 5))
    with pytest.raises(RuntimeError, match=r"Conv1d\(in_channels=2\) got input of shape \(4, 3, 10\)"):
        nn.Conv1d(2, 8, 3)(sc.zeros(4, 3, 10))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(3, 6, 3, padding_mode="reflect")


def test_norm_and_pool_wrong_shapes_name_layer():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4\) expected 4D input"):
        nn.BatchNorm2d(4)(sc.zeros(2, 4, 3))
    with pytest.raises(RuntimeError, match=r"BatchNorm1d\(4\) got input of shape \(2, 5\)"):
        nn.BatchNorm1d(4)(sc.zeros(2, 5))
    with pytest.raises(RuntimeError, match=r"LayerNorm\(\(4,\)\) got input of shape \(2, 5\)"):
        nn.LayerNorm(4)(sc.zeros(2, 5))
    with pytest.raises(RuntimeError, match=r"GroupNorm\(2, 4\) got input of shape \(2, 6, 3\)"):
        nn.GroupNorm(2, 4)(sc.zeros(2, 6, 3))
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match=r"MaxPool2d got input of shape \(5,\)"):
        nn.MaxPool2d(2)(sc.zeros(5))


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
def test_softmax_default_dim_follows_torch(torch):
    x = _randn(2, 3)
    np.testing.assert_allclose(
        nn.Softmax()(sc.tensor(x)).numpy(), torch.nn.Softmax()(torch.tensor(x)).numpy(), rtol=1e-6
    )


def test_layers_keep_float64_and_device_kwargs():
    m = nn.Linear(3, 2, dtype=sc.float64)
    assert m.weight.dtype is sc.float64 and m(sc.zeros(1, 3, dtype=sc.float64)).dtype is sc.float64
    bn = nn.BatchNorm2d(2, device="cpu", dtype=sc.float64)
    assert bn.running_mean.dtype is sc.float64 and bn.num_batches_tracked.dtype is sc.int64
    conv = nn.Conv2d(1, 1, 1, device=sc.device("cpu"))
    assert conv.weight.device == sc.device("cpu")
