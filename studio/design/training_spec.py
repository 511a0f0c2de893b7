"""The training settings, declared once: every setting of a run with its type, default, range and help.

The project loader checks files against it, the training panel makes its fields from it, `studio train`
makes its flags from it, and `fit` and the exporters read runs' settings through it. A setting is
addressed by a dotted name: `lr`, `early_stopping.patience`, `sgd.momentum` (an option of one optimizer)
or `step.gamma` (an option of one schedule). Adding an optimizer or a schedule is one entry below.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from .catalogue import LOSSES, Param, ParamError
from .checks import got


class SettingError(ParamError):
    """A setting name that does not exist or a value that its declaration refuses."""


@dataclass(frozen=True)
class Setting(Param):
    """One training setting: a catalogue parameter with a label, a command-line flag and how a search
    varies it (`sweep`: "log" or "linear" for numbers, "choice" for choices; None: not searched)."""

    title: str = ""
    sweep: str | None = None
    flag: str | None = None

    def expected(self) -> str:
        if self.kind == "int" and self.min is not None and self.max is not None:
            return f"an integer from {int(self.min)} to {int(self.max)}" + (
                " or none" if self.optional else ""
            )
        if self.kind == "float" and self.min is not None and self.max is not None:
            return f"a number from {self.min:g} to {self.max:g}" + (" or none" if self.optional else "")
        if self.kind == "floats":
            return f"a list of {self.length} numbers, each from {self.min:g} to {self.max:g}"
        return super().expected()

    def check(self, value):
        """`value` as a project file must hold it (no text for a number), or SettingError."""
        if value is None and self.optional:
            return None
        ok = {
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
            "choice": lambda v: isinstance(v, str),
            "floats": lambda v: isinstance(v, list),
        }.get(self.kind, lambda v: True)(value)
        if not ok:
            raise SettingError(f"expected {self.expected()}, got {got(value)}")
        return self.validate(value)

    def validate(self, value):
        """The value coerced to this setting's type (text from a command line too), or SettingError."""
        if self.kind == "floats":
            return self._floats(value)
        try:
            return super().validate(value)
        except ParamError:
            raise SettingError(f"expected {self.expected()}, got {got(value)}") from None

    def _floats(self, value) -> list:
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        fail = SettingError(f"expected {self.expected()}, got {got(value)}")
        if not isinstance(items, (list, tuple)) or len(items) != self.length:
            raise fail
        out = []
        for item in items:
            try:
                v = float(item) if not isinstance(item, bool) else math.nan
            except (TypeError, ValueError):
                raise fail from None
            if not (math.isfinite(v) and self.min <= v <= self.max):
                raise fail
            out.append(v)
        return out


@dataclass(frozen=True)
class Choice:
    """One optimizer, schedule or loss: the engine's class that runs it and its own settings.

    `follows` names the run quantities (see RUN_QUANTITIES) that fill an argument: an option left at
    None, or an argument no setting declares (always taken from the run). `when` says when a schedule
    steps: after each "epoch", each "step", or with the monitored quantity ("plateau")."""

    key: str
    cls: str
    title: str
    help: str = ""
    settings: tuple = ()
    follows: dict = field(default_factory=dict)
    when: str = ""


@dataclass(frozen=True)
class RunQuantity:
    """A value that depends on the run: how `fit` computes it, and how a script writes it."""

    value: Callable
    code: str


# the run's quantities, computed from (epochs, steps per epoch, learning rate, monitor mode)
RUN_QUANTITIES = {
    "epochs": RunQuantity(lambda r: max(1, r["epochs"]), "max(1, epochs)"),
    "third_of_epochs": RunQuantity(lambda r: max(1, r["epochs"] // 3), "max(1, epochs // 3)"),
    "total_steps": RunQuantity(
        lambda r: max(1, r["epochs"] * r["steps_per_epoch"]), "max(1, epochs * steps_per_epoch)"
    ),
    "lr": RunQuantity(lambda r: r["lr"], "LR"),
    "mode": RunQuantity(lambda r: r["mode"], "monitor.mode"),
}

_BETAS = Setting(
    "betas",
    "floats",
    (0.9, 0.999),
    "Decay rates of the gradient's running averages.",
    min=0.0,
    max=0.9999,
    length=2,
    title="Betas",
)


def _unit(name: str, default: float, help_: str, title: str, sweep: str | None = None) -> Setting:
    """A setting that is a number from 0 to 1."""
    return Setting(name, "float", default, help_, min=0.0, max=1.0, title=title, sweep=sweep)


def _momentum(default: float) -> Setting:
    return _unit(
        "momentum", default, "Fraction of the last update carried into the next.", "Momentum", "linear"
    )


def _eps(default: float) -> Setting:
    return Setting(
        "eps",
        "float",
        default,
        "Added to the denominator for numerical stability.",
        min=1e-12,
        max=1.0,
        title="Epsilon",
        sweep="log",
    )


_AMSGRAD = Setting("amsgrad", "bool", False, "Use the AMSGrad variant.", title="AMSGrad")

OPTIMIZERS = {
    c.key: c
    for c in (
        Choice(
            "adam", "Adam", "Adam", "Adaptive moments: a good first choice.", (_BETAS, _eps(1e-8), _AMSGRAD)
        ),
        Choice(
            "adamw",
            "AdamW",
            "AdamW",
            "Adam with weight decay decoupled from the gradient.",
            (_BETAS, _eps(1e-8), _AMSGRAD),
        ),
        Choice(
            "sgd",
            "SGD",
            "SGD",
            "Stochastic gradient descent, with momentum.",
            (
                _momentum(0.9),
                Setting(
                    "dampening",
                    "float",
                    0.0,
                    "Fraction of the gradient left out of the momentum.",
                    min=0.0,
                    max=1.0,
                    title="Dampening",
                ),
                Setting(
                    "nesterov",
                    "bool",
                    False,
                    "Nesterov momentum (needs momentum and no dampening).",
                    title="Nesterov",
                ),
            ),
        ),
        Choice(
            "rmsprop",
            "RMSprop",
            "RMSprop",
            "Divides by a running average of squared gradients.",
            (
                _unit("alpha", 0.99, "Decay rate of the squared gradients' average.", "Alpha"),
                _eps(1e-8),
                _momentum(0.0),
                Setting(
                    "centered", "bool", False, "Divide by the gradient's variance estimate.", title="Centered"
                ),
            ),
        ),
        Choice(
            "adagrad",
            "Adagrad",
            "Adagrad",
            "Per-parameter rates from the sum of squared gradients.",
            (
                _unit("lr_decay", 0.0, "Decay of the learning rate per step.", "LR decay"),
                _eps(1e-10),
            ),
        ),
    )
}

_GAMMA = "Factor the learning rate is multiplied by"
SCHEDULES = {
    c.key: c
    for c in (
        Choice("none", "", "None", "A constant learning rate."),
        Choice(
            "step",
            "StepLR",
            "Step",
            "Multiply the rate by gamma every step_size epochs.",
            (
                Setting(
                    "step_size",
                    "int",
                    None,
                    "Epochs between decays (none: a third of the epochs).",
                    min=1,
                    max=1_000_000,
                    optional=True,
                    title="Step size",
                ),
                Setting("gamma", "float", 0.1, f"{_GAMMA} at each decay.", min=1e-6, max=1.0, title="Gamma"),
            ),
            follows={"step_size": "third_of_epochs"},
            when="epoch",
        ),
        Choice(
            "cosine",
            "CosineAnnealingLR",
            "Cosine",
            "Follow a half cosine down to eta_min.",
            (
                Setting(
                    "T_max",
                    "int",
                    None,
                    "Epochs of the half cosine (none: all epochs).",
                    min=1,
                    max=1_000_000,
                    optional=True,
                    title="Length",
                    flag="t-max",
                ),
                Setting(
                    "eta_min", "float", 0.0, "The lowest learning rate.", min=0.0, max=1e6, title="Minimum"
                ),
            ),
            follows={"T_max": "epochs"},
            when="epoch",
        ),
        Choice(
            "exponential",
            "ExponentialLR",
            "Exponential",
            "Multiply the rate by gamma each epoch.",
            (Setting("gamma", "float", 0.95, f"{_GAMMA} each epoch.", min=1e-6, max=1.0, title="Gamma"),),
            when="epoch",
        ),
        Choice(
            "plateau",
            "ReduceLROnPlateau",
            "On plateau",
            "Lower the rate when the monitored quantity stops improving.",
            (
                Setting(
                    "factor", "float", 0.1, f"{_GAMMA} on a plateau.", min=1e-6, max=0.999999, title="Factor"
                ),
                Setting(
                    "patience",
                    "int",
                    2,
                    "Epochs without improvement before the rate drops.",
                    min=0,
                    max=100_000,
                    title="Patience",
                    flag="plateau-patience",
                ),
            ),
            follows={"mode": "mode"},
            when="plateau",
        ),
        Choice(
            "onecycle",
            "OneCycleLR",
            "One cycle",
            "Warm up to max_lr, then anneal, over the run.",
            (
                Setting(
                    "max_lr",
                    "float",
                    None,
                    "The peak rate (none: the learning rate).",
                    min=1e-10,
                    max=1e6,
                    optional=True,
                    title="Peak rate",
                ),
                Setting(
                    "pct_start",
                    "float",
                    0.3,
                    "Fraction of the run spent warming up.",
                    min=0.0,
                    max=1.0,
                    title="Warm-up",
                ),
            ),
            follows={"max_lr": "lr", "total_steps": "total_steps"},
            when="step",
        ),
        Choice(
            "linear",
            "LinearLR",
            "Linear",
            "Scale the rate linearly from start to end factor.",
            (
                Setting(
                    "start_factor",
                    "float",
                    1.0,
                    "The first epoch's factor.",
                    min=1e-6,
                    max=1.0,
                    title="Start factor",
                ),
                Setting(
                    "end_factor",
                    "float",
                    0.1,
                    "The last epoch's factor.",
                    min=0.0,
                    max=1.0,
                    title="End factor",
                ),
                Setting(
                    "total_iters",
                    "int",
                    None,
                    "Epochs to reach the end factor (none: all epochs).",
                    min=1,
                    max=1_000_000,
                    optional=True,
                    title="Length",
                ),
            ),
            follows={"total_iters": "epochs"},
            when="epoch",
        ),
    )
}

LOSS_CLASSES = {
    "cross_entropy": "CrossEntropyLoss",
    "nll": "NLLLoss",
    "bce_with_logits": "BCEWithLogitsLoss",
    "mse": "MSELoss",
    "l1": "L1Loss",
    "smooth_l1": "SmoothL1Loss",
    "huber": "HuberLoss",
}
assert set(LOSS_CLASSES) == set(LOSSES), "every loss of the Output layer has its class"

MONITORS = ("val_metric", "val_loss")
DEVICES = ("cpu", "cuda", "auto")

SETTINGS = (
    Setting(
        "loss",
        "choice",
        "auto",
        "The loss; auto: the Output layer's, or the task's.",
        choices=("auto", *LOSSES),
        title="Loss",
    ),
    Setting(
        "optimizer",
        "choice",
        "adam",
        "How the weights are updated.",
        choices=tuple(OPTIMIZERS),
        title="Optimizer",
        sweep="choice",
    ),
    Setting(
        "lr",
        "float",
        0.01,
        "The learning rate: the size of each update.",
        min=1e-10,
        max=1e6,
        title="Learning rate",
        sweep="log",
    ),
    Setting(
        "weight_decay",
        "float",
        0.0,
        "L2 penalty on the weights.",
        min=0.0,
        max=1.0,
        title="Weight decay",
        sweep="linear",
    ),
    Setting(
        "batch_size",
        "int",
        32,
        "Samples per training step.",
        min=1,
        max=1_000_000,
        title="Batch size",
        sweep="log",
    ),
    Setting(
        "epochs",
        "int",
        20,
        "Passes over the training data.",
        min=1,
        max=1_000_000,
        title="Epochs",
        sweep="linear",
    ),
    Setting(
        "schedule",
        "choice",
        "none",
        "How the learning rate changes during the run.",
        choices=tuple(SCHEDULES),
        title="Schedule",
        sweep="choice",
    ),
    Setting(
        "seed",
        "int",
        0,
        "Seeds the weights' initialisation and the batches' order.",
        min=0,
        max=2**31 - 1,
        title="Seed",
    ),
    Setting(
        "device",
        "choice",
        "cpu",
        "Where to train; auto: the GPU when there is one.",
        choices=DEVICES,
        title="Device",
    ),
)

EARLY_STOPPING = (
    Setting(
        "enabled",
        "bool",
        False,
        "Stop when the monitored quantity stops improving.",
        title="Early stopping",
        flag="early-stopping",
    ),
    Setting(
        "patience",
        "int",
        5,
        "Epochs without improvement before the run stops.",
        min=1,
        max=100_000,
        title="Patience",
        sweep="linear",
    ),
    Setting(
        "monitor",
        "choice",
        "val_metric",
        "What picks the best epoch and what early stopping watches: the validation metric "
        "(accuracy or R²) or the validation loss.",
        choices=MONITORS,
        title="Monitor",
    ),
)

# a setting of the first format that the SGD options now hold
LEGACY = {"momentum": "sgd.momentum"}

FAMILIES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}


class TrainingSpec:
    """The declared settings of a run, addressed by dotted names; groups may be added (a compression
    step adds its own) and are then checked, listed and swept like the rest."""

    def __init__(self, settings, groups, families):
        self.settings = {s.name: s for s in settings}
        self.groups = {name: tuple(group) for name, group in groups.items()}
        self.families = families

    # ------------------------------------------------------------------------------------ names
    def add_group(self, name: str, settings) -> None:
        """Declare a group of settings stored under `name` (`name.setting`)."""
        if name in self.settings or name in self.groups or self._choice(name) is not None:
            raise ValueError(f"a training setting or group is already called {name!r}")
        self.groups[name] = tuple(settings)

    def _choice(self, name):
        for family in self.families.values():
            if name in family:
                return family[name]
        return None

    def _group(self, name):
        """The settings of a group or of an optimizer's or schedule's options, or None."""
        if name in self.groups:
            return self.groups[name]
        choice = self._choice(name)
        return choice.settings if choice is not None and choice.settings else None

    def names(self) -> list[str]:
        """Every dotted name."""
        out = list(self.settings)
        for g in [*self.groups, *(k for f in self.families.values() for k in f)]:
            out += [f"{g}.{s.name}" for s in self._group(g) or ()]
        return out

    def setting(self, name: str) -> Setting:
        """The declaration of a dotted name, or SettingError naming the known ones near it."""
        head, _, tail = name.partition(".")
        if not tail and head in self.settings:
            return self.settings[head]
        for s in self._group(head) or () if tail else ():
            if s.name == tail:
                return s
        raise SettingError(f"unknown training setting {name!r}; settings: {', '.join(self.names())}")

    def sweepable(self) -> list[tuple[str, Setting]]:
        """(dotted name, declaration) of each setting a search may vary."""
        return [(n, s) for n in self.names() if (s := self.setting(n)).sweep]

    # ------------------------------------------------------------------------- values by name
    def validate(self, name: str, value):
        """`value` (a number, or text from a command line) coerced for the setting `name`."""
        try:
            return self.setting(name).validate(value)
        except SettingError as e:
            raise SettingError(f"{name}: {e}") from None

    def get(self, training: dict, name: str):
        """The value of `name` in a project's training settings, its default when unset."""
        s = self.setting(name)
        head, _, tail = name.partition(".")
        node = (training or {}).get(head, {} if tail else s.default)
        if tail:
            node = node.get(tail, s.default) if isinstance(node, dict) else s.default
        return list(node) if s.kind == "floats" else copy.deepcopy(node)

    def set(self, training: dict, name: str, value) -> None:
        """Check `value` for `name` and store it in `training`; nothing changes when it is refused."""
        v = self.validate(name, value)
        head, _, tail = name.partition(".")
        if tail:
            group = training.get(head)
            training[head] = {**(group if isinstance(group, dict) else {}), tail: v}
        else:
            training[head] = v

    def resolve(self, training: dict, name: str) -> str:
        """A short name as the command line takes it: `momentum` is the chosen optimizer's (or
        schedule's) option; other names are returned as they are."""
        if "." in name or name in self.settings:
            return name
        for key, family in self.families.items():
            chosen = family[self.get(training, key)]
            if any(s.name == name for s in chosen.settings):
                return f"{chosen.key}.{name}"
        return name

    # ------------------------------------------------------------------------ command line
    def flags(self) -> dict[str, tuple[str, Setting]]:
        """The command line's options: flag -> (the name it sets, a declaration). An option of an
        optimizer or schedule is set by its short name (`momentum`), for whichever is chosen."""
        out = {}
        for name, s in self.settings.items():
            out[s.flag or name.replace("_", "-")] = (name, s)
        for g, group in self.groups.items():
            for s in group:
                out.setdefault(s.flag or s.name.replace("_", "-"), (f"{g}.{s.name}", s))
        for family in self.families.values():
            for choice in family.values():
                for s in choice.settings:
                    out.setdefault(s.flag or s.name.replace("_", "-"), (s.name, s))
        return out

    def apply(self, training: dict, values: dict) -> dict:
        """`training` with `values` (name -> value, short names allowed) set, checked: a new dict, or
        SettingError naming the first refused value. The optimizer and schedule are chosen first, so
        that `momentum` means the chosen optimizer's."""
        out = copy.deepcopy(training or {})
        first = [k for k in values if k in self.families]
        for name in [*first, *(k for k in values if k not in self.families)]:
            full = self.resolve(out, name)
            if "." not in full and full not in self.settings:
                raise SettingError(self._not_an_option(out, name))
            self.set(out, full, values[name])
        return out

    def _not_an_option(self, training, name) -> str:
        known = {s.name for f in self.families.values() for c in f.values() for s in c.settings}
        if name not in known:
            return f"unknown training setting {name!r}; settings: {', '.join(self.names())}"
        chosen = [self.families[k][self.get(training, k)] for k in self.families]
        has = "; ".join(f"{c.title}: {', '.join(s.name for s in c.settings) or 'none'}" for c in chosen)
        return f"{name}: neither the chosen optimizer nor the chosen schedule has this setting ({has})"

    # --------------------------------------------------------------------- whole settings
    def defaults(self) -> dict:
        """A new project's training settings: the top-level ones and the groups (options of the
        optimizers and schedules are stored once changed)."""
        out = {k: copy.deepcopy(s.default) for k, s in self.settings.items()}
        for g, group in self.groups.items():
            out[g] = {s.name: copy.deepcopy(s.default) for s in group}
        return out

    def complete(self, training: dict) -> dict:
        """Every setting's value: the project's, with defaults for the rest, legacy names moved."""
        training = dict(training or {})
        for old, new in LEGACY.items():
            if old in training:
                value = training.pop(old)
                head, _, tail = new.partition(".")
                training[head] = {tail: value, **(training.get(head) or {})}
        out = {k: self.get(training, k) for k in self.settings}
        for g in [*self.groups, *(k for f in self.families.values() for k in f)]:
            group = self._group(g)
            if group:
                out[g] = {s.name: self.get(training, f"{g}.{s.name}") for s in group}
        return out

    def options(self, training: dict, family: str) -> tuple[Choice, dict]:
        """The chosen optimizer or schedule and its options' values."""
        full = self.complete(training)
        choice = self.families[family][full[family]]
        return choice, dict(full.get(choice.key, {}))

    def problems(self, training, at: str = "training") -> list[str]:
        """Each value of a project file's training settings that its declaration refuses."""
        if not isinstance(training, dict):
            return [f"{at}: expected an object, got {got(training)}"]
        out = []
        for key, value in training.items():
            group = self._group(key)
            if key in self.settings:
                out += _problem(self.settings[key], value, f"{at}.{key}")
            elif key in LEGACY:
                out += _problem(self.setting(LEGACY[key]), value, f"{at}.{key}")
            elif group is None:
                out.append(f"{at}.{key}: unknown field")
            elif not isinstance(value, dict):
                fields = ", ".join(s.name for s in group)
                out.append(f"{at}.{key}: expected an object with {fields}, got {got(value)}")
            else:
                named = {s.name: s for s in group}
                for k, v in value.items():
                    s = named.get(k)
                    out += (
                        [f"{at}.{key}.{k}: unknown field"] if s is None else _problem(s, v, f"{at}.{key}.{k}")
                    )
        return out


def _problem(setting: Setting, value, at: str) -> list[str]:
    try:
        setting.check(value)
    except SettingError as e:
        return [f"{at}: {e}"]
    return []


TRAINING_SPEC = TrainingSpec(SETTINGS, {"early_stopping": EARLY_STOPPING}, FAMILIES)


def run_arguments(choice: Choice, options: dict, run: dict) -> dict:
    """The keyword arguments of a choice's class: its options, with run quantities where they follow
    the run (`run` holds epochs, steps_per_epoch, lr and mode)."""
    args = dict(options)
    for name, quantity in choice.follows.items():
        if args.get(name) is None:
            args[name] = RUN_QUANTITIES[quantity].value(run)
    return args


def argument_code(choice: Choice, options: dict, literal: Callable) -> list[str]:
    """The same arguments as `run_arguments` gives, written as a script's code (`name=value`)."""
    out = []
    for name, value in options.items():
        if value is None and name in choice.follows:
            continue
        out.append(f"{name}={literal(tuple(value) if isinstance(value, list) else value)}")
    out += [
        f"{name}={RUN_QUANTITIES[q].code}" for name, q in choice.follows.items() if options.get(name) is None
    ]
    return out
