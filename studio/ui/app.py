"""Start the desktop app: check that a display can open, create the QApplication, show the main window."""

from __future__ import annotations

import ctypes.util
import os
import sys

APP_NAME = "Studio"
ORG_NAME = "Studio"

# System libraries Qt's xcb (X11) platform plugin loads, with the Debian package that provides each.
XCB_LIBRARIES = (
    ("xcb-cursor", "libxcb-cursor0"),
    ("xkbcommon-x11", "libxkbcommon-x11-0"),
    ("xcb-icccm", "libxcb-icccm4"),
    ("xcb-image", "libxcb-image0"),
    ("xcb-keysyms", "libxcb-keysyms1"),
    ("xcb-render-util", "libxcb-render-util0"),
    ("xcb-shape", "libxcb-shape0"),
    ("EGL", "libegl1"),
    ("GL", "libgl1"),
)
APT_PACKAGES = (
    "libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 "
    "libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libegl1 libgl1 fonts-dejavu-core"
)
# Platforms that need no window system at all.
HEADLESS_PLATFORMS = {"offscreen", "minimal", "vnc", "vkkhrdisplay", "eglfs", "linuxfb"}


def display_problem(environ=None, find_library=ctypes.util.find_library, platform=sys.platform) -> str | None:
    """Why Qt could not open a window here, in plain words, or None when it should work."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa in HEADLESS_PLATFORMS:
        return None
    has_x, has_wayland = bool(env.get("DISPLAY")), bool(env.get("WAYLAND_DISPLAY"))
    if qpa.startswith("wayland") and not has_wayland:
        return (
            f"QT_QPA_PLATFORM={qpa} but WAYLAND_DISPLAY is not set: no Wayland session to show a window in. "
            "Unset QT_QPA_PLATFORM to use X11, or run with QT_QPA_PLATFORM=offscreen."
        )
    if not has_x and not has_wayland:
        return (
            "No display to show the window on: neither DISPLAY nor WAYLAND_DISPLAY is set. Run Studio in a "
            "desktop session, start a virtual X server (for example `xvfb-run python -m studio.ui`), or "
            "run headless with QT_QPA_PLATFORM=offscreen."
        )
    if qpa in ("", "xcb") and has_x:
        missing = [(name, package) for name, package in XCB_LIBRARIES if not find_library(name)]
        if missing:
            libs = ", ".join(f"lib{name}" for name, _ in missing)
            packages = " ".join(package for _, package in missing)
            return (
                f"Qt's X11 (xcb) platform plugin cannot start: missing system libraries {libs}. "
                f"On Debian or Ubuntu install them with `apt-get install -y {packages}` "
                f"(the full list Studio uses: {APT_PACKAGES})."
            )
    return None


def run_app(path=None) -> int:
    """Run the desktop app until its last window closes; open the project at `path` if given."""
    problem = display_problem()
    if problem is not None:
        print(f"studio: {problem}", file=sys.stderr)
        return 1
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:  # a missing shared library of Qt itself, such as libEGL.so.1
        print(
            f"studio: Qt could not be loaded ({exc}). Install the system libraries it needs, for example "
            f"`apt-get install -y {APT_PACKAGES}`.",
            file=sys.stderr,
        )
        return 1

    from .errors import install_excepthook
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationDisplayName(APP_NAME)
    install_excepthook()
    window = MainWindow(path=path) if path else MainWindow()
    window.show()
    window.offer_recovery()
    return app.exec()
