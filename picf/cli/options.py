"""Options every command spells the same way: the inventory and the manifest, and where picf looks for them."""

from __future__ import annotations

from pathlib import Path

import typer

from picf.inventory import find_inventory, lookup_note

INVENTORY_HELP = f"Inventory file [env PICF_INVENTORY; default: {lookup_note()}]."
MANIFEST_HELP = "Deployment manifest [env PICF_MANIFEST; default: deployment.yml beside the inventory]."


def inventory_option(help: str = INVENTORY_HELP) -> Path | None:
    """`-i/--inventory FILE`, also from $PICF_INVENTORY; None means "look in the usual places"."""
    value: Path | None = typer.Option(
        None, "--inventory", "-i", envvar="PICF_INVENTORY", help=help, show_default=False, show_envvar=False
    )
    return value


def manifest_option() -> Path | None:
    """`-m/--manifest FILE`, also from $PICF_MANIFEST; None means "deployment.yml beside the inventory"."""
    value: Path | None = typer.Option(
        None, "--manifest", "-m", envvar="PICF_MANIFEST", help=MANIFEST_HELP, show_default=False, show_envvar=False
    )
    return value


def inventory_path(given: Path | None) -> Path:
    """The inventory a command uses: the one named, else the first of ./inventory/cluster.yml and the config
    dir's cluster.yml that exists."""
    return given if given is not None else find_inventory()


def manifest_path(given: Path | None, inventory: Path) -> Path:
    """The manifest a command uses: the one named, else deployment.yml in the inventory's directory."""
    return given if given is not None else inventory.parent / "deployment.yml"
