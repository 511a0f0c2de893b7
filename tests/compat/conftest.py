"""The compatibility programs import `torch`; the harness decides which library that is."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
