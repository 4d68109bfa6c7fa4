"""Day-2 commands: `picf ssh`, `picf logs`, `picf restart|stop|start`, each on targets in one grammar
(NODE, NODE/JOB, ROLE, JOB)."""

from __future__ import annotations

import json as jsonlib
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import typer

from picf import transport
from picf.cli.confirm import confirmed
from picf.cli.deploy import become_password_from
from picf.cli.options import inventory_option, inventory_path, manifest_option, manifest_path
from picf.cli.output import fail, note, out, print_json
from picf.deploy.manifest_file import read_manifest
from picf.errors import UNREACHABLE, UsageError
from picf.inventory import read_inventory
from picf.models.cluster import Cluster
from picf.models.manifest import Manifest
from picf.ops import jobs as jobctl
from picf.ops import logs as joblogs
from picf.ops import shell
from picf.ops.access import NodeSession, open_session, unreachable
from picf.ops.targets import Target, as_recorded, resolve

TARGET_HELP = "NODE, NODE/JOB, ROLE or JOB (every node running it); node:, role:, job: settle a shared name."
AskBecome = typer.Option(False, "--ask-become-pass", "-K", help="Ask once for sudo's password (or set "
                         "PICF_BECOME_PASSWORD).")  # fmt: skip
Json = typer.Option(False, "--json", help="JSON on stdout.")


def _load(inventory_given: Path | None, manifest_given: Path | None) -> tuple[Cluster, Path, Manifest | None, str]:
    """The cluster, its inventory path, the manifest (None when there is none beside the inventory and none was
    named) and how to name both in a message."""
    inventory = inventory_path(inventory_given)
    cluster = read_inventory(inventory).cluster
    path = manifest_path(manifest_given, inventory)
    manifest: Manifest | None = None
    if manifest_given is not None or path.exists():
        manifest = read_manifest(path)[0]
    where = f"{inventory}" + (f" and {path}" if manifest is not None else "")
    return cluster, inventory, manifest, where


def ssh_command(
    target: str = typer.Argument(..., help=TARGET_HELP),
    command: list[str] = typer.Argument(None, help="The command to run (after --); none: an interactive shell."),
    inventory_given: Path | None = inventory_option(),
    manifest_given: Path | None = manifest_option(),
    timeout: float = typer.Option(5.0, "--timeout", min=0.5, help="Seconds a node has to answer."),
    json: bool = Json,
) -> None:
    """A shell, or one command, on nodes as the cluster's user, with the pinned host key. One node: its exit
    code is picf's. Several: in parallel, each line prefixed by its node (exit 3 when one could not be
    reached, else the code they agree on, else 1)."""
    cluster, _, manifest, where = _load(inventory_given, manifest_given)
    nodes = [t.node for t in resolve([target], cluster, manifest, where)]
    command = list(command or [])
    if len(nodes) == 1 and not json:
        raise typer.Exit(shell.interactive(cluster, nodes[0], command, timeout))
    if not command:
        fail(f"{target} names {len(nodes)} nodes ({', '.join(n.name for n in nodes)}); an interactive shell needs "
             "one: name a node, or give a command after --", 2)  # fmt: skip
    transport.load_identity(cluster.ssh)
    width = max(len(n.name) for n in nodes)

    def on_line(node: str, kind: str, line: str) -> None:
        if not json:
            stream = sys.stdout if kind == "out" else sys.stderr
            stream.write(f"{node.ljust(width)} | {line}\n")
            stream.flush()

    runs = shell.run_on_nodes(cluster, nodes, command, timeout, on_line)
    for run in runs:
        if run.error is not None and not json:
            note(f"picf: {run.error}")
    if json:
        print_json([{"node": r.node, "exit_code": r.exit_code, "stdout": r.stdout, "stderr": r.stderr,
                     "error": r.error} for r in runs])  # fmt: skip
    raise typer.Exit(shell.combined_exit(runs))


def _sessions(
    cluster: Cluster, targets: list[Target], password: str | None, timeout: float
) -> list[tuple[Target, NodeSession | None]]:
    """A session per target node (None, said in one line, for a node that cannot be reached), with the target's
    jobs as the node records them for a whole node; UsageError for a job a node does not run."""

    def one(target: Target) -> tuple[Target, NodeSession | None]:
        try:
            return target, open_session(cluster, target.node, password, timeout)
        except transport.RemoteError as exc:
            note(f"picf: {unreachable(target.name, exc)}")
            return target, None

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(targets)))) as pool:
        opened = list(pool.map(one, targets))
    out_: list[tuple[Target, NodeSession | None]] = []
    problems: list[str] = []
    for target, session in opened:
        if session is not None:
            target, missing = as_recorded(target, session.recorded_state())
            problems += missing
        out_.append((target, session))
    if problems:
        for _, session in out_:
            if session is not None:
                session.close()
        raise UsageError(problems[-1], problems=problems[:-1])
    return out_


def logs_command(
    targets: list[str] = typer.Argument(..., help=TARGET_HELP),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep following, across job restarts and reboots."),
    lines: int = typer.Option(50, "--lines", "-n", min=0, help="Lines of each file to show first."),
    since: str | None = typer.Option(
        None, "--since", help="Only what was written in the last DURATION (90s, 15m, 2h, 1d)."
    ),
    download: Path | None = typer.Option(
        None, "--download", metavar="DIR", help="Fetch the logs as one tarball per node into DIR, as `bosh logs` does."
    ),
    inventory_given: Path | None = inventory_option(),
    manifest_given: Path | None = manifest_option(),
    ask_become_pass: bool = AskBecome,
    timeout: float = typer.Option(5.0, "--timeout", min=0.5, help="Seconds a node has to answer."),
    json: bool = typer.Option(False, "--json", help="One JSON object per line on stdout."),
) -> None:
    """The jobs' logs from /var/vcap/sys/log/JOB/ (stdout, stderr and whatever else the job writes there),
    each line prefixed by node and job. Exit 3 when a node could not be reached (the others are served)."""
    import time

    password = become_password_from(ask_become_pass)
    cluster, _, manifest, where = _load(inventory_given, manifest_given)
    start = time.time() - joblogs.parse_duration(since) if since else None
    resolved = resolve(targets, cluster, manifest, where)
    transport.load_identity(cluster.ssh)
    opened = _sessions(cluster, resolved, password, timeout)
    missing = any(s is None for _, s in opened)
    width = max(len(f"{t.name}/{j}") for t, _ in opened for j in t.jobs or ("",))

    def emit(item: joblogs.LogLine | joblogs.LogNote) -> None:
        if isinstance(item, joblogs.LogNote):
            note(f"picf: {item.node}: {item.text}")
        elif json:
            sys.stdout.write(jsonlib.dumps({"node": item.node, "job": item.job, "file": item.file,
                                            "line": item.text}) + "\n")  # fmt: skip
        else:
            sys.stdout.write(f"{(item.node + '/' + item.job).ljust(width)} {item.file}: {item.text}\n")
        sys.stdout.flush()

    try:
        if download is not None:
            fetched = []
            for target, session in opened:
                if session is not None:
                    path = joblogs.download(session, target.jobs, download)
                    fetched.append({"node": target.name, "jobs": list(target.jobs), "tarball": str(path)})
                    if not json:
                        out.print(f"{target.name}: {path}", markup=False, highlight=False)
            if json:
                print_json(fetched)
        else:
            readers = [joblogs.NodeLogs(cluster, t, t.jobs, password, lines, start) for t, s in opened if s]
            by_name = {t.name: s for t, s in opened if s is not None}
            for reader in readers:
                answer = reader.round(by_name[reader.target.name])
                for text in answer.notes:
                    emit(joblogs.LogNote(reader.target.name, text))
                for line in answer.lines:
                    emit(line)
            if follow:
                for session in by_name.values():
                    session.close()
                stop = threading.Event()
                down = [joblogs.NodeLogs(cluster, t, t.jobs, password, lines, start) for t, s in opened if not s]
                try:
                    joblogs.follow(cluster, [*readers, *down], emit, stop)
                except KeyboardInterrupt:
                    stop.set()
                raise typer.Exit(0)
    finally:
        for _, session in opened:
            if session is not None:
                session.close()
    raise typer.Exit(UNREACHABLE if missing else 0)


def _confirm(action: str, targets: list[Target], yes: bool) -> None:
    named = "; ".join(f"{t.name}: {', '.join(t.jobs) or 'every job'}" for t in targets)
    if not confirmed(f"{action} {named}?", yes, f"refusing to {action} jobs without --yes when not at a terminal"):
        note(f"nothing was {action}ed" if action != "stop" else "nothing was stopped")
        raise typer.Exit(1)


def _control(action: jobctl.Action, targets: list[str], inventory_given: Path | None, manifest_given: Path | None,
             yes: bool, ask_become_pass: bool, timeout: float, json: bool, wait: bool) -> None:  # fmt: skip
    password = become_password_from(ask_become_pass)
    cluster, inventory, manifest, where = _load(inventory_given, manifest_given)
    resolved = resolve(targets, cluster, manifest, where)
    _confirm(action, resolved, yes)
    transport.load_identity(cluster.ssh)
    outcomes = jobctl.control(cluster, inventory, manifest, resolved, action, password, note, timeout, wait)
    for outcome in outcomes:
        if outcome.result != "ok" and outcome.message and not json:
            note(f"picf: {outcome.message}")
    if json:
        print_json([{"node": o.node, "jobs": list(o.jobs), "result": o.result, "message": o.message,
                     "output": o.output} for o in outcomes])  # fmt: skip
    else:
        for outcome in outcomes:
            if outcome.result == "ok":
                out.print(f"{outcome.node}: {outcome.message}", markup=False, highlight=False)
    results = {o.result for o in outcomes}
    if results & {"failed", "locked"}:
        raise typer.Exit(1)
    raise typer.Exit(UNREACHABLE if "unreachable" in results else 0)


def _control_command(action: jobctl.Action, doc: str) -> Any:
    def command(
        targets: list[str] = typer.Argument(..., help=TARGET_HELP),
        inventory_given: Path | None = inventory_option(),
        manifest_given: Path | None = manifest_option(),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do it without asking."),
        ask_become_pass: bool = AskBecome,
        timeout: float = typer.Option(5.0, "--timeout", min=0.5, help="Seconds a node has to answer."),
        json: bool = Json,
        wait: bool = typer.Option(False, "--wait", help="When a deploy of the cluster runs, wait for it to end."),
    ) -> None:
        _control(action, targets, inventory_given, manifest_given, yes, ask_become_pass, timeout, json, wait)

    command.__doc__ = doc
    command.__name__ = command.__qualname__ = f"{action}_command"
    return command


restart_command = _control_command(
    "restart",
    "Restart jobs through monit in the deploy's canary order (drain, stop, pre-start, start, watch, post-start); "
    "exit 1 when one does not run steadily (the nodes after its batch are left alone).",
)
stop_command = _control_command(
    "stop",
    "Stop jobs through monit (drain first); they stay stopped, in status and across deploys, until "
    "`picf start` or `picf deploy --start`.",
)
start_command = _control_command(
    "start",
    "Start jobs through monit in the deploy's canary order, watched until they run steadily (pre-start and "
    "post-start around it).",
)


def recreate_command(
    node_name: str = typer.Argument(..., metavar="NODE", help="The node to rebuild."),
    inventory_given: Path | None = inventory_option(),
    manifest_given: Path | None = manifest_option(),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do it without asking."),
    ask_become_pass: bool = AskBecome,
    timeout: float = typer.Option(5.0, "--timeout", min=0.5, help="Seconds the node has to answer."),
    json: bool = typer.Option(False, "--json", help="Stream NDJSON events on stdout."),
    timings: bool = typer.Option(False, "--timings", help="Say where the time went, per phase and task."),
) -> None:
    """Rebuild what picf put on a node (jobs, packages, monit files, state) from the store and the last
    successful deployment: for a card re-flashed or a damaged /var/vcap. Logs and /var/vcap/store are kept."""
    from picf.cli.deploy import deploy_recreation
    from picf.ops.recreate import check_host_key, recreate_request

    password = become_password_from(ask_become_pass)
    inventory = inventory_path(inventory_given)
    cluster = read_inventory(inventory).cluster
    node = cluster.node(node_name)
    if node is None:
        fail(f"{node_name}: no node of that name in {inventory}; see `picf inventory show`", 2)
    check_host_key(cluster, node, timeout)
    request, deployment = recreate_request(inventory, manifest_path(manifest_given, inventory), node, password)
    note(f"recreating {node.name} from deployment {deployment.id} ({deployment.manifest_hash[:12]})")
    deploy_recreation(request, yes, json, timings)
