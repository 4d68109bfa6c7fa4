"""The `picf` command: parse, call the library, render. Nothing else lives here."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import typer

from picf import __version__, prompts
from picf.cli import inventory as inventory_cli
from picf.cli import longrun
from picf.cli import ops as ops_cli
from picf.cli import release as release_cli
from picf.cli import sim as sim_cli
from picf.cli.dashboard import dashboard_command
from picf.cli.demo import demo_command
from picf.cli.deploy import deploy_command, deployments_command, preflight_command
from picf.cli.discover import discover_command
from picf.cli.output import err, report_error
from picf.cli.status import status_command
from picf.errors import PicfError

app = typer.Typer(
    name="picf",
    help="Turn a stack of Raspberry Pis into a small Cloud Foundry-style platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(inventory_cli.app, name="inventory")
app.add_typer(sim_cli.app, name="sim")
app.add_typer(release_cli.app, name="release")
app.command("discover")(discover_command)
app.command("deploy")(deploy_command)
app.command("deployments")(deployments_command)
app.command("preflight")(preflight_command)
app.command("status")(status_command)
app.command("dashboard")(dashboard_command)
app.command("demo")(demo_command)
app.command("ssh")(ops_cli.ssh_command)
app.command("logs")(ops_cli.logs_command)
app.command("restart")(ops_cli.restart_command)
app.command("stop")(ops_cli.stop_command)
app.command("start")(ops_cli.start_command)
app.command("recreate")(ops_cli.recreate_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"picf {__version__}")
        raise typer.Exit()


def _ask_passphrase(path: Path) -> str | None:
    return getpass.getpass(f"passphrase for {path}: ") or None


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Discover Pis, keep them in an inventory, patch and build the ARM releases, deploy, and watch them."""
    if sys.stdin.isatty():  # a key with a passphrase (and not in ssh-agent) is asked for once, here
        prompts.set_passphrase_asker(_ask_passphrase)


def main() -> None:
    """Console-script entry point: the one place where an error becomes its message and exit code."""
    longrun.launched_from_console_script()
    try:
        app()
    except PicfError as exc:
        report_error(exc)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a file of the user's that cannot be read or written: say which, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(f"picf: {where}{exc.strerror or exc}", markup=False, highlight=False)
        sys.exit(1)
