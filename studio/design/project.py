"""Project files (`*.studio`): JSON with a format version, migrations, atomic save and checked load."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import assets
from ..assets.samples import SAMPLES as SAMPLE_REGISTRY
from .catalogue import TASKS
from .checks import got, is_int, is_num
from .document import Design
from .inference import gc_paused
from .run_summary import run_problems
from .sweep_record import sweep_problems
from .training_spec import TRAINING_SPEC
from .validate import design_problems

FORMAT_NAME = "studio-project"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024

SAMPLES = tuple(SAMPLE_REGISTRY)
DATA_KINDS = ("sample", "csv", "images")
PREPROCESSING = ("standardize", "none")
# The engine's strategies (studio.core.data.tabular.MISSING_STRATEGIES; a test keeps them equal), and
# "zero" from older project files, which fills with 0 like "constant"
MISSING = ("mean", "median", "most_frequent", "constant", "drop", "error", "zero")


def _range(name: str) -> tuple:
    s = TRAINING_SPEC.setting(name)
    return (s.min, s.max)


# The range of each numeric setting, in one place: the loader accepts exactly these values and the
# window's fields hold exactly them, so that whatever the loader accepts, the window opens unchanged.
# The training settings' ranges are the training spec's; a seed stops at 2**31 - 1, the largest number
# a Qt spin box holds, for data splits too.
RANGES = {
    **{k: _range(k) for k in ("lr", "weight_decay", "batch_size", "epochs", "seed")},
    "momentum": _range("sgd.momentum"),
    "patience": _range("early_stopping.patience"),
    "image_size": (1, 4096),
    "train_fraction": (0.01, 1.0),
    "fraction": (0.0, 1.0),
}

DEFAULT_DATA = {
    "kind": "sample",
    "sample": "iris",
    "path": None,
    "target": None,
    "features": [],
    "task": "classification",
    "preprocessing": "standardize",
    "missing": "mean",
    "image_size": [28, 28],
    "image_mode": "L",
    "augmentation": {"hflip": False, "shift": False, "rotate": False},
    "split": {"train": 0.7, "val": 0.15, "test": 0.15},
    "seed": 0,
}

DEFAULT_TRAINING = TRAINING_SPEC.defaults()

TEMPLATES_DIR = assets.TEMPLATES


# the weights files a run may record (a compressed run adds its int8 file)
WEIGHT_KEYS = ("weights", "best_weights", "quantized_weights")


class ProjectError(Exception):
    """A project file that cannot be read; `problems` lists each problem with its JSON path."""

    def __init__(self, problems, path=None):
        self.problems = list(problems) if not isinstance(problems, str) else [problems]
        self.path = str(path) if path is not None else None
        super().__init__(self._summary())

    def _summary(self) -> str:
        where = f"{self.path}: " if self.path else ""
        if len(self.problems) == 1:
            return where + self.problems[0]
        shown = "\n  ".join(self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        return f"{where}{len(self.problems)} problems:\n  {shown}{more}"


@dataclass
class Project:
    """A design with its data source, training settings and past runs; `path` is where it is saved."""

    design: Design = field(default_factory=Design)
    data: dict = field(default_factory=lambda: copy.deepcopy(DEFAULT_DATA))
    training: dict = field(default_factory=lambda: copy.deepcopy(DEFAULT_TRAINING))
    runs: list = field(default_factory=list)
    path: str | None = None
    name: str = ""
    description: str = ""
    # where the runs of a project that was never saved keep their weights (see studio.design.runs)
    unsaved_runs: str | None = field(default=None, compare=False, repr=False)
    sweeps: list = field(default_factory=list)  # the project's experiments (studio.training.sweep)

    @property
    def folder(self) -> Path:
        return Path(self.path).resolve().parent if self.path else Path.cwd()

    def data_path(self) -> Path | None:
        """The data file or folder as an absolute path (None for sample data)."""
        p = self.data.get("path")
        if not p:
            return None
        p = Path(p)
        return p if p.is_absolute() else self.folder / p

    def weights_path(self) -> Path | None:
        """The newest run's weights file, absolute, when one exists."""
        for run in reversed(self.runs):
            w = run.get("weights") if isinstance(run, dict) else None
            if w:
                p = Path(w)
                return p if p.is_absolute() else self.folder / p
        return None

    def to_dict(self, relative_to: Path | None = None) -> dict:
        data = copy.deepcopy(self.data)
        runs = copy.deepcopy(self.runs)
        if relative_to is not None:
            if data.get("path"):
                data["path"] = _relative(data["path"], relative_to, self.folder)
            for run in runs:
                if isinstance(run, dict):
                    for key in WEIGHT_KEYS:
                        if run.get(key):
                            run[key] = _relative(run[key], relative_to, self.folder)
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "design": self.design.to_dict(),
            "data": data,
            "training": copy.deepcopy(self.training),
            "runs": runs,
            # written only when there are sweeps, so that a project without any reads as before
            **({"sweeps": copy.deepcopy(self.sweeps)} if self.sweeps else {}),
        }


def _relative(p, folder: Path, base: Path) -> str:
    """A path as stored in a project file: relative to the project's folder, with forward slashes."""
    p = Path(p)
    if not p.is_absolute():
        p = base / p
    try:
        # realpath, unlike Path.resolve, returns a path that loops through links rather than raising
        return Path(os.path.relpath(os.path.realpath(p), os.path.realpath(folder))).as_posix()
    except ValueError:  # another drive on Windows
        return p.as_posix()


def new_project(data=None, training=None, design=None, path=None, name="") -> Project:
    """A project with default settings, updated by the given data and training settings."""
    d = copy.deepcopy(DEFAULT_DATA)
    d.update(copy.deepcopy(data or {}))
    t = copy.deepcopy(DEFAULT_TRAINING)
    t.update(copy.deepcopy(training or {}))
    return Project(design if design is not None else Design(), d, t, [], str(path) if path else None, name)


# ---------------------------------------------------------------------------------------------------
# Save
# ---------------------------------------------------------------------------------------------------


def save_project(project: Project, path=None) -> Path:
    """Write the project as JSON atomically (see `studio.core.atomic`); returns the path written.

    A failure (a full disk, a folder that cannot be written) raises OSError and changes nothing on
    disk or in `project`.
    """
    path = Path(path or project.path or "")
    if not str(path):
        raise ProjectError("the project has no file name yet: choose where to save it")
    folder = path.resolve().parent
    saved = project.to_dict(relative_to=folder)
    text = json.dumps(saved, indent=2, allow_nan=False) + "\n"
    from ..core import atomic  # here, not at the top: the engine is slow to import for `studio info`

    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, text)
    # relative paths now refer to the new folder: keep the in-memory ones resolving there too
    project.data["path"] = saved["data"].get("path")
    for run, saved_run in zip(project.runs, saved["runs"]):
        if isinstance(run, dict):
            for key in WEIGHT_KEYS:
                if run.get(key):
                    run[key] = saved_run[key]
    project.path = str(path)
    return path


# ---------------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------------


def _migrate_0_to_1(d: dict) -> dict:
    """Version 0 kept the design under "model" and edges as {"from": [id, port], "to": [id, port]}."""
    d = dict(d)
    if "model" in d and "design" not in d:
        d["design"] = d.pop("model")
    design = d.get("design")
    if isinstance(design, dict) and isinstance(design.get("edges"), list):
        edges = []
        for e in design["edges"]:
            if isinstance(e, dict) and isinstance(e.get("from"), list) and isinstance(e.get("to"), list):
                edges.append([*e["from"], *e["to"]])
            else:
                edges.append(e)
        design = dict(design, edges=edges)
        d["design"] = design
    d["version"] = 1
    return d


MIGRATIONS = {0: _migrate_0_to_1}


def migrate(d: dict) -> dict:
    """Bring a project dict forward to FORMAT_VERSION, one version at a time."""
    version = d.get("version", 0)
    while version < FORMAT_VERSION:
        d = MIGRATIONS[version](d)
        version = d["version"]
    return d


def _check(problems, at, ok, expected, value):
    if not ok:
        problems.append(f"{at}: expected {expected}, got {got(value)}")


def _check_range(problems, at, value, key, integer=False):
    """A number within RANGES[key] (an integer when `integer`)."""
    lo, hi = RANGES[key]
    ok = (is_int(value) if integer else is_num(value)) and lo <= value <= hi
    words = f"an integer from {lo} to {hi}" if integer else f"a number from {lo:g} to {hi:g}"
    _check(problems, at, ok, words, value)


def data_problems(d, at="data") -> list[str]:
    if not isinstance(d, dict):
        return [f"{at}: expected an object, got {got(d)}"]
    pr: list[str] = []
    for key in d:
        if key not in DEFAULT_DATA:
            pr.append(f"{at}.{key}: unknown field")
    g = d.get
    _check(pr, f"{at}.kind", g("kind", "sample") in DATA_KINDS, "one of " + ", ".join(DATA_KINDS), g("kind"))
    if g("kind", "sample") == "sample":
        _check(pr, f"{at}.sample", g("sample") in SAMPLES, "one of " + ", ".join(SAMPLES), g("sample"))
    elif not isinstance(g("path"), str) or not g("path"):
        pr.append(f"{at}.path: expected the path of the data, got {got(g('path'))}")
    for key in ("path", "target", "sample"):
        v = g(key)
        _check(pr, f"{at}.{key}", v is None or (isinstance(v, str) and len(v) <= 4096), "a text or null", v)
    feats = g("features", [])
    _check(
        pr,
        f"{at}.features",
        isinstance(feats, list) and all(isinstance(f, str) for f in feats),
        "a list of column names",
        feats,
    )
    _check(pr, f"{at}.task", g("task", "classification") in TASKS, "one of " + ", ".join(TASKS), g("task"))
    _check(pr, f"{at}.missing", g("missing", "mean") in MISSING, "one of " + ", ".join(MISSING), g("missing"))
    _check(
        pr,
        f"{at}.preprocessing",
        g("preprocessing", "none") in PREPROCESSING,
        "one of " + ", ".join(PREPROCESSING),
        g("preprocessing"),
    )
    size = g("image_size", [28, 28])
    lo, hi = RANGES["image_size"]
    _check(
        pr,
        f"{at}.image_size",
        isinstance(size, list) and len(size) == 2 and all(is_int(v) and lo <= v <= hi for v in size),
        f"two integers from {lo} to {hi}",
        size,
    )
    _check(pr, f"{at}.image_mode", g("image_mode", "L") in ("L", "RGB"), "'L' or 'RGB'", g("image_mode"))
    aug = g("augmentation", {})
    _check(
        pr,
        f"{at}.augmentation",
        isinstance(aug, dict) and all(isinstance(v, bool) for v in aug.values()),
        "an object of true/false switches",
        aug,
    )
    pr += _split_problems(g("split", DEFAULT_DATA["split"]), f"{at}.split")
    _check_range(pr, f"{at}.seed", g("seed", 0), "seed", integer=True)
    return pr


def _split_problems(split, at: str) -> list[str]:
    if not isinstance(split, dict) or set(split) - {"train", "val", "test"}:
        return [f"{at}: expected an object with train, val and test fractions, got {got(split)}"]
    pr: list[str] = []
    for k, v in split.items():
        _check_range(pr, f"{at}.{k}", v, "train_fraction" if k == "train" else "fraction")
    whole = {**DEFAULT_DATA["split"], **split}  # the fractions the project will have
    if all(is_num(v) for v in whole.values()) and sum(whole.values()) > 1.0 + 1e-9:
        pr.append(f"{at}: fractions add up to more than 1 ({sum(whole.values()):g})")
    return pr


def training_problems(t, at="training") -> list[str]:
    """Each training setting the training spec refuses."""
    return TRAINING_SPEC.problems(t, at)


def _reject_constant(name):
    raise ValueError(f"{name} is not a valid JSON number")


def _migrated(d, path) -> dict:
    """A project file's dict at this format version, or ProjectError when it is not one we read."""
    if not isinstance(d, dict):
        raise ProjectError([f"not a project file: expected a JSON object, got {got(d)}"], path)
    if d.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise ProjectError([f"format: expected {FORMAT_NAME!r}, got {got(d.get('format'))}"], path)
    version = d.get("version", 0)
    if not is_int(version) or version < 0:
        raise ProjectError([f"version: expected a non-negative integer, got {got(version)}"], path)
    if version > FORMAT_VERSION:
        raise ProjectError(
            [
                f"version: the file is format version {version}, newer than this Studio reads "
                f"({FORMAT_VERSION}): update Studio"
            ],
            path,
        )
    try:
        return migrate(d)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ProjectError([f"version: cannot migrate the file from version {version} ({e})"], path) from None


FIELDS = ("format", "version", "name", "description", "design", "data", "training", "runs", "sweeps")


def _project_problems(d, data, training, runs) -> list[str]:
    problems = [f"{key}: unknown field" for key in d if key not in FIELDS]
    for key in ("name", "description"):
        if not isinstance(d.get(key, ""), str):
            problems.append(f"{key}: expected a text, got {got(d.get(key))}")
    problems += design_problems(d.get("design", {"nodes": [], "edges": []}), "design")
    problems += data_problems(data)
    problems += training_problems(training)
    if not isinstance(runs, list):
        problems.append(f"runs: expected a list, got {got(runs)}")
    else:
        for i, run in enumerate(runs):
            problems += run_problems(run, f"runs[{i}]")
    sweeps = d.get("sweeps", [])
    if not isinstance(sweeps, list):
        problems.append(f"sweeps: expected a list, got {got(sweeps)}")
    else:
        for i, sweep in enumerate(sweeps):
            problems += sweep_problems(sweep, f"sweeps[{i}]")
    return problems


def project_from_dict(d, path=None) -> Project:
    """A checked Project from a parsed project file; ProjectError lists every problem found."""
    d = _migrated(d, path)
    data = d.get("data", {})
    data = {**DEFAULT_DATA, **data} if isinstance(data, dict) else data
    training = d.get("training", {})
    training = {**DEFAULT_TRAINING, **training} if isinstance(training, dict) else training
    runs = d.get("runs", [])
    problems = _project_problems(d, data, training, runs)
    if problems:
        raise ProjectError(problems, path)
    try:
        design = Design.from_checked_dict(d.get("design", {"nodes": [], "edges": []}))
    except (ValueError, KeyError, TypeError) as e:
        raise ProjectError([f"design: {e}"], path) from None
    data = copy.deepcopy(data)
    data["split"] = {**DEFAULT_DATA["split"], **data.get("split", {})}
    data["augmentation"] = {**DEFAULT_DATA["augmentation"], **data.get("augmentation", {})}
    training = copy.deepcopy(training)
    for group in TRAINING_SPEC.groups:
        training[group] = {**DEFAULT_TRAINING[group], **training.get(group, {})}
    name, description = d.get("name", ""), d.get("description", "")
    return Project(
        design,
        data,
        training,
        copy.deepcopy(runs),
        str(path) if path else None,
        name,
        description,
        sweeps=copy.deepcopy(d.get("sweeps", [])),
    )


def _without_path(message: str, path) -> str:
    """A file error's reason alone: the ProjectError names the file already."""
    prefix = f"{path} "
    return "the file " + message[len(prefix) :] if message.startswith(prefix) else message


def load_project(path) -> Project:
    """Read and check a project file. Never executes anything from it; every failure is a ProjectError."""
    from studio.core.data.files import DataFileError, open_regular

    path = Path(path)
    try:
        with open_regular(path, MAX_FILE_BYTES, "project file") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except DataFileError as e:
        raise ProjectError([_without_path(str(e), path)], path) from None
    except OSError as e:
        raise ProjectError([f"cannot read the file ({e.strerror or e})"], path) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ProjectError([f"the file is more than {MAX_FILE_BYTES} bytes, too large for a project"], path)
    try:
        text = raw.decode("utf-8")
        d = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ProjectError(["not a project file: the file is not UTF-8 text"], path) from None
    except json.JSONDecodeError as e:
        raise ProjectError(
            [f"not a project file: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"], path
        ) from None
    except (ValueError, RecursionError) as e:
        raise ProjectError([f"not a project file: {e}"], path) from None
    try:
        with gc_paused():
            return project_from_dict(d, path)
    except ProjectError:
        raise
    except (RecursionError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        raise ProjectError([f"not a valid project file ({type(e).__name__}: {e})"], path) from None


# ---------------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------------


def list_templates() -> list[tuple[str, str, str, Path]]:
    """(name, title, description, path) of each shipped template, sorted by name."""
    out = []
    for p in sorted(TEMPLATES_DIR.glob("*.studio")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
            title, desc = str(d.get("name", p.stem)), str(d.get("description", ""))
        except (OSError, ValueError):
            continue
        out.append((p.stem, title, desc, p))
    return out


def load_template(name: str) -> Project:
    """A template as a new, unsaved project (its data paths resolved against the templates folder)."""
    path = TEMPLATES_DIR / f"{name}.studio"
    if not path.is_file() or "/" in name or "\\" in name:
        known = ", ".join(t[0] for t in list_templates())
        raise ProjectError([f"unknown template {name!r}; templates: {known}"])
    project = load_project(path)
    if project.data.get("path"):
        project.data["path"] = str(project.data_path())
    project.path = None
    project.runs = []
    project.sweeps = []
    return project
