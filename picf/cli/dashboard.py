"""`picf dashboard`: the Textual dashboard on a real cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from picf.cli.output import fail
from picf.cli.status import load_cluster
from picf.deploy.manifest_file import DEFAULT_MANIFEST
from picf.health.poller import Poller
from picf.inventory import DEFAULT_INVENTORY


def dashboard_command(
    inventory: Path = typer.Argument(DEFAULT_INVENTORY, help="Inventory file."),
    manifest: Path = typer.Option(DEFAULT_MANIFEST, "--manifest", "-m", help="Deployment manifest for `d`."),
    interval: float = typer.Option(1.0, "--interval", min=0.2, help="Seconds between polls."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.5, help="Seconds a node has to answer."),
) -> None:
    """The cluster at a glance in a terminal UI: crash loops first, vitals, jobs, logs, deploy."""
    if not sys.stdout.isatty():
        fail("the dashboard needs a terminal; for scripts use `picf status --watch --json`", 2)
    cluster = load_cluster(inventory, [])
    from tui.app import DashboardApp
    from tui.deploying import PicfDeployer

    deployer = PicfDeployer(inventory, manifest) if manifest.is_file() else None
    app = DashboardApp(Poller(cluster, timeout=timeout), interval=interval, deployer=deployer)
    app.run()
    raise typer.Exit(app.return_code or 0)
