#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment away from the source tree, and use it:
# a project from the sample data, one epoch of training, and the main window opened offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip wheel -q --no-deps -w "$work/dist" .
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/dist/studio-*.whl
cd "$work"
export HOME="$work/home" QT_QPA_PLATFORM=offscreen
mkdir -p "$HOME"
"$work/venv/bin/studio" new --data iris -o iris.studio
"$work/venv/bin/studio" train iris.studio --epochs 1
"$work/venv/bin/python" -m studio info iris.studio >/dev/null
"$work/venv/bin/python" - <<'PY'
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

import studio
from studio.ui.app import run_app

assert "site-packages" in studio.__file__, studio.__file__  # the installed wheel, not a checkout
app = QApplication(sys.argv[:1])
shown = []
QTimer.singleShot(1500, lambda: (shown.extend(w.windowTitle() for w in app.topLevelWidgets() if w.isVisible()),
                                 app.quit()))
code = run_app("iris.studio")
assert code == 0 and any("iris" in t for t in shown), (code, shown)
print("window opened:", [t for t in shown if t][:1])
PY
echo "wheel check passed in $(( $(date +%s) - started )) s (build, fresh install, new, train, window)"
