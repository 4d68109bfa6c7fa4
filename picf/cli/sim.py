"""`picf sim ...`: a simulated Raspberry Pi LAN on this machine."""

from __future__ import annotations

import dataclasses
import os

import typer
from rich.table import Table

from picf.cli.output import err, note, out, print_json
from picf.models.sim import IMAGES, SimLan
from picf.sim import faults, lan, plan

app = typer.Typer(
    help="A simulated Raspberry Pi LAN on this machine: namespaces, real sshd, real mDNS, ARM under qemu.",
    no_args_is_help=True,
)

BridgeOption = typer.Option(plan.DEFAULT_BRIDGE, "--bridge", "-b", help="Bridge (and LAN) name.")


def _nodes_table(sim: SimLan) -> Table:
    table = Table(title=f"simulated LAN on {sim.bridge} ({sim.subnet})", title_justify="left")
    for column in ("name", "address", "model", "arch", "memory", "mac", "host key"):
        table.add_column(column, no_wrap=True)
    for node in sim.nodes:
        table.add_row(
            node.name, node.address, node.model, node.arch, f"{node.memory_mb} MB", node.mac, node.host_key or "-"
        )
    return table


@app.command("up")
def up_command(
    nodes: int = typer.Option(3, "--nodes", "-n", help="How many Pis."),
    models: str = typer.Option(
        ",".join(plan.DEFAULT_MODELS), "--models", help=f"Boards, cycled: {', '.join(plan.BOARDS)}."
    ),
    bridge: str = BridgeOption,
    subnet: str = typer.Option(plan.DEFAULT_SUBNET, "--subnet", help="IPv4 subnet of the LAN."),
    publish_ssh: bool = typer.Option(False, "--publish-ssh", help="Also publish _ssh._tcp (Pi OS does not)."),
    image: str = typer.Option(
        "bookworm", "--image", help=f"What Imager left on each card, cycled: {', '.join(IMAGES)}."
    ),
    user: str = typer.Option("pi", "--user", help="The first user Imager creates (sudo, the cluster's key)."),
    password: str | None = typer.Option(
        None, "--password", help="That user's password (default: generated; `picf sim status` shows it)."
    ),
    hostname_prefix: str = typer.Option(
        "pi", "--hostname-prefix", help="Name the Pis PREFIX-1, PREFIX-2, ... (two LANs at once need different ones)."
    ),
    json: bool = typer.Option(False, "--json", help="Print the LAN as JSON."),
) -> None:
    """Build the LAN (or grow or repair it: a second `up` starts only what is missing)."""
    boards = [m for m in models.split(",") if m.strip()]
    images = [plan.image_key(i) for i in image.split(",") if i.strip()]
    report = lan.up(nodes, boards, bridge, subnet, publish_ssh, progress=note, images=images, user=user,
                    password=password, hostname_prefix=hostname_prefix)  # fmt: skip
    if json:
        print_json(
            {
                **report.lan.model_dump(mode="json"),
                "started": report.started,
                "already_running": report.running,
                "seconds": round(report.seconds, 3),
            }
        )
        return
    out.print(_nodes_table(report.lan))
    if report.running:
        note(f"already running: {', '.join(report.running)}")
    note(f"started {len(report.started)} node(s) in {report.seconds:.2f} s")
    note(f"bridge: {report.lan.bridge} ({report.lan.bridge_address}); discover with --interface {report.lan.bridge}")
    note(f"controller key: {report.lan.controller_key}   known hosts: {report.lan.known_hosts}")
    note(f"first user: {report.lan.user} (password in `picf sim status`); root SSH is locked, as on a Pi")
    note(f"try: ssh -i {report.lan.controller_key} -o UserKnownHostsFile={report.lan.known_hosts} "
         f"{report.lan.user}@{report.lan.nodes[0].address}")  # fmt: skip


@app.command("status")
def status_command(bridge: str = BridgeOption, json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every node: running, power, link, SSH, temperature, throttle bits, faults; the first user's password."""
    nodes = lan.status(bridge)
    sim = lan.require(bridge)
    if json:
        print_json({"bridge": bridge, "user": sim.user, "password": sim.password,
                    "nodes": [dataclasses.asdict(n) for n in nodes]})  # fmt: skip
        return
    table = Table(title=f"simulated LAN on {bridge}", title_justify="left")
    for column in ("name", "address", "board", "arch", "image", "node", "link", "ssh", "boots", "temp",
                   "throttled", "faults"):  # fmt: skip
        table.add_column(column, no_wrap=True)
    for n in nodes:
        state = "running" if n.running else ("[red]down[/]" if n.powered else "[yellow]off[/]")
        table.add_row(
            n.name, n.address, n.board, n.arch, n.image, state, "up" if n.link_up else "[red]down[/]",
            "up" if n.ssh_up else "[red]down[/]", str(n.boots), f"{n.temp_c:.1f} C" if n.temp_c is not None else "-",
            n.throttled or "-", ", ".join(n.faults) or "-",
        )  # fmt: skip
    out.print(table)
    note(f"first user: {sim.user}, password: {sim.password} (set at imaging; sudo asks for it on trixie-2026)")


@app.command("down")
def down_command(bridge: str = BridgeOption, json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Remove every namespace, cable, process, mount and file the LAN made (also after a crash)."""
    report = lan.down(bridge)
    if json:
        print_json(dataclasses.asdict(report))
        return
    note(
        f"removed {len(report.namespaces)} node namespace(s)"
        f"{', the bridge' if report.bridge_removed else ''} and {len(report.unmounted)} mount(s) "
        f"in {report.seconds:.2f} s"
    )


@app.command("shell")
def shell_command(name: str = typer.Argument(..., help="Node name, e.g. pi-1."), bridge: str = BridgeOption) -> None:
    """A root shell on a node, as its console would give you (not SSH: root SSH is locked)."""
    argv = lan.shell_argv(bridge, name)
    err.print(f"{name}: exit the shell to come back", markup=False)
    os.execvp(argv[0], argv)


@app.command("inventory")
def inventory_command(bridge: str = BridgeOption) -> None:
    """Print a valid inventory for the running LAN (host keys pinned, no roles)."""
    text = lan.inventory_text(bridge)
    typer.echo(text, nl=False)


@app.command("fault")
def fault_command(
    name: str = typer.Argument(..., help="Node name."),
    kind: str = typer.Argument(..., help=f"One of: {', '.join(faults.KINDS)}."),
    bridge: str = BridgeOption,
    json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Break (or mend) a node: unplug its cable, stop sshd, overheat it, starve its power, or clear it."""
    what = lan.fault(bridge, name, kind)
    if json:
        print_json({"node": name, "fault": kind, "result": what})
    else:
        note(what)
