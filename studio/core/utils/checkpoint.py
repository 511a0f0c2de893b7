"""Activation checkpointing, as `torch.utils.checkpoint`: run a segment of a model without keeping its
activations, and run it again in backward to get them back.

`use_reentrant=False` records the segment's graph as usual but drops what each op saves for
backward (see `autograd.recompute`); the first node of the segment that backward reaches re-runs
the segment once. Gradients reach every parameter and input, and `autograd.grad` works.
`use_reentrant=True` runs the segment as one custom Function without grad, and in its backward runs
it again with grad and backpropagates through that copy; only the segment's tensor inputs get
gradients through it (parameters still do, accumulated directly), and not with `autograd.grad`.
Both repeat the random draws of the first run (dropout masks) unless `preserve_rng_state=False`.
"""

from __future__ import annotations

import contextlib
import warnings

from .. import backend as B
from ..amp.autocast_mode import autocast_state, restored_autocast
from ..autograd import engine, grad_mode, recompute
from ..autograd.entry import backward as _backward
from ..autograd.function import Function
from ..tensor import Tensor

__all__ = ["CheckpointFunction", "checkpoint", "checkpoint_sequential", "noop_context_fn"]


def noop_context_fn():
    """The default `context_fn`: no context around the forward run or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


class CheckpointFunction(Function):
    """The reentrant checkpoint: forward without grad; backward recomputes and backpropagates."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=4)
        ctx.run_function = run_function
        ctx.preserve_rng_state = preserve_rng_state
        ctx.rng_mark = B.fork_rng() if preserve_rng_state else None
        ctx.amp_state = autocast_state()
        ctx.inputs = [None if isinstance(a, Tensor) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        if engine.capturing():
            raise RuntimeError(
                "When use_reentrant=True, studio.core.utils.checkpoint is incompatible with .grad() or "
                "passing an `inputs` parameter to .backward(). To resolve this error, you can either set "
                "use_reentrant=False, or call .backward() without passing the `inputs` argument."
            )
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            detached = t.detach()
            detached.requires_grad_(t.requires_grad)
            inputs[i] = detached
        current = B.replay_rng(ctx.rng_mark) if ctx.preserve_rng_state else None
        try:
            with grad_mode.enable_grad(), restored_autocast(ctx.amp_state):
                outputs = ctx.run_function(*inputs)
        finally:
            if current is not None:
                B.restore_rng(current)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads) if isinstance(o, Tensor) and o.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        _backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(a.grad if isinstance(a, Tensor) else None for a in inputs)


def checkpoint(
    function,
    *args,
    use_reentrant=None,
    context_fn=noop_context_fn,
    determinism_check="default",
    debug=False,
    early_stop=True,
    **kwargs,
):
    """`function(*args, **kwargs)`, keeping none of its activations for backward but its inputs.

    Pass `use_reentrant` explicitly (False is recommended); left as None it warns and means True,
    as in PyTorch. `preserve_rng_state=False` skips restoring the random state for the recomputation.
    `context_fn` (non-reentrant only) returns two context managers, entered around the first run and
    around the recomputation.
    """
    if use_reentrant is None:
        warnings.warn(
            "studio.core.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
            "use_reentrant=False is recommended, but if you need to preserve the current default behavior, "
            "you can pass use_reentrant=True.",
            stacklevel=2,
        )
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be 'default' or 'none', got {determinism_check!r}")
    if use_reentrant:
        if context_fn is not noop_context_fn or debug:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        return CheckpointFunction.apply(function, preserve, *args)
    return _checkpoint_without_reentrant(function, preserve, context_fn, args, kwargs)


def _checkpoint_without_reentrant(function, preserve, context_fn, args, kwargs):
    if recompute.active is not None or not grad_mode.is_grad_enabled():
        # inside another checkpoint its frame already drops and recomputes everything; without grad
        # nothing is saved
        return function(*args, **kwargs)
    forward_ctx, recompute_ctx = context_fn()
    mark = B.fork_rng() if preserve else None
    amp_state = autocast_state()

    def rerun():
        replay = recompute.Replay()
        outer, recompute.active = recompute.active, replay
        current = B.replay_rng(mark) if preserve else None
        try:
            with grad_mode.enable_grad(), restored_autocast(amp_state), recompute_ctx:
                function(*args, **kwargs)
        finally:
            recompute.active = outer
            if current is not None:
                B.restore_rng(current)
        return replay.values

    outer, recompute.active = recompute.active, recompute.Frame(rerun)
    try:
        with forward_ctx:
            return function(*args, **kwargs)
    finally:
        recompute.active = outer


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run `functions` (a Sequential or a list of modules) in `segments` chunks, each checkpointed but
    the last, which backward needs first anyway."""
    from ..nn.containers import Sequential

    if use_reentrant is None:
        warnings.warn(
            "studio.core.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be "
            "passed explicitly. use_reentrant=False is recommended.",
            stacklevel=2,
        )
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    functions = list(functions)
    if not isinstance(segments, int) or not 1 <= segments <= max(len(functions), 1):
        raise ValueError(
            f"checkpoint_sequential: segments must be an integer from 1 to the number of functions "
            f"({len(functions)}), got {segments!r}"
        )

    def run(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x

        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return run(end + 1, len(functions) - 1)(input)
