"""`studio sweep PROJECT --param NAME=LOW:HIGH[:log] --param NODE.PARAM=a,b,c`: a sweep headless, with
progress lines, a table of the trials and the best settings; `--apply` writes them into the project."""

from __future__ import annotations

import sys

SWEEP_ERROR_CODE = 2


def add_parser(sub) -> None:
    s = sub.add_parser(
        "sweep",
        help="train many short runs with settings and layer parameters varied; show and keep the best",
        description="Sweep training settings (lr, batch_size, sgd.momentum...) and layer parameters "
        "(NODE.PARAM, e.g. hidden1.out_features) of a project. The best trial's weights are kept as "
        "a run and the sweep is recorded in the project.",
    )
    s.add_argument("file")
    s.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="a range LOW:HIGH[:log|linear] (e.g. lr=1e-4:1e-1:log) or a list a,b,c "
        "(e.g. hidden1.out_features=8,16,32); repeat for each parameter",
    )
    s.add_argument("--trials", type=int, default=20, help="how many trials (a grid: at most its size)")
    s.add_argument("--method", choices=("grid", "random", "tpe"), default="random")
    s.add_argument("--jobs", type=int, help="trials at once, each in its own process (default: the cores)")
    s.add_argument("--epochs", type=int, help="epochs of each trial (default: the project's)")
    s.add_argument(
        "--objective",
        choices=("val_loss", "test_loss", "val_metric", "test_metric"),
        default="val_loss",
        help="what picks the best trial (default: the validation loss)",
    )
    s.add_argument("--seed", type=int, default=0, help="seeds the search, so that a sweep repeats")
    s.add_argument("--apply", action="store_true", help="write the best trial's settings into the project")


def _value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def trial_table(record: dict) -> list[str]:
    """The trials as aligned lines, the best marked with *."""
    names = [p["name"] for p in record["params"]]
    metrics = sorted({k for t in record["trials"] for k in t["metrics"]})
    head = ["trial", *names, "status", record["objective"], *metrics, "seconds"]
    rows = []
    for t in record["trials"]:
        mark = "*" if t["number"] == record.get("best") else " "
        rows.append(
            [
                f"{mark}{t['number']}",
                *(_value(t["values"].get(n)) for n in names),
                t["status"],
                "-" if t["objective"] is None else f"{t['objective']:.4f}",
                *("-" if t["metrics"].get(m) is None else f"{t['metrics'][m]:.4f}" for m in metrics),
                f"{t['seconds']:.1f}",
            ]
        )
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda cells: "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths))  # noqa: E731
    return [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def cmd_sweep(args) -> int:
    from .cli import CliError
    from .design.project import ProjectError

    try:
        return _sweep(args)
    except (CliError, ProjectError, OSError):
        raise
    except ValueError as e:  # SpaceError, SweepError, SettingError: what the user asked for
        raise CliError(str(e), code=SWEEP_ERROR_CODE) from None


def _sweep(args) -> int:
    from .cli import CliError, _load, say
    from .design.search_space import parse
    from .training.sweep import Sweep

    if not args.param:
        raise CliError("give at least one --param, e.g. --param lr=1e-4:1e-1:log", code=SWEEP_ERROR_CODE)
    for flag in ("trials", "jobs", "epochs"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise CliError(f"--{flag}: expected at least 1, got {value}", code=SWEEP_ERROR_CODE)
    project = _load(args.file)
    dims = [parse(project, text) for text in args.param]
    sweep = Sweep(project, dims, args.method, args.trials, args.jobs, args.epochs, args.objective, args.seed)
    _follow(sweep, say)
    for line in trial_table(sweep.record()):
        say(line)
    return _keep(project, sweep, args.apply, say, CliError)


def _follow(sweep, say) -> None:
    """Run the sweep, printing a line as each trial starts and ends; Ctrl+C stops the running trials
    (the finished ones are kept), a second one ends the command and the trials at once."""
    from .cli import stoppable

    try:
        for ev in stoppable(sweep.run):
            _progress(sweep, ev, say)
    except KeyboardInterrupt:
        sweep.kill()
        sweep.poll()  # ends the trials' processes and removes their files
        raise


def _progress(sweep, ev, say) -> None:
    t = ev.trial
    if ev.kind == "trial":
        values = ", ".join(f"{k}={_value(v)}" for k, v in t["values"].items())
        say(f"trial {t['number']} started: {values}", sys.stderr)
    elif ev.kind == "result":
        objective = "-" if t["objective"] is None else f"{t['objective']:.4f}"
        note = f" ({t['message']})" if t["message"] and t["status"] != "completed" else ""
        say(f"trial {t['number']} {t['status']}: {sweep.objective} {objective}{note}", sys.stderr)
    elif ev.kind == "end":
        say(ev.message, sys.stderr)


def _keep(project, sweep, apply: bool, say, CliError) -> int:  # noqa: N803 - the class passed in
    from .design.runs import save_new_runs, save_with_runs
    from .design.search_space import applied_to

    before = len(project.runs)
    record = sweep.keep(project)
    saved = save_new_runs(project, project.runs[before:], [record])
    best = next((t for t in record["trials"] if t["number"] == record["best"]), None)
    if best is None:
        say(f"saved {saved.path} (no trial completed, so there are no best settings)")
        return 1
    settings = " ".join(f"{k}={_value(v)}" for k, v in best["values"].items())
    say(f"best: trial {best['number']}: {settings} ({sweep.objective} {best['objective']:.4f})")
    say(f"weights: run {record['best_run']}")
    if apply:
        applied_to(saved, sweep.dims, best["values"])
        save_with_runs(saved)
        say(f"applied the best settings to {saved.path}")
    else:
        say(f"saved {saved.path} (add --apply to write the best settings into the project)")
    return 0
