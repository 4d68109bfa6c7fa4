"""Do a prepared deploy: canaries, then batches, through ansible-runner; stop at the first batch that fails.

`execute(prepared, on_event, cancelled)` is the only call that changes nodes. It records the deployment in the
history (start, every event redacted, each node's result, the end) and returns how it went.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picf import transport
from picf.deploy import playbook_run
from picf.deploy.agent import ssh_agent_for
from picf.deploy.bundle import write_bundle
from picf.deploy.ended import DeployEnded, nothing_to_do
from picf.deploy.history import History, state_dir
from picf.deploy.lock import node_lock_owner
from picf.deploy.plays import (
    POST_DEPLOY_GROUP,
    batch_of_play,
    inventory_groups,
    prepared_nodes,
    rollout_plays,
)
from picf.deploy.preflight import run_preflight
from picf.deploy.prepare import DeployPlan, Prepared
from picf.deploy.timings import DeployTimings
from picf.deploy.workspace import DeployWorkspace
from picf.models.deploy_event import AnsibleEvent, DeployEvent, PreflightChecked
from picf.progress import Say, quiet
from picf.releases.store import Store

OnDeployEvent = Callable[[DeployEvent], None]


def _ignore(_: DeployEvent) -> None:
    return None


@dataclass(frozen=True)
class AnsibleInputs:
    """What the playbooks need for a prepared deploy: the inventory (with per-host variables), the pinned
    known_hosts, and the per-batch variables; written into `stage` (bundles, known_hosts)."""

    inventory: dict[str, Any]
    known_hosts: Path
    watch_vars: dict[bool, dict[str, Any]]  # is the batch a canary batch -> extravars


def ansible_inputs(plan: DeployPlan, stage: Path) -> AnsibleInputs:
    """Write each changing node's bundle and the pinned known_hosts under `stage`; return the inventory. What
    each bundle carries, whether a node skips the base role and the locks' lease are the plan's decisions."""
    store = Store()
    manifest = plan.manifest
    known_hosts = stage / "known_hosts"
    stage.mkdir(parents=True, exist_ok=True)
    # Every node of the deploy whose jobs have a post-deploy script runs it at the end, changed or not.
    post_deploy = {n.name: [j.name for j in plan.rendered[n.name] if "post-deploy" in j.lifecycle]
                   for n in plan.scope}  # fmt: skip
    reached = [n.name for n in plan.scope if n.name in plan.changing or post_deploy[n.name]]
    known_hosts.write_text("".join(f"{plan.reports[name].known_hosts}\n" for name in reached))
    known_hosts.chmod(0o600)
    hosts: dict[str, Any] = {}
    for name in plan.changing:
        node = plan.node(name)
        report = plan.reports[name]
        node_plan = plan.node_plan(name)
        state = plan.wanted[name]
        packages = []
        for release in (plan.compiled[(r.name, str(node.arch))] for r in manifest.releases):
            packages += [{"name": p.name, "fingerprint": p.fingerprint, "blob": str(store.blob(p.sha256))}
                         for p in release.packages if p.name in state.packages]  # fmt: skip
        decided = plan.on_node[name]
        shipped = [p for p in packages if f"{p['name']}/{p['fingerprint']}" in decided.ships]
        changed_jobs = [j.job for j in node_plan.jobs if j.action in {"add", "update"}]
        removed_jobs = [j.job for j in node_plan.jobs if j.action == "remove"]
        supervised = {job.name for job in plan.rendered[name] if job.processes}
        deploy_id = hashlib.sha256(json.dumps(state.as_json(), sort_keys=True).encode()).hexdigest()[:16]
        node_stage = stage / "stage" / name
        write_bundle(node_stage, deploy_id, packages, shipped, plan.rendered[name], state, changed_jobs,
                     removed_jobs)  # fmt: skip
        hosts[name] = {
            "ansible_host": report.ip or node.address,
            "picf_memory_cgroup": decided.memory_cgroup,
            "picf_base_fingerprint": decided.base_fingerprint,
            "picf_node_prepared": decided.skips_base,
            "picf_stage": str(node_stage),
            "picf_jobs_changed": [job for job in changed_jobs if job in supervised],
            "picf_post_deploy": post_deploy[name],
            "picf_deploy_id": deploy_id,
            "picf_monit_interval": manifest.monit_interval,
            "picf_recreate": plan.request.recreate,
        }
    for name in reached:
        if name not in hosts:
            node = plan.node(name)
            hosts[name] = {
                "ansible_host": plan.reports[name].ip or node.address,
                "picf_post_deploy": post_deploy[name],
            }
    ssh = plan.cluster.ssh
    key_file = Path(ssh.private_key).expanduser()
    connection_vars: dict[str, Any] = {"ansible_user": ssh.user, "ansible_port": ssh.port}
    if key_file.is_file():  # a key only the user's ssh-agent holds has no file
        connection_vars["ansible_ssh_private_key_file"] = str(key_file)
    watch_vars = {}
    owner = node_lock_owner(plan.request.inventory)
    for canary, watch in plan.watch.items():
        watch_vars[canary] = {"picf_watch_low": watch.low, "picf_watch_high": watch.high,
                              "picf_watch_stable": watch.stable, "picf_reboot_timeout": watch.reboot_timeout,
                              "picf_lock_owner": owner, "picf_lock_lease": watch.lease}  # fmt: skip
    return AnsibleInputs({"all": {"hosts": hosts, "vars": connection_vars}}, known_hosts, watch_vars)


def execute(
    prepared: Prepared,
    on_event: OnDeployEvent = _ignore,
    cancelled: threading.Event | None = None,
    say: Say = quiet,
) -> DeployEnded:
    """Roll the prepared plan out (the user has confirmed it); record it in the history. An empty plan or a
    deploy refused for privilege returns at once and changes nothing."""
    plan, workspace, timings = prepared.plan, prepared.workspace, prepared.timings
    if plan.nothing_to_do:
        return nothing_to_do(plan.stopped_jobs())
    if plan.refused is not None:
        return DeployEnded.stopped_by(plan.refused)
    cancelled = cancelled or threading.Event()
    if plan.request.preflight:
        checked = run_preflight(plan, workspace.directory, say)
        timings.preflight_seconds = checked.seconds
        on_event(PreflightChecked(ok=checked.ok, seconds=checked.seconds, summary=checked.summary(),
                                  lines=checked.lines(), skipped=checked.skipped))  # fmt: skip
        if not checked.ok:
            for line in checked.lines():
                say(line)
            return DeployEnded(1, checked.summary(), timings=timings)
        say(checked.summary())
    history = History()
    manifest = plan.manifest
    releases_json = [{"name": r.name, "version": r.version, "patched": r.patched} for r in manifest.releases]
    deployment = history.start(manifest.name, plan.manifest_hash, plan.manifest_text,
                               str(plan.request.inventory.resolve()), releases_json)  # fmt: skip
    try:
        inputs = ansible_inputs(plan, workspace.directory)
        # SSH control sockets outlive a deploy by design (ControlPersist): keep them out of the work dir.
        control_dir = state_dir() / "ssh"
        control_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = playbook_run.ansible_env(inputs.known_hosts, control_dir, plan.cluster.ssh.connect_timeout,
                                  workspace.directory)  # fmt: skip
        env.update(plan.connection.env)
        inputs.inventory["all"]["vars"].update(plan.connection.host_vars)
        if plan.connection.note:
            say(plan.connection.note)

        def record(event: AnsibleEvent) -> None:
            if event.message:
                event = event.model_copy(update={"message": workspace.redact(event.message)})
            history.event(deployment, event.event, event.host, event.as_json())
            on_event(event)

        with ssh_agent_for(transport.load_identity(plan.cluster.ssh), workspace.directory / "agent") as agent_env:
            env.update(agent_env)
            result = _roll_out(plan, workspace, timings, inputs, env, history, deployment, record, cancelled, say)
    except BaseException as exc:
        history.finish(deployment, "failed", f"picf stopped: {type(exc).__name__}: {exc}")
        raise
    result.deployment = deployment
    return result


def _roll_out(
    plan: DeployPlan,
    workspace: DeployWorkspace,
    timings: DeployTimings,
    inputs: AnsibleInputs,
    env: dict[str, str],
    history: History,
    deployment: int,
    on_event: Callable[[AnsibleEvent], None],
    cancelled: threading.Event,
    say: Say,
) -> DeployEnded:
    """Canaries, then batches, in one Ansible run that stops after the first batch that fails."""
    rollout = plan.rollout
    started = time.monotonic()
    nodes = set(inputs.inventory["all"]["hosts"])
    begun: list[int] = []  # the batches whose play has started, in order

    def on_ansible_event(event: AnsibleEvent) -> None:
        if event.event == "playbook_on_play_start":
            number = batch_of_play(event.hosts or "")
            if number is not None:
                begun.append(number)
                kind = "canary" if rollout.is_canary(number) else "batch"
                say(f"{kind} {number + 1}/{len(rollout.groups)}: {', '.join(rollout.groups[number])}")
            return
        timings.event(begun[-1] if begun else 0, event, time.monotonic())
        if not event.bookkeeping:
            on_event(event)

    inventory = {
        "all": {**inputs.inventory["all"], "children": inventory_groups(rollout, inputs.inventory["all"]["hosts"])}
    }
    timings.run_started(time.monotonic())
    result = playbook_run.run_playbook(
        rollout_plays(rollout, inputs.watch_vars, prepared_nodes(inputs.inventory)), inventory,
        workspace.directory / "run", env, on_ansible_event,
        cancelled, become_password=plan.request.become_password, forks=max(map(len, rollout.groups)),
    )  # fmt: skip
    timings.run_ended(time.monotonic())
    problems = {**{h: f"unreachable: {e.task}: {e.message or 'unreachable'}" for h, e in result.unreachable.items()
                   if h in nodes},
                **{h: f"{e.task}: {e.message}".strip() for h, e in result.failed.items() if h in nodes}}  # fmt: skip
    post_deploy = {h: problems[h] for h, e in result.failed.items() if h in problems and e.hosts == POST_DEPLOY_GROUP}
    for host in post_deploy:  # every batch succeeded there; only the last step did not
        del problems[host]
    last = begun[-1] if begun else 0
    if result.status == "canceled" or cancelled.is_set():
        _record(history, deployment, rollout.groups, begun[:-1], problems)
        for name in rollout.groups[last]:
            history.node_result(deployment, name, "cancelled")
        message = f"cancelled during {'canary' if rollout.is_canary(last) else 'batch'} {last + 1}; rerun to converge"
        history.finish(deployment, "cancelled", message)
        return DeployEnded(1, message, timings=timings)
    failing = next((n for n in begun if any(h in problems for h in rollout.groups[n])), None)
    if failing is None and (result.status != "successful" or len(begun) < len(rollout.groups)):
        failing = last  # Ansible itself failed, or ended early: the batch it was at
        problems.update({h: result.ansible_failed or result.status for h in rollout.groups[last]})
    if failing is not None:
        _record(history, deployment, rollout.groups, begun[: begun.index(failing) + 1] if begun else [0], problems)
        message = _failure(plan, workspace, failing, rollout.groups[failing], problems, result.status)
        history.finish(deployment, "failed", message)
        return DeployEnded(1, message, timings=timings)
    _record(history, deployment, rollout.groups, begun, problems)
    if post_deploy:
        details = "\n".join(f"  {h}: {workspace.redact(m)}" for h, m in sorted(post_deploy.items()))
        message = f"Error: deployed, but post-deploy scripts failed on {', '.join(sorted(post_deploy))}.\n{details}"
        history.finish(deployment, "failed", message)
        return DeployEnded(1, message, timings=timings)
    message = f"deployed to {sum(map(len, rollout.groups))} node(s) in {time.monotonic() - started:.1f} s"
    history.finish(deployment, "succeeded", message)
    return DeployEnded(0, message, timings=timings)


def _record(
    history: History, deployment: int, groups: list[list[str]], batches: list[int], problems: dict[str, str]
) -> None:
    """Each node's result in `batches`: failed with what failed, or ok."""
    for number in batches:
        for name in groups[number]:
            history.node_result(deployment, name, "failed" if name in problems else "ok", problems.get(name, ""))


def _failure(
    plan: DeployPlan, workspace: DeployWorkspace, number: int, group: list[str], problems: dict[str, str], status: str
) -> str:
    """What failed, where, and what was left alone (a canary's failure names its arch or model)."""
    rollout = plan.rollout
    failing = sorted(problems) or group
    details = "\n".join(f"  {h}: {workspace.redact(problems.get(h, status))}" for h in failing)
    jobs = sorted({j.job for p in plan.node_plans if p.node in failing for j in p.jobs})
    if rollout.is_canary(number):
        kinds = "/".join(sorted({rollout.kind_of.get(h, "?") for h in failing}))
        what, left = f"the {kinds} canary", f"no other {kinds} node was touched"
    else:
        what, left = f"batch {number + 1}", "nodes not yet updated were left as they were"
    return (f"Error: {what} failed on {', '.join(failing)}; review the failing jobs "
            f"({', '.join(jobs) or 'none'}) below; {left}.\n{details}")  # fmt: skip
