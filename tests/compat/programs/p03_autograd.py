"""Autograd tutorial: gradients of a one-layer network, no_grad and detach, vector-Jacobian products."""

import torch


def main():
    x = torch.ones(5)
    y = torch.zeros(3)
    w = torch.linspace(-1.0, 1.0, 15).reshape(5, 3).requires_grad_(True)
    b = torch.tensor([0.1, -0.2, 0.3], requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    loss.backward()
    grad_fn_name = type(z.grad_fn).__name__
    with torch.no_grad():
        z2 = torch.matmul(x, w) + b
    z_det = z.detach()
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    first = inp.grad.clone()
    out.backward(torch.ones_like(out))
    second = inp.grad.clone()
    inp.grad.zero_()
    out2 = (inp + 1).pow(2).t()
    out2.backward(torch.ones_like(out2))
    a = torch.tensor([2.0, 3.0], requires_grad=True)
    q = 3 * a**3 - a**2
    (da,) = torch.autograd.grad(q.sum(), a)
    return {
        "exact": {
            "loss": loss,
            "w_grad": w.grad,
            "b_grad": b.grad,
            "grad_fn": grad_fn_name,
            "z_requires_grad": z.requires_grad,
            "z2_requires_grad": z2.requires_grad,
            "det_requires_grad": z_det.requires_grad,
            "first": first,
            "second": second,
            "third": inp.grad,
            "da": da,
            "is_leaf": [w.is_leaf, z.is_leaf],
        }
    }
