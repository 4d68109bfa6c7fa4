"""`picf deploy` and `picf deployments`."""

from __future__ import annotations

import contextlib
import getpass
import json as jsonlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from picf.cli.confirm import confirmed
from picf.cli.options import inventory_option, inventory_path, manifest_option, manifest_path
from picf.cli.output import err, fail, note, out, print_json
from picf.deploy.ended import DeployEnded, nothing_to_do
from picf.deploy.export import export_deploy
from picf.deploy.history import History
from picf.deploy.prepare import DeployPlan, DeployRequest, Prepared, plan_lines, prepare_deploy
from picf.deploy.rollback import rollback_request
from picf.deploy.rollout import execute
from picf.models.deploy_event import AnsibleEvent, DeployEvent


@contextlib.contextmanager
def _cancel_on_signals(cancelled: threading.Event) -> Iterator[None]:
    """Ctrl-C or SIGTERM asks the deploy to stop at a safe point; a second Ctrl-C is the usual interrupt."""

    def handler(signum: int, frame: Any) -> None:
        if cancelled.is_set():
            raise KeyboardInterrupt
        cancelled.set()
        err.print("picf: cancelling: the running batch is stopped, nodes stay on the old or the new version",
                  markup=False)  # fmt: skip

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def deploy_command(
    inventory_given: Path | None = inventory_option(),
    manifest_given: Path | None = manifest_option(),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan and stop."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Deploy without asking."),
    json: bool = typer.Option(False, "--json", help="Stream NDJSON events on stdout."),
    canaries: int | None = typer.Option(None, "--canaries", help="Override update.canaries (per arch)."),
    max_in_flight: str | None = typer.Option(None, "--max-in-flight", help="Override update.max_in_flight (N or P%)."),
    only: str | None = typer.Option(None, "--only", help="Deploy only this node or role."),
    rollback: bool = typer.Option(False, "--rollback", help="Redeploy the last successful manifest."),
    ask_become_pass: bool = typer.Option(
        False, "--ask-become-pass", "-K", help="Ask once for sudo's password (or set PICF_BECOME_PASSWORD)."
    ),
    export: Path | None = typer.Option(
        None, "--export", metavar="DIR", help="Write the planned deploy as a directory plain ansible-playbook runs."
    ),
    wait: bool = typer.Option(False, "--wait", help="When another deploy of the cluster runs, wait for it to end."),
    timings: bool = typer.Option(False, "--timings", help="Say where the deploy's time went, per phase and task."),
    connection: str = typer.Option(
        "auto", "--connection", help="How Ansible reaches the nodes: auto (Mitogen when installed), mitogen, ssh."
    ),
    no_preflight: bool = typer.Option(
        False, "--no-preflight", help="Skip the pre-flight: changed jobs are not tried on emulated nodes first."
    ),
    start: bool = typer.Option(
        False, "--start", help="Also start the jobs `picf stop` stopped (a deploy keeps them stopped)."
    ),
) -> None:
    """Plan, then roll out the releases with Ansible: canaries first, then batches; stop at the first failure."""
    become_password = become_password_from(ask_become_pass)
    inventory = inventory_path(inventory_given)
    manifest = manifest_path(manifest_given, inventory)
    in_flight: int | str | None = None
    if max_in_flight is not None:
        in_flight = int(max_in_flight) if max_in_flight.isdigit() else max_in_flight
    request = DeployRequest(inventory=inventory, manifest=manifest, canaries=canaries, max_in_flight=in_flight,
                            only=only, become_password=become_password, lock=not dry_run and export is None,
                            wait_for_lock=wait, connection=connection, preflight=not no_preflight,
                            export=export is not None)  # fmt: skip
    if rollback:
        request, previous = rollback_request(request)
        note(f"rolling back to deployment {previous.id} ({previous.manifest_hash[:12]})")
    with prepare_deploy(request, say=note) as prepared:
        _deploy(prepared, export, dry_run, yes, json, timings)
        stopped = prepared.plan.stopped_jobs() if dry_run is False and export is None else {}
    if stopped and start:
        _start_stopped(prepared.plan, stopped, become_password)


def deploy_recreation(request: DeployRequest, yes: bool, json: bool, timings: bool) -> None:
    """`picf recreate`'s deploy: decided, confirmed and rolled out as any deploy."""
    with prepare_deploy(request, say=note) as prepared:
        if prepared.plan.nothing_to_do:
            fail(f"{request.only}: not in the deployment's roles; nothing to recreate", 2)
        _deploy(prepared, None, False, yes, json, timings)


def _deploy(prepared: Prepared, export: Path | None, dry_run: bool, yes: bool, json: bool,
            timings: bool) -> None:  # fmt: skip
    """The deploy itself, once decided: returns when it succeeded (or had nothing to do), raises otherwise."""
    plan = prepared.plan
    if export is not None:
        _finish(_export(plan, export), json, [])
        return
    lines = plan_lines(plan)
    if dry_run or plan.nothing_to_do:
        _finish(_without_changes(plan, dry_run), json, lines, shown=not dry_run)
        return
    if not json:
        _show_plan(lines)
    refusal = "refusing to change nodes without --yes when not at a terminal; preview with --dry-run"
    if plan.refused is None and not confirmed("deploy these changes?", yes, refusal):
        _finish(DeployEnded(1, "not deployed"), json, lines, shown=True)
        return
    cancelled = threading.Event()
    with _cancel_on_signals(cancelled):
        result = execute(prepared, _event_printer(json), cancelled, say=note)
    if timings and result.timings is not None and not json:
        for line in result.timings.lines():
            note(line)
    _finish(result, json, lines, shown=True)


def _start_stopped(plan: DeployPlan, stopped: dict[str, tuple[str, ...]], password: str | None) -> None:
    """`--start`: the jobs `picf stop` stopped, started once the deploy is done, as `picf start` does."""
    from picf.ops.jobs import control
    from picf.ops.targets import Target

    targets = [Target(plan.node(name), jobs, False) for name, jobs in stopped.items()]
    note("starting the jobs picf stop stopped (--start): " + "; ".join(f"{t.name}: {', '.join(t.jobs)}"
                                                                        for t in targets))  # fmt: skip
    outcomes = control(plan.cluster, plan.request.inventory, plan.manifest, targets, "start", password,
                       note)  # fmt: skip
    failed = [o for o in outcomes if o.result != "ok"]
    if failed:
        fail("; ".join(o.message for o in failed), 3 if all(o.result == "unreachable" for o in failed) else 1)
    note("started: " + "; ".join(f"{o.node}: {', '.join(o.jobs)}" for o in outcomes))


def _event_printer(json: bool) -> Callable[[DeployEvent], None]:
    def on_event(event: DeployEvent) -> None:
        if json:
            _emit(event.as_json())
        elif not isinstance(event, AnsibleEvent):
            return
        elif event.event in {"runner_on_failed", "runner_on_unreachable"} and not event.ignored:
            err.print(f"  {event.host}: {event.task}: FAILED", style="red", markup=False)
        elif event.event == "runner_on_ok" and event.changed:
            err.print(f"  {event.host}: {event.task}", markup=False, highlight=False)

    return on_event


def _without_changes(plan: DeployPlan, dry_run: bool) -> DeployEnded:
    if plan.nothing_to_do:
        return nothing_to_do(plan.stopped_jobs())
    refused = f"; a deploy would stop: {plan.refused.message}" if plan.refused else ""
    return DeployEnded(0, "dry run: nothing changed" + refused)


def _export(plan: DeployPlan, directory: Path) -> DeployEnded:
    if plan.nothing_to_do:
        return DeployEnded(0, "nothing to export: every node runs what the manifest wants")
    exported = export_deploy(plan, directory)
    for line in plan_lines(plan):
        note(line)
    ask = " -K" if exported.asks_become_password else ""
    return DeployEnded(0, f"exported to {exported.directory} (it holds rendered credentials: mode 0700); run: "
                           f"ansible-playbook -i {exported.hosts}{ask} {exported.playbook}")  # fmt: skip


def become_password_from(ask: bool) -> str | None:
    """sudo's password for nodes that ask: `-K` asks once at the terminal, else $PICF_BECOME_PASSWORD. The
    variable is taken out of picf's environment at once, so no child process (Ansible) inherits it."""
    from_env = os.environ.pop("PICF_BECOME_PASSWORD", None)
    if ask:
        if not sys.stdin.isatty():
            fail("-K asks for sudo's password at a terminal; without one, set PICF_BECOME_PASSWORD", 2)
        return getpass.getpass("BECOME password (sudo's, on the nodes): ")
    return from_env


def _emit(event: dict[str, Any]) -> None:
    """One NDJSON line on stdout."""
    sys.stdout.write(jsonlib.dumps(event) + "\n")
    sys.stdout.flush()


def _show_plan(lines: list[str]) -> None:
    for line in lines:
        out.print(line, markup=False, highlight=False)


def _finish(result: DeployEnded, json: bool, lines: list[str], shown: bool = False) -> None:
    if json:
        timings = result.timings.as_dict() if result.timings is not None else None
        _emit({"event": "result", "exit_code": result.exit_code, "message": result.message,
               "plan": lines, "deployment": result.deployment, "timings": timings})  # fmt: skip
    elif not shown:
        _show_plan(lines)
    if result.exit_code == 0:
        note(result.message)
        return
    fail(result.message, result.exit_code)


def preflight_command(
    inventory_given: Path | None = inventory_option(),
    manifest_given: Path | None = manifest_option(),
    every_job: bool = typer.Option(False, "--all", help="Try every job of the deployment, not only the changed."),
    json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """The deploy's pre-flight alone: each job the next deploy changes, started on an emulated node of its arch
    on this machine (qemu-user, monit) and watched; nothing on the nodes changes. Exit 1 when one does not run."""
    from picf.deploy.preflight import run_preflight

    inventory = inventory_path(inventory_given)
    request = DeployRequest(inventory=inventory, manifest=manifest_path(manifest_given, inventory), lock=False)
    with prepare_deploy(request, say=note) as prepared:
        result = run_preflight(prepared.plan, prepared.workspace.directory, note, every_job)
    if json:
        jobs = [{"job": v.job, "arch": v.arch, "rendered_for": v.node, "ok": v.ok, "watch": list(v.watch),
                 "log": list(v.log), "last_exit": v.last_exit,
                 "diagnosis": v.diagnosis.model_dump() if v.diagnosis else None} for v in result.verdicts]  # fmt: skip
        print_json({"ok": result.ok, "seconds": round(result.seconds, 3), "summary": result.summary(),
                    "skipped": result.skipped, "broken": result.broken, "jobs": jobs})  # fmt: skip
    else:
        for line in result.lines():
            err.print(line, markup=False, highlight=False)
    if not result.ok:
        fail(result.summary())
    if not json:
        note(result.summary())


def deployments_command(json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The deployment history: when, what, by whom, how it ended."""
    rows = History().deployments()
    if json:
        print_json([{k: v for k, v in r.__dict__.items() if k != "manifest_text"} for r in rows])
        return
    table = Table(title="deployments", title_justify="left")
    for column in ("id", "name", "manifest", "user", "started", "result", "message"):
        table.add_column(column)
    import time

    for r in rows:
        table.add_row(str(r.id), r.name, r.manifest_hash[:12], r.user, time.strftime("%Y-%m-%d %H:%M:%S",
                      time.localtime(r.started)), r.result, r.message.splitlines()[0] if r.message else "")  # fmt: skip
    out.print(table)
