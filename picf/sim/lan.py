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
import socket
import string
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from picf.atomic import write_atomic
from picf.hostkeys import fingerprint
from picf.models.sim import Image, SimLan, SimNode
from picf.sim import boot, export, faults, host, image, network, plan, power, repo, state, supervisor
from picf.sim.binfmt import ensure_arm_emulation
from picf.sim.host import SimError
from picf.sim.state import lan_dir, load, require

__all__ = ["START_SSHD", "lan_dir", "load", "require"]

START_SSHD = boot.START_SSHD
NODES_TMPFS_SIZE = "8g"
READY_TIMEOUT = 15.0

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


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
    progress: Progress = _quiet,
    images: list[Image] | None = None,
    user: str = "pi",
    password: str | None = None,
) -> UpReport:
    """Build (or grow, or repair) the LAN on `bridge` with `count` nodes; idempotent."""
    started_at = time.monotonic()
    host.require_root_and_linux()
    planned = plan.plan_lan(count, boards, bridge, subnet, list(images or ["bookworm"]))
    plan.validate_user(user)
    existing = load(bridge)
    if existing is not None and existing.subnet != subnet:
        raise SimError(
            f"the LAN on {bridge} uses subnet {existing.subnet}; pass --subnet {existing.subnet} or "
            f"`picf sim down --bridge {bridge}` first"
        )
    if existing is not None and existing.user != user:
        raise SimError(f"the LAN on {bridge} was imaged for user {existing.user!r}; `picf sim down` first")
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
    _wait_for_ssh(started)
    _wait_for_mdns(lan, started)
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
    deadline = time.monotonic() + READY_TIMEOUT
    while not _port_open(lan.bridge_address, 0.2, repo.PORT):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SimError(f"the LAN's supervisor did not start; see {lan.directory}/supervisor.log")
        time.sleep(0.02)


def _start_node(lan: SimLan, node: SimNode, public_key: str, publish_ssh: bool, progress: Progress) -> None:
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


def _wait_until(checks: Mapping[str, Callable[[], bool]], failure: str) -> None:
    """Poll every check until all pass; SimError naming the nodes still failing after READY_TIMEOUT."""
    deadline = time.monotonic() + READY_TIMEOUT
    pending = dict(checks)
    while pending and time.monotonic() < deadline:
        for name, check in list(pending.items()):
            if check():
                del pending[name]
        if pending:
            time.sleep(0.02)
    if pending:
        raise SimError(failure.format(nodes=", ".join(sorted(pending))))


def _wait_for_ssh(nodes: list[SimNode]) -> None:
    checks = {n.name: partial(_port_open, n.address, 0.2) for n in nodes}
    _wait_until(checks, "sshd did not start on {nodes}; see the node's /var/log/sshd.log")


def _avahi_ready(log: Path) -> bool:
    try:
        return "Server startup complete" in log.read_text(errors="replace")
    except OSError:
        return False


def _wait_for_mdns(lan: SimLan, nodes: list[SimNode]) -> None:
    """Wait until each node's avahi has claimed its host name (it probes the LAN first, as on a Pi)."""
    logs = {n.name: state.node_dir(lan, n) / "upper/var/log/avahi-daemon.log" for n in nodes}
    checks = {name: partial(_avahi_ready, log) for name, log in logs.items()}
    _wait_until(checks, "avahi-daemon did not come up on {nodes}; see its /var/log/avahi-daemon.log")


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


# --- status, faults, shell, inventory -----------------------------------------------------------------


@dataclass
class NodeStatus:
    """One node as `picf sim status` reports it."""

    name: str
    address: str
    board: str
    arch: str
    image: str
    running: bool
    powered: bool
    boots: int
    link_up: bool
    ssh_up: bool
    temp_c: float | None
    throttled: str | None
    faults: list[str]


def _firmware(lan: SimLan, node: SimNode) -> faults.Firmware | None:
    directory = state.node_dir(lan, node) / "state"
    try:
        temp = int((directory / "thermal/thermal_zone0/temp").read_text())
        throttled = faults.parse_throttled((directory / "throttled").read_text())
    except (OSError, ValueError):
        return None
    return faults.Firmware(temp, throttled)


def _port_open(address: str, timeout: float = 0.3, port: int = 22) -> bool:
    """True when something accepts a TCP connection on `address:port` (the node's sshd by default)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def status(bridge: str = plan.DEFAULT_BRIDGE) -> list[NodeStatus]:
    """Every node of the LAN: running, power, link, SSH, temperature and throttle bits, active faults."""
    lan = require(bridge)
    out = []
    for node in lan.nodes:
        running = boot.running(node)
        link_up = host.link_is_up(node.veth)
        firmware = _firmware(lan, node)
        out.append(
            NodeStatus(
                name=node.name,
                address=node.address,
                board=node.board,
                arch=node.arch,
                image=node.image,
                running=running,
                powered=node.powered,
                boots=node.boots,
                link_up=link_up,
                ssh_up=running and link_up and _port_open(node.address),
                temp_c=firmware.temp_milli_c / 1000 if firmware else None,
                throttled=f"{firmware.throttled:#x}" if firmware else None,
                faults=list(node.faults),
            )
        )
    return out


def fault(bridge: str, name: str, kind: str) -> str:
    """Inject (or undo) a fault on node `name`; return a one-line description of what changed."""
    host.require_root_and_linux()
    lan = require(bridge)
    node = lan.node(name)
    if node is None:
        raise SimError(f"no node {name!r} on {bridge} (nodes: {', '.join(n.name for n in lan.nodes)})")
    if kind not in faults.KINDS:
        raise SimError(f"unknown fault {kind!r}; kinds: {', '.join(faults.KINDS)}")
    if kind in faults.FIRMWARE_FAULTS:
        current = _firmware(lan, node) or faults.Firmware(image.NORMAL_TEMP_MILLI_C, 0)
        new = faults.apply_firmware_fault(current, kind)
        directory = state.node_dir(lan, node) / "state"
        write_atomic(directory / "thermal/thermal_zone0/temp", f"{new.temp_milli_c}\n".encode(), backup=False)
        write_atomic(directory / "throttled", f"{new.throttled:#x}\n".encode(), backup=False)
        what = f"temp {new.temp_milli_c / 1000:.1f} C, throttled={new.throttled:#x}"
    elif kind in faults.LINK_FAULTS:
        host.run(["ip", "link", "set", node.veth, "down" if kind == "link-down" else "up"])
        what = f"cable {'unplugged' if kind == 'link-down' else 'plugged in'} ({node.veth})"
    elif kind in faults.POWER_FAULTS:
        if kind == "power-off":
            power.stop(bridge, name)
            what = "power off (every process ended; the disk stays)"
        elif kind == "power-on":
            booted = power.start(bridge, name)
            _wait_for_ssh([booted])
            what = f"power on (boot {booted.boots})"
        else:
            booted = power.cycle(bridge, name)
            _wait_for_ssh([booted])
            what = f"power cut and back (boot {booted.boots})"
    else:
        if not boot.running(node) or not node.keeper_pid:
            raise SimError(f"{name} is not running; `picf sim up` restarts it")
        if kind == "stop-ssh":
            host.in_node(node.keeper_pid, "kill $(cat /run/sshd.pid) 2>/dev/null; rm -f /run/sshd.pid")
            what = "sshd stopped"
        else:
            host.in_node(node.keeper_pid, f"[ -s /run/sshd.pid ] || {START_SSHD}")
            _wait_for_ssh([node])
            what = "sshd running"
    with state.changing(bridge) as now:
        changed = now.node(name)
        if changed is not None:
            changed.faults = faults.active_after(changed.faults, kind)
    return f"{name}: {kind}: {what}"


def shell_argv(bridge: str, name: str) -> list[str]:
    """argv that opens a root shell on node `name`, as its console would."""
    host.require_root_and_linux()
    lan = require(bridge)
    node = lan.node(name)
    if node is None or not node.keeper_pid or not boot.running(node):
        raise SimError(f"node {name!r} is not running on {bridge}; see `picf sim status`")
    return host.shell_argv(node.keeper_pid)


def inventory_text(bridge: str = plan.DEFAULT_BRIDGE) -> str:
    """A valid inventory for the running LAN, host keys pinned, as the LAN's first user."""
    return export.inventory_yaml(require(bridge))
