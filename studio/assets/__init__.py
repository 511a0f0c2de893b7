"""Files shipped inside the package: sample data (with licences), design templates and icons."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# Installed packages are unpacked on disk (wheels and editable installs alike), so a plain Path works
# for readers such as pandas and numpy that want a file name.
ROOT = Path(str(files(__name__)))
DATA = ROOT / "data"
TEMPLATES = ROOT / "templates"
ICONS = ROOT / "icons"
