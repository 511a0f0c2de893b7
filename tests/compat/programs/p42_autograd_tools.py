"""Autograd tools beyond backward(): tensor hooks, retain_grad, autograd.grad of several inputs,
no_grad as a decorator, set_grad_enabled and inference_mode, detach_, a Function with
needs_input_grad and non-differentiable outputs, and gradcheck in float64."""

import torch


class ScaleAndSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        sign = torch.sign(x)
        ctx.mark_non_differentiable(sign)
        return x * scale, sign

    @staticmethod
    def backward(ctx, grad_out, grad_sign):
        grad_x = grad_out * ctx.scale if ctx.needs_input_grad[0] else None
        return grad_x, None


@torch.no_grad()
def frozen_forward(w, x):
    return w * x


def main():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()))
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    (y**2).sum().backward()
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(3.0, requires_grad=True)
    ga, gb = torch.autograd.grad(a * b + b**2, (a, b))
    with torch.set_grad_enabled(False):
        z = a * 2
    with torch.inference_mode():
        w = b * 2
    frozen = frozen_forward(a, b)
    out, sign = ScaleAndSign.apply(x, 3.0)
    out.sum().backward()
    d = x.detach().clone()
    d.detach_()
    ok = torch.autograd.gradcheck(
        lambda t: (t.sin() * t).sum(), torch.tensor([0.3, 0.7], dtype=torch.float64, requires_grad=True)
    )
    return {
        "exact": {
            "x_grad": x.grad,
            "y_grad": y.grad,
            "hook_seen": seen[0],
            "ga": ga,
            "gb": gb,
            "flags": [
                z.requires_grad,
                w.requires_grad,
                frozen.requires_grad,
                sign.requires_grad,
                out.requires_grad,
                d.requires_grad,
                torch.is_grad_enabled(),
            ],
            "gradcheck": ok,
        }
    }
