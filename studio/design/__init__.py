"""The network design the canvas edits (no Qt): catalogue, document, inference, build, export, projects."""

from __future__ import annotations

from .build import BuildError, build
from .catalogue import CATALOGUE, CATEGORIES, LayerSpec, Param, ParamError, by_category, default_params, spec
from .document import Change, Design, DesignError, Edge, Node
from .export import export_python
from .inference import Inference, Problem, format_shape, infer
from .project import (
    FORMAT_VERSION,
    Project,
    ProjectError,
    list_templates,
    load_project,
    load_template,
    new_project,
    save_project,
)

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "FORMAT_VERSION",
    "BuildError",
    "Change",
    "Design",
    "DesignError",
    "Edge",
    "Inference",
    "LayerSpec",
    "Node",
    "Param",
    "ParamError",
    "Problem",
    "Project",
    "ProjectError",
    "build",
    "by_category",
    "default_params",
    "export_python",
    "format_shape",
    "infer",
    "list_templates",
    "load_project",
    "load_template",
    "new_project",
    "save_project",
    "spec",
]
