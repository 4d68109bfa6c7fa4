"""Read what each node runs and how picf may act on it, over SSH, checking host keys against the pins.

One short script per node (picf/node_probe/node_state.sh): picf's state file, whether the node is prepared
(the base role's mark and monit running) and which package versions it holds (a deploy ships only the rest),
the memory cgroup as the kernel runs it (cgroup v2 first), and how the SSH user gets root: already root, sudo
without a password, sudo that asks (then the password the user gave is tried once, fed on stdin, never on a
command line), or no sudo.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import wait
from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from picf.models.cluster import Cluster
from picf.models.deploy_state import DeployState
from picf.models.node import Node
from picf.node_probe import memory_cgroup, script, split_sections
from picf.pool import DaemonPool
from picf.transport import SSH, RemoteError, Transport

STATE_FILE = "/var/vcap/picf/state.json"
PREPARED_FILE = "/var/vcap/picf/base.ready"  # the base role's last task writes its fingerprint there
PACKAGES_DIR = "/var/vcap/data/packages"
Sudo = Literal["root", "nopasswd", "password", "missing"]
_SUDO: dict[str, Sudo] = {"root": "root", "nopasswd": "nopasswd", "password": "password", "missing": "missing"}

_READ = script("node_state")
_TRY_PASSWORD = script("try_sudo_password")


@dataclass
class NodeReport:
    """One node's answer, or why it did not answer."""

    node: str
    state: DeployState | None = None  # None on a fresh node
    known_hosts: str | None = None
    ip: str | None = None  # the address SSH reached (an mDNS name resolved once, here); Ansible uses it
    sudo: Sudo | None = None
    become_password_ok: bool | None = None  # tried only when sudo asks and a password was given
    memory_cgroup: bool | None = None
    prepared_mark: str | None = None  # what the base role last recorded (its fingerprint), if anything
    monit_running: bool = False
    packages: frozenset[str] = frozenset()  # NAME/FINGERPRINT of each package version the node holds
    stopped: frozenset[str] = frozenset()  # jobs `picf stop` stopped: a deploy keeps them stopped
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _sections(text: str) -> dict[str, str]:
    """The node's answer as {section: text} (see picf.node_probe.sections)."""
    return {name: "\n".join(lines) for name, lines in split_sections(text).items()}


def _prepared_mark(text: str) -> str | None:
    words = [w for w in text.split() if w != "monit-running"]
    return words[0] if words else None


def _packages(text: str) -> frozenset[str]:
    prefix = PACKAGES_DIR + "/"
    return frozenset(
        line.strip()[len(prefix) :]
        for line in text.splitlines()
        if line.strip().startswith(prefix) and not line.strip().endswith(".partial")
    )


def read_state(
    cluster: Cluster, node: Node, timeout: float, become_password: str | None = None, transport: Transport = SSH
) -> NodeReport:
    """Connect (host key checked against the pin), read state, cgroup and sudo; all within `timeout` seconds."""
    if node.host_key is None:
        return NodeReport(node.name, error="no host key pinned; run `picf discover --write` first")
    deadline = time.monotonic() + timeout
    try:
        conn = transport.connect(node.address, cluster.ssh, node.host_key, timeout=timeout)
    except RemoteError as exc:
        return NodeReport(node.name, error=str(exc))
    try:
        sections = _sections(conn.run(_READ, timeout=max(0.1, deadline - time.monotonic())))
        line = conn.known_hosts_line()
        sudo_word = sections.get("sudo", "").strip()
        sudo: Sudo | None = _SUDO.get(sudo_word)
        password_ok = None
        if sudo == "password" and become_password is not None:
            answer = conn.run(
                _TRY_PASSWORD, timeout=max(0.1, deadline - time.monotonic()), stdin=become_password + "\n"
            )
            password_ok = _sections(answer).get("password", "").strip() == "accepted"
    except RemoteError as exc:
        return NodeReport(node.name, error=str(exc))
    finally:
        conn.close()
    report = NodeReport(
        node.name,
        known_hosts=line,
        ip=conn.ip,
        sudo=sudo,
        become_password_ok=password_ok,
        memory_cgroup=memory_cgroup(sections.get("cgroup", "").splitlines()),
        prepared_mark=_prepared_mark(sections.get("prepared", "")),
        monit_running="monit-running" in sections.get("prepared", "").split(),
        packages=_packages(sections.get("packages", "")),
        stopped=frozenset(sections.get("stopped", "").split()),
    )
    text = sections.get("state", "")
    if text.strip():
        try:
            report.state = DeployState.model_validate(json.loads(text))
        except ValidationError:
            report.notes.append(f"{STATE_FILE} is not a state picf wrote; treating {node.name} as fresh")
        except ValueError:
            report.notes.append(f"{STATE_FILE} is not JSON; treating {node.name} as fresh")
    return report


def read_states(
    cluster: Cluster,
    nodes: list[Node],
    timeout: float = 5.0,
    parallel: int = 16,
    become_password: str | None = None,
    transport: Transport = SSH,
) -> list[NodeReport]:
    """Every node's report, in parallel (bounded), all within `timeout` (plus the queueing of a large cluster):
    an unreachable or stuck node does not delay the others, and none delays the answer past its deadline."""
    pool = DaemonPool(min(parallel, len(nodes) or 1), "state")
    try:
        futures = [
            (node, pool.submit(read_state, cluster, node, timeout, become_password, transport)) for node in nodes
        ]
        rounds = -(-len(nodes) // max(1, min(parallel, len(nodes) or 1)))  # batches the pool needs
        wait([f for _, f in futures], timeout=timeout * rounds + 1.0)
        reports = []
        for node, future in futures:
            if future.done():
                reports.append(future.result())
            else:
                reports.append(NodeReport(node.name, error=f"{node.address}: no answer in {timeout:g} s"))
        return reports
    finally:
        pool.shutdown()
