"""The design and training layers stay readable: no function over 60 lines, and no module graph circle
inside studio/design beyond the lazy, one-way calls of the document into inference, validation and build."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 60


def _functions(folder: Path):
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, node


def test_no_function_in_design_or_training_is_over_60_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for folder in ("studio/design", "studio/training")
        for path, node in _functions(ROOT / folder)
        if node.end_lineno - node.lineno + 1 > LIMIT
    ]
    assert long == []


def _imports(path: Path) -> set[str]:
    """The design modules a module imports at its top level (lazy imports inside functions aside)."""
    out = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_the_graph_rules_are_a_leaf_and_inference_and_validation_do_not_reach_the_document():
    design = ROOT / "studio/design"
    assert _imports(design / "graph.py") == set()
    assert _imports(design / "checks.py") == set()
    for name in ("inference.py", "validate.py"):
        text = (design / name).read_text(encoding="utf-8")
        assert "from .document" not in text and "import document" not in text, name
