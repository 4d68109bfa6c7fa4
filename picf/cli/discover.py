"""`picf discover`: find Pis with mDNS, identify them over SSH, merge them into the inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from picf import inventory as inv
from picf.cli.confirm import confirmed
from picf.cli.options import inventory_option, inventory_path
from picf.cli.output import err, fail, note, out, print_json
from picf.models.cluster import Cluster, SshDefaults
from picf.models.discovery import Candidate, MergeAction

_IN_INVENTORY = {"add": "new", "update": "yes, updated", "unchanged": "yes", "conflict": "CONFLICT", "skip": "no"}
_DEFAULT_WRITE = "__inventory__"


def _table(candidates: list[Candidate], actions: dict[str, MergeAction]) -> Table:
    table = Table(title=f"{len(candidates)} host(s) answered", title_justify="left")
    for column in ("name", "address", "MAC", "model", "arch", "memory", "Pi?", "in inventory?", "notes"):
        table.add_column(column, no_wrap=column not in {"notes", "model"})
    for c in candidates:
        action = actions.get(c.hostname)
        notes = [n for n in (c.conflict, c.probe_error, action.reason if action else None) if n] + c.notes
        table.add_row(
            action.node if action and action.node else (c.name or c.hostname),
            c.address or "-",
            c.mac or "-",
            c.model.short if c.model else "-",
            c.arch or "-",
            f"{c.memory_mb} MB" if c.memory_mb else "-",
            "yes" if c.is_pi else "no",
            _IN_INVENTORY[action.outcome] if action else "-",
            "; ".join(notes) or "",
            style="red" if action and action.outcome == "conflict" else None,
        )
    return table


def _apply(actions: list[MergeAction]) -> inv.Edit:
    def edit(draft: inv.Draft) -> None:
        for action in actions:
            if action.outcome == "add":
                inv.add_node(draft, action.changes)
            elif action.outcome == "update" and action.node:
                inv.set_node_fields(draft, action.node, action.changes)

    return edit


def discover_command(
    interface: list[str] = typer.Option([], "--interface", "-I", help="Listen on this interface (repeatable)."),
    settle: float = typer.Option(1.0, "--settle", help="Stop when nothing new arrived for this many seconds."),
    timeout: float = typer.Option(10.0, "--timeout", help="Stop after this many seconds in any case."),
    no_probe: bool = typer.Option(False, "--no-probe", help="Do not SSH to the hosts; mDNS facts only."),
    inventory_given: Path | None = inventory_option(),
    write: str | None = typer.Option(
        None, "--write", flag_value=_DEFAULT_WRITE, help="Merge into the inventory (or into FILE: --write=FILE)."
    ),
    include_all: bool = typer.Option(False, "--all", help="Also add hosts that are not Raspberry Pis."),
    user: str | None = typer.Option(None, "--user", help="SSH user (default: the inventory's, else pi)."),
    key: str | None = typer.Option(None, "--key", help="SSH private key (default: the inventory's)."),
    name: str = typer.Option("pi-cloud", "--cluster-name", help="Cluster name for a new inventory."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Write without asking."),
    json: bool = typer.Option(False, "--json", help="Print what was found as JSON."),
) -> None:
    """Find Raspberry Pis with mDNS, identify them over SSH, pin their host keys, merge into the inventory."""
    # Imported here: zeroconf and paramiko cost every other `picf` command a tenth of a second.
    from picf.discovery import DiscoveryOptions, discover, plan_merge

    inventory = inventory_path(inventory_given)
    target = inventory if write in (None, _DEFAULT_WRITE) else Path(write)
    cluster: Cluster | None = None
    if target.exists() or (write is None and inventory.exists()):
        cluster = inv.read_inventory(target).cluster
    ssh_fields: dict[str, Any] = cluster.ssh.model_dump() if cluster else SshDefaults().model_dump()
    ssh_fields.update({k: v for k, v in (("user", user), ("private_key", key)) if v})
    try:
        ssh = SshDefaults.model_validate(ssh_fields)
    except ValueError as exc:
        fail(f"bad SSH settings: {exc}", 2)
    if interface:  # a wrong interface name is the first thing to say
        from picf.discovery.mdns import interface_addresses

        interface_addresses(interface)
    if not no_probe:
        from picf import transport

        transport.load_identity(ssh)  # a locked or missing key: one line now, not one per host
    options = DiscoveryOptions(
        interfaces=interface or None, settle=settle, timeout=timeout, probe=not no_probe, ssh=ssh
    )
    where = ", ".join(interface) if interface else "all interfaces"
    note(f"browsing _workstation._tcp and _ssh._tcp on {where} ...")
    result = discover(cluster, options, progress=note)
    actions = plan_merge(cluster, result.candidates, include_all)
    by_host = {a.hostname: a for a in actions}
    conflicts = [a for a in actions if a.outcome == "conflict"]
    written = False
    if write is not None and any(a.outcome in {"add", "update"} for a in actions):
        written = _write(target, actions, ssh, name, yes, quiet=json)
    elif write is not None and result.candidates:
        note(f"{target}: up to date, nothing to write")
    if json:
        print_json(
            {
                "answers": result.answers,
                "seconds": round(result.seconds, 3),
                "candidates": [c.model_dump(mode="json") for c in result.candidates],
                "actions": [a.model_dump(mode="json") for a in actions],
                "written": written,
            }
        )
    else:
        out.print(_table(result.candidates, by_host))
        note(f"{len(result.candidates)} host(s) in {result.seconds:.2f} s")
    if not result.candidates:
        fail(f"no answers on mDNS on {where} within {result.seconds:.1f} s; are the Pis on, and on this LAN?", 3)
    for action in conflicts:
        err.print(f"picf: conflict: {action.hostname}: {action.reason}", markup=False, highlight=False)
    if conflicts:
        raise typer.Exit(1)


def _write(target: Path, actions: list[MergeAction], ssh: SshDefaults, name: str, yes: bool, quiet: bool) -> bool:
    create = inv.new_inventory_text(name, ssh.model_dump()) if not target.exists() else None
    edit = _apply(actions)
    preview = inv.edit_inventory(target, edit, dry_run=True, create_from=create)
    if not preview.diff:
        note(f"{target}: nothing to change")
        return False
    if not quiet:
        err.print(preview.diff, markup=False, highlight=False, end="")
    refusal = f"{target}: not written; run again with --yes to write without asking"
    if not confirmed(f"write these changes to {target}?", yes, refusal):
        note("not written")
        return False
    result = inv.edit_inventory(target, edit, create_from=create)
    added = sum(a.outcome == "add" for a in actions)
    updated = sum(a.outcome == "update" for a in actions)
    note(f"{target}: {added} added, {updated} updated")
    return result.written
