"""bfloat16 (through ml_dtypes) against PyTorch: the dtype, promotion, casts, printing, arithmetic,
safetensors files both ways; and finfo/iinfo/promote_types/result_type."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc


def _name(d):
    return str(d).rpartition(".")[2]


def test_casts_round_like_pytorch(torch):
    x = np.random.default_rng(0).standard_normal(50).astype(np.float32) * 100
    a, b = sc.tensor(x).to(sc.bfloat16), torch.tensor(x).to(torch.bfloat16)
    assert a.dtype == sc.bfloat16 and a.is_floating_point() and a.element_size() == 2
    np.testing.assert_array_equal(a.float().numpy(), b.float().numpy())
    np.testing.assert_array_equal(sc.tensor(x).bfloat16().float().numpy(), b.float().numpy())
    assert a.type() == b.type() == "torch.BFloat16Tensor"
    assert isinstance(a, sc.BFloat16Tensor)


def test_printing_matches_pytorch(torch):
    values = [1.5, 2.25, 3.1, -0.001]
    ours = repr(sc.tensor(values).bfloat16())
    theirs = repr(torch.tensor(values).bfloat16())
    assert ours.replace("studio.core", "torch") == theirs


@pytest.mark.parametrize("other", ["float32", "float16", "float64", "int64", "bool", "bfloat16"])
def test_promotion_matches_pytorch(torch, other):
    a, b = sc.ones(2).bfloat16(), torch.ones(2).bfloat16()
    assert _name((a + sc.ones(2).to(getattr(sc, other))).dtype) == _name(
        (b + torch.ones(2).to(getattr(torch, other))).dtype
    )
    assert _name(sc.promote_types(sc.bfloat16, getattr(sc, other))) == _name(
        torch.promote_types(torch.bfloat16, getattr(torch, other))
    )
    assert _name((a * 2.5).dtype) == _name((b * 2.5).dtype) == "bfloat16"


def test_arithmetic_reductions_and_gradients(torch):
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    for fn in (
        lambda t: t * 3 - 1,
        lambda t: t.sum(1),
        lambda t: t.mean(),
        lambda t: t.relu(),
        lambda t: t.abs().max(),
    ):
        ours, theirs = fn(sc.tensor(x).bfloat16()), fn(torch.tensor(x).bfloat16())
        assert _name(ours.dtype) == _name(theirs.dtype) == "bfloat16"
        np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=1e-2, atol=1e-2)
    w = sc.ones(3, dtype=sc.bfloat16, requires_grad=True)
    (w * w).sum().backward()
    assert w.grad.dtype == sc.bfloat16 and w.grad.tolist() == [2.0, 2.0, 2.0]


def test_safetensors_both_ways(torch, tmp_path):
    from safetensors.torch import load_file, save_file

    x = [1.5, 2.25, 3.1, -7.0]
    sc.save({"w": sc.tensor(x).bfloat16(), "b": sc.ones(2)}, tmp_path / "ours.safetensors")
    theirs = load_file(str(tmp_path / "ours.safetensors"))
    assert theirs["w"].dtype == torch.bfloat16
    assert theirs["w"].float().tolist() == torch.tensor(x).bfloat16().float().tolist()
    save_file({"w": torch.tensor(x).bfloat16()}, str(tmp_path / "theirs.safetensors"))
    back = sc.load(tmp_path / "theirs.safetensors")["w"]
    assert back.dtype == sc.bfloat16 and back.float().tolist() == theirs["w"].float().tolist()


def test_type_info_matches_pytorch(torch):
    for name in ("float32", "float64", "float16", "bfloat16"):
        ours, theirs = sc.finfo(getattr(sc, name)), torch.finfo(getattr(torch, name))
        for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(ours, attr) == pytest.approx(getattr(theirs, attr)), (name, attr)
    for name in ("int8", "uint8", "int16", "int32", "int64"):
        ours, theirs = sc.iinfo(getattr(sc, name)), torch.iinfo(getattr(torch, name))
        assert (ours.bits, ours.min, ours.max) == (theirs.bits, theirs.min, theirs.max)
    assert sc.finfo().eps == torch.finfo().eps
    with pytest.raises(TypeError, match="floating point"):
        sc.finfo(sc.int32)
    for a, b in [(sc.ones(2, dtype=sc.int32), 2.5), (sc.ones(2), sc.ones(2, dtype=sc.float64)), (3, 4.0)]:
        ta = torch.tensor(a.numpy()) if isinstance(a, sc.Tensor) else a
        tb = torch.tensor(b.numpy()) if isinstance(b, sc.Tensor) else b
        assert _name(sc.result_type(a, b)) == _name(torch.result_type(ta, tb))
    assert sc.can_cast(sc.int32, sc.float32) == torch.can_cast(torch.int32, torch.float32)
    assert sc.can_cast(sc.float32, sc.int32) == torch.can_cast(torch.float32, torch.int32)
