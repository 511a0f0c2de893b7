"""The layer catalogue: one declaration per layer type, read by the whole design layer."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CATEGORIES = (
    "Input/Output",
    "Core",
    "Convolution",
    "Pooling",
    "Normalization",
    "Recurrent",
    "Attention",
    "Activation",
    "Merge",
    "Reshape",
    "Regularization",
)

PARAM_KINDS = ("int", "float", "bool", "choice", "str", "ints")


class ParamError(ValueError):
    """A parameter value that its declaration refuses; the message says why in plain words."""


class ShapeError(ValueError):
    """A layer cannot take the shape it receives; the message says what it needs and how to fix it."""


def _range_words(lo, hi, integer: bool) -> str:
    noun = "an integer" if integer else "a number"
    if integer and lo in (0, 1) and (hi is None or hi >= 100_000):
        return "a positive integer" if lo == 1 else "a non-negative integer"
    if lo is not None and hi is not None:
        return f"{noun} from {lo} to {hi}"
    if lo is not None:
        if integer and lo == 1:
            return "a positive integer"
        if integer and lo == 0:
            return "a non-negative integer"
        return f"{noun} of at least {lo}"
    if hi is not None:
        return f"{noun} of at most {hi}"
    return noun


@dataclass(frozen=True)
class Param:
    """One parameter of a layer: its type, default, allowed values and a one-line help."""

    name: str
    kind: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    length: int | None = None  # "ints": the required number of values (a single int is repeated)
    optional: bool = False  # None is a valid value (e.g. a pooling stride that follows the kernel)

    def expected(self) -> str:
        """What a valid value looks like, in words."""
        if self.kind == "int":
            words = _range_words(self.min, self.max, True)
        elif self.kind == "float":
            words = _range_words(self.min, self.max, False)
        elif self.kind == "bool":
            words = "true or false"
        elif self.kind == "choice":
            words = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "str":
            words = "a text"
        else:
            each = _range_words(self.min, self.max, True)
            n = f"{self.length} " if self.length else ""
            words = f"a list of {n}integers, each {each}"
        return words + (" or none" if self.optional else "")

    def _fail(self, value) -> ParamError:
        got = repr(value) if isinstance(value, str) else str(value)
        return ParamError(f"{self.name}: expected {self.expected()}, got {got}")

    def _int(self, value) -> int:
        if isinstance(value, bool):
            raise self._fail(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise self._fail(value) from None
        raise self._fail(value)

    def _in_range(self, v) -> bool:
        return (self.min is None or v >= self.min) and (self.max is None or v <= self.max)

    def validate(self, value):
        """The value coerced to this parameter's type, or ParamError with a plain-words reason."""
        if value is None:
            if self.optional:
                return None
            raise self._fail(value)
        kind = self.kind
        if kind == "int":
            v = self._int(value)
            if not self._in_range(v):
                raise self._fail(value)
            return v
        if kind == "float":
            if isinstance(value, bool):
                raise self._fail(value)
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise self._fail(value) from None
            if not math.isfinite(v) or not self._in_range(v):
                raise self._fail(value)
            return v
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise self._fail(value)
        if kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise self._fail(value)
        if kind == "str":
            if isinstance(value, str) and len(value) <= 200:
                return value
            raise self._fail(value)
        # "ints": a list of integers; one integer fills a fixed-length list or makes a one-element one
        return self._ints(value)

    def _ints(self, value) -> tuple:
        if isinstance(value, str):
            text = value.strip()
            # "3, 3", "3 3", "3x3", "(3, 3)" and "[3, 3]" all mean (3, 3)
            inner = text[1:-1] if text[:1] + text[-1:] in ("()", "[]") else text
            parts = inner.replace(",", " ").replace("x", " ").replace("X", " ").split()
            if not parts:
                raise self._fail(value)
            items = parts
        elif isinstance(value, (list, tuple)):
            items = list(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            items = [value]
        else:
            raise self._fail(value)
        if not items:
            raise self._fail(value)
        ints = []
        for item in items:
            try:
                ints.append(self._int(item))
            except ParamError:
                raise self._why(value, f"{item!r} is not a whole number") from None
        if len(ints) == 1 and self.length and not isinstance(value, (list, tuple)):
            ints *= self.length
        if self.length and len(ints) != self.length:
            raise self._why(value, f"{len(ints)} values instead of {self.length}")
        if len(ints) > 8:
            raise self._why(value, f"{len(ints)} values, at most 8 are allowed")
        bad = [x for x in ints if not self._in_range(x)]
        if bad:
            raise self._why(value, f"{bad[0]} is out of range")
        return tuple(ints)

    def _why(self, value, reason: str) -> ParamError:
        return ParamError(f"{self._fail(value).args[0]} ({reason})")


@dataclass(frozen=True)
class Ctor:
    """How to construct a layer: `nn.<cls>(*args, **kwargs)`; build calls it, export writes it."""

    cls: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    keep: tuple = ()  # keyword arguments written even when equal to the catalogue default


def _no_params(p, ins) -> int:
    return 0


def _same_shape(p, ins):
    return ins[0]


def _call_forward(p, T):
    return lambda m, x: m(x)


def _call_code(out, attr, args, p):
    return [f"{out} = self.{attr}({args[0]})"]


@dataclass(frozen=True)
class LayerSpec:
    """A layer type: what the palette shows, the panel edits, inference computes, build makes, export writes.

    shape(p, ins) -> output shape (None for the batch dimension), raising ShapeError.
    count(p, ins) -> number of trainable parameters.
    ctor(p, ins) -> Ctor for the `nn` module, or None for layers done in `forward` alone.
    forward(p, T) -> callable(module, *inputs) running the node (T is studio.core or torch).
    code(out, attr, args, p) -> lines of an exported `forward` assigning the node's output to `out`.
    """

    type: str
    display_name: str
    category: str
    help: str
    icon: str
    params: tuple = ()
    inputs: tuple = ("in",)
    outputs: tuple = ("out",)
    shape: Callable = _same_shape
    count: Callable = _no_params
    ctor: Callable | None = None
    forward: Callable = _call_forward
    code: Callable = _call_code
    # what the layer takes: "float" (floating-point values), "int64" (integer token ids, as Embedding),
    # or "any" (shape-only layers, which pass their input's dtype on)
    input_dtype: str = "float"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.type} has no parameter {name!r}")

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}


# ---------------------------------------------------------------------------------------------------
# Shape helpers
# ---------------------------------------------------------------------------------------------------


def format_shape(shape) -> str:
    """A shape in words: (None, 16, 13, 13) -> "(N, 16, 13, 13)"; None -> "?"."""
    if shape is None:
        return "?"
    parts = ["N" if d is None else str(d) for d in shape]
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


def _need(layer: str, wanted: str, got, fix: str) -> ShapeError:
    return ShapeError(f"{layer} needs input {wanted} but receives {format_shape(got)}: {fix}")


def _rank(layer: str, x, ranks: tuple, wanted: str, fix: str | None = None):
    if len(x) in ranks:
        return
    if fix is None:
        if len(x) < min(ranks):
            fix = "insert a Reshape" + (", or use Linear" if len(x) == 2 else "")
        else:
            fix = "insert a Flatten or a Reshape"
    raise _need(layer, wanted, x, fix)


def _pair(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _window_out(layer, size, k, s, pad, dil, ceil_mode=False) -> int:
    span = dil * (k - 1) + 1
    num = size + 2 * pad - span
    if num < 0:
        raise ShapeError(
            f"{layer} window of {span} is larger than its input size {size} (with padding {pad}): "
            "reduce kernel_size or dilation, or add padding"
        )
    if ceil_mode:
        out = -(-num // s) + 1
        if (out - 1) * s >= size + pad:
            out -= 1
        return out
    return num // s + 1


def _conv_shape(layer, nd, p, x, transpose=False):
    wanted = "(N, C, L)" if nd == 1 else "(N, C, H, W)"
    _rank(layer, x, (nd + 2,), wanted, "insert a Reshape, or use Linear" if len(x) == 2 else None)
    c = x[1]
    g = p["groups"]
    if c % g or p["out_channels"] % g:
        raise ShapeError(
            f"{layer} groups={g} must divide both its {c} input channels and out_channels="
            f"{p['out_channels']}: change groups"
        )
    k, s, pad, dil = (_pair(p[n], nd) for n in ("kernel_size", "stride", "padding", "dilation"))
    sizes = []
    for i in range(nd):
        size = x[2 + i]
        if transpose:
            op = _pair(p["output_padding"], nd)[i]
            if op >= max(s[i], dil[i]):
                raise ShapeError(f"{layer} output_padding must be smaller than stride or dilation")
            out = (size - 1) * s[i] - 2 * pad[i] + dil[i] * (k[i] - 1) + op + 1
            if out <= 0:
                raise ShapeError(f"{layer} output would be empty: reduce padding")
        else:
            out = _window_out(layer, size, k[i], s[i], pad[i], dil[i])
        sizes.append(out)
    return (x[0], p["out_channels"], *sizes)


def _conv_count(nd):
    def count(p, ins):
        k = math.prod(_pair(p["kernel_size"], nd))
        return p["out_channels"] * (ins[0][1] // p["groups"]) * k + (p["out_channels"] if p["bias"] else 0)

    return count


def _pool_shape(layer, nd, p, x, dilation=True, ceil=True):
    wanted = "(N, C, L)" if nd == 1 else "(N, C, H, W)"
    _rank(layer, x, (nd + 2,), wanted, "insert a Reshape" if len(x) < nd + 2 else None)
    k = _pair(p["kernel_size"], nd)
    s = _pair(p["stride"] if p["stride"] is not None else p["kernel_size"], nd)
    pad = _pair(p["padding"], nd)
    dil = _pair(p.get("dilation", 1), nd) if dilation else (1,) * nd
    sizes = []
    for i in range(nd):
        if pad[i] > k[i] // 2:
            raise ShapeError(f"{layer} padding {pad[i]} must be at most half the kernel size {k[i]}")
        sizes.append(_window_out(layer, x[2 + i], k[i], s[i], pad[i], dil[i], p.get("ceil_mode", False)))
    return (x[0], x[1], *sizes)


# ---------------------------------------------------------------------------------------------------
# Parameter declarations shared by several layers
# ---------------------------------------------------------------------------------------------------


def _bias(help_="Learn an additive bias."):
    return Param("bias", "bool", True, help_)


def _p_drop(default=0.5):
    return Param("p", "float", default, "Probability of zeroing an element during training.", 0.0, 1.0)


def _kernel(nd, default=3):
    if nd == 1:
        return Param("kernel_size", "int", default, "Width of the sliding window.", 1, 64)
    return Param("kernel_size", "ints", (default,) * nd, "Height and width of the window.", 1, 64, length=nd)


def _stride(nd, default=1, optional=False, what="Step between windows."):
    d = None if optional else (default if nd == 1 else (default,) * nd)
    if nd == 1:
        return Param("stride", "int", d, what, 1, 64, optional=optional)
    return Param("stride", "ints", d, what, 1, 64, length=nd, optional=optional)


def _padding(nd, default=0):
    if nd == 1:
        return Param("padding", "int", default, "Zeros added on each side.", 0, 64)
    return Param("padding", "ints", (default,) * nd, "Zeros added on each side.", 0, 64, length=nd)


def _dilation(nd):
    if nd == 1:
        return Param("dilation", "int", 1, "Spacing between kernel elements.", 1, 16)
    return Param("dilation", "ints", (1,) * nd, "Spacing between kernel elements.", 1, 16, length=nd)


def _kw(p, names):
    return {n: p[n] for n in names}


SPECS: list[LayerSpec] = []


def _add(spec: LayerSpec) -> LayerSpec:
    SPECS.append(spec)
    return spec


# ---------------------------------------------------------------------------------------------------
# Input / Output
# ---------------------------------------------------------------------------------------------------

LOSSES = ("cross_entropy", "nll", "bce_with_logits", "mse", "l1", "smooth_l1", "huber")
TASKS = ("classification", "regression")


def _input_shape(p, ins):
    return (None, *p["shape"])


def _output_shape(p, ins):
    x = ins[0]
    if p["task"] == "classification" and p["loss"] in ("cross_entropy", "nll") and len(x) != 2:
        fix = "insert a Flatten and a Linear" if len(x) > 2 else "insert a Linear"
        raise _need("Output (classification)", "(N, classes)", x, fix)
    return x


def _input_forward(p, T):
    return lambda m, x: x


def _output_code(out, attr, args, p):
    return []


_add(
    LayerSpec(
        "Input",
        "Input",
        "Input/Output",
        "The network's input; its shape comes from the data (without the batch dimension).",
        "input",
        (
            Param("shape", "ints", (4,), "Shape of one sample, without the batch dimension.", 1, 1_000_000),
            Param(
                "dtype",
                "choice",
                "float32",
                "float32 for features, int64 for token ids.",
                choices=("float32", "int64"),
            ),
        ),
        inputs=(),
        shape=_input_shape,
        forward=_input_forward,
        input_dtype="any",
    )
)
_add(
    LayerSpec(
        "Output",
        "Output",
        "Input/Output",
        "The network's output, with the task and the loss it is trained with.",
        "output",
        (
            Param("task", "choice", "classification", "What the network predicts.", choices=TASKS),
            Param("loss", "choice", "cross_entropy", "The loss minimised in training.", choices=LOSSES),
        ),
        outputs=(),
        shape=_output_shape,
        forward=_input_forward,
        code=_output_code,
        input_dtype="float",
    )
)

# ---------------------------------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------------------------------


def _linear_shape(p, x):
    x = x[0]
    if len(x) < 2:
        raise _need("Linear", "(N, *, features)", x, "insert a Reshape")
    return (*x[:-1], p["out_features"])


_add(
    LayerSpec(
        "Linear",
        "Linear",
        "Core",
        "Fully connected layer: y = x W^T + b over the last dimension.",
        "linear",
        (
            Param("out_features", "int", 64, "Size of each output sample.", 1, 1_000_000),
            _bias(),
        ),
        shape=_linear_shape,
        count=lambda p, ins: ins[0][-1] * p["out_features"] + (p["out_features"] if p["bias"] else 0),
        ctor=lambda p, ins: Ctor("Linear", (ins[0][-1], p["out_features"]), _kw(p, ["bias"])),
    )
)


def _bilinear_shape(p, ins):
    a, b = ins
    if len(a) < 2 or len(a) != len(b) or a[:-1] != b[:-1]:
        raise ShapeError(
            f"Bilinear needs two inputs (N, *, in1) and (N, *, in2) that agree except in the last dimension "
            f"but receives {format_shape(a)} and {format_shape(b)}: insert a Reshape on one branch"
        )
    return (*a[:-1], p["out_features"])


def _bilinear_forward(p, T):
    return lambda m, a, b: m(a, b)


_add(
    LayerSpec(
        "Bilinear",
        "Bilinear",
        "Core",
        "Bilinear form of two inputs: y = x1^T A x2 + b.",
        "bilinear",
        (Param("out_features", "int", 16, "Size of each output sample.", 1, 100_000), _bias()),
        inputs=("a", "b"),
        shape=_bilinear_shape,
        count=lambda p, ins: (
            ins[0][-1] * ins[1][-1] * p["out_features"] + (p["out_features"] if p["bias"] else 0)
        ),
        ctor=lambda p, ins: Ctor("Bilinear", (ins[0][-1], ins[1][-1], p["out_features"]), _kw(p, ["bias"])),
        forward=_bilinear_forward,
        code=lambda out, attr, args, p: [f"{out} = self.{attr}({args[0]}, {args[1]})"],
    )
)


def _embedding_shape(p, ins):
    return (*ins[0], p["embedding_dim"])


def _embedding_ctor(p, ins):
    kw = {} if p["padding_idx"] is None else {"padding_idx": p["padding_idx"]}
    return Ctor("Embedding", (p["num_embeddings"], p["embedding_dim"]), kw)


_add(
    LayerSpec(
        "Embedding",
        "Embedding",
        "Core",
        "Looks up a learned vector for each integer token id.",
        "embedding",
        (
            Param(
                "num_embeddings", "int", 100, "Number of distinct token ids (vocabulary size).", 1, 10_000_000
            ),
            Param("embedding_dim", "int", 32, "Size of each embedding vector.", 1, 100_000),
            Param(
                "padding_idx",
                "int",
                None,
                "Token id whose vector stays zero (none: no padding).",
                0,
                10_000_000,
                optional=True,
            ),
        ),
        shape=_embedding_shape,
        count=lambda p, ins: p["num_embeddings"] * p["embedding_dim"],
        ctor=_embedding_ctor,
        input_dtype="int64",
    )
)

# ---------------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------------

_CONV_KW = ["stride", "padding", "dilation", "groups", "bias"]


def _conv(nd: int, over: str) -> LayerSpec:
    name = f"Conv{nd}d"
    return LayerSpec(
        name,
        name,
        "Convolution",
        f"{nd}-D convolution over {over}.",
        "convolution",
        (
            Param("out_channels", "int", 16, "Number of filters (output channels).", 1, 100_000),
            _kernel(nd),
            _stride(nd),
            _padding(nd),
            _dilation(nd),
            Param("groups", "int", 1, "Blocked connections from input to output channels.", 1, 100_000),
            _bias(),
        ),
        shape=lambda p, ins: _conv_shape(name, nd, p, ins[0]),
        count=_conv_count(nd),
        ctor=lambda p, ins: Ctor(name, (ins[0][1], p["out_channels"], p["kernel_size"]), _kw(p, _CONV_KW)),
    )


_add(_conv(1, "sequences (N, C, L)"))
_add(_conv(2, "images (N, C, H, W)"))


def _convt_count(p, ins):
    k = math.prod(p["kernel_size"])
    return ins[0][1] * (p["out_channels"] // p["groups"]) * k + (p["out_channels"] if p["bias"] else 0)


_add(
    LayerSpec(
        "ConvTranspose2d",
        "ConvTranspose2d",
        "Convolution",
        "Transposed 2-D convolution: upsamples images (N, C, H, W).",
        "convolution",
        (
            Param("out_channels", "int", 16, "Number of filters (output channels).", 1, 100_000),
            _kernel(2),
            _stride(2),
            _padding(2),
            Param(
                "output_padding",
                "ints",
                (0, 0),
                "Extra size added to one side of the output.",
                0,
                64,
                length=2,
            ),
            Param("groups", "int", 1, "Blocked connections from input to output channels.", 1, 100_000),
            _bias(),
            _dilation(2),
        ),
        shape=lambda p, ins: _conv_shape("ConvTranspose2d", 2, p, ins[0], transpose=True),
        count=_convt_count,
        ctor=lambda p, ins: Ctor(
            "ConvTranspose2d",
            (ins[0][1], p["out_channels"], p["kernel_size"]),
            _kw(p, ["stride", "padding", "output_padding", "groups", "bias", "dilation"]),
        ),
    )
)

# ---------------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------------


def _maxpool(nd):
    name = f"MaxPool{nd}d"
    return LayerSpec(
        name,
        name,
        "Pooling",
        f"Maximum over each {'window of a sequence' if nd == 1 else 'window of an image'}.",
        "pooling",
        (
            _kernel(nd, 2),
            _stride(nd, optional=True, what="Step between windows (none: the kernel size)."),
            _padding(nd),
            _dilation(nd),
            Param("ceil_mode", "bool", False, "Round the output size up instead of down."),
        ),
        shape=lambda p, ins: _pool_shape(name, nd, p, ins[0]),
        ctor=lambda p, ins: Ctor(
            name, (p["kernel_size"],), _kw(p, ["stride", "padding", "dilation", "ceil_mode"])
        ),
    )


_add(_maxpool(1))
_add(_maxpool(2))
_add(
    LayerSpec(
        "AvgPool2d",
        "AvgPool2d",
        "Pooling",
        "Average over each window of an image.",
        "pooling",
        (
            _kernel(2, 2),
            _stride(2, optional=True, what="Step between windows (none: the kernel size)."),
            _padding(2),
            Param("ceil_mode", "bool", False, "Round the output size up instead of down."),
            Param("count_include_pad", "bool", True, "Count the zero padding in the average."),
        ),
        shape=lambda p, ins: _pool_shape("AvgPool2d", 2, p, ins[0], dilation=False),
        ctor=lambda p, ins: Ctor(
            "AvgPool2d", (p["kernel_size"],), _kw(p, ["stride", "padding", "ceil_mode", "count_include_pad"])
        ),
    )
)


def _adaptive_shape(p, ins):
    x = ins[0]
    _rank("AdaptiveAvgPool2d", x, (4,), "(N, C, H, W)")
    return (x[0], x[1], *p["output_size"])


_add(
    LayerSpec(
        "AdaptiveAvgPool2d",
        "AdaptiveAvgPool2d",
        "Pooling",
        "Averages each channel down to a fixed output size, whatever the input size.",
        "pooling",
        (Param("output_size", "ints", (1, 1), "Output height and width.", 1, 4096, length=2),),
        shape=_adaptive_shape,
        ctor=lambda p, ins: Ctor("AdaptiveAvgPool2d", (p["output_size"],)),
    )
)

# ---------------------------------------------------------------------------------------------------
# Normalization
# ---------------------------------------------------------------------------------------------------

_EPS = Param("eps", "float", 1e-5, "Added to the variance for numerical stability.", 0.0, 1.0)
_MOMENTUM = Param("momentum", "float", 0.1, "Weight of the newest batch in the running statistics.", 0.0, 1.0)
_AFFINE = Param("affine", "bool", True, "Learn a per-channel scale and shift.")
_TRACK = Param("track_running_stats", "bool", True, "Keep running mean and variance for evaluation.")


def _bn_shape(nd):
    def shape(p, ins):
        x = ins[0]
        if nd == 1:
            _rank("BatchNorm1d", x, (2, 3), "(N, C) or (N, C, L)")
        else:
            _rank("BatchNorm2d", x, (4,), "(N, C, H, W)", "use BatchNorm1d" if len(x) in (2, 3) else None)
        return x

    return shape


def _bn(nd):
    name = f"BatchNorm{nd}d"
    return LayerSpec(
        name,
        name,
        "Normalization",
        "Normalises each channel over the batch" + (" (N, C) or (N, C, L)." if nd == 1 else " (N, C, H, W)."),
        "normalization",
        (_EPS, _MOMENTUM, _AFFINE, _TRACK),
        shape=_bn_shape(nd),
        count=lambda p, ins: 2 * ins[0][1] if p["affine"] else 0,
        ctor=lambda p, ins: Ctor(
            name, (ins[0][1],), _kw(p, ["eps", "momentum", "affine", "track_running_stats"])
        ),
    )


_add(_bn(1))
_add(_bn(2))


def _ln_shape(p, ins):
    x = ins[0]
    if len(x) < 2:
        raise _need("LayerNorm", "(N, *, features)", x, "insert a Reshape")
    return x


def _ln_count(p, ins):
    d = ins[0][-1]
    return (d + (d if p["bias"] else 0)) if p["elementwise_affine"] else 0


_add(
    LayerSpec(
        "LayerNorm",
        "LayerNorm",
        "Normalization",
        "Normalises each sample over its last dimension.",
        "normalization",
        (
            _EPS,
            Param("elementwise_affine", "bool", True, "Learn a per-feature scale and shift."),
            _bias("Learn the shift (with elementwise_affine)."),
        ),
        shape=_ln_shape,
        count=_ln_count,
        ctor=lambda p, ins: Ctor("LayerNorm", (ins[0][-1],), _kw(p, ["eps", "elementwise_affine", "bias"])),
    )
)


def _gn_shape(p, ins):
    x = ins[0]
    _rank("GroupNorm", x, (2, 3, 4, 5), "(N, C, *)")
    if x[1] % p["num_groups"]:
        raise ShapeError(
            f"GroupNorm num_groups={p['num_groups']} must divide the {x[1]} channels it receives: "
            "choose a divisor of the channel count"
        )
    return x


_add(
    LayerSpec(
        "GroupNorm",
        "GroupNorm",
        "Normalization",
        "Normalises groups of channels within each sample.",
        "normalization",
        (Param("num_groups", "int", 4, "Number of channel groups.", 1, 100_000), _EPS, _AFFINE),
        shape=_gn_shape,
        count=lambda p, ins: 2 * ins[0][1] if p["affine"] else 0,
        ctor=lambda p, ins: Ctor("GroupNorm", (p["num_groups"], ins[0][1]), _kw(p, ["eps", "affine"])),
    )
)

# ---------------------------------------------------------------------------------------------------
# Recurrent
# ---------------------------------------------------------------------------------------------------

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _rnn_shape(name):
    def shape(p, ins):
        x = ins[0]
        _rank(
            name,
            x,
            (3,),
            "(N, L, features)",
            "insert a Reshape" if len(x) == 2 else "insert a Reshape or Flatten",
        )
        h = p["hidden_size"] * (2 if p["bidirectional"] else 1)
        return (x[0], h) if p["output"] == "last" else (x[0], x[1], h)

    return shape


def _rnn_count(name):
    def count(p, ins):
        g, h, dirs = _GATES[name] * p["hidden_size"], p["hidden_size"], 2 if p["bidirectional"] else 1
        total = 0
        for layer in range(p["num_layers"]):
            f = ins[0][-1] if layer == 0 else h * dirs
            total += dirs * (g * f + g * h + (2 * g if p["bias"] else 0))
        return total

    return count


def _rnn_ctor(name):
    def ctor(p, ins):
        kw = {"num_layers": p["num_layers"]}
        if name == "RNN":
            kw["nonlinearity"] = p["nonlinearity"]
        kw.update(bias=p["bias"], batch_first=True, dropout=p["dropout"], bidirectional=p["bidirectional"])
        return Ctor(name, (ins[0][-1], p["hidden_size"]), kw)

    return ctor


def _rnn_forward(p, T):
    if p["output"] == "last":
        return lambda m, x: m(x)[0][:, -1]
    return lambda m, x: m(x)[0]


def _rnn_code(out, attr, args, p):
    lines = [f"{out}, _ = self.{attr}({args[0]})"]
    if p["output"] == "last":
        lines.append(f"{out} = {out}[:, -1]")
    return lines


def _rnn(name, help_):
    params = [
        Param("hidden_size", "int", 32, "Size of the hidden state.", 1, 100_000),
        Param("num_layers", "int", 1, "Number of stacked recurrent layers.", 1, 64),
    ]
    if name == "RNN":
        params.append(
            Param("nonlinearity", "choice", "tanh", "Activation of the cell.", choices=("tanh", "relu"))
        )
    params += [
        _bias(),
        Param("dropout", "float", 0.0, "Dropout between stacked layers.", 0.0, 1.0),
        Param("bidirectional", "bool", False, "Also read the sequence backwards."),
        Param(
            "output",
            "choice",
            "sequence",
            "Output every step (N, L, H) or the last step only (N, H).",
            choices=("sequence", "last"),
        ),
    ]
    return LayerSpec(
        name,
        name,
        "Recurrent",
        help_,
        "recurrent",
        tuple(params),
        shape=_rnn_shape(name),
        count=_rnn_count(name),
        ctor=_rnn_ctor(name),
        forward=_rnn_forward,
        code=_rnn_code,
    )


_add(_rnn("RNN", "Simple recurrent layer over sequences (N, L, features)."))
_add(_rnn("LSTM", "Long short-term memory layer over sequences (N, L, features)."))
_add(_rnn("GRU", "Gated recurrent unit layer over sequences (N, L, features)."))

# ---------------------------------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------------------------------


def _heads_check(layer, e, heads, key):
    if e % heads:
        raise ShapeError(
            f"{layer} {key}={heads} must divide the embedding size {e} it receives: choose a divisor of {e}"
        )


def _mha_shape(p, ins):
    x = ins[0]
    _rank("MultiheadAttention", x, (3,), "(N, L, embed_dim)")
    _heads_check("MultiheadAttention", x[-1], p["num_heads"], "num_heads")
    return x


def _mha_count(p, ins):
    e = ins[0][-1]
    return 4 * e * e + (4 * e if p["bias"] else 0)


def _mha_forward(p, T):
    return lambda m, x: m(x, x, x, need_weights=False)[0]


_add(
    LayerSpec(
        "MultiheadAttention",
        "Self-attention",
        "Attention",
        "Multi-head self-attention over a sequence (N, L, embed_dim).",
        "attention",
        (
            Param("num_heads", "int", 4, "Number of attention heads (must divide embed_dim).", 1, 1024),
            Param("dropout", "float", 0.0, "Dropout on the attention weights.", 0.0, 1.0),
            _bias(),
        ),
        shape=_mha_shape,
        count=_mha_count,
        ctor=lambda p, ins: Ctor(
            "MultiheadAttention",
            (ins[0][-1], p["num_heads"]),
            {"dropout": p["dropout"], "bias": p["bias"], "batch_first": True},
        ),
        forward=_mha_forward,
        code=lambda out, attr, args, p: [
            f"{out}, _ = self.{attr}({args[0]}, {args[0]}, {args[0]}, need_weights=False)"
        ],
    )
)

_TEL_PARAMS = (
    Param("nhead", "int", 4, "Number of attention heads (must divide d_model).", 1, 1024),
    Param("dim_feedforward", "int", 2048, "Width of the feed-forward block.", 1, 1_000_000),
    Param("dropout", "float", 0.1, "Dropout rate.", 0.0, 1.0),
    Param("activation", "choice", "relu", "Activation of the feed-forward block.", choices=("relu", "gelu")),
    Param("layer_norm_eps", "float", 1e-5, "Epsilon of the layer norms.", 0.0, 1.0),
    Param("norm_first", "bool", False, "Normalise before attention and feed-forward (pre-norm)."),
    _bias("Learn biases in the linear layers and layer norms."),
)


def _tel_shape(name):
    def shape(p, ins):
        x = ins[0]
        _rank(name, x, (3,), "(N, L, d_model)")
        _heads_check(name, x[-1], p["nhead"], "nhead")
        return x

    return shape


def _tel_count(p, ins):
    e, f, b = ins[0][-1], p["dim_feedforward"], p["bias"]
    attn = 4 * e * e + (4 * e if b else 0)
    ff = 2 * e * f + ((f + e) if b else 0)
    norms = 2 * (e + (e if b else 0))
    return attn + ff + norms


def _tel_ctor(p, ins):
    kw = _kw(p, ["dim_feedforward", "dropout", "activation", "layer_norm_eps"])
    kw["batch_first"] = True
    kw.update(_kw(p, ["norm_first", "bias"]))
    return Ctor("TransformerEncoderLayer", (ins[0][-1], p["nhead"]), kw)


_add(
    LayerSpec(
        "TransformerEncoderLayer",
        "Transformer encoder layer",
        "Attention",
        "Self-attention then a feed-forward block, each with a residual and layer norm.",
        "attention",
        _TEL_PARAMS,
        shape=_tel_shape("TransformerEncoderLayer"),
        count=_tel_count,
        ctor=_tel_ctor,
    )
)
_add(
    LayerSpec(
        "TransformerEncoder",
        "Transformer encoder",
        "Attention",
        "A stack of identical Transformer encoder layers.",
        "attention",
        (Param("num_layers", "int", 2, "Number of stacked encoder layers.", 1, 128), *_TEL_PARAMS),
        shape=_tel_shape("TransformerEncoder"),
        count=lambda p, ins: p["num_layers"] * _tel_count(p, ins),
        ctor=lambda p, ins: Ctor(
            "TransformerEncoder", (_tel_ctor(p, ins),), {"num_layers": p["num_layers"]}, keep=("num_layers",)
        ),
    )
)

# ---------------------------------------------------------------------------------------------------
# Activation
# ---------------------------------------------------------------------------------------------------


def _dim_shape(name):
    def shape(p, ins):
        x = ins[0]
        if not -len(x) <= p["dim"] < len(x):
            raise ShapeError(
                f"{name} dim={p['dim']} is out of range for input {format_shape(x)}: "
                f"use a dim from {-len(x)} to {len(x) - 1}"
            )
        return x

    return shape


def _act(name, help_, params=(), kwnames=(), shape=_same_shape, keep=()):
    return LayerSpec(
        name,
        name,
        "Activation",
        help_,
        "activation",
        tuple(params),
        shape=shape,
        ctor=lambda p, ins: Ctor(name, (), _kw(p, kwnames), keep),
    )


_add(_act("ReLU", "max(0, x), elementwise."))
_add(
    _act(
        "LeakyReLU",
        "x for x > 0, negative_slope * x otherwise.",
        [Param("negative_slope", "float", 0.01, "Slope for negative inputs.", 0.0, 10.0)],
        ["negative_slope"],
    )
)
_add(
    _act(
        "ELU",
        "Exponential linear unit.",
        [Param("alpha", "float", 1.0, "Scale of the negative part.", 0.0, 100.0)],
        ["alpha"],
    )
)
_add(
    _act(
        "GELU",
        "Gaussian error linear unit.",
        [Param("approximate", "choice", "none", "Exact or tanh approximation.", choices=("none", "tanh"))],
        ["approximate"],
    )
)
_add(_act("SiLU", "x * sigmoid(x) (also called swish)."))
_add(_act("Sigmoid", "1 / (1 + exp(-x)), elementwise."))
_add(_act("Tanh", "Hyperbolic tangent, elementwise."))
_DIM = Param("dim", "int", -1, "Dimension that sums to one.", -8, 7)
_add(
    _act(
        "Softmax",
        "Turns scores into probabilities along a dimension.",
        [_DIM],
        ["dim"],
        _dim_shape("Softmax"),
        ("dim",),
    )
)
_add(
    _act(
        "LogSoftmax",
        "Logarithm of softmax along a dimension.",
        [_DIM],
        ["dim"],
        _dim_shape("LogSoftmax"),
        ("dim",),
    )
)
_add(
    _act(
        "Softplus",
        "log(1 + exp(beta * x)) / beta, a smooth ReLU.",
        [
            Param("beta", "float", 1.0, "Sharpness of the curve.", 1e-6, 1000.0),
            Param("threshold", "float", 20.0, "Above beta * x = threshold the output is x.", 0.0, 1000.0),
        ],
        ["beta", "threshold"],
    )
)

# ---------------------------------------------------------------------------------------------------
# Merge
# ---------------------------------------------------------------------------------------------------


def _broadcast(layer, a, b):
    if len(a) != len(b):
        out = None
    else:
        out = []
        for x, y in zip(a, b):
            if x == y:
                out.append(x)
            elif y == 1 and x is not None or x == 1 and y is not None:
                out.append(x if y == 1 else y)
            else:
                out = None
                break
    if out is None:
        raise ShapeError(
            f"{layer} needs inputs of the same shape but receives {format_shape(a)} and {format_shape(b)}: "
            "make the branches match, e.g. with a Linear or a 1x1 Conv2d on one branch"
        )
    return tuple(out)


def _merge_forward(op):
    def make(p, T):
        if op == "add":
            return lambda m, a, b: a + b
        return lambda m, a, b: a * b

    return make


def _merge(name: str, help_: str, kind: str, symbol: str) -> LayerSpec:
    return LayerSpec(
        name,
        name,
        "Merge",
        help_,
        "merge",
        inputs=("a", "b"),
        shape=lambda p, ins: _broadcast(name, *ins),
        forward=_merge_forward(kind),
        code=lambda out, attr, args, p: [f"{out} = {args[0]} {symbol} {args[1]}"],
    )


_add(_merge("Add", "Sums two inputs of the same shape (a residual or skip connection).", "add", "+"))
_add(_merge("Multiply", "Multiplies two inputs of the same shape elementwise (gating).", "mul", "*"))


def _concat_shape(p, ins):
    a, b = ins
    d = p["dim"]
    if len(a) != len(b) or not -len(a) <= d < len(a) or d % len(a) == 0:
        reason = "dim must not be the batch dimension" if len(a) == len(b) else "inputs differ in rank"
        raise ShapeError(
            f"Concat along dim={d} cannot join {format_shape(a)} and {format_shape(b)} ({reason}): "
            "choose another dim or reshape a branch"
        )
    d %= len(a)
    if any(x != y for i, (x, y) in enumerate(zip(a, b)) if i != d):
        raise ShapeError(
            f"Concat along dim={d} needs inputs that agree in every other dimension but receives "
            f"{format_shape(a)} and {format_shape(b)}: choose another dim or reshape a branch"
        )
    return tuple(x + y if i == d else x for i, (x, y) in enumerate(zip(a, b)))


def _concat_forward(p, T):
    d = p["dim"]
    return lambda m, a, b: T.cat((a, b), dim=d)


_add(
    LayerSpec(
        "Concat",
        "Concat",
        "Merge",
        "Joins two inputs along a dimension (channels by default).",
        "merge",
        (Param("dim", "int", 1, "Dimension to join along (not the batch dimension 0).", -8, 7),),
        inputs=("a", "b"),
        shape=_concat_shape,
        forward=_concat_forward,
        code=lambda out, attr, args, p: [f"{out} = torch.cat(({args[0]}, {args[1]}), dim={p['dim']})"],
        input_dtype="any",
    )
)

# ---------------------------------------------------------------------------------------------------
# Reshape
# ---------------------------------------------------------------------------------------------------


def _reshape_shape(p, ins):
    x = ins[0]
    target = p["shape"]
    n = math.prod(x[1:])
    free = [i for i, d in enumerate(target) if d == -1]
    if len(free) > 1 or any(d == 0 for d in target):
        raise ShapeError(f"Reshape shape {tuple(target)} may hold at most one -1 and no zeros")
    known = math.prod(d for d in target if d != -1)
    if (free and n % known) or (not free and known != n):
        raise ShapeError(
            f"Reshape to {format_shape((None, *target))} needs a sample size that fits {known} values "
            "but receives "
            f"{format_shape(x)} ({n} values per sample): choose a shape whose product is {n}"
        )
    return (x[0], *(n // known if d == -1 else d for d in target))


def _reshape_forward(p, T):
    shape = tuple(p["shape"])
    return lambda m, x: x.reshape(x.shape[0], *shape)


_add(
    LayerSpec(
        "Reshape",
        "Reshape",
        "Reshape",
        "Gives each sample a new shape with the same number of values (-1 is inferred).",
        "reshape",
        (
            Param(
                "shape",
                "ints",
                (1, -1),
                "New shape of one sample, without the batch dimension.",
                -1,
                10_000_000,
            ),
        ),
        shape=_reshape_shape,
        forward=_reshape_forward,
        code=lambda out, attr, args, p: [
            f"{out} = {args[0]}.reshape({args[0]}.shape[0], {', '.join(str(d) for d in p['shape'])})"
        ],
        input_dtype="any",
    )
)


def _flatten_shape(p, ins):
    x = ins[0]
    r = len(x)
    s, e = p["start_dim"], p["end_dim"]
    if not (-r <= s < r and -r <= e < r):
        raise ShapeError(
            f"Flatten dims start_dim={s}, end_dim={e} are out of range for {format_shape(x)}: "
            f"use dims from 1 to {r - 1}"
        )
    s, e = s % r, e % r
    if s == 0 or s > e:
        raise ShapeError(
            f"Flatten needs 1 <= start_dim <= end_dim (the batch dimension stays) but has start_dim={s}, "
            f"end_dim={e} for {format_shape(x)}"
        )
    return (*x[:s], math.prod(x[s : e + 1]), *x[e + 1 :])


_add(
    LayerSpec(
        "Flatten",
        "Flatten",
        "Reshape",
        "Flattens a range of dimensions into one, e.g. (N, C, H, W) -> (N, C*H*W).",
        "reshape",
        (
            Param("start_dim", "int", 1, "First dimension to flatten.", -8, 7),
            Param("end_dim", "int", -1, "Last dimension to flatten.", -8, 7),
        ),
        shape=_flatten_shape,
        ctor=lambda p, ins: Ctor("Flatten", (), _kw(p, ["start_dim", "end_dim"])),
        input_dtype="any",
    )
)


def _permute_shape(p, ins):
    x = ins[0]
    dims = tuple(p["dims"])
    if sorted(dims) != list(range(len(x))) or dims[0] != 0:
        raise ShapeError(
            f"Permute dims {dims} must reorder all {len(x)} dimensions of {format_shape(x)} "
            f"and keep the batch dimension first, e.g. {(0, *range(len(x) - 1, 0, -1))}"
        )
    return tuple(x[d] for d in dims)


def _permute_forward(p, T):
    dims = tuple(p["dims"])
    return lambda m, x: x.permute(*dims)


_add(
    LayerSpec(
        "Permute",
        "Permute",
        "Reshape",
        "Reorders dimensions, e.g. (N, L, C) -> (N, C, L) with dims (0, 2, 1).",
        "reshape",
        (Param("dims", "ints", (0, 2, 1), "New order of all dimensions, batch first (0).", 0, 7),),
        shape=_permute_shape,
        forward=_permute_forward,
        code=lambda out, attr, args, p: [
            f"{out} = {args[0]}.permute({', '.join(str(d) for d in p['dims'])})"
        ],
        input_dtype="any",
    )
)

# ---------------------------------------------------------------------------------------------------
# Regularization
# ---------------------------------------------------------------------------------------------------

_add(
    LayerSpec(
        "Dropout",
        "Dropout",
        "Regularization",
        "Zeroes random elements during training and rescales the rest.",
        "regularization",
        (_p_drop(),),
        ctor=lambda p, ins: Ctor("Dropout", (), _kw(p, ["p"])),
    )
)


def _dropout2d_shape(p, ins):
    x = ins[0]
    _rank("Dropout2d", x, (3, 4), "(N, C, H, W)", "use Dropout" if len(x) < 3 else None)
    return x


_add(
    LayerSpec(
        "Dropout2d",
        "Dropout2d",
        "Regularization",
        "Zeroes whole random channels of images during training.",
        "regularization",
        (_p_drop(),),
        shape=_dropout2d_shape,
        ctor=lambda p, ins: Ctor("Dropout2d", (), _kw(p, ["p"])),
    )
)

# ---------------------------------------------------------------------------------------------------
# Access
# ---------------------------------------------------------------------------------------------------

_ORDER = {c: i for i, c in enumerate(CATEGORIES)}
CATALOGUE: dict[str, LayerSpec] = {s.type: s for s in sorted(SPECS, key=lambda s: _ORDER[s.category])}


def spec(type: str) -> LayerSpec:
    """The declaration of a layer type; KeyError names the known types when it is unknown."""
    try:
        return CATALOGUE[type]
    except KeyError:
        raise KeyError(f"unknown layer type {type!r}; known types: {', '.join(CATALOGUE)}") from None


def by_category() -> dict[str, list[LayerSpec]]:
    """The catalogue grouped for the palette: category -> layer specs, in palette order."""
    out: dict[str, list[LayerSpec]] = {c: [] for c in CATEGORIES}
    for s in CATALOGUE.values():
        out[s.category].append(s)
    return out


def default_params(type: str) -> dict:
    """A fresh dict of the default parameters of a layer type."""
    return spec(type).defaults()


def validate_params(type: str, params: dict) -> tuple[dict, list[str]]:
    """Coerced parameters (defaults filled in) and the problems found, one plain message per bad value."""
    s = spec(type)
    out, problems = {}, []
    known = {p.name for p in s.params}
    for name in params:
        if name not in known:
            problems.append(f"{name}: {type} has no parameter of this name")
    for p in s.params:
        if p.name in params:
            try:
                out[p.name] = p.validate(params[p.name])
            except ParamError as e:
                problems.append(str(e))
                out[p.name] = p.default
        else:
            out[p.name] = p.default
    return out, problems
