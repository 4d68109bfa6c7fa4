"""picf's ansible-playbook wrapper (picf/deploy/ansible_playbook.sh) against real processes.

A stand-in picf (a sleep we can kill and leave unreaped) and a stand-in ansible-playbook whose worker leaves the
process group, as Mitogen's multiplexer does. What is checked is the wrapper's watcher, not Ansible.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from picf.deploy.execute import WRAPPER

# The stand-in leader: a worker in a session of its own (out of reach of a group kill), its pid written to $1;
# then it waits for $2 to appear and dies the way a pty hangup ends ansible-playbook.
LEADER = """#!/bin/sh
setsid sleep 300 &
echo $! > "$1"
while [ ! -e "$2" ]; do sleep 0.1; done
kill -KILL $$
"""

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


@dataclass
class Run:
    picf: subprocess.Popen[bytes]
    wrapper: subprocess.Popen[bytes]
    worker: int
    go: Path


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _group_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


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
    picf = subprocess.Popen(["sleep", "300"])
    env = {**os.environ, "PICF_PID": str(picf.pid), "PICF_ANSIBLE_PLAYBOOK": str(leader)}
    worker_file, go = tmp_path / "worker", tmp_path / "go"
    wrapper = subprocess.Popen(
        ["sh", str(WRAPPER), str(worker_file), str(go)],
        env=env,
        start_new_session=True,  # as ansible-runner's pty
    )
    _wait_for("the worker's pid", lambda: worker_file.exists() and worker_file.read_text().strip())
    worker = int(worker_file.read_text())
    yield Run(picf, wrapper, worker, go)
    for pid in (worker, picf.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    picf.wait()
    wrapper.wait()


def test_a_killed_picf_left_a_zombie_still_takes_the_runs_strays_with_it(run: Run) -> None:
    run.picf.kill()  # SIGKILL, and no wait(): picf stays a zombie, as under a parent slow to reap it
    run.go.touch()  # the pty's hangup ends the group's leader meanwhile
    run.wrapper.wait()
    assert _alive(run.worker), "the worker must outlive its leader for this test to mean anything"
    _wait_for("the stray worker to be killed", lambda: not _alive(run.worker))
    assert not _alive(run.picf.pid)  # still unreaped all along


def test_a_run_that_ends_while_picf_lives_kills_nothing(run: Run) -> None:
    run.go.touch()
    run.wrapper.wait()
    _wait_for("the watcher to end with its group", lambda: _group_gone(run.wrapper.pid))
    assert _alive(run.worker), "a run's end while picf lives is picf's to handle: the next batch may be starting"
    assert run.picf.poll() is None
