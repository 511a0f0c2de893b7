"""`studio`: the desktop app, or the headless commands new, info, train, export and import."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

COMMANDS = ("new", "info", "train", "export", "import", "compress", "sweep")


class CliError(Exception):
    """A failure reported as one line on stderr; the command exits with `code`."""

    def __init__(self, message, code: int = 1):
        super().__init__(message)
        self.code = code


# Characters that would act on the terminal rather than show: controls (an escape sequence can retitle
# the window or clear the screen), lone surrogates (which cannot be written at all), line separators
# and the marks that reverse the direction of the text that follows.
_ACTIVE_BEYOND_C0 = r"\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_ACTIVE_RE = re.compile(rf"[\x00-\x1f{_ACTIVE_BEYOND_C0}]")
_ACTIVE_BUT_LINES_RE = re.compile(rf"[\x00-\x08\x0b-\x1f{_ACTIVE_BEYOND_C0}]")  # keeps tab and new line


def printable(text, newlines: bool = True) -> str:
    """`text` with every character that would act on the terminal written as an escape (`\\x1b`);
    tabs stay, and new lines too unless `newlines` is false."""
    pattern = _ACTIVE_BUT_LINES_RE if newlines else _ACTIVE_RE
    return pattern.sub(lambda m: ascii(m.group())[1:-1], str(text))


def say(text, stream=None) -> None:
    """Print a line of output with anything that would act on the terminal escaped."""
    stream = stream or sys.stdout
    line = printable(text) + "\n"
    try:
        stream.write(line)
    except UnicodeEncodeError:  # a terminal that cannot show some character: write its escape
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(line.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


class _Parser(argparse.ArgumentParser):
    """Errors as one line; options only by their full names (`--epoch` is not `--epochs`)."""

    def __init__(self, *args, **kwargs):
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise CliError(f"{message} (see `{self.prog} --help`)")


def _template_names() -> str:
    from .design.project import list_templates

    return ", ".join(t[0] for t in list_templates()) or "none shipped"


def _image_size(text: str) -> list:
    from .design.project import RANGES

    lo, hi = RANGES["image_size"]  # the range a project file may hold
    parts = text.lower().split("x")
    try:
        hw = [int(p) for p in parts] * (2 if len(parts) == 1 else 1)
    except ValueError:
        hw = []
    if len(hw) != 2 or not all(lo <= v <= hi for v in hw):
        raise argparse.ArgumentTypeError(f"expected N or HxW with sides from {lo} to {hi}, got {text!r}")
    return hw


def _setting_flags(parser) -> None:
    """An option for each training setting, made from the training spec, and `--set NAME=VALUE`."""
    from .design.training_spec import TRAINING_SPEC

    group = parser.add_argument_group("training settings (default: the project's)")
    for flag, (name, s) in TRAINING_SPEC.flags().items():
        words = f"{s.help} ({s.expected()})"
        if s.kind == "bool":
            group.add_argument(
                f"--{flag}", dest=f"set:{name}", action=argparse.BooleanOptionalAction, help=s.help
            )
        else:
            metavar = "|".join(s.choices) if s.kind == "choice" else s.kind.upper()
            group.add_argument(f"--{flag}", dest=f"set:{name}", metavar=metavar, help=words)
    group.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any setting by its dotted name, e.g. sgd.momentum=0.8 or early_stopping.monitor=val_loss",
    )


def _overrides(args) -> dict:
    """The settings given on the command line: name -> value (text, checked by the training spec)."""
    out = {k[4:]: v for k, v in vars(args).items() if k.startswith("set:") and v is not None}
    for item in args.set:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise CliError(f"--set {item!r}: expected NAME=VALUE, e.g. --set sgd.momentum=0.8")
        out[name.strip()] = value.strip()
    return out


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="studio", description="Design and train neural networks. With no command, start the app."
    )
    p.add_argument("--version", action="version", version="studio 0.1.0")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    n = sub.add_parser("new", help="make a project from a data set, with a default model or a template")
    n.add_argument(
        "--data", required=True, help="a CSV file, an image folder, or a sample: iris, digits, ..."
    )
    n.add_argument("--target", help="the CSV column to predict (default: the last column)")
    n.add_argument(
        "--image-size",
        type=_image_size,
        help="image folders: resize images to N (square) or HxW (default: their common size, at most 64)",
    )
    n.add_argument(
        "--image-mode",
        choices=("RGB", "L"),
        help="image folders: RGB colour or L grey (default: RGB when any image has colour)",
    )
    n.add_argument("--template", help="start from a template: " + _template_names())
    n.add_argument("-o", "--output", required=True, help="the project file to write (*.studio)")
    n.add_argument("--force", action="store_true", help="overwrite an existing file")

    i = sub.add_parser("info", help="show a project's layers, output shapes and parameter counts")
    i.add_argument("file")
    i.add_argument("--json", action="store_true", help="machine-readable output")

    t = sub.add_parser(
        "train",
        help="train a project headless; weights and the run summary are saved",
        description="Train a project. Each setting option changes this run only (the run records it).",
    )
    t.add_argument("file")
    t.add_argument(
        "--init", help="start from these weights: a .safetensors file or a PyTorch .pt/.pth state dict"
    )
    _setting_flags(t)

    e = sub.add_parser("export", help="write the project as a Python script, or its trained network as ONNX")
    e.add_argument("file")
    e.add_argument("-o", "--output", required=True, help="the file to write (*.py, or *.onnx)")
    e.add_argument(
        "--target",
        choices=("studio", "torch", "onnx"),
        help="what to write (default: onnx for an *.onnx output, else a studio script)",
    )
    e.add_argument("--ddp", action="store_true", help="torch only: train with DistributedDataParallel")
    e.add_argument("--run", help="onnx: the id of the run whose weights are exported (default: the newest)")
    e.add_argument("--untrained", action="store_true", help="onnx: export freshly initialised weights")
    e.add_argument(
        "--preprocessing",
        choices=("fold", "json"),
        default="fold",
        help="onnx: fold the input preprocessing into the graph, or write it beside as JSON",
    )
    e.add_argument("--opset", type=int, help="onnx: the opset version (default 20)")

    m = sub.add_parser("import", help="make a project from an ONNX model: its graph and its weights as a run")
    m.add_argument("file", help="the ONNX model (*.onnx)")
    m.add_argument("-o", "--output", required=True, help="the project file to write (*.studio)")
    m.add_argument("--data", help="the data to fine-tune on: a CSV file, an image folder or a sample")
    m.add_argument("--target", help="the CSV column to predict (default: the last column)")
    m.add_argument("--force", action="store_true", help="overwrite an existing file")
    _compress_parser(sub)
    from .cli_sweep import add_parser

    add_parser(sub)
    return p


def _compress_parser(sub) -> None:
    """`studio compress`: its options come from the one declaration the Compress panel reads too."""
    from .training.compress import SETTINGS

    c = sub.add_parser(
        "compress", help="prune, fine-tune and quantize a trained run; print what each variant costs"
    )
    c.add_argument("file")
    for s in SETTINGS:
        if s.kind is bool:
            c.add_argument(f"--{s.name}", action="store_true", help=s.help)
            continue
        extra = {"choices": s.choices} if s.choices else {"type": s.kind, "metavar": s.kind.__name__.upper()}
        bounds = f" ({s.low:g} to {s.high:g})" if not s.choices else ""
        c.add_argument(
            f"--{s.name}", default=s.default, help=f"{s.help}{bounds}; default {s.default}", **extra
        )
    c.add_argument("--run", help="the id of the run to compress (default: the newest run with weights)")
    c.add_argument(
        "--keep",
        nargs="?",
        const="last",
        choices=("last", "pruned", "finetuned", "quantized"),
        help="keep a variant as a new run of the project (default: the last one made)",
    )
    c.add_argument("--onnx-output", help="with --onnx: write the onnxruntime file (int8 when quantized) here")


# ---------------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------------


def _load(path):
    from .design.project import load_project

    if not Path(path).exists():
        raise CliError(f"no project file at {path}")
    return load_project(path)


def _data_source(value: str, target: str | None) -> dict:
    from .design.datasource import DataError, data_settings_for

    try:
        return data_settings_for(value, target)
    except DataError as e:
        raise CliError(f"--data: {e}") from None


def _fit_design_to_data(design, info) -> None:
    """Point a template at other data: the Input takes the data's shape and the last Linear its classes."""
    from .design.document import DesignError

    inputs = [n for n in design.nodes.values() if n.type == "Input"]
    outputs = [n for n in design.nodes.values() if n.type == "Output"]
    try:
        if inputs:
            design.set_param(inputs[0].id, "shape", tuple(info["input_shape"]))
            design.set_param(inputs[0].id, "dtype", info["dtype"])
        if outputs:
            design.set_param(outputs[0].id, "task", info["task"])
            design.set_param(
                outputs[0].id, "loss", "cross_entropy" if info["task"] == "classification" else "mse"
            )
            head = [e.src for e in design.edges if e.dst == outputs[0].id]
            if head and design.nodes[head[0]].type == "Linear":
                out = info.get("num_classes", 1) if info["task"] == "classification" else 1
                design.set_param(head[0], "out_features", max(1, int(out)))
    except DesignError as e:
        raise CliError(f"the template does not fit the data: {e}") from None


def cmd_new(args) -> int:
    from .design.datasource import DataError, describe_data, fit_problems, loss_name_for
    from .design.project import load_template, new_project, save_project
    from .design.starter import default_design

    out = Path(args.output)
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; use --force to overwrite it")
    data = _data_source(args.data, args.target)
    if data["kind"] == "images":
        chosen = {"image_size": args.image_size, "image_mode": args.image_mode}
        data.update({k: v for k, v in chosen.items() if v})
    elif args.image_size or args.image_mode:
        raise CliError("--image-size and --image-mode apply to image folders")
    try:
        info = describe_data(data)
    except DataError as e:
        raise CliError(str(e)) from None
    if info["problems"]:
        raise CliError(f"{args.data}: {'; '.join(info['problems'])}")
    for key in ("target", "features", "image_size", "image_mode"):
        if info.get(key):
            data[key] = info[key]
    data["task"] = info["task"]
    if args.template:
        project = load_template(args.template)
        project.data.update(data)
        _fit_design_to_data(project.design, info)
    else:
        name = data.get("sample") or Path(data["path"]).stem
        project = new_project(data=data, design=default_design(info, data), name=f"{name} model")
    problems = [p.message for p in project.design.infer().problems]
    problems += fit_problems(project.design, info, loss_name_for(project, info["task"]))
    save_project(project, out)
    say(f"wrote {out}: {len(project.design.nodes)} nodes, {project.design.infer().total_params:,} parameters")
    for p in problems:
        say(f"warning: {p}", sys.stderr)
    return 0


def _summary_rows(design):
    from .design.inference import format_shape

    inf = design.infer()
    ordered = set(inf.order)
    order = inf.order + [nid for nid in design.nodes if nid not in ordered]
    feeds: dict = {}
    for e in design.edges:
        feeds.setdefault(e.dst, []).append(e)
    rows = []
    for nid in order:
        node = design.nodes[nid]
        into = feeds.get(nid, ())
        if len(into) > 1:
            into = sorted(into, key=lambda e: e.dst_port)
        srcs = [design.nodes[e.src].name for e in into]
        rows.append(
            {
                "name": node.name,
                "type": node.type,
                "output_shape": list(inf.shapes[nid]) if inf.shapes.get(nid) is not None else None,
                "shape_text": format_shape(inf.shapes.get(nid)),
                "params": inf.param_counts.get(nid, 0),
                "inputs": srcs,
            }
        )
    return inf, rows


def _data_check(project) -> dict:
    """The project's data as `studio new` and the Data panel see it, with the problems a run would meet."""
    from .design.datasource import DataError, describe_data, fit_problems, loss_name_for

    try:
        info = describe_data(project.data, project.folder)
    except DataError as e:
        return {"summary": None, "problems": [f"the data cannot be used: {e}"]}
    problems = info["problems"] + fit_problems(project.design, info, loss_name_for(project, info["task"]))
    task = info["task"] + (f", {info['num_classes']} classes" if info["task"] == "classification" else "")
    return {
        "summary": f"{info['summary']}; {task}",
        "input_shape": list(info["input_shape"]),
        "task": info["task"],
        "num_classes": info["num_classes"],
        "class_counts": dict(zip(info["class_names"], info["class_counts"])),
        "problems": problems,
    }


def cmd_info(args) -> int:
    from .design.inference import format_shape, gc_paused

    project = _load(args.file)
    with gc_paused():
        inf, rows = _summary_rows(project.design)
    check = _data_check(project)
    if args.json:
        out = {
            "name": project.name,
            "layers": [{k: r[k] for k in ("name", "type", "output_shape", "params", "inputs")} for r in rows],
            "total_params": inf.total_params,
            "output_shape": list(inf.output_shape) if inf.output_shape is not None else None,
            "problems": [
                {
                    "node": project.design.nodes[p.node_id].name
                    if p.node_id in project.design.nodes
                    else None,
                    "message": p.message,
                }
                for p in inf.problems
            ],
            "data": project.data,
            "data_check": check,
            "training": project.training,
            "runs": len(project.runs),
        }
        say(json.dumps(out, indent=2))
        return 0
    w1 = max([len("Layer (type)")] + [len(f"{r['name']} ({r['type']})") for r in rows]) + 2
    w2 = max([len("Output shape")] + [len(r["shape_text"]) for r in rows]) + 2
    w3 = max([len("Param #")] + [len(f"{r['params']:,}") for r in rows])
    w4 = max([len("Connected to")] + [len(", ".join(r["inputs"])) for r in rows])
    line = "=" * (w1 + w2 + w3 + 2 + w4)
    lines = [f"Project: {printable(project.name or Path(args.file).stem, newlines=False)}", line]
    lines += [f"{'Layer (type)':<{w1}}{'Output shape':<{w2}}{'Param #':>{w3}}  Connected to", line]
    for r in rows:
        lines.append(
            f"{r['name'] + ' (' + r['type'] + ')':<{w1}}{r['shape_text']:<{w2}}{r['params']:>{w3},}  "
            f"{', '.join(r['inputs'])}"
        )
    lines += [line, f"Total params: {inf.total_params:,}", f"Output shape: {format_shape(inf.output_shape)}"]
    if check["summary"]:
        lines.append(f"Data: {printable(check['summary'], newlines=False)}")
    if inf.problems:
        lines.append(f"Problems ({len(inf.problems)}):")
        lines += [f"  - {printable(p.message, newlines=False)}" for p in inf.problems]
    if check["problems"]:
        lines.append(f"Data problems ({len(check['problems'])}):")
        lines += [f"  - {printable(p, newlines=False)}" for p in check["problems"]]
    say("\n".join(lines))
    return 0


def _bar(done: int, total: int, width=24) -> str:
    frac = 0.0 if total <= 0 else min(1.0, done / total)
    full = int(frac * width)
    return "[" + "#" * full + "." * (width - full) + f"] {100 * frac:5.1f}%"


def stoppable(start):
    """The events of `start(stop)`, a long job that polls `stop()`. Ctrl+C asks it to stop after its
    current step (and says so) rather than breaking into it, so that what it finished is kept and
    saved; a second Ctrl+C ends the command at once."""
    stop = {"now": False}

    def interrupted(signum, frame):
        if stop["now"]:
            raise KeyboardInterrupt
        stop["now"] = True
        say("\nstopping after this step... (Ctrl+C again to quit at once)", sys.stderr)

    # handlers can only be set from the main thread; elsewhere Ctrl+C never reaches this job anyway
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, interrupted) if main else None
    try:
        yield from start(lambda: stop["now"])
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def cmd_train(args) -> int:
    project = _load(args.file)
    problems = project.design.infer().problems
    if problems:
        raise CliError(f"the design has {len(problems)} problem(s): {problems[0].message}")
    from . import training
    from .design.training_spec import TRAINING_SPEC, SettingError

    try:
        project.training = TRAINING_SPEC.apply(project.training, _overrides(args))
    except SettingError as e:
        raise CliError(str(e)) from None

    fit = getattr(training, "fit", None)
    if not callable(fit):  # the package may expose the module rather than the function
        from .training.fit import fit
    runs_before = len(project.runs)
    tty = sys.stderr.isatty()
    total_steps, last_draw = 0, 0.0
    status = 1
    if args.init is not None and not Path(args.init).exists():
        raise CliError(f"--init: no weights file at {args.init}")
    for ev in stoppable(lambda stop: fit(project, stop=stop, init=args.init)):
        kind = ev.kind
        if kind == "loading":
            now = time.monotonic()
            if tty and (now - last_draw > 0.1 or ev.step == ev.total_steps):
                last_draw = now
                sys.stderr.write(f"\r{_bar(ev.step, ev.total_steps)} {ev.message}   ")
                sys.stderr.flush()
        elif kind == "start":
            if tty:
                sys.stderr.write("\r" + " " * 70 + "\r")
            total_steps = getattr(ev, "total_steps", 0) or 0
            if getattr(ev, "message", ""):
                say(ev.message)
        elif kind == "step":
            now = time.monotonic()
            if tty and now - last_draw > 0.1:
                last_draw = now
                loss = f"loss {ev.loss:.4f}" if ev.loss is not None else ""
                sys.stderr.write(f"\r{_bar(ev.step, total_steps)} epoch {ev.epoch} {loss}   ")
                sys.stderr.flush()
        elif kind == "epoch":
            if tty:
                sys.stderr.write("\r" + " " * 70 + "\r")
            metrics = "  ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in (ev.metrics or {}).items()
            )
            say(f"epoch {ev.epoch}: {metrics}")
        elif kind == "end":
            metrics = "  ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in (ev.metrics or {}).items()
            )
            say(f"finished ({getattr(ev, 'status', '') or 'completed'}){': ' + metrics if metrics else ''}")
            if ev.message:
                say(f"warning: {ev.message}", sys.stderr)
            status = 0
        elif kind == "error":
            raise CliError(ev.message or "training failed")
    return _save_run(project, project.runs[runs_before:], status)


def _save_run(project, new_runs, status: int) -> int:
    """Record the new runs in the project file (keeping runs others added meanwhile); a failure
    says where the weights are, so that nothing is lost without a word."""
    from .design.runs import save_new_runs

    try:
        saved = save_new_runs(project, new_runs)
    except OSError as e:
        kept = [str(project.folder / r["weights"]) for r in new_runs if r.get("weights")]
        where = f"; the run's weights are in {', '.join(kept)}" if kept else ""
        raise CliError(f"{e}{where}") from None
    weights = [r for r in saved.runs if isinstance(r, dict) and r.get("weights")]
    if new_runs and weights and weights[-1].get("id") == new_runs[-1].get("id"):
        say(f"weights: {saved.weights_path()}")
    say(f"saved {saved.path}")
    return status


def cmd_export(args) -> int:
    from .design.export import export_python

    suffix = Path(args.output).suffix.lower()
    if args.target is None:
        args.target = "onnx" if suffix == ".onnx" else "studio"
    # a name that says the other kind of file is a slip that would leave a script named *.onnx
    if (suffix == ".onnx") != (args.target == "onnx") and suffix in (".onnx", ".py"):
        wanted, ext = ("an ONNX model", ".onnx") if args.target == "onnx" else ("a Python script", ".py")
        raise CliError(
            f"--target {args.target} writes {wanted}, but the output is named *{suffix}: use *{ext}"
        )
    project = _load(args.file)
    if args.ddp and args.target != "torch":
        raise CliError("--ddp needs --target torch")
    problems = project.design.infer().problems
    if problems:
        raise CliError(f"the design has {len(problems)} problem(s): {problems[0].message}")
    if args.target == "onnx":
        return _export_onnx(project, args)
    from .core import atomic

    out = Path(args.output)
    code = export_python(project, target=args.target, ddp=args.ddp, script_path=out)
    atomic.write_text(out, code)
    say(f"wrote {out} ({args.target}{', DDP' if args.ddp else ''})")
    return 0


def _export_onnx(project, args) -> int:
    from .training.onnx_export import export_onnx

    res = export_onnx(
        project,
        args.output,
        run_id=args.run,
        preprocessing=args.preprocessing,
        untrained=args.untrained,
        opset_version=args.opset,
    )
    run = f"run {res.run_id}" if res.run_id is not None else "untrained weights"
    say(f"wrote {res.path} (ONNX, {run}, {len(res.operators)} operator types)")
    if res.json_path:
        say(f"wrote {res.json_path} (preprocessing)")
    elif res.folded:
        say(f"preprocessing ({res.folded['kind']}) is folded into the graph: it takes raw values")
    if res.max_difference is not None:
        say(f"checked in onnxruntime: largest difference from Studio {res.max_difference:.2e}")
    return 0


def cmd_import(args) -> int:
    from .design.onnx_import import project_from_onnx

    out = Path(args.output)
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; use --force to overwrite it")
    data = _data_source(args.data, args.target) if args.data else None
    project, imported = project_from_onnx(args.file, out, data=data)
    layers = sum(1 for n in project.design.nodes.values() if n.type not in ("Input", "Output"))
    ops = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(imported.operators.items()))
    say(f"wrote {out}: {layers} layers, {sum(v.size for v in imported.state.values()):,} weights ({ops})")
    if imported.max_difference is not None:
        say(f"checked in onnxruntime: largest difference {imported.max_difference:.2e}")
    say(f"weights: run {project.runs[-1]['id']} ({project.weights_path()})")
    return 0


def cmd_compress(args) -> int:
    from .training.compress import SETTINGS, CompressError, check_options, compress, discard, keep_variant

    project = _load(args.file)
    if args.onnx_output and not args.onnx:
        raise CliError("--onnx-output needs --onnx")
    try:
        options = check_options({s.name: getattr(args, s.name) for s in SETTINGS})
    except CompressError as e:
        raise CliError(f"--{e}") from None
    rows, end = [], None
    try:
        for ev in stoppable(lambda stop: compress(project, options, run_id=args.run, stop=stop)):
            if ev.kind == "error":
                raise CliError(ev.message)
            if ev.kind == "start":
                say(ev.message)
            elif ev.kind == "variant":
                rows.append(ev.metrics)
                say(f"made: {ev.message}", sys.stderr)
            elif ev.kind == "end":
                end = ev
        for line in compression_table(rows):
            say(line)
        if end is not None and end.status == "stopped":
            say("stopped: the table has the variants made before the stop", sys.stderr)
        if args.onnx_output:
            _write_onnx(rows, Path(args.onnx_output))
        if args.keep:
            return _keep(project, rows, args.keep, keep_variant)
        return 0
    finally:
        discard(rows)


NAME_WIDTH = 56


def compression_table(rows) -> list[str]:
    """The variants as aligned lines: sizes and accuracy changes are against the first row."""
    if not rows:
        return []
    base = rows[0]
    metric = base["metric"]
    head = (
        f"{'variant':<{NAME_WIDTH}} {'params':>8} {'non-zero':>8} {'size':>10} {'ratio':>6} "
        f"{metric:>8} {'change':>7} {'latency':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        value = "-" if r["value"] is None else f"{r['value']:.4f}"
        change = (
            "-"
            if r["value"] is None or base["value"] is None
            else f"{100 * (r['value'] - base['value']):+.1f}"
        )
        latency = "-" if r["latency"] is None else f"{r['latency'] * 1e6:.1f} us"
        lines.append(
            f"{r['name'][:NAME_WIDTH]:<{NAME_WIDTH}} {r['parameters']:>8,} {r['nonzero']:>8,} "
            f"{r['size'] / 1024:>7.1f} KiB "
            f"{base['size'] / r['size']:>5.2f}x {value:>8} {change:>7} {latency:>10}"
        )
    return lines


def _write_onnx(rows, out: Path) -> None:
    """Copy the last onnxruntime file (and its preprocessing note) to `out`."""
    from .core import atomic

    files = [r for r in rows if r.get("runtime") == "onnxruntime"]
    if not files:
        raise CliError("no ONNX file was made (stopped before the ONNX stage)")
    row = files[-1]
    atomic.copy_file(Path(row["file"]), out)
    note = Path(row["file"]).parent / "onnx-float32.preprocessing.json"
    if note.is_file():
        atomic.copy_file(note, out.with_suffix(".preprocessing.json"))
    say(f"wrote {out} ({row['name']})")


def _keep(project, rows, which, keep_variant) -> int:
    made = {r["key"]: r for r in rows if r["key"] != "float32"}
    if not made:
        raise CliError("no compressed variant was made, so none can be kept")
    if which != "last" and which not in made:
        raise CliError(f"--keep {which}: no such variant was made (made: {', '.join(made)})")
    row = made[which] if which != "last" else list(made.values())[-1]
    before = len(project.runs)
    run = keep_variant(project, row)
    say(f"kept {row['name']} as run {run['id']}")
    return _save_run(project, project.runs[before:], 0)


def _cmd_sweep(args) -> int:
    from .cli_sweep import cmd_sweep

    return cmd_sweep(args)


def _run_app(path=None) -> int:
    try:
        from .ui.app import run_app
    except ImportError as e:
        raise CliError(
            f"the desktop app is not available ({e}); use `studio --help` for the commands"
        ) from None
    return int(run_app(path) or 0)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
            if len(argv) > 1:
                raise CliError(
                    f"unknown command {argv[0]!r}: expected one of {', '.join(COMMANDS)} or a project file"
                )
            if argv and not Path(argv[0]).exists():
                raise CliError(
                    f"unknown command or missing file {argv[0]!r}: expected one of {', '.join(COMMANDS)}"
                )
            return _run_app(argv[0] if argv else None)
        args = _parser().parse_args(argv)
        if args.command is None:
            return _run_app(None)
        commands = {
            "new": cmd_new,
            "info": cmd_info,
            "train": cmd_train,
            "export": cmd_export,
            "import": cmd_import,
            "compress": cmd_compress,
            "sweep": _cmd_sweep,
        }
        return commands[args.command](args)
    except SystemExit as e:  # --help and --version
        return int(e.code or 0) if isinstance(e.code, int) else 0
    except KeyboardInterrupt:
        say("studio: interrupted", sys.stderr)
        return 130
    except Exception as e:  # every failure is one line, never a traceback (STUDIO_DEBUG=1 shows it)
        if os.environ.get("STUDIO_DEBUG"):
            raise
        from .design.project import ProjectError

        if isinstance(e, ProjectError):
            msg = "; ".join(e.problems[:5]) + (
                f" (and {len(e.problems) - 5} more)" if len(e.problems) > 5 else ""
            )
            msg = f"{e.path}: {msg}" if e.path else msg
        elif isinstance(e, (CliError, ValueError, OSError)):
            msg = str(e)
        else:
            msg = f"{type(e).__name__}: {e}"
        say(f"studio: error: {printable(' '.join(msg.split()), newlines=False)}", sys.stderr)
        return getattr(e, "code", 1) if isinstance(e, CliError) else 1


if __name__ == "__main__":
    sys.exit(main())
