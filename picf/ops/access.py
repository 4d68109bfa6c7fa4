"""How a day-2 command reaches a node and acts as root there: SSH as the cluster's user with the pinned host
key (picf.transport), then sudo as the deploy's `become` does, never a root login.

sudo runs without asking where the node lets it; where it asks, the password the person gave (-K or
PICF_BECOME_PASSWORD) is fed on stdin, never on a command line.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picf import transport
from picf.errors import PicfError, UsageError
from picf.models.cluster import Cluster
from picf.models.node import Node

STATE_FILE = "/var/vcap/picf/state.json"
STOPPED_DIR = "/var/vcap/picf/stopped"  # one empty file per job a person stopped (picf stop)
SCRIPTS = Path(__file__).with_name("scripts")

# sudo's own words: `-n` with a password needed; `-S` with a wrong one.
_NEEDS_PASSWORD = ("a password is required", "no password was provided", "a terminal is required")
_WRONG_PASSWORD = ("incorrect password", "Sorry, try again")


class SudoRefused(PicfError):
    """sudo on a node wants a password picf was not given, refused the one given, or is missing."""


def as_root(command: str, password: str | None) -> tuple[str, str | None]:
    """`command` run as root through sudo (already root: as it is), and what to feed on stdin."""
    quoted = shlex.quote(command)
    line = (
        f'if [ "$(id -u)" = 0 ]; then exec sh -c {quoted}; '
        "elif ! command -v sudo >/dev/null 2>&1; then echo 'picf: sudo is not installed' >&2; exit 126; "
        f"elif sudo -n true 2>/dev/null; then exec sudo -n sh -c {quoted}; "
        f"else exec sudo -S -p '' sh -c {quoted}; fi"
    )
    return line, (password + "\n" if password is not None else "")


def sudo_problem(node: str, user: str, stderr: str, password_given: bool) -> SudoRefused | None:
    """The one line for a sudo that did not let the command run, if that is what `stderr` says."""
    if "picf: sudo is not installed" in stderr:
        return SudoRefused(f"{node}: sudo is not installed, and picf gets root only through sudo as {user}; "
                           "install it on the node (apt-get install sudo)")  # fmt: skip
    if any(w in stderr for w in _WRONG_PASSWORD) and password_given:
        return SudoRefused(f"{node}: sudo refused the password for {user}; check it and run again (nothing was "
                           "changed)")  # fmt: skip
    if any(w in stderr for w in _NEEDS_PASSWORD + _WRONG_PASSWORD):
        return SudoRefused(f"{node}: sudo asks for {user}'s password; pass -K/--ask-become-pass or set "
                           "PICF_BECOME_PASSWORD", exit_code=2)  # fmt: skip
    return None


def unreachable(node: str, exc: transport.RemoteError) -> str:
    """How a node that could not be reached is named in a one-line problem: `pi-2 (10.0.0.12): why`."""
    return f"{node} ({exc.address}): {exc.reason}"


def script(name: str) -> str:
    """The text of one of the shell scripts picf sends to nodes for day-2 work (picf/ops/scripts)."""
    return (SCRIPTS / name).read_text()


@dataclass
class NodeSession:
    """One open connection to a node, with what picf needs to act as root on it."""

    cluster: Cluster
    node: Node
    conn: transport.NodeConnection
    password: str | None

    @property
    def name(self) -> str:
        return self.node.name

    def run(self, command: str, timeout: float) -> tuple[int, str, str]:
        """As the cluster's user: (exit code, stdout, stderr)."""
        return self.conn.execute(command, timeout)

    def run_root(self, command: str, timeout: float) -> tuple[int, str, str]:
        """As root through sudo: (exit code, stdout, stderr); SudoRefused when sudo did not let it run."""
        line, feed = as_root(command, self.password)
        code, out, err = self.conn.execute(line, timeout, stdin=feed)
        if code != 0:
            problem = sudo_problem(self.name, self.cluster.ssh.user, err, self.password is not None)
            if problem is not None:
                raise problem
        return code, out, err

    def recorded_state(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """What the node records it runs (`/var/vcap/picf/state.json`), None on a node picf never deployed to."""
        code, out, _ = self.run(f"cat {STATE_FILE} 2>/dev/null", timeout)
        if code != 0 or not out.strip():
            return None
        try:
            loaded = json.loads(out)
        except ValueError:
            return None
        return loaded if isinstance(loaded, dict) else None

    def close(self) -> None:
        self.conn.close()


def open_session(cluster: Cluster, node: Node, password: str | None, timeout: float | None = None) -> NodeSession:
    """Connect to `node` as the cluster's user, its host key checked against the pin (a changed key is refused
    as discovery refuses it). UsageError for a node without a pin; RemoteError when it cannot be reached."""
    if node.host_key is None:
        raise UsageError(f"{node.name}: no host key pinned; run `picf discover --write` (or `picf inventory pin "
                         f"{node.name}`) first")  # fmt: skip
    conn = transport.connect(node.address, cluster.ssh, node.host_key, timeout=timeout)
    return NodeSession(cluster, node, conn, password)
