"""picf's ansible-playbook wrapper (picf/deploy/ansible_playbook.sh) against real processes.

A stand-in picf (a sleep we can kill and leave unreaped) and a stand-in ansible-playbook whose worker leaves the
process group, as Mitogen's multiplexers do, beside a stand-in OpenSSH ControlPersist master (a process named
ssh, in a session of its own). What is checked is the wrapper's watcher, not Ansible.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from picf.deploy.playbook_run import WRAPPER

# The stand-in leader: a worker and an "ssh" master, each in a session of its own (out of reach of a group
# kill), their pids written to $1; then it waits for $2 to appear and dies as a hangup or a cancel ends it.
LEADER = """#!/bin/sh
setsid sleep 300 &
worker=$!
setsid "$(dirname "$0")/ssh" 300 &
echo "$worker $!" > "$1"
while [ ! -e "$2" ]; do sleep 0.1; done
kill -KILL $$
"""

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


@dataclass
class Run:
    picf: subprocess.Popen[bytes]
    wrapper: subprocess.Popen[bytes]
    worker: int
    ssh_master: int
    go: Path


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _watchers_of(group: int) -> list[int]:
    """The wrapper's watchers (the wrapper again, with --picf-watch) for the run whose group is `group`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--picf-watch" in argv and argv[argv.index(b"--picf-watch") + 1 :][:1] == [str(group).encode()]:
            found.append(int(proc.name))
    return found


def _wait_for(condition: str, check: Callable[[], object], guard: float = 60) -> None:
    """Poll until `check()` holds; the bound only keeps a broken wrapper from hanging the suite."""
    deadline = time.monotonic() + guard
    while not check():
        assert time.monotonic() < deadline, f"still waiting for: {condition}"
        time.sleep(0.1)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    leader = tmp_path / "ansible-playbook"
    leader.write_text(LEADER)
    leader.chmod(0o700)
    shutil.copy("/bin/sleep", tmp_path / "ssh")
    picf = subprocess.Popen(["sleep", "300"])
    env = {**os.environ, "PICF_PID": str(picf.pid), "PICF_ANSIBLE_PLAYBOOK": str(leader)}
    worker_file, go = tmp_path / "worker", tmp_path / "go"
    wrapper = subprocess.Popen(
        ["sh", str(WRAPPER), str(worker_file), str(go)],
        env=env,
        start_new_session=True,  # as ansible-runner's pty
    )
    _wait_for("the worker's pids", lambda: worker_file.exists() and len(worker_file.read_text().split()) == 2)
    worker, ssh_master = map(int, worker_file.read_text().split())
    _wait_for("the ssh master to be ssh", lambda: _comm(ssh_master) == "ssh")  # not setsid on its way there
    yield Run(picf, wrapper, worker, ssh_master, go)
    for pid in (worker, ssh_master, picf.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    picf.wait()
    wrapper.wait()


def test_a_killed_picf_left_a_zombie_still_takes_the_runs_strays_with_it(run: Run) -> None:
    run.picf.kill()  # SIGKILL, and no wait(): picf stays a zombie, as under a parent slow to reap it
    run.go.touch()  # the pty's hangup ends the group's leader meanwhile
    run.wrapper.wait()
    assert _alive(run.worker), "the worker must outlive its leader for this test to mean anything"
    _wait_for("the strays to be killed", lambda: not _alive(run.worker) and not _alive(run.ssh_master))
    assert not _alive(run.picf.pid)  # still unreaped all along


def test_a_run_cancelled_while_picf_lives_takes_its_strays_but_not_its_ssh_masters(run: Run) -> None:
    # ansible-runner cancels a run by SIGKILLing its process group: the watcher must not be in it. Mitogen's
    # multiplexers, out of the group, would then wait on each other forever.
    os.killpg(run.wrapper.pid, signal.SIGKILL)
    run.wrapper.wait()
    assert _alive(run.worker)
    _wait_for("the watcher to end", lambda: not _watchers_of(run.wrapper.pid))
    assert not _alive(run.worker)
    assert _alive(run.ssh_master), "ControlPersist masters end by themselves and serve the next run meanwhile"
    assert run.picf.poll() is None
