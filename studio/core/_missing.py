"""The AttributeError for a PyTorch name Studio does not have: it names the PyTorch feature and, where
there is one, what to use instead, so that a script stops with a message rather than deep inside."""

from __future__ import annotations

# torch-level features, by attribute name: what to do instead
_HINTS = {
    "compile": "graph compilation is not part of Studio; call the model directly (it runs eagerly)",
    "jit": "TorchScript is not part of Studio; save weights with torch.save(model.state_dict(), ...)",
    "fx": "graph tracing (torch.fx) is not part of Studio; autograd.graph_walk lists a model's operations",
    "export": "torch.export is not part of Studio; save weights with torch.save(model.state_dict(), ...)",
    "fft": "Fourier transforms (torch.fft) are not part of Studio; numpy.fft works on tensor.numpy()",
    "sparse": "sparse tensors are not part of Studio; use dense tensors",
    "hub": "torch.hub downloads are not part of Studio; load weights from a local file with torch.load",
    "func": "function transforms (torch.func, vmap) are not part of Studio; use autograd.grad and loops",
    "vmap": "vmap is not part of Studio; loop over the batch or write the op batched",
    "complex64": "complex dtypes are not part of Studio",
    "complex128": "complex dtypes are not part of Studio",
    "cfloat": "complex dtypes are not part of Studio",
    "cdouble": "complex dtypes are not part of Studio",
    "mps": "Apple's Metal backend is not part of Studio; use the CPU, or CUDA through cupy",
    "xpu": "Intel GPUs are not part of Studio; use the CPU, or CUDA through cupy",
    "profiler": "torch.profiler is not part of Studio; `python -m benchmarks` measures speed",
    "library": "custom operator libraries are not part of Studio; write an autograd.Function",
}


def module_getattr(module_name: str, torch_name: str, name: str):
    """Raise the AttributeError for `module_name.name`, naming `torch_name.name` and a hint."""
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    hint = (_HINTS.get(name) if torch_name == "torch" else None) or "not implemented in Studio"
    raise AttributeError(
        f"module {module_name!r} has no attribute {name!r} (PyTorch's {torch_name}.{name}): {hint}"
    )
