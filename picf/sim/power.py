"""Power for simulated Pis: off, on, a cut and back, a reboot. The node's disk survives; nothing else does.

`picf sim fault NODE power-*` calls these from the CLI; `sudo reboot` on a node reaches them through the
LAN's supervisor. One node is powered by one caller at a time (a lock per node).
"""

from __future__ import annotations

from pathlib import Path

from picf.atomic import locked
from picf.models.sim import SimNode
from picf.sim import boot, state
from picf.sim.host import SimError


def _node(bridge: str, name: str) -> tuple[Path, SimNode]:
    lan = state.require(bridge)
    node = lan.node(name)
    if node is None:
        raise SimError(f"no node {name!r} on {bridge} (nodes: {', '.join(n.name for n in lan.nodes)})")
    return state.node_dir(lan, node), node


def _firstrun(directory: Path) -> str | None:
    script = directory / "firstrun.sh"
    return script.read_text() if script.exists() else None


def start(bridge: str, name: str) -> SimNode:
    """Boot a node that is off (power-on); the first boot also runs the imaging's first-run script."""
    directory, _ = _node(bridge, name)
    with locked(directory / "power"):
        directory, node = _node(bridge, name)
        if node.powered and boot.running(node):
            return node
        boot.halt(node, power_off=False)  # leftovers of a node that died on its own
        firstrun = _firstrun(directory)
        node = boot.boot(directory, node, firstrun)
        (directory / "firstrun.sh").unlink(missing_ok=True)
        state.update_node(bridge, node)
        return node


def stop(bridge: str, name: str) -> SimNode:
    """Cut a node's power: every process ends, its network goes dark; its disk stays."""
    directory, _ = _node(bridge, name)
    with locked(directory / "power"):
        directory, node = _node(bridge, name)
        boot.halt(node, power_off=True)
        node = node.model_copy(update={"keeper_pid": None, "powered": False})
        state.update_node(bridge, node)
        return node


def cycle(bridge: str, name: str) -> SimNode:
    """A power cut and the power back (also what a reboot is, seen from outside the node)."""
    stop(bridge, name)
    return start(bridge, name)
