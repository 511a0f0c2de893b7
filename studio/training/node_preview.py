"""What each node of a design outputs for one example of the project's data, reduced to small summaries.

The canvas draws these beside its nodes: feature maps of image-like outputs as a grid of small grey
images, vectors as value bars (the class probabilities at the output) or a histogram when they are
long, sequences and attention weights as heat maps. Every summary is bounded in size whatever the
layer's size, so that it can be handed to the window and painted cheaply. A node that cannot run gets
a message instead, and the others still show what they output.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAPS_AT_MOST = 8  # feature maps shown of an image-like output
MAP_SIDE = 24  # a feature map is averaged down to at most this many pixels a side
BARS_AT_MOST = 32  # a vector this long or shorter is shown value by value, a longer one as a histogram
HISTOGRAM_BINS = 24
HEAT_SIDE = 32  # a heat map is averaged down to at most this many cells a side


@dataclass
class NodePreview:
    """One node's output for the example, summarised.

    kind: "maps" (values: (k, h, w) uint8, each map scaled to its own range), "heatmap" (values:
    (h, w) uint8), "bars" (values: float32 values, `labels` naming each, `highlight` the largest),
    "histogram" (values: counts, `span` the range they cover) or "message" (`caption` says why
    there is nothing to show)."""

    kind: str
    values: np.ndarray | None = None
    caption: str = ""
    shape: tuple = ()
    labels: tuple = ()
    highlight: int = -1
    span: tuple = (0.0, 0.0)  # the smallest and largest value of the output
    full: float = 0.0  # a bar this high fills the height (1 for probabilities); 0: the largest does


@dataclass
class Previews:
    """Every node's preview for one example, and whose weights made them."""

    nodes: dict = field(default_factory=dict)  # node id -> NodePreview
    weights: str = "fresh"  # "fresh", or the id of the run whose trained weights were used
    weights_text: str = "fresh weights"  # what the canvas says about the weights, in words
    example: str = ""  # which example went through, in words
    split: str = ""  # the split it was taken from
    label: str = ""  # its label, in words (", label 3"), when the data has classes
    index: int = 0  # the example's position in its split
    count: int = 0  # examples in that split
    note: str = ""  # why the weights differ from what was asked (a run's weights that no longer fit)


def preview_key(project, run: dict | None, index: int) -> str:
    """What the previews depend on, as text: equal keys give equal previews (moving a node does not
    change them, so it need not compute them again)."""
    design = project.design.to_dict()
    for node in design.get("nodes", []):
        node.pop("pos", None)
    seed = (project.training or {}).get("seed", 0)
    weights = None if run is None else (run.get("id"), run.get("weights"))
    return json.dumps([design, project.data, seed, weights, int(index)], sort_keys=True, default=str)


def newest_trained_run(project) -> dict | None:
    """The newest run that kept weights, whose weights the previews try first."""
    runs = [r for r in project.runs if isinstance(r, dict) and r.get("weights")]
    return runs[-1] if runs else None


_DATA_CACHE: dict = {}  # one prepared data set, by what it was prepared from


def _prepared(project):
    """The project's data, prepared once for as long as its settings and file stay the same."""
    from .data import prepare_data

    data = dict(project.data or {})
    path = data.get("path")
    stamp = None
    if path:
        full = Path(path) if Path(path).is_absolute() else project.folder / path
        try:
            stamp = full.stat().st_mtime_ns
        except OSError:
            stamp = None
    key = json.dumps([data, str(project.folder), stamp], sort_keys=True, default=str)
    if key not in _DATA_CACHE:
        prepared = prepare_data(project)
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = prepared
    return _DATA_CACHE[key]


def compute_previews(project, run: dict | None = None, index: int = 0, model=None) -> Previews:
    """Run example `index` of the project's data through its design, with `run`'s trained weights
    when they fit the design (else fresh weights drawn from the training seed), in evaluation mode,
    and summarise what each node outputs. `model` is the design as `fresh_model` builds it, made
    here when not given. Never raises for a design or data that cannot run: the nodes concerned
    carry the message."""
    from studio.design.build import BuildError

    from .data import DataError

    result = Previews()
    problems = _design_problems(project.design)
    if problems:
        result.nodes = problems
        return result
    try:
        prepared = _prepared(project)
    except (DataError, OSError, ValueError) as e:
        return _all_say(project.design, result, f"No data to show: {e}")
    split = next((k for k in ("test", "val", "train") if len(prepared.splits[k][0])), None)
    if split is None:
        return _all_say(project.design, result, "No data to show: the data has no examples")
    mismatch = _shape_mismatch(project.design, prepared)
    if mismatch:
        return _all_say(project.design, result, mismatch)
    x_all, y_all = prepared.splits[split]
    result.count = len(x_all)
    result.index = min(max(0, int(index)), len(x_all) - 1)
    result.split, result.label = split, _label_text(prepared, y_all[result.index])
    result.example = f"{split} example {result.index + 1} of {len(x_all)}{result.label}"
    try:
        model = _model(project, run, result, model)
    except (BuildError, ValueError, RuntimeError) as e:
        return _all_say(project.design, result, f"Cannot build the design: {e}")
    values, errors = _run(model, x_all[result.index : result.index + 1])
    result.nodes = _summaries(project.design, prepared, values, errors)
    _add_attention(project.design, model, values, result.nodes)
    return result


def _design_problems(design) -> dict:
    """A message for each node when the design cannot be built (its own problem, or the first one)."""
    problems = design.infer().problems
    if not problems:
        return {}
    own = {}
    for p in problems:
        if p.node_id is not None and p.node_id not in own:
            own[p.node_id] = NodePreview("message", caption=p.message)
    first = problems[0]
    where = design.nodes[first.node_id].name if first.node_id in design.nodes else "the design"
    other = NodePreview("message", caption=f"No preview until {where} is fixed: {first.message}")
    return {nid: own.get(nid, other) for nid in design.nodes}


def _shape_mismatch(design, prepared) -> str:
    """Why the data's examples cannot go into the design's Input, or "" when they can."""
    from studio.design.catalogue import format_shape

    node = design.nodes.get(design.infer().input_id)
    wanted = tuple(node.params.get("shape") or ()) if node is not None else ()
    given = tuple(prepared.input_shape)
    if not wanted or wanted == given:
        return ""
    return (
        f"No preview: the data comes in batches {format_shape((None, *given))}, "
        f"the Input takes {format_shape((None, *wanted))}"
    )


def _all_say(design, result: Previews, text: str) -> Previews:
    result.nodes = {nid: NodePreview("message", caption=text) for nid in design.nodes}
    return result


def _label_text(prepared, y) -> str:
    y = np.asarray(y)
    if prepared.task == "classification" and y.size == 1:
        k = int(y.ravel()[0])
        names = prepared.class_names
        return f", label {names[k] if 0 <= k < len(names) else k}"
    return ""


def fresh_model(project):
    """The project's design built with fresh weights drawn from its training seed, as a run would
    start; the process's random stream is put back afterwards. That stream is the whole process's:
    call this on the thread that otherwise draws from it (the app's GUI thread), never beside it."""
    import studio.core as core
    from studio.core import backend
    from studio.design import build

    mark = backend.fork_rng()
    try:
        core.manual_seed(int((project.training or {}).get("seed", 0) or 0))
        return build(project.design)
    finally:
        backend.restore_rng(mark)


def _model(project, run, result: Previews, model):
    """The design built with the run's weights when they fit, else with fresh seeded ones."""
    from studio.design.runs import RunWeightsError, load_run_weights

    if model is None:
        model = fresh_model(project)
    if run is not None:
        number = next((i for i, r in enumerate(project.runs, 1) if r is run), None)
        name = f"run {number}" if number is not None else f"run {run.get('id')}"
        trained = copy.deepcopy(model)  # a failed load may have filled some layers already
        try:
            load_run_weights(trained, project, run)
        except RunWeightsError:
            result.note = f"The weights of {name} do not fit the design as it is now: fresh weights are shown"
        else:
            model = trained
            result.weights, result.weights_text = str(run.get("id")), f"trained weights of {name}"
    model.eval()
    return model


def _run(model, x):
    """Every node's output for the batch `x`, and the exceptions of the nodes that failed.

    Autograd's switch is one flag for the whole process, so the pass leaves it alone (other threads,
    such as the graph inspector's, record while this one runs): the few operations it records for
    one example are dropped with it."""
    import studio.core as core

    errors: dict = {}
    values = model.forward_all(core.from_numpy(np.ascontiguousarray(x)), errors=errors)
    return values, errors


def _summaries(design, prepared, values, errors) -> dict:
    out = {}
    inf = design.infer()
    columns = prepared.raw_test[0] if prepared.raw_test else None
    for nid, node in design.nodes.items():
        if nid in errors:
            out[nid] = NodePreview("message", caption=f"Fails on this example: {errors[nid]}")
        elif nid not in values:
            failed = next((design.nodes[e].name for e in errors if e in design.nodes), "a layer before it")
            out[nid] = NodePreview("message", caption=f"No output: {failed} fails on this example")
        else:
            value = values[nid][0] if isinstance(values[nid], tuple) else values[nid]
            arr = np.asarray(value.detach().cpu().numpy())[0]
            if node.type == "Output" and prepared.task == "classification" and arr.ndim == 1:
                out[nid] = _probabilities(arr, prepared.class_names)
            elif nid == inf.input_id and arr.ndim == 1 and columns and len(columns) == arr.size:
                out[nid] = summarise(arr, labels=tuple(str(c) for c in columns))
            else:
                out[nid] = summarise(arr)
    return out


def summarise(arr, labels: tuple = ()) -> NodePreview:
    """A bounded summary of one example's output of any shape."""
    a = np.asarray(arr)
    shape = tuple(a.shape)
    if not np.issubdtype(a.dtype, np.number) or a.size == 0:
        return NodePreview("message", caption=f"nothing to draw in a {a.dtype} output of shape {shape}")
    a = a.astype(np.float64)
    span = (float(np.nanmin(a)), float(np.nanmax(a))) if np.isfinite(a).any() else (0.0, 0.0)
    while a.ndim > 3:  # a volume: its middle slice
        a = a[:, a.shape[1] // 2]
    if a.ndim == 2 and 1 in a.shape:  # a sequence of single values is a vector
        a = a.ravel()
    if a.ndim == 3 and min(a.shape[1:]) >= 2:
        preview = _maps(a)
    elif a.ndim >= 2:
        preview = heat_map(a.reshape(a.shape[0], -1))
    elif a.size <= BARS_AT_MOST:
        preview = _bars(a.ravel(), labels)
    else:
        preview = _histogram(a.ravel())
    preview.shape, preview.span = shape, span
    return preview


def _scaled(a) -> np.ndarray:
    """`a` mapped to 0..255 over its own range (a constant map is mid grey)."""
    a = np.nan_to_num(np.asarray(a, np.float64))
    lo, hi = float(a.min()), float(a.max())
    if hi - lo < 1e-12:
        return np.full(a.shape, 128, np.uint8)
    return np.round((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _shrink(a, side: int) -> np.ndarray:
    """Average the last two axes down by whole blocks until neither is longer than `side`."""
    h, w = a.shape[-2:]
    fh, fw = -(-h // side), -(-w // side)
    if fh == 1 and fw == 1:
        return a
    h2, w2 = h // fh * fh, w // fw * fw
    a = a[..., :h2, :w2]
    return a.reshape(*a.shape[:-2], h2 // fh, fh, w2 // fw, fw).mean(axis=(-3, -1))


def _maps(a) -> NodePreview:
    channels = a.shape[0]
    shown = _shrink(a[:MAPS_AT_MOST], MAP_SIDE)
    maps = np.stack([_scaled(m) for m in shown])
    h, w = a.shape[1:]
    if channels > len(maps):
        some = f"{len(maps)} of {channels} maps"
    else:
        some = f"{channels} map" + "s" * (channels > 1)
    return NodePreview("maps", maps, f"{some}, {h}x{w}")


def heat_map(a) -> NodePreview:
    """A matrix (a sequence's features, attention weights) as a heat map scaled to its range."""
    rows, cols = a.shape
    return NodePreview("heatmap", _scaled(_shrink(a, HEAT_SIDE)), f"{rows}x{cols}")


def _bars(a, labels: tuple) -> NodePreview:
    labels = labels if len(labels) == a.size else tuple(str(i) for i in range(a.size))
    top = int(np.nanargmax(a)) if np.isfinite(a).any() else -1
    caption = f"{a.size} values, largest {labels[top]} ({a[top]:.3g})" if top >= 0 else f"{a.size} values"
    return NodePreview("bars", a.astype(np.float32), caption, labels=labels, highlight=top)


def _histogram(a) -> NodePreview:
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return NodePreview("message", caption="no finite values")
    counts, _edges = np.histogram(finite, bins=HISTOGRAM_BINS)
    top = int(np.argmax(a == finite.max()))
    zeros = float((a == 0).mean())
    caption = f"{a.size} values, largest #{top} ({finite.max():.3g})"
    if zeros >= 0.01:
        caption += f", {zeros:.0%} zero"
    return NodePreview("histogram", counts.astype(np.int64), caption)


def _probabilities(logits, class_names) -> NodePreview:
    z = np.asarray(logits, np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    labels = tuple(class_names) if len(class_names) == p.size else tuple(str(i) for i in range(p.size))
    top = int(np.argmax(p))
    span = (float(z.min()), float(z.max()))
    caption = f"predicts {labels[top]} (p {p[top]:.2f})"
    if p.size > BARS_AT_MOST:  # many classes: the most likely ones
        order = np.argsort(-p)[:BARS_AT_MOST]
        p, labels = p[order], tuple(labels[i] for i in order)
        top = 0
    return NodePreview(
        "bars",
        p.astype(np.float32),
        caption,
        shape=z.shape,
        labels=labels,
        highlight=top,
        span=span,
        full=1.0,
    )


def _add_attention(design, model, values, nodes: dict) -> None:
    """Attention layers show their attention weights (averaged over heads) instead of their output."""
    inf = design.infer()
    feeds = {e.dst: e.src for e in design.edges if e.dst_port == 0}
    for nid, node in design.nodes.items():
        if node.type not in ("MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"):
            continue
        src = feeds.get(nid)
        if src not in values or nid not in values:
            continue
        module = getattr(model, node.name, None)
        try:
            weights, which = _attention_weights(module, values[src])
        except (AttributeError, TypeError, ValueError, RuntimeError):
            continue  # the output's own summary stays
        preview = heat_map(np.asarray(weights.detach().cpu().numpy())[0])
        preview.caption = f"attention{which}, {preview.caption}"
        preview.shape = tuple(inf.shapes.get(nid) or ())
        nodes[nid] = preview


def _attention_weights(module, x):
    """The (N, L, L) weights of a self-attention layer, or of the last layer of an encoder."""
    layers = list(getattr(module, "layers", None) or [module])
    for layer in layers[:-1]:
        x = layer(x)
    last = layers[-1]
    which = f" of layer {len(layers)}" if len(layers) > 1 else ""
    attn = getattr(last, "self_attn", None)
    if attn is None:
        return last(x, x, x, need_weights=True)[1], which
    if last.norm_first:
        x = last.norm1(x)
    return attn(x, x, x, need_weights=True)[1], which
