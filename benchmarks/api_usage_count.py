"""`python -m benchmarks.api_usage_count FILE...`: count, with `ast`, the references that Python source
makes to public names of torch, torch.nn, torch.nn.functional, torch.Tensor, torch.optim and
torch.utils.data; `--update` stores the counts (never the code) in benchmarks/data/torch_api_usage.json.

What counts as one reference:
- an import of a name from one of the namespaces (`from torch.optim import Adam`, `from torch import nn`,
  `import torch.nn.functional as F` counts `functional` of torch.nn);
- an attribute chain rooted at a name bound to torch or to one of its modules, counted once, for the
  first name below the deepest namespace it passes (`torch.nn.Linear` and `nn.Linear` count Linear of
  torch.nn, `F.relu` relu of torch.nn.functional, `torch.cuda.is_available()` cuda of torch);
- a use of a name imported from a namespace (`Adam(...)` after `from torch.optim import Adam`);
- a method call `x.name(...)` whose name is a public torch.Tensor method, where the receiver is not a
  torch module, nor a name bound by an import (`np.sum(...)`, `os.path.join(...)` are not Tensor
  calls), nor a literal, nor `self` itself (`self.relu(x)` calls the class's own layer).

The method cannot see types: a call such as `model.to(device)` or `line.split()` counts as a Tensor
method because its name is one; names reached through getattr at run time are not counted.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import Counter
from pathlib import Path

DATA = Path(__file__).parent / "data" / "torch_api_usage.json"
SPACES = ("torch", "torch.nn", "torch.nn.functional", "torch.Tensor", "torch.optim", "torch.utils.data")
_MODULE_SPACES = tuple(s for s in SPACES if s != "torch.Tensor")
METHOD = (
    "Counted by benchmarks/api_usage_count.py (ast) in public example files read through the search "
    "tool's file store at the commits listed; the local copies were kept out of the repository, and "
    "lines that hold no reference (argument parsing, plotting, comments, docstrings, message texts) "
    "were left out of them. The rules are the module's docstring: imports, attribute chains counted "
    "once below the deepest namespace, uses of imported members, and Tensor method calls on receivers "
    "no other namespace claims. 'names' lists the public names of each namespace in torch 2.13.0 "
    "(dir() without underscore names); a name absent from the sample weighs 0."
)


def _split(path: str):
    """(namespace, name) for a dotted path under torch: the deepest namespace that is a proper prefix."""
    for space in sorted(_MODULE_SPACES, key=len, reverse=True):
        if path.startswith(space + "."):
            return space, path[len(space) + 1 :].split(".")[0]
    return None


def _is_module_path(path: str) -> bool:
    """Whether a dotted path names a torch module (not a member): the root or a namespace, or a module
    path that a namespace's names lead to (torch.utils, torch.optim.lr_scheduler are treated as such)."""
    return path in _MODULE_SPACES or path == "torch.utils"


class _Counter(ast.NodeVisitor):
    def __init__(self, names):
        self.names = names  # namespace -> set of public names
        self.counts = {space: Counter() for space in SPACES}
        self.torch_aliases = {}  # local name -> dotted torch path it is bound to
        self.other_imports = set()  # local names bound to modules or members of other packages

    # ------------------------------------------------------------------------------ bindings
    def _count(self, space, name):
        if name in self.names.get(space, ()):
            self.counts[space][name] += 1

    def _count_path(self, path):
        split = _split(path)
        if split:
            self._count(*split)

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name == "torch" or alias.name.startswith("torch."):
                if alias.asname:
                    self.torch_aliases[alias.asname] = alias.name
                    self._count_path(alias.name)
                else:
                    self.torch_aliases["torch"] = "torch"
                    self._count_path(alias.name)
            else:
                self.other_imports.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node):
        module = node.module or ""
        if node.level or not (module == "torch" or module.startswith("torch.")):
            for alias in node.names:
                self.other_imports.add(alias.asname or alias.name)
            return
        for alias in node.names:
            if alias.name == "*":
                continue
            path = f"{module}.{alias.name}"
            self.torch_aliases[alias.asname or alias.name] = path
            self._count_path(path)

    # ------------------------------------------------------------------------------ uses
    def _chain(self, node):
        """(root name, [attributes]) of a chain a.b.c, or None when the chain does not start at a name."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            return node.id, parts[::-1]
        return None

    def visit_Attribute(self, node):
        chain = self._chain(node)
        if chain and chain[0] in self.torch_aliases:
            root, attrs = chain
            path = ".".join([self.torch_aliases[root], *attrs])
            self._count_path(path)
            return  # the whole chain is one reference
        self.generic_visit(node)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.torch_aliases:
            path = self.torch_aliases[node.id]
            if not _is_module_path(path) and path != "torch":
                self._count_path(path)

    def visit_Call(self, node):
        func = node.func
        tensor_methods = self.names.get("torch.Tensor", ())
        if isinstance(func, ast.Attribute) and func.attr in tensor_methods and not self._claimed(func.value):
            self.counts["torch.Tensor"][func.attr] += 1
        self.generic_visit(node)

    def _claimed(self, receiver) -> bool:
        """Whether another namespace claims the receiver of a method call: a torch module or alias, a
        name imported from another package, or a literal."""
        if isinstance(receiver, ast.Constant | ast.JoinedStr | ast.List | ast.Dict | ast.Set | ast.Tuple):
            return True
        chain = self._chain(receiver)
        if chain is None:
            return False
        root = chain[0]
        if root in ("self", "cls") and not chain[1]:
            return True  # a method of the class being written (self.relu(x) calls a module)
        if root in self.other_imports:
            return True
        if root in self.torch_aliases:
            path = ".".join([self.torch_aliases[root], *chain[1]])
            return _is_module_path(path) or path == "torch" or not path.startswith("torch")
        return False


def count_source(source: str, names) -> dict:
    """Per namespace, {name: references} in one Python source text (names: namespace -> public names)."""
    counter = _Counter({space: set(ns) for space, ns in names.items()})
    counter.visit(ast.parse(source))
    return {space: dict(sorted(c.items())) for space, c in counter.counts.items() if c}


def torch_names():
    """The public names of each namespace in the installed PyTorch."""
    import torch
    import torch.nn.functional
    import torch.utils.data

    modules = {
        "torch": torch,
        "torch.nn": torch.nn,
        "torch.nn.functional": torch.nn.functional,
        "torch.Tensor": torch.Tensor,
        "torch.optim": torch.optim,
        "torch.utils.data": torch.utils.data,
    }
    return {space: sorted(n for n in dir(m) if not n.startswith("_")) for space, m in modules.items()}


def totals(per_file):
    total = {space: Counter() for space in SPACES}
    for counts in per_file.values():
        for space, c in counts.items():
            total[space].update(c)
    return {space: dict(sorted(c.items())) for space, c in total.items()}


def update(doc, sources):
    """The usage document recounted from `sources`: [(file entry {repo, path, commit}, source text)]."""
    per_file = {}
    for entry, text in sources:
        per_file[f"{entry['repo']}/{entry['path']}"] = count_source(text, doc["names"])
    doc = dict(doc)
    doc["method"] = METHOD
    doc["files"] = [entry for entry, _ in sources]
    doc["per_file"] = per_file
    doc["counts"] = totals(per_file)
    return doc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.api_usage_count", description=__doc__.splitlines()[0]
    )
    parser.add_argument("files", nargs="*", type=Path, help="Python files to count")
    parser.add_argument(
        "--manifest",
        type=Path,
        help="a JSON list of {repo, path, commit, file}: the public files, with the local copy of each",
    )
    parser.add_argument("--update", action="store_true", help="store the manifest's counts in " + str(DATA))
    args = parser.parse_args(argv)
    doc = json.loads(DATA.read_text())
    if args.manifest:
        entries = json.loads(args.manifest.read_text())
        base = args.manifest.parent
        sources = [
            ({k: e[k] for k in ("repo", "path", "commit")}, (base / e["file"]).read_text()) for e in entries
        ]
    else:
        sources = [({"repo": "local", "path": str(f), "commit": ""}, f.read_text()) for f in args.files]
    try:
        new = update(doc, sources)
    except SyntaxError as exc:
        print(f"cannot parse {exc.filename or 'a file'}: line {exc.lineno}: {exc.msg}", file=sys.stderr)
        return 1
    if args.update:
        DATA.write_text(json.dumps(new, indent=1) + "\n")
    for space, counts in new["counts"].items():
        top = sorted(counts.items(), key=lambda t: -t[1])[:12]
        print(f"{space:22} {sum(counts.values()):6}  " + ", ".join(f"{n} {c}" for n, c in top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
