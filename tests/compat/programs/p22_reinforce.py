"""REINFORCE (the reinforcement learning example's policy gradient) on a tiny corridor: a policy
network, actions sampled with torch.multinomial, discounted returns normalised with mean and std,
eps from torch.finfo, and the policy loss summed with torch.stack."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Policy(nn.Module):
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(2, 32)
        self.dropout = nn.Dropout(p=0.1)
        self.affine2 = nn.Linear(32, 2)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = self.dropout(x)
        x = F.relu(x)
        return F.softmax(self.affine2(x), dim=1)


def step(position, action):
    position += 1 if action == 1 else -1
    done = position >= 5 or position <= -5
    return position, (1.0 if position >= 5 else -0.1), done


def main():
    torch.manual_seed(543)
    policy = Policy()
    optimizer = optim.Adam(policy.parameters(), lr=2e-2)
    eps = np.finfo(np.float32).eps.item()
    assert eps == torch.finfo(torch.float32).eps
    gamma, lengths = 0.95, []
    for episode in range(40):
        position, t = 0, 0
        for t in range(1, 60):
            state = torch.tensor([[position / 5.0, 1.0]])
            probs = policy(state)
            action = torch.multinomial(probs, 1).item()
            policy.saved_log_probs.append(torch.log(probs[0, action]))
            position, reward, done = step(position, action)
            policy.rewards.append(reward)
            if done:
                break
        R, returns = 0, []
        for r in policy.rewards[::-1]:
            R = r + gamma * R
            returns.insert(0, R)
        returns = torch.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        policy_loss = [-log_prob * R for log_prob, R in zip(policy.saved_log_probs, returns)]
        optimizer.zero_grad()
        policy_loss = torch.stack(policy_loss).sum()
        policy_loss.backward()
        optimizer.step()
        del policy.rewards[:]
        del policy.saved_log_probs[:]
        lengths.append(t)
    return {"loose": {"episode_length": [float(np.mean(lengths[:10])), float(np.mean(lengths[-10:]))]}}
