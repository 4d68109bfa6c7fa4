"""Where a simulated LAN keeps what it is: its state file (under a lock), its key and its nodes' directories."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from picf.atomic import locked, write_atomic
from picf.models.sim import SimLan, SimNode
from picf.sim.host import SimError

SIM_ROOT = Path(os.environ.get("PICF_SIM_ROOT", "/run/picf-sim"))


def lan_dir(bridge: str) -> Path:
    """Where a LAN keeps its state, controller key and node directories."""
    return SIM_ROOT / bridge


def state_path(bridge: str) -> Path:
    return lan_dir(bridge) / "state.json"


def node_dir(lan: SimLan, node: SimNode) -> Path:
    """A node's directory: its disk (`upper/`), boot scripts, kernel files and firmware state."""
    return Path(lan.directory) / "nodes" / node.name


def load(bridge: str) -> SimLan | None:
    """The recorded state of the LAN on `bridge`, or None when there is none."""
    path = state_path(bridge)
    try:
        return SimLan.model_validate_json(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise SimError(f"{path}: unreadable simulator state ({exc}); run `picf sim down --bridge {bridge}`") from None


def require(bridge: str) -> SimLan:
    """The running LAN on `bridge`; a clear error when there is none."""
    lan = load(bridge)
    if lan is None:
        raise SimError(f"no simulated LAN on bridge {bridge!r}; start one with `picf sim up`")
    return lan


def save(lan: SimLan) -> None:
    """Write the LAN's state (mode 0600: it holds the imaging password)."""
    write_atomic(state_path(lan.bridge), lan.model_dump_json(indent=2).encode(), mode=0o600, backup=False)


@contextlib.contextmanager
def changing(bridge: str) -> Iterator[SimLan]:
    """Read, change and write the LAN's state under its lock (the CLI and the supervisor both change it)."""
    with locked(state_path(bridge), timeout=60):
        lan = require(bridge)
        yield lan
        save(lan)


def update_node(bridge: str, node: SimNode) -> None:
    """Record one node's new state (after a boot or a halt) without losing the others' changes."""
    with changing(bridge) as lan:
        lan.nodes = [node if n.name == node.name else n for n in lan.nodes]
