"""`studio.core.utils`: `utils.data` is `studio.core.data`, as `torch.utils.data` is in PyTorch.

`import studio.core.utils.data.sampler` and the like resolve to the one module under `studio.core.data`
(never a second copy of it), so that classes compare equal whichever path imported them.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from .. import data
from . import checkpoint

_ALIAS = __name__ + ".data"
_REAL = data.__name__


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, real):
        self.real = real

    def create_module(self, spec):
        return importlib.import_module(self.real)

    def exec_module(self, module):
        pass


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds `studio.core.utils.data[.x]` as the already-made `studio.core.data[.x]`."""

    def find_spec(self, fullname, path, target=None):
        if fullname == _ALIAS or fullname.startswith(_ALIAS + "."):
            real = _REAL + fullname[len(_ALIAS) :]
            if importlib.util.find_spec(real) is None:
                return None
            return importlib.util.spec_from_loader(fullname, _AliasLoader(real))
        return None


sys.modules[_ALIAS] = data
if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())  # before the path finder, which would load a second copy

__all__ = ["checkpoint", "data"]
