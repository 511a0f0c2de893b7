"""Each node's output for one example, summarised for the canvas: shapes, bounds, whose weights, errors."""

from __future__ import annotations

import numpy as np
import pytest

from studio.design import load_template
from studio.training import fit
from studio.training.node_preview import (
    BARS_AT_MOST,
    HEAT_SIDE,
    HISTOGRAM_BINS,
    MAP_SIDE,
    MAPS_AT_MOST,
    compute_previews,
    newest_trained_run,
    preview_key,
    summarise,
)


def by_name(project, previews):
    return {project.design.nodes[nid].name: p for nid, p in previews.nodes.items()}


def node_named(project, name):
    return next(n for n in project.design.nodes.values() if n.name == name)


def test_the_iris_mlp_shows_labelled_bars_and_class_probabilities():
    project = load_template("iris_mlp")
    previews = compute_previews(project)
    shown = by_name(project, previews)
    assert set(previews.nodes) == set(project.design.nodes)
    assert previews.weights == "fresh" and previews.weights_text == "fresh weights"
    assert previews.split == "test" and previews.index == 0 and previews.count > 0
    assert previews.example.startswith("test example 1 of ") and ", label " in previews.example
    inputs = shown["inputs"]
    assert inputs.kind == "bars"
    assert inputs.labels == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert shown["hidden1"].kind == "bars" and shown["hidden1"].values.shape == (16,)
    assert shown["relu1"].values.min() >= 0  # what the layer outputs, not its input
    out = shown["output"]
    assert out.kind == "bars" and out.labels == ("setosa", "versicolor", "virginica")
    assert out.values.sum() == pytest.approx(1.0, abs=1e-5) and out.values.min() > 0
    assert out.highlight == int(np.argmax(out.values)) and out.caption.startswith("predicts ")


def test_fresh_weights_come_from_the_training_seed_and_leave_the_random_stream_alone():
    import studio.core as core

    project = load_template("iris_mlp")
    core.manual_seed(123)
    expected = core.rand(3).numpy()
    core.manual_seed(123)
    first = by_name(project, compute_previews(project))["hidden1"].values
    assert np.array_equal(core.rand(3).numpy(), expected)
    again = by_name(project, compute_previews(project))["hidden1"].values
    assert np.array_equal(first, again)
    project.training["seed"] = 7
    assert not np.array_equal(first, by_name(project, compute_previews(project))["hidden1"].values)


def test_the_digits_cnn_shows_bounded_feature_maps_and_histograms():
    project = load_template("digits_lenet")
    shown = by_name(project, compute_previews(project))
    conv1, conv2 = shown["conv1"], shown["conv2"]
    assert conv1.kind == "maps" and conv1.values.shape == (6, 8, 8) and conv1.values.dtype == np.uint8
    assert conv1.shape == (6, 8, 8) and conv1.caption == "6 maps, 8x8"
    assert conv2.values.shape == (MAPS_AT_MOST, 4, 4) and conv2.caption == f"{MAPS_AT_MOST} of 16 maps, 4x4"
    assert shown["inputs"].kind == "maps" and shown["inputs"].values.shape == (1, 8, 8)
    for maps in (conv1, conv2):  # each map is scaled to its own range
        for m in maps.values:
            assert m.max() - m.min() in (0, 255)
    flat = shown["fc1"]
    assert flat.kind == "histogram" and flat.values.shape == (HISTOGRAM_BINS,) and flat.values.sum() == 64
    assert shown["output"].kind == "bars" and shown["output"].values.shape == (10,)


@pytest.mark.parametrize(
    "shape, kind, bound",
    [
        ((64, 100, 90), "maps", MAPS_AT_MOST * MAP_SIDE * MAP_SIDE),
        ((3, 16, 200, 200), "maps", MAPS_AT_MOST * MAP_SIDE * MAP_SIDE),
        ((500, 300), "heatmap", HEAT_SIDE * HEAT_SIDE),
        ((100_000,), "histogram", HISTOGRAM_BINS),
        ((BARS_AT_MOST,), "bars", BARS_AT_MOST),
        ((24, 1), "bars", 24),
    ],
)
def test_every_summary_is_bounded_whatever_the_output_size(shape, kind, bound):
    preview = summarise(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    assert preview.kind == kind and preview.values.size <= bound and preview.shape == shape
    if kind == "maps":
        assert max(preview.values.shape[1:]) <= MAP_SIDE


def test_a_constant_or_non_finite_output_still_has_a_summary():
    flat = summarise(np.zeros((4, 6, 6), np.float32))
    assert flat.kind == "maps" and (flat.values == 128).all()
    assert summarise(np.full(100, np.nan)).kind == "message"
    assert summarise(np.array([], np.float32)).kind == "message"


def test_attention_layers_show_their_weights_as_a_heat_map():
    project = load_template("tokens_transformer")
    shown = by_name(project, compute_previews(project))
    encoder = shown["encoder"]
    length = project.design.nodes[project.design.infer().input_id].params["shape"][0]
    assert encoder.kind == "heatmap" and encoder.values.shape == (length, length)
    assert encoder.caption.startswith("attention of layer ")
    assert shown["embed"].kind == "heatmap"


def _train(project, tmp_path):
    project.training["epochs"] = 2
    for _ in fit(project, weights_dir=tmp_path):
        pass
    return project.runs[-1]


def test_a_trained_run_is_used_while_its_weights_fit_the_design(tmp_path):
    project = load_template("iris_mlp")
    fresh = by_name(project, compute_previews(project))["hidden1"].values
    run = _train(project, tmp_path)
    assert newest_trained_run(project) is run
    previews = compute_previews(project, run)
    assert previews.weights == str(run["id"]) and previews.weights_text == "trained weights of run 1"
    assert not previews.note
    assert not np.allclose(by_name(project, previews)["hidden1"].values, fresh)
    # the design changed since: the run's weights no longer fit, and the previews say so
    project.design.set_param(node_named(project, "hidden1").id, "out_features", 8)
    changed = compute_previews(project, run)
    assert changed.weights == "fresh" and changed.weights_text == "fresh weights"
    assert "run 1" in changed.note and "do not fit" in changed.note
    fresh_now = by_name(project, compute_previews(project))["hidden1"].values
    assert np.array_equal(by_name(project, changed)["hidden1"].values, fresh_now)


def test_the_grad_mode_of_the_process_is_left_alone():
    import studio.core as core

    project = load_template("tokens_transformer")
    with core.no_grad():
        compute_previews(project)
        assert not core.is_grad_enabled()
    compute_previews(project)
    assert core.is_grad_enabled()


def test_a_design_with_a_problem_gets_a_message_on_each_node():
    project = load_template("iris_mlp")
    design = project.design
    relu = node_named(project, "relu1")
    edge = next(e for e in design.edges if e.dst == relu.id)
    design.disconnect(edge)
    previews = compute_previews(project)
    assert set(previews.nodes) == set(design.nodes)
    assert all(p.kind == "message" and p.caption for p in previews.nodes.values())
    assert "input" in previews.nodes[relu.id].caption.lower()


def test_data_that_does_not_fit_the_input_is_said_on_each_node():
    project = load_template("digits_lenet")
    project.data["sample"] = "iris"
    previews = compute_previews(project)
    captions = {p.caption for p in previews.nodes.values()}
    assert len(captions) == 1 and "(N, 4)" in captions.pop()


def test_a_layer_that_fails_on_the_example_is_named_and_the_layers_after_it_say_why():
    project = load_template("tokens_transformer")
    embed = node_named(project, "embed")
    project.design.set_param(embed.id, "num_embeddings", 2)  # the tokens go beyond 1: an index error
    shown = by_name(project, compute_previews(project))
    assert shown["embed"].kind == "message" and shown["embed"].caption.startswith("Fails on this example")
    assert shown["head"].kind == "message" and "embed fails" in shown["head"].caption
    assert shown["tokens"].kind == "bars"  # what ran before it still shows


def test_the_chosen_example_is_used_and_kept_in_range():
    project = load_template("iris_mlp")
    first = compute_previews(project, index=0)
    fifth = compute_previews(project, index=4)
    assert fifth.index == 4 and fifth.example.startswith("test example 5 ")
    inputs = project.design.infer().input_id
    assert not np.array_equal(first.nodes[inputs].values, fifth.nodes[inputs].values)
    assert compute_previews(project, index=10_000).index == first.count - 1


def test_the_key_ignores_where_nodes_stand_but_not_what_they_are():
    project = load_template("iris_mlp")
    key = preview_key(project, None, 0)
    node = node_named(project, "hidden1")
    project.design.move(node.id, (999.0, 999.0))
    assert preview_key(project, None, 0) == key
    assert preview_key(project, None, 1) != key
    project.design.set_param(node.id, "out_features", 8)
    assert preview_key(project, None, 0) != key
