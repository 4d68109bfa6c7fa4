"""How Ansible reaches the nodes: Mitogen for Ansible when it is installed (one Python per node for the
whole run, its modules cached there: a task costs a message, not a fresh SSH session and a Python start), else
Ansible's own OpenSSH connection with pipelining and ControlPersist.

`choose("auto", mitogen_strategies())` takes Mitogen when its strategy plugins are importable and plain SSH
otherwise, with a note saying why; `choose("ssh", ...)` never uses Mitogen; `choose("mitogen", ...)` insists.
Either way host keys are checked against picf's pins (Mitogen runs the same `ssh` with the same
`UserKnownHostsFile` and `StrictHostKeyChecking=yes`), and a node that goes silent is given up on within
seconds (keepalives).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from picf.errors import UsageError

Kind = Literal["mitogen", "ssh"]
CHOICES = ("auto", "mitogen", "ssh")
KEEPALIVE_SECONDS, KEEPALIVE_COUNT = 2, 2  # a silent node is dropped after about 4 s, as with plain SSH
# Mitogen's connect timeout bounds its whole bootstrap (ssh, then Python started on the node and sent Mitogen's
# core, then sudo), not only the TCP connect (ssh's own ConnectTimeout still bounds that): on a busy controller
# or a Pi Zero the bootstrap alone can take several seconds.
BOOTSTRAP_SECONDS = 30


@dataclass(frozen=True)
class Connection:
    """The connection a deploy uses, the environment and variables that select it, and why."""

    kind: Kind
    env: dict[str, str] = field(default_factory=dict)
    host_vars: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def mitogen_strategies() -> Path | None:
    """Mitogen's Ansible strategy plugins directory, if Mitogen for Ansible is installed."""
    try:
        spec = importlib.util.find_spec("ansible_mitogen")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    strategies = Path(next(iter(spec.submodule_search_locations))) / "plugins" / "strategy"
    return strategies if (strategies / "mitogen_linear.py").is_file() else None


def choose(wanted: str, found: Path | None) -> Connection:
    """The connection for `wanted` (auto, mitogen or ssh), given where Mitogen's strategies are (None: not
    installed; see `mitogen_strategies`)."""
    if wanted not in CHOICES:
        raise UsageError(f"--connection {wanted!r}: choose one of {', '.join(CHOICES)}")
    if wanted == "ssh":
        return Connection("ssh")
    if found is None:
        if wanted == "mitogen":
            raise UsageError("--connection mitogen: Mitogen for Ansible is not installed (pip install mitogen); "
                             "or use --connection ssh")  # fmt: skip
        return Connection("ssh", note="Mitogen for Ansible is not installed: Ansible connects with plain SSH")
    return Connection(
        "mitogen",
        env={
            "ANSIBLE_STRATEGY_PLUGINS": str(found),
            "ANSIBLE_STRATEGY": "mitogen_linear",
            "ANSIBLE_TIMEOUT": str(BOOTSTRAP_SECONDS),
        },
        host_vars={
            "mitogen_ssh_keepalive_interval": KEEPALIVE_SECONDS,
            "mitogen_ssh_keepalive_count": KEEPALIVE_COUNT,
        },
    )
