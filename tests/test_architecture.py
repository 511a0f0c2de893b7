"""The layer boundaries of the program hold (import-linter contracts in pyproject.toml)."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.fail("lint-imports is missing: install the test extras (pip install -e '.[test]')")
    res = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_only_backend_imports_numpy_choice():
    """Op code asks backend for its array module; cupy is imported nowhere else."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "studio").rglob("*.py")
        if p.name != "backend.py" and "import cupy" in p.read_text()
    ]
    assert offenders == []


def test_test_modules_have_unique_names():
    """pytest imports test files by base name (the folders are not packages): two alike would clash."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def _late_imports(path: Path, package: str, modules) -> set:
    """Modules imported at module level after the first class of `path` (its deliberate late imports)."""
    tree = ast.parse(path.read_text())
    seen_class, late = False, set()
    for node in tree.body:
        seen_class = seen_class or isinstance(node, ast.ClassDef)
        if seen_class and isinstance(node, ast.ImportFrom) and node.level == 1:
            base = package + ("." + node.module if node.module else "")
            # `from .pkg import name` imports the submodule pkg.name when there is one, else pkg
            late.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    return late


def _a_circle(graph: dict):
    """One import circle of `graph` (module -> imported modules), or None when there is none."""
    state = {}
    for start in graph:
        stack = [(start, iter(graph[start]))]
        path = [start]
        state[start] = "open"
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[path.pop()] = "done"
            elif state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in state:
                state[nxt] = "open"
                path.append(nxt)
                stack.append((nxt, iter(graph[nxt])))
    return None


def test_engine_imports_circle_only_through_tensor_methods():
    """The engine's one import circle is Tensor's methods calling the layers built on Tensor.

    Recording helpers live in `autograd/record.py` and array helpers in leaf modules, so taking away
    the late imports at the end of tensor.py leaves studio.core without any circle.
    """
    grimp = pytest.importorskip("grimp")  # installed with import-linter
    graph = grimp.build_graph("studio", cache_dir=None)
    core = {m for m in graph.modules if m == "studio.core" or m.startswith("studio.core.")}
    edges = {m: sorted(x for x in graph.find_modules_directly_imported_by(m) if x in core) for m in core}
    late = _late_imports(ROOT / "studio" / "core" / "tensor.py", "studio.core", core)
    assert late, "tensor.py no longer ends with its delegation imports: update this test"
    edges["studio.core.tensor"] = [m for m in edges["studio.core.tensor"] if m not in late]
    assert _a_circle(edges) is None, " -> ".join(_a_circle(edges))
