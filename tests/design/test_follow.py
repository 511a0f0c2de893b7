"""A design follows its data: Input shape and dtype, Output task, and the width of the last Linear."""

from studio.design import load_template
from studio.design.follow import follow_data


def test_iris_design_follows_digits_like_data():
    design = load_template("iris_mlp").design
    changes = follow_data(design, (8,), 10, "classification")
    by = {(design.nodes[n].type, p): v for n, p, v in changes}
    assert by[("Input", "shape")] == (8,)
    assert by[("Linear", "out_features")] == 10


def test_regression_switches_the_loss_and_needs_one_output():
    design = load_template("iris_mlp").design
    changes = follow_data(design, (4,), 0, "regression")
    by = {(design.nodes[n].type, p): v for n, p, v in changes}
    assert by[("Output", "task")] == "regression" and by[("Output", "loss")] == "mse"
    assert by[("Linear", "out_features")] == 1


def test_nothing_changes_when_the_design_already_fits():
    design = load_template("iris_mlp").design
    assert follow_data(design, (4,), 3, "classification") == []
