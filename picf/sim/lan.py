"""Build, inspect, break and remove a simulated Pi LAN on this machine: the verbs of `picf sim`.

Each node is a network namespace on a bridge (`network.py`) with a disk imaged like a stock Raspberry Pi OS
(`image.py`), booted into its own namespaces with a real sshd and a real avahi-daemon (`boot.py`), powered
on and off (`power.py`); a supervisor per LAN serves its package source and carries out its reboots
(`supervisor.py`). Nothing in picf's other code paths knows a node is simulated: it is reached by mDNS and
SSH like a Pi, as its first user with sudo.
"""

from __future__ import annotations

import secrets
import shutil
import string
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from picf.atomic import write_atomic
from picf.hostkeys import fingerprint
from picf.models.sim import Image, SimLan, SimNode
from picf.progress import Say, quiet
from picf.sim import boot, host, image, inject, inspect, network, plan, power, ready, repo, state, supervisor
from picf.sim.binfmt import ensure_arm_emulation
from picf.sim.host import SimError
from picf.sim.state import lan_dir, load, require

__all__ = ["START_SSHD", "lan_dir", "load", "require"]

START_SSHD = boot.START_SSHD
NODES_TMPFS_SIZE = "8g"


def _password() -> str:
    """An imaging password, as a person would choose at Imager (letters and digits, 16 of them)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(16))


@dataclass
class UpReport:
    """What `up` did: the LAN, and which nodes it started or found running."""

    lan: SimLan
    started: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    registered_binfmt: list[str] = field(default_factory=list)
    seconds: float = 0.0


def up(
    count: int,
    boards: list[str],
    bridge: str = plan.DEFAULT_BRIDGE,
    subnet: str = plan.DEFAULT_SUBNET,
    publish_ssh: bool = False,
    progress: Say = quiet,
    images: list[Image] | None = None,
    user: str = "pi",
    password: str | None = None,
    hostname_prefix: str = "pi",
) -> UpReport:
    """Build (or grow, or repair) the LAN on `bridge` with `count` nodes; idempotent."""
    started_at = time.monotonic()
    host.require_root_and_linux()
    planned = plan.plan_lan(count, boards, bridge, subnet, list(images or ["bookworm"]), hostname_prefix)
    plan.validate_user(user)
    existing = load(bridge)
    if existing is not None and existing.subnet != subnet:
        raise SimError(
            f"the LAN on {bridge} uses subnet {existing.subnet}; pass --subnet {existing.subnet} or "
            f"`picf sim down --bridge {bridge}` first"
        )
    if existing is not None and existing.user != user:
        raise SimError(f"the LAN on {bridge} was imaged for user {existing.user!r}; `picf sim down` first")
    if existing is not None and existing.nodes and existing.hostname_prefix != hostname_prefix:
        raise SimError(
            f"the LAN on {bridge} names its nodes {existing.hostname_prefix}-N; pass --hostname-prefix "
            f"{existing.hostname_prefix} or `picf sim down --bridge {bridge}` first"
        )
    registered = ensure_arm_emulation()
    debs = repo.ensure_debs()
    directory = lan_dir(bridge)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    nodes_dir = directory / "nodes"
    nodes_dir.mkdir(exist_ok=True)
    if str(nodes_dir) not in host.mounts_below(nodes_dir):
        host.run(["mount", "-t", "tmpfs", "-o", f"mode=755,size={NODES_TMPFS_SIZE}", "picf-sim", str(nodes_dir)])
    key = directory / "id_ed25519"
    if not key.exists():
        host.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"picf-sim-controller@{bridge}", "-f", str(key)])
    net = plan.parse_subnet(subnet)
    address = plan.bridge_address(net)
    lan = existing or SimLan(
        bridge=bridge,
        subnet=subnet,
        bridge_address=address,
        directory=str(directory),
        controller_key=str(key),
        known_hosts=str(directory / "known_hosts"),
        user=user,
        password=password or _password(),
        repo_url=f"http://{address}:{repo.PORT}/",
        hostname_prefix=hostname_prefix,
    )
    repo.build(directory / "repo", debs)
    network.ensure_bridge(lan)
    report = UpReport(lan=lan, registered_binfmt=registered)
    by_name = {n.name: n for n in lan.nodes}
    todo: list[SimNode] = []
    for wanted in planned:
        current = by_name.get(wanted.name)
        if current is not None and boot.running(current):
            report.running.append(current.name)
            continue
        todo.append(current or wanted)
    # Record the nodes before starting them, so `down` finds a half-built LAN.
    lan.nodes = _merged(lan.nodes, todo)
    state.save(lan)
    _ensure_supervisor(lan)
    public_key = Path(f"{key}.pub").read_text()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(_start_node, lan, n, public_key, publish_ssh, progress) for n in todo]
    failed = [f.exception() for f in futures if f.exception() is not None]
    if failed:
        raise SimError(f"{len(failed)} node(s) did not start; first: {failed[0]} (`picf sim up` again retries them)")
    lan = require(bridge)
    started = [n for n in lan.nodes if n.name in {t.name for t in todo}]
    ready.wait_for_ssh(started)
    ready.wait_for_mdns(lan, started)
    _write_known_hosts(lan)
    report.lan = lan
    report.started = [n.name for n in started]
    report.seconds = time.monotonic() - started_at
    return report


def _merged(nodes: list[SimNode], updates: list[SimNode]) -> list[SimNode]:
    """`nodes` with `updates` replacing (or adding) the nodes of the same name, in index order."""
    by_name = {n.name: n for n in nodes} | {n.name: n for n in updates}
    return sorted(by_name.values(), key=lambda n: n.index)


def _ensure_supervisor(lan: SimLan) -> None:
    if supervisor.is_supervisor(lan.supervisor_pid, lan.bridge):
        return
    log = open(Path(lan.directory) / "supervisor.log", "ab")  # noqa: SIM115  # the daemon's own
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "picf.sim.supervisor", lan.bridge],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()
    with state.changing(lan.bridge) as current:
        current.supervisor_pid = process.pid
    lan.supervisor_pid = process.pid
    deadline = time.monotonic() + ready.READY_TIMEOUT
    while not ready.port_open(lan.bridge_address, 0.2, repo.PORT):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SimError(f"the LAN's supervisor did not start; see {lan.directory}/supervisor.log")
        time.sleep(0.02)


def _start_node(lan: SimLan, node: SimNode, public_key: str, publish_ssh: bool, progress: Say) -> None:
    progress(f"starting {node.name} ({node.board}, {node.arch}, {node.image}) at {node.address}")
    directory = state.node_dir(lan, node)
    network.cable(lan, node)
    image.image(directory, lan, node, public_key, publish_ssh)
    host_key = directory / "upper/etc/ssh/ssh_host_ed25519_key"
    if not host_key.exists():
        host.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{node.name}", "-f", str(host_key)])
    seen = fingerprint(Path(f"{host_key}.pub").read_text())
    if node.host_key != seen or node.faults:
        state.update_node(lan.bridge, node.model_copy(update={"host_key": seen, "faults": []}))
    power.start(lan.bridge, node.name)


def _write_known_hosts(lan: SimLan) -> None:
    lines = []
    for node in lan.nodes:
        pub = state.node_dir(lan, node) / "upper/etc/ssh/ssh_host_ed25519_key.pub"
        if pub.exists():
            key_type, blob = pub.read_text().split()[:2]
            lines.append(f"{node.address},{node.name}.local {key_type} {blob}\n")
    write_atomic(Path(lan.known_hosts), "".join(lines).encode(), mode=0o600, backup=False)


@dataclass
class DownReport:
    """What `down` removed."""

    namespaces: list[str] = field(default_factory=list)
    bridge_removed: bool = False
    unmounted: list[str] = field(default_factory=list)
    seconds: float = 0.0


def down(bridge: str = plan.DEFAULT_BRIDGE) -> DownReport:
    """Remove every namespace, cable, process, mount and file of the LAN on `bridge`, even a half-built one."""
    started_at = time.monotonic()
    host.require_root_and_linux()
    plan.validate_bridge(bridge)
    report = DownReport()
    try:
        lan = load(bridge)
    except SimError:
        lan = None
    if lan is not None and supervisor.is_supervisor(lan.supervisor_pid, bridge):
        host.kill(lan.supervisor_pid or 0)  # first: it must not reboot nodes while they go
    for node in lan.nodes if lan else []:
        if node.keeper_pid and host.pid_alive(node.keeper_pid) and _is_our_keeper(node.keeper_pid, node):
            host.kill(node.keeper_pid)
    report.namespaces, report.bridge_removed = network.remove_all(bridge)
    directory = lan_dir(bridge)
    for point in host.mounts_below(directory):
        host.run(["umount", "-l", point], check=False)
        report.unmounted.append(point)
    shutil.rmtree(directory, ignore_errors=True)
    report.seconds = time.monotonic() - started_at
    return report


def _is_our_keeper(pid: int, node: SimNode) -> bool:
    """Guard against a recycled pid: the keeper's root is inside the node's directory."""
    try:
        return Path(f"/proc/{pid}/root").readlink().as_posix().endswith(f"/nodes/{node.name}/root")
    except OSError:
        return False


# The other verbs of `picf sim`, each in the module of its concept.
fault = inject.fault
status = inspect.status
shell_argv = inspect.shell_argv
inventory_text = inspect.inventory_text
NodeStatus = inspect.NodeStatus
