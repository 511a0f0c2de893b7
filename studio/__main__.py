"""`python -m studio` does what the `studio` command does."""

import sys

from .cli import main

sys.exit(main())
