"""Linear layers: Identity, Linear (y = x W^T + b) and Bilinear (y = x1^T A x2 + b)."""

from __future__ import annotations

import math
import numbers

from ..creation import empty
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Bilinear", "Identity", "Linear"]


def _check_tensor(layer, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{layer}.forward expected a Tensor, got {type(input).__name__}")


def _size_arg(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"Linear: {name} must be a non-negative integer, got {name}={value!r}")
    return int(value)


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any constructor arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """Applies an affine map to the last dimension: y = x W^T + b.

    Args:
        in_features: size of each input sample's last dimension.
        out_features: size of each output sample's last dimension.
        bias: whether to learn an additive bias.

    Input shape: (*, in_features). Output shape: (*, out_features).
    Weights start from U(-1/sqrt(in_features), 1/sqrt(in_features)), as in PyTorch.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        in_features = _size_arg("in_features", in_features)
        out_features = _size_arg("out_features", out_features)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a=sqrt(5) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        _check_tensor("Linear", input)
        shape = input._data.shape
        if not shape or shape[-1] != self.in_features:
            raise RuntimeError(
                f"Linear(in_features={self.in_features}) got input of shape {tuple(shape)}: expected the "
                f"last dimension to be {self.in_features}"
            )
        # straight from the registry: attribute access goes through Module.__getattr__
        params = self._parameters
        try:
            weight, bias = params["weight"], params["bias"]
        except KeyError:  # a plain tensor has replaced a parameter
            weight, bias = self.weight, self.bias
        return F.linear(input, weight, bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        )


class Bilinear(Module):
    """Applies a bilinear map to two inputs: y_k = x1^T A_k x2 + b_k.

    Input shapes: (*, in1_features) and (*, in2_features) with the same leading dimensions.
    Output shape: (*, out_features). Weights start from U(-1/sqrt(in1_features), 1/sqrt(in1_features)).
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in1_features, in2_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        _check_tensor("Bilinear", input1)
        _check_tensor("Bilinear", input2)
        s1, s2 = tuple(input1.shape), tuple(input2.shape)
        if (
            not s1
            or s1[-1] != self.in1_features
            or not s2
            or s2[-1] != self.in2_features
            or s1[:-1] != s2[:-1]
        ):
            raise RuntimeError(
                f"Bilinear(in1_features={self.in1_features}, in2_features={self.in2_features}) got inputs of "
                f"shapes {s1} and {s2}: expected (*, {self.in1_features}) and (*, {self.in2_features}) with "
                "the same leading dimensions"
            )
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
