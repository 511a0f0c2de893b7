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
    bfloat16,
    bool_,
    channels_last,
    channels_last_3d,
    contiguous_format,
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
    layout,
    long,
    manual_seed,
    memory_format,
    preserve_format,
    qint8,
    qint32,
    quint8,
    seed,
    set_default_dtype,
    short,
    sparse_coo,
    strided,
    uint8,
)
from .tensor import Size, Tensor

# PyTorch's dtype aliases shadow these builtins in the namespace, as `torch.float` does
bool = bool_  # noqa: A001
float = float32  # noqa: A001
int = int32  # noqa: A001
default_generator = backend.default_generator

from . import (  # noqa: E402
    accelerator,  # noqa: E402
    amp,  # noqa: E402
    ao,  # noqa: E402
    autograd,  # noqa: E402
    backends,  # noqa: E402
    cuda,  # noqa: E402
    data,  # noqa: E402
    distributed,  # noqa: E402
    linalg,  # noqa: E402
    memory,  # noqa: E402
    metrics,  # noqa: E402
    nn,  # noqa: E402
    optim,  # noqa: E402
    quantization,  # noqa: E402
    special,  # noqa: E402
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
from .legacy import CPU_TYPES as _CPU_TYPES  # noqa: E402
from .legacy import CUDA_TYPES as _CUDA_TYPES  # noqa: E402
from .ops.activation import log_softmax, relu, softmax  # noqa: E402
from .ops.broadcast import broadcast_shapes, broadcast_tensors  # noqa: E402
from .ops.diag import diag, diag_embed, diagflat, diagonal, trace  # noqa: E402
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
from .ops.index_ops import unique  # noqa: E402
from .ops.linalg import *  # noqa: E402
from .ops.reduce import *  # noqa: E402
from .ops.shape import *  # noqa: E402
from .ops.special import digamma, erf, erfc, erfinv, lgamma, polygamma, xlogy  # noqa: E402
from .ops.special import gammainc as igamma  # noqa: E402
from .ops.special import gammaincc as igammac  # noqa: E402
from .ops.triangular import cholesky  # noqa: E402
from .serialization import load, save  # noqa: E402
from .type_info import can_cast, finfo, iinfo, promote_types, result_type  # noqa: E402

globals().update(_CPU_TYPES)  # FloatTensor, LongTensor, ... (PyTorch's legacy typed constructors)
for _name, _cls in _CUDA_TYPES.items():
    setattr(cuda, _name, _cls)
del _name, _cls


from ._out import add_out_arguments as _add_out_arguments  # noqa: E402

# PyTorch's common functions take out=: the result is written into a given tensor
_add_out_arguments(
    globals(),
    (  # noqa: SIM905 - a word list reads better than a hundred quoted names
        "abs add addcdiv addcmul arange argmax argmin bmm cat ceil clamp clip concat cos cumsum div dot exp "
        "floor log log_softmax logsumexp matmul max maximum mean min minimum mm mul mv neg ones pow prod "
        "rand "
        "randint randn remainder round rsqrt sigmoid sign sin softmax sqrt square stack std sub sum tanh var "
        "where zeros linspace eye full logical_and logical_or logical_not eq ne lt le gt ge sort topk"
    ).split(),
)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input) -> int:
    return input.numel()


def is_floating_point(input) -> bool:
    return input.is_floating_point()


from . import distributions  # noqa: E402 - built on the namespace above
from ._missing import module_getattr as _module_getattr  # noqa: E402

_LAZY_SUBMODULES = ("onnx",)  # imported on first use, as torch.onnx is, to keep start-up quick


def __getattr__(name):
    """Lazy submodules; for PyTorch names Studio lacks, an AttributeError that names the feature and
    what to use instead."""
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    return _module_getattr(__name__, "torch", name)


def _function_as_method(fn):
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = fn.__name__
    method.__doc__ = fn.__doc__
    return method


# Tensor methods that are exactly the function of the same name with the tensor first, as in PyTorch
for _name in (  # noqa: SIM905 - a word list reads better than quoted names
    "absolute addcdiv addcmul bernoulli bitwise_and bitwise_not bitwise_or bitwise_xor clamp_max clamp_min "
    "floor_divide fmax fmin fmod greater greater_equal inner less less_equal multinomial not_equal remainder "
    "tan tile vdot lgamma digamma erf erfc erfinv xlogy cholesky"
).split():
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _function_as_method(globals()[_name]))
del _name

from ._retired import reinforce as _reinforce  # noqa: E402
from ._retired import resize as _resize  # noqa: E402

Tensor.resize, Tensor.reinforce = _resize, _reinforce  # PyTorch's deprecated and removed methods
