"""`picf deploy` from start to end: inputs, plan, confirm, canaries then batches, record.

Deciding lives in `plan.py` and `render.py`; doing in `execute.py` (Ansible) and `nodes.py` (SSH reads).
This module strings them together and keeps the user informed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from picf import remote
from picf.deploy import execute, nodes
from picf.deploy import vars as varstore
from picf.deploy.agent import ssh_agent_for
from picf.deploy.bundle import write_bundle
from picf.deploy.history import History, state_dir
from picf.deploy.manifest_file import read_manifest
from picf.deploy.plan import PlanError, batches, plan_node, render_plan, render_rollout, wanted_state
from picf.deploy.render import JobSource, RenderedJob, render_job
from picf.inventory import read_inventory
from picf.models.health import steady_seconds
from picf.models.manifest import JobRef, Manifest, NodePlan, parse_watch_time
from picf.models.node import Node
from picf.models.release import CompiledRelease
from picf.releases.store import Store

Say = Callable[[str], None]


@dataclass
class DeployOptions:
    inventory: Path
    manifest: Path
    dry_run: bool = False
    canaries: int | None = None
    max_in_flight: int | str | None = None
    only: str | None = None
    confirm: Callable[[list[str]], bool] = lambda _: True
    say: Say = lambda _: None
    on_event: Callable[[dict[str, Any]], None] = lambda _: None
    cancelled: threading.Event = field(default_factory=threading.Event)
    creds: Path | None = None
    become_password: str | None = field(default=None, repr=False)  # sudo's, for nodes that ask; memory only


@dataclass
class DeployResult:
    exit_code: int  # 0 ok, 1 failed rollout or refused, 3 unreachable nodes
    message: str
    plan_lines: list[str] = field(default_factory=list)
    plans: list[NodePlan] = field(default_factory=list)
    deployment: int | None = None
    secrets: set[str] = field(default_factory=set)


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
                raise PlanError(f"{node.name}: job {job.name} comes from two roles with different properties")
            jobs[job.name] = job
    return list(jobs.values())


def _compiled(manifest: Manifest, arches: set[str], store: Store) -> dict[tuple[str, str], CompiledRelease]:
    out: dict[tuple[str, str], CompiledRelease] = {}
    for ref in manifest.releases:
        for arch in sorted(arches):
            found = [r for r in store.release(ref.name, ref.version, arch) if r.patched == ref.patched]
            if not found:
                flag = " --patch" if ref.patched else ""
                raise PlanError(
                    f"no compiled {ref.name}/{ref.version} for {arch}{' (patched)' if ref.patched else ''}; "
                    f"build it: picf release build <release dir> --arch {arch}{flag}"
                )
            out[(ref.name, arch)] = found[0]
    return out


def deploy(options: DeployOptions) -> DeployResult:
    """Plan, then (unless a dry run or an empty plan) execute; record the deployment in the history."""
    say = options.say
    cluster = read_inventory(options.inventory).cluster
    manifest, manifest_hash = read_manifest(options.manifest)
    scope = _nodes_in_scope(manifest, cluster.nodes, options.only)
    if not scope:
        roles = ", ".join(manifest.roles) or "none"
        matching = " matching --only" if options.only else ""
        return DeployResult(2, f"no node in {options.inventory} has a role of {options.manifest} ({roles}){matching}")
    unknown_arch = [n.name for n in scope if n.arch is None]
    if unknown_arch:
        return DeployResult(2, f"arch unknown for {', '.join(unknown_arch)}: set it or run `picf discover --write`")
    by_name = {n.name: n for n in scope}
    creds = options.creds or options.manifest.parent / "creds.yml"
    variables = varstore.ensure(creds, manifest.variables)
    secrets = varstore.secret_values(variables)
    store = Store()
    compiled = _compiled(manifest, {str(n.arch) for n in scope}, store)

    work = Path(tempfile.mkdtemp(prefix="picf-deploy-"))
    try:
        sources: dict[tuple[str, str, str], JobSource] = {}
        rendered: dict[str, list[RenderedJob]] = {}
        wanted: dict[str, dict[str, Any]] = {}
        for index, node in enumerate(scope):
            jobs_state: dict[str, Any] = {}
            rendered[node.name] = []
            for ref in _jobs_for(manifest, node):
                release = compiled[(ref.release, str(node.arch))]
                compiled_job = next((j for j in release.jobs if j.name == ref.name), None)
                if compiled_job is None:
                    raise PlanError(f"release {release.name}/{release.version} has no job {ref.name}")
                key = (release.name, str(node.arch), ref.name)
                if key not in sources:
                    sources[key] = JobSource.unpack(store.blob(compiled_job.sha256), work / "jobs-src" / "-".join(key))
                job = render_job(sources[key], ref, f"{release.name}/{release.version}", node, index, manifest.name,
                                 variables)  # fmt: skip
                secrets |= job.secrets
                rendered[node.name].append(job)
                jobs_state[job.name] = {"hash": job.hash, "release": job.release, "properties": job.properties,
                                        "packages": list(compiled_job.packages)}  # fmt: skip
            node_releases = [compiled[(r.name, str(node.arch))] for r in manifest.releases]
            wanted[node.name] = wanted_state(manifest.name, str(node.arch), node_releases, jobs_state,
                                             manifest.monit_interval)  # fmt: skip

        remote.load_identity(cluster.ssh)  # a locked or missing key stops here, before any node is asked
        say(f"reading the state of {len(scope)} node(s) ...")
        found = nodes.read_states(cluster, scope, cluster.ssh.connect_timeout, become_password=options.become_password)
        reports = {r.node: r for r in found}
        down = {name: r.error for name, r in reports.items() if r.error}
        if down:
            lines = [f"{name}: {error}" for name, error in sorted(down.items())]
            return DeployResult(3, "unreachable: " + "; ".join(lines), secrets=secrets)
        for report in reports.values():
            for line in report.notes:
                say(line)
        plans = [plan_node(n.name, reports[n.name].state, wanted[n.name]) for n in scope]
        for plan in plans:
            plan.reboot = _reboot_reason(cluster, by_name[plan.node], reports[plan.node])
        lines = render_plan(plans)
        if not lines:
            return DeployResult(0, "nothing to do: every node runs what the manifest wants", [], plans, secrets=secrets)
        rollout = _rollout_order(options, manifest, plans, by_name)
        lines += render_rollout(rollout.groups, rollout.canaries, rollout.kind_of, manifest.update.canary_per)
        # Root is needed only where something changes; checked before anything does.
        changing_nodes = [by_name[p.node] for p in plans if not p.empty]
        refused = _privilege_problem(cluster.ssh.user, changing_nodes, reports, options.become_password is not None)
        if options.dry_run:
            message = "dry run: nothing changed" + (f"; a deploy would stop: {refused[1]}" if refused else "")
            return DeployResult(0, message, lines, plans, secrets=secrets)
        if refused is not None:
            return DeployResult(refused[0], refused[1], lines, plans, secrets=secrets)
        if not options.confirm(lines):
            return DeployResult(1, "not deployed", lines, plans, secrets=secrets)

        history = History()
        releases_json = [{"name": r.name, "version": r.version, "patched": r.patched} for r in manifest.releases]
        deployment = history.start(manifest.name, manifest_hash, options.manifest.read_text(),
                                   str(options.inventory.resolve()), releases_json)  # fmt: skip
        try:
            result = _execute(
                options, manifest, cluster, scope, plans, rendered, wanted, compiled, reports, work, history,
                deployment, secrets, rollout,
            )  # fmt: skip
        except BaseException as exc:
            history.finish(deployment, "failed", f"picf stopped: {type(exc).__name__}: {exc}")
            raise
        result.plan_lines, result.plans, result.deployment, result.secrets = lines, plans, deployment, secrets
        return result
    finally:
        keep = os.environ.get("PICF_KEEP_DEPLOY_DIR")  # for bench/deploy.py: it holds rendered configuration
        if keep:
            shutil.copytree(work, keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def _privilege_problem(
    user: str, scope: list[Node], reports: dict[str, nodes.NodeReport], have_password: bool
) -> tuple[int, str] | None:
    """Why picf cannot become root on some node (checked before anything changes), with the exit code."""
    missing = [n.name for n in scope if reports[n.name].sudo == "missing"]
    if missing:
        return 1, (f"{', '.join(missing)}: sudo is not installed, and picf gets root only through sudo as {user} "
                   "(it never logs in as root); install sudo on the node (apt-get install sudo)")  # fmt: skip
    asking = [n.name for n in scope if reports[n.name].sudo == "password"]
    if asking and not have_password:
        return 2, (f"{', '.join(asking)}: sudo asks for {user}'s password; pass -K/--ask-become-pass "
                   "(asked once) or set PICF_BECOME_PASSWORD")  # fmt: skip
    wrong = [n.name for n in scope if reports[n.name].become_password_ok is False]
    if wrong:
        return 1, (f"{', '.join(wrong)}: sudo refused the password for {user}; check it and run again "
                   "(nothing was changed)")  # fmt: skip
    return None


def _reboot_reason(cluster: Any, node: Node, report: nodes.NodeReport) -> str | None:
    """A reboot this deploy must do on `node`: a role needs the memory cgroup and the kernel runs without it."""
    needing = [r for r in node.roles if (role := cluster.all_roles.get(r)) is not None and role.needs_memory_cgroup]
    if not needing or report.memory_cgroup is not False:
        return None
    return f"turn the memory cgroup on (cgroup_enable=memory in cmdline.txt; {', '.join(needing)} needs it)"


def _needs_memory_cgroup(cluster: Any, node: Node) -> bool:
    return any((role := cluster.all_roles.get(r)) is not None and role.needs_memory_cgroup for r in node.roles)


@dataclass(frozen=True)
class Rollout:
    """The order a deploy changes its nodes in: one canary batch, then batches (decided before confirming)."""

    groups: list[list[str]]
    canaries: int
    kind_of: dict[str, str]  # node -> what its canary stands for (its arch, or its board model)


def _rollout_order(
    options: DeployOptions, manifest: Manifest, plans: list[NodePlan], by_name: dict[str, Node]
) -> Rollout:
    update = manifest.update
    changing = [p.node for p in plans if not p.empty]
    canaries = update.canaries if options.canaries is None else options.canaries
    in_flight_spec = update.max_in_flight if options.max_in_flight is None else options.max_in_flight
    in_flight = update.model_copy(update={"max_in_flight": in_flight_spec}).in_flight(len(changing))
    if update.canary_per == "model":
        kind_of = {n: str(by_name[n].model) if by_name[n].model else "unknown model" for n in changing}
    else:
        kind_of = {n: str(by_name[n].arch) for n in changing}
    return Rollout(batches(changing, canaries, in_flight, kind_of), canaries, kind_of)


def _redact(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


def _execute(
    options: DeployOptions,
    manifest: Manifest,
    cluster: Any,
    scope: list[Node],
    plans: list[NodePlan],
    rendered: dict[str, list[RenderedJob]],
    wanted: dict[str, dict[str, Any]],
    compiled: dict[tuple[str, str], CompiledRelease],
    reports: dict[str, nodes.NodeReport],
    work: Path,
    history: History,
    deployment: int,
    secrets: set[str],
    rollout: Rollout,
) -> DeployResult:
    store = Store()
    changing = [p.node for p in plans if not p.empty]
    by_name = {n.name: n for n in scope}
    known_hosts = work / "known_hosts"
    known_hosts.write_text("".join(f"{reports[name].known_hosts}\n" for name in changing))
    known_hosts.chmod(0o600)
    hosts: dict[str, Any] = {}
    for name in changing:
        node = by_name[name]
        plan = next(p for p in plans if p.node == name)
        state = wanted[name]
        packages = []
        for release in (compiled[(r.name, str(node.arch))] for r in manifest.releases):
            packages += [{"name": p.name, "fingerprint": p.fingerprint, "blob": str(store.blob(p.sha256))}
                         for p in release.packages if p.name in state["packages"]]  # fmt: skip
        changed_jobs = [j.job for j in plan.jobs if j.action in {"add", "update"}]
        deploy_id = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
        stage = work / "stage" / name
        write_bundle(stage, deploy_id, packages, rendered[name], state)
        hosts[name] = {
            "ansible_host": reports[name].ip or node.address,
            "picf_memory_cgroup": plan.reboot is not None or _needs_memory_cgroup(cluster, node),
            "picf_stage": str(stage),
            "picf_packages": packages,
            "picf_jobs_changed": changed_jobs,
            "picf_deploy_id": deploy_id,
            "picf_monit_interval": manifest.monit_interval,
        }
    key_file = Path(cluster.ssh.private_key).expanduser()
    connection_vars: dict[str, Any] = {"ansible_user": cluster.ssh.user, "ansible_port": cluster.ssh.port}
    if key_file.is_file():  # a key only the user's ssh-agent holds has no file
        connection_vars["ansible_ssh_private_key_file"] = str(key_file)
    inventory = {"all": {"hosts": hosts, "vars": connection_vars}}
    # SSH control sockets outlive a deploy by design (ControlPersist): keep them out of the work dir.
    control_dir = state_dir() / "ssh"
    control_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = execute.ansible_env(known_hosts, control_dir, cluster.ssh.connect_timeout)

    def on_event(event: dict[str, Any]) -> None:
        if "message" in event:
            event["message"] = _redact(str(event["message"]), secrets)
        history.event(deployment, event["event"], event.get("host"), event)
        options.on_event(event)

    with ssh_agent_for(remote.load_identity(cluster.ssh), work / "agent") as agent_env:
        env.update(agent_env)
        return _rollout(options, manifest, plans, rollout, inventory, env, work, history, deployment, secrets,
                        on_event)  # fmt: skip


def _rollout(
    options: DeployOptions,
    manifest: Manifest,
    plans: list[NodePlan],
    rollout: Rollout,
    inventory: dict[str, Any],
    env: dict[str, str],
    work: Path,
    history: History,
    deployment: int,
    secrets: set[str],
    on_event: Callable[[dict[str, Any]], None],
) -> DeployResult:
    """Canaries, then batches; stop at the first batch that fails."""
    say = options.say
    update = manifest.update
    started = time.monotonic()
    done: list[str] = []
    groups = rollout.groups
    for number, group in enumerate(groups):
        is_canary = number == 0 and rollout.canaries > 0
        low, high = parse_watch_time(update.canary_watch_time if is_canary else update.update_watch_time)
        say(f"{'canary' if is_canary else 'batch'} {number + 1}/{len(groups)}: {', '.join(group)}")
        # The watch's "running steadily" is the health detector's: one pid for longer than a monit cycle.
        extravars = {"picf_watch_low": low, "picf_watch_high": high,
                     "picf_watch_stable": steady_seconds(manifest.monit_interval),
                     "picf_reboot_timeout": manifest.reboot_timeout}  # fmt: skip
        result = execute.run_batch(
            group, inventory, extravars, work / f"run-{number}", env, on_event, options.cancelled,
            become_password=options.become_password,
        )  # fmt: skip
        if result.status == "canceled" or options.cancelled.is_set():
            for name in group:
                history.node_result(deployment, name, "cancelled")
            message = f"cancelled during {'canary' if is_canary else 'batch'} {number + 1}; rerun to converge"
            history.finish(deployment, "cancelled", message)
            return DeployResult(1, message)
        problems = {**{h: f"unreachable: {m}" for h, m in result.unreachable.items()}, **result.failed}
        for name in group:
            history.node_result(deployment, name, "failed" if name in problems else "ok", problems.get(name, ""))
        if problems or result.status != "successful":
            failing = sorted(problems) or group
            details = "\n".join(f"  {h}: {_redact(problems.get(h, result.status), secrets)}" for h in failing)
            jobs = sorted({j.job for p in plans if p.node in failing for j in p.jobs})
            if is_canary:
                kinds = sorted({rollout.kind_of.get(h, "?") for h in failing})
                what = f"the {'/'.join(kinds)} canary"
                left = f"no other {'/'.join(kinds)} node was touched"
            else:
                what, left = f"batch {number + 1}", "nodes not yet updated were left as they were"
            message = (f"Error: {what} failed on {', '.join(failing)}; review the failing jobs "
                       f"({', '.join(jobs) or 'none'}) below; {left}.\n{details}")  # fmt: skip
            history.finish(deployment, "failed", message)
            return DeployResult(1, message)
        done.extend(group)
    seconds = time.monotonic() - started
    message = f"deployed to {len(done)} node(s) in {seconds:.1f} s"
    history.finish(deployment, "succeeded", message)
    return DeployResult(0, message)
