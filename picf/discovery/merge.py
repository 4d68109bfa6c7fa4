"""Decide how discovered hosts enter the inventory. Pure: cluster and candidates in, actions out.

Identity is the host key (DESIGN.md). A known node is matched by host key, then MAC, then name; a match whose
pinned key or MAC disagrees is a conflict, reported and never written. New Pis are added with a name from
their host name and no roles; other hosts only with `--all`.
"""

from __future__ import annotations

from typing import Any

from picf.hostkeys import mismatch
from picf.models.cluster import Cluster
from picf.models.discovery import Candidate, MergeAction
from picf.models.node import Node


def _match(candidate: Candidate, nodes: tuple[Node, ...]) -> tuple[Node | None, str | None]:
    for field, value in (("host_key", candidate.host_key), ("mac", candidate.mac), ("name", candidate.name)):
        if value is None:
            continue
        node = next((n for n in nodes if getattr(n, field) == value), None)
        if node is not None:
            return node, field
    return None, None


def _identity_conflict(candidate: Candidate, node: Node, matched_by: str) -> str | None:
    if node.host_key and candidate.host_key and node.host_key != candidate.host_key:
        matched = "MAC " + str(node.mac) if matched_by == "mac" else "same name"
        return f"{node.name} ({matched}): {mismatch(candidate.host_key, node.host_key, node.name)}; not written"
    if matched_by == "name" and node.mac and candidate.mac and node.mac != candidate.mac:
        return f"{node.name} is pinned to MAC {node.mac} but {candidate.mac} answers to that name; not written"
    return None


def _updates(candidate: Candidate, node: Node) -> tuple[dict[str, Any], list[str]]:
    """Fields to change on a known node: a new address, and facts the inventory does not have yet."""
    changes: dict[str, Any] = {}
    notes: list[str] = []
    if candidate.address and candidate.address != node.address:
        changes["address"] = candidate.address
    fills = {
        "host_key": candidate.host_key,
        "mac": candidate.mac,
        "model": candidate.model.label if candidate.model else None,
        "arch": candidate.arch,
        "memory_mb": candidate.memory_mb,
    }
    for field, value in fills.items():
        if value is not None and getattr(node, field) is None:
            changes[field] = value
    if candidate.memory_cgroup is not None and candidate.memory_cgroup != node.memory_cgroup:
        changes["memory_cgroup"] = candidate.memory_cgroup  # live state: a reboot with cgroups changes it
    if node.arch and candidate.arch and node.arch != candidate.arch:
        notes.append(f"inventory says {node.arch}, the node runs an {candidate.arch} userland (left as is)")
    if node.mac and candidate.mac and node.mac != candidate.mac:
        notes.append(f"MAC {candidate.mac} differs from the inventory's {node.mac} (left as is)")
    return changes, notes


def plan_merge(cluster: Cluster | None, candidates: list[Candidate], include_non_pi: bool) -> list[MergeAction]:
    """One action per candidate: add, update, unchanged, conflict or skip (with the reason)."""
    nodes = cluster.nodes if cluster else ()
    used_names = {n.name for n in nodes}
    used_addresses = {n.address: n.name for n in nodes}
    actions: list[MergeAction] = []
    seen_keys: dict[str, str] = {}
    # A machine's own name goes first, so an alias (or a spoofed name) is the one set aside.
    ordered = sorted(candidates, key=lambda c: (c.self_name != c.hostname, c.name or "~", c.hostname))
    for candidate in ordered:
        base = {"hostname": candidate.hostname}
        if candidate.host_key and candidate.host_key in seen_keys:
            # One machine behind two mDNS names (an alias, or a spoofed name pointing at a real Pi).
            reason = f"same machine (host key) as {seen_keys[candidate.host_key]}"
            actions.append(MergeAction(outcome="skip", **base, reason=reason))
            continue
        if candidate.host_key:
            seen_keys[candidate.host_key] = candidate.hostname
        if candidate.conflict:
            actions.append(MergeAction(outcome="conflict", **base, reason=candidate.conflict))
            continue
        node, matched_by = _match(candidate, nodes)
        if node is not None and matched_by is not None:
            conflict = _identity_conflict(candidate, node, matched_by)
            if conflict:
                actions.append(MergeAction(outcome="conflict", **base, node=node.name, reason=conflict))
                continue
            changes, notes = _updates(candidate, node)
            actions.append(
                MergeAction(
                    outcome="update" if changes else "unchanged",
                    **base,
                    node=node.name,
                    matched_by=matched_by,
                    changes=changes,
                    reason="; ".join(notes),
                )
            )
            continue
        skip = _why_not_added(candidate, include_non_pi, used_addresses)
        if skip:
            actions.append(MergeAction(outcome="skip", **base, reason=skip))
            continue
        assert candidate.name is not None
        name = _free_name(candidate.name, used_names)
        used_names.add(name)
        if candidate.address:
            used_addresses[candidate.address] = name
        fields: dict[str, Any] = {
            "name": name,
            "address": candidate.address,
            "mac": candidate.mac,
            "host_key": candidate.host_key,
            "model": candidate.model.label if candidate.model else None,
            "arch": candidate.arch,
            "memory_mb": candidate.memory_mb,
            "memory_cgroup": candidate.memory_cgroup,
            "roles": [],
        }
        actions.append(
            MergeAction(outcome="add", **base, node=name, changes={k: v for k, v in fields.items() if v is not None})
        )
    return actions


def _why_not_added(candidate: Candidate, include_non_pi: bool, used_addresses: dict[str, str]) -> str | None:
    if candidate.name is None:
        return "no usable host name"
    if candidate.address is None:
        return "no IPv4 address resolved"
    if not candidate.is_pi and not include_non_pi:
        return "not a Raspberry Pi (add it with --all)"
    if candidate.probe_error is not None:
        return f"not probed: {candidate.probe_error}"
    if candidate.address in used_addresses:
        other = used_addresses[candidate.address]
        return f"address {candidate.address} belongs to {other} in the inventory; fix or remove {other} first"
    return None


def _free_name(name: str, used: set[str]) -> str:
    if name not in used:
        return name
    for n in range(2, 1000):
        suffix = f"-{n}"
        candidate = name[: 63 - len(suffix)] + suffix
        if candidate not in used:
            return candidate
    raise ValueError(f"no free name for {name}")
