"""Actor-critic (the reinforcement learning example's second script) on a small deterministic
environment written here: a shared body with an action head and a value head, actions drawn from
torch.distributions.Categorical, log_prob and entropy in the loss, smooth_l1_loss for the critic."""

from collections import namedtuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical

SavedAction = namedtuple("SavedAction", ["log_prob", "value"])


class Corridor:
    """Walk from the middle of a corridor of 9 cells to its right end; left end and time-outs fail."""

    def reset(self):
        self.position, self.t = 4, 0
        return self._state()

    def _state(self):
        state = [0.0] * 9
        state[self.position] = 1.0
        return state

    def step(self, action):
        self.t += 1
        self.position += 1 if action == 1 else -1
        if self.position == 8:
            return self._state(), 1.0, True
        if self.position == 0 or self.t >= 30:
            return self._state(), -1.0, True
        return self._state(), -0.01, False


class Policy(nn.Module):
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(9, 32)
        self.action_head = nn.Linear(32, 2)
        self.value_head = nn.Linear(32, 1)
        self.saved_actions = []
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.affine1(x))
        action_prob = F.softmax(self.action_head(x), dim=-1)
        state_values = self.value_head(x)
        return action_prob, state_values


def select_action(model, state):
    state = torch.tensor(state).float()
    probs, state_value = model(state)
    m = Categorical(probs)
    action = m.sample()
    model.saved_actions.append(SavedAction(m.log_prob(action), state_value))
    return action.item(), m.entropy()


def finish_episode(model, optimizer, entropies, gamma=0.95, eps=1e-8):
    R, policy_losses, value_losses, returns = 0, [], [], []
    for r in model.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    if len(returns) > 1:
        returns = (returns - returns.mean()) / (returns.std() + eps)
    for (log_prob, value), R in zip(model.saved_actions, returns):
        advantage = R - value.item()
        policy_losses.append(-log_prob * advantage)
        value_losses.append(F.smooth_l1_loss(value, torch.tensor([R])))
    optimizer.zero_grad()
    entropy_bonus = 0.01 * torch.stack(entropies).sum()
    loss = torch.stack(policy_losses).sum() + torch.stack(value_losses).sum() - entropy_bonus
    loss.backward()
    optimizer.step()
    del model.rewards[:]
    del model.saved_actions[:]


def deterministic_checks():
    """Values that do not depend on the random draws."""
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    m = Categorical(probs=probs)
    logits_m = Categorical(logits=torch.log(probs))
    actions = torch.tensor([2, 0])
    return {
        "log_prob": m.log_prob(actions).tolist(),
        "entropy": m.entropy().tolist(),
        "logits_log_prob": logits_m.log_prob(actions).tolist(),
        "batch_shape": list(m.batch_shape),
        "sample_shape": list(m.sample((5,)).shape),
        "support": m.enumerate_support().tolist(),
    }


def main():
    torch.manual_seed(543)
    env, model = Corridor(), Policy()
    optimizer = optim.Adam(model.parameters(), lr=3e-2)
    lengths = []
    for episode in range(60):
        state, entropies = env.reset(), []
        for t in range(1, 40):
            action, entropy = select_action(model, state)
            entropies.append(entropy)
            state, reward, done = env.step(action)
            model.rewards.append(reward)
            if done:
                break
        finish_episode(model, optimizer, entropies)
        lengths.append(float(t))
    first, last = sum(lengths[:15]) / 15, sum(lengths[-15:]) / 15
    return {"exact": deterministic_checks(), "loose": {"episode_length": [first, last]}}
