"""`picf dashboard`: the Textual dashboard on a real cluster.

The one module of picf that imports tui, through its one door `tui.launch` (lazily, so other commands never
load Textual); `picf demo` opens the dashboard through `open_dashboard` here too."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import typer

from picf import transport
from picf.cli import longrun
from picf.cli.deploy import become_password_from
from picf.cli.options import inventory_option, inventory_path, manifest_option, manifest_path
from picf.cli.output import fail
from picf.cli.status import load_cluster
from picf.models.cluster import Cluster
from picf.progress import Say


def dashboard_command(
    inventory_given: Path | None = inventory_option(),
    manifest_given: Path | None = manifest_option(),
    interval: float = typer.Option(1.0, "--interval", min=0.2, help="Seconds between polls."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.5, help="Seconds a node has to answer."),
    ask_become_pass: bool = typer.Option(
        False, "--ask-become-pass", "-K", help="Ask once for sudo's password, for `d` (or set PICF_BECOME_PASSWORD)."
    ),
) -> None:
    """The cluster at a glance in a terminal UI: crash loops first, vitals, jobs, logs, deploy."""
    longrun.without_thread_caches()
    inventory = inventory_path(inventory_given)
    manifest = manifest_path(manifest_given, inventory)
    cluster = load_cluster(inventory, [])
    transport.load_identity(cluster.ssh)  # asks for a passphrase (if any) before the screen is taken
    if not sys.stdout.isatty():
        fail("the dashboard needs a terminal; for scripts use `picf status --watch --json`", 2)
    become = become_password_from(ask_become_pass)
    code = open_dashboard(cluster, inventory, manifest, interval=interval, timeout=timeout, become_password=become)
    raise typer.Exit(code)


def open_dashboard(
    cluster: Cluster,
    inventory: Path,
    manifest: Path,
    *,
    interval: float = 1.0,
    timeout: float = 5.0,
    become_password: str | None = None,
    operate: bool = True,
    welcome: str | None = None,
    build_patched: Callable[[Say], None] | None = None,
) -> int:
    """The dashboard on this terminal until the person quits (see `tui.launch.run_dashboard`); its exit code."""
    from tui.launch import run_dashboard

    return run_dashboard(cluster, inventory, manifest, interval=interval, timeout=timeout,
                         become_password=become_password, operate=operate, welcome=welcome,
                         build_patched=build_patched)  # fmt: skip
