"""The training spec: one declaration of every run setting, read by the loader, the panel, the command line,
fit and the exporters; settings addressed by dotted names with their types and ranges checked."""

from __future__ import annotations

import inspect

import pytest

from studio.design import recipe
from studio.design.project import DEFAULT_TRAINING, RANGES, ProjectError, load_template, project_from_dict
from studio.design.training_spec import (
    OPTIMIZERS,
    RUN_QUANTITIES,
    SCHEDULES,
    TRAINING_SPEC,
    SettingError,
    argument_code,
    run_arguments,
)


def test_defaults_ranges_and_names_come_from_the_spec():
    assert TRAINING_SPEC.defaults() == DEFAULT_TRAINING
    assert (
        RANGES["seed"]
        == (0, 2**31 - 1)
        == (TRAINING_SPEC.setting("seed").min, TRAINING_SPEC.setting("seed").max)
    )
    assert RANGES["batch_size"] == (1, 1_000_000)
    names = TRAINING_SPEC.names()
    for name in (
        "lr",
        "early_stopping.patience",
        "early_stopping.monitor",
        "sgd.momentum",
        "sgd.nesterov",
        "adam.betas",
        "adam.eps",
        "step.gamma",
        "onecycle.pct_start",
    ):
        assert name in names


def test_get_set_and_validate_by_dotted_name():
    training = {}
    assert TRAINING_SPEC.get(training, "sgd.momentum") == 0.9
    TRAINING_SPEC.set(training, "sgd.momentum", "0.5")  # text, as a command line or a sweep gives it
    TRAINING_SPEC.set(training, "adam.betas", "0.8, 0.99")
    TRAINING_SPEC.set(training, "lr", 1e-3)
    assert training == {"sgd": {"momentum": 0.5}, "adam": {"betas": [0.8, 0.99]}, "lr": 1e-3}
    assert TRAINING_SPEC.validate("batch_size", "64") == 64
    for name, bad in [
        ("lr", 0),
        ("seed", 2**31),
        ("sgd.momentum", 1.5),
        ("optimizer", "lion"),
        ("adam.betas", "0.9"),
        ("sgd.nesterov", "maybe"),
    ]:
        with pytest.raises(SettingError, match=name.replace(".", r"\.")):
            TRAINING_SPEC.set(training, name, bad)
    assert training["lr"] == 1e-3 and training["sgd"] == {"momentum": 0.5}  # refused values change nothing
    with pytest.raises(SettingError, match="unknown training setting 'sgd.lr'"):
        TRAINING_SPEC.setting("sgd.lr")


def test_sweepable_settings_carry_their_scale_and_range():
    sweep = dict(TRAINING_SPEC.sweepable())
    assert sweep["lr"].sweep == "log" and (sweep["lr"].min, sweep["lr"].max) == (1e-10, 1e6)
    assert sweep["optimizer"].sweep == "choice" and "sgd" in sweep["optimizer"].choices
    assert sweep["sgd.momentum"].sweep == "linear"
    assert "seed" not in sweep and "device" not in sweep


def test_a_group_can_be_added_and_is_checked_like_the_rest():
    from studio.design.training_spec import Setting, TrainingSpec

    spec = TrainingSpec(TRAINING_SPEC.settings.values(), dict(TRAINING_SPEC.groups), TRAINING_SPEC.families)
    spec.add_group(
        "compress", [Setting("sparsity", "float", 0.0, "Weights pruned.", min=0.0, max=0.99, sweep="linear")]
    )
    assert ("compress.sparsity", spec.setting("compress.sparsity")) in spec.sweepable()
    assert spec.problems({"compress": {"sparsity": 2.0}}) == [
        "training.compress.sparsity: expected a number from 0 to 0.99, got 2.0"
    ]
    with pytest.raises(ValueError):
        spec.add_group("sgd", [])
    assert "compress" not in TRAINING_SPEC.groups


def test_short_names_resolve_to_the_chosen_optimizer_and_schedule():
    t = TRAINING_SPEC.apply(
        {"optimizer": "adam"}, {"momentum": "0.7", "optimizer": "sgd", "gamma": "0.5", "schedule": "step"}
    )
    assert t["sgd"]["momentum"] == 0.7 and t["step"]["gamma"] == 0.5
    with pytest.raises(SettingError, match="neither the chosen optimizer"):
        TRAINING_SPEC.apply({"optimizer": "adam"}, {"momentum": "0.7"})


def test_project_files_are_checked_against_the_spec():
    d = load_template("iris_mlp").to_dict()
    d["training"].update(sgd={"momentum": 2}, adam={"betas": [0.9]}, step={"gamma": "x"}, lion={})
    with pytest.raises(ProjectError) as info:
        project_from_dict(d)
    text = str(info.value)
    for fragment in (
        "training.sgd.momentum",
        "training.adam.betas",
        "training.step.gamma",
        "training.lion: unknown field",
    ):
        assert fragment in text
    # the first format's momentum is still read, as SGD's
    d = load_template("iris_mlp").to_dict()
    d["training"].update(momentum=0.5, optimizer="sgd")
    project = project_from_dict(d)
    assert TRAINING_SPEC.complete(project.training)["sgd"]["momentum"] == 0.5


@pytest.mark.parametrize("key", list(OPTIMIZERS))
def test_every_optimizer_builds_with_its_options_as_in_pytorch(key, torch):
    import studio.core as sc

    choice = OPTIMIZERS[key]
    options = TRAINING_SPEC.complete({})[key]
    run = {"epochs": 6, "steps_per_epoch": 4, "lr": 0.1, "mode": "max"}
    kwargs = run_arguments(choice, options, run)
    ours = getattr(sc.optim, choice.cls)([sc.zeros(2, requires_grad=True)], lr=0.1, **kwargs)
    theirs = getattr(torch.optim, choice.cls)([torch.zeros(2, requires_grad=True)], lr=0.1, **kwargs)
    for k in kwargs:
        got, want = ours.param_groups[0][k], theirs.param_groups[0][k]
        assert tuple(got) == tuple(want) if isinstance(want, tuple) else got == want


@pytest.mark.parametrize("key", [k for k in SCHEDULES if SCHEDULES[k].cls])
def test_every_schedule_builds_and_its_script_code_gives_the_same_arguments(key, torch):
    choice = SCHEDULES[key]
    options = TRAINING_SPEC.complete({})[key]
    run = {"epochs": 7, "steps_per_epoch": 3, "lr": 0.1, "mode": "max"}
    kwargs = run_arguments(choice, options, run)
    opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    getattr(torch.optim.lr_scheduler, choice.cls)(opt, **kwargs)

    class _Monitor:
        mode = "max"

    code = "dict(" + ", ".join(argument_code(choice, options, repr)) + ")"
    scope = {"epochs": 7, "steps_per_epoch": 3, "LR": 0.1, "monitor": _Monitor()}
    assert eval(code, scope) == kwargs  # noqa: S307 - code written by the exporter, in a test


def test_run_quantities_say_the_same_in_code_and_in_fit():
    run = {"epochs": 10, "steps_per_epoch": 4, "lr": 0.3, "mode": "min"}

    class _Monitor:
        mode = "min"

    scope = {"epochs": 10, "steps_per_epoch": 4, "LR": 0.3, "monitor": _Monitor()}
    for q in RUN_QUANTITIES.values():
        assert eval(q.code, scope) == q.value(run)  # noqa: S307


def test_the_recipe_is_self_contained_for_scripts():
    import numpy as np

    for fn in (
        recipe.split_indices,
        recipe.standardizer,
        recipe.batch_indices,
        recipe.augment,
        recipe.predictions,
        recipe.score,
        recipe.Monitor,
    ):
        scope = {"np": np}
        exec(inspect.getsource(fn), scope)  # noqa: S102 - our own source, as a script carries it
        assert fn.__name__ in scope


def test_the_scripts_metric_matches_studios(torch):
    import numpy as np

    from studio.core import metrics

    rng = np.random.default_rng(0)
    p, t = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    assert recipe.score(p, t, "classification") == metrics.accuracy(p, t)
    v, w = rng.standard_normal((40, 2)), rng.standard_normal((40, 2))
    assert recipe.score(v, w, "regression") == pytest.approx(metrics.r2_score(v, w), abs=1e-12)


def test_monitor_picks_the_best_epoch_and_stops_early():
    m = recipe.Monitor("val_loss", patience=2)
    for epoch, loss in enumerate([1.0, 0.5, 0.6, 0.4, 0.45, 0.47], start=1):
        m.update(epoch, loss, None, 0.0)
        if m.stop:
            break
    assert (m.best_epoch, m.best, epoch) == (4, 0.4, 6)
    m = recipe.Monitor("val_metric")
    for epoch, acc in enumerate([0.5, 0.9, 0.8], start=1):
        m.update(epoch, 1.0, acc, 0.0)
    assert (m.best_epoch, m.mode, m.stop) == (2, "max", False)
