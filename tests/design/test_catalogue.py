"""The layer catalogue: complete, well declared, and each layer's shape and parameter count match PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from design_cases import LAYER_CASES, build_or_skip, copy_state, one_layer, sample_input

from studio import assets
from studio.design import CATALOGUE, CATEGORIES, Param, ParamError, by_category, default_params, spec
from studio.design.catalogue import PARAM_KINDS, validate_params

ENGINE_LAYERS = [
    "Linear",
    "Bilinear",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "Dropout",
    "Dropout2d",
    "Embedding",
    "RNN",
    "LSTM",
    "GRU",
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "Softplus",
]
DESIGN_LAYERS = ["Input", "Output", "Add", "Concat", "Multiply", "Reshape", "Flatten", "Permute"]
ICONS = assets.ICONS


def test_catalogue_covers_every_layer():
    assert set(CATALOGUE) == set(ENGINE_LAYERS) | set(DESIGN_LAYERS)
    assert set(LAYER_CASES) | {"Input"} == set(CATALOGUE)


def test_catalogue_is_in_palette_order_and_grouped():
    cats = [s.category for s in CATALOGUE.values()]
    assert cats == sorted(cats, key=CATEGORIES.index)
    groups = by_category()
    assert list(groups) == list(CATEGORIES)
    assert all(groups[c] for c in CATEGORIES)
    assert sum(len(v) for v in groups.values()) == len(CATALOGUE)


@pytest.mark.parametrize("type_", list(CATALOGUE))
def test_declarations_are_complete(type_):
    s = spec(type_)
    assert s.type == type_ and s.display_name and s.help and "\n" not in s.help
    assert s.category in CATEGORIES
    assert (ICONS / f"{s.icon}.svg").is_file()
    for p in s.params:
        assert p.kind in PARAM_KINDS and p.help and "\n" not in p.help
        assert p.validate(p.default) == p.default, p.name
        if p.kind == "choice":
            assert p.default in p.choices
    assert default_params(type_) == {p.name: p.default for p in s.params}
    assert s.inputs != () or type_ == "Input"
    assert s.outputs != () or type_ == "Output"


def test_unknown_type_names_the_known_ones():
    with pytest.raises(KeyError, match="Conv2d"):
        spec("Conv3d")


def test_param_validation_messages():
    p = spec("Linear").param("out_features")
    with pytest.raises(ParamError, match=r"^out_features: expected a positive integer, got -2$"):
        p.validate(-2)
    assert p.validate("7") == 7 and p.validate(7.0) == 7
    with pytest.raises(ParamError):
        p.validate(True)
    with pytest.raises(ParamError, match="expected a number from 0.0 to 1.0, got 1.5"):
        spec("Dropout").param("p").validate(1.5)
    with pytest.raises(ParamError, match="one of 'relu', 'gelu'"):
        spec("TransformerEncoderLayer").param("activation").validate("swish")
    k = spec("Conv2d").param("kernel_size")
    assert k.validate(5) == (5, 5) and k.validate([3, 1]) == (3, 1) and k.validate("3, 2") == (3, 2)
    with pytest.raises(ParamError):
        k.validate((3, 3, 3))
    assert spec("MaxPool2d").param("stride").validate(None) is None
    with pytest.raises(ParamError):
        spec("Linear").param("bias").validate("maybe")
    assert Param("x", "float", 1.0).validate(2) == 2.0
    with pytest.raises(ParamError):
        Param("x", "float", 1.0).validate(float("nan"))


@pytest.mark.parametrize(
    "text, expected",
    [(3, (3, 3)), ("3", (3, 3)), ("3, 3", (3, 3)), ("3x3", (3, 3)), ("(3, 5)", (3, 5)), ("[2 4]", (2, 4))],
)
def test_ints_accept_one_number_and_the_usual_spellings(text, expected):
    assert spec("Conv2d").param("kernel_size").validate(text) == expected


def test_ints_without_a_fixed_length_take_one_number_as_one_value():
    shape = spec("Input").param("shape")
    assert shape.validate(2) == (2,)
    assert shape.validate("2") == (2,)
    assert shape.validate("(2,)") == (2,)
    assert shape.validate("4, 5") == (4, 5)


@pytest.mark.parametrize(
    "value, reason",
    [
        ("3, a", "'a' is not a whole number"),
        ("1, 2, 3", "3 values instead of 2"),
        ("0", "0 is out of range"),
        ("2.5", "'2.5' is not a whole number"),
        ([3], None),
        ("", None),
        (True, None),
    ],
)
def test_ints_refusals_say_why(value, reason):
    with pytest.raises(ParamError) as info:
        spec("Conv2d").param("kernel_size").validate(value)
    message = str(info.value)
    assert message.startswith("kernel_size: expected a list of 2 integers")
    if reason:
        assert message.endswith(f"({reason})")


def test_validate_params_fills_defaults_and_reports_each_problem():
    clean, problems = validate_params("Conv2d", {"out_channels": 0, "kernel_size": 5, "colour": 1})
    assert clean["kernel_size"] == (5, 5) and clean["stride"] == (1, 1)
    assert len(problems) == 2 and any("colour" in p for p in problems)


@pytest.mark.parametrize("type_", list(LAYER_CASES))
def test_shape_and_parameter_count_match_pytorch(type_, torch):
    shape, dtype, params, n_in = LAYER_CASES[type_]
    design, node = one_layer(type_, shape, dtype, params, n_in)
    inf = design.infer()
    assert inf.problems == []
    net = build_or_skip(design, torch)
    net.eval()
    with torch.no_grad():
        out = net(torch.from_numpy(sample_input(shape, dtype)))
    assert tuple(out.shape) == (2, *inf.shapes[node.id][1:])
    assert sum(p.numel() for p in net.parameters()) == inf.param_counts[node.id] == inf.total_params


@pytest.mark.parametrize("type_", list(LAYER_CASES))
def test_engine_build_matches_pytorch_given_the_same_weights(type_, torch):
    import studio.core as sc

    shape, dtype, params, n_in = LAYER_CASES[type_]
    design, node = one_layer(type_, shape, dtype, params, n_in)
    ours = build_or_skip(design)
    ref = build_or_skip(design, torch)
    assert sorted(ours.state_dict()) == sorted(ref.state_dict())
    copy_state(ref, ours, sc)
    ours.eval()
    ref.eval()
    x = sample_input(shape, dtype)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    got = ours(sc.from_numpy(x)).detach().numpy()
    assert got.shape == expected.shape == (2, *design.infer().shapes[node.id][1:])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
