"""studio.core: a deep learning engine on numpy (CPU) and cupy (GPU) with PyTorch's names and meaning.

`import studio.core as torch` and the classic code runs:

    x = torch.randn(3, requires_grad=True)
    (x ** 2).sum().backward()
    x.grad
"""

from __future__ import annotations

from . import backend
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backend import (
    Generator,
    bool_,
    device,
    double,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    initial_seed,
    int8,
    int16,
    int32,
    int64,
    long,
    manual_seed,
    qint8,
    qint32,
    quint8,
    seed,
    set_default_dtype,
    short,
    uint8,
)
from .tensor import Size, Tensor

# PyTorch's dtype aliases shadow these builtins in the namespace, as `torch.float` does
bool = bool_  # noqa: A001
float = float32  # noqa: A001
int = int32  # noqa: A001
default_generator = backend.default_generator

from . import (  # noqa: E402
    amp,  # noqa: E402
    ao,  # noqa: E402
    autograd,  # noqa: E402
    cuda,  # noqa: E402
    data,  # noqa: E402
    memory,  # noqa: E402
    metrics,  # noqa: E402
    nn,  # noqa: E402
    optim,  # noqa: E402
    quantization,  # noqa: E402
    utils,  # noqa: E402
)
from .amp import (  # noqa: E402
    autocast,
    get_autocast_dtype,
    is_autocast_available,
    is_autocast_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)
from .ao.quantized_tensor import (  # noqa: E402
    per_channel_affine,
    per_channel_affine_float_qparams,
    per_channel_symmetric,
    per_tensor_affine,
    per_tensor_symmetric,
    qscheme,
    quantize_per_channel,
    quantize_per_tensor,
    quantize_per_tensor_dynamic,
)
from .creation import (  # noqa: E402
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .ops.activation import log_softmax, relu, softmax  # noqa: E402
from .ops.elementwise import (  # noqa: E402
    abs,
    absolute,
    add,
    addcdiv,
    addcmul,
    allclose,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    ceil,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    clone,
    cos,
    div,
    divide,
    eq,
    equal,
    exp,
    expm1,
    floor,
    floor_divide,
    fmax,
    fmin,
    fmod,
    frac,
    ge,
    greater,
    greater_equal,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    lerp,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    mul,
    multiply,
    ne,
    neg,
    negative,
    not_equal,
    pow,
    reciprocal,
    remainder,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    subtract,
    tan,
    tanh,
    trunc,
    where,
)
from .ops.elementwise import div as true_divide  # noqa: E402
from .ops.linalg import *  # noqa: E402
from .ops.reduce import *  # noqa: E402
from .ops.shape import *  # noqa: E402
from .serialization import load, save  # noqa: E402


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input) -> int:
    return input.numel()


def is_floating_point(input) -> bool:
    return input.is_floating_point()
