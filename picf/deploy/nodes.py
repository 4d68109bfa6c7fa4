"""Read what each node runs (`/var/vcap/picf/state.json`) over SSH, checking host keys against the pins."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from picf import remote
from picf.models.cluster import Cluster
from picf.models.node import Node

STATE_FILE = "/var/vcap/picf/state.json"


@dataclass
class NodeReport:
    """One node's answer: its state (None on a fresh node), its verified host key, or why it did not answer."""

    node: str
    state: dict[str, Any] | None = None
    known_hosts: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def read_state(cluster: Cluster, node: Node, timeout: float) -> NodeReport:
    """Connect (host key checked against the pin), read the state file."""
    if node.host_key is None:
        return NodeReport(node.name, error="no host key pinned; run `picf discover --write` first")
    try:
        conn = remote.connect(node.address, cluster.ssh, node.host_key, timeout=timeout)
    except remote.RemoteError as exc:
        return NodeReport(node.name, error=str(exc))
    try:
        text = conn.run(f"cat {STATE_FILE} 2>/dev/null || true", timeout=timeout)
        line = conn.known_hosts_line()
    except remote.RemoteError as exc:
        return NodeReport(node.name, error=str(exc))
    finally:
        conn.close()
    report = NodeReport(node.name, known_hosts=line)
    if text.strip():
        try:
            loaded = json.loads(text)
            report.state = loaded if isinstance(loaded, dict) else None
        except ValueError:
            report.notes.append(f"{STATE_FILE} is not JSON; treating {node.name} as fresh")
    return report


def read_states(cluster: Cluster, nodes: list[Node], timeout: float = 5.0, parallel: int = 16) -> list[NodeReport]:
    """Every node's report, in parallel (bounded); an unreachable node does not delay the others."""
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(nodes) or 1))) as pool:
        return list(pool.map(lambda n: read_state(cluster, n, timeout), nodes))
