"""Layers and functions of PyTorch's common scripts against PyTorch: resampling, pixel shuffle, padding
layers, fold/unfold, EmbeddingBag, Conv3d, the diagonal family and the encoder-decoder Transformer."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import nn
from studio.core.nn import functional as F


def _both(torch, ours, theirs, *arrays, tol=2e-6, grad=True):
    """Run `ours` and `theirs` on the same inputs; compare outputs and input gradients."""
    rng = np.random.default_rng(1)
    a = [sc.tensor(x, requires_grad=grad and x.dtype.kind == "f") for x in arrays]
    b = [torch.tensor(x, requires_grad=grad and x.dtype.kind == "f") for x in arrays]
    ya, yb = ours(*a), theirs(*b)
    assert tuple(ya.shape) == tuple(yb.shape)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=tol, atol=tol)
    if grad:
        g = rng.standard_normal(tuple(yb.shape)).astype(np.float32)
        (ya * sc.tensor(g)).sum().backward()
        (yb * torch.tensor(g)).sum().backward()
        for p, q in zip(a, b):
            if q.grad is not None:
                np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=tol, atol=tol)


def _copy_weights(ours, theirs):
    ours.load_state_dict({k: sc.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


_RNG = np.random.default_rng(0)


def _x(*shape):
    return _RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((2, 3, 5), {"size": 8, "mode": "nearest"}),
        ((2, 3, 5), {"scale_factor": 2.5, "mode": "nearest"}),
        ((1, 2, 5, 7), {"size": (9, 4), "mode": "nearest"}),
        ((1, 2, 5, 7), {"scale_factor": 1.7, "mode": "nearest-exact"}),
        ((1, 2, 5, 7), {"size": (9, 4), "mode": "bilinear"}),
        ((1, 2, 5, 7), {"size": (9, 4), "mode": "bilinear", "align_corners": True}),
        ((1, 2, 5, 7), {"scale_factor": 0.6, "mode": "bilinear"}),
        ((1, 2, 5, 7), {"scale_factor": 1.3, "mode": "bilinear", "recompute_scale_factor": True}),
        ((1, 2, 5, 7), {"size": (9, 11), "mode": "bicubic"}),
        ((1, 2, 5, 7), {"size": (3, 12), "mode": "bicubic", "align_corners": True}),
        ((2, 3, 6), {"size": 10, "mode": "linear"}),
        ((1, 2, 3, 4, 5), {"size": (5, 6, 7), "mode": "trilinear"}),
        ((1, 2, 3, 4, 5), {"scale_factor": 2, "mode": "nearest"}),
        ((1, 2, 6, 8), {"size": (3, 3), "mode": "area"}),
    ],
)
def test_interpolate_matches_pytorch(torch, shape, kwargs):
    _both(
        torch,
        lambda x: F.interpolate(x, **kwargs),
        lambda x: torch.nn.functional.interpolate(x, **kwargs),
        _x(*shape),
        tol=5e-6,
    )


def test_interpolate_errors_name_the_problem():
    x = sc.zeros(1, 2, 3, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(NotImplementedError, match="Got 4D input, but trilinear mode needs 5D input"):
        F.interpolate(x, scale_factor=2, mode="trilinear")
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, mode="nearest", align_corners=True)
    with pytest.raises(NotImplementedError, match="mode 'cubic' is not supported"):
        F.interpolate(x, scale_factor=2, mode="cubic")


@pytest.mark.parametrize(
    "make",
    [
        lambda L: L.nn.Upsample(scale_factor=2),
        lambda L: L.nn.Upsample(size=(7, 5), mode="bilinear", align_corners=False),
        lambda L: L.nn.UpsamplingNearest2d(scale_factor=3),
        lambda L: L.nn.UpsamplingBilinear2d(size=(6, 9)),
        lambda L: L.nn.PixelShuffle(2),
        lambda L: L.nn.Sequential(L.nn.PixelUnshuffle(2), L.nn.PixelShuffle(2)),
    ],
)
def test_resampling_layers_match_pytorch(torch, make):
    ours, theirs = make(sc), make(torch)
    _both(torch, ours, theirs, _x(2, 8, 4, 6))
    assert repr(ours).replace("studio.core", "torch") == repr(theirs)


_PADS = [
    ("ReflectionPad1d", 2, (2, 3, 5)),
    ("ReflectionPad1d", (1, 3), (3, 5)),
    ("ReflectionPad2d", (1, 2, 0, 3), (2, 3, 5, 6)),
    ("ReflectionPad3d", 1, (1, 2, 3, 4, 5)),
    ("ReplicationPad1d", (4, 0), (2, 3, 5)),
    ("ReplicationPad2d", 3, (2, 3, 5, 6)),
    ("ReplicationPad3d", (1, 0, 2, 1, 0, 3), (1, 2, 3, 4, 5)),
    ("ZeroPad1d", (1, 2), (2, 3, 5)),
    ("ZeroPad2d", (2, 0, 1, 1), (2, 3, 5, 6)),
    ("ZeroPad3d", 1, (2, 3, 4, 5)),
    ("CircularPad1d", 2, (2, 3, 5)),
    ("CircularPad2d", (1, 2, 2, 1), (2, 3, 5, 6)),
    ("CircularPad3d", 1, (1, 2, 3, 4, 5)),
]


@pytest.mark.parametrize("name,padding,shape", _PADS)
def test_padding_layers_match_pytorch(torch, name, padding, shape):
    ours, theirs = getattr(nn, name)(padding), getattr(torch.nn, name)(padding)
    _both(torch, ours, theirs, _x(*shape))
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_constant_pad_matches_pytorch(torch, n):
    name = f"ConstantPad{n}d"
    ours, theirs = getattr(nn, name)(2, 3.5), getattr(torch.nn, name)(2, 3.5)
    _both(torch, ours, theirs, _x(*(2, 3, 4, 5, 3)[: n + 2]))
    assert repr(ours) == repr(theirs)


def test_fold_unfold_match_pytorch(torch):
    for kwargs in (
        {"kernel_size": 3},
        {"kernel_size": (2, 3), "dilation": (1, 2), "padding": 1, "stride": (2, 1)},
    ):
        _both(torch, nn.Unfold(**kwargs), torch.nn.Unfold(**kwargs), _x(2, 3, 7, 8))
        cols = torch.nn.functional.unfold(torch.zeros(2, 3, 7, 8), **kwargs).shape
        _both(torch, nn.Fold((7, 8), **kwargs), torch.nn.Fold((7, 8), **kwargs), _x(*cols))
    with pytest.raises(RuntimeError, match="expected size of input's dimension 1 to be divisible"):
        F.fold(sc.zeros(1, 5, 4), (3, 3), 2)


@pytest.mark.parametrize(
    "mode,with_offsets,extra",
    [
        ("mean", False, {}),
        ("sum", True, {}),
        ("max", True, {}),
        ("mean", True, {"padding_idx": 4}),
        ("sum", True, {"include_last_offset": True}),
    ],
)
def test_embedding_bag_matches_pytorch(torch, mode, with_offsets, extra):
    ours = nn.EmbeddingBag(10, 4, mode=mode, **extra)
    theirs = torch.nn.EmbeddingBag(10, 4, mode=mode, **extra)
    _copy_weights(ours, theirs)
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    offsets = np.array([0, 3, 3, 8] if extra.get("include_last_offset") else [0, 3, 3])
    if with_offsets:
        ya, yb = ours(sc.tensor(idx), sc.tensor(offsets)), theirs(torch.tensor(idx), torch.tensor(offsets))
    else:
        ya, yb = ours(sc.tensor(idx.reshape(2, 4))), theirs(torch.tensor(idx.reshape(2, 4)))
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-6, atol=1e-6)
    ya.sum().backward()
    yb.sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_embedding_bag_per_sample_weights(torch):
    w = _x(10, 3)
    idx, offsets, psw = np.array([1, 2, 4, 5, 4]), np.array([0, 2]), _x(5)
    _both(
        torch,
        lambda w, p: F.embedding_bag(sc.tensor(idx), w, sc.tensor(offsets), mode="sum", per_sample_weights=p),
        lambda w, p: torch.nn.functional.embedding_bag(
            torch.tensor(idx), w, torch.tensor(offsets), mode="sum", per_sample_weights=p
        ),
        w,
        psw,
    )
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(
            sc.tensor(idx), sc.tensor(w), sc.tensor(offsets), mode="max", per_sample_weights=sc.tensor(psw)
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"stride": (2, 1, 2), "padding": (1, 0, 1), "dilation": (1, 2, 1), "groups": 2},
        {"padding": "same"},
        {"padding": 1, "padding_mode": "reflect", "bias": False},
    ],
)
def test_conv3d_matches_pytorch(torch, kwargs):
    ours, theirs = nn.Conv3d(4, 6, (3, 2, 3), **kwargs), torch.nn.Conv3d(4, 6, (3, 2, 3), **kwargs)
    _copy_weights(ours, theirs)
    x = _x(2, 4, 5, 6, 7)
    _both(torch, ours, theirs, x, tol=2e-5)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("offset", [0, 1, -2, 4])
def test_diagonal_family_matches_pytorch(torch, offset):
    x = _x(3, 4, 5)
    for ours, theirs, arg in [
        (lambda t: sc.diagonal(t, offset, 1, 2), lambda t: torch.diagonal(t, offset, 1, 2), x),
        (lambda t: t.diagonal(offset, 2, 0), lambda t: t.diagonal(offset, 2, 0), x),
        (lambda t: sc.diag_embed(t, offset), lambda t: torch.diag_embed(t, offset), x),
        (lambda t: t.diag_embed(offset, 0, 2), lambda t: t.diag_embed(offset, 0, 2), x),
        (lambda t: sc.diag(t, offset), lambda t: torch.diag(t, offset), x[0, 0]),
        (lambda t: t.diag(offset), lambda t: t.diag(offset), x[0]),
        (lambda t: sc.diagflat(t, offset), lambda t: torch.diagflat(t, offset), x[0]),
        (lambda t: sc.trace(t), lambda t: torch.trace(t), x[0]),
        (lambda t: sc.tril(t, offset), lambda t: torch.tril(t, offset), x),
        (lambda t: t.triu(offset), lambda t: t.triu(offset), x),
    ]:
        _both(torch, ours, theirs, arg)
    with pytest.raises(RuntimeError, match="Supports 1D or 2D tensors"):
        sc.diag(sc.tensor(x))


@pytest.mark.parametrize("norm_first,batch_first", [(False, False), (True, True)])
def test_transformer_matches_pytorch(torch, norm_first, batch_first):
    kw = dict(
        d_model=8,
        nhead=2,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=16,
        dropout=0.0,
        norm_first=norm_first,
        batch_first=batch_first,
    )
    ours, theirs = nn.Transformer(**kw), torch.nn.Transformer(**kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _copy_weights(ours, theirs)
    src, tgt = (_x(2, 5, 8), _x(2, 4, 8)) if batch_first else (_x(5, 2, 8), _x(4, 2, 8))
    mask_a, mask_b = ours.generate_square_subsequent_mask(4), theirs.generate_square_subsequent_mask(4)
    _both(
        torch,
        lambda s, t: ours(s, t, tgt_mask=mask_a),
        lambda s, t: theirs(s, t, tgt_mask=mask_b),
        src,
        tgt,
        tol=2e-5,
    )


def test_transformer_decoder_with_padding_masks_matches_pytorch(torch):
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2)
    theirs = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2
    )
    _copy_weights(ours, theirs)
    pad = np.array([[False, False, True], [False, False, False]])

    def run(lib, model):
        return lambda t, m: model(t, m, memory_key_padding_mask=lib.tensor(pad))

    _both(torch, run(sc, ours), run(torch, theirs), _x(2, 4, 8), _x(2, 3, 8), tol=2e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"proj_size": 3},
        {"proj_size": 2, "num_layers": 2, "bidirectional": True, "batch_first": True},
        {"proj_size": 3, "bias": False},
    ],
)
def test_lstm_with_projection_matches_pytorch(torch, kwargs):
    ours, theirs = nn.LSTM(4, 5, **kwargs), torch.nn.LSTM(4, 5, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) and repr(ours) == repr(theirs)
    _copy_weights(ours, theirs)

    def run(model):
        def f(x):
            y, (h, c) = model(x)
            y2, (h2, c2) = model(x, (h, c))
            return y.sum() + y2.sum() * 0.5 + (h2 * 2).sum() + (c2 * 3).sum()

        return f

    _both(torch, run(ours), run(theirs), _x(6, 2, 4), tol=3e-6)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=3e-6)


def test_lstm_projection_errors():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(4, 5, proj_size=5)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.GRU(4, 5, proj_size=2)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 3\)"):
        nn.LSTM(4, 5, proj_size=3)(sc.zeros(6, 2, 4), (sc.zeros(1, 2, 5), sc.zeros(1, 2, 5)))


@pytest.mark.parametrize(
    "name,kwargs,shape",
    [
        ("InstanceNorm1d", {}, (2, 3, 7)),
        ("InstanceNorm1d", {"affine": True}, (3, 7)),
        ("InstanceNorm2d", {"affine": True}, (2, 3, 4, 5)),
        ("InstanceNorm2d", {"track_running_stats": True}, (2, 3, 4, 5)),
        ("InstanceNorm3d", {}, (2, 3, 2, 3, 4)),
        ("BatchNorm3d", {}, (2, 3, 2, 3, 4)),
    ],
)
def test_instance_and_3d_batch_norm_match_pytorch(torch, name, kwargs, shape):
    ours, theirs = getattr(nn, name)(3, **kwargs), getattr(torch.nn, name)(3, **kwargs)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    _both(torch, ours, theirs, _x(*shape), tol=1e-5)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6)
    ours.eval(), theirs.eval()
    _both(torch, ours, theirs, _x(*shape), tol=1e-5, grad=False)


def test_index_add_and_in_place_scatters_match_pytorch(torch):
    def program(L):
        x = L.zeros(5, 3, requires_grad=True)
        src = L.arange(12.0).reshape(4, 3).requires_grad_()
        idx = L.tensor([0, 2, 2, 4])
        z = (x * 1).index_add(0, idx, src, alpha=2)
        z.index_add_(0, idx, src)
        z.sum().backward()
        w = L.zeros(2, 4)
        w.scatter_(1, L.tensor([[1], [3]]), 1.0)
        w2 = L.zeros(3, 5).scatter_add_(0, L.tensor([[0, 1, 2, 0, 0]]), L.ones(1, 5))
        w3 = L.zeros(3, 2).index_fill(0, L.tensor([1]), 7.0)
        return [t.tolist() for t in (z, src.grad, x.grad, w, w2, w3)]

    assert program(sc) == program(torch)
