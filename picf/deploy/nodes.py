"""Read what each node runs (`/var/vcap/picf/state.json`) over SSH, checking host keys against the pins."""

from __future__ import annotations

import json
import time
from concurrent.futures import wait
from dataclasses import dataclass, field
from typing import Any

from picf import remote
from picf.models.cluster import Cluster
from picf.models.node import Node
from picf.pool import DaemonPool

STATE_FILE = "/var/vcap/picf/state.json"


@dataclass
class NodeReport:
    """One node's answer: its state (None on a fresh node), its verified host key, or why it did not answer."""

    node: str
    state: dict[str, Any] | None = None
    known_hosts: str | None = None
    ip: str | None = None  # the address SSH reached (an mDNS name resolved once, here); Ansible uses it
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def read_state(cluster: Cluster, node: Node, timeout: float) -> NodeReport:
    """Connect (host key checked against the pin), read the state file; all within `timeout` seconds."""
    if node.host_key is None:
        return NodeReport(node.name, error="no host key pinned; run `picf discover --write` first")
    deadline = time.monotonic() + timeout
    try:
        conn = remote.connect(node.address, cluster.ssh, node.host_key, timeout=timeout)
    except remote.RemoteError as exc:
        return NodeReport(node.name, error=str(exc))
    try:
        text = conn.run(f"cat {STATE_FILE} 2>/dev/null || true", timeout=max(0.1, deadline - time.monotonic()))
        line = conn.known_hosts_line()
    except remote.RemoteError as exc:
        return NodeReport(node.name, error=str(exc))
    finally:
        conn.close()
    report = NodeReport(node.name, known_hosts=line, ip=conn.ip)
    if text.strip():
        try:
            loaded = json.loads(text)
            report.state = loaded if isinstance(loaded, dict) else None
        except ValueError:
            report.notes.append(f"{STATE_FILE} is not JSON; treating {node.name} as fresh")
    return report


def read_states(cluster: Cluster, nodes: list[Node], timeout: float = 5.0, parallel: int = 16) -> list[NodeReport]:
    """Every node's report, in parallel (bounded), all within `timeout` (plus the queueing of a large cluster):
    an unreachable or stuck node does not delay the others, and none delays the answer past its deadline."""
    pool = DaemonPool(min(parallel, len(nodes) or 1), "state")
    try:
        futures = [(node, pool.submit(read_state, cluster, node, timeout)) for node in nodes]
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
