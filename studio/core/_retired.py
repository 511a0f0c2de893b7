"""Tensor methods PyTorch keeps from its first API only to deprecate or redirect them: `resize`
(a reshape with a deprecation warning) and `reinforce` (removed; it raises with the replacement)."""

from __future__ import annotations

import math
import warnings

_REINFORCE_REMOVED = """reinforce() was removed.
Use torch.distributions instead.
See https://pytorch.org/docs/main/distributions.html

Instead of:

probs = policy_network(state)
action = probs.multinomial()
next_state, reward = env.step(action)
action.reinforce(reward)
action.backward()

Use:

probs = policy_network(state)
# NOTE: categorical is equivalent to what used to be called multinomial
m = torch.distributions.Categorical(probs)
action = m.sample()
next_state, reward = env.step(action)
loss = -m.log_prob(action) * reward
loss.backward()
"""


def resize(self, *sizes):
    """The tensor in a new shape of the same number of elements (deprecated in PyTorch; use reshape)."""
    warnings.warn("non-inplace resize is deprecated", stacklevel=2)
    if len(sizes) == 1 and isinstance(sizes[0], tuple | list):
        sizes = tuple(sizes[0])
    total = math.prod(sizes)
    if total != self.numel():
        shape = " x ".join(str(s) for s in sizes)
        have = " x ".join(str(s) for s in self.shape)
        raise RuntimeError(
            f"requested resize to {shape} ({total} elements in total), but the given tensor has a size of "
            f"{have} ({self.numel()} elements). autograd's resize can only change the shape of a given "
            "tensor, while preserving the number of elements. "
        )
    return self.contiguous().view(*sizes)


def reinforce(self, reward):
    raise RuntimeError(_REINFORCE_REMOVED)
