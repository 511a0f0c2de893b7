"""QuantStub and DeQuantStub mark where a model's quantized part starts and ends; QuantWrapper adds both."""

from __future__ import annotations

from ...nn.module import Module

__all__ = ["DeQuantStub", "QuantStub", "QuantWrapper"]


class QuantStub(Module):
    """The identity before calibration (its observer records the input's range); `convert` makes it a
    `Quantize` that turns float input into quint8."""

    def __init__(self, qconfig=None):
        super().__init__()
        if qconfig:
            self.qconfig = qconfig

    def forward(self, x):
        return x


class DeQuantStub(Module):
    """The identity before conversion; `convert` makes it a `DeQuantize` back to float32."""

    def __init__(self, qconfig=None):
        super().__init__()
        if qconfig:
            self.qconfig = qconfig

    def forward(self, x):
        return x


class QuantWrapper(Module):
    """`module` between a QuantStub and a DeQuantStub, taking the module's qconfig."""

    def __init__(self, module):
        super().__init__()
        qconfig = getattr(module, "qconfig", None)
        self.add_module("quant", QuantStub(qconfig))
        self.add_module("dequant", DeQuantStub(qconfig))
        self.add_module("module", module)
        self.train(module.training)

    def forward(self, X):
        return self.dequant(self.module(self.quant(X)))
