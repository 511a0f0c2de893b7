"""Start the desktop app: check that a display can open, create the QApplication, show the main window."""

from __future__ import annotations

import ctypes.util
import os
import sys

from .names import APP_NAME, ORG_NAME

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


DISPLAY_TIMEOUT_S = 3.0  # a display server on the network that does not answer within this is down


def x_server_address(display: str):
    """Where the X server that DISPLAY names listens: ("unix", socket path) or ("tcp", (host, port));
    None when DISPLAY cannot be read."""
    host, sep, rest = display.strip().rpartition(":")
    number = rest.split(".")[0]
    if not sep or not number.isdigit():
        return None
    if host.startswith("/"):  # a socket path before the display number (XQuartz on macOS)
        return ("unix", host)
    if host in ("", "unix"):
        return ("unix", f"/tmp/.X11-unix/X{int(number)}")
    return ("tcp", (host.strip("[]"), 6000 + int(number)))


def socket_answers(kind: str, address, timeout: float = DISPLAY_TIMEOUT_S) -> bool:
    """Whether something accepts a connection at the address: a server listens there."""
    import socket

    try:
        if kind == "tcp":
            socket.create_connection(address, timeout=timeout).close()
            return True
        candidates = [address]
        if sys.platform.startswith("linux"):
            candidates.insert(0, "\0" + address)  # X servers listen on the abstract name too
        for path in candidates:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                try:
                    sock.connect(path)
                    return True
                except OSError:
                    continue
    except (OSError, ValueError):
        return False
    return False


def _server_problem(env, qpa: str, answers) -> str | None:
    """Why the display server that Qt would use does not answer, or None when it does."""
    wayland = env.get("WAYLAND_DISPLAY", "")
    if qpa.startswith("wayland") or (qpa == "" and wayland and not env.get("DISPLAY")):
        folder = env.get("XDG_RUNTIME_DIR", "")
        path = wayland if os.path.isabs(wayland) else os.path.join(folder, wayland)
        if not answers("unix", path):
            return (
                f"WAYLAND_DISPLAY={wayland} names a Wayland display, but no compositor answers at {path}. "
                "Run Studio in the desktop session, or run headless with QT_QPA_PLATFORM=offscreen."
            )
        return None
    display = env.get("DISPLAY", "")
    if qpa not in ("", "xcb") or not display:
        return None
    address = x_server_address(display)
    if address is None:
        return f"DISPLAY={display} is not a display name (expected something like :0 or host:0)."
    if not answers(*address):
        where = address[1] if address[0] == "unix" else f"{address[1][0]} port {address[1][1]}"
        return (
            f"DISPLAY={display} names an X display, but no X server answers there ({where}). Start one "
            "(for example `Xvfb :99 &` and DISPLAY=:99), point DISPLAY at a running one, or run headless "
            "with QT_QPA_PLATFORM=offscreen."
        )
    return None


def display_problem(
    environ=None, find_library=ctypes.util.find_library, platform=sys.platform, answers=socket_answers
) -> str | None:
    """Why Qt could not open a window here, in plain words, or None when it should work. The display
    server is asked first (Qt itself would abort, blaming a library), within a few seconds."""
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
    server = _server_problem(env, qpa, answers)
    if server is not None:
        return server
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
    # Python's cyclic garbage collector runs on a timer in the GUI thread only: run by a background
    # thread (previews, reads, sweeps), it would destroy dropped widgets off the GUI thread, where Qt
    # deadlocks or crashes
    from pyqtgraph.util.garbage_collector import GarbageCollector

    collector = GarbageCollector(interval=1.0)  # noqa: F841 - kept alive for the app's lifetime
    window = MainWindow(path=path) if path else MainWindow()
    window.show()
    window.offer_recovery()
    return app.exec()
