"""Padding as image and sequence models write it: F.pad in each mode and the padding layers
(ReflectionPad2d, ReplicationPad1d, ZeroPad2d, ConstantPad3d, CircularPad2d), with their gradients."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def main():
    x = torch.arange(1.0, 13.0).reshape(1, 1, 3, 4).requires_grad_()
    results = {
        "constant": F.pad(x, (1, 2, 0, 1), value=-1.0),
        "reflect": F.pad(x, (2, 1, 1, 2), mode="reflect"),
        "replicate": F.pad(x, (3, 0, 0, 2), mode="replicate"),
        "circular": F.pad(x, (1, 1, 2, 0), mode="circular"),
        "reflection2d": nn.ReflectionPad2d(2)(x),
        "replication1d": nn.ReplicationPad1d((2, 1))(x[0]),
        "zero2d": nn.ZeroPad2d((1, 0, 0, 1))(x),
        "constant3d": nn.ConstantPad3d(1, 0.5)(x),
        "circular2d": nn.CircularPad2d(1)(x),
        "crop": F.pad(x, (-1, -1, 0, 0)),
    }
    total = sum((v * v).sum() for v in results.values())
    total.backward()
    results["grad"] = x.grad
    results["repr"] = repr(nn.ReflectionPad2d((1, 2, 3, 4)))
    return {"exact": results}
