"""`picf deploy` and `picf deployments`."""

from __future__ import annotations

import contextlib
import getpass
import json as jsonlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from picf.cli.options import inventory_option, inventory_path, manifest_option, manifest_path
from picf.cli.output import err, fail, note, out, print_json
from picf.deploy.deployment import DeployOptions, DeployResult, deploy
from picf.deploy.history import History


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
    canaries: int | None = typer.Option(None, "--canaries", help="Override update.canaries."),
    max_in_flight: str | None = typer.Option(None, "--max-in-flight", help="Override update.max_in_flight (N or P%)."),
    only: str | None = typer.Option(None, "--only", help="Deploy only this node or role."),
    rollback: bool = typer.Option(False, "--rollback", help="Redeploy the last successful manifest."),
    ask_become_pass: bool = typer.Option(
        False, "--ask-become-pass", "-K", help="Ask once for sudo's password (or set PICF_BECOME_PASSWORD)."
    ),
) -> None:
    """Plan, then roll out the releases with Ansible: canaries first, then batches; stop at the first failure."""
    become_password = become_password_from(ask_become_pass)
    inventory = inventory_path(inventory_given)
    manifest = manifest_path(manifest_given, inventory)
    in_flight: int | str | None = None
    if max_in_flight is not None:
        in_flight = int(max_in_flight) if max_in_flight.isdigit() else max_in_flight
    if rollback:
        manifest = _rollback_manifest(manifest)

    def confirm(lines: list[str]) -> bool:
        if not json:
            _show_plan(lines)
        if yes:
            return True
        if not sys.stdin.isatty():
            fail("refusing to change nodes without --yes when not at a terminal; preview with --dry-run", 2)
        return typer.confirm("deploy these changes?", err=True)

    def on_event(event: dict[str, Any]) -> None:
        if json:
            _emit(event)
        elif event["event"] in {"runner_on_failed", "runner_on_unreachable"} and not event.get("ignored"):
            err.print(f"  {event['host']}: {event['task']}: FAILED", style="red", markup=False)
        elif event["event"] == "runner_on_ok" and event.get("changed"):
            err.print(f"  {event['host']}: {event['task']}", markup=False, highlight=False)

    cancelled = threading.Event()
    options = DeployOptions(inventory=inventory, manifest=manifest, dry_run=dry_run, canaries=canaries,
                            max_in_flight=in_flight, only=only, confirm=confirm, say=note, on_event=on_event,
                            cancelled=cancelled, become_password=become_password)  # fmt: skip
    with _cancel_on_signals(cancelled):
        result = deploy(options)
    _finish(result, json, dry_run)


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


def _finish(result: DeployResult, json: bool, dry_run: bool) -> None:
    if json:
        _emit({"event": "result", "exit_code": result.exit_code, "message": result.message,
               "plan": result.plan_lines, "deployment": result.deployment})  # fmt: skip
    elif dry_run:
        _show_plan(result.plan_lines)
    if result.exit_code == 0:
        note(result.message)
        return
    fail(result.message, result.exit_code)


def _rollback_manifest(manifest: Path) -> Path:
    history = History()
    latest = history.deployments(limit=1)
    name = latest[0].name if latest else None
    previous = history.last_successful(name, before=latest[0].id) if latest and name else None
    if previous is None:
        fail("no earlier successful deployment to roll back to (see `picf deployments`)", 2)
    note(f"rolling back to deployment {previous.id} ({previous.manifest_hash[:12]})")
    path = Path(tempfile.mkdtemp(prefix="picf-rollback-")) / "deployment.yml"
    path.write_text(previous.manifest_text)
    # Credentials stay where the current manifest keeps them.
    (path.parent / "creds.yml").symlink_to((manifest.parent / "creds.yml").resolve())
    return path


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
