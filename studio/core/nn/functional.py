"""`studio.core.nn.functional`: the functional forms of layers, activations and losses."""

from __future__ import annotations

from ..ops import activation as _act
from ..ops.activation import (
    celu,
    elu,
    gelu,
    glu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softplus,
    softsign,
    tanh,
)
from ..ops.attention import scaled_dot_product_attention
from ..ops.conv import conv1d, conv2d, conv_transpose2d
from ..ops.conv3d import conv3d
from ..ops.embedding_bag import embedding_bag
from ..ops.fold import fold, unfold
from ..ops.instance_norm import instance_norm
from ..ops.linear import bilinear, linear
from ..ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from ..ops.mha import multi_head_attention_forward
from ..ops.misc import cosine_similarity, dropout, dropout2d, embedding, normalize, one_hot, pad
from ..ops.norm import batch_norm, group_norm, layer_norm
from ..ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool1d, max_pool2d
from ..ops.resize import (
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
    upsample,
    upsample_bilinear,
    upsample_nearest,
)

# PyTorch's functional softmax family takes an unused `_stacklevel` before `dtype`.


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along `dim`."""
    return _act.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along `dim`, computed stably."""
    return _act.log_softmax(input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along `dim`."""
    return _act.softmin(input, dim, dtype)


def __getattr__(name):
    from .._missing import module_getattr

    return module_getattr(__name__, "torch.nn.functional", name)
