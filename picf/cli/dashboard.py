"""`picf dashboard`: the Textual dashboard on a real cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from picf import transport
from picf.cli import longrun
from picf.cli.deploy import become_password_from
from picf.cli.options import inventory_option, inventory_path, manifest_option, manifest_path
from picf.cli.output import fail
from picf.cli.status import load_cluster
from picf.health.poller import Poller


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
    from tui.app import DashboardApp
    from tui.deploying import PicfDeployer
    from tui.operating import PicfOperator

    become = become_password_from(ask_become_pass)
    options = {"become_password": become} if become is not None else {}
    deployer = PicfDeployer(inventory, manifest, options=options) if manifest.is_file() else None
    operator = PicfOperator(inventory, manifest if manifest.is_file() else None, become, timeout)
    app = DashboardApp(Poller(cluster, timeout=timeout), interval=interval, deployer=deployer, operator=operator)
    app.run()
    raise typer.Exit(app.return_code or 0)
