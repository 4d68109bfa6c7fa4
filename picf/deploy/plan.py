"""Decide what a deploy changes: wanted state per node against what each node reports. Pure.

A node's state (`/var/vcap/picf/state.json`) records the packages (by fingerprint) and jobs (by hash, with
their properties, secrets as hashes) it runs. The plan is the difference, printed like BOSH's diff.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from picf.errors import PicfError
from picf.models.deploy_state import DeployedJob, DeployedPackage, DeployState
from picf.models.manifest import JobChange, NodePlan, Update
from picf.models.release import CompiledRelease


class PlanError(PicfError):
    """Something the manifest asks for that cannot be deployed; one subclass per reason."""


class MissingBuild(PlanError):
    """No compiled release or package for a node's arch: build it."""


class WrongArch(PlanError):
    """A build for another arch than the node's."""


class Conflict(PlanError):
    """Two parts of the manifest want different things in one place (a package name, a job's properties)."""


def wanted_state(
    deployment: str,
    arch: str,
    releases: list[CompiledRelease],
    jobs: dict[str, DeployedJob],
    monit_interval: int,
) -> DeployState:
    """The state a node will report after the deploy: packages its jobs need, and its jobs."""
    needed = {pkg for job in jobs.values() for pkg in job.packages}
    packages: dict[str, DeployedPackage] = {}
    shipped_by: dict[str, str] = {}
    for release in releases:
        if release.arch != arch:
            raise WrongArch(f"{release.name}/{release.version} was built for {release.arch}, the node runs {arch}")
        for package in release.packages:
            if package.toolchain is not None and not package.sha256:
                needed.discard(package.name)  # a Go picf provided for compiling: nothing to ship
                continue
            if package.name in needed:
                if package.name in shipped_by and shipped_by[package.name] != release.name:
                    # One /var/vcap/packages/<name> per node, as on a BOSH VM: the director refuses this too.
                    raise Conflict(f"package {package.name} comes from two releases ({shipped_by[package.name]} and "
                                    f"{release.name}) on one node; a node can hold one package of a name")  # fmt: skip
                shipped_by[package.name] = release.name
                if package.arch != arch:
                    raise WrongArch(f"package {package.name} is {package.arch}; the node runs {arch}")
                packages[package.name] = DeployedPackage(fingerprint=package.fingerprint, sha256=package.sha256,
                                                         arch=arch)  # fmt: skip
    missing = needed - set(packages)
    if missing:
        raise MissingBuild(
            f"no compiled package {', '.join(sorted(missing))} for {arch}; build the release for {arch} "
            "(picf release build RELEASE --arch ARCH)"
        )
    return DeployState(deployment=deployment, arch=arch, packages=packages, jobs=jobs, monit_interval=monit_interval)


def plan_node(node: str, current: DeployState | None, wanted: DeployState) -> NodePlan:
    """The differences between what `node` runs (`current`, None on a fresh node) and `wanted`."""
    now = current or DeployState()
    have_pkgs, want_pkgs = now.packages, wanted.packages
    plan = NodePlan(node=node, first_deploy=current is None)
    changed_packages: set[str] = set()
    for name, pkg in sorted(want_pkgs.items()):
        old = have_pkgs.get(name)
        if old is None or old.fingerprint != pkg.fingerprint or old.sha256 != pkg.sha256:
            changed_packages.add(name)
            plan.packages_added.append(f"{name} {(pkg.fingerprint or '')[:12]} ({pkg.arch})")
            if old is not None:
                plan.packages_removed.append(f"{name} {(old.fingerprint or '?')[:12]}")
    plan.packages_removed.extend(f"{n} {(p.fingerprint or '?')[:12]}" for n, p in sorted(have_pkgs.items())
                                 if n not in want_pkgs)  # fmt: skip
    have_jobs = now.jobs
    interval_changed = now != DeployState() and now.monit_interval != wanted.monit_interval
    unverified = now.verified is False  # the last deploy switched this node but did not see its jobs run
    for name, job in sorted(wanted.jobs.items()):
        old_job = have_jobs.get(name)
        if old_job is not None and unverified:
            plan.jobs.append(JobChange(job=name, action="update", lines=["~ the last deploy here did not finish"]))
        elif old_job is None:
            plan.jobs.append(
                JobChange(job=name, action="add", lines=[f"+ {k}: {_display(v)}" for k, v in job.properties.items()])
            )
        elif old_job.hash != job.hash or interval_changed:
            plan.jobs.append(JobChange(job=name, action="update", lines=_property_diff(old_job, job)))
        elif set(job.packages) & changed_packages:
            # A new build of a package the job runs: BOSH restarts the job, and so does picf.
            lines = [f"~ package {p}: new build" for p in sorted(set(job.packages) & changed_packages)]
            plan.jobs.append(JobChange(job=name, action="update", lines=lines))
    for name in sorted(set(have_jobs) - set(wanted.jobs)):
        plan.jobs.append(JobChange(job=name, action="remove", lines=[f"- job {name}"]))
    return plan


def _display(value: Any) -> Any:
    """Secrets show as <redacted>; their hash stays in the node's state only to notice a change."""
    return "<redacted>" if isinstance(value, str) and value.startswith("<redacted>") else value


def _property_diff(old: DeployedJob, new: DeployedJob) -> list[str]:
    lines: list[str] = []
    before, after = old.properties, new.properties
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        secret = any(isinstance(v, str) and v.startswith("<redacted>") for v in (a, b))
        if secret:
            lines.append(f"~ {key}: <redacted>")
            continue
        if key in before:
            lines.append(f"- {key}: {a}")
        if key in after:
            lines.append(f"+ {key}: {b}")
    if old.release != new.release:
        lines.append(f"~ release: {old.release} -> {new.release}")
    if not lines:
        lines.append("~ templates or monit stanza changed")
    return lines


def batches(
    nodes: list[str], canaries: int, in_flight: int, kind_of: Mapping[str, str] | None = None
) -> list[list[str]]:
    """Canaries first (one batch: the first `canaries` nodes of each kind, in order; a kind is the node's
    architecture, or its board model, so every build a deploy changes is tried once before the rest), then
    groups of `in_flight`."""
    kinds = kind_of or {}
    out: list[list[str]] = []
    if canaries and nodes:
        seen: dict[str, int] = {}
        first = []
        for node in nodes:
            kind = kinds.get(node, "")
            if seen.get(kind, 0) < canaries:
                first.append(node)
                seen[kind] = seen.get(kind, 0) + 1
        out.append(first)
        nodes = [n for n in nodes if n not in first]
    out.extend(nodes[i : i + in_flight] for i in range(0, len(nodes), max(1, in_flight)))
    return out


@dataclass(frozen=True)
class Rollout:
    """The order a deploy changes its nodes in: one canary batch, then batches (decided before confirming)."""

    groups: list[list[str]]
    canaries: int
    kind_of: dict[str, str]  # node -> what its canary stands for (its arch, or its board model)
    per: str  # "arch" or "model"

    def is_canary(self, number: int) -> bool:
        """Whether batch `number` (0-based) is the canary batch."""
        return number == 0 and self.canaries > 0


def decide_rollout(
    plans: Sequence[NodePlan],
    update: Update,
    kind_of_node: Mapping[str, tuple[str, str | None]],
    canaries: int | None = None,
    max_in_flight: int | str | None = None,
) -> Rollout:
    """Where the canaries are decided: `canaries: N` is the first N changing nodes of each arch (or board model,
    with `canary_per: model`), so every build the deploy changes is tried before the rest; then batches of
    `max_in_flight`. `kind_of_node` maps a node to its (arch, model); the overrides come from the command line."""
    changing = [p.node for p in plans if not p.empty]
    count = update.canaries if canaries is None else canaries
    in_flight_spec = update.max_in_flight if max_in_flight is None else max_in_flight
    in_flight = update.model_copy(update={"max_in_flight": in_flight_spec}).in_flight(len(changing))
    if update.canary_per == "model":
        kind_of = {n: kind_of_node[n][1] or "unknown model" for n in changing}
    else:
        kind_of = {n: kind_of_node[n][0] for n in changing}
    return Rollout(batches(changing, count, in_flight, kind_of), count, kind_of, update.canary_per)


def render_rollout(groups: list[list[str]], canaries: int, kind_of: Mapping[str, str], per: str) -> list[str]:
    """How the plan rolls out, for the person confirming it: which nodes are canaries and why."""
    if not groups:
        return []
    lines = []
    rest = groups
    if canaries:
        named = ", ".join(f"{n} ({kind_of.get(n, '?')})" for n in groups[0])
        lines.append(f"canaries: {named}: the first {canaries} changing node(s) of each {per} this deploy changes")
        rest = groups[1:]
    if rest:
        lines.append(f"then {len(rest)} batch(es): " + "; ".join(", ".join(g) for g in rest))
    return lines


def render_plan(plans: Sequence[NodePlan]) -> list[str]:
    """The plan as lines a person reads, BOSH style."""
    lines: list[str] = []
    for plan in plans:
        if plan.empty:
            continue
        lines.append(f"node {plan.node}{' (first deploy)' if plan.first_deploy else ''}")
        if plan.reboot:
            lines.append(f"  ~ reboot: {plan.reboot}")
        lines.extend(f"  + package {p}" for p in plan.packages_added)
        lines.extend(f"  - package {p}" for p in plan.packages_removed)
        for job in plan.jobs:
            lines.append(f"  {'+' if job.action == 'add' else '-' if job.action == 'remove' else '~'} job {job.job}")
            lines.extend(f"      {line}" for line in job.lines)
    return lines
