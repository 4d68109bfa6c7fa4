"""The shell scripts picf sends to nodes, read from this package's files, each with lib.sh's functions first."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

# identify: what a host is (discovery). node_state: what a node runs and how picf gets root on it (deploy).
# health: the poller's probe, defined once in a shell kept open. try_sudo_password: the password sudo asks for.
NAMES = ("identify", "node_state", "health", "try_sudo_password")


@cache
def script(name: str) -> str:
    """The script `name` as it is sent to a node: lib.sh, then NAME.sh."""
    if name not in NAMES:
        raise ValueError(f"no node script named {name!r}")
    here = files("picf.node_probe")
    return here.joinpath("lib.sh").read_text() + here.joinpath(f"{name}.sh").read_text()
