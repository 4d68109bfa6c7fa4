"""Decide a deploy: read the inputs, render every job, ask each node what it runs, plan, pick the canaries.

`prepare_deploy` changes nothing anywhere: it returns the `DeployPlan` a person confirms (what changes on each
node, the canaries and batches; `plan_lines` shows it) with the `DeployWorkspace` the deploy holds until it ends
(the cluster lock, a private work directory, the secrets to redact; freed by `close()`). As ansible-runner
splits its config from its run, deciding and doing are two calls, so the CLI and the dashboard can show the
plan and ask in their own way in between.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from picf.deploy import nodes
from picf.deploy import vars as varstore
from picf.deploy.base import base_fingerprint, is_prepared
from picf.deploy.connection import Connection, mitogen_strategies
from picf.deploy.connection import choose as choose_connection
from picf.deploy.links import Group
from picf.deploy.lock import ClusterLock
from picf.deploy.manifest_file import read_manifest
from picf.deploy.plan import (
    Conflict,
    MissingBuild,
    Rollout,
    decide_rollout,
    plan_node,
    render_plan,
    render_rollout,
    wanted_state,
)
from picf.deploy.render import JobLibrary, RenderedJob, check_processes, render_deployment
from picf.deploy.timings import DeployTimings
from picf.deploy.workspace import DeployWorkspace, new_work_directory
from picf.errors import PicfError, Unreachable, UsageError
from picf.inventory import read_inventory
from picf.models.cluster import Cluster
from picf.models.deploy_state import DeployedJob, DeployState
from picf.models.health import steady_seconds
from picf.models.manifest import JobRef, Manifest, NodePlan, parse_watch_time
from picf.models.node import Node
from picf.models.release import CompiledRelease
from picf.progress import Say, quiet
from picf.releases.store import Store
from picf.transport import SSH, Transport, load_identity


class Refused(PicfError):
    """A deploy picf will not start: it could not become root on a node it would change."""


@dataclass
class DeployRequest:
    """What the user asked for: which cluster, which manifest, and the command line's overrides."""

    inventory: Path
    manifest: Path
    canaries: int | None = None
    max_in_flight: int | str | None = None
    only: str | None = None
    creds: Path | None = None  # the vars store; default: creds.yml beside the manifest
    become_password: str | None = field(default=None, repr=False)  # sudo's, for nodes that ask; memory only
    manifest_text: str | None = field(default=None, repr=False)  # a rollback's manifest, read from the history
    lock: bool = True  # hold the cluster's deploy lock from planning to the end (not for a dry run or an export)
    wait_for_lock: bool = False  # wait for a running deploy of the cluster to end instead of refusing
    connection: str = "auto"  # how Ansible reaches the nodes: auto (Mitogen when installed), mitogen or ssh
    recreate: bool = False  # picf recreate: what picf put on the nodes in scope is cleared and deployed afresh
    preflight: bool = True  # try each changed job on an emulated node of its arch before touching any node
    export: bool = False  # for plain ansible-playbook, later: bundles carry every package version, no node skips base

    @property
    def vars_store(self) -> Path:
        """The vars store this deploy reads its credentials from (and adds new ones to)."""
        return self.creds or varstore.store_beside(self.manifest)


@dataclass(frozen=True)
class NodeDeploy:
    """What the deploy does on one node it changes, decided with the plan."""

    memory_cgroup: bool  # a role of the node needs the memory cgroup: the base role turns it on
    base_fingerprint: str  # what the base role records on the node once it ran as it is now
    skips_base: bool  # the node was found prepared by the base role as it is now
    ships: frozenset[str]  # NAME/FINGERPRINT of the package versions its bundle carries (the ones it lacks)


@dataclass(frozen=True)
class BatchWatch:
    """How long a batch's jobs are watched (ms), what running steadily means (s), and the node lock's lease (s):
    long enough for the node's reboot and its watch, so a lock a dead controller left expires."""

    low: int
    high: int
    stable: int
    reboot_timeout: int
    lease: int


@dataclass(frozen=True)
class DeployPlan:
    """What a deploy will do, as the person confirming it decides: the nodes it changes and how, in which order,
    what each node gets, and whether it would be refused. `plan_lines` shows it."""

    request: DeployRequest
    cluster: Cluster
    manifest: Manifest
    manifest_hash: str
    manifest_text: str
    scope: tuple[Node, ...]
    node_plans: tuple[NodePlan, ...]
    rollout: Rollout
    rendered: dict[str, list[RenderedJob]]
    wanted: dict[str, DeployState]
    compiled: dict[tuple[str, str], CompiledRelease]
    reports: dict[str, nodes.NodeReport]
    on_node: dict[str, NodeDeploy]  # the nodes it changes
    watch: dict[bool, BatchWatch]  # is the batch the canary batch -> its watch
    refused: Refused | None = None  # why a deploy would stop before changing anything (privilege)
    connection: Connection = field(default_factory=lambda: Connection("ssh"))

    @property
    def nothing_to_do(self) -> bool:
        """Every node already runs what the manifest wants."""
        return all(p.empty for p in self.node_plans)

    @property
    def changing(self) -> list[str]:
        """The nodes this deploy changes, in inventory order."""
        return [p.node for p in self.node_plans if not p.empty]

    def stopped_jobs(self) -> dict[str, tuple[str, ...]]:
        """Per node, the jobs `picf stop` stopped that this deploy still runs there (it keeps them stopped)."""
        out: dict[str, tuple[str, ...]] = {}
        for node in self.scope:
            report = self.reports.get(node.name)
            wanted = self.wanted.get(node.name, DeployState()).jobs
            jobs = tuple(sorted(j for j in (report.stopped if report else ()) if j in wanted))
            if jobs:
                out[node.name] = jobs
        return out

    def node(self, name: str) -> Node:
        """The inventory's node `name` (one this deploy covers)."""
        return next(n for n in self.scope if n.name == name)

    def node_plan(self, name: str) -> NodePlan:
        """What the deploy changes on node `name`."""
        return next(p for p in self.node_plans if p.node == name)


def plan_lines(plan: DeployPlan) -> list[str]:
    """The plan and its rollout, as the person confirming it reads them (none when there is nothing to do)."""
    lines = render_plan(plan.node_plans)
    if lines:
        rollout = plan.rollout
        lines += render_rollout(rollout.groups, rollout.canaries, rollout.kind_of, rollout.per)
    stopped = [f"{node}/{job}" for node, jobs in plan.stopped_jobs().items() for job in jobs]
    if stopped:
        lines.append(f"stopped with picf stop, kept stopped: {', '.join(stopped)} (--start starts them)")
    return lines


@dataclass(frozen=True)
class Prepared:
    """A decided deploy and what it holds until it ends: `with prepare_deploy(request) as prepared:` frees the
    workspace (lock, work directory) on the way out, whether or not the plan was carried out."""

    plan: DeployPlan
    workspace: DeployWorkspace
    timings: DeployTimings  # so far: how long deciding took; `execute` adds the rest

    def close(self) -> None:
        """Free the workspace: remove the work directory, release the lock."""
        self.workspace.close()

    def __enter__(self) -> Prepared:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def prepare_deploy(request: DeployRequest, say: Say = quiet, transport: Transport = SSH) -> Prepared:
    """Read, render, ask the nodes and plan; change nothing. PicfError (with its exit code) when the deploy
    cannot even be planned: no node in scope, an unknown arch, a missing build, an unreachable node, another
    deploy of the cluster running (ClusterLocked)."""
    cluster = read_inventory(request.inventory).cluster
    # A bad --connection stops here, before any lock or node.
    connection = choose_connection(request.connection, mitogen_strategies())
    lock = ClusterLock(request.inventory) if request.lock else None
    if lock is not None:
        lock.acquire(request.wait_for_lock, say)
    try:
        return _prepare(request, cluster, connection, lock, say, transport)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def _prepare(
    request: DeployRequest,
    cluster: Cluster,
    connection: Connection,
    lock: ClusterLock | None,
    say: Say,
    transport: Transport,
) -> Prepared:
    started = time.monotonic()
    manifest, manifest_hash, manifest_text = read_manifest(request.manifest, request.manifest_text)
    scope = _nodes_in_scope(manifest, cluster.nodes, request.only)
    if not scope:
        roles = ", ".join(manifest.roles) or "none"
        matching = " matching --only" if request.only else ""
        raise UsageError(f"no node in {request.inventory} has a role of {request.manifest} ({roles}){matching}")
    unknown_arch = [n.name for n in scope if n.arch is None]
    if unknown_arch:
        raise UsageError(f"arch unknown for {', '.join(unknown_arch)}: set it or run `picf discover --write`")
    variables = varstore.ensure(request.vars_store, manifest.variables)
    secrets = varstore.secret_values(variables)
    compiled = _compiled(manifest, {str(n.arch) for n in scope}, Store())

    work = new_work_directory(say)
    try:
        load_identity(cluster.ssh)  # a locked or missing key stops here, before any node is asked
        say(f"reading the state of {len(scope)} node(s) ...")
        found = nodes.read_states(cluster, scope, cluster.ssh.connect_timeout, become_password=request.become_password,
                                  transport=transport)  # fmt: skip
        reports = {r.node: r for r in found}
        down = {name: r.error for name, r in reports.items() if r.error}
        if down:
            raise Unreachable("unreachable: " + "; ".join(f"{name}: {error}" for name, error in sorted(down.items())))
        for report in reports.values():
            for line in report.notes:
                say(line)
        if request.recreate:  # planned as a first deploy: every package shipped, the node prepared again
            reports = {name: dataclasses.replace(r, state=None, packages=frozenset(), prepared_mark=None)
                       for name, r in reports.items()}  # fmt: skip
        rendered, wanted = _render(manifest, cluster, scope, compiled, variables, reports, secrets)
        by_name = {n.name: n for n in scope}
        plans = [plan_node(n.name, reports[n.name].state, wanted[n.name]) for n in scope]
        for node_plan in plans:
            node_plan.reboot = _reboot_reason(cluster, by_name[node_plan.node], reports[node_plan.node])
        kinds = {n.name: (str(n.arch), str(n.model) if n.model else None) for n in scope}
        rollout = decide_rollout(plans, manifest.update, kinds, request.canaries, request.max_in_flight)
        # Root is needed only where something changes; checked before anything does.
        changing = [by_name[p.node] for p in plans if not p.empty]
        # A deploy that changes anything ends with every node's post-deploy scripts, as root too.
        has_post_deploy = {n.name for n in scope if any("post-deploy" in j.lifecycle for j in rendered[n.name])}
        post_deploy = [n for n in scope if changing and n not in changing and n.name in has_post_deploy]
        refused = _privilege_problem(cluster.ssh.user, [*changing, *post_deploy], reports,
                                     request.become_password is not None)  # fmt: skip
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    on_node = {n.name: _node_deploy(manifest, cluster, n, reports[n.name], wanted[n.name], request.export)
               for n in changing}  # fmt: skip
    plan = DeployPlan(
        request=request, cluster=cluster, manifest=manifest, manifest_hash=manifest_hash,
        manifest_text=manifest_text, scope=tuple(scope), node_plans=tuple(plans), rollout=rollout,
        rendered=rendered, wanted=wanted, compiled=compiled, reports=reports, on_node=on_node,
        watch={canary: _batch_watch(manifest, canary) for canary in (True, False)}, refused=refused,
        connection=connection,
    )  # fmt: skip
    workspace = DeployWorkspace(work, lock, frozenset(secrets))
    return Prepared(plan, workspace, DeployTimings(plan_seconds=time.monotonic() - started))


def _node_deploy(
    manifest: Manifest, cluster: Cluster, node: Node, report: nodes.NodeReport, wanted: DeployState, export: bool
) -> NodeDeploy:
    """What the deploy does on `node`: an export runs later, on nodes as they are then, so its bundles carry
    every package version and its nodes run the base role."""
    memory_cgroup = bool(memory_cgroup_roles(cluster, node))
    fingerprint = base_fingerprint(manifest.monit_interval, memory_cgroup)
    versions = {f"{name}/{p.fingerprint}" for name, p in wanted.packages.items()}
    return NodeDeploy(
        memory_cgroup=memory_cgroup,
        base_fingerprint=fingerprint,
        skips_base=not export and is_prepared(report, fingerprint, memory_cgroup),
        ships=frozenset(versions if export else versions - report.packages),
    )


def _batch_watch(manifest: Manifest, canary: bool) -> BatchWatch:
    low, high = parse_watch_time(manifest.update.canary_watch_time if canary else manifest.update.update_watch_time)
    # The watch's "running steadily" is the health detector's: one pid for longer than a monit cycle.
    return BatchWatch(low, high, steady_seconds(manifest.monit_interval), manifest.reboot_timeout,
                      lease=manifest.reboot_timeout + high // 1000 + 300)  # fmt: skip


def _render(
    manifest: Manifest,
    cluster: Cluster,
    scope: list[Node],
    compiled: dict[tuple[str, str], CompiledRelease],
    variables: dict[str, Any],
    reports: dict[str, nodes.NodeReport],
    secrets: set[str],
) -> tuple[dict[str, list[RenderedJob]], dict[str, DeployState]]:
    """Every node's rendered jobs and the state it should report afterwards (adds rendered secrets)."""
    groups = [Group(role, tuple(n for n in cluster.nodes if role in n.roles), group.jobs)
              for role, group in manifest.roles.items()]  # fmt: skip
    for node in scope:
        _jobs_for(manifest, node)  # a job two of its roles run with different properties stops here
    addresses = {n.name: (_ip(n, reports.get(n.name)), n.address) for n in cluster.nodes}
    library = JobLibrary(compiled)
    by_node = render_deployment(manifest.name, groups, library, variables, addresses, {n.name for n in scope})
    rendered: dict[str, list[RenderedJob]] = {}
    wanted: dict[str, DeployState] = {}
    for node in scope:
        jobs: dict[str, RenderedJob] = {}
        for job in by_node[node.name]:
            jobs.setdefault(job.name, job)  # the same job from two roles: rendered once per role, run once
        rendered[node.name] = list(jobs.values())
        jobs_state: dict[str, DeployedJob] = {}
        for job in rendered[node.name]:
            check_processes(job, node.name)
            secrets |= job.secrets
            jobs_state[job.name] = DeployedJob(hash=job.hash, release=job.release, properties=job.properties,
                                               packages=list(job.packages), processes=list(job.processes),
                                               lifecycle=list(job.lifecycle))  # fmt: skip
        node_releases = [compiled[(r.name, str(node.arch))] for r in manifest.releases]
        wanted[node.name] = wanted_state(manifest.name, str(node.arch), node_releases, jobs_state,
                                         manifest.monit_interval)  # fmt: skip
    return rendered, wanted


def _ip(node: Node, report: nodes.NodeReport | None) -> str:
    """The address SSH reached (an mDNS name resolved once), else the inventory's."""
    return report.ip if report is not None and report.ip else node.address


def _nodes_in_scope(manifest: Manifest, cluster_nodes: tuple[Node, ...], only: str | None) -> list[Node]:
    chosen = [n for n in cluster_nodes if set(n.roles) & set(manifest.roles)]
    if only:
        chosen = [n for n in chosen if only in {n.name, *n.roles}]
    return chosen


def _jobs_for(manifest: Manifest, node: Node) -> list[JobRef]:
    jobs: dict[str, JobRef] = {}
    for role in node.roles:
        group = manifest.roles.get(role)
        for job in group.jobs if group else ():
            if job.name in jobs and jobs[job.name] != job:
                raise Conflict(f"{node.name}: job {job.name} comes from two roles with different properties")
            jobs[job.name] = job
    return list(jobs.values())


def _compiled(manifest: Manifest, arches: set[str], store: Store) -> dict[tuple[str, str], CompiledRelease]:
    out: dict[tuple[str, str], CompiledRelease] = {}
    for ref in manifest.releases:
        for arch in sorted(arches):
            found = [r for r in store.release(ref.name, ref.version, arch) if r.patched == ref.patched]
            if not found:
                flag = " --patch" if ref.patched else ""
                raise MissingBuild(
                    f"no compiled {ref.name}/{ref.version} for {arch}{' (patched)' if ref.patched else ''}; "
                    f"build it: picf release build <release dir> --arch {arch}{flag}"
                )
            out[(ref.name, arch)] = found[0]
    return out


def _privilege_problem(
    user: str, scope: list[Node], reports: dict[str, nodes.NodeReport], have_password: bool
) -> Refused | None:
    """Why picf cannot become root on some node (checked before anything changes), with the exit code."""
    missing = [n.name for n in scope if reports[n.name].sudo == "missing"]
    if missing:
        return Refused(f"{', '.join(missing)}: sudo is not installed, and picf gets root only through sudo as {user} "
                       "(it never logs in as root); install sudo on the node (apt-get install sudo)",
                       exit_code=1)  # fmt: skip
    asking = [n.name for n in scope if reports[n.name].sudo == "password"]
    if asking and not have_password:
        return Refused(f"{', '.join(asking)}: sudo asks for {user}'s password; pass -K/--ask-become-pass "
                       "(asked once) or set PICF_BECOME_PASSWORD", exit_code=2)  # fmt: skip
    wrong = [n.name for n in scope if reports[n.name].become_password_ok is False]
    if wrong:
        return Refused(f"{', '.join(wrong)}: sudo refused the password for {user}; check it and run again "
                       "(nothing was changed)", exit_code=1)  # fmt: skip
    return None


def memory_cgroup_roles(cluster: Cluster, node: Node) -> list[str]:
    """The node's roles that need the memory cgroup."""
    return [r for r in node.roles if (role := cluster.all_roles.get(r)) is not None and role.needs_memory_cgroup]


def _reboot_reason(cluster: Cluster, node: Node, report: nodes.NodeReport) -> str | None:
    """A reboot this deploy must do on `node`: a role needs the memory cgroup and the kernel runs without it."""
    needing = memory_cgroup_roles(cluster, node)
    if not needing or report.memory_cgroup is not False:
        return None
    return f"turn the memory cgroup on (cgroup_enable=memory in cmdline.txt; {', '.join(needing)} needs it)"
