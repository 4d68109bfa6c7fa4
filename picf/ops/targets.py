"""What a day-2 command acts on, in one grammar: `NODE`, `NODE/JOB`, `ROLE` or `JOB` (every node running it).

Pure: the inventory says which nodes and roles exist, the manifest which jobs each role runs. What a node
really runs (its recorded state) is checked when the command reaches it (`check_deployed`). A name that is
both, say, a node and a role is refused unless written `node:NAME`, `role:NAME` or `job:NAME`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from picf.errors import UsageError
from picf.models.cluster import Cluster
from picf.models.manifest import Manifest
from picf.models.node import Node

KINDS = ("node", "role", "job")


@dataclass(frozen=True)
class Target:
    """One node and the jobs a command acts on there (in the manifest's order; empty when the node runs none)."""

    node: Node
    jobs: tuple[str, ...]
    whole_node: bool  # named as NODE: every job it runs by its recorded state, whatever the manifest says now

    @property
    def name(self) -> str:
        return self.node.name


def jobs_of(manifest: Manifest | None, node: Node) -> list[str]:
    """The jobs the manifest runs on `node` (through its roles), each once, in the manifest's order."""
    if manifest is None:
        return []
    out: list[str] = []
    for role, group in manifest.roles.items():
        if role in node.roles:
            out.extend(j.name for j in group.jobs if j.name not in out)
    return out


def _role_jobs(manifest: Manifest | None, role: str) -> list[str]:
    group = manifest.roles.get(role) if manifest is not None else None
    return [j.name for j in group.jobs] if group is not None else []


def _meanings(name: str, cluster: Cluster, manifest: Manifest | None) -> list[str]:
    """Which of node, role, job `name` is in this cluster and deployment."""
    found = []
    if cluster.node(name) is not None:
        found.append("node")
    if any(name in n.roles for n in cluster.nodes) or (manifest is not None and name in manifest.roles):
        found.append("role")
    if manifest is not None and any(j.name == name for g in manifest.roles.values() for j in g.jobs):
        found.append("job")
    return found


def resolve(specs: Sequence[str], cluster: Cluster, manifest: Manifest | None, where: str) -> list[Target]:
    """Each node the specs name (in the inventory's order) with the jobs named on it. UsageError, naming the
    spec and `where` (the inventory and manifest), for anything unknown, ambiguous or empty."""
    if not specs:
        raise UsageError("name a target: NODE, NODE/JOB, ROLE or JOB")
    wanted: dict[str, list[str]] = {}
    whole: set[str] = set()
    for spec in specs:
        for node, jobs, is_whole in _one(spec, cluster, manifest, where):
            have = wanted.setdefault(node, [])
            have.extend(j for j in jobs if j not in have)
            if is_whole:
                whole.add(node)
    return [Target(node, tuple(wanted[node.name]), node.name in whole) for node in cluster.nodes if node.name in wanted]


def _one(spec: str, cluster: Cluster, manifest: Manifest | None, where: str) -> list[tuple[str, list[str], bool]]:
    text = spec.strip()
    if "/" in text:
        node_name, _, job = text.partition("/")
        node = cluster.node(node_name)
        if node is None:
            raise UsageError(f"{spec}: no node named {node_name} in {where}; see `picf inventory show`")
        runs = jobs_of(manifest, node)
        if manifest is not None and job not in runs:
            raise UsageError(f"{spec}: the manifest runs no job {job or '(empty)'} on {node_name} "
                             f"(it runs: {', '.join(runs) or 'nothing'}); see {where}")  # fmt: skip
        return [(node_name, [job], False)]
    kind, _, name = text.rpartition(":")
    if kind and kind not in KINDS:
        raise UsageError(f"{spec}: {kind}: is not a kind of target; write node:NAME, role:NAME or job:NAME")
    meanings = _meanings(name, cluster, manifest)
    if kind:
        if kind not in meanings:
            raise UsageError(f"{spec}: no {kind} named {name} in {where}")
        meanings = [kind]
    if not meanings:
        raise UsageError(f"{spec}: no node, role or job named {name} in {where}; see `picf inventory show`")
    if len(meanings) > 1:
        ways = " or ".join(f"{m}:{name}" for m in meanings)
        raise UsageError(f"{spec}: {name} is a {' and a '.join(meanings)}; write {ways}")
    if meanings[0] == "node":
        node = cluster.node(name)
        assert node is not None
        return [(name, jobs_of(manifest, node), True)]
    if meanings[0] == "role":
        nodes = [n for n in cluster.nodes if name in n.roles]
        if not nodes:
            raise UsageError(f"{spec}: no node has the role {name} in {where}; give one with `picf inventory roles`")
        return [(n.name, [j for j in jobs_of(manifest, n) if j in _role_jobs(manifest, name)], False) for n in nodes]
    nodes = [n for n in cluster.nodes if name in jobs_of(manifest, n)]
    if not nodes:
        raise UsageError(f"{spec}: no node has a role that runs the job {name} in {where}")
    return [(n.name, [name], False) for n in nodes]


def as_recorded(target: Target, recorded: Mapping[str, object] | None) -> tuple[Target, list[str]]:
    """The target as the node records it (`/var/vcap/picf/state.json`'s jobs): a whole node means every job it
    runs; and, as one-line problems, each job named that the node does not run (a node picf never deployed to
    runs none)."""
    jobs = recorded.get("jobs") if recorded else None
    running = sorted(jobs) if isinstance(jobs, Mapping) else []
    if target.whole_node:
        if not running:
            return target, [f"{target.name}: runs no job picf deployed; deploy first (picf deploy)"]
        return Target(target.node, tuple(running), True), []
    return target, [
        f"{target.name}/{job}: not deployed on {target.name} (it runs: {', '.join(running) or 'nothing'}); "
        "deploy first (picf deploy)"
        for job in target.jobs
        if job not in running
    ]
