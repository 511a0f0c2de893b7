"""Helpers for the export tests: tiny data for each sample, and importing an exported script."""

from __future__ import annotations

import importlib.util
import sys
import uuid

import numpy as np

from studio import assets
from studio.design.samples import make_sequences, make_tokens


def tiny_data(project, folder):
    """A small file with the project's kind of data, for `--data`."""
    data = project.data
    kind, sample = data.get("kind"), data.get("sample")
    if kind == "csv" or sample == "iris":
        import pandas as pd

        frame = pd.read_csv(assets.DATA / "iris.csv")
        path = folder / "tiny.csv"
        frame.groupby("species").head(8).to_csv(path, index=False)
        return path
    path = folder / "tiny.npz"
    if sample == "digits":
        with np.load(assets.DATA / "digits_8x8.npz") as d:
            np.savez(path, images=d["images"][:40], labels=d["labels"][:40])
    elif sample == "sequences":
        x, y = make_sequences(n=30)
        np.savez(path, x=x, y=y)
    elif sample == "tokens":
        x, y = make_tokens(n=30)
        np.savez(path, x=x, y=y)
    else:
        raise ValueError(f"no tiny data for {kind} {sample}")
    return path


def import_script(path):
    """Import an exported script as a module (importing it must train nothing)."""
    name = f"exported_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def engine_has(design) -> bool:
    """Whether studio.core.nn has every module class the design needs."""
    import studio.core.nn as nn
    from studio.design.catalogue import CATALOGUE, Ctor

    inf = design.infer()
    feeds = {(e.dst, e.dst_port): e.src for e in design.edges}

    def classes(c):
        yield c.cls
        for a in (*c.args, *c.kwargs.values()):
            if isinstance(a, Ctor):
                yield from classes(a)

    for nid in inf.order:
        node = design.nodes[nid]
        sp = CATALOGUE[node.type]
        if sp.ctor is None or node.type == "Input":
            continue
        ins = [inf.shapes[feeds[(nid, p)]] for p in range(len(sp.inputs))]
        if not all(hasattr(nn, c) for c in classes(sp.ctor(node.params, ins))):
            return False
    return True
