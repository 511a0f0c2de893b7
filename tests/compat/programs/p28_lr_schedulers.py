"""Learning-rate schedules as scripts use them: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR,
LambdaLR with warm-up, OneCycleLR, ReduceLROnPlateau, and a SequentialLR chaining two."""

import torch
from torch.optim import lr_scheduler


def run(make, steps=12, metric=None):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    scheduler = make(optimizer)
    lrs = []
    for i in range(steps):
        optimizer.step()
        if metric is None:
            scheduler.step()
        else:
            scheduler.step(metric(i))
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


def main():
    return {
        "exact": {
            "step": run(lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
            "multistep": run(lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 5, 9], gamma=0.3)),
            "exponential": run(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9)),
            "cosine": run(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
            "lambda": run(lambda o: lr_scheduler.LambdaLR(o, lambda epoch: min(1.0, (epoch + 1) / 4))),
            "onecycle": run(lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=12)),
            "plateau": run(
                lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1, factor=0.5), metric=lambda i: 1.0
            ),
            "sequential": run(
                lambda o: lr_scheduler.SequentialLR(
                    o,
                    [
                        lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4),
                        lr_scheduler.ExponentialLR(o, gamma=0.8),
                    ],
                    milestones=[4],
                )
            ),
        }
    }
