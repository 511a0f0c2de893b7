"""`python -m studio.ui [FILE]`: start the desktop app, optionally opening a project."""

from __future__ import annotations

import sys

from .app import run_app

if __name__ == "__main__":
    sys.exit(run_app(sys.argv[1] if len(sys.argv) > 1 else None))
