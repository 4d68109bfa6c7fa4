"""Deciding a deploy (`prepare_deploy`) against fake nodes that answer with what real (simulated) nodes
answered (tests/data/nodes): no LAN, no compiler.

The release store is a directory: each test puts in a store of its own the compiled example release a real
deploy used (tests/data/nodes/seam: its manifest and job tarballs, through the store's own writer), and plans
the same manifest, inventory and credentials against stock nodes (pdt-1, pdt-3) or the nodes that deploy left
running it (seam-1, seam-2)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
import yaml

from picf.deploy.prepare import DeployRequest, Prepared, plan_lines, prepare_deploy
from picf.errors import Unreachable
from picf.models.release import CompiledRelease
from picf.releases.store import Store
from tests.fakenode import RECORDED, FakeLan, FakeNode

DEPLOYED = RECORDED / "seam"  # what was deployed to seam-1 and seam-2 (see tests/data/nodes/README.md)
ADDRESSES = ("10.231.56.11", "10.231.56.12")  # the inventory's seam-1 and seam-2
OTHER_KEY = "SHA256:" + "A" * 43


@dataclass(frozen=True)
class Decided:
    """What a test reads of a decided deploy: per node, the plan's changes and what the deploy does there."""

    nothing_to_do: bool
    changing: list[str]
    lines: list[str]
    first_deploy: dict[str, bool]
    packages_added: dict[str, list[str]]
    jobs: dict[str, list[tuple[str, str]]]  # node -> (job, add|update|remove)
    runs_base: dict[str, bool]  # of the nodes it changes: whether the base role (monit's install) runs
    ships: dict[str, frozenset[str]]  # of the nodes it changes: NAME/FINGERPRINT of the packages it carries
    monit_running: dict[str, bool]


def _decided(prepared: Prepared) -> Decided:
    plan = prepared.plan
    plans = {p.node: p for p in plan.node_plans}
    return Decided(
        nothing_to_do=plan.nothing_to_do,
        changing=plan.changing,
        lines=plan_lines(plan),
        first_deploy={n: p.first_deploy for n, p in plans.items()},
        packages_added={n: p.packages_added for n, p in plans.items()},
        jobs={n: [(j.job, j.action) for j in p.jobs] for n, p in plans.items()},
        runs_base={n: not d.skips_base for n, d in plan.on_node.items()},
        ships={n: d.ships for n, d in plan.on_node.items()},
        monit_running={n: r.monit_running for n, r in plan.reports.items()},
    )


@pytest.fixture
def request_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DeployRequest:
    """A deploy of the recorded manifest to the recorded inventory, with a store holding the recorded release
    and the cluster's key, all in `tmp_path`; host keys pinned as recorded."""
    monkeypatch.setenv("PICF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICF_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the deploy's work directory, and its sweep
    _put_release(Store())
    key = tmp_path / "id_cluster"
    paramiko.RSAKey.generate(1024).write_private_key_file(str(key))
    inventory = yaml.safe_load((DEPLOYED / "cluster.yml").read_text())
    inventory["ssh"]["private_key"] = str(key)
    (tmp_path / "cluster.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    for name in ("deployment.yml", "creds.yml"):
        shutil.copy(DEPLOYED / name, tmp_path / name)
    return DeployRequest(inventory=tmp_path / "cluster.yml", manifest=tmp_path / "deployment.yml", lock=False)


def _put_release(store: Store) -> None:
    """The compiled release as the recorded deploy used it: its manifest, and its jobs' tarballs as blobs. Its
    packages' blobs are left out: deciding reads their fingerprints and digests, only doing ships them."""
    release = CompiledRelease.model_validate_json((DEPLOYED / "release.json").read_text())
    for job in release.jobs:
        copy = store.tempdir("job-") / f"{job.name}.tgz"
        shutil.copy(DEPLOYED / "jobs" / f"{job.name}.tgz", copy)
        assert store.put_blob(copy)[0] == job.sha256
    store.save_release(release)


def _pin(request: DeployRequest, *fakes: FakeNode) -> None:
    """Pin each fake's own host key in the inventory (a stock node's recording has its own key)."""
    inventory = yaml.safe_load(request.inventory.read_text())
    keys = {f.address: f.host_key for f in fakes}
    for node in inventory["nodes"]:
        node["host_key"] = keys[node["address"]]
    request.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))


def _prepare(request: DeployRequest, *fakes: FakeNode) -> Decided:
    with prepare_deploy(request, transport=FakeLan(*fakes)) as prepared:
        return _decided(prepared)


def test_fresh_stock_nodes_get_the_whole_release_monit_and_the_base_role(request_for: DeployRequest) -> None:
    stock = FakeNode("pdt-1", ADDRESSES[0]), FakeNode("pdt-3", ADDRESSES[1])
    _pin(request_for, *stock)
    decided = _prepare(request_for, *stock)
    release = CompiledRelease.model_validate_json((DEPLOYED / "release.json").read_text())
    shipped = {f"{p.name}/{p.fingerprint}" for p in release.packages if p.name in ("lineprobe", "logfwd")}
    assert not decided.nothing_to_do and decided.changing == ["seam-1", "seam-2"]
    for node in ("seam-1", "seam-2"):
        assert decided.first_deploy[node]
        assert sorted(p.split()[0] for p in decided.packages_added[node]) == ["lineprobe", "logfwd"]
        assert decided.jobs[node] == [("logfwd", "add"), ("logsink", "add")]
        assert not decided.monit_running[node] and decided.runs_base[node]  # monit comes with the base role
        assert decided.ships[node] == shipped  # the release's packages, not the Go it was compiled with
    assert "node seam-1 (first deploy)" in decided.lines and "  + job logsink" in decided.lines


def test_nodes_that_already_run_the_release_have_nothing_to_do(request_for: DeployRequest) -> None:
    decided = _prepare(request_for, FakeNode("seam-1", ADDRESSES[0]), FakeNode("seam-2", ADDRESSES[1]))
    assert decided.nothing_to_do and decided.changing == [] and decided.lines == []
    assert decided.runs_base == {} and decided.monit_running == {"seam-1": True, "seam-2": True}


def test_a_stock_node_beside_one_that_runs_the_release_is_the_only_one_changed(request_for: DeployRequest) -> None:
    running, stock = FakeNode("seam-1", ADDRESSES[0]), FakeNode("pdt-1", ADDRESSES[1])
    _pin(request_for, running, stock)
    decided = _prepare(request_for, running, stock)
    assert decided.changing == ["seam-2"] and decided.jobs["seam-1"] == []
    assert decided.runs_base == {"seam-2": True}


def test_a_node_whose_host_key_changed_stops_the_plan_with_the_mismatch(request_for: DeployRequest) -> None:
    running, reinstalled = FakeNode("seam-1", ADDRESSES[0]), FakeNode("seam-2", ADDRESSES[1], host_key=OTHER_KEY)
    with pytest.raises(Unreachable) as stopped:
        prepare_deploy(request_for, transport=FakeLan(running, reinstalled))
    assert "seam-2" in str(stopped.value) and f"{OTHER_KEY} is not the pinned" in str(stopped.value)
    assert "\n" not in str(stopped.value)
    assert reinstalled.sent == []  # nothing is asked of a node that is not the one pinned


def test_an_unreachable_node_stops_the_plan_with_one_line(request_for: DeployRequest) -> None:
    running, gone = FakeNode("seam-1", ADDRESSES[0]), FakeNode("seam-2", ADDRESSES[1], reachable=False)
    with pytest.raises(Unreachable) as stopped:
        prepare_deploy(request_for, transport=FakeLan(running, gone))
    message = str(stopped.value)
    assert message.startswith("unreachable: seam-2: ") and "no TCP connection on port 22" in message
    assert "\n" not in message and "seam-1" not in message
