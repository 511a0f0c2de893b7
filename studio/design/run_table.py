"""Runs side by side: the training settings each run used (the chosen optimizer's and schedule's
options, not every one declared) and whether they differ between the runs, and their outcomes."""

from __future__ import annotations

from dataclasses import dataclass

from .training_spec import TRAINING_SPEC


@dataclass
class Row:
    """One line of the comparison: a setting or an outcome, its value in each run, as text."""

    name: str
    title: str
    values: list[str]
    differs: bool
    kind: str  # "setting" or "outcome"


NOT_USED = "—"


def _text(v, none: str = NOT_USED) -> str:
    if v is None:
        return none
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_text(x) for x in v)
    return str(v)


def used_settings(settings: dict) -> list[str]:
    """The dotted names of the settings a run with these settings used: every plain setting and
    group, and the options of its own optimizer and schedule."""
    chosen = {TRAINING_SPEC.get(settings, "optimizer"), TRAINING_SPEC.get(settings, "schedule")}
    names = []
    for name in TRAINING_SPEC.names():
        head, _, tail = name.partition(".")
        if not tail or head in TRAINING_SPEC.groups or head in chosen:
            names.append(name)
    return names


def _title(name: str) -> str:
    title = TRAINING_SPEC.setting(name).title
    return name if "." in name or not title else title


def setting_rows(runs: list[dict]) -> list[Row]:
    """One row per setting any of the runs used, in the declared order."""
    used = [set(used_settings(r.get("settings") or {})) for r in runs]
    rows = []
    for name in TRAINING_SPEC.names():
        if not any(name in u for u in used):
            continue
        values = [
            _text(TRAINING_SPEC.get(r.get("settings") or {}, name), "auto") if name in u else NOT_USED
            for r, u in zip(runs, used)
        ]
        rows.append(Row(name, _title(name), values, len(set(values)) > 1, "setting"))
    return rows


def outcome_rows(runs: list[dict]) -> list[Row]:
    """How each run ended: status, epochs, time, best epoch and score, and its final test figures."""
    finals = []
    for r in runs:
        for key in r.get("final") or {}:
            if key not in finals:
                finals.append(key)
    columns = [
        ("status", "status", lambda r: r.get("status")),
        ("epochs_completed", "epochs completed", lambda r: r.get("epochs_completed")),
        ("seconds", "seconds", lambda r: r.get("seconds")),
        ("best.epoch", "best epoch", lambda r: (r.get("best") or {}).get("epoch")),
        ("best.score", "best validation score", lambda r: (r.get("best") or {}).get("score")),
        *((key, key.replace("_", " "), lambda r, k=key: (r.get("final") or {}).get(k)) for key in finals),
    ]
    rows = []
    for name, title, value in columns:
        values = [_text(value(r)) for r in runs]
        rows.append(Row(name, title, values, len(set(values)) > 1, "outcome"))
    return rows
