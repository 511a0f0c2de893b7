"""Pruning (nn.utils.prune) against PyTorch: same masks and pruned weights for the same inputs, same
reparametrization (weight_orig, weight_mask, the pre-hook), state dicts that load into PyTorch."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import studio.core as sc
import studio.core.nn.utils.prune as prune

nn = sc.nn


@pytest.fixture
def tprune(torch):
    import torch.nn.utils.prune as tprune

    return tprune


def _twins(torch, make_studio, make_torch, seed=0):
    torch.manual_seed(seed)
    t = make_torch()
    s = make_studio()
    s.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return s, t


def _state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def _same_state(s, t):
    ss, ts = _state(s), _state(t)
    assert list(ss) == list(ts)
    for k in ts:
        np.testing.assert_array_equal(ss[k], ts[k], err_msg=k)


def test_l1_unstructured_matches_pytorch_mask_weights_keys_and_output(torch, tprune):
    s, t = _twins(torch, lambda: nn.Linear(12, 7), lambda: torch.nn.Linear(12, 7))
    prune.l1_unstructured(s, "weight", amount=0.3)
    tprune.l1_unstructured(t, "weight", amount=0.3)
    _same_state(s, t)
    assert set(dict(s.named_parameters())) == {"weight_orig", "bias"}
    np.testing.assert_array_equal(s.weight.detach().numpy(), t.weight.detach().numpy())
    x = np.random.default_rng(0).standard_normal((5, 12)).astype(np.float32)
    np.testing.assert_allclose(
        s(sc.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(), atol=1e-6
    )


@pytest.mark.parametrize("seed", range(4))
def test_iterative_pruning_combines_masks_like_pytorch(torch, tprune, seed):
    # each new method ranks the values as pruned so far, and sees only what is still unpruned
    s, t = _twins(torch, lambda: nn.Conv2d(3, 8, 3), lambda: torch.nn.Conv2d(3, 8, 3), seed)
    steps = [
        ("l1_unstructured", dict(name="weight", amount=0.2)),
        ("ln_structured", dict(name="weight", amount=0.25, n=2, dim=0)),
        ("l1_unstructured", dict(name="weight", amount=10)),
        ("ln_structured", dict(name="weight", amount=1, n=1, dim=1)),
        ("l1_unstructured", dict(name="bias", amount=0.5)),
    ]
    for fn, kwargs in steps:
        getattr(prune, fn)(s, **kwargs)
        getattr(tprune, fn)(t, **kwargs)
        _same_state(s, t)
    hooks = list(s._forward_pre_hooks.values())
    assert isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == 4


def test_ln_structured_with_infinity_norm_and_importance_scores(torch, tprune):
    s, t = _twins(torch, lambda: nn.Linear(6, 9), lambda: torch.nn.Linear(6, 9))
    scores = np.random.default_rng(3).random((9, 6)).astype(np.float32)
    prune.ln_structured(s, "weight", 0.4, float("inf"), dim=1, importance_scores=sc.tensor(scores))
    tprune.ln_structured(t, "weight", 0.4, float("inf"), dim=1, importance_scores=torch.tensor(scores))
    _same_state(s, t)


def test_global_unstructured_prunes_the_smallest_across_layers(torch, tprune):
    def make(lib):
        return lib.nn.Sequential(lib.nn.Linear(10, 20), lib.nn.ReLU(), lib.nn.Linear(20, 5))

    s, t = _twins(torch, lambda: make(sc), lambda: make(torch))
    prune.l1_unstructured(s[2], "weight", 0.1)
    tprune.l1_unstructured(t[2], "weight", 0.1)
    prune.global_unstructured([(s[0], "weight"), (s[2], "weight")], prune.L1Unstructured, amount=0.6)
    tprune.global_unstructured([(t[0], "weight"), (t[2], "weight")], tprune.L1Unstructured, amount=0.6)
    _same_state(s, t)
    zeros = sum(int((m.weight == 0).sum()) for m in (s[0], s[2]))
    assert zeros == 10 + round(0.6 * 290)  # the global share is of the entries still unpruned


def test_random_methods_have_pytorch_structure_and_statistics():
    m = nn.Conv2d(4, 10, 3)
    prune.random_structured(m, "weight", amount=0.3, dim=0)
    per_channel = m.weight_mask.sum(dim=(1, 2, 3)).numpy()
    assert sorted(set(per_channel.tolist())) == [0.0, 36.0] and (per_channel == 0).sum() == 3
    big = nn.Linear(100, 100)
    prune.random_unstructured(big, "weight", amount=0.37)
    assert int((big.weight_mask == 0).sum()) == 3700
    # the pruned positions are spread evenly: no row keeps much more than its share
    rows = big.weight_mask.sum(dim=1).numpy()
    assert 40 < rows.mean() < 80 and rows.std() < 10
    sc.manual_seed(1)
    a = nn.Linear(50, 50)
    prune.random_unstructured(a, "weight", 0.5)
    sc.manual_seed(1)
    b = nn.Linear(50, 50)
    prune.random_unstructured(b, "weight", 0.5)
    np.testing.assert_array_equal(a.weight_mask.numpy(), b.weight_mask.numpy())


def test_identity_remove_and_is_pruned():
    m = nn.Linear(3, 2)
    assert not prune.is_pruned(m)
    prune.identity(m, "weight")
    assert prune.is_pruned(nn.Sequential(m))
    assert m.weight_mask.numpy().tolist() == [[1.0] * 3] * 2
    prune.l1_unstructured(m, "weight", amount=2)
    pruned = m.weight.detach().numpy().copy()
    orig = m.weight_orig
    prune.remove(m, "weight")
    assert not prune.is_pruned(m)
    assert list(m.state_dict()) == ["bias", "weight"]
    assert m.weight is orig  # the same Parameter, now holding the pruned values
    np.testing.assert_array_equal(m.weight.detach().numpy(), pruned)
    with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
        prune.remove(m, "weight")


def test_a_pruned_model_state_dict_loads_into_pytorch_and_back(torch, tprune, tmp_path):
    from safetensors.torch import load_file

    def make(lib):
        return lib.nn.Sequential(lib.nn.Linear(8, 16), lib.nn.ReLU(), lib.nn.Linear(16, 3))

    s = make(sc)
    for layer in (s[0], s[2]):
        prune.l1_unstructured(layer, "weight", 0.5)
    path = tmp_path / "pruned.safetensors"
    sc.save(s.state_dict(), path)
    t = make(torch)
    for layer in (t[0], t[2]):
        tprune.identity(layer, "weight")
    t.load_state_dict(load_file(str(path)))
    x = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    with sc.no_grad(), torch.no_grad():
        np.testing.assert_allclose(s(sc.tensor(x)).numpy(), t(torch.tensor(x)).numpy(), atol=1e-6)


def test_training_updates_weight_orig_and_keeps_pruned_entries_at_zero():
    m = nn.Linear(6, 4)
    prune.l1_unstructured(m, "weight", 0.5)
    opt = sc.optim.SGD(m.parameters(), lr=0.1)
    mask = m.weight_mask.numpy().copy()
    for _ in range(3):
        opt.zero_grad()
        m(sc.randn(8, 6)).pow(2).sum().backward()
        opt.step()
    assert m.weight_orig.grad is not None
    np.testing.assert_array_equal(m.weight_orig.grad.numpy() * (1 - mask), 0)
    m(sc.randn(1, 6))  # the hook recomputes the pruned weight
    np.testing.assert_array_equal(m.weight.detach().numpy() * (1 - mask), 0)


def test_custom_method_through_base_pruning_method():
    class EveryOther(prune.BasePruningMethod):
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t, default_mask):
            mask = default_mask.clone()
            mask.view(-1)[::2] = 0
            return mask

    m = nn.Linear(4, 3)
    EveryOther.apply(m, "weight")
    assert m.weight_mask.view(-1).numpy().tolist() == [0.0, 1.0] * 6
    pruned = EveryOther().prune(sc.ones(4))
    assert pruned.numpy().tolist() == [0.0, 1.0, 0.0, 1.0]


def test_pruned_models_copy_deeply_after_an_inference_pass_as_in_pytorch():
    m = nn.Sequential(nn.Linear(4, 4))
    prune.l1_unstructured(m[0], "weight", 0.5)
    with pytest.raises(RuntimeError, match="graph leaves"):  # weight is orig * mask, a graph result
        copy.deepcopy(m)
    x = sc.randn(2, 4)
    with sc.no_grad():
        m(x)
    twin = copy.deepcopy(m)
    np.testing.assert_array_equal(m(x).detach().numpy(), twin(x).detach().numpy())


def test_bad_arguments_are_refused_and_leave_the_module_unchanged():
    m = nn.Linear(4, 3)
    with pytest.raises(ValueError, match="amount=1.5 should either be a float in the range"):
        prune.l1_unstructured(m, "weight", 1.5)
    with pytest.raises(ValueError, match="amount=13 should be smaller than the number of parameters"):
        prune.l1_unstructured(m, "weight", 13)
    assert list(m.state_dict()) == ["weight", "bias"] and not prune.is_pruned(m)
    with pytest.raises(AttributeError, match="no parameter or buffer named 'kernel'"):
        prune.l1_unstructured(m, "kernel", 0.5)
    with pytest.raises(ValueError, match="Structured pruning can only be applied to multidimensional"):
        prune.ln_structured(m, "bias", 0.5, 2, 0)
    assert list(m.state_dict()) == ["weight", "bias"]
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE'):
        prune.global_unstructured([(m, "weight")], prune.RandomStructured, amount=0.5)
