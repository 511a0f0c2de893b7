"""TransformerEncoderLayer and TransformerEncoder against PyTorch: structure, outputs, gradients, masks."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import nn
from studio.core.nn.transformer import generate_square_subsequent_mask


def _pair(torch, num_layers=2, final_norm=True, **cfg):
    cfg = {"dim_feedforward": 16, "dropout": 0.0, **cfg}
    layer = nn.TransformerEncoderLayer(8, 2, **cfg)
    ours = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(8) if final_norm else None).double()
    tlayer = torch.nn.TransformerEncoderLayer(8, 2, **cfg)
    theirs = torch.nn.TransformerEncoder(
        tlayer, num_layers, norm=torch.nn.LayerNorm(8) if final_norm else None, enable_nested_tensor=False
    ).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy().copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def _compare(torch, ours, theirs, x, **masks):
    a, b = sc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = ours(a, **{k: sc.tensor(v) if isinstance(v, np.ndarray) else v for k, v in masks.items()})
    tout = theirs(b, **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in masks.items()})
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-9)
    g = np.random.default_rng(9).standard_normal(x.shape)
    (out * sc.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-9)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), atol=1e-9, err_msg=name)


@pytest.mark.parametrize(
    "cfg",
    [{}, {"norm_first": True}, {"activation": "gelu"}, {"batch_first": True, "norm_first": True}],
)
def test_encoder_matches_torch(torch, cfg):
    ours, theirs = _pair(torch, **cfg)
    x = np.random.default_rng(0).standard_normal((3, 5, 8) if cfg.get("batch_first") else (5, 3, 8))
    _compare(torch, ours, theirs, x)


def test_masks_and_causal(torch):
    ours, theirs = _pair(torch, final_norm=False)
    x = np.random.default_rng(1).standard_normal((5, 3, 8))
    padding = np.zeros((3, 5), bool)
    padding[2, 4:] = True
    causal = np.triu(np.ones((5, 5), bool), 1)
    _compare(torch, ours, theirs, x, mask=causal, src_key_padding_mask=padding)
    float_causal = generate_square_subsequent_mask(5, dtype=sc.float64).numpy()
    np.testing.assert_array_equal(
        float_causal, torch.nn.Transformer.generate_square_subsequent_mask(5).numpy()
    )
    _compare(torch, ours, theirs, x, mask=float_causal, is_causal=True)


def test_layer_alone_and_unbatched(torch):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0).double()
    tlayer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0).double()
    keys = list(layer.state_dict())
    assert keys == list(tlayer.state_dict())
    assert keys[:4] == [
        "self_attn.in_proj_weight",
        "self_attn.in_proj_bias",
        "self_attn.out_proj.weight",
        "self_attn.out_proj.bias",
    ]
    tlayer.load_state_dict(
        {k: torch.tensor(v.detach().numpy().copy()) for k, v in layer.state_dict().items()}
    )
    _compare(torch, layer, tlayer, np.random.default_rng(2).standard_normal((6, 8)))


def test_state_dict_keys_like_torch(torch):
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4), 2)
    tenc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(16, 4), 2, enable_nested_tensor=False)
    sd, tsd = enc.state_dict(), tenc.state_dict()
    assert list(sd) == list(tsd)
    assert all(tuple(sd[k].shape) == tuple(tsd[k].shape) for k in sd)
    assert "layers.1.linear1.weight" in sd and "layers.0.norm2.bias" in sd


def test_layers_are_independent_copies():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=8), 3)
    w = [layer.linear1.weight for layer in enc.layers]
    assert w[0] is not w[1] and np.array_equal(w[0].detach().numpy(), w[1].detach().numpy())
    assert len(list(enc.parameters())) == 3 * len(list(enc.layers[0].parameters()))


def test_dropout_only_in_training():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5), 2)
    x = sc.randn(5, 2, 8)
    enc.eval()
    a, b = enc(x), enc(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    enc.train()
    assert not np.allclose(enc(x).detach().numpy(), a.detach().numpy())


def test_bad_arguments():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=8)
    with pytest.raises(AssertionError, match="expecting embedding dimension of 8, but got 6|dimension of 8"):
        layer(sc.randn(4, 2, 6))


def test_float32_in_float32_out():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=8), 2)
    x = sc.randn(4, 2, 8, requires_grad=True)
    out = enc(x)
    assert out.dtype == sc.float32
    out.sum().backward()
    assert x.grad.dtype == sc.float32 and all(p.grad.dtype == sc.float32 for p in enc.parameters())
