"""The poller, identification and a deploy's reading of the nodes, against fake nodes that answer with what
real (simulated) nodes answered (tests/data/nodes): no LAN."""

from __future__ import annotations

import pytest

from picf.deploy import nodes
from picf.discovery.identify import probe_candidate
from picf.health.poller import Poller
from picf.models.cluster import Cluster, SshDefaults
from picf.models.discovery import Candidate
from picf.models.health import NodeHealth, NodeState
from picf.models.node import Node
from tests.fakenode import FakeLan, FakeNode

STOCK, UNDER_VOLTAGE = "pdt-1", "pdt-2"  # a stock Pi 3B+; a Pi 4 whose supply sags (`picf sim fault`)
OTHER_KEY = "SHA256:" + "A" * 43


def _cluster(*fakes: FakeNode, pins: dict[str, str] | None = None) -> Cluster:
    pins = pins or {}
    return Cluster(
        name="c",
        ssh=SshDefaults(private_key="/nonexistent/id_ed25519"),
        nodes=tuple(
            Node(name=f"pi-{i}", address=f.address, host_key=pins.get(f.address, f.host_key), arch="armv7")
            for i, f in enumerate(fakes, 1)
        ),
    )


def _health(cluster: Cluster, lan: FakeLan, polls: int = 1) -> dict[str, NodeHealth]:
    with Poller(cluster, timeout=2.0, transport=lan) as poller:
        health = poller.poll()
        for _ in range(polls - 1):
            health = poller.poll()
    return {n.name: n for n in health.nodes}


# --- the health poller -------------------------------------------------------------------------------------


def test_a_node_that_reports_under_voltage_is_up_with_an_under_voltage_warning() -> None:
    stock, sagging = FakeNode(STOCK, "10.0.0.11"), FakeNode(UNDER_VOLTAGE, "10.0.0.12")
    health = _health(_cluster(stock, sagging), FakeLan(stock, sagging))
    assert health["pi-2"].state is NodeState.UP
    assert [w.signature for w in health["pi-2"].warnings] == ["under-voltage"]
    assert "under-voltage now" in health["pi-2"].warnings[0].cause
    assert health["pi-1"].state is NodeState.UP and health["pi-1"].warnings == ()
    assert health["pi-2"].model == "Raspberry Pi 4 Model B Rev 1.1"  # as the node says, not the inventory


def test_a_node_whose_host_key_changed_is_unreachable_and_says_so_while_the_others_are_up() -> None:
    stock, reinstalled = FakeNode(STOCK, "10.0.0.11"), FakeNode(UNDER_VOLTAGE, "10.0.0.12")
    cluster = _cluster(stock, reinstalled, pins={"10.0.0.12": OTHER_KEY})
    health = _health(cluster, FakeLan(stock, reinstalled))
    assert health["pi-2"].state is NodeState.UNREACHABLE
    assert f"is not the pinned {OTHER_KEY}" in (health["pi-2"].error or "")
    assert health["pi-1"].state is NodeState.UP
    assert "health" not in reinstalled.sent  # nothing is sent to a node that is not the one pinned


def test_an_unreachable_node_is_marked_so_and_keeps_its_last_known_vitals() -> None:
    node = FakeNode(STOCK, "10.0.0.11")
    lan = FakeLan(node)
    with Poller(_cluster(node), timeout=2.0, transport=lan) as poller:
        first = poller.poll().nodes[0]
        node.reachable = False
        poller._slots[0].drop_connection()  # the cable is pulled: the open connection is gone
        second = poller.poll().nodes[0]
    assert first.state is NodeState.UP
    assert second.state is NodeState.UNREACHABLE and "no TCP connection" in (second.error or "")
    assert second.vitals == first.vitals


def test_the_second_poll_reuses_the_open_shell_and_gives_cpu_use_and_keeps_the_disks() -> None:
    node = FakeNode(STOCK, "10.0.0.11")
    lan = FakeLan(node)
    with Poller(_cluster(node), timeout=2.0, transport=lan) as poller:
        first = poller.poll().nodes[0]
        second = poller.poll().nodes[0]
    assert lan.connects == 1 and node.sent == ["health", "health"]
    assert first.vitals is not None and second.vitals is not None
    assert first.vitals.cpu_percent is None  # CPU use needs two samples (and this node has no monit)
    assert second.vitals.cpu_percent is not None and 0 <= second.vitals.cpu_percent <= 100
    assert first.vitals.disks and second.vitals.disks == first.vitals.disks  # df is read every tenth poll


# --- identification ----------------------------------------------------------------------------------------


def _candidate(address: str) -> Candidate:
    return Candidate(hostname="pdt-1", name="pdt-1", address=address)


def test_identifying_a_new_pi_learns_its_host_key_board_arch_and_cgroup() -> None:
    node = FakeNode(STOCK, "10.0.0.11")
    found = probe_candidate(_candidate(node.address), SshDefaults(), None, 3.0, transport=FakeLan(node))
    assert found.probed and found.is_pi and found.pi_evidence == "model"
    assert found.host_key == node.host_key
    assert found.model is not None and found.model.short == "3B+"
    assert (found.arch, found.memory_mb, found.memory_cgroup) == ("armv7", 1024, False)
    assert found.os == "Debian GNU/Linux 12 (bookworm)" and found.self_name == "pdt-1"


def test_identifying_a_node_whose_host_key_changed_is_a_conflict_not_a_probe() -> None:
    node = FakeNode(STOCK, "10.0.0.11")
    found = probe_candidate(_candidate(node.address), SshDefaults(), OTHER_KEY, 3.0, transport=FakeLan(node))
    assert not found.probed and found.host_key == node.host_key
    assert found.conflict is not None and "possible impostor" in found.conflict
    assert node.sent == []


def test_identifying_an_unreachable_host_names_why() -> None:
    node = FakeNode(STOCK, "10.0.0.11", reachable=False)
    found = probe_candidate(_candidate(node.address), SshDefaults(), None, 3.0, transport=FakeLan(node))
    assert not found.probed and "no TCP connection on port 22" in (found.probe_error or "")


# --- a deploy's reading of the nodes -----------------------------------------------------------------------


def test_a_stock_node_reads_as_fresh_with_sudo_the_cgroup_off_and_its_known_hosts_line() -> None:
    node = FakeNode(STOCK, "10.0.0.11")
    cluster = _cluster(node)
    [report] = nodes.read_states(cluster, list(cluster.nodes), 2.0, transport=FakeLan(node))
    assert report.error is None and report.state is None
    assert (report.sudo, report.memory_cgroup, report.monit_running) == ("nopasswd", False, False)
    assert report.prepared_mark is None and report.packages == frozenset() and report.stopped == frozenset()
    assert report.known_hosts is not None and report.known_hosts.startswith("10.0.0.11 ssh-ed25519 ")
    assert node.sent == ["node_state"]  # sudo needs no password: none is tried


@pytest.mark.parametrize("pin", [OTHER_KEY, None])
def test_a_node_whose_host_key_changed_or_was_never_pinned_gives_an_error_not_a_report(pin: str | None) -> None:
    node = FakeNode(STOCK, "10.0.0.11")
    cluster = Cluster(name="c", nodes=(Node(name="pi-1", address=node.address, host_key=pin),))
    [report] = nodes.read_states(cluster, list(cluster.nodes), 2.0, transport=FakeLan(node))
    assert report.error is not None and report.state is None
    assert ("is not the pinned" if pin else "no host key pinned") in report.error


def test_an_unreachable_node_is_an_error_in_its_report() -> None:
    node = FakeNode(STOCK, "10.0.0.11", reachable=False)
    cluster = _cluster(node)
    [report] = nodes.read_states(cluster, list(cluster.nodes), 2.0, transport=FakeLan(node))
    assert report.error is not None and "no TCP connection" in report.error
