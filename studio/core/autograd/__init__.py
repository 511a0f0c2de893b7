"""Automatic differentiation: `backward`, `grad`, grad modes, custom `Function`s and `gradcheck`."""

from __future__ import annotations

# Tensor first: the modules below build on it, and it imports them (in its last lines) in turn
from ..tensor import Tensor  # noqa: F401
from .entry import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import gradcheck, gradgradcheck
from .graph import AccumulateGrad, Node
from .graph_walk import GraphEdge, GraphNode, GraphWalk, graph_walk
from .variable import Variable

__all__ = [
    "AccumulateGrad",
    "Function",
    "FunctionCtx",
    "GraphEdge",
    "GraphNode",
    "GraphWalk",
    "Node",
    "Variable",
    "backward",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "graph_walk",
    "inference_mode",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "set_grad_enabled",
]
