"""Any panel of the app on its own, with a sample project, for working on it without the whole window:

    python -m studio.ui.preview training      (or data, plots, evaluation, palette, properties, issues,
                                               inspector, experiments, compare; --template NAME
                                               picks the project)

A short run of the template fills the views that show results (plots, evaluation, inspector).
"""

from __future__ import annotations

import argparse
import sys

from studio.design.project import load_template

PANELS = (
    "training",
    "data",
    "plots",
    "evaluation",
    "palette",
    "properties",
    "issues",
    "inspector",
    "experiments",
    "compare",
)


def sample_project(template: str = "iris_mlp", trained: bool = False):
    """A template as a project (with one short run when `trained`), as the panels are shown with."""
    project = load_template(template)
    if trained:
        import tempfile

        from studio.training import fit

        project.training["epochs"] = min(int(project.training["epochs"]), 3)
        for _ in fit(project, weights_dir=tempfile.mkdtemp(prefix="studio-preview-")):
            pass
    return project


def _editor(project):
    from .editor import Editor

    return Editor(project.design)


def _make_training(project):
    from .training_panel import TrainingPanel

    panel = TrainingPanel()
    panel.set_project(project)
    return panel


def _make_data(project):
    from .data_panel import DataPanel

    panel = DataPanel()
    panel.set_project(project)
    return panel


def _make_plots(project):
    from .plots import LivePlots

    plots = LivePlots()
    plots.set_runs(project.runs)
    if project.runs:
        plots.show_run(project.runs[-1])
    return plots


def _make_evaluation(project):
    from .evaluation import EvaluationView

    view = EvaluationView()
    inputs = project.design.infer().input_id
    view.show_run(project.runs[-1] if project.runs else None, project.design.nodes[inputs].params["shape"])
    return view


def _make_palette(project):
    from .palette import LayerPalette

    return LayerPalette()


def _make_properties(project):
    from .properties import PropertiesPanel

    editor = _editor(project)
    panel = PropertiesPanel(editor)
    panel._preview_editor = editor  # the editor lives as long as the panel
    panel.set_selection(project.design.topological_order()[1:2])
    return panel


def _make_issues(project):
    from .issues import IssuesPanel

    editor = _editor(project)
    panel = IssuesPanel(editor)
    panel._preview_editor = editor
    return panel


def _make_inspector(project):
    from studio.training.inspect import inspect_project

    from .inspector import GraphInspector

    view = GraphInspector()
    view.show_inspection(inspect_project(project))
    return view


def _make_experiments(project):
    from .experiments_panel import ExperimentsPanel

    panel = ExperimentsPanel()
    panel.set_project(project)
    panel.add_param("lr")
    return panel


def _make_compare(project):
    from .run_compare import RunComparison

    view = RunComparison()
    view.set_runs(project.runs)
    return view


MAKERS = {name: globals()[f"_make_{name}"] for name in PANELS}
TRAINED = {"plots", "evaluation", "compare"}  # the views that show a run's results


def make_panel(name: str, project=None):
    """The panel `name`, showing `project` (a sample project when None)."""
    if name not in MAKERS:
        raise ValueError(f"unknown panel {name!r}; panels: {', '.join(PANELS)}")
    return MAKERS[name](project if project is not None else sample_project(trained=name in TRAINED))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.ui.preview", description=__doc__.splitlines()[0])
    parser.add_argument("panel", choices=PANELS)
    parser.add_argument("--template", default="iris_mlp", help="the template the panel shows")
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    widget = make_panel(args.panel, sample_project(args.template, trained=args.panel in TRAINED))
    widget.setWindowTitle(f"Studio: {args.panel} panel")
    widget.resize(720, 520)
    widget.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
