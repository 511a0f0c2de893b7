"""Build a design into an `nn.Module` that runs its graph in topological order."""

from __future__ import annotations

from .catalogue import CATALOGUE, Ctor


class BuildError(ValueError):
    """A design that cannot be built; the message lists its problems."""


def make_module(ctor: Ctor, nn):
    """Construct `nn.<cls>(*args, **kwargs)`, building nested constructors first."""
    args = tuple(make_module(a, nn) if isinstance(a, Ctor) else a for a in ctor.args)
    kwargs = {k: make_module(v, nn) if isinstance(v, Ctor) else v for k, v in ctor.kwargs.items()}
    try:
        cls = getattr(nn, ctor.cls)
    except AttributeError:
        raise BuildError(f"the engine has no nn.{ctor.cls} yet: this layer cannot be built") from None
    return cls(*args, **kwargs)


_CLASSES: dict = {}


def _graph_module_class(backend):
    """A Module subclass for `backend` (studio.core, or torch in comparisons), made once."""
    key = id(backend)
    if key in _CLASSES:
        return _CLASSES[key]
    nn = backend.nn

    class GraphModule(nn.Module):
        """Runs a design: each step reads its inputs' values, calls its layer and stores its output."""

        def __init__(self, steps, input_id, output_id, layer_names):
            super().__init__()
            # plain attributes: the plan is not a sub-module
            object.__setattr__(self, "_steps", steps)
            object.__setattr__(self, "_input_id", input_id)
            object.__setattr__(self, "_output_id", output_id)
            object.__setattr__(self, "layer_names", layer_names)

        def forward(self, x):
            return self.forward_all(x)[self._output_id]

        def forward_all(self, x, errors: dict | None = None) -> dict:
            """Every node's output by node id (the Input's is `x`): for inspecting activations.

            With `errors`, a step that fails puts its exception there by node id instead of raising,
            and the steps that need its output are left out, so that the others still run."""
            values = {self._input_id: x}
            modules = self._modules
            for nid, fn, name, srcs in self._steps:
                if errors is not None and any(s not in values for s in srcs):
                    continue
                try:
                    values[nid] = fn(modules[name] if name is not None else None, *[values[s] for s in srcs])
                except Exception as e:
                    if errors is None:
                        raise
                    errors[nid] = e
            return values

    GraphModule.__name__ = GraphModule.__qualname__ = "Net"
    _CLASSES[key] = GraphModule
    return GraphModule


def build(design, backend=None):
    """A module running `design`: sub-modules named after the nodes, created in topological order.

    `backend` is the framework to build with (default `studio.core`; tests pass `torch` to compare).
    Raises BuildError listing the design's problems when it does not validate.
    """
    if backend is None:
        import studio.core as backend
    inf = design.infer()
    if inf.problems:
        lines = "; ".join(
            (
                design.nodes[p.node_id].name + ": "
                if p.node_id in design.nodes and not p.message.startswith(design.nodes[p.node_id].name)
                else ""
            )
            + p.message
            for p in inf.problems[:5]
        )
        more = f" (and {len(inf.problems) - 5} more)" if len(inf.problems) > 5 else ""
        raise BuildError(f"the design has problems: {lines}{more}")
    feeds = {(e.dst, e.dst_port): e.src for e in design.edges}
    steps, modules = [], []
    for nid in inf.order:
        node = design.nodes[nid]
        sp = CATALOGUE[node.type]
        if node.type == "Input":
            continue
        srcs = tuple(feeds[(nid, port)] for port in range(len(sp.inputs)))
        in_shapes = [inf.shapes[s] for s in srcs]
        name = None
        if sp.ctor is not None:
            modules.append((node.name, make_module(sp.ctor(node.params, in_shapes), backend.nn)))
            name = node.name
        steps.append((nid, sp.forward(node.params, backend), name, srcs))
    cls = _graph_module_class(backend)
    net = cls(steps, inf.input_id, inf.output_id, {nid: design.nodes[nid].name for nid in inf.order})
    for name, module in modules:
        setattr(net, name, module)
    return net
