"""The run summaries a project keeps, checked field by field: what the window draws from a run (its
curves, evaluation, gradient norms and histograms) must have the shape the window expects, or the file
is refused."""

from __future__ import annotations

from .checks import got, is_int, is_num

STEP_SERIES = ("step", "loss")
EPOCH_SERIES = ("epoch", "train_loss", "val_loss", "val_metric", "lr")
TEXT_FIELDS = (
    "status",
    "metric",
    "loss_name",
    "started",
    "finished",
    "message",
    "weights",
    "best_weights",
    "quantized_weights",
)
MAX_ARRAY_DEPTH = 4  # an example's input: a table row (1), a sequence (2) or an image (3)


def _numbers(v, allow_none=False) -> bool:
    return isinstance(v, list) and all(is_num(x) or (allow_none and x is None) for x in v)


def _array_shape(v, depth=0):
    """The shape of a rectangular nested list of numbers, or None when it is not one."""
    if is_num(v):
        return ()
    if not isinstance(v, list) or not v or depth >= MAX_ARRAY_DEPTH:
        return None
    inner = _array_shape(v[0], depth + 1)
    if inner is None:
        return None
    for item in v[1:]:
        if _array_shape(item, depth + 1) != inner:
            return None
    return (len(v), *inner)


def _curves_problems(c, at) -> list[str]:
    if c is None:
        return []
    if not isinstance(c, dict):
        return [f"{at}: expected an object of curves, got {got(c)}"]
    pr = []
    for key, value in c.items():
        if key not in STEP_SERIES + EPOCH_SERIES:
            continue  # curves this Studio does not draw are kept as they are
        whole = key in ("step", "epoch")
        ok = isinstance(value, list) and all(
            (is_int(x) and x >= 0) if whole else (is_num(x) or (x is None and key != "loss")) for x in value
        )
        if not ok:
            what = "a list of step or epoch numbers" if whole else "a list of numbers"
            pr.append(f"{at}.{key}: expected {what}, got {got(value)}")
    steps, losses = len(c.get("step", [])), len(c.get("loss", []))
    if not pr and steps != losses:
        pr.append(f"{at}: step and loss have different lengths ({steps} and {losses})")
    return pr


def _classification_problems(ev, at) -> list[str]:
    pr = []
    cm = ev.get("confusion")
    k = len(cm) if isinstance(cm, list) else 0
    if not (
        k and all(isinstance(r, list) and len(r) == k and all(is_int(x) and x >= 0 for x in r) for r in cm)
    ):
        return [f"{at}.confusion: expected a square table of counts, got {got(cm)}"]
    classes = ev.get("classes")
    if classes is not None and not (
        isinstance(classes, list) and len(classes) == k and all(isinstance(n, str) for n in classes)
    ):
        pr.append(f"{at}.classes: expected {k} class names, got {got(classes)}")
    for key in ("precision", "recall", "f1", "support"):
        v = ev.get(key)
        if not (_numbers(v) and len(v) == k):
            pr.append(f"{at}.{key}: expected {k} numbers, got {got(v)}")
    columns = ev.get("columns")
    if columns is not None and not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
        pr.append(f"{at}.columns: expected a list of column names, got {got(columns)}")
        columns = None
    wrong = ev.get("misclassified", [])
    if not isinstance(wrong, list):
        return pr + [f"{at}.misclassified: expected a list, got {got(wrong)}"]
    for i, ex in enumerate(wrong):
        where = f"{at}.misclassified[{i}]"
        if not isinstance(ex, dict):
            pr.append(f"{where}: expected an object, got {got(ex)}")
            continue
        for key in ("true", "pred"):
            v = ex.get(key)
            if not (is_int(v) and 0 <= v < k):
                pr.append(f"{where}.{key}: expected a class index from 0 to {k - 1}, got {got(v)}")
        if _array_shape(ex.get("input")) in (None, ()):
            pr.append(f"{where}.input: expected a list of numbers (a row, a sequence or an image)")
        raw = ex.get("raw")
        if raw is not None and not (
            isinstance(raw, list)
            and (columns is None or len(raw) == len(columns))
            and all(v is None or isinstance(v, str) or is_num(v) for v in raw)
        ):
            pr.append(
                f"{where}.raw: expected one value (a number, a text or null) per column, got {got(raw)}"
            )
    return pr


def _curve_problems(curves, at, k, fields, score) -> list[str]:
    """Per-class curves: objects with a class index, series of one length and their area or score."""
    if curves is None:
        return []
    if not isinstance(curves, list):
        return [f"{at}: expected a list of per-class curves, got {got(curves)}"]
    pr = []
    for i, c in enumerate(curves):
        where = f"{at}[{i}]"
        if not (isinstance(c, dict) and is_int(c.get("class")) and 0 <= c["class"] < k):
            pr.append(f"{where}: expected a curve with a class index from 0 to {k - 1}, got {got(c)}")
            continue
        series = [c.get(f) for f in fields]
        if not (all(_numbers(v) for v in series) and len({len(v) for v in series}) == 1):
            pr.append(f"{where}: expected {' and '.join(fields)} as lists of numbers of one length")
        if not is_num(c.get(score)):
            pr.append(f"{where}.{score}: expected a number, got {got(c.get(score))}")
    return pr


def _probability_problems(ev, at, k) -> list[str]:
    """The kept class probabilities, their true classes, the top-k accuracies and the calibration."""
    pr = []
    scores, targets = ev.get("scores"), ev.get("targets")
    if scores is not None or targets is not None:
        shape = _array_shape(scores) if scores else (0, k)
        if shape is None or len(shape) != 2 or shape[1] not in (k, 2):
            pr.append(f"{at}.scores: expected one row of class probabilities per test example")
        elif not (
            isinstance(targets, list)
            and len(targets) == shape[0]
            and all(is_int(t) and 0 <= t < shape[1] for t in targets)
        ):
            pr.append(f"{at}.targets: expected {shape[0]} class indices, got {got(targets)}")
    top_k = ev.get("top_k")
    if top_k is not None and not (_numbers(top_k) and len(top_k) <= k):
        pr.append(f"{at}.top_k: expected at most {k} accuracies, got {got(top_k)}")
    cal = ev.get("calibration")
    if cal is not None:
        series = (
            [cal.get(f) for f in ("fraction_positive", "mean_predicted", "count")]
            if isinstance(cal, dict)
            else [None]
        )
        if not (all(_numbers(v) for v in series) and len({len(v) for v in series}) == 1):
            pr.append(f"{at}.calibration: expected fraction_positive, mean_predicted and count of one length")
    return pr


def _evaluation_problems(ev, at) -> list[str]:
    if ev is None:
        return []
    if not isinstance(ev, dict):
        return [f"{at}: expected an object, got {got(ev)}"]
    task = ev.get("task")
    if task == "classification":
        pr = _classification_problems(ev, at)
        if pr:
            return pr
        k = len(ev["confusion"])
        pr += _curve_problems(ev.get("roc"), f"{at}.roc", k, ("fpr", "tpr"), "auc")
        pr += _curve_problems(ev.get("pr"), f"{at}.pr", k, ("precision", "recall"), "ap")
        return pr + _probability_problems(ev, at, k)
    if task == "regression":
        pred, actual = ev.get("predicted"), ev.get("actual")
        if not (_numbers(pred) and _numbers(actual) and len(pred) == len(actual)):
            return [f"{at}: expected predicted and actual as two lists of numbers of one length"]
        return [
            f"{at}.{key}: expected a number, got {got(ev[key])}"
            for key in ("mae", "rmse", "r2")
            if ev.get(key) is not None and not is_num(ev[key])
        ]
    return [f"{at}.task: expected 'classification' or 'regression', got {got(task)}"]


def _scalar_problems(run, at) -> list[str]:
    pr = []
    for key in TEXT_FIELDS:
        if run.get(key) is not None and not isinstance(run[key], str):
            pr.append(f"{at}.{key}: expected a text, got {got(run[key])}")
    rid = run.get("id")
    if rid is not None and not ((is_int(rid) and rid >= 0) or (isinstance(rid, str) and 0 < len(rid) <= 200)):
        pr.append(f"{at}.id: expected a run number or name, got {got(rid)}")
    if run.get("epochs_completed") is not None and not (
        is_int(run["epochs_completed"]) and run["epochs_completed"] >= 0
    ):
        pr.append(
            f"{at}.epochs_completed: expected a non-negative integer, got {got(run['epochs_completed'])}"
        )
    if run.get("seconds") is not None and not is_num(run["seconds"]):
        pr.append(f"{at}.seconds: expected a number, got {got(run['seconds'])}")
    if run.get("settings") is not None and not isinstance(run["settings"], dict):
        pr.append(f"{at}.settings: expected an object, got {got(run['settings'])}")
    final = run.get("final")
    if final is not None and not (
        isinstance(final, dict) and all(is_num(v) or v is None for v in final.values())
    ):
        pr.append(f"{at}.final: expected an object of numbers, got {got(final)}")
    best = run.get("best")
    if best is not None and not (
        isinstance(best, dict)
        and is_int(best.get("epoch"))
        and (best.get("score") is None or is_num(best.get("score")))
    ):
        pr.append(f"{at}.best: expected an object with an epoch and a score, got {got(best)}")
    return pr


def _histogram_problems(h, at) -> list[str]:
    """Weights' and gradients' histograms: per tensor and kind, one histogram (or null) per epoch kept,
    each a range and `bins` counts."""
    if h is None:
        return []
    if not (isinstance(h, dict) and is_int(h.get("bins")) and h["bins"] > 0):
        return [f"{at}: expected an object with a number of bins, got {got(h)}"]
    epochs, tensors = h.get("epochs"), h.get("tensors")
    if not (isinstance(epochs, list) and all(is_int(e) and e > 0 for e in epochs)):
        return [f"{at}.epochs: expected a list of epoch numbers, got {got(epochs)}"]
    if not isinstance(tensors, dict):
        return [f"{at}.tensors: expected an object of tensors, got {got(tensors)}"]
    bins, n = h["bins"], len(epochs)

    def fine(x):
        return x is None or (
            isinstance(x, dict)
            and _numbers(x.get("range"))
            and len(x["range"]) == 2
            and isinstance(x.get("counts"), list)
            and len(x["counts"]) == bins
            and all(is_int(c) and c >= 0 for c in x["counts"])
        )

    pr = []
    for name, entry in tensors.items():
        for kind in ("weight", "grad"):
            series = entry.get(kind) if isinstance(entry, dict) else None
            if not (isinstance(series, list) and len(series) == n and all(fine(x) for x in series)):
                pr.append(f"{at}.tensors[{name!r}].{kind}: expected {n} histograms of {bins} counts")
    return pr


def run_problems(run, at="runs[0]") -> list[str]:
    """Every problem of one run summary, as "path: message" lines; empty when the window can show it."""
    if not isinstance(run, dict):
        return [f"{at}: expected an object, got {got(run)}"]
    pr = _scalar_problems(run, at)
    pr += _curves_problems(run.get("curves"), f"{at}.curves")
    pr += _evaluation_problems(run.get("evaluation"), f"{at}.evaluation")
    norms = run.get("grad_norms")
    if norms is not None and not (
        isinstance(norms, list)
        and all(isinstance(d, dict) and all(is_num(v) and v >= 0 for v in d.values()) for d in norms)
    ):
        pr.append(f"{at}.grad_norms: expected a list of objects of non-negative numbers, got {got(norms)}")
    pr += _histogram_problems(run.get("histograms"), f"{at}.histograms")
    return pr
