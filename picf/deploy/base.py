"""Whether a node is prepared: the base role's work (vcap user, /var/vcap layout, monit, the memory cgroup) done
by the base role as it is now, so a deploy can skip it.

The base role's last task writes a fingerprint of the role's own files and of the variables it acts on; a node
is prepared when it carries the current fingerprint, runs monit, and runs the memory cgroup if it needs it.
Anything else (a fresh card, an edited role, a role that gained the memory cgroup, monit stopped) runs the base
role again, which is idempotent.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from picf.deploy.nodes import NodeReport

BASE_ROLE = Path(__file__).resolve().parents[2] / "playbooks" / "roles" / "base"


def base_fingerprint(monit_interval: int, memory_cgroup: bool, role: Path = BASE_ROLE) -> str:
    """A hash of the base role's files and of the variables it acts on."""
    digest = hashlib.sha256()
    for path in sorted(p for p in role.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(f"{path.relative_to(role)}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    digest.update(json.dumps({"monit_interval": monit_interval, "memory_cgroup": memory_cgroup}).encode())
    return digest.hexdigest()[:32]


def is_prepared(report: NodeReport, fingerprint: str, memory_cgroup: bool) -> bool:
    """Whether the node's answer shows the base role's current work done and still in effect."""
    return (
        report.prepared_mark == fingerprint
        and report.monit_running
        and (not memory_cgroup or report.memory_cgroup is True)
    )
