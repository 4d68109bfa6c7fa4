"""Waiting for a simulated node to be ready: its sshd accepts connections, its avahi has claimed its name.

Bounded polls of what a person would check (a TCP connect, avahi's own log line), never fixed sleeps."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from picf.models.sim import SimLan, SimNode
from picf.sim import state
from picf.sim.host import SimError

READY_TIMEOUT = 15.0


def port_open(address: str, timeout: float = 0.3, port: int = 22) -> bool:
    """True when something accepts a TCP connection on `address:port` (the node's sshd by default)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(checks: Mapping[str, Callable[[], bool]], failure: str) -> None:
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


def wait_for_ssh(nodes: list[SimNode]) -> None:
    """Wait until each node's sshd accepts connections."""
    checks = {n.name: partial(port_open, n.address, 0.2) for n in nodes}
    wait_until(checks, "sshd did not start on {nodes}; see the node's /var/log/sshd.log")


def avahi_ready(log: Path) -> bool:
    """Whether avahi-daemon's log says it finished starting (its host name is claimed)."""
    try:
        return "Server startup complete" in log.read_text(errors="replace")
    except OSError:
        return False


def wait_for_mdns(lan: SimLan, nodes: list[SimNode]) -> None:
    """Wait until each node's avahi has claimed its host name (it probes the LAN first, as on a Pi)."""
    logs = {n.name: state.node_dir(lan, n) / "upper/var/log/avahi-daemon.log" for n in nodes}
    checks = {name: partial(avahi_ready, log) for name, log in logs.items()}
    wait_until(checks, "avahi-daemon did not come up on {nodes}; see its /var/log/avahi-daemon.log")
