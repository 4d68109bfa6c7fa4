"""Render a job for a node: its templates with the node's properties, its monit stanza, and a hash.

Properties are the release's defaults overridden by the manifest, with `((vars))` from the vars store. A
property that holds a credential is a secret: the plan shows it as <redacted>, and only a hash of it is kept
in the node's state.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from picf.deploy.vars import interpolate
from picf.errors import PicfError
from picf.models.manifest import JobRef
from picf.models.node import Node
from picf.models.release import Job
from picf.releases import templates
from picf.releases.release_dir import template_context

REDACTED = "<redacted>"
SECRET_TYPES = {"password", "certificate"}


class RenderError(PicfError):
    """A template that does not render for a node (a missing property, a syntax error)."""


@dataclass
class JobSource:
    """A compiled job unpacked from the store: its spec and template files."""

    spec: Job
    directory: Path

    @classmethod
    def unpack(cls, tarball: Path, into: Path) -> JobSource:
        into.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as tar:
            tar.extractall(into, filter="data")
        return cls(Job.model_validate(json.loads((into / "job.json").read_text())), into)


@dataclass
class RenderedJob:
    """A job as it will be on one node."""

    name: str
    release: str
    files: dict[str, tuple[str, int]]  # path under the job dir -> (content, mode)
    monit: str
    properties: dict[str, Any]  # shown in plans: secrets as "<redacted>:<sha256 prefix>"
    hash: str
    secrets: set[str] = field(default_factory=set)


def _shown(value: Any) -> Any:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{REDACTED}:{digest}"


@functools.cache
def _environment() -> jinja2.Environment:
    """One environment for every job and node, so each template is compiled once (see templates.render)."""
    return templates.environment()


def render_job(
    source: JobSource, ref: JobRef, release: str, node: Node, index: int, deployment: str, variables: dict[str, Any]
) -> RenderedJob:
    """Render `source` for `node` with the manifest's properties for it."""
    spec = source.spec
    values: dict[str, Any] = {name: prop.default for name, prop in spec.properties.items() if prop.default is not None}
    secret_names = {name for name, prop in spec.properties.items() if prop.type in SECRET_TYPES}
    for name, raw in ref.properties.items():
        if name not in spec.properties:
            raise RenderError(f"job {spec.name}: property {name!r} is not declared by release {release}")
        value, from_vars = interpolate(raw, variables)
        values[name] = value
        if from_vars:
            secret_names.add(name)
    context_spec = {"name": node.name, "address": node.address, "index": index, "arch": node.arch,
                    "deployment": deployment, "job": spec.name, "roles": list(node.roles)}  # fmt: skip
    env = _environment()  # sandboxed: a release's templates cannot run code on the controller
    context = template_context(spec, values, context_spec)

    def render(template: str) -> str:
        try:
            return templates.render(env, source.directory / template, context, name=f"{release}/{spec.name}/{template}")
        except templates.TemplateRefused:
            raise
        except templates.TemplateFailed as exc:
            raise RenderError(f"job {spec.name} on {node.name}: {exc}") from None

    # Configuration can hold credentials: readable by root only; scripts under bin/ are executable.
    files = {target: (render(template), 0o755 if target.startswith("bin/") else 0o600)
             for template, target in sorted(spec.templates.items())}  # fmt: skip
    monit = render(spec.monit)
    digest = hashlib.sha256(release.encode())
    for path, (content, mode) in sorted(files.items()):
        digest.update(f"{path}\0{mode}\0".encode() + content.encode() + b"\0")
    digest.update(monit.encode())
    shown = {name: (_shown(values[name]) if name in secret_names else values[name]) for name in sorted(values)}
    secrets = {str(values[name]) for name in secret_names if values.get(name) not in (None, "")}
    return RenderedJob(spec.name, release, files, monit, shown, digest.hexdigest(), secrets)
