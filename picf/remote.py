"""The one place picf opens SSH for itself (fabric). Ansible has its own connections.

Every connection checks the node's host key against the fingerprint pinned in the inventory before it
authenticates; with no pin (discovery of a new node) it records the key it saw, so the caller can pin it.
Failures come back as RemoteError with one line a person can act on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
from fabric import Connection
from invoke.exceptions import CommandTimedOut, UnexpectedExit

from picf.hostkeys import fingerprint_of_blob
from picf.models.cluster import SshDefaults


class RemoteError(Exception):
    """A node could not be reached or did not run a command; `kind` says which way it failed."""

    def __init__(self, address: str, kind: str, message: str) -> None:
        super().__init__(f"{address}: {message}")
        self.address = address
        self.kind = kind  # unreachable | refused | auth | host-key | timeout | command | no-key


class HostKeyMismatch(RemoteError):
    """The node presented a different host key than the one pinned: a reinstall, or an impostor."""

    def __init__(self, address: str, expected: str, seen: str) -> None:
        super().__init__(
            address,
            "host-key",
            f"host key {seen} does not match the pinned {expected}: possible impostor; if the node was "
            "reinstalled, remove its host_key from the inventory and run `picf discover --write` again",
        )
        self.expected = expected
        self.seen = seen


class PinnedHostKey(paramiko.MissingHostKeyPolicy):
    """Accept exactly the pinned fingerprint; with no pin, accept and remember what was seen."""

    def __init__(self, address: str, expected: str | None) -> None:
        self.address = address
        self.expected = expected
        self.seen: str | None = None

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        self.seen = fingerprint_of_blob(key.asbytes())
        if self.expected is not None and self.seen != self.expected:
            raise HostKeyMismatch(self.address, self.expected, self.seen)


@dataclass
class NodeConnection:
    """An open SSH connection to one node, with the host key it proved."""

    address: str
    host_key: str
    connection: Connection

    def run(self, command: str, timeout: float = 10.0) -> str:
        """Run a shell command; return stdout; RemoteError on a non-zero exit or a timeout."""
        try:
            result = self.connection.run(command, hide=True, warn=True, timeout=timeout, in_stream=False)
        except CommandTimedOut:
            raise RemoteError(self.address, "timeout", f"command did not finish in {timeout:.0f} s") from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise RemoteError(self.address, "unreachable", f"connection lost: {exc}") from None
        except UnexpectedExit as exc:  # warn=True makes this rare; keep it one line anyway
            raise RemoteError(self.address, "command", f"exit {exc.result.exited}") from None
        if result.exited != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [f"exit {result.exited}"]
            raise RemoteError(self.address, "command", f"command failed: {tail[0][:200]}")
        return str(result.stdout)

    def known_hosts_line(self) -> str:
        """`ADDRESS KEYTYPE BASE64` for an OpenSSH known_hosts file (the key this connection verified)."""
        transport = self.connection.client.get_transport()
        assert transport is not None
        key = transport.get_remote_server_key()
        return f"{self.address} {key.get_name()} {key.get_base64()}"

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.connection.close()


def private_key_path(ssh: SshDefaults) -> Path:
    """The cluster's private key, `~` expanded."""
    return Path(ssh.private_key).expanduser()


def connect(address: str, ssh: SshDefaults, pinned: str | None, timeout: float | None = None) -> NodeConnection:
    """Open SSH to `address` as the inventory's user with the cluster key, checking the host key first."""
    key = private_key_path(ssh)
    if not key.is_file():
        raise RemoteError(address, "no-key", f"private key {key} not found; set ssh.private_key in the inventory")
    wait = max(1, round(timeout if timeout is not None else ssh.connect_timeout))
    policy = PinnedHostKey(address, pinned)
    connect_kwargs: dict[str, Any] = {
        "key_filename": str(key),
        "look_for_keys": False,
        "allow_agent": False,
        "banner_timeout": wait,
        "auth_timeout": wait,
    }
    conn = Connection(host=address, user=ssh.user, port=ssh.port, connect_timeout=wait, connect_kwargs=connect_kwargs)
    conn.client.set_missing_host_key_policy(policy)
    try:
        conn.open()
    except HostKeyMismatch:
        conn.close()
        raise
    except paramiko.AuthenticationException:
        conn.close()
        raise RemoteError(
            address, "auth", f"the cluster key is not accepted for {ssh.user}; add {key}.pub to authorized_keys"
        ) from None
    except TimeoutError:
        conn.close()
        raise RemoteError(address, "unreachable", f"no answer on port {ssh.port} within {wait} s") from None
    except paramiko.ssh_exception.NoValidConnectionsError as exc:
        conn.close()
        if all(isinstance(e, ConnectionRefusedError) for e in exc.errors.values()):
            raise RemoteError(address, "refused", f"SSH refused on port {ssh.port} (is sshd running?)") from None
        raise RemoteError(address, "unreachable", f"cannot connect to port {ssh.port}") from None
    except ConnectionRefusedError:
        conn.close()
        raise RemoteError(address, "refused", f"SSH refused on port {ssh.port} (is sshd running?)") from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        conn.close()
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise RemoteError(address, "unreachable", f"cannot connect: {reason}") from None
    if policy.seen is None:  # paramiko knew the key already (a system known_hosts entry)
        transport = conn.client.get_transport()
        assert transport is not None
        policy.seen = fingerprint_of_blob(transport.get_remote_server_key().asbytes())
        if pinned is not None and policy.seen != pinned:
            conn.close()
            raise HostKeyMismatch(address, pinned, policy.seen)
    return NodeConnection(address=address, host_key=policy.seen, connection=conn)


class ShellChannel:
    """A remote `/bin/sh` kept open on a connection: a command sent down it costs one round trip (about a
    millisecond on a LAN), not a new exec channel (about 170 ms with paramiko). Its stderr is discarded.

    `define` is sent once when the shell opens (function definitions); `ask` sends one line and reads until the
    line `end_marker`. A timeout or a broken channel closes it; the next `ask` opens a new one.
    """

    def __init__(self, conn: NodeConnection, define: str = "") -> None:
        self.conn = conn
        self.define = define
        self._channel: paramiko.Channel | None = None
        self.opened = 0  # how many times a shell was opened (1 when all went well)

    def _open(self, timeout: float) -> paramiko.Channel:
        transport = self.conn.connection.client.get_transport()
        if transport is None or not transport.is_active():
            raise RemoteError(self.conn.address, "unreachable", "connection lost")
        try:
            channel = transport.open_session(timeout=timeout)
            channel.exec_command("exec /bin/sh 2>/dev/null")
            if self.define:
                channel.sendall(self.define.encode() + b"\n")
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise RemoteError(
                self.conn.address, "unreachable", f"cannot open a shell: {str(exc) or 'timed out'}"
            ) from None
        self.opened += 1
        opened: paramiko.Channel = channel
        return opened

    def ask(self, line: str, end_marker: str, timeout: float, limit: int = 1 << 20) -> str:
        """Send `line`, return everything up to and including `end_marker`'s line; RemoteError otherwise."""
        deadline = time.monotonic() + timeout
        if self._channel is None or self._channel.closed:
            self._channel = self._open(timeout)
        channel = self._channel
        marker = ("\n" + end_marker + "\n").encode()
        buffer = bytearray()
        try:
            channel.sendall(line.encode() + b"\n")
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                channel.settimeout(left)
                chunk = channel.recv(65536)
                if not chunk:
                    raise EOFError("the remote shell ended")
                buffer += chunk
                if marker in buffer:
                    return bytes(buffer[: buffer.index(marker) + len(marker)]).decode("utf-8", "replace")
                if len(buffer) > limit:
                    raise EOFError(f"answer larger than {limit} bytes")
        except TimeoutError:
            self.close()
            raise RemoteError(self.conn.address, "timeout", f"no answer in {timeout:g} s") from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            self.close()
            raise RemoteError(self.conn.address, "unreachable", f"shell lost: {exc}") from None

    def close(self) -> None:
        """Close the shell (the connection stays open)."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
