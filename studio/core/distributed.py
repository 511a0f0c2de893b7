"""`studio.core.distributed`: answers the questions single-process scripts ask (`is_available`,
`is_initialized`); multi-process training itself is PyTorch's job.

There is no process group here. Everything that would need one raises an error that says how to run
such training: export the design or the script to PyTorch and launch it with `torchrun`.
"""

from __future__ import annotations

MULTI_PROCESS_HINT = (
    "multi-process (distributed) training is not available in Studio; export the design to PyTorch "
    "(`studio export PROJECT -o train.py --target torch --ddp`, or File > Export) or run the script "
    "with PyTorch itself, and launch it with `torchrun --nproc_per_node=N`"
)


def _refuse(feature):
    return RuntimeError(f"{feature}: {MULTI_PROCESS_HINT}")


def is_available() -> bool:
    """False: Studio trains in one process (a script checking this falls back to that)."""
    return False


def is_initialized() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    return False


def init_process_group(*args, **kwargs):
    raise _refuse("torch.distributed.init_process_group")


def _not_initialized(name):
    def fn(*args, **kwargs):
        raise ValueError(
            f"torch.distributed.{name}: Default process group has not been initialized, please make sure "
            f"to call init_process_group ({MULTI_PROCESS_HINT})"
        )

    fn.__name__ = name
    return fn


get_rank = _not_initialized("get_rank")
get_world_size = _not_initialized("get_world_size")
barrier = _not_initialized("barrier")
all_reduce = _not_initialized("all_reduce")
all_gather = _not_initialized("all_gather")
broadcast = _not_initialized("broadcast")
reduce = _not_initialized("reduce")
destroy_process_group = _not_initialized("destroy_process_group")


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"studio.core.distributed has no attribute {name!r} (torch.distributed.{name}): {MULTI_PROCESS_HINT}"
    )
