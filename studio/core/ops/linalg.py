"""Matrix products: matmul (2-D, batched, broadcast, vectors), mm, bmm, dot, mv, outer, einsum."""

from __future__ import annotations

from .. import backend as B
from .._arrays import astype, shape_str, sum_to
from ..amp import autocast_mode as _amp
from ..amp.autocast_mode import LOWER, NATIVE, PROMOTE, autocast_op
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..tensor import Tensor
from .elementwise import mul
from .shape import _into_zeros

_xp = B.array_module

__all__ = ["bmm", "dot", "einsum", "inner", "matmul", "mm", "mv", "outer", "tensordot", "vdot"]


def _arrays(input, other, where):
    """The two arrays of a product: same device, same dtype (PyTorch does not promote here)."""
    for t in (input, other):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: expected Tensors, got {type(t).__name__}")
    x, y = input._data, other._data
    if type(x) is not type(y):
        raise RuntimeError(
            f"{where}: expected all tensors to be on the same device, but found at least two devices, "
            f"{input.device} and {other.device}"
        )
    if x.dtype != y.dtype:
        raise RuntimeError(
            f"{where}: expected both arguments to have the same dtype, but got: {input.dtype.name} != "
            f"{other.dtype.name}"
        )
    return x, y


def _matmul_error(x, y):
    return RuntimeError(f"matmul: shapes {shape_str(x.shape)} and {shape_str(y.shape)} cannot be multiplied")


def _mm(xp, a, b):
    """a @ b; a stack of matrices times one matrix runs as a single 2-D product (one BLAS call)."""
    if b.ndim == 2 and a.ndim > 2 and type(a) is not Tensor and a.flags.c_contiguous:
        return B.matmul(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + (b.shape[-1],))
    return B.matmul(a, b)


class MmBackward0(Node):
    """Gradients of a @ b for a, b of at least 2 dims (batch dims broadcast)."""

    __slots__ = ("shapes",)
    saved_roles = (0, 1)

    def backward(self, g):
        a, b = self.saved
        sa, sb = self.shapes
        xp = _xp(g)
        ga = gb = None
        if self.needs_grad(0):
            ga = sum_to(_mm(xp, g, xp.swapaxes(b, -1, -2)), sa)
        if self.needs_grad(1):
            if b.ndim == 2 and a.ndim > 2:
                # sum over the batch inside one 2-D product instead of a batched product and a sum
                k, n = a.shape[-1], g.shape[-1]
                gb = B.matmul(a.reshape(-1, k).T, g.reshape(-1, n))
            else:
                gb = sum_to(B.matmul(xp.swapaxes(a, -1, -2), g), sb)
        return (ga, gb)


class BmmBackward0(MmBackward0):
    __slots__ = ()


class MvBackward0(MmBackward0):
    """matmul where one side was a vector: the vector is a one-row (or one-column) matrix inside."""

    __slots__ = ("vec",)

    def backward(self, g):
        xv, yv = self.vec
        g = _xp(g).asarray(g)  # a 0-d result's gradient may arrive as a numpy scalar
        if yv:
            g = g[..., None]
        if xv:
            g = g[..., None, :]
        ga, gb = MmBackward0.backward(self, g)
        if xv and ga is not None:
            ga = ga.reshape(-1)
        if yv and gb is not None:
            gb = gb.reshape(-1)
        return (ga, gb)


class DotBackward0(MvBackward0):
    __slots__ = ()


@autocast_op(cpu=LOWER, cuda=LOWER, inline=True)
def matmul(input, other):
    """Matrix product with numpy's rules: vectors are promoted and batch dims broadcast."""
    if _amp.active and not _amp._inside:
        return _amp.dispatch(matmul, input, other)
    x, y = _arrays(input, other, "matmul")
    if x.ndim == 0 or y.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {x.ndim}D and {y.ndim}D"
        )
    xv, yv = x.ndim == 1, y.ndim == 1
    a = x[None, :] if xv else x
    b = y[:, None] if yv else y
    if a.shape[-1] != b.shape[-2]:
        raise _matmul_error(x, y)
    xp = _xp(a)
    try:
        out = _mm(xp, a, b)
    except ValueError:
        raise _matmul_error(x, y) from None
    if xv:
        out = out[..., 0, :]
    if yv:
        out = out[..., 0]
    if grad_mode._enabled and (input._rg or other._rg):  # needs_grad inlined: a hot op
        if xv or yv:
            node = DotBackward0() if xv and yv else MvBackward0()
            node.vec = (xv, yv)
        else:
            node = MmBackward0() if a.ndim == 2 and b.ndim == 2 else BmmBackward0()
        node.shapes = (a.shape, b.shape)
        record(node, (input, other), (a, b))
        node.save_versions(input, other)
        return _result(out, node)
    return _result(out)


@autocast_op(cpu=LOWER, cuda=LOWER)
def mm(input, mat2):
    """Product of two matrices."""
    if input.ndim != 2:
        raise RuntimeError(
            f"mm: self must be a matrix, got a {input.ndim}-D tensor of shape {tuple(input.shape)}"
        )
    if mat2.ndim != 2:
        raise RuntimeError(
            f"mm: mat2 must be a matrix, got a {mat2.ndim}-D tensor of shape {tuple(mat2.shape)}"
        )
    return matmul(input, mat2)


@autocast_op(cpu=LOWER, cuda=LOWER)
def bmm(input, mat2):
    """Batched product of (b, n, m) and (b, m, p) tensors (no broadcasting)."""
    if input.ndim != 3:
        raise RuntimeError(f"bmm: batch1 must be a 3D tensor, got shape {tuple(input.shape)}")
    if mat2.ndim != 3:
        raise RuntimeError(f"bmm: batch2 must be a 3D tensor, got shape {tuple(mat2.shape)}")
    b, n, m = input.shape
    if mat2.shape[0] != b or mat2.shape[1] != m:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {m}] but got: "
            f"[{mat2.shape[0]}, {mat2.shape[1]}]."
        )
    return matmul(input, mat2)


@autocast_op(cpu=NATIVE, cuda=LOWER)
def mv(input, vec):
    """Product of a matrix and a vector."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(
            f"vector + matrix @ vector expected, got {input.ndim}-D matrix and {vec.ndim}-D vector"
        )
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x{input.shape[1]}), "
            f"vec ({vec.shape[0]})"
        )
    return matmul(input, vec)


@autocast_op(cpu=NATIVE, cuda=PROMOTE)
def dot(input, other):
    """Inner product of two 1-D tensors of the same length."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src [{other.shape[0]}] to "
            f"have the same number of elements, but got {input.shape[0]} and {other.shape[0]} elements "
            "respectively"
        )
    return matmul(input, other)


vdot = dot


@autocast_op(cpu=LOWER, cuda=LOWER)
def inner(input, other):
    """Sum of products over the last dims (a dot product for vectors)."""
    if input.ndim == 0 or other.ndim == 0:
        return mul(input, other)
    return tensordot(input, other, ([-1], [-1]))


@autocast_op(cpu=NATIVE, cuda=NATIVE)
def outer(input, vec2):
    """Outer product of two 1-D tensors."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: expected 1-D tensors, got {input.ndim}-D and {vec2.ndim}-D")
    return einsum("i,j->ij", input, vec2)


@autocast_op(cpu=LOWER, cuda=PROMOTE)
def tensordot(a, b, dims=2):
    """Contract the last `dims` dims of a with the first of b, or the listed dims pairwise."""
    if isinstance(dims, int):
        da = list(range(a.ndim - dims, a.ndim))
        db = list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da = [d % a.ndim for d in da]
    db = [d % b.ndim for d in db]
    letters = iter(_LETTERS)
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(da, db):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in da] + [c for j, c in enumerate(sb) if j not in db]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


# ----------------------------------------------------------------------------------- einsum

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation, arrays):
    """Explicit subscripts (ellipses spelled out in spare letters) for each operand and the output."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(arrays):
        raise RuntimeError(
            f"einsum(): the equation {equation!r} names {len(terms)} operands but {len(arrays)} were given"
        )
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in _LETTERS if c not in used]
    ell_n = 0
    for t, a in zip(terms, arrays):
        named = len(t.replace("...", ""))
        if "..." in t:
            ell_n = max(ell_n, a.ndim - named)
        elif named != a.ndim:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({named}) does not match the number of "
                f"dimensions ({a.ndim}) for operand {terms.index(t)}"
                + ("" if "..." in t else " and no ellipsis was given")
            )
    ell = "".join(spare[:ell_n])
    subs = []
    for t, a in zip(terms, arrays):
        if "..." in t:
            k = a.ndim - len(t.replace("...", ""))
            t = t.replace("...", ell[ell_n - k :] if k else "")
        for c in t:
            if not c.isalpha():
                raise RuntimeError(f"einsum(): invalid subscript {c!r} in the equation {equation!r}")
        subs.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {}
        for t in subs:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return subs, out


class EinsumBackward0(Node):
    """Each operand's gradient is an einsum of the output gradient with the other operands."""

    __slots__ = ("subs", "out", "saved_roles")  # saved_roles: every operand, set per node

    def backward(self, g):
        arrays = self.saved
        xp = _xp(g)
        sizes = {}
        for s, a in zip(self.subs, arrays):
            for c, n in zip(s, a.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        grads = []
        for i, (s, a) in enumerate(zip(self.subs, arrays)):
            if not self.needs_grad(i):
                grads.append(None)
                continue
            grads.append(self._grad_of(xp, g, i, s, a, arrays, sizes))
        return tuple(grads)

    def _grad_of(self, xp, g, i, s, a, arrays, sizes):
        others = [(t, b) for j, (t, b) in enumerate(zip(self.subs, arrays)) if j != i]
        present = set(self.out).union(*(set(t) for t, _ in others))
        uniq = "".join(dict.fromkeys(s))
        keep = "".join(c for c in uniq if c in present)
        terms = [self.out] + [t for t, _ in others]
        ops = [g] + [b for _, b in others]
        gu = xp.einsum(",".join(terms) + "->" + keep, *ops, optimize=True)
        # letters only this operand has were summed away in the forward: broadcast back over them
        if keep != uniq:
            missing = [k for k, c in enumerate(uniq) if c not in keep]
            gu = xp.broadcast_to(xp.expand_dims(gu, tuple(missing)), tuple(sizes[c] for c in uniq))
        if len(uniq) != len(s):
            # a repeated letter (a diagonal): write the gradient onto that diagonal
            pos = []
            for c in s:
                k = uniq.index(c)
                shape = [1] * len(uniq)
                shape[k] = sizes[c]
                pos.append(xp.arange(sizes[c]).reshape(shape))
            gu = _into_zeros(tuple(sizes[c] for c in s), tuple(pos), gu)
        # letters of size 1 here that broadcast against larger ones elsewhere
        axes = tuple(k for k, n in enumerate(a.shape) if n == 1 and gu.shape[k] != 1)
        if axes:
            gu = gu.sum(axis=axes, keepdims=True)
        return astype(gu, a.dtype)


@autocast_op(cpu=LOWER, cuda=LOWER)
def einsum(equation, *operands):
    """Einstein summation, e.g. einsum('bij,bjk->bik', a, b); the contraction order is optimized."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): operand {i} must be a Tensor, got {type(t).__name__}")
    arrays = [t._data for t in operands]
    dt = operands[0].dtype
    for t in operands[1:]:
        dt = B.promote_types(dt, t.dtype)
    arrays = [a if a.dtype == dt.np else a.astype(dt.np) for a in arrays]
    subs, out_subs = _parse_einsum(equation, arrays)
    xp = _xp(arrays[0])
    spec = ",".join(subs) + "->" + out_subs
    try:
        out = xp.einsum(spec, *arrays, optimize=len(arrays) > 1)
    except ValueError as e:
        shapes = ", ".join(shape_str(a.shape) for a in arrays)
        raise RuntimeError(
            f"einsum(): operands of shapes {shapes} do not fit the equation {equation!r}: {e}"
        ) from None
    out = xp.asarray(out)
    if out.dtype != arrays[0].dtype:
        out = out.astype(arrays[0].dtype)
    if needs_grad(*operands):
        node = EinsumBackward0()
        node.subs, node.out = tuple(subs), out_subs
        node.saved_roles = tuple(range(len(arrays)))
        record(node, operands, tuple(arrays))
        node.save_versions(*operands)
        return _result(out, node)
    return _result(out)
