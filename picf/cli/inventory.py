"""`picf inventory ...`: validate, show and edit the inventory file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from picf import inventory as inv
from picf.cli.confirm import confirmed
from picf.cli.options import inventory_option, inventory_path
from picf.cli.output import err, fail, note, out, print_json
from picf.hostkeys import mismatch
from picf.models import Cluster
from picf.models.node import normalize_arch

app = typer.Typer(help="Validate, show and edit the inventory file (inventory/cluster.yml).", no_args_is_help=True)

DryRunOption = typer.Option(False, "--dry-run", "-n", help="Show the change, write nothing.")
JsonOption = typer.Option(False, "--json", help="Print the result as JSON.")


@app.command("validate")
def validate_command(inventory: Path | None = inventory_option(), json: bool = JsonOption) -> None:
    """Check the inventory: every problem at once, as FILE:LINE:COL: field: message."""
    file = inventory_path(inventory)
    try:
        cluster, problems = inv.check_file(file)
    except inv.InventoryError as exc:
        if json and not isinstance(exc, inv.InventoryUsageError):
            print_json({"file": str(file), "valid": False, "nodes": None, "problems": [{"message": str(exc)}]})
            raise typer.Exit(1) from None
        raise
    if json:
        print_json(
            {
                "file": str(file),
                "valid": not problems,
                "nodes": len(cluster.nodes) if cluster else None,
                "problems": [
                    {"line": p.line, "col": p.col, "path": p.problem.path, "message": p.problem.message}
                    for p in problems
                ],
            }
        )
        raise typer.Exit(1 if problems else 0)
    if problems:
        raise inv.InventoryInvalid(problems)
    assert cluster is not None
    out.print(f"{file}: valid, cluster {cluster.name!r} with {len(cluster.nodes)} node(s)", markup=False)


@app.command("show")
def show_command(inventory: Path | None = inventory_option(), json: bool = JsonOption) -> None:
    """The cluster's nodes as a table (or JSON)."""
    cluster = inv.read_inventory(inventory_path(inventory)).cluster
    if json:
        print_json(cluster.model_dump(mode="json"))
        return
    out.print(_nodes_table(cluster))


def _nodes_table(cluster: Cluster) -> Table:
    table = Table(title=f"cluster {cluster.name} ({len(cluster.nodes)} nodes)", title_justify="left")
    for column in ("name", "address", "model", "arch", "memory", "roles", "mac", "host key"):
        table.add_column(column, no_wrap=column in {"name", "address", "mac"})
    for node in cluster.nodes:
        memory = node.effective_memory_mb
        table.add_row(
            node.name,
            node.address,
            node.model.short if node.model else "-",
            node.arch or "?",
            f"{memory} MB" if memory else "?",
            ", ".join(node.roles) or "-",
            node.mac or "-",
            (node.host_key[:19] + "...") if node.host_key else "not pinned",
        )
    return table


def _report(result: inv.EditResult, dry_run: bool, json: bool) -> None:
    if json:
        print_json(
            {"file": str(result.path), "changed": bool(result.diff), "written": result.written, "dry_run": dry_run,
             "diff": result.diff, "notes": result.notes}
        )  # fmt: skip
        return
    for line in result.notes:
        note(line)
    if not result.diff:
        note(f"{result.path}: nothing to change")
        return
    err.print(result.diff, markup=False, highlight=False, end="")
    if dry_run:
        note("dry run: nothing written")
    else:
        note(f"{result.path}: written (previous version in {result.path.name}.bak)")


@app.command("add")
def add_command(
    name: str = typer.Argument(..., help="Node name (RFC 1123 host name)."),
    address: str = typer.Option(..., "--address", "-a", help="IP address or NAME.local."),
    role: list[str] = typer.Option([], "--role", "-r", help="Role to give the node (repeatable)."),
    arch: str | None = typer.Option(None, "--arch", help="Userland arch: armv6, armv7, arm64, amd64."),
    memory_mb: int | None = typer.Option(None, "--memory-mb", help="Memory in MB."),
    mac: str | None = typer.Option(None, "--mac", help="MAC address."),
    model: str | None = typer.Option(None, "--model", help="Board: model string, revision code or 3b+/4b/..."),
    inventory: Path | None = inventory_option(),
    dry_run: bool = DryRunOption,
    json: bool = JsonOption,
) -> None:
    """Add a node."""
    if arch is not None:
        try:
            arch = normalize_arch(arch)
        except ValueError as exc:
            fail(str(exc), 2)
    fields: dict[str, Any] = {
        "name": name,
        "address": address,
        "mac": mac,
        "model": model,
        "arch": arch,
        "memory_mb": memory_mb,
        "roles": list(role),
    }
    result = inv.edit_inventory(inventory_path(inventory), lambda d: inv.add_node(d, fields), dry_run=dry_run)
    _report(result, dry_run, json)


@app.command("set")
def set_command(
    name: str = typer.Argument(..., help="Node name."),
    assignments: list[str] = typer.Argument(..., help="KEY=VALUE (empty VALUE removes KEY); labels.KEY=VALUE."),
    inventory: Path | None = inventory_option(),
    dry_run: bool = DryRunOption,
    json: bool = JsonOption,
) -> None:
    """Set fields of a node, e.g. `picf inventory set pi-1 memory_mb=1024 labels.rack=top`."""
    values: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            fail(f"{item!r}: expected KEY=VALUE, e.g. memory_mb=1024", 2)
        values[key.strip()] = inv.parse_scalar(raw)
    path = inventory_path(inventory)
    result = inv.edit_inventory(path, lambda d: inv.set_node_fields(d, name, values), dry_run=dry_run)
    _report(result, dry_run, json)


@app.command("roles", context_settings={"ignore_unknown_options": True})
def roles_command(
    name: str | None = typer.Argument(None, help="Node name; without it, list the known roles."),
    changes: list[str] | None = typer.Argument(None, help="+ROLE adds, -ROLE removes."),
    inventory: Path | None = inventory_option(),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the change, write nothing."),
    json: bool = JsonOption,
) -> None:
    """Change a node's roles (`picf inventory roles pi-1 +cell -router`), or list the roles."""
    path = inventory_path(inventory)
    if name is None:
        known = inv.read_inventory(path).cluster.all_roles
        if json:
            print_json({role_name: role.model_dump(mode="json") for role_name, role in known.items()})
            return
        table = Table(title="roles", title_justify="left")
        for column in ("role", "arches", "min memory", "memory cgroup", "jobs", "what it is"):
            table.add_column(column)
        for role_name, role in known.items():
            table.add_row(
                role_name,
                ", ".join(role.arches),
                f"{role.min_memory_mb} MB",
                "needed" if role.needs_memory_cgroup else "-",
                ", ".join(role.jobs),
                role.description,
            )
        out.print(table)
        return
    add_roles: list[str] = []
    remove_roles: list[str] = []
    for change in changes or []:
        if change.startswith("+") and len(change) > 1:
            add_roles.append(change[1:])
        elif change.startswith("-") and len(change) > 1:
            remove_roles.append(change[1:])
        else:
            fail(f"{change!r}: write +ROLE to add or -ROLE to remove", 2)
    if not add_roles and not remove_roles:
        node = inv.read_inventory(path).cluster.node(name)
        if node is None:
            fail(f"{path}: no node named {name!r}; see `picf inventory show`", 2)
        if json:
            print_json({"node": node.name, "roles": list(node.roles)})
        else:
            out.print(" ".join(node.roles) or "(no roles)", markup=False)
        return
    result = inv.edit_inventory(path, lambda d: inv.change_roles(d, name, add_roles, remove_roles), dry_run=dry_run)
    _report(result, dry_run, json)


@app.command("rm")
def rm_command(
    name: str = typer.Argument(..., help="Node name."),
    inventory: Path | None = inventory_option(),
    dry_run: bool = DryRunOption,
    json: bool = JsonOption,
) -> None:
    """Remove a node from the inventory."""
    result = inv.edit_inventory(inventory_path(inventory), lambda d: inv.remove_node(d, name), dry_run=dry_run)
    _report(result, dry_run, json)


@app.command("pin")
def pin_command(
    name: str = typer.Argument(..., help="Node name (a node mDNS browsing cannot list, added by address)."),
    inventory: Path | None = inventory_option(),
    yes: bool = typer.Option(False, "--yes", "-y", help="Pin without asking."),
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds the node has to answer."),
    json: bool = JsonOption,
) -> None:
    """Fetch a node's SSH host key, show its SHA256 fingerprint and pin it (asks first; a different key than
    the one pinned is refused, as in discover)."""
    from picf import transport  # paramiko costs every other command a tenth of a second

    path = inventory_path(inventory)
    cluster = inv.read_inventory(path).cluster
    node = cluster.node(name)
    if node is None:
        fail(f"{path}: no node named {name!r}; add it with `picf inventory add {name} --address ...`", 2)
    seen, _ = transport.fetch_host_key(node.address, cluster.ssh.port, timeout)
    result: dict[str, Any] = {"node": name, "address": node.address, "host_key": seen, "pinned_before": node.host_key}
    if node.host_key is not None and node.host_key != seen:
        if json:
            print_json({**result, "written": False, "conflict": True})
        fail(f"{name} ({node.address}): {mismatch(seen, node.host_key, name)}")
    if node.host_key == seen:
        if json:
            print_json({**result, "written": False, "conflict": False})
        else:
            note(f"{name}: host key {seen} is pinned already")
        return
    note(f"{name} ({node.address}) presents host key {seen}")
    refusal = (f"{path}: not pinned; compare the fingerprint with the Pi's (ssh-keygen -lf "
               "/etc/ssh/ssh_host_ed25519_key.pub on its console) and run again with --yes")  # fmt: skip
    if not confirmed(f"pin {seen} for {name}?", yes, refusal):
        note("not pinned")
        raise typer.Exit(1)
    edit = inv.edit_inventory(path, lambda d: inv.set_node_fields(d, name, {"host_key": seen}))
    if json:
        print_json({**result, "written": edit.written, "conflict": False, "diff": edit.diff})
    else:
        _report(edit, dry_run=False, json=False)
