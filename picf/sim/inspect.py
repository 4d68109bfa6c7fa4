"""Looking at a simulated LAN: each node's state for `picf sim status`, a console shell, its inventory."""

from __future__ import annotations

from dataclasses import dataclass

from picf.models.sim import SimLan, SimNode
from picf.sim import boot, export, faults, host, plan, state
from picf.sim.host import SimError
from picf.sim.ready import port_open
from picf.sim.state import require


@dataclass
class NodeStatus:
    """One node as `picf sim status` reports it."""

    name: str
    address: str
    board: str
    arch: str
    image: str
    running: bool
    powered: bool
    boots: int
    link_up: bool
    ssh_up: bool
    temp_c: float | None
    throttled: str | None
    faults: list[str]


def firmware(lan: SimLan, node: SimNode) -> faults.Firmware | None:
    """The node's simulated firmware readings (temperature, throttle bits), or None before it is imaged."""
    directory = state.node_dir(lan, node) / "state"
    try:
        temp = int((directory / "thermal/thermal_zone0/temp").read_text())
        throttled = faults.parse_throttled((directory / "throttled").read_text())
    except (OSError, ValueError):
        return None
    return faults.Firmware(temp, throttled)


def status(bridge: str = plan.DEFAULT_BRIDGE) -> list[NodeStatus]:
    """Every node of the LAN: running, power, link, SSH, temperature and throttle bits, active faults."""
    lan = require(bridge)
    out = []
    for node in lan.nodes:
        running = boot.running(node)
        link_up = host.link_is_up(node.veth)
        readings = firmware(lan, node)
        out.append(
            NodeStatus(
                name=node.name,
                address=node.address,
                board=node.board,
                arch=node.arch,
                image=node.image,
                running=running,
                powered=node.powered,
                boots=node.boots,
                link_up=link_up,
                ssh_up=running and link_up and port_open(node.address),
                temp_c=readings.temp_milli_c / 1000 if readings else None,
                throttled=f"{readings.throttled:#x}" if readings else None,
                faults=list(node.faults),
            )
        )
    return out


def shell_argv(bridge: str, name: str) -> list[str]:
    """argv that opens a root shell on node `name`, as its console would."""
    host.require_root_and_linux()
    lan = require(bridge)
    node = lan.node(name)
    if node is None or not node.keeper_pid or not boot.running(node):
        raise SimError(f"node {name!r} is not running on {bridge}; see `picf sim status`")
    return host.shell_argv(node.keeper_pid)


def inventory_text(bridge: str = plan.DEFAULT_BRIDGE) -> str:
    """A valid inventory for the running LAN, host keys pinned, as the LAN's first user."""
    return export.inventory_yaml(require(bridge))
