"""PyTorch's namespaces that scripts touch at start-up: accelerator, backends, distributed, nn.parallel,
autograd.Variable, the legacy typed constructors, device predicates, `new_*`, and missing names."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import nn


def test_accelerator_reports_cupy_cuda_or_none(torch):
    assert sc.accelerator.is_available() == sc.cuda.is_available()
    if not sc.cuda.is_available():
        assert sc.accelerator.current_accelerator() is None
        assert sc.accelerator.device_count() == 0
        assert sc.accelerator.current_device_index() == -1
    else:
        assert sc.accelerator.current_accelerator() == sc.device("cuda")
    # the idiom of the current official examples
    acc = sc.accelerator.current_accelerator() if sc.accelerator.is_available() else sc.device("cpu")
    assert sc.ones(2).to(acc).device == acc
    with sc.accelerator.device_index(None):
        sc.accelerator.synchronize()


def test_backends_flags_are_kept_and_answer(torch):
    sc.backends.cudnn.benchmark = True
    assert sc.backends.cudnn.benchmark is True
    sc.backends.cudnn.benchmark = False
    sc.backends.cuda.matmul.allow_tf32 = True
    assert sc.backends.cuda.matmul.allow_tf32
    sc.backends.cuda.matmul.allow_tf32 = False
    assert sc.backends.mps.is_available() is False and sc.backends.mps.is_built() is False
    with sc.backends.cudnn.flags(enabled=False, deterministic=True):
        assert sc.backends.cudnn.deterministic is True
    assert sc.backends.cudnn.deterministic is False and sc.backends.cudnn.enabled is True


def test_distributed_is_not_initialized_and_refuses_with_advice():
    assert sc.distributed.is_available() is False
    assert sc.distributed.is_initialized() is False
    with pytest.raises(RuntimeError, match="torchrun"):
        sc.distributed.init_process_group("gloo")
    with pytest.raises(ValueError, match="not been initialized"):
        sc.distributed.get_rank()
    with pytest.raises(AttributeError, match="torch.distributed.new_group.*torchrun"):
        sc.distributed.new_group  # noqa: B018


def test_data_parallel_calls_the_module_and_prefixes_state_dict(torch):
    sc.manual_seed(0)
    inner = nn.Linear(3, 2)
    dp = nn.DataParallel(inner, device_ids=[0])
    x = sc.randn(4, 3)
    np.testing.assert_array_equal(dp(x).detach().numpy(), inner(x).detach().numpy())
    tdp = torch.nn.DataParallel(torch.nn.Linear(3, 2))
    assert list(dp.state_dict()) == list(tdp.state_dict())
    assert nn.parallel.data_parallel(inner, x).shape == (4, 2)
    with pytest.raises(RuntimeError, match="torchrun"):
        nn.parallel.DistributedDataParallel(inner)


def test_variable_is_a_tensor_sharing_values(torch):
    t = sc.ones(2)
    v = sc.autograd.Variable(t, requires_grad=True)
    tv = torch.autograd.Variable(torch.ones(2), requires_grad=True)
    assert isinstance(v, sc.Tensor) and isinstance(t, sc.autograd.Variable)
    assert v.requires_grad == tv.requires_grad and v.is_leaf
    assert v.data_ptr() == t.data_ptr()
    (v * 3).sum().backward()
    assert v.grad.tolist() == [3.0, 3.0]
    with pytest.warns(UserWarning, match="volatile"):
        sc.autograd.Variable(t, volatile=True)


@pytest.mark.parametrize(
    "name", ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "ByteTensor", "BoolTensor"]
)
def test_legacy_typed_constructors_match_pytorch(torch, name):
    ours, theirs = getattr(sc, name), getattr(torch, name)
    for args in ([[1, 0, 2]], [2, 3], []):
        a, b = ours(*args), theirs(*args)
        assert a.shape == tuple(b.shape) and str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        if args and isinstance(args[0], list):
            assert a.tolist() == b.tolist()
    assert ours(sc.Size([2, 1])).shape == (2, 1)
    x = sc.zeros(2).to(ours.dtype)
    assert isinstance(x, ours) and not isinstance(x.to(sc.float16), ours)
    assert x.type() == theirs(2).type() == f"torch.{name}"
    assert sc.ones(2).type(ours).dtype == ours.dtype and sc.ones(2).type(f"torch.{name}").dtype == ours.dtype


def test_legacy_constructor_refuses_a_tensor_of_another_type():
    with pytest.raises(TypeError, match="expected a tensor of type int64, got float32"):
        sc.LongTensor(sc.ones(2))
    assert repr(sc.cuda.FloatTensor) == "<class 'torch.cuda.FloatTensor'>"


def test_device_predicates_and_new_family_match_pytorch(torch):
    a, b = sc.ones(2, 3, dtype=sc.float64), torch.ones(2, 3, dtype=torch.float64)
    for name in (
        "is_cpu",
        "is_cuda",
        "is_xpu",
        "is_mps",
        "is_meta",
        "is_sparse",
        "is_quantized",
        "is_nested",
    ):
        assert getattr(a, name) == getattr(b, name), name
    assert a.get_device() == b.get_device() == -1
    assert a.is_complex() is False and a.is_signed() is True
    for make in (
        lambda t: t.new_zeros(2),
        lambda t: t.new_ones((3, 1)),
        lambda t: t.new_full((2,), 7),
        lambda t: t.new_empty(4).fill_(1),
        lambda t: t.new_tensor([1, 2]),
        lambda t: t.new_zeros(2, dtype=t.new_tensor([1]).long().dtype),
        lambda t: t.new(2).zero_(),
        lambda t: t.new([1.5]),
    ):
        x, y = make(a), make(b)
        assert x.tolist() == y.tolist() and str(x.dtype).split(".")[-1] == str(y.dtype).split(".")[-1]
    assert a.new_ones(2, requires_grad=True).requires_grad


def test_missing_names_name_the_pytorch_feature():
    with pytest.raises(AttributeError, match=r"torch.compile\): graph compilation"):
        sc.compile  # noqa: B018
    with pytest.raises(AttributeError, match=r"PyTorch's torch.nn.NoSuchLayer\): not implemented"):
        nn.NoSuchLayer  # noqa: B018
    with pytest.raises(AttributeError, match="torch.nn.functional.no_such_fn"):
        nn.functional.no_such_fn  # noqa: B018
    with pytest.raises(AttributeError, match="torch.optim.NoSuchOpt"):
        sc.optim.NoSuchOpt  # noqa: B018
    with pytest.raises(AttributeError, match="torch.utils.data.NoSuchThing"):
        sc.utils.data.NoSuchThing  # noqa: B018
    assert not hasattr(sc, "no_such_name")


def test_utils_data_paths_are_the_data_modules():
    from studio.core.utils.data import DataLoader
    from studio.core.utils.data.sampler import RandomSampler

    from studio.core.data import sampler

    assert DataLoader is sc.data.DataLoader and RandomSampler is sampler.RandomSampler


def test_resize_and_container_match_pytorch(torch):
    for lib in (sc, torch):
        t = lib.arange(6.0)
        t.resize_(2, 2)
        first = t.tolist()
        t.resize_(3)
        if lib is sc:
            ours = (first, t.tolist())
        else:
            assert ours == (first, t.tolist())
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        sc.ones(2, requires_grad=True).resize_(3)
    with pytest.warns(FutureWarning, match="nn.Container"):
        c = nn.Container(a=nn.Linear(2, 2))
    assert list(c.state_dict()) == ["a.weight", "a.bias"]


def test_onnx_is_reachable_after_importing_the_package_alone():
    assert callable(sc.onnx.export)
