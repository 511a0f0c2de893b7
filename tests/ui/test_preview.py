"""Every panel starts on its own with a sample project (python -m studio.ui.preview NAME)."""

from __future__ import annotations

import pytest

from studio.ui.preview import PANELS, make_panel, sample_project


@pytest.fixture(scope="module")
def trained():
    return sample_project("iris_mlp", trained=True)


@pytest.mark.parametrize("name", PANELS)
def test_each_panel_starts_alone(qtbot, name, trained):
    widget = make_panel(name, trained)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    assert widget.isVisible()
    if name == "training":
        assert widget.epochs.value() == trained.training["epochs"]
    if name == "data":
        qtbot.waitUntil(lambda: not widget.loading, timeout=60_000)


def test_an_unknown_panel_is_named():
    with pytest.raises(ValueError, match="unknown panel 'canvas'"):
        make_panel("canvas")
