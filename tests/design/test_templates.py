"""The shipped templates: in sync with their source, valid, and their inferred shapes are the built ones."""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_helpers import engine_has

from studio.design.project import TEMPLATES_DIR, list_templates, load_template
from studio.design.samples import SAMPLE_INFO, load_sample
from studio.design.starter import template_projects

NAMES = [t[0] for t in list_templates()]


def test_five_templates_ship():
    assert sorted(NAMES) == sorted(template_projects())
    assert len(NAMES) == 5


@pytest.mark.parametrize("name", NAMES)
def test_template_file_matches_its_source(name, tmp_path):
    from studio.design.starter import write_templates

    write_templates(tmp_path)
    assert json.loads((tmp_path / f"{name}.studio").read_text()) == json.loads(
        (TEMPLATES_DIR / f"{name}.studio").read_text()
    )


@pytest.mark.parametrize("name", NAMES)
def test_template_validates_and_builds_to_its_inferred_shapes(name):
    import studio.core as sc
    from studio.design.build import build

    project = load_template(name)
    design = project.design
    inf = design.infer()
    assert inf.problems == []
    info = SAMPLE_INFO[project.data["sample"]]
    assert design.nodes[inf.input_id].params["shape"] == info["input_shape"]
    assert inf.output_shape == (None, info["num_classes"])
    if not engine_has(design):
        pytest.skip("the engine lacks a layer of this template")
    x, y = load_sample(project.data["sample"])
    net = build(design)
    net.eval()
    values = net.forward_all(sc.from_numpy(np.ascontiguousarray(x[:3])))
    for nid, value in values.items():
        assert tuple(value.shape) == (3, *inf.shapes[nid][1:])
    assert sum(p.numel() for p in net.parameters()) == inf.total_params


def test_templates_sit_on_the_canvas_grid_in_the_automatic_layout():
    from studio.design.layout import is_automatic
    from studio.design.starter import GRID_STEP
    from studio.ui.layout import NODE_H, NODE_W, STEP

    assert GRID_STEP == STEP
    for name, project in template_projects().items():
        spots = [node.pos for node in project.design.nodes.values()]
        # rows may be halved: the automatic layout centres parallel branches on the row between them
        assert all(x % STEP[0] == 0 and y % (STEP[1] / 2) == 0 for x, y in spots), name
        for k, (x, y) in enumerate(spots):
            for x2, y2 in spots[k + 1 :]:
                assert abs(x - x2) >= NODE_W or abs(y - y2) >= NODE_H, name
        # laid out as the app would, so that a window may fold them into rows to suit its view
        design = project.design
        assert is_automatic(dict(zip(design.nodes, spots)), list(design.nodes), design.edges), name
