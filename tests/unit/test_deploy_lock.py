"""One deploy at a time per cluster: the controller's lock says who holds it, takes over a dead holder's,
and the dashboard's deploy shows a held lock instead of planning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from picf.deploy.lock import ClusterLock, ClusterLocked, lock_file
from tui.deploying import PicfDeployer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PICF_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PICF_DATA_DIR", str(tmp_path / "data"))  # no build: a deploy past the lock stops there
    return tmp_path / "state"


def test_a_second_lock_of_the_cluster_is_refused_naming_the_holder(tmp_path: Path) -> None:
    inventory = tmp_path / "cluster.yml"
    first, second = ClusterLock(inventory), ClusterLock(inventory)
    first.acquire()
    try:
        with pytest.raises(ClusterLocked, match=rf"a deploy of this cluster is running: \S+@\S+ pid {os.getpid()} "):
            second.acquire()
        holder = second.holder()
        assert holder is not None and holder.pid == os.getpid()
    finally:
        first.release()
    second.acquire()  # free again
    second.release()
    assert ClusterLock(inventory).holder() is None


def test_each_inventory_is_its_own_cluster(tmp_path: Path) -> None:
    one, other = ClusterLock(tmp_path / "a.yml"), ClusterLock(tmp_path / "b.yml")
    one.acquire()
    other.acquire()
    one.release()
    other.release()


def test_the_lock_of_a_killed_process_is_taken_over_with_a_line(tmp_path: Path) -> None:
    inventory = tmp_path / "cluster.yml"
    # A process that takes the lock and dies without releasing it (as under SIGKILL).
    script = (
        "import os, sys; from pathlib import Path; from picf.deploy.lock import ClusterLock; "
        f"ClusterLock(Path({str(inventory)!r})).acquire(); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", script], check=True, env=os.environ.copy(), cwd=REPO)
    record = json.loads(lock_file(inventory).read_text())
    said: list[str] = []
    lock = ClusterLock(inventory)
    lock.acquire(say=said.append)
    lock.release()
    assert said == [said[0]] and said[0].startswith("taking over the deploy lock of ")
    assert f"pid {record['pid']}" in said[0] and "that process is gone" in said[0]


def test_the_dashboard_shows_a_held_lock_instead_of_a_plan(tmp_path: Path) -> None:
    inventory = tmp_path / "cluster.yml"
    inventory.write_bytes((REPO / "inventory" / "cluster.yml").read_bytes())
    manifest = tmp_path / "deployment.yml"
    manifest.write_bytes((REPO / "inventory" / "deployment.yml").read_bytes())
    held = ClusterLock(inventory)
    held.acquire()
    try:
        planned = PicfDeployer(inventory, manifest).plan(lambda _: None)  # stops at the lock: no node is asked
    finally:
        held.release()
    assert planned.outcome is not None and planned.outcome.exit_code == 1
    assert "a deploy of this cluster is running" in planned.outcome.message
    after = PicfDeployer(inventory, manifest).plan(lambda _: None)  # past the lock: stops at the missing build
    assert after.outcome is not None and "no compiled logfwd" in after.outcome.message
