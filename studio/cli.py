"""`studio`: the command line."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    print("studio 0.1.0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
