"""Saving a project under faults: killed in the middle, a full disk, links and permissions."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from studio.core import atomic
from studio.design.project import load_project, new_project, save_project

TRIALS = 50

# Forks a child that saves two versions of a project in turn, as fast as it can, and kills it with
# SIGKILL after a random delay; one trial per line read, answering with the number of saves made.
KILLER = textwrap.dedent(
    """
    import os, random, signal, sys, time
    from studio.design.project import new_project, save_project

    path = sys.argv[1]
    versions = [new_project(name="A", data={"kind": "sample", "sample": "iris"}),
                new_project(name="B", data={"kind": "sample", "sample": "digits"})]
    versions[1].description = "B" * 300_000  # large, so that most kills land inside a write
    rng = random.Random(int(sys.argv[2]))
    save_project(versions[0], path)  # imports what saving needs once, before the children fork
    for line in sys.stdin:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            for i in range(10**9):
                save_project(versions[i % 2], path)
                if i == 0:
                    os.write(w, b"x")  # the first save is done: the file exists from now on
        os.close(w)
        os.read(r, 1)
        time.sleep(rng.uniform(0.0, 0.03))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        print("killed", flush=True)
    """
)


def test_kill_9_during_save_leaves_the_complete_old_or_new_file(tmp_path):
    path = tmp_path / "p.studio"
    helper = subprocess.Popen(
        [sys.executable, "-c", KILLER, str(path), "7"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    seen, interrupted = {"A": 0, "B": 0}, 0
    try:
        for _ in range(TRIALS):
            helper.stdin.write("go\n")
            helper.stdin.flush()
            assert helper.stdout.readline() == "killed\n"
            project = load_project(path)  # complete and valid, whatever moment the kill hit
            assert project.name in seen
            assert project.description == ("B" * 300_000 if project.name == "B" else "")
            seen[project.name] += 1
            leftovers = [p for p in os.listdir(tmp_path) if p.endswith(atomic.TMP_SUFFIX)]
            interrupted += bool(leftovers)
            assert set(os.listdir(tmp_path)) - set(leftovers) == {"p.studio"}
    finally:
        helper.stdin.close()
        helper.wait(30)
    assert seen["A"] and seen["B"], seen
    assert interrupted >= TRIALS // 5, f"only {interrupted} kills landed inside a write"
    save_project(new_project(name="C"), path)  # the next save clears what the killed ones left
    assert sorted(os.listdir(tmp_path)) == ["p.studio"] and load_project(path).name == "C"
    print(f"\n{TRIALS} kills: {interrupted} inside a write, the file was {seen}")


def test_save_on_a_full_disk_keeps_the_old_file(small_disk):
    path = small_disk.path / "p.studio"
    save_project(new_project(name="old"), path)
    before = path.read_bytes()
    small_disk.fill()
    project = new_project(name="new")
    project.description = "x" * 2_000_000
    with pytest.raises(OSError, match="cannot write .*p.studio: no space left on the disk"):
        save_project(project, path)
    assert path.read_bytes() == before and project.path is None
    assert [p for p in os.listdir(small_disk.path) if p.endswith(atomic.TMP_SUFFIX)] == []


def test_saving_through_a_symlink_keeps_the_link_and_the_mode(tmp_path):
    real = tmp_path / "store" / "real.studio"
    real.parent.mkdir()
    save_project(new_project(name="old"), real)
    os.chmod(real, 0o664)
    link = tmp_path / "link.studio"
    link.symlink_to(real)
    project = load_project(link)
    project.name = "new"
    save_project(project, link)
    assert link.is_symlink() and json.loads(real.read_text())["name"] == "new"
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o664
