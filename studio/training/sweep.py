"""A sweep: many short training runs of one project with training settings and layer parameters varied
(by grid, random or Bayesian search with optuna), in parallel worker processes, the best one kept.

`Sweep.poll()` never blocks: the command line calls it in a loop and the app in a thread of its own.
Each trial is a real run (`studio.training.worker.TrainingProcess`) of a copy of the project with the
trial's values applied; its weights go to a folder of the sweep, and only the best trial's are kept
as a run of the project (`keep`).
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from studio.design.runs import new_run_id, runs_folder
from studio.design.search_space import applied, check_space

from .events import END, EPOCH, ERROR, START

METHODS = ("grid", "random", "tpe")
# objective -> (words, direction)
OBJECTIVES = {
    "val_loss": ("validation loss", "minimize"),
    "test_loss": ("test loss", "minimize"),
    "val_metric": ("validation metric", "maximize"),
    "test_metric": ("test metric", "maximize"),
}
POLL_SECONDS = 0.05
TPE_STARTUP = 4  # random trials before the Bayesian search models the results (optuna: 10)


class SweepError(ValueError):
    """A sweep that cannot start; the message says why."""


@dataclass
class SweepEvent:
    """What happened: "trial" (a trial started: `trial` has its number and values), "epoch" (a
    trial's epoch ended: `trial` has number, epoch and metrics), "result" (a trial ended: `trial` is
    its record), "end" (the sweep ended: `message` says how)."""

    kind: str
    trial: dict = field(default_factory=dict)
    message: str = ""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class Search:
    """Proposes each trial's values (optuna's ask) and learns from each result (tell); seeded, so that
    the same sweep proposes the same values (tpe: when trials end in the same order)."""

    def __init__(self, dims, method: str = "random", seed: int = 0, direction: str = "minimize"):
        if method not in METHODS:
            raise SweepError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
        optuna = _optuna()
        dist = optuna.distributions
        self.dims = list(dims)
        if method == "grid":
            grid = {d.name: d.grid() for d in self.dims}
            self.size = math.prod(len(v) for v in grid.values())
            sampler = optuna.samplers.GridSampler(grid, seed=seed)
            self.space = {k: dist.CategoricalDistribution(v) for k, v in grid.items()}
        else:
            self.size = None
            sampler = (
                optuna.samplers.RandomSampler(seed=seed)
                if method == "random"
                else optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP)
            )
            self.space = {d.name: self._distribution(dist, d) for d in self.dims}
        self.study = optuna.create_study(direction=direction, sampler=sampler)
        self._asked: dict = {}

    @staticmethod
    def _distribution(dist, d):
        if d.values is not None:
            return dist.CategoricalDistribution(list(d.values))
        if d.kind == "int":
            return dist.IntDistribution(int(d.low), int(d.high), log=d.scale == "log")
        return dist.FloatDistribution(float(d.low), float(d.high), log=d.scale == "log")

    def ask(self) -> tuple[int, dict]:
        trial = self.study.ask(self.space)
        self._asked[trial.number] = trial
        return trial.number, dict(trial.params)

    def tell(self, number: int, objective: float | None) -> None:
        optuna = _optuna()
        trial = self._asked.pop(number)
        try:
            if objective is None or not math.isfinite(objective):
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(trial, objective)
        except RuntimeError:
            # a grid whose last point is told asks the study to stop, which only optuna's own
            # optimize loop may do; the sweep counts its trials itself
            if self.size is None:
                raise


def objective_of(run: dict, objective: str) -> float | None:
    """The trial's objective from its run summary: the last epoch's validation figure, or the test's."""
    curves = run.get("curves") or {}
    if objective.startswith("val_"):
        series = curves.get(objective) or []
        value = series[-1] if series else None
    else:
        final = run.get("final") or {}
        key = "test_loss" if objective == "test_loss" else f"test_{run.get('metric')}"
        value = final.get(key)
    return float(value) if value is not None and math.isfinite(value) else None


def best_trial(trials, direction: str) -> dict | None:
    """The completed trial with the best objective (the first of equals), or None."""
    scored = [t for t in trials if t["status"] == "completed" and t["objective"] is not None]
    if not scored:
        return None
    sign = 1 if direction == "minimize" else -1
    return min(scored, key=lambda t: (sign * t["objective"], t["number"]))


def _curves(run: dict) -> dict:
    c = run.get("curves") or {}
    return {k: list(c.get(k) or []) for k in ("epoch", "train_loss", "val_loss", "val_metric")}


class Sweep:
    """Runs the trials of a sweep over `dims` (see `studio.design.search_space`) for `project`.

    `trials`: how many (a grid: at most its size). `jobs`: trials at once (default: the cores).
    `epochs`: each trial's epochs (default: the project's, unless epochs is swept).
    """

    def __init__(
        self, project, dims, method="random", trials=10, jobs=None, epochs=None, objective="val_loss", seed=0
    ):
        if objective not in OBJECTIVES:
            raise SweepError(f"objective: expected one of {', '.join(OBJECTIVES)}, got {objective!r}")
        problems = project.design.infer().problems
        if problems:
            raise SweepError(f"the design has {len(problems)} problem(s): {problems[0].message}")
        self.project = _snapshot(project)  # the trials start from the project as it is now
        self.dims = check_space(dims)
        self.method, self.objective, self.seed = method, objective, int(seed)
        self.direction = OBJECTIVES[objective][1]
        if method not in METHODS:
            raise SweepError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
        if int(trials) < 1:
            raise SweepError(f"trials: expected at least 1, got {trials}")
        self.trials = int(trials)
        self.jobs = max(1, int(jobs or os.cpu_count() or 1))
        self.epochs = None if any(d.param == "epochs" and d.node is None for d in self.dims) else epochs
        self.id = new_run_id()
        self.folder = runs_folder(project) / f"sweep-{self.id}"
        self.search: Search | None = None
        self.results: list[dict] = []
        self.running: dict = {}  # trial number -> (process, values, started)
        self.runs: dict = {}  # trial number -> run summary of a completed trial
        self.started = _now()
        self.stopping = False
        self.killing = False
        self.finished = False

    # ------------------------------------------------------------------ the loop
    def start(self) -> None:
        """Make the sampler (imports optuna: call it where a pause does not matter)."""
        if self.search is None:
            self.search = Search(self.dims, self.method, self.seed, self.direction)
            if self.search.size is not None:
                self.trials = min(self.trials, self.search.size)

    def stop(self) -> None:
        """End the running trials (each within a step) and start no more; finished trials are kept.
        Only a flag is set here, so that another thread may call it: `poll` does the rest."""
        self.stopping = True

    def kill(self) -> None:
        """End every trial at once and remove the sweep's files (the window is closing); like `stop`,
        it sets a flag that the next `poll` acts on."""
        self.killing = True
        self.stopping = True

    def _end_trials(self) -> list[SweepEvent]:
        if self.killing:
            for proc, _, _ in self.running.values():
                proc.kill()
            self.running.clear()
            self.finished = True
            shutil.rmtree(self.folder, ignore_errors=True)
            return [SweepEvent("end", {}, "stopped: the trials were ended at once")]
        for proc, _, _ in self.running.values():
            proc.stop()  # sets a value the worker reads between steps: again and again costs nothing
        return []

    def run(self, stop=None, sleep=time.sleep):
        """Every event of the sweep, polling until it ends; `stop()` is asked between polls."""
        self.start()
        while not self.finished:
            if stop is not None and not self.stopping and stop():
                self.stop()
            events = self.poll()
            yield from events
            if not events:
                sleep(POLL_SECONDS)

    def poll(self) -> list[SweepEvent]:
        """Start trials while there is room, and the events of the running ones; never blocks."""
        if self.finished:
            return []
        if self.stopping:
            ended = self._end_trials()
            if self.finished:
                return ended
        self.start()
        out: list[SweepEvent] = []
        for number in list(self.running):
            out += self._poll_trial(number)
        asked = len(self.results) + len(self.running)
        while not self.stopping and len(self.running) < self.jobs and asked < self.trials:
            out += self._start_trial()
            asked += 1
        if not self.running and (self.stopping or len(self.results) >= self.trials):
            self.finished = True
            best = self.best()
            words = "stopped" if self.stopping else "finished"
            out.append(SweepEvent("end", best or {}, f"{words}: {self._done_words()}"))
        return out

    def _done_words(self) -> str:
        done = sum(r["status"] == "completed" for r in self.results)
        best = self.best()
        text = f"{done} of {self.trials} trials completed"
        if best is not None:
            text += f"; best: trial {best['number']}, {self.objective} {best['objective']:.4g}"
        return text

    def _threads(self) -> int:
        return max(1, (os.cpu_count() or 1) // self.jobs)

    def _start_trial(self) -> list[SweepEvent]:
        from .worker import TrainingProcess

        number, values = self.search.ask()
        started = SweepEvent("trial", {"number": number, "values": values})
        try:
            trial_project = applied(self.project, self.dims, values)
            problems = trial_project.design.infer().problems
            if problems:
                raise ValueError(f"the design does not work with these values: {problems[0].message}")
        except ValueError as e:
            return [started, self._result(number, values, "failed", None, message=str(e))]
        proc = TrainingProcess(
            trial_project,
            epochs=self.epochs,
            weights_dir=self.folder / f"trial-{number}",
            threads=self._threads(),
        )
        proc.start()
        self.running[number] = (proc, values, time.monotonic())
        return [started]

    def _poll_trial(self, number) -> list[SweepEvent]:
        proc, values, started = self.running[number]
        out = []
        for ev in proc.poll():
            if ev.kind == EPOCH:
                out.append(SweepEvent("epoch", {"number": number, "epoch": ev.epoch, "metrics": ev.metrics}))
            elif ev.kind == START:
                out.append(SweepEvent("epoch", {"number": number, "epoch": 0, "total": ev.total_epochs}))
            elif ev.kind in (END, ERROR):
                del self.running[number]
                proc.join(5)
                proc.reap()
                seconds = time.monotonic() - started
                if ev.kind == ERROR:
                    out.append(self._result(number, values, "failed", ev.run, ev.message, seconds))
                elif ev.status == "stopped":
                    out.append(self._result(number, values, "stopped", ev.run, "stopped", seconds))
                else:
                    self.runs[number] = ev.run
                    out.append(self._result(number, values, "completed", ev.run, "", seconds))
                break
        return out

    def _result(self, number, values, status, run, message="", seconds=0.0) -> SweepEvent:
        run = run or {}
        objective = objective_of(run, self.objective) if status == "completed" else None
        if status != "stopped":
            self.search.tell(number, objective)
        if status != "completed":
            shutil.rmtree(self.folder / f"trial-{number}", ignore_errors=True)
        record = {
            "number": number,
            "values": values,
            "status": status,
            "objective": objective,
            "metrics": dict(run.get("final") or {}),
            "curves": _curves(run),
            "seconds": round(seconds, 3),
            "message": message,
        }
        self.results.append(record)
        return SweepEvent("result", record, message)

    # ------------------------------------------------------------------ results
    def best(self) -> dict | None:
        """The completed trial with the best objective (the first of equals), or None."""
        return best_trial(self.results, self.direction)

    def record(self) -> dict:
        """The sweep as a project keeps it (see `studio.design.sweep_record`)."""
        best = self.best()
        return {
            "id": self.id,
            "started": self.started,
            "finished": _now(),
            "status": "stopped" if self.stopping else "completed",
            "method": self.method,
            "objective": self.objective,
            "direction": self.direction,
            "seed": self.seed,
            "epochs": self.epochs,
            "params": [d.to_dict() for d in self.dims],
            "trials": sorted(self.results, key=lambda r: r["number"]),
            "best": best["number"] if best else None,
            "best_run": None,
        }

    def keep(self, project) -> dict:
        """Record the sweep in `project` and keep the best trial's weights as a run of it (the other
        trials' weights are removed); the sweep's record, `best_run` the kept run's id."""
        record = self.record()
        best = self.best()
        if best is not None and best["number"] in self.runs:
            run = _moved_run(self.runs[best["number"]], self.folder, runs_folder(project), project)
            run["sweep"] = {"id": self.id, "trial": best["number"], "values": dict(best["values"])}
            project.runs.append(run)
            record["best_run"] = run["id"]
        shutil.rmtree(self.folder, ignore_errors=True)
        project.sweeps.append(record)
        return record


def _snapshot(project):
    """A copy of the project without its runs and sweeps, which the sweep's thread may read while the
    window edits the project itself."""
    from studio.design.project import project_from_dict

    d = project.to_dict()
    d["runs"], d["sweeps"] = [], []
    return project_from_dict(d, project.path)


def _moved_run(run: dict, sweep_folder: Path, folder: Path, project) -> dict:
    """The run with its weights files moved from the sweep's folder into the project's runs folder."""
    import copy

    run = copy.deepcopy(run)
    folder.mkdir(parents=True, exist_ok=True)
    base = project.folder
    for key in ("weights", "best_weights"):
        if not run.get(key):
            continue
        src = Path(run[key]) if Path(run[key]).is_absolute() else base / run[key]
        dst = folder / src.name
        if src.resolve().is_relative_to(sweep_folder.resolve()) and src.exists():
            os.replace(src, dst)
        else:
            dst = src
        try:
            run[key] = str(dst.resolve().relative_to(base.resolve())) if project.path else str(dst)
        except ValueError:
            run[key] = str(dst)
    return run
