"""`python -m benchmarks.api_coverage`: how much of PyTorch's public API Studio has, by name.

For torch, torch.nn, torch.nn.functional, torch.Tensor, torch.optim and torch.utils.data: the share of
public names that exist in Studio (studio.core, .nn, .nn.functional, .Tensor, .optim, .utils.data),
plain and weighted by how often public example code uses each name. The names and the usage counts
come from benchmarks/data/torch_api_usage.json, which says how they were measured.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DATA = Path(__file__).parent / "data" / "torch_api_usage.json"


def _studio_spaces():
    import studio.core as sc
    import studio.core.nn.functional as F
    from studio.core.utils import data

    return {
        "torch": sc,
        "torch.nn": sc.nn,
        "torch.nn.functional": F,
        "torch.Tensor": sc.Tensor,
        "torch.optim": sc.optim,
        "torch.utils.data": data,
    }


def _has(obj, name) -> bool:
    try:
        getattr(obj, name)
    except AttributeError:
        return False
    except Exception:  # noqa: BLE001 - a property that fails on the class still exists
        return True
    return True


def coverage(doc=None):
    """Per namespace: (names, present, references in the sample, references to present names, missing
    names that the sample uses with their counts)."""
    doc = doc or json.loads(DATA.read_text())
    spaces = _studio_spaces()
    rows = {}
    for space, names in doc["names"].items():
        obj = spaces[space]
        counts = doc["counts"].get(space, {})
        present = {n for n in names if _has(obj, n)}
        used = sum(counts.values())
        used_present = sum(c for n, c in counts.items() if n in present)
        missing = sorted(((n, c) for n, c in counts.items() if n not in present), key=lambda t: -t[1])
        rows[space] = (len(names), len(present), used, used_present, missing)
    return rows


def _table(rows, doc) -> str:
    lines = [
        f"API coverage of PyTorch {doc['torch_version']} by name, weighted by use in "
        f"{len(doc['files'])} public example files",
        "",
        f"{'namespace':22} {'names':>6} {'in Studio':>9} {'plain':>7} {'uses':>6} {'weighted':>9}",
    ]
    total_names = total_present = total_used = total_used_present = 0
    for space, (n, p, used, used_p, _) in rows.items():
        weighted = f"{100 * used_p / used:8.1f}%" if used else "      n/a"
        lines.append(f"{space:22} {n:6} {p:9} {100 * p / n:6.1f}% {used:6} {weighted}")
        total_names, total_present = total_names + n, total_present + p
        total_used, total_used_present = total_used + used, total_used_present + used_p
    lines.append(
        f"{'all':22} {total_names:6} {total_present:9} {100 * total_present / total_names:6.1f}% "
        f"{total_used:6} {100 * total_used_present / total_used:8.1f}%"
    )
    missing = [f"{space}.{n} ({c})" for space, row in rows.items() for n, c in row[4]]
    lines += ["", "used in the sample but missing: " + (", ".join(missing) or "none")]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.api_coverage", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--missing", action="store_true", help="also list every public name Studio lacks")
    args = parser.parse_args(argv)
    doc = json.loads(DATA.read_text())
    rows = coverage(doc)
    print(_table(rows, doc))
    if args.missing:
        spaces = _studio_spaces()
        for space, names in doc["names"].items():
            lacking = [n for n in names if not _has(spaces[space], n)]
            print(f"\n{space} lacks {len(lacking)}: {' '.join(lacking)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
