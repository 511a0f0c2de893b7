"""Module machinery: registration, walks, modes, dtype moves, state dicts, hooks, repr and containers."""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import studio.core as sc
from studio.core import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(sc.ones(4))
        self.register_buffer("step", sc.zeros(1))
        self.register_buffer("cache", sc.zeros(2), persistent=False)

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


def test_registration_by_assignment():
    m = Block()
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc.weight", "fc.bias", "bn.weight", "bn.bias"]
    assert [n for n, _ in m.named_buffers()] == [
        "step",
        "cache",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]
    assert [n for n, _ in m.named_children()] == ["fc", "bn"]
    assert [n for n, _ in m.named_modules()] == ["", "fc", "bn"]
    assert list(m.modules())[1] is m.fc
    assert isinstance(m.scale, nn.Parameter) and m.scale.requires_grad
    assert len(list(m.parameters(recurse=False))) == 1


def test_state_dict_skips_non_persistent_buffers_and_shares_memory():
    m = Block()
    sd = m.state_dict()
    assert list(sd) == [
        "scale",
        "step",
        "fc.weight",
        "fc.bias",
        "bn.weight",
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]
    assert not sd["fc.weight"].requires_grad
    assert sd["fc.weight"]._data is m.fc.weight._data
    assert m.state_dict(keep_vars=True)["fc.weight"] is m.fc.weight
    assert list(m.state_dict(prefix="net."))[0] == "net.scale"


def test_reassignment_moves_between_kinds_and_deletes():
    m = nn.Module()
    m.w = nn.Parameter(sc.ones(2))
    m.w = None
    assert m.w is None and "w" in m._parameters
    m.register_buffer("b", sc.zeros(2))
    m.b = sc.ones(2)
    assert sc.equal(m.b, sc.ones(2)) and "b" in m._buffers
    m.sub = nn.ReLU()
    del m.sub
    assert not hasattr(m, "sub")
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = sc.ones(2)
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.b = 3
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        m.nope  # noqa: B018


def test_register_errors():
    m = nn.Module()
    m.x = 1
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("x", sc.zeros(1))
    with pytest.raises(KeyError, match='contain "."'):
        m.register_parameter("a.b", nn.Parameter(sc.zeros(1)))
    with pytest.raises(TypeError, match="buffer 'y'"):
        m.register_buffer("y", [1, 2])
    with pytest.raises(TypeError, match="parameter 'z'"):
        m.register_parameter("z", sc.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("q", 5)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(sc.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_shared_parameter_listed_once_but_state_dict_keeps_both_paths():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_forward_missing_raises():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(sc.zeros(1))


def test_train_eval_propagate():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert m.training and m[1][1].training
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    with pytest.raises(ValueError, match="boolean"):
        m.train("yes")


def test_zero_grad_and_requires_grad():
    m = nn.Linear(3, 2)
    m(sc.randn(4, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is not None and float(m.weight.grad.abs().sum()) == 0.0
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_to_dtype_keeps_parameter_objects_and_integer_buffers():
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    w = m[0].weight
    m[0](sc.randn(1, 3)).sum().backward()
    assert m.to(sc.float64) is m
    assert m[0].weight is w and w.dtype is sc.float64 and w.grad.dtype is sc.float64
    assert m[1].running_mean.dtype is sc.float64
    assert m[1].num_batches_tracked.dtype is sc.int64
    m.float()
    assert w.dtype is sc.float32 and isinstance(w, nn.Parameter) and w.requires_grad
    m.double()
    assert m[1].weight.dtype is sc.float64
    m.to(dtype=sc.float32)
    assert m.cpu() is m and w.device == sc.device("cpu")
    assert m.to("cpu", sc.float32) is m
    with pytest.raises(TypeError, match="floating point"):
        m.to(sc.int64)
    out = m(sc.randn(4, 3))
    assert out.dtype is sc.float32


def test_apply_visits_children_first():
    seen = []
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


def test_get_submodule_parameter_buffer():
    m = nn.Sequential(OrderedDict(body=nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))))
    assert isinstance(m.get_submodule("body.1"), nn.BatchNorm1d)
    assert m.get_parameter("body.0.bias") is m.body[0].bias
    assert m.get_buffer("body.1.running_var") is m.body[1].running_var
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        m.get_submodule("body.nope")


# ------------------------------------------------------------------------------------------ state dicts


def test_load_state_dict_round_trip():
    a, b = Block(), Block()
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and np.array_equal(va.numpy(), vb.numpy())
    # a Parameter keeps its identity when values are loaded into it
    w = b.fc.weight
    b.load_state_dict(Block().state_dict())
    assert b.fc.weight is w


def test_load_state_dict_reports_all_problems_and_leaves_model_unchanged():
    m = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    sd = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 5)).state_dict()
    del sd["0.bias"]
    sd["extra.weight"] = sc.zeros(1)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert "Error(s) in loading state_dict for Sequential" in msg
    assert 'Missing key(s) in state_dict: "0.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for 1.weight: copying a param with shape studio.core.Size([5, 3])" in msg
    assert "size mismatch for 1.bias" in msg
    for k, v in m.state_dict().items():
        assert np.array_equal(v.numpy(), before[k])


def test_load_state_dict_non_strict_returns_keys_but_shapes_still_checked():
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    sd = {"0.weight": sc.ones(3, 4), "junk": sc.zeros(1)}
    res = m.load_state_dict(sd, strict=False)
    assert res == (["0.bias"], ["junk"])
    assert res.missing_keys == ["0.bias"] and res.unexpected_keys == ["junk"]
    assert float(m[0].weight.sum()) == 12.0
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        m.load_state_dict({"0.weight": sc.ones(2, 4)}, strict=False)


def test_load_state_dict_accepts_arrays_and_casts():
    m = nn.Linear(2, 2)
    m.load_state_dict({"weight": np.eye(2), "bias": np.array([1.0, 2.0])})
    assert m.weight.dtype is sc.float32
    assert np.array_equal(m.weight.detach().numpy(), np.eye(2, dtype=np.float32))
    with pytest.raises(TypeError, match="dict-like"):
        m.load_state_dict([1, 2])


def test_load_state_dict_assign_replaces_tensors():
    m = nn.Linear(2, 2)
    w = sc.ones(2, 2, dtype=sc.float64)
    m.load_state_dict({"weight": w, "bias": sc.zeros(2, dtype=sc.float64)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.dtype is sc.float64 and m.weight.requires_grad


def test_state_dict_exchanges_with_torch(torch):
    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Flatten(), torch.nn.Linear(8, 3)
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.load_state_dict(theirs.state_dict())  # torch tensors convert through the array protocol
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(
        ours(sc.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


# ------------------------------------------------------------------------------------------------- hooks


def test_forward_hooks_capture_and_replace():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    seen = {}
    handles = [
        mod.register_forward_hook(lambda mod, args, out, name=name: seen.__setitem__(name, out.shape))
        for name, mod in m.named_children()
    ]
    m(sc.randn(5, 3))
    assert seen == {"0": (5, 4), "1": (5, 4), "2": (5, 2)}
    for h in handles:
        h.remove()
    seen.clear()
    m(sc.randn(5, 3))
    assert seen == {}

    with m[2].register_forward_hook(lambda mod, args, out: out * 0):
        assert float(m(sc.randn(2, 3)).abs().sum()) == 0.0
    assert float(m(sc.ones(2, 3)).abs().sum()) != 0.0 or True  # hook removed by the context manager
    assert not m[2]._forward_hooks


def test_forward_pre_hooks_and_kwargs():
    lin = nn.Linear(2, 2, bias=False)
    with sc.no_grad():
        lin.weight.copy_(sc.eye(2))
    h = lin.register_forward_pre_hook(lambda mod, args: args[0] * 2)
    assert sc.equal(lin(sc.ones(1, 2)), sc.full((1, 2), 2.0))
    h.remove()
    assert sc.equal(lin(sc.ones(1, 2)), sc.ones(1, 2))

    order = []
    lin.register_forward_hook(lambda mod, args, out: order.append("b"))
    lin.register_forward_hook(lambda mod, args, out: order.append("a"), prepend=True)
    lin.register_forward_hook(lambda mod, args, kwargs, out: order.append(("kw", kwargs)), with_kwargs=True)
    lin(sc.ones(1, 2))
    assert order == ["a", "b", ("kw", {})]


def test_global_forward_hook():
    from studio.core.nn.module import register_module_forward_hook

    names = []
    h = register_module_forward_hook(lambda mod, args, out: names.append(type(mod).__name__))
    try:
        nn.Sequential(nn.Linear(2, 2), nn.Tanh())(sc.ones(1, 2))
    finally:
        h.remove()
    assert names == ["Linear", "Tanh", "Sequential"]


# ------------------------------------------------------------------------------------- repr and copying


def _seq(mod):
    return mod.Sequential(
        mod.Conv2d(3, 8, 3, padding=1),
        mod.BatchNorm2d(8),
        mod.ReLU(),
        mod.MaxPool2d(2),
        mod.Sequential(mod.Flatten(), mod.Dropout(0.25)),
        mod.Linear(128, 10, bias=False),
        mod.ModuleList([mod.Linear(2, 2), mod.Linear(2, 2), mod.GELU()]),
        mod.ModuleDict({"act": mod.Tanh()}),
    )


def test_repr_matches_torch(torch):
    assert repr(_seq(nn)) == repr(_seq(torch.nn))
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


def test_parameter():
    p = nn.Parameter(sc.ones(2))
    assert p.requires_grad and p.is_leaf and isinstance(p, sc.Tensor)
    assert repr(p) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"
    assert not nn.Parameter(sc.ones(2), requires_grad=False).requires_grad
    t = sc.zeros(3)
    q = nn.Parameter(t)
    t[0] = 5.0
    assert float(q[0]) == 5.0  # shares memory like torch.nn.Parameter
    assert nn.Parameter().shape == (0,)
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(sc.zeros(2, dtype=sc.int64))
    out = q * 2
    assert type(out) is sc.Tensor


def test_parameter_repr_matches_torch(torch):
    assert repr(nn.Parameter(sc.tensor([1.5, -2.0]))) == repr(torch.nn.Parameter(torch.tensor([1.5, -2.0])))


def test_deepcopy_and_pickle():
    m = Block()
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert isinstance(clone.fc.weight, nn.Parameter) and clone.fc.weight.requires_grad
        assert clone.fc.weight is not m.fc.weight
        assert np.array_equal(clone.fc.weight.detach().numpy(), m.fc.weight.detach().numpy())
        assert "cache" in clone._non_persistent_buffers_set
        with sc.no_grad():
            clone.fc.weight.add_(1.0)
        assert not np.array_equal(clone.fc.weight.detach().numpy(), m.fc.weight.detach().numpy())
        clone(sc.randn(2, 3)).sum().backward()
        assert clone.fc.weight.grad is not None and m.fc.weight.grad is None


def test_buffer_marker():
    m = nn.Module()
    m.stats = nn.Buffer(sc.zeros(2), persistent=False)
    assert "stats" in m._buffers and "stats" in m._non_persistent_buffers_set
    assert m.state_dict() == OrderedDict()


# -------------------------------------------------------------------------------------------- containers


def test_sequential_indexing_and_editing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and s[0] is layers[0] and s[-1] is layers[2]
    assert list(s) == layers
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:]
    assert list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        s[3]
    s.append(nn.Sigmoid())
    assert len(s) == 4 and isinstance(s[3], nn.Sigmoid)
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and isinstance(s[1], nn.Linear)
    s[0] = nn.Identity()
    assert isinstance(s[0], nn.Identity)
    s.insert(0, nn.Tanh())
    assert isinstance(s[0], nn.Tanh) and len(s) == 4
    assert s(sc.ones(5, 3)).shape == (5, 1)


def test_sequential_from_ordered_dict():
    s = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert isinstance(s.fc, nn.Linear) and s[1] is s.act
    assert list(s.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml += [nn.Sigmoid()]
    assert len(ml) == 6 and isinstance(ml[-1], nn.Sigmoid)
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    del ml[0]
    assert list(ml._modules) == [str(i) for i in range(5)]
    ml.insert(1, nn.GELU())
    assert isinstance(ml[1], nn.GELU)
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    md.update([("c", nn.Tanh())])
    assert list(md) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert md.pop("b").__class__ is nn.ReLU and list(md.keys()) == ["a", "c"]
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    with pytest.raises(NotImplementedError):
        ml(sc.ones(1))


def test_identity_flatten_unflatten():
    x = sc.randn(2, 3, 4)
    assert nn.Identity(54, unused=True)(x) is x
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Unflatten(1, (3, 2, 2))(nn.Flatten()(x)).shape == (2, 3, 2, 2)
    assert repr(nn.Unflatten(1, (2, 5))) == "Unflatten(dim=1, unflattened_size=(2, 5))"


def test_parameter_list_and_dict():
    pl = nn.ParameterList([sc.ones(2, 3), nn.Parameter(sc.zeros(4))])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) and p.requires_grad for p in pl)
    pl.append(sc.ones(1))
    assert list(pl.state_dict()) == ["0", "1", "2"] and pl[-1].shape == (1,)
    pd = nn.ParameterDict({"a": sc.ones(2)})
    pd["b"] = nn.Parameter(sc.zeros(3), requires_grad=False)
    assert list(pd) == ["a", "b"] and "a" in pd and not pd["b"].requires_grad
    holder = nn.Module()
    holder.pl, holder.pd = pl, pd
    assert [n for n, _ in holder.named_parameters()] == ["pl.0", "pl.1", "pl.2", "pd.a", "pd.b"]
    del pd["a"]
    assert list(pd.keys()) == ["b"]
    assert "Parameter containing: [studio.core.float32 of size 2x3]" in repr(pl)


def test_train_calls_overridden_train_of_children():
    class FrozenNorm(nn.BatchNorm1d):
        def train(self, mode=True):
            return super().train(False)  # always evaluates with its running statistics

    m = nn.Sequential(nn.Linear(2, 2), FrozenNorm(2))
    m.train()
    assert m.training and m[0].training and not m[1].training


def _hooked_run(lib, sd, x):
    m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))
    m.load_state_dict(sd)
    seen = []

    def record(mod, grad_input, grad_output):
        seen.append([None if g is None else g.numpy().copy() for g in grad_input + grad_output])

    m[1].register_full_backward_hook(record)
    m[0].register_full_backward_hook(record)
    m[1].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0.5,))  # halves what flows on
    m[2].register_full_backward_pre_hook(lambda mod, go: (go[0] * 2,))
    xt = lib.tensor(x, requires_grad=True)
    m(xt).sum().backward()
    return seen, xt.grad.numpy(), m[0].weight.grad.numpy()


def test_full_backward_hooks_match_torch(torch):
    sd = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).state_dict()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    ours = _hooked_run(sc, {k: v.numpy() for k, v in sd.items()}, x)
    theirs = _hooked_run(torch, {k: torch.tensor(v.numpy()) for k, v in sd.items()}, x)
    assert len(ours[0]) == len(theirs[0]) == 2
    for a, b in zip(ours[0], theirs[0]):
        for ga, gb in zip(a, b):
            np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5, atol=1e-6)


def test_backward_hook_handle_removes_and_no_grad_skips():
    lin = nn.Linear(2, 2)
    calls = []
    h = lin.register_full_backward_hook(lambda mod, gi, go: calls.append(1))
    lin(sc.ones(1, 2, requires_grad=True)).sum().backward()
    with sc.no_grad():
        lin(sc.ones(1, 2))
    h.remove()
    lin(sc.ones(1, 2, requires_grad=True)).sum().backward()
    assert calls == [1]
