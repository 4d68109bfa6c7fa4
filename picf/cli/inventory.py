"""`picf inventory ...`: validate, show and edit the inventory file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from picf import inventory as inv
from picf.atomic import LockTimeout
from picf.cli.output import err, fail, note, out, print_json
from picf.models import Cluster
from picf.models.node import normalize_arch

app = typer.Typer(help="Validate, show and edit the inventory file (inventory/cluster.yml).", no_args_is_help=True)

_DEFAULT = Path(os.environ.get("PICF_INVENTORY", str(inv.DEFAULT_INVENTORY)))
InventoryOption = typer.Option(_DEFAULT, "--inventory", "-i", help="Inventory file [env PICF_INVENTORY].")
DryRunOption = typer.Option(False, "--dry-run", "-n", help="Show the change, write nothing.")


@contextlib.contextmanager
def inventory_errors() -> Iterator[None]:
    """Turn the library's errors into one-line messages and exit codes; never a traceback."""
    try:
        yield
    except inv.InventoryInvalid as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        fail(f"{len(exc.problems)} problem(s) found; fix them and run `picf inventory validate`")
    except inv.InventoryError as exc:
        fail(str(exc), exc.exit_code)
    except LockTimeout as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or ''}: {exc.strerror or exc}")


@app.command()
def validate(
    file: Path = typer.Argument(_DEFAULT, help="Inventory file to check."),
    json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check the inventory: every problem at once, as FILE:LINE:COL: field: message."""
    with inventory_errors():
        try:
            cluster, problems = inv.check_file(file)
        except inv.InventoryError as exc:
            if json and not isinstance(exc, inv.InventoryUsageError):
                print_json({"file": str(file), "valid": False, "problems": [{"message": str(exc)}]})
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
    for problem in problems:
        err.print(str(problem), markup=False, highlight=False)
    if problems:
        fail(f"{file}: {len(problems)} problem(s)")
    assert cluster is not None
    out.print(f"{file}: valid, cluster {cluster.name!r} with {len(cluster.nodes)} node(s)", markup=False)


@app.command()
def show(
    inventory: Path = InventoryOption,
    json: bool = typer.Option(False, "--json", help="Print the cluster as JSON."),
) -> None:
    """The cluster's nodes as a table (or JSON)."""
    with inventory_errors():
        cluster = inv.read_inventory(inventory).cluster
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


def _report(result: inv.EditResult, dry_run: bool) -> None:
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


@app.command()
def add(
    name: str = typer.Argument(..., help="Node name (RFC 1123 host name)."),
    address: str = typer.Option(..., "--address", "-a", help="IP address or NAME.local."),
    role: list[str] = typer.Option([], "--role", "-r", help="Role to give the node (repeatable)."),
    arch: str | None = typer.Option(None, "--arch", help="Userland arch: armv6, armv7, arm64, amd64."),
    memory_mb: int | None = typer.Option(None, "--memory-mb", help="Memory in MB."),
    mac: str | None = typer.Option(None, "--mac", help="MAC address."),
    model: str | None = typer.Option(None, "--model", help="Board: model string, revision code or 3b+/4b/..."),
    inventory: Path = InventoryOption,
    dry_run: bool = DryRunOption,
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
    with inventory_errors():
        result = inv.edit_inventory(inventory, lambda d: inv.add_node(d, fields), dry_run=dry_run)
    _report(result, dry_run)


@app.command("set")
def set_(
    name: str = typer.Argument(..., help="Node name."),
    assignments: list[str] = typer.Argument(..., help="KEY=VALUE (empty VALUE removes KEY); labels.KEY=VALUE."),
    inventory: Path = InventoryOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Set fields of a node, e.g. `picf inventory set pi-1 memory_mb=1024 labels.rack=top`."""
    values: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            fail(f"{item!r}: expected KEY=VALUE, e.g. memory_mb=1024", 2)
        values[key.strip()] = inv.parse_scalar(raw)
    with inventory_errors():
        result = inv.edit_inventory(inventory, lambda d: inv.set_node_fields(d, name, values), dry_run=dry_run)
    _report(result, dry_run)


@app.command(context_settings={"ignore_unknown_options": True})
def roles(
    name: str | None = typer.Argument(None, help="Node name; without it, list the known roles."),
    changes: list[str] | None = typer.Argument(None, help="+ROLE adds, -ROLE removes."),
    inventory: Path = typer.Option(_DEFAULT, "--inventory", help="Inventory file [env PICF_INVENTORY]."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the change, write nothing."),
) -> None:
    """Change a node's roles (`picf inventory roles pi-1 +cell -router`), or list the roles."""
    if name is None:
        with inventory_errors():
            known = inv.read_inventory(inventory).cluster.all_roles
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
        with inventory_errors():
            node = inv.read_inventory(inventory).cluster.node(name)
        if node is None:
            fail(f"no node named {name!r} in {inventory}", 2)
        out.print(" ".join(node.roles) or "(no roles)", markup=False)
        return
    with inventory_errors():
        result = inv.edit_inventory(
            inventory, lambda d: inv.change_roles(d, name, add_roles, remove_roles), dry_run=dry_run
        )
    _report(result, dry_run)


@app.command()
def rm(
    name: str = typer.Argument(..., help="Node name."),
    inventory: Path = InventoryOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Remove a node from the inventory."""
    with inventory_errors():
        result = inv.edit_inventory(inventory, lambda d: inv.remove_node(d, name), dry_run=dry_run)
    _report(result, dry_run)
