"""Links between the jobs of a deployment, resolved as the BOSH director resolves them. Pure but for reading
the jobs' specs.

A job's spec `provides` links (a name, a type, the properties consumers may read) and `consumes` them (a name,
a type, maybe `optional`). In the manifest, a job may rename what it provides (`provides: {NAME: {as: ALIAS}}`)
or withhold it (`NAME: nil`), and say which provider it consumes (`consumes: {NAME: {from: ALIAS}}`) or refuse
one (`NAME: nil`). Without `from`, the provider is the one job of the deployment providing that type; none or
several is an error unless the link is optional and none provides it. A link carries the provider's instances
(`name` = its instance group, `index`, `id`, `az`, `address`, `bootstrap`) and the properties it lists, from
the provider's manifest properties, else their spec defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from picf.deploy.vars import interpolate
from picf.errors import PicfError
from picf.models.manifest import JobRef
from picf.models.node import Node
from picf.models.release import JobSpec
from picf.releases.render.binding import instance_id, link_properties

SpecOf = Callable[[str, str], JobSpec]  # (release, job) -> the job's spec


class LinkError(PicfError):
    """A link no job provides, or that several jobs provide."""


@dataclass(frozen=True)
class Group:
    """An instance group: a role of the manifest, the nodes that have it (in inventory order), its jobs."""

    name: str
    nodes: tuple[Node, ...]
    jobs: tuple[JobRef, ...]


@dataclass(frozen=True)
class _Provider:
    alias: str
    type: str
    group: str
    job: str
    data: dict[str, Any]

    @property
    def where(self) -> str:
        return f"roles.{self.group}.jobs.{self.job}"


def _blocked(value: Any) -> bool:
    return value is None or value == "nil"


def _providers(
    deployment: str,
    groups: list[Group],
    spec_of: SpecOf,
    variables: dict[str, Any],
    addresses: Mapping[str, tuple[str, str]],
) -> list[_Provider]:
    found: list[_Provider] = []
    for group in groups:
        for ref in group.jobs:
            spec = spec_of(ref.release, ref.name)
            for provides in spec.provides:
                option = ref.provides.get(provides.name, {})
                if provides.name in ref.provides and _blocked(option):
                    continue
                alias = str(option.get("as", provides.name)) if isinstance(option, dict) else provides.name
                manifest, _ = interpolate(ref.properties, variables)
                instances = [
                    {"name": group.name, "index": i, "id": instance_id(deployment, group.name, node.name),
                     "az": node.labels.get("az"), "address": addresses[node.name][0], "bootstrap": i == 0}
                    for i, node in enumerate(group.nodes)
                ]  # fmt: skip
                data = {"instances": instances, "properties": link_properties(provides, spec, manifest),
                        "instance_group": group.name, "deployment_name": deployment}  # fmt: skip
                found.append(_Provider(alias, provides.type, group.name, ref.name, data))
    return found


def resolve_links(
    deployment: str,
    groups: list[Group],
    spec_of: SpecOf,
    variables: dict[str, Any],
    addresses: Mapping[str, tuple[str, str]],
) -> dict[tuple[str, str], dict[str, Any]]:
    """(instance group, job) -> {link name: link} for every link a job of the deployment consumes."""
    providers = _providers(deployment, groups, spec_of, variables, addresses)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for group in groups:
        for ref in group.jobs:
            spec = spec_of(ref.release, ref.name)
            links: dict[str, Any] = {}
            for consumes in spec.consumes:
                where = f"roles.{group.name}.jobs.{ref.name}"
                option = ref.consumes.get(consumes.name, {})
                if consumes.name in ref.consumes and _blocked(option):
                    if not consumes.optional:
                        raise LinkError(f"{where}: link {consumes.name!r} is refused with nil, but the job needs it "
                                        "(it is not optional in the job's spec)")  # fmt: skip
                    continue
                wanted = str(option["from"]) if isinstance(option, dict) and option.get("from") else None
                if wanted is not None:
                    wanted = wanted.rsplit(".", 1)[-1]
                candidates = [p for p in providers if p.type == consumes.type and (wanted is None or p.alias == wanted)]
                if len(candidates) == 1:
                    links[consumes.name] = candidates[0].data
                    continue
                named = f" named {wanted!r}" if wanted else ""
                if not candidates:
                    if consumes.optional and wanted is None:
                        continue
                    raise LinkError(f"{where}: link {consumes.name!r} (type {consumes.type}){named}: no job of the "
                                    "deployment provides it; add the job that does to a role, or make the link "
                                    "optional in the job's spec")  # fmt: skip
                listed = ", ".join(f"{p.where} as {p.alias}" for p in candidates)
                pick = f"consumes: {{{consumes.name}: {{from: ALIAS}}}}"
                raise LinkError(f"{where}: link {consumes.name!r} (type {consumes.type}): several jobs provide it "
                                f"({listed}); pick one with {pick}")  # fmt: skip
            out[(group.name, ref.name)] = links
    return out
