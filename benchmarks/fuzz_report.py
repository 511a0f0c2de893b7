"""`python -m benchmarks.fuzz_report`: hostile inputs, counted.

Hundreds of mutated project files and dozens of hostile data files (pipes, devices, /proc, link loops,
broken encodings, bombs...) go through the project loader, `studio info`, `studio new`, export, the data
preparation of training, one epoch of training and the window. Each case ends in one of:

  clean error     refused with one clear line (a ProjectError, a DataError, `studio: error: ...`)
  working         accepted, and everything asked of it worked
  internal error  a message that is an internal error flattened into a line (KeyError, TypeError...)
  traceback       an exception escaped
  hang            no answer within the time limit
  crash           the process died

The cases run in a child process that the parent restarts after a hang or a crash. Not part of the
test suite (tests/test_fuzz_loaders.py runs a short version of the same checks).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import queue
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INTERNAL = re.compile(
    r"\b(KeyError|IndexError|TypeError|AttributeError|RecursionError|UnboundLocalError|NameError)\b"
)
CASE_LIMIT_S = 120.0
NASTY = [
    None,
    True,
    0,
    -1,
    1,
    2**31,
    2**63,
    10**30,
    -(10**30),
    0.5,
    -0.0,
    1e308,
    5e-324,
    "",
    "x",
    "\x1b[2J",
    "\ud800",
    "a" * 10_000,
    "../../etc/passwd",
    "/dev/zero",
    "🚀",
    [],
    [1, 2],
    [[[[[[[[[[1]]]]]]]]]],
    {},
    {"a": 1},
    ["n1", 0, "n2", 0],
]


# ---------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------


def _seeds(folder: Path) -> list[dict]:
    """Valid projects of every kind, with a trained run, to mutate."""
    from studio.design.project import load_template, new_project
    from studio.design.starter import default_design, mlp_design
    from studio.training import fit

    csv = folder / "table.csv"
    csv.write_text(
        "a,b,colour,label\n"
        + "\n".join(f"{i},{i % 7},{'red' if i % 2 else 'blue'},{i % 3}" for i in range(60))
        + "\n"
    )
    from PIL import Image

    for k in ("cat", "dog"):
        (folder / "imgs" / k).mkdir(parents=True, exist_ok=True)
        for i in range(4):
            Image.new("L", (6, 5), 60 * i).save(folder / "imgs" / k / f"{i}.png")
    iris = load_template("iris_mlp")
    iris.training["epochs"] = 1
    iris.path = str(folder / "iris.studio")
    list(fit(iris))
    seeds = [iris.to_dict()]
    for name in ("digits_lenet", "digits_resnet", "sequence_lstm", "tokens_transformer"):
        seeds.append(load_template(name).to_dict())
    table = new_project(
        data={"kind": "csv", "path": str(csv), "target": "label", "features": ["a", "b", "colour"]},
        design=mlp_design(4, 3),
    )
    seeds.append(table.to_dict())
    images = new_project(
        data={"kind": "images", "path": str(folder / "imgs")},
        design=default_design({"input_shape": (1, 28, 28), "task": "classification", "num_classes": 2}),
    )
    seeds.append(images.to_dict())
    return seeds


def _mutate_tree(d, rng: random.Random):
    for _ in range(rng.randint(1, 4)):
        node, path = d, []
        while isinstance(node, (dict, list)) and node and rng.random() < 0.75:
            key = rng.choice(list(node.keys()) if isinstance(node, dict) else range(len(node)))
            path.append((node, key))
            node = node[key]
        if not path:
            return rng.choice(NASTY)
        parent, key = path[-1]
        roll = rng.random()
        if roll < 0.55:
            parent[key] = rng.choice(NASTY)
        elif roll < 0.75 and isinstance(parent, dict):
            del parent[key]
        elif roll < 0.85 and isinstance(parent, list):
            parent.append(json.loads(json.dumps(parent[key])))  # a duplicate (node, edge, run...)
        elif isinstance(parent, dict):
            parent[rng.choice(["x", "id", "name", "type", "shape", "nodes"])] = rng.choice(NASTY)
        else:
            parent.insert(key, rng.choice(NASTY))
    return d


def _plausible(value, rng: random.Random):
    """A value of the same kind: what a person editing the file by hand might write."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice([0, 1, 2, 3, 7, 64, 255, 4096, 2**31 - 1, value + 1, max(value - 1, 0), value * 10])
    if isinstance(value, float):
        return rng.choice([0.0, 1.0, 0.5, 1e-10, 1e6, value / 10, value * 10])
    if isinstance(value, str):
        return rng.choice([value.upper(), value + "_2", "relu", "Linear", "adam", "cpu", "x" * 65, "n1", ""])
    if isinstance(value, list):
        value = list(value)
        rng.shuffle(value)
        return value[: rng.randint(0, len(value))]
    return value


def _mutate_gently(d, rng: random.Random):
    for _ in range(rng.randint(1, 2)):
        node, parent, key = d, None, None
        while isinstance(node, (dict, list)) and node:
            parent, key = node, rng.choice(list(node.keys()) if isinstance(node, dict) else range(len(node)))
            node = node[key]
        if parent is not None:
            parent[key] = _plausible(node, rng)
    return d


def _mutate_bytes(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 5)):
        i = rng.randrange(max(len(data), 1))
        roll = rng.random()
        if roll < 0.4 and data:
            data[i] ^= 1 << rng.randrange(8)
        elif roll < 0.6:
            del data[i:]
        elif roll < 0.8:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
        else:
            data[i:i] = rng.choice(
                [b"\xff\xfe", b"NaN", b"Infinity", b"[" * 50, b"\\ud800", b'"\x00"', b"1e999"]
            )
    return bytes(data)


def project_cases(folder: Path, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    seeds = _seeds(folder)
    cases = []
    for i in range(count):
        base = json.loads(json.dumps(rng.choice(seeds)))
        roll = rng.random()
        if roll < 0.35:
            raw = json.dumps(_mutate_gently(base, rng)).encode("utf-8", "surrogatepass")
        elif roll < 0.7:
            raw = json.dumps(_mutate_tree(base, rng)).encode("utf-8", "surrogatepass")
        else:
            raw = _mutate_bytes(json.dumps(base, indent=1).encode(), rng)
        path = folder / f"case{i:04d}.studio"
        path.write_bytes(raw)
        cases.append({"kind": "project", "name": f"mutated project {i}", "path": str(path)})
    return cases


def _png_bomb(path: Path):
    """A small file that claims an enormous image."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1000)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def _csv_files(folder: Path) -> dict:
    rows = "\n".join(f"{i},{i % 7},{i % 3}" for i in range(40))
    wide = (
        ",".join(f"c{i}" for i in range(3000))
        + ",label\n"
        + "\n".join(",".join(str((i * j) % 10) for j in range(3000)) + f",{i % 2}" for i in range(20))
    )
    files = {
        "empty.csv": b"",
        "header only.csv": b"a,b,label\n",
        "one column.csv": b"label\n1\n2\n",
        "binary.csv": bytes(range(256)) * 20,
        "utf16.csv": "a,b,label\n1,2,x\n3,4,y\n".encode("utf-16"),
        "latin1.csv": "a,b,label\n1,2,caf\xe9\n3,4,th\xe9\n".encode("latin-1"),
        "bom.csv": b"\xef\xbb\xbfa,b,label\n1,2,x\n3,4,y\n5,6,x\n",
        "nul bytes.csv": b"a,b,label\n1,\x00,x\n3,4,y\n",
        "unbalanced quotes.csv": b'a,b,label\n1,"2,x\n3,4,y\n',
        "ragged rows.csv": b"a,b,label\n1,2\n3,4,y,extra,more\n",
        "duplicate columns.csv": b"a,a,label\n1,2,x\n3,4,y\n5,6,x\n",
        "empty column names.csv": b",,\n1,2,x\n3,4,y\n5,6,x\n",
        "one class.csv": ("a,b,label\n" + "\n".join(f"{i},{i % 5},same" for i in range(30))).encode(),
        "all missing target.csv": ("a,b,label\n" + "\n".join(f"{i},{i % 5}," for i in range(30))).encode(),
        "text cell.csv": ("a,b,label\n" + rows.replace("\n7,0,1", "\n7,oops,1")).encode(),
        "question marks.csv": ("a,b,label\n" + rows.replace(",0,", ",?,")).encode(),
        "infinities.csv": ("a,b,label\n" + rows.replace(",0,", ",inf,")).encode(),
        "huge numbers.csv": ("a,b,label\n" + rows.replace(",0,", ",1e308,")).encode(),
        "nan strings.csv": ("a,b,label\n" + rows.replace(",0,", ",nan,")).encode(),
        "semicolons.csv": ("a;b;label\n" + rows.replace(",", ";")).encode(),
        "whitespace.csv": b"   \n  \n\t\n",
        "huge line.csv": b"a,b,label\n" + b"1" * 5_000_000 + b",2,x\n",
        "control chars.csv": b"a\x1b[2J,b,label\x07\n1,2,x\n3,4,y\n5,6,x\n",
        "thousands of classes.csv": (
            "a,b,label\n" + "\n".join(f"{i},{i % 5},c{i}" for i in range(3000))
        ).encode(),
        "wide.csv": wide.encode(),
        "classes after many rows.csv": (
            "a,b,label\n"
            + "\n".join(f"{i % 9},{i % 4},{'a' if i < 200_000 else 'b'}" for i in range(200_010))
        ).encode(),
        "regression.csv": (
            "a,b,price\n" + "\n".join(f"{i},{i % 7},{i * 1.5 + 0.25}" for i in range(50))
        ).encode(),
        "boolean target.csv": (
            "a,b,ok\n" + "\n".join(f"{i},{i % 7},{'True' if i % 2 else 'False'}" for i in range(50))
        ).encode(),
        "tiny.csv": b"a,label\n1,x\n2,y\n",
        "crlf.csv": ("a,b,label\r\n" + rows.replace("\n", "\r\n")).encode(),
        "quoted newlines.csv": b'a,b,label\n1,"two\nlines",x\n3,4,y\n5,"6",x\n',
        "emoji names.csv": "🚀,b,ľabel\n1,2,x\n3,4,y\n5,6,x\n".encode(),
    }
    out = {}
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
        out[name] = folder / name
    return out


def _image_folders(folder: Path) -> dict:
    from PIL import Image

    def classes(root: Path, n=2, per=3, size=(6, 5), mode="L"):
        for k in range(n):
            (root / f"class{k}").mkdir(parents=True, exist_ok=True)
            for i in range(per):
                Image.new(mode, size, 40 * i + k).save(root / f"class{k}" / f"{i}.png")
        return root

    out = {}
    out["good folder"] = classes(folder / "good")
    out["one class"] = classes(folder / "oneclass", n=1)
    out["no class folders"] = folder / "flat"
    (folder / "flat").mkdir()
    Image.new("L", (4, 4)).save(folder / "flat" / "a.png")
    out["empty classes"] = folder / "empties"
    for k in ("a", "b"):
        (folder / "empties" / k).mkdir(parents=True)
    loop = classes(folder / "loop")
    (loop / "class0" / "back").symlink_to(loop, target_is_directory=True)
    (loop / "class0" / "self").symlink_to(loop / "class0", target_is_directory=True)
    out["link loop inside a class"] = loop
    same = classes(folder / "same")
    (same / "class2").symlink_to(same / "class1", target_is_directory=True)
    out["two classes one folder"] = same
    up = classes(folder / "up")
    (up / "classup").symlink_to(up, target_is_directory=True)
    out["class linking to the root"] = up
    bad = classes(folder / "bad files")
    (bad / "class0" / "zero.png").write_bytes(b"")
    (bad / "class0" / "text.png").write_text("not an image")
    good = (bad / "class1" / "0.png").read_bytes()
    (bad / "class1" / "truncated.png").write_bytes(good[: len(good) // 2])
    _png_bomb(bad / "class1" / "bomb.png")
    os.mkfifo(bad / "class0" / "pipe.png")
    (bad / "class1" / "zero device.png").symlink_to("/dev/zero")
    (bad / "class1" / "broken link.png").symlink_to(folder / "nowhere.png")
    out["unreadable files among images"] = bad
    out["big images"] = classes(folder / "big", size=(2000, 1500), per=2)
    out["colour images"] = classes(folder / "colour", mode="RGB")
    out["palette and alpha"] = classes(folder / "rgba", mode="RGBA")
    out["16-bit images"] = classes(folder / "sixteen", mode="I;16")
    nested = classes(folder / "nested")
    (nested / "class0" / "deeper" / "deepest").mkdir(parents=True)
    Image.new("L", (5, 5)).save(nested / "class0" / "deeper" / "deepest" / "x.png")
    out["nested folders"] = nested
    out["many classes"] = classes(folder / "many", n=60, per=2)
    return out


def data_cases(folder: Path) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, path in _csv_files(folder / "csv").items():
        cases.append({"kind": "data", "data_kind": "csv", "name": f"csv: {name}", "path": str(path)})
    for name, path in _image_folders(folder / "images").items():
        cases.append({"kind": "data", "data_kind": "images", "name": f"images: {name}", "path": str(path)})
    fifo = folder / "pipe.csv"
    os.mkfifo(fifo)
    link_loop = folder / "loop.csv"
    link_loop.symlink_to(link_loop)
    specials = [
        ("csv", "a FIFO", fifo),
        ("csv", "/dev/zero", "/dev/zero"),
        ("csv", "/dev/null", "/dev/null"),
        ("csv", "/dev/urandom", "/dev/urandom"),
        ("csv", "a folder", folder),
        ("csv", "/proc/self/status", "/proc/self/status"),
        ("csv", "/proc/self/mem", "/proc/self/mem"),
        ("csv", "/sys/kernel", "/sys/kernel"),
        ("csv", "a link to itself", link_loop),
        ("csv", "a missing file", folder / "gone.csv"),
        ("images", "a FIFO", fifo),
        ("images", "/proc", "/proc"),
        ("images", "/dev", "/dev"),
        ("images", "/dev/zero", "/dev/zero"),
        ("images", "a CSV file", folder / "csv" / "tiny.csv"),
        ("images", "a missing folder", folder / "gone"),
    ]
    for kind, name, path in specials:
        cases.append({"kind": "data", "data_kind": kind, "name": f"{kind} path: {name}", "path": str(path)})
    return cases


# ---------------------------------------------------------------------------------------------------
# Running a case (in the child)
# ---------------------------------------------------------------------------------------------------


class Internal(Exception):
    """A message that is an internal error flattened into a line."""


def _check_message(text: str) -> None:
    if INTERNAL.search(text) or "Traceback" in text:
        raise Internal(text.strip()[:300])


def _cli(*argv) -> tuple[int, str, str]:
    from studio import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    _check_message(out.getvalue() + err.getvalue())
    return code, out.getvalue(), err.getvalue()


def _window(qt, path: str) -> None:
    """Open the project in the window, wait for its data to be read, and check nothing went wrong."""
    from studio.ui.main_window import MainWindow

    errors = []
    MainWindow.show_error = lambda self, title, text, details="": errors.append(f"{text} {details}")
    window = MainWindow(path=path)
    deadline = time.monotonic() + 30
    while window.data_panel.loading and time.monotonic() < deadline:
        qt.processEvents()
        time.sleep(0.01)
    qt.processEvents()
    if window.data_panel.loading:
        raise TimeoutError("the Data panel is still reading after 30 s")
    for text in errors + [window.data_panel.problems.text()]:
        _check_message(text)
    window._restored_changes = False
    window.undo_stack.setClean()
    window.close()
    window.deleteLater()
    qt.processEvents()
    if errors:
        raise AssertionError(f"the window could not open a file the loader accepted: {errors[0]}")


def run_project_case(case, qt) -> str:
    from studio.design.export import export_python
    from studio.design.project import ProjectError, load_project

    try:
        project = load_project(case["path"])
    except ProjectError as e:
        _check_message(str(e))
        return "clean error"
    code, _, err = _cli("info", case["path"])
    if code != 0:
        raise AssertionError(f"info failed on an accepted project: {err}")
    if not project.design.infer().problems:
        try:
            export_python(project)
        except ValueError as e:  # BuildError and the like: a clear refusal
            _check_message(str(e))
    _window(qt, case["path"])
    return "working"


def run_data_case(case, qt, folder: Path) -> str:
    from studio.design.project import load_project, load_template, save_project
    from studio.training import fit
    from studio.training.data import DataError, prepare_data
    from studio.ui.data_panel import load_preview

    out = folder / "new.studio"
    out.unlink(missing_ok=True)
    code, _, err = _cli("new", "--data", case["path"], "-o", str(out))
    accepted = code == 0
    # a project that names the data however `new` judged it: info, training and the window cope
    project = load_template("iris_mlp")
    project.data.update(kind=case["data_kind"], path=case["path"], target=None, features=[])
    holder = folder / "holder.studio"
    save_project(project, holder)
    code_info, _, _ = _cli("info", str(holder))
    if code_info != 0:
        raise AssertionError("info failed on a project whose data is bad")
    try:
        load_preview(project.data, None, {})
    except (OSError, ValueError) as e:
        _check_message(str(e))
    _window(qt, str(holder))
    if not accepted:
        return "clean error"
    trained = load_project(out)
    try:
        prepare_data(trained)
    except DataError as e:
        _check_message(str(e))
        return "clean error"
    events = list(fit(trained, epochs=1))
    if events[-1].kind == "error":
        _check_message(events[-1].message)
        raise AssertionError(f"`new` accepted data that training refuses: {events[-1].message}")
    _window(qt, str(out))
    return "working"


def child(cases_file: str, start: int) -> None:
    """Run the cases from `start`, printing `start <i>` and `done <i> <outcome> <detail>` lines."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    home = tempfile.mkdtemp(prefix="studio-fuzz-home-")
    os.environ.update(HOME=home, XDG_CONFIG_HOME=home, XDG_DATA_HOME=home)
    from PySide6.QtWidgets import QApplication

    qt = QApplication.instance() or QApplication([])
    cases = json.loads(Path(cases_file).read_text())
    work = Path(tempfile.mkdtemp(prefix="studio-fuzz-"))
    for i in range(start, len(cases)):
        case = cases[i]
        print(f"start {i}", flush=True)
        try:
            if case["kind"] == "project":
                outcome, detail = run_project_case(case, qt), ""
            else:
                outcome, detail = run_data_case(case, qt, work), ""
        except Internal as e:
            outcome, detail = "internal error", str(e)
        except Exception as e:  # noqa: BLE001 - what this report counts
            import traceback

            frame = traceback.extract_tb(e.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
            outcome, detail = "traceback", f"{type(e).__name__}: {str(e)[:300]} ({where})"
        print(f"done {i} {json.dumps([outcome, detail])}", flush=True)


# ---------------------------------------------------------------------------------------------------
# The parent
# ---------------------------------------------------------------------------------------------------


def _pump(stream, lines: queue.Queue) -> None:
    """Hand the child's lines over one by one (a select on a buffered pipe would miss some)."""
    for line in stream:
        lines.put(line)
    lines.put("")


def run_all(cases: list[dict], folder: Path) -> list[tuple[str, str]]:
    cases_file = folder / "cases.json"
    cases_file.write_text(json.dumps(cases))
    results: list = [None] * len(cases)
    start = 0
    while start < len(cases):
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.fuzz_report", "--child", str(cases_file), str(start)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
        current, started = None, time.monotonic()
        while True:
            try:
                line = lines.get(timeout=1.0)
            except queue.Empty:
                if current is not None and time.monotonic() - started > CASE_LIMIT_S:
                    proc.kill()
                    proc.wait()
                    results[current] = ("hang", f"no answer in {CASE_LIMIT_S:.0f} s")
                    start = current + 1
                    break
                continue
            if not line:  # the child ended
                code = proc.wait()
                if current is not None and results[current] is None:
                    results[current] = ("crash", f"the process died (exit code {code})")
                    start = current + 1
                else:
                    start = len(cases)
                break
            kind, _, rest = line.strip().partition(" ")
            if kind == "start":
                current, started = int(rest), time.monotonic()
            elif kind == "done":
                index, _, payload = rest.partition(" ")
                results[int(index)] = tuple(json.loads(payload))
                print(f"  {cases[int(index)]['name']}: {results[int(index)][0]}", file=sys.stderr, flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fuzz_report", description=__doc__, allow_abbrev=False
    )
    parser.add_argument("--projects", type=int, default=520, help="mutated project files (default 520)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    with tempfile.TemporaryDirectory(prefix="studio-fuzz-cases-") as tmp:
        folder = Path(tmp)
        (folder / "projects").mkdir()
        cases = project_cases(folder / "projects", args.projects, args.seed)
        cases += data_cases(folder / "data")
        t0 = time.monotonic()
        results = run_all(cases, folder)
        seconds = time.monotonic() - t0
    groups = {"project": "mutated project files", "data": "hostile data files"}
    outcomes = ("clean error", "working", "internal error", "traceback", "hang", "crash")
    print(f"\n{len(cases)} cases in {seconds:.0f} s")
    for kind, title in groups.items():
        mine = [r for c, r in zip(cases, results) if c["kind"] == kind]
        counts = {o: sum(1 for r in mine if r[0] == o) for o in outcomes}
        print(f"{title} ({len(mine)}): " + ", ".join(f"{o} {n}" for o, n in counts.items()))
    bad = [(c, r) for c, r in zip(cases, results) if r[0] not in ("clean error", "working")]
    for case, (outcome, detail) in bad:
        print(f"  {outcome}: {case['name']} ({case['path']}): {detail}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
