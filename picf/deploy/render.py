"""Render a deployment's jobs for its nodes, as the BOSH director renders an instance group's jobs.

Each role of the manifest is an instance group: every node with the role is one of its instances (its index is
its place among them, in inventory order), and runs the role's jobs. For each job on each node: the manifest's
properties with `((variables))` from the vars store, bound to what the job's spec declares; the instance spec;
the links the job consumes, resolved across the deployment (`picf.deploy.links`); then every template of every
node in one sandboxed Ruby run (`picf.releases.render.templates`).

A property whose value came from the vars store is a secret: plans show it as <redacted> with a hash, the node
keeps only that hash in its state, and its value is redacted wherever picf writes output.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from picf.deploy.links import Group, resolve_links
from picf.deploy.vars import interpolate
from picf.errors import PicfError
from picf.models.manifest import JobRef
from picf.models.release import CompiledRelease, JobSpec
from picf.releases.render.binding import bind_properties, flat, instance_spec
from picf.releases.render.templates import Instance, JobTemplates, render_instances
from picf.releases.store import Store

REDACTED = "<redacted>"
LIFECYCLE = ("pre-start", "post-start", "drain", "post-deploy")
_PROCESS = re.compile(r"^\s*check\s+process\s+(\S+)", re.MULTILINE)


class RenderError(PicfError):
    """A job that cannot be rendered for a node (a property the manifest writes wrong, a missing job)."""


@dataclass
class RenderedJob:
    """A job as it will be on one node."""

    name: str
    release: str  # NAME/VERSION
    files: dict[str, tuple[str, int]]  # path under the job dir -> (content, mode)
    monit: str
    properties: dict[str, Any]  # shown in plans: secrets as "<redacted>:<sha256 prefix>"
    packages: tuple[str, ...]
    hash: str
    processes: tuple[str, ...] = ()  # what its monit file checks
    lifecycle: tuple[str, ...] = ()  # the lifecycle scripts it has (bin/pre-start, ...)
    secrets: set[str] = field(default_factory=set)


def _shown(value: Any) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{REDACTED}:{digest}"


def _from_vars(raw: Any) -> bool:
    if isinstance(raw, str):
        return "((" in raw
    if isinstance(raw, dict):
        return any(_from_vars(v) for v in raw.values())
    if isinstance(raw, list):
        return any(_from_vars(v) for v in raw)
    return False


def _lookup(data: Any, name: str) -> Any:
    for part in name.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value} if value else set()
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


class JobLibrary:
    """The jobs of the compiled releases a deploy uses, read once from the store."""

    def __init__(self, compiled: dict[tuple[str, str], CompiledRelease], store: Store | None = None) -> None:
        self.compiled = compiled
        self.store = store or Store()
        self._jobs: dict[tuple[str, str], JobTemplates] = {}

    def spec(self, release: str, name: str) -> JobSpec:
        """A job's spec (the same for every arch it was built for)."""
        arch = next(a for r, a in sorted(self.compiled) if r == release)
        return self.job(release, arch, name).spec

    def job(self, release: str, arch: str, name: str) -> JobTemplates:
        built = self.compiled[(release, arch)]
        entry = next((j for j in built.jobs if j.name == name), None)
        if entry is None:
            names = ", ".join(j.name for j in built.jobs) or "none"
            raise RenderError(f"release {built.name}/{built.version} has no job {name} (its jobs: {names}); "
                              f"build it: picf release build <release> --arch {arch}")  # fmt: skip
        key = (release, entry.sha256)
        if key not in self._jobs:
            where = f"{built.name}/{built.version}: jobs/{name}"
            self._jobs[key] = JobTemplates.from_tarball(self.store.blob(entry.sha256), where,
                                                        f"{built.name}/{built.version}")  # fmt: skip
        return self._jobs[key]


def check_properties(ref: JobRef, templates: JobTemplates, where: str) -> None:
    """A manifest that writes a property flat (`logfwd.port: 7070`) would silently get the default: BOSH reads
    properties as nested maps."""
    for key in ref.properties:
        if "." in key and any(name == key or name.startswith(key + ".") for name in templates.spec.properties):
            head, _, rest = key.partition(".")
            raise RenderError(f"{where}: property {key!r} is written flat; BOSH reads properties as nested maps: "
                              f"write {head}: {{{rest}: ...}}")  # fmt: skip


def render_deployment(
    deployment: str,
    groups: list[Group],
    library: JobLibrary,
    variables: dict[str, Any],
    addresses: dict[str, tuple[str, str]],
    scope: set[str],
) -> dict[str, list[RenderedJob]]:
    """Every job of every node in `scope`, rendered. `groups` are all the deployment's instance groups (links
    reach nodes outside `scope` too); `addresses` is each node's (ip, address)."""
    links = resolve_links(deployment, groups, library.spec, variables, addresses)
    instances: list[Instance] = []
    meta: list[tuple[str, JobRef, Group, str, set[str], set[str]]] = []
    for group in groups:
        for index, node in enumerate(group.nodes):
            if node.name not in scope:
                continue
            for ref in group.jobs:
                templates = library.job(ref.release, str(node.arch), ref.name)
                check_properties(ref, templates, f"roles.{group.name}.jobs.{ref.name}")
                manifest_props, _ = interpolate(ref.properties, variables)
                bound = bind_properties(templates.spec, manifest_props)
                secret_names = {n for n in templates.spec.properties if _from_vars(_lookup(ref.properties, n))}
                secrets = set().union(*(_strings(_lookup(bound, n)) for n in secret_names)) if secret_names else set()
                built = library.compiled[(ref.release, str(node.arch))]
                ip, address = addresses[node.name]
                spec = instance_spec(deployment=deployment, group=group.name, index=index, node=node.name, ip=ip,
                                     address=address, az=node.labels.get("az"),
                                     release=(built.name, built.version))  # fmt: skip
                instance_links = links.get((group.name, ref.name), {})
                instances.append(Instance(templates, bound, spec, instance_links, label=node.name))
                meta.append((node.name, ref, group, f"{built.name}/{built.version}", secret_names, secrets))
    rendered = render_instances(instances)
    out: dict[str, list[RenderedJob]] = {name: [] for name in scope}
    for instance, result, (node_name, ref, _group, release, secret_names, secrets) in zip(
        instances, rendered, meta, strict=True
    ):
        files = {dst: (text, 0o755 if dst.startswith("bin/") else 0o600) for dst, text in sorted(result.files.items())}
        digest = hashlib.sha256(release.encode())
        for path, (content, mode) in sorted(files.items()):
            digest.update(f"{path}\0{mode}\0".encode() + content.encode() + b"\0")
        digest.update(result.monit.encode())
        shown = {
            n: (_shown(v) if n in secret_names else v) for n, v in flat(instance.properties, instance.job.spec).items()
        }
        lifecycle = tuple(s for s in LIFECYCLE if f"bin/{s}" in files)
        out[node_name].append(RenderedJob(
            name=ref.name, release=release, files=files, monit=result.monit, properties=shown,
            packages=instance.job.spec.packages, hash=digest.hexdigest(),
            processes=tuple(_PROCESS.findall(result.monit)), lifecycle=lifecycle, secrets=secrets,
        ))  # fmt: skip
    return out


def check_processes(job: RenderedJob, node: str) -> None:
    """picf supervises one monit process per job, named after it (garden, metron_agent, nats ... do so)."""
    if job.processes and job.processes != (job.name,):
        raise RenderError(
            f"job {job.name} on {node}: its monit file checks {', '.join(job.processes)}; picf supervises jobs whose "
            f"monit file checks one process named after the job (check process {job.name})"
        )
