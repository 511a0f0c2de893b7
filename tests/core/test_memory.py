"""Memory: the host counters, in-place activations that allocate nothing, and the graph's saved
values freed as soon as backward has passed each node."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core import memory

nn = sc.nn
MB = 2**20


def test_host_counters_follow_array_allocations_and_their_peak():
    with memory.counting() as stats:
        a = sc.zeros(1024, 1024)  # 4 MiB
        assert memory.memory_allocated() - stats["start"] >= 4 * MB
        b = a + 1  # 4 MiB more, briefly
        del a, b
        assert memory.memory_allocated() - stats["start"] < MB
        assert memory.max_memory_allocated() - stats["start"] >= 8 * MB
        memory.reset_peak_memory_stats()
        assert memory.max_memory_allocated() - stats["start"] < MB
    assert stats["peak"] < MB  # the peak since the last reset
    assert not memory.is_counting()
    with pytest.raises(RuntimeError, match="host memory is counted only while counting is on"):
        memory.memory_allocated()
    with memory.counting():
        stats = memory.memory_stats()
    assert set(stats) == {"allocated_bytes.all.current", "allocated_bytes.all.peak"}


def test_cuda_counters_read_zero_without_a_gpu():
    if sc.cuda.is_available():
        pytest.skip("a GPU is present: its counters are exercised by the GPU tests")
    assert sc.cuda.memory_allocated() == 0 and sc.cuda.max_memory_allocated() == 0
    sc.cuda.reset_peak_memory_stats()
    assert sc.cuda.memory_stats() == {"allocated_bytes.all.current": 0, "allocated_bytes.all.peak": 0}


@pytest.mark.parametrize(
    "activation", [nn.ReLU(inplace=True), nn.LeakyReLU(0.1, inplace=True), nn.ReLU6(inplace=True)]
)
def test_inplace_activations_allocate_nothing_and_give_the_same_gradients(torch, activation):
    x = sc.randn(512, 512, requires_grad=True)
    h = x * 2  # a non-leaf the activation may overwrite
    with memory.counting() as stats:
        out = activation(h)
    assert out is h
    assert stats["peak"] < 300 * 1024  # at most a boolean mask, never a copy of the 1 MiB array
    out.sum().backward()
    t = torch.tensor(x.detach().numpy(), requires_grad=True)
    t_act = getattr(torch.nn, type(activation).__name__)(*_args(activation), inplace=True)
    t_act(t * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())


def _args(activation):
    return (activation.negative_slope,) if isinstance(activation, nn.LeakyReLU) else ()


def test_inplace_relu_lowers_the_peak_of_a_training_forward_pass():
    def run(inplace):
        model = nn.Sequential(nn.Linear(256, 1024), nn.ReLU(inplace=inplace))
        x = sc.randn(1024, 256)
        model(x)
        with memory.counting() as stats:
            out = model(x)
        assert out.requires_grad
        return stats["peak"]

    # out of place, the Linear's 4 MiB output and the ReLU's are alive together for a moment
    assert run(True) <= run(False) - 3.5 * MB


def test_an_inplace_change_of_a_saved_output_is_still_caught():
    x = sc.randn(4, requires_grad=True)
    y = x.exp()  # exp saves its output
    nn.functional.relu(y, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def _memory_between_hooks(retain_graph):
    """Host bytes allocated when the gradient reaches the last block, less when it reaches the first."""
    blocks = 8
    model = nn.Sequential(*[nn.Sequential(nn.Linear(256, 256), nn.Tanh()) for _ in range(blocks)])
    seen = {}

    def hook(name):
        return lambda grad: seen.__setitem__(name, memory.memory_allocated())

    with memory.counting():
        h = sc.randn(1024, 256)
        for i, block in enumerate(model):
            h = block(h)
            if i in (0, blocks - 1):
                h.register_hook(hook(i))
        h.sum().backward(retain_graph=retain_graph)
    return seen[blocks - 1] - seen[0]


def test_backward_frees_each_node_s_saved_values_as_it_passes():
    activation = 1024 * 256 * 4
    freed = _memory_between_hooks(retain_graph=False) - _memory_between_hooks(retain_graph=True)
    # from the last block to the first, backward passed six Tanh outputs (which the next Linear saved
    # too) that nothing else holds: each was released as soon as both nodes had run
    assert freed >= 0.9 * 6 * activation
