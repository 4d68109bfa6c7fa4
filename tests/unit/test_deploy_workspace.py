"""What a deploy holds while it runs: its work directory and the cluster lock are freed on the way out, and
every secret is redacted from what it shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from picf.deploy.lock import ClusterLock
from picf.deploy.workspace import DeployWorkspace


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PICF_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_leaving_the_workspace_removes_the_work_directory_and_frees_the_cluster(tmp_path: Path) -> None:
    inventory = tmp_path / "cluster.yml"
    work = tmp_path / "work"
    (work / "stage").mkdir(parents=True)
    (work / "stage" / "creds.yml").write_text("token: s3cret\n")
    lock = ClusterLock(inventory)
    lock.acquire()
    with DeployWorkspace(work, lock):
        assert ClusterLock(inventory).holder() is not None
    assert not work.exists()
    assert ClusterLock(inventory).holder() is None


def test_a_secret_inside_a_longer_one_leaves_no_part_of_the_longer_visible(tmp_path: Path) -> None:
    workspace = DeployWorkspace(tmp_path, secrets=frozenset({"hunter2", "hunter2xyz"}))
    assert workspace.redact("token hunter2xyz, key hunter2") == "token <redacted>, key <redacted>"
    assert "hunter2" not in repr(workspace)
