"""`picf discover` against the simulated LAN: real multicast on the bridge, real SSH probes."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from picf import inventory as inv
from picf.models.sim import SimLan
from picf.sim import image
from picf.sim import lan as simlan
from tests.integration import stalls
from tests.integration.conftest import TEST_BRIDGE, SshRunner

pytestmark = pytest.mark.integration


def discover(picf_bin: Path, lan: SimLan, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    argv = [str(picf_bin), "discover", "--interface", lan.bridge, "--user", "pi", "--key", lan.controller_key, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def found(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert "Traceback" not in result.stderr, result.stderr
    return {c["hostname"]: c for c in json.loads(result.stdout)["candidates"]}


def in_node(lan: SimLan, name: str, command: str) -> str:
    return stalls.in_node(lan, name, command)


def test_finds_every_pi_with_model_arch_memory_and_host_key(sim_lan: SimLan, picf_bin: Path) -> None:
    result = discover(picf_bin, sim_lan, "--json")
    assert result.returncode == 0, result.stderr
    candidates = found(result)
    for node in sim_lan.nodes:
        c = candidates[node.name]
        assert c["address"] == node.address
        assert c["mac"] == node.mac
        assert c["is_pi"] and c["pi_evidence"] == "mac+model"
        assert c["arch"] == node.arch
        assert c["memory_mb"] == node.memory_mb
        assert c["host_key"] == node.host_key
        assert c["model"]["revision_code"] == node.revision_code


def test_write_creates_a_valid_inventory_and_a_second_run_changes_nothing(
    sim_lan: SimLan, picf_bin: Path, tmp_path: Path
) -> None:
    target = tmp_path / "cluster.yml"
    first = discover(picf_bin, sim_lan, f"--write={target}", "--yes")
    assert first.returncode == 0, first.stderr
    cluster = inv.read_inventory(target).cluster
    assert {n.name: (n.host_key, n.arch, n.memory_mb) for n in cluster.nodes} == {
        n.name: (n.host_key, n.arch, n.memory_mb) for n in sim_lan.nodes
    }
    assert cluster.ssh.private_key == sim_lan.controller_key
    before = target.read_bytes()
    second = discover(picf_bin, sim_lan, f"--write={target}", "--yes")
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stderr
    assert target.read_bytes() == before


def test_write_without_yes_and_without_a_terminal_refuses(sim_lan: SimLan, picf_bin: Path, tmp_path: Path) -> None:
    target = tmp_path / "cluster.yml"
    result = discover(picf_bin, sim_lan, f"--write={target}")
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert not target.exists()


def test_an_address_change_is_updated_and_comments_survive(sim_lan: SimLan, picf_bin: Path, tmp_path: Path) -> None:
    target = tmp_path / "cluster.yml"
    assert discover(picf_bin, sim_lan, f"--write={target}", "--yes").returncode == 0
    node = sim_lan.nodes[0]
    text = target.read_text().replace(f"address: {node.address}", "address: 10.231.9.250  # old DHCP lease")
    target.write_text("# my cluster, my comments\n" + text)
    result = discover(picf_bin, sim_lan, f"--write={target}", "--yes")
    assert result.returncode == 0, result.stderr
    after = target.read_text()
    assert after.startswith("# my cluster, my comments\n")
    assert f"address: {node.address}" in after and "10.231.9.250" not in after


@pytest.fixture
def replaced_host_key(sim_lan: SimLan) -> Iterator[str]:
    """pi-3 gets a new host key (a reinstall, or an impostor); the old one is back afterwards."""
    key = "/etc/ssh/ssh_host_ed25519_key"
    restart = f"{stalls.STOP_SSHD}; {simlan.START_SSHD}"
    in_node(sim_lan, "pi-3", f"cp {key} /root/k && cp {key}.pub /root/k.pub && rm {key} {key}.pub && "
                             f"ssh-keygen -q -t ed25519 -N '' -f {key} && {restart}")  # fmt: skip
    try:
        yield "pi-3"
    finally:
        in_node(sim_lan, "pi-3", f"mv /root/k {key} && mv /root/k.pub {key}.pub && {restart}")


def test_a_node_presenting_a_new_host_key_is_a_conflict_never_written(
    sim_lan: SimLan, picf_bin: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    target = tmp_path / "cluster.yml"
    assert discover(picf_bin, sim_lan, f"--write={target}", "--yes").returncode == 0
    before = target.read_bytes()
    request.getfixturevalue("replaced_host_key")
    result = discover(picf_bin, sim_lan, f"--write={target}", "--yes", "--json")
    assert result.returncode == 1
    assert "conflict: pi-3" in result.stderr and "possible impostor" in result.stderr
    actions = {a["hostname"]: a["outcome"] for a in json.loads(result.stdout)["actions"]}
    assert actions == {"pi-1": "unchanged", "pi-2": "unchanged", "pi-3": "conflict"}
    assert target.read_bytes() == before


def test_a_node_with_its_cable_out_is_missing_and_the_rest_are_found(sim_lan: SimLan, picf_bin: Path) -> None:
    simlan.fault(TEST_BRIDGE, "pi-2", "link-down")
    try:
        result = discover(picf_bin, sim_lan, "--json")
    finally:
        simlan.fault(TEST_BRIDGE, "pi-2", "link-up")
    assert result.returncode == 0
    assert sorted(found(result)) == ["pi-1", "pi-3"]


def test_a_host_that_refuses_ssh_or_our_key_is_listed_with_the_reason(
    sim_lan: SimLan, picf_bin: Path, on_node: SshRunner, tmp_path: Path
) -> None:
    target = tmp_path / "cluster.yml"
    on_node("pi-1", "mv /home/pi/.ssh/authorized_keys /home/pi/.ssh/keys.off")
    simlan.fault(TEST_BRIDGE, "pi-2", "stop-ssh")
    try:
        result = discover(picf_bin, sim_lan, f"--write={target}", "--yes", "--json")
    finally:
        simlan.fault(TEST_BRIDGE, "pi-2", "start-ssh")
        in_node(sim_lan, "pi-1", "mv /home/pi/.ssh/keys.off /home/pi/.ssh/authorized_keys")
    assert result.returncode == 0, result.stderr
    candidates = found(result)
    assert "not accepted" in candidates["pi-1"]["probe_error"]
    assert "refused" in candidates["pi-2"]["probe_error"]
    assert candidates["pi-3"]["probed"]
    assert [n.name for n in inv.read_inventory(target).cluster.nodes] == ["pi-3"]


def _restart_avahi(lan: SimLan, node: str, hostname: str) -> None:
    config = image.AVAHI_CONFIG
    in_node(lan, node, f"sed -i 's/^host-name=.*/host-name={hostname}/' {config} && avahi-daemon -k; sleep 0.3; "
                       f"avahi-daemon --no-drop-root --no-chroot --no-rlimits -f {config} "
                       "</dev/null >/var/log/avahi-daemon.log 2>&1 &")  # fmt: skip
    deadline = time.monotonic() + 15
    while "Server startup complete" not in in_node(lan, node, "cat /var/log/avahi-daemon.log"):
        assert time.monotonic() < deadline, f"avahi on {node} did not come back"
        time.sleep(0.2)


def test_avahi_renames_a_duplicate_host_name_and_both_are_found(sim_lan: SimLan, picf_bin: Path) -> None:
    # Two fresh Pis both called raspberrypi: avahi on the second renames it raspberrypi-2, as on a real LAN.
    _restart_avahi(sim_lan, "pi-2", "raspberrypi")
    _restart_avahi(sim_lan, "pi-3", "raspberrypi")
    try:
        result = discover(picf_bin, sim_lan, "--json")
    finally:
        _restart_avahi(sim_lan, "pi-2", "pi-2")
        _restart_avahi(sim_lan, "pi-3", "pi-3")
    candidates = found(result)
    assert {"raspberrypi", "raspberrypi-2"} <= set(candidates), sorted(candidates)
    assert candidates["raspberrypi"]["host_key"] == sim_lan.nodes[1].host_key
    assert candidates["raspberrypi-2"]["host_key"] == sim_lan.nodes[2].host_key
    names = {a["hostname"]: a["node"] for a in json.loads(result.stdout)["actions"]}
    assert names["raspberrypi"] == "raspberrypi" and names["raspberrypi-2"] == "raspberrypi-2"


HOSTILE_SENDER = r"""
import socket, struct, sys, time

def name(*labels):
    out = b""
    for label in labels:
        out += bytes([len(label)]) + label
    return out + b"\0"

def rr(owner, rtype, rdata, ttl=120):
    return owner + struct.pack("!HHIH", rtype, 0x8001, ttl, len(rdata)) + rdata

service = (b"_workstation", b"_tcp", b"local")
evil = [
    (b"\xff\xfe\xfd bad utf8 [b8:27:eb:00:00:66]", b"\xff\xfehost"),
    (b"A" * 63, b"B" * 63),
    (b"pi-x\n  roles: [cell]\n#", b"pi-x\n  roles: [cell]"),
    (b'"; rm -rf / #', b"$(reboot)"),
]
answers = []
for instance, host in evil:
    target = name(host, b"local")
    answers.append(rr(name(*service), 12, name(instance, *service)))
    answers.append(rr(name(instance, *service), 33, struct.pack("!HHH", 0, 0, 9) + target))
    answers.append(rr(name(instance, *service), 16, b"\x05k=\xff\x00v" + b"\xff" * 40))
    answers.append(rr(target, 1, socket.inet_aton("10.231.9.77")))
packet = struct.pack("!HHHHHH", 0, 0x8400, 0, len(answers), 0, 0) + b"".join(answers)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))  # no default route
end = time.time() + 6
while time.time() < end:
    sock.sendto(packet, ("224.0.0.251", 5353))
    sock.sendto(b"\x00" * 12 + b"\xff" * 50, ("224.0.0.251", 5353))  # garbage
    open("/root/hostile-started", "w").close()
    time.sleep(0.2)
"""


def test_hostile_mdns_answers_neither_crash_discovery_nor_reach_the_inventory(
    sim_lan: SimLan, picf_bin: Path, on_node: SshRunner, copy_to_node: Any, tmp_path: Path
) -> None:
    script = tmp_path / "hostile.py"
    script.write_text(HOSTILE_SENDER)
    copy_to_node("pi-3", script, "/tmp/hostile.py")
    sender = threading.Thread(target=on_node, args=("pi-3", f"python3 /tmp/hostile.py {sim_lan.nodes[2].address}"))
    started = stalls.upper(sim_lan, "pi-3", "/root/hostile-started")
    started.unlink(missing_ok=True)
    sender.start()
    stalls.wait_until(started.exists, 30, "the hostile sender's first answer")
    target = tmp_path / "cluster.yml"
    try:
        result = discover(picf_bin, sim_lan, f"--write={target}", "--yes", "--all", "--no-probe", "--json")
    finally:
        sender.join()
    assert result.returncode == 0, result.stderr
    candidates = json.loads(result.stdout)["candidates"]
    assert len(candidates) > 3, "the hostile answers were not even seen"
    for c in candidates:
        assert c["hostname"].isprintable() and len(c["hostname"]) <= 63
        assert c["name"] is None or all(ch.isalnum() or ch == "-" for ch in c["name"])
    cluster = inv.read_inventory(target).cluster
    assert all(node.roles == () for node in cluster.nodes)
    assert "reboot" not in target.read_text() and "rm -rf" not in target.read_text()
    assert {n.name for n in cluster.nodes} >= {"pi-1", "pi-2", "pi-3"}


def test_zero_answers_exit_3_and_an_unknown_interface_exits_2(sim_lan: SimLan, picf_bin: Path) -> None:
    none = subprocess.run([str(picf_bin), "discover", "-I", "lo", "--settle", "0.5", "--no-probe"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert none.returncode == 3
    assert "no answers" in none.stderr
    bad = subprocess.run([str(picf_bin), "discover", "-I", "nosuch0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "no network interface 'nosuch0'" in bad.stderr
    assert "Traceback" not in none.stderr + bad.stderr


@pytest.mark.alone  # resolves pi-3.local: another LAN up at the same time answers for it too
def test_a_node_added_by_its_local_name_is_pinned_after_showing_its_fingerprint(
    sim_lan: SimLan, picf_bin: Path, tmp_path: Path
) -> None:
    # What a person does for a Pi mDNS browsing cannot list (the first Bookworm images publish no service).
    target = tmp_path / "cluster.yml"
    target.write_text(inv.new_inventory_text("pins", {"user": sim_lan.user, "private_key": sim_lan.controller_key}))
    run = [str(picf_bin), "inventory"]
    added = subprocess.run([*run, "add", "pi-3", "--address", "pi-3.local", "-i", str(target)], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert added.returncode == 0, added.stderr
    asked = subprocess.run([*run, "pin", "pi-3", "-i", str(target)], capture_output=True, text=True, timeout=60)
    assert asked.returncode == 2 and "--yes" in asked.stderr  # no terminal to ask at: nothing written
    assert sim_lan.nodes[2].host_key in asked.stderr  # the fingerprint was shown to compare
    assert "host_key" not in target.read_text()
    pinned = subprocess.run([*run, "pin", "pi-3", "--yes", "--json", "-i", str(target)], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert pinned.returncode == 0, pinned.stderr
    assert json.loads(pinned.stdout)["written"] is True
    assert inv.read_inventory(target).cluster.nodes[0].host_key == sim_lan.nodes[2].host_key
    again = subprocess.run([*run, "pin", "pi-3", "--yes", "-i", str(target)], capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    assert again.returncode == 0 and "pinned already" in again.stderr
    impostor = target.read_text().replace(str(sim_lan.nodes[2].host_key), str(sim_lan.nodes[0].host_key))
    target.write_text(impostor)
    refused = subprocess.run([*run, "pin", "pi-3", "--yes", "-i", str(target)], capture_output=True, text=True,
                             timeout=60)  # fmt: skip
    assert refused.returncode == 1 and "possible impostor" in refused.stderr
    assert target.read_text() == impostor
