"""A valid inventory for a running simulated LAN (`picf sim inventory`), for tests and tries that do not
exercise discovery. Pure: the LAN's model in, YAML text out."""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from picf.models.sim import SimLan


def _memory_cgroup(lan: SimLan, name: str) -> bool | None:
    """What the node's kernel says at its current boot (cgroup v2's controllers)."""
    try:
        return "memory" in (Path(lan.directory) / "nodes" / name / "fake" / "cgroup.controllers").read_text().split()
    except OSError:
        return None


def inventory_yaml(lan: SimLan) -> str:
    """The inventory text: every node with its pinned host key, board, arch and memory; no roles. SSH as the
    LAN's first user (sudo gives picf root); the memory cgroup as discovery would find it."""
    doc = CommentedMap()
    doc["name"] = f"sim-{lan.bridge}"
    ssh = CommentedMap()
    ssh["user"] = lan.user
    ssh["private_key"] = lan.controller_key
    ssh["port"] = 22
    ssh["connect_timeout"] = 5
    doc["ssh"] = ssh
    nodes = CommentedSeq()
    for node in lan.nodes:
        entry = CommentedMap()
        entry["name"] = node.name
        entry["address"] = node.address
        entry["mac"] = node.mac
        if node.host_key:
            entry["host_key"] = node.host_key
        entry["model"] = node.model
        entry["arch"] = node.arch
        entry["memory_mb"] = node.memory_mb
        memory_cgroup = _memory_cgroup(lan, node.name)
        if memory_cgroup is not None:
            entry["memory_cgroup"] = memory_cgroup
        roles = CommentedSeq()
        roles.fa.set_flow_style()
        entry["roles"] = roles
        nodes.append(entry)
    doc["nodes"] = nodes
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    out.write(f"# picf sim inventory for the simulated LAN on bridge {lan.bridge} ({lan.subnet}).\n")
    out.write("# Host keys are pinned from the nodes themselves; give nodes roles with `picf inventory roles`.\n")
    yaml.dump(doc, out)
    return out.getvalue()
