"""The sweeps a project keeps, checked field by field: what the Experiments panel draws from a sweep (its
trials' values, objectives and curves) must have the shape it expects, or the file is refused."""

from __future__ import annotations

from .checks import got, is_int, is_num

STATUSES = ("completed", "stopped")
TRIAL_STATUSES = ("completed", "failed", "stopped")
METHODS = ("grid", "random", "tpe")
DIRECTIONS = ("minimize", "maximize")
CURVES = ("epoch", "train_loss", "val_loss", "val_metric")


def _value(v) -> bool:
    return v is None or isinstance(v, (str, bool)) or is_num(v)


def _param_problems(p, at) -> list[str]:
    if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"]:
        return [f"{at}: expected an object with a name, got {got(p)}"]
    if "values" in p:
        ok = isinstance(p["values"], list) and p["values"] and all(_value(v) for v in p["values"])
        return [] if ok else [f"{at}.values: expected a list of numbers or texts, got {got(p['values'])}"]
    if not (is_num(p.get("low")) and is_num(p.get("high")) and p.get("scale") in ("log", "linear")):
        return [f"{at}: expected values, or low, high and a scale (log or linear), got {got(p)}"]
    return []


def _trial_problems(t, at) -> list[str]:
    if not isinstance(t, dict):
        return [f"{at}: expected an object, got {got(t)}"]
    pr = []
    if not (is_int(t.get("number")) and t["number"] >= 0):
        pr.append(f"{at}.number: expected a non-negative integer, got {got(t.get('number'))}")
    if t.get("status") not in TRIAL_STATUSES:
        pr.append(f"{at}.status: expected one of {', '.join(TRIAL_STATUSES)}, got {got(t.get('status'))}")
    values = t.get("values")
    if not (isinstance(values, dict) and all(_value(v) for v in values.values())):
        pr.append(f"{at}.values: expected an object of numbers or texts, got {got(values)}")
    if t.get("objective") is not None and not is_num(t["objective"]):
        pr.append(f"{at}.objective: expected a number, got {got(t['objective'])}")
    metrics = t.get("metrics", {})
    if not (isinstance(metrics, dict) and all(v is None or is_num(v) for v in metrics.values())):
        pr.append(f"{at}.metrics: expected an object of numbers, got {got(metrics)}")
    curves = t.get("curves", {})
    if not isinstance(curves, dict):
        pr.append(f"{at}.curves: expected an object of curves, got {got(curves)}")
    else:
        for key in CURVES:
            c = curves.get(key, [])
            if not (isinstance(c, list) and all(v is None or is_num(v) for v in c)):
                pr.append(f"{at}.curves.{key}: expected a list of numbers, got {got(c)}")
    return pr


def sweep_problems(s, at="sweeps[0]") -> list[str]:
    """Every problem of one sweep record, as "path: message" lines; empty when the panel can show it."""
    if not isinstance(s, dict):
        return [f"{at}: expected an object, got {got(s)}"]
    pr = []
    for key, allowed in (("method", METHODS), ("direction", DIRECTIONS), ("status", STATUSES)):
        if s.get(key) not in allowed:
            pr.append(f"{at}.{key}: expected one of {', '.join(allowed)}, got {got(s.get(key))}")
    for key in ("id", "objective"):
        if not isinstance(s.get(key), str) or not s[key]:
            pr.append(f"{at}.{key}: expected a text, got {got(s.get(key))}")
    pr += _each(s.get("params"), f"{at}.params", _param_problems)
    pr += _each(s.get("trials"), f"{at}.trials", _trial_problems)
    if s.get("best") is not None and not is_int(s["best"]):
        pr.append(f"{at}.best: expected a trial number, got {got(s['best'])}")
    if s.get("best_run") is not None and not isinstance(s["best_run"], str):
        pr.append(f"{at}.best_run: expected a run id, got {got(s['best_run'])}")
    return pr


def _each(items, at: str, problems) -> list[str]:
    """The problems of a list of records, each checked by `problems(item, where)`."""
    if not isinstance(items, list):
        return [f"{at}: expected a list, got {got(items)}"]
    return [p for i, item in enumerate(items) for p in problems(item, f"{at}[{i}]")]
