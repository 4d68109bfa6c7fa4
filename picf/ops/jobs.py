"""`picf restart|stop|start`: act on jobs through monit, node by node in the deploy's canary order.

The same guarantees as a deploy: the cluster's lock (a deploy, or another of these, is refused naming who
holds it) and each node's deploy lock (another controller's lease is refused); a start or restart is watched
with the deploy's own definition of running steadily (watch_jobs.sh) and the canary batch's failure stops the
rest. `stop` leaves a mark on the node (/var/vcap/picf/stopped/JOB): status says "stopped", the crash-loop
detector leaves it alone, and a deploy keeps it stopped until `picf start` (or `picf deploy --start`).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from picf import transport
from picf.deploy.bundle import LIFECYCLE, WATCHER
from picf.deploy.lock import ClusterLock, node_lock_owner
from picf.deploy.plan import batches
from picf.errors import PicfError, UsageError
from picf.models.cluster import Cluster
from picf.models.health import steady_seconds
from picf.models.manifest import Manifest, Update, parse_watch_time
from picf.ops.access import NodeSession, open_session, script, unreachable
from picf.ops.targets import Target, as_recorded

Action = Literal["restart", "stop", "start"]
NODE_LOCK = Path(__file__).resolve().parents[2] / "playbooks" / "roles" / "node_lock" / "files" / "node_lock.sh"
LEASE_SECONDS = 900
_PAST = {"restart": "restarted", "stop": "stopped", "start": "started"}


@dataclass
class NodeOutcome:
    """How one node's part went: ok, failed, locked, unreachable, or not tried (a batch before it failed)."""

    node: str
    jobs: tuple[str, ...] = ()
    result: Literal["ok", "failed", "locked", "unreachable", "not-tried"] = "not-tried"
    message: str = ""
    output: list[str] = field(default_factory=list)


def command(action: Action, owner: str, watch: tuple[int, int], stable: int, jobs: tuple[str, ...]) -> str:
    """The shell the node runs as root: jobctl.sh and its helpers written to a private directory, then run."""
    files = {
        "jobctl.sh": script("jobctl.sh"),
        "node_lock.sh": NODE_LOCK.read_text(),
        "lifecycle.sh": LIFECYCLE.read_text(),
        "watch_jobs.sh": WATCHER.read_text(),
    }
    lines = ["d=$(mktemp -d) || exit 1", "trap 'rm -rf \"$d\"' EXIT"]
    lines += [f'printf %s {shlex.quote(text)} > "$d/{name}"' for name, text in files.items()]
    args = [action, owner, str(LEASE_SECONDS), str(watch[0]), str(watch[1]), str(stable), *jobs]
    lines.append(f'sh "$d/jobctl.sh" {shlex.join(args)}')
    return "\n".join(lines)


def _stable(manifest: Manifest | None, recorded: dict[str, object] | None) -> int:
    """Seconds of one pid that make "running steadily", with the node's monit interval (the deploy's rule)."""
    interval = recorded.get("monit_interval") if recorded else None
    if not isinstance(interval, int):
        interval = manifest.monit_interval if manifest is not None else 10
    return steady_seconds(interval)


def control(
    cluster: Cluster,
    inventory: Path,
    manifest: Manifest | None,
    targets: list[Target],
    action: Action,
    password: str | None,
    say: Callable[[str], None],
    timeout: float = 10.0,
    wait: bool = False,
) -> list[NodeOutcome]:
    """Do `action` to the targets' jobs, canaries first; every node's outcome in the targets' order. UsageError
    (before anything changes) for a job a reachable node does not run; ClusterLocked while a deploy (or another
    of these) runs, unless `wait`."""
    lock = ClusterLock(inventory, activity=f"picf {action}")
    lock.acquire(wait=wait, say=say)
    try:
        return _control(cluster, inventory, manifest, targets, action, password, say, timeout)
    finally:
        lock.release()


def _connect_all(
    cluster: Cluster, targets: list[Target], password: str | None, timeout: float
) -> dict[str, NodeSession | transport.RemoteError]:
    def one(target: Target) -> NodeSession | transport.RemoteError:
        try:
            return open_session(cluster, target.node, password, timeout)
        except transport.RemoteError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(targets)))) as pool:
        return dict(zip((t.name for t in targets), pool.map(one, targets), strict=True))


def _control(
    cluster: Cluster,
    inventory: Path,
    manifest: Manifest | None,
    targets: list[Target],
    action: Action,
    password: str | None,
    say: Callable[[str], None],
    timeout: float,
) -> list[NodeOutcome]:
    sessions = _connect_all(cluster, targets, password, timeout)
    outcomes = {t.name: NodeOutcome(t.name) for t in targets}
    try:
        jobs: dict[str, tuple[str, ...]] = {}
        recorded: dict[str, dict[str, object] | None] = {}
        problems: list[str] = []
        for target in targets:
            session = sessions[target.name]
            if isinstance(session, transport.RemoteError):
                outcomes[target.name].result = "unreachable"
                outcomes[target.name].message = unreachable(target.name, session)
                continue
            state = recorded[target.name] = session.recorded_state()
            target, missing = as_recorded(target, state)
            problems += missing
            jobs[target.name] = target.jobs
        if problems:
            raise UsageError(problems[-1], problems=problems[:-1])
        update = manifest.update if manifest is not None else Update()
        reachable = [t.name for t in targets if t.name in jobs]
        kind_of = {t.name: t.node.arch or "unknown" for t in targets}
        in_flight = update.in_flight(len(reachable))
        groups = batches(reachable, update.canaries, in_flight, kind_of) if action != "stop" else [reachable]
        owner = node_lock_owner(inventory)
        for number, group in enumerate(groups):
            canary = number == 0 and update.canaries > 0 and action != "stop"
            watch = parse_watch_time(update.canary_watch_time if canary else update.update_watch_time)
            if canary:
                say(f"canaries: {', '.join(group)}")

            def act(name: str, watch: tuple[int, int] = watch) -> NodeOutcome:
                session = sessions[name]
                assert isinstance(session, NodeSession)
                return _act(session, action, owner, watch, _stable(manifest, recorded[name]), jobs[name])

            with ThreadPoolExecutor(max_workers=max(1, len(group))) as pool:
                for outcome in pool.map(act, group):
                    outcomes[outcome.node] = outcome
                    for line in outcome.output:
                        say(f"{outcome.node}: {line}")
            if any(outcomes[n].result != "ok" for n in group) and action != "stop":
                say(f"stopped after the batch {', '.join(group)}: the nodes after it are left as they were")
                break
        return [outcomes[t.name] for t in targets]
    finally:
        for session in sessions.values():
            if isinstance(session, NodeSession):
                session.close()


def _act(
    session: NodeSession, action: Action, owner: str, watch: tuple[int, int], stable: int, jobs: tuple[str, ...]
) -> NodeOutcome:
    outcome = NodeOutcome(session.name, jobs)
    budget = watch[1] / 1000 + 30 * len(jobs) + 660  # the watch, a stop's 30 s each, drain's 600 s at most
    try:
        code, out, err = session.run_root(command(action, owner, watch, stable, jobs), budget)
    except transport.RemoteError as exc:
        outcome.result, outcome.message = "unreachable", unreachable(session.name, exc)
        return outcome
    except PicfError as exc:  # sudo refused
        outcome.result, outcome.message = "failed", str(exc)
        return outcome
    outcome.output = [line for line in (out + err).splitlines() if line.strip()]
    if code == 0:
        outcome.result = "ok"
        outcome.message = f"{', '.join(jobs)} {_PAST[action]}"
    elif code == 75:
        outcome.result = "locked"
        held = outcome.output[-1] if outcome.output else "another controller holds its deploy lock"
        outcome.message = f"{session.name}: {held}; nothing was done there"
    else:
        outcome.result = "failed"
        outcome.message = f"{session.name}: {action} of {', '.join(jobs)} failed"
    return outcome
