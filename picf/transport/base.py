"""The seam between picf and its nodes: what picf needs from a connection to run its scripts on a node.

As httpx's `BaseTransport` is the one place that does network I/O, `Transport.connect` is the one place the
poller, the deploy's node reading and identification reach a node; SSH implements it (`transport.ssh`), and a
fake node answering from recorded outputs implements it in the tests.
"""

from __future__ import annotations

from typing import Protocol

from picf.models.cluster import SshDefaults


class NodeShell(Protocol):
    """A shell kept open on a node: one line sent, the answer read up to an end marker."""

    @property
    def is_open(self) -> bool: ...

    def send(self, line: str, timeout: float) -> None:
        """Send one line (opening the shell first if it is not open)."""

    def receive(self, end_marker: str, timeout: float, limit: int = 1 << 20) -> str:
        """Everything up to and including the line `end_marker`, within `timeout`."""
        ...

    def close(self) -> None:
        """Close the shell (the connection stays open)."""


class NodeSession(Protocol):
    """An open connection to a node whose host key was checked: the key it proved and the IP it reached."""

    address: str
    host_key: str
    ip: str

    @property
    def alive(self) -> bool: ...

    def run(self, command: str, timeout: float = 10.0, stdin: str | None = None) -> str:
        """Run a shell command; its stdout. RemoteError on a non-zero exit, a timeout or a lost link."""
        ...

    def known_hosts_line(self) -> str:
        """`IP KEYTYPE BASE64` for an OpenSSH known_hosts file."""
        ...

    def open_shell(self, define: str = "") -> NodeShell:
        """A shell kept open on this connection; `define` is sent once when it opens."""
        ...

    def close(self) -> None:
        """Close the connection (idempotent)."""


class Transport(Protocol):
    """How picf reaches a node: connect, checking the host key against the pin, within `timeout` seconds."""

    def connect(self, address: str, ssh: SshDefaults, pinned: str | None, timeout: float | None = None) -> NodeSession:
        """Open a connection to `address`; RemoteError (HostKeyMismatch for a changed key) when it cannot."""
        ...
