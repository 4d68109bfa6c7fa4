"""What a job's templates see, bound as the BOSH director binds it. Pure: data in, data out.

- properties: for each property the job's spec declares (in its order), the manifest's value at that dotted
  path unless it is nil, else the spec's default (nil when it has none); a hash value has its keys sorted;
  manifest keys the spec does not declare are dropped. `false` is a value.
- a link's properties: the names the provider's `provides` lists, from the provider's manifest properties (a key
  that is present counts, even when nil), else the provider spec's default.
- the instance spec: `name` and `job.name` are the instance group, `index`, `id`, `az`, `bootstrap`,
  `deployment`, `ip`, `address`, `networks`, `persistent_disk`, `dns_domain_name`, `release`.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from picf.errors import PicfError
from picf.models.release import JobSpec, LinkProvides

_MISSING = object()


class PropertyError(PicfError):
    """A manifest property that cannot be bound (a value where a hash is needed, an undeclared link
    property)."""


def _lookup(data: Mapping[str, Any], name: str) -> Any:
    node: Any = data
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _check_path(data: Mapping[str, Any], name: str, job: str) -> None:
    node: Any = data
    parts = name.split(".")
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, Mapping) or part not in node:
            return
        node = node[part]
        if node is not None and not isinstance(node, Mapping):
            prefix = ".".join(parts[: i + 1])
            raise PropertyError(
                f"job {job}: property {name!r} needs {prefix!r} to be a hash, but the manifest gives "
                f"a {type(node).__name__}"
            )


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value, key=str)}
    return value


def _store(target: dict[str, Any], name: str, value: Any) -> None:
    parts = name.split(".")
    node = target
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def bind_properties(spec: JobSpec, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The job's properties as its templates see them (nested, string keys)."""
    bound: dict[str, Any] = {}
    for name, declared in spec.properties.items():
        _check_path(manifest, name, spec.name)
        value = _lookup(manifest, name)
        if value is _MISSING or value is None:
            value = copy.deepcopy(declared.default)
        _store(bound, name, _sorted(value))
    return bound


def flat(properties: Mapping[str, Any], spec: JobSpec) -> dict[str, Any]:
    """The bound properties by their dotted names, as plans show them."""
    out: dict[str, Any] = {}
    for name in spec.properties:
        value = _lookup(properties, name)
        out[name] = None if value is _MISSING else value
    return out


def undeclared(spec: JobSpec, manifest: Mapping[str, Any]) -> list[str]:
    """Dotted manifest keys (leaves) the job does not declare: the director drops them silently, picf says so."""
    declared = set(spec.properties)
    prefixes = {".".join(n.split(".")[:i]) for n in declared for i in range(1, n.count(".") + 1)}
    out: list[str] = []

    def walk(node: Any, path: str) -> None:
        if path in declared or node is None:  # an empty block (`logfwd:`) declares nothing wrong
            return
        if isinstance(node, Mapping) and (not path or path in prefixes):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
            return
        out.append(path)

    walk(manifest, "")
    return sorted(out)


def link_properties(provides: LinkProvides, spec: JobSpec, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The properties a provided link carries, nested by their dotted names."""
    out: dict[str, Any] = {}
    for name in provides.properties:
        declared = spec.properties.get(name)
        if declared is None:
            raise PropertyError(f"job {spec.name}: link {provides.name} lists property {name!r}, which its spec does "
                                "not declare")  # fmt: skip
        value = _lookup(manifest, name)
        _store(out, name, copy.deepcopy(declared.default) if value is _MISSING else value)
    return out


def instance_id(deployment: str, group: str, node: str) -> str:
    """A stable id per instance (the director's is a UUID in its database; picf's is derived from names)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{node}.{group}.{deployment}.picf"))


def instance_spec(
    *,
    deployment: str,
    group: str,
    index: int,
    node: str,
    ip: str,
    address: str,
    az: str | None,
    release: tuple[str, str],
    network: str = "default",
) -> dict[str, Any]:
    """The template spec of one instance of `group` on `node`."""
    return {
        "deployment": deployment,
        "job": {"name": group},
        "name": group,
        "index": index,
        "bootstrap": index == 0,
        "id": instance_id(deployment, group, node),
        "az": az,
        "ip": ip,
        "address": address,
        "networks": {
            network: {
                "ip": ip,
                "default": ["dns", "gateway"],
                "dns_record_name": f"{index}.{group}.{network}.{deployment}.bosh".replace("_", "-").lower(),
            }
        },
        "persistent_disk": 0,
        "dns_domain_name": "bosh",
        "properties_need_filtering": True,
        "release": {"name": release[0], "version": release[1]},
    }
