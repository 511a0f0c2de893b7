"""Runs a compatibility program on PyTorch or on Studio, unchanged: on Studio, `import torch` and every
`torch.x.y` import resolve to `studio.core` and `studio.core.x.y` while the program runs.

A program is a PyTorch script with a `main()` that returns {"exact": {...}, "loose": {...}}: exact
values (deterministic results) must agree closely, loose ones (training losses, whose random starts
differ between the two libraries) must agree in kind.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path

PROGRAMS = Path(__file__).parent / "programs"
sys.path.insert(0, str(PROGRAMS))  # the programs share _data (local data in place of downloads)


class _TorchAsStudio(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `torch` and `torch.x.y` as the modules `studio.core` and `studio.core.x.y`."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        real = "studio.core" + fullname[len("torch") :]
        try:
            if importlib.util.find_spec(real) is None:
                return None
        except ModuleNotFoundError:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return importlib.import_module("studio.core" + spec.name[len("torch") :])

    def exec_module(self, module):
        pass


@contextlib.contextmanager
def torch_is_studio():
    """While inside, `import torch` gives studio.core (the real torch modules are set aside)."""
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "torch" or k.startswith("torch.")}
    finder = _TorchAsStudio()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def _load_and_run(path: Path, tag: str):
    name = f"_compat_{path.stem}_{tag}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as a script's __main__ is: pickle finds its classes there
    try:
        spec.loader.exec_module(module)
        return module.main()
    finally:
        sys.modules.pop(name, None)


def run_on_studio(path: Path):
    with torch_is_studio():
        return _load_and_run(path, "studio")


def run_on_torch(path: Path):
    import torch

    torch.set_num_threads(1)  # the suite runs in parallel workers: threads would only contend
    return _load_and_run(path, "torch")


def programs():
    return sorted(PROGRAMS.glob("p[0-9]*.py"))
