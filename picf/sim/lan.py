"""Build, inspect, break and remove a simulated Pi LAN on this machine.

Each node is a network namespace on a bridge, with its own UTS, mount and PID namespaces, an overlay of the
host's `/` as its root, a real sshd and a real avahi-daemon. Nothing in picf's other code paths knows a node
is simulated: it is reached by mDNS and SSH like a Pi.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from picf.atomic import write_atomic
from picf.hostkeys import fingerprint
from picf.models.pi import memory_cgroup_enabled
from picf.models.sim import SimLan, SimNode
from picf.sim import export, faults, host, nodefs, plan
from picf.sim.binfmt import ensure_arm_emulation
from picf.sim.host import SimError

SIM_ROOT = Path(os.environ.get("PICF_SIM_ROOT", "/run/picf-sim"))
NODES_TMPFS_SIZE = "8g"
READY_TIMEOUT = 15.0

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def lan_dir(bridge: str) -> Path:
    """Where a LAN keeps its state, controller key and node directories."""
    return SIM_ROOT / bridge


def _state_path(bridge: str) -> Path:
    return lan_dir(bridge) / "state.json"


def load(bridge: str) -> SimLan | None:
    """The recorded state of the LAN on `bridge`, or None when there is none."""
    path = _state_path(bridge)
    try:
        return SimLan.model_validate_json(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise SimError(f"{path}: unreadable simulator state ({exc}); run `picf sim down --bridge {bridge}`") from None


def require(bridge: str) -> SimLan:
    """The running LAN on `bridge`; a clear error when there is none."""
    lan = load(bridge)
    if lan is None:
        raise SimError(f"no simulated LAN on bridge {bridge!r}; start one with `picf sim up`")
    return lan


def _save(lan: SimLan) -> None:
    write_atomic(_state_path(lan.bridge), lan.model_dump_json(indent=2).encode(), mode=0o600, backup=False)


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
) -> UpReport:
    """Build (or grow, or repair) the LAN on `bridge` with `count` nodes; idempotent."""
    started_at = time.monotonic()
    host.require_root_and_linux()
    planned = plan.plan_lan(count, boards, bridge, subnet)
    existing = load(bridge)
    if existing is not None and existing.subnet != subnet:
        raise SimError(
            f"the LAN on {bridge} uses subnet {existing.subnet}; pass --subnet {existing.subnet} or "
            f"`picf sim down --bridge {bridge}` first"
        )
    registered = ensure_arm_emulation()
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
    lan = existing or SimLan(
        bridge=bridge,
        subnet=subnet,
        bridge_address=plan.bridge_address(net),
        directory=str(directory),
        controller_key=str(key),
        known_hosts=str(directory / "known_hosts"),
    )
    _ensure_bridge(lan)
    report = UpReport(lan=lan, registered_binfmt=registered)
    by_name = {n.name: n for n in lan.nodes}
    todo: list[SimNode] = []
    for wanted in planned:
        current = by_name.get(wanted.name)
        if current is not None and _node_alive(current):
            report.running.append(current.name)
            continue
        todo.append(current or wanted)
    # Record the nodes before starting them, so `down` finds a half-built LAN.
    lan.nodes = _merged(lan.nodes, todo)
    _save(lan)
    public_key = Path(f"{key}.pub").read_text()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(_start_node, lan, n, public_key, publish_ssh, progress) for n in todo]
    started = [f.result() for f in futures if f.exception() is None]
    lan.nodes = _merged(lan.nodes, started)
    _save(lan)
    failed = [f.exception() for f in futures if f.exception() is not None]
    if failed:
        raise SimError(f"{len(failed)} node(s) did not start; first: {failed[0]} (`picf sim up` again retries them)")
    _wait_for_ssh(started)
    _wait_for_mdns(lan, started)
    _write_known_hosts(lan)
    report.started = [n.name for n in started]
    report.seconds = time.monotonic() - started_at
    return report


def _merged(nodes: list[SimNode], updates: list[SimNode]) -> list[SimNode]:
    """`nodes` with `updates` replacing (or adding) the nodes of the same name, in index order."""
    by_name = {n.name: n for n in nodes} | {n.name: n for n in updates}
    return sorted(by_name.values(), key=lambda n: n.index)


def _ensure_bridge(lan: SimLan) -> None:
    prefix = plan.parse_subnet(lan.subnet).prefixlen
    if not host.link_exists(lan.bridge):
        host.run(["ip", "link", "add", lan.bridge, "type", "bridge", "mcast_snooping", "0"])
    addresses = host.run(["ip", "-o", "-4", "addr", "show", "dev", lan.bridge])
    if f" {lan.bridge_address}/" not in addresses:
        host.run(["ip", "addr", "add", f"{lan.bridge_address}/{prefix}", "dev", lan.bridge])
    host.run(["ip", "link", "set", lan.bridge, "up"])


def _node_alive(node: SimNode) -> bool:
    return host.pid_alive(node.keeper_pid) and node.netns in host.netns_list()


def _node_dir(lan: SimLan, node: SimNode) -> Path:
    return Path(lan.directory) / "nodes" / node.name


def _start_node(lan: SimLan, node: SimNode, public_key: str, publish_ssh: bool, progress: Progress) -> SimNode:
    progress(f"starting {node.name} ({node.board}, {node.arch}) at {node.address}")
    _remove_node(lan, node)
    node_dir = _node_dir(lan, node)
    init = nodefs.prepare(node_dir, node, public_key, publish_ssh)
    host_key = node_dir / "upper/etc/ssh/ssh_host_ed25519_key"
    if not host_key.exists():
        host.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{node.name}", "-f", str(host_key)])
    node = node.model_copy(update={"host_key": fingerprint(Path(f"{host_key}.pub").read_text()), "faults": []})
    prefix = plan.parse_subnet(lan.subnet).prefixlen
    host.run(["ip", "netns", "add", node.netns])
    host.run(["ip", "link", "add", node.veth, "type", "veth", "peer", "name", "eth0", "netns", node.netns])
    host.run(["ip", "link", "set", node.veth, "master", lan.bridge, "up"])
    ns = ["ip", "-n", node.netns]
    host.run([*ns, "link", "set", "eth0", "address", node.mac])
    host.run([*ns, "addr", "add", f"{node.address}/{prefix}", "dev", "eth0"])
    host.run([*ns, "link", "set", "eth0", "up"])
    host.run([*ns, "link", "set", "lo", "up"])
    # The node's root is root only in its own user namespace; let it bind port 22 in its network namespace.
    host.run(["ip", "netns", "exec", node.netns, "sysctl", "-q", "-w", "net.ipv4.ip_unprivileged_port_start=0"])
    log = open(node_dir / "boot.log", "wb")  # noqa: SIM115  # handed to the node's boot process
    try:
        boot = subprocess.Popen(
            ["ip", "netns", "exec", node.netns, "unshare", "--mount", "--propagation", "private", "/bin/sh", str(init)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()
    _map_node_users(node_dir, boot)
    keeper = _wait_for_boot(node_dir, boot)
    node = node.model_copy(update={"keeper_pid": keeper})
    host.in_node(keeper, _start_services_command())
    return node


START_SSHD = f"/usr/sbin/sshd -f {nodefs.SSHD_CONFIG} -E /var/log/sshd.log"


def _start_services_command() -> str:
    return (
        f"avahi-daemon --no-drop-root --no-chroot --no-rlimits -f {nodefs.AVAHI_CONFIG} "
        f"</dev/null >/var/log/avahi-daemon.log 2>&1 & {START_SSHD}"
    )


def _map_node_users(node_dir: Path, boot: subprocess.Popen[bytes]) -> None:
    """Identity-map every uid and gid into the node's user namespace once stage 2 has created it.

    Root in the node is then root for its own files, but its capabilities end at its namespaces."""
    own = os.readlink("/proc/self/ns/user")
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if boot.poll() is not None:
            break
        try:
            if os.readlink(f"/proc/{boot.pid}/ns/user") != own:
                Path(f"/proc/{boot.pid}/uid_map").write_text("0 0 4294967295\n")
                Path(f"/proc/{boot.pid}/gid_map").write_text("0 0 4294967295\n")
                return
        except OSError:
            pass
        time.sleep(0.005)
    tail = (node_dir / "boot.log").read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
    raise SimError(f"node {node_dir.name} failed to boot: {tail[0]} (log: {node_dir}/boot.log)")


def _wait_for_boot(node_dir: Path, boot: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if boot.poll() is not None:
            tail = (node_dir / "boot.log").read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise SimError(f"node {node_dir.name} failed to boot: {tail[0]} (log: {node_dir}/boot.log)")
        children = host.children_of(boot.pid)
        if (node_dir / "state/ready").exists() and children:
            return children[0]
        time.sleep(0.01)
    raise SimError(f"node {node_dir.name} did not boot in {READY_TIMEOUT:.0f} s (log: {node_dir}/boot.log)")


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
    logs = {n.name: _node_dir(lan, n) / "upper/var/log/avahi-daemon.log" for n in nodes}
    checks = {name: partial(_avahi_ready, log) for name, log in logs.items()}
    _wait_until(checks, "avahi-daemon did not come up on {nodes}; see its /var/log/avahi-daemon.log")


def _write_known_hosts(lan: SimLan) -> None:
    lines = []
    for node in lan.nodes:
        pub = _node_dir(lan, node) / "upper/etc/ssh/ssh_host_ed25519_key.pub"
        if pub.exists():
            key_type, blob = pub.read_text().split()[:2]
            lines.append(f"{node.address},{node.name}.local {key_type} {blob}\n")
    write_atomic(Path(lan.known_hosts), "".join(lines).encode(), mode=0o600, backup=False)


def _remove_node(lan: SimLan, node: SimNode) -> None:
    """Kill a node's processes and delete its namespace and cable; tolerate a half-built node."""
    if node.keeper_pid and host.pid_alive(node.keeper_pid):
        _kill(node.keeper_pid)
    if node.netns in host.netns_list():
        for pid in host.run(["ip", "netns", "pids", node.netns], check=False).split():
            _kill(int(pid))
        host.run(["ip", "netns", "delete", node.netns], check=False)
    if host.link_exists(node.veth):
        host.run(["ip", "link", "delete", node.veth], check=False)
    node_dir = _node_dir(lan, node)
    for point in host.mounts_below(node_dir):
        host.run(["umount", "-l", point], check=False)
    (node_dir / "state/ready").unlink(missing_ok=True)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(200):
        if not host.pid_alive(pid):
            return
        time.sleep(0.005)


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
    prefix = f"picf-{bridge}-"
    for node in lan.nodes if lan else []:
        if node.keeper_pid and host.pid_alive(node.keeper_pid) and _is_our_keeper(node.keeper_pid, node):
            _kill(node.keeper_pid)
    for ns in host.netns_list():
        if ns.startswith(prefix):
            for pid in host.run(["ip", "netns", "pids", ns], check=False).split():
                _kill(int(pid))
            host.run(["ip", "netns", "delete", ns], check=False)
            report.namespaces.append(ns)
    for name in os.listdir("/sys/class/net"):
        if name.startswith(f"v{bridge}-"):
            host.run(["ip", "link", "delete", name], check=False)
    if host.link_exists(bridge):
        host.run(["ip", "link", "delete", bridge], check=False)
        report.bridge_removed = True
    directory = lan_dir(bridge)
    for point in host.mounts_below(directory):
        host.run(["umount", "-l", point], check=False)
        report.unmounted.append(point)
    shutil.rmtree(directory, ignore_errors=True)
    report.seconds = time.monotonic() - started_at
    return report


def _is_our_keeper(pid: int, node: SimNode) -> bool:
    """Guard against a recycled pid: the keeper's cwd is inside the node's root."""
    try:
        return os.readlink(f"/proc/{pid}/root").endswith(f"/nodes/{node.name}/root")
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
    running: bool
    link_up: bool
    ssh_up: bool
    temp_c: float | None
    throttled: str | None
    faults: list[str]


def _firmware(lan: SimLan, node: SimNode) -> faults.Firmware | None:
    state = _node_dir(lan, node) / "state"
    try:
        temp = int((state / "thermal/thermal_zone0/temp").read_text())
        throttled = faults.parse_throttled((state / "throttled").read_text())
    except (OSError, ValueError):
        return None
    return faults.Firmware(temp, throttled)


def _port_open(address: str, timeout: float = 0.3) -> bool:
    """True when the node's sshd accepts a TCP connection."""
    try:
        with socket.create_connection((address, 22), timeout=timeout):
            return True
    except OSError:
        return False


def status(bridge: str = plan.DEFAULT_BRIDGE) -> list[NodeStatus]:
    """Every node of the LAN: running, link, SSH, temperature and throttle bits, active faults."""
    lan = require(bridge)
    namespaces = set(host.netns_list())
    out = []
    for node in lan.nodes:
        running = host.pid_alive(node.keeper_pid) and node.netns in namespaces
        link_up = host.link_is_up(node.veth)
        firmware = _firmware(lan, node)
        out.append(
            NodeStatus(
                name=node.name,
                address=node.address,
                board=node.board,
                arch=node.arch,
                running=running,
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
        current = _firmware(lan, node) or faults.Firmware(nodefs.NORMAL_TEMP_MILLI_C, 0)
        new = faults.apply_firmware_fault(current, kind)
        state = _node_dir(lan, node) / "state"
        write_atomic(state / "thermal/thermal_zone0/temp", f"{new.temp_milli_c}\n".encode(), backup=False)
        write_atomic(state / "throttled", f"{new.throttled:#x}\n".encode(), backup=False)
        what = f"temp {new.temp_milli_c / 1000:.1f} C, throttled={new.throttled:#x}"
    elif kind in faults.LINK_FAULTS:
        host.run(["ip", "link", "set", node.veth, "down" if kind == "link-down" else "up"])
        what = f"cable {'unplugged' if kind == 'link-down' else 'plugged in'} ({node.veth})"
    else:
        if not node.keeper_pid or not host.pid_alive(node.keeper_pid):
            raise SimError(f"{name} is not running; `picf sim up` restarts it")
        if kind == "stop-ssh":
            host.in_node(node.keeper_pid, "kill $(cat /run/sshd.pid) 2>/dev/null; rm -f /run/sshd.pid")
            what = "sshd stopped"
        else:
            host.in_node(node.keeper_pid, f"[ -s /run/sshd.pid ] || {START_SSHD}")
            _wait_for_ssh([node])
            what = "sshd running"
    node.faults = faults.active_after(node.faults, kind)
    _save(lan)
    return f"{name}: {kind}: {what}"


def shell_argv(bridge: str, name: str) -> list[str]:
    """argv that opens a login shell on node `name`."""
    host.require_root_and_linux()
    lan = require(bridge)
    node = lan.node(name)
    if node is None or not node.keeper_pid or not host.pid_alive(node.keeper_pid):
        raise SimError(f"node {name!r} is not running on {bridge}; see `picf sim status`")
    return host.shell_argv(node.keeper_pid)


def inventory_text(bridge: str = plan.DEFAULT_BRIDGE) -> str:
    """A valid inventory for the running LAN, host keys pinned."""
    lan = require(bridge)
    try:
        cgroup = memory_cgroup_enabled(Path("/proc/cgroups").read_text())
    except OSError:
        cgroup = None
    return export.inventory_yaml(lan, cgroup)
