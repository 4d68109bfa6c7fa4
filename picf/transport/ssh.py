"""SSH to a node for picf itself (fabric): the connection, its deadlines, and a shell kept open on it.
Ansible has its own connections.

Every connection checks the node's host key against the fingerprint pinned in the inventory before it
authenticates; with no pin (discovery of a new node) it records the key it saw, so the caller can pin it.
Failures come back as RemoteError with one line a person can act on.

Every call keeps its own deadline whatever the network does. paramiko has calls that wait without one (a
channel request waits for the server's reply; a channel open waits up to an hour), and a pulled cable sends
no reset: TCP retransmits for a quarter of an hour. So each call runs under a watchdog that, at the deadline,
shuts the socket and closes the transport, which wakes every waiting call; the call then raises a timeout.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import paramiko
from fabric import Connection

from picf import simnet
from picf.hostkeys import fingerprint_of_blob
from picf.models.cluster import SshDefaults
from picf.transport.errors import HostKeyMismatch, PinnedHostKey, RemoteError, check_host_key
from picf.transport.identity import load_identity
from picf.transport.names import resolve
from picf.watchdog import Watchdog

# paramiko's transport thread logs a traceback for every failed handshake; picf reports failures itself.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


def _shut(sock: socket.socket | None) -> None:
    """Shut a socket down so that every thread blocked on it wakes up, then close it."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class NodeConnection:
    """An open SSH connection to one node, with the host key it proved and the IP address it reached."""

    address: str
    host_key: str
    connection: Connection
    ip: str
    sock: socket.socket

    @contextlib.contextmanager
    def deadline(self, seconds: float, what: str) -> Iterator[None]:
        """Run the block within `seconds`; past that the connection is killed and RemoteError(timeout) raised."""
        dog = Watchdog(time.monotonic() + seconds, self.kill)
        try:
            yield
        except RemoteError:
            if dog.fired:
                raise RemoteError(self.address, "timeout", f"{what}: no answer in {seconds:.1f} s") from None
            raise
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if dog.fired or isinstance(exc, TimeoutError):
                raise RemoteError(self.address, "timeout", f"{what}: no answer in {seconds:.1f} s") from None
            raise RemoteError(
                self.address, "unreachable", f"connection lost: {str(exc) or type(exc).__name__}"
            ) from None
        finally:
            dog.cancel()
        if dog.fired:  # the block returned, but only because the connection was killed under it
            raise RemoteError(self.address, "timeout", f"{what}: no answer in {seconds:.1f} s")

    @property
    def alive(self) -> bool:
        """True while the SSH transport is up."""
        transport = self.connection.client.get_transport()
        return transport is not None and transport.is_active()

    def run(self, command: str, timeout: float = 10.0, stdin: str | None = None) -> str:
        """Run a shell command (with `stdin`, e.g. a password, fed to it: never on its command line); return
        stdout; RemoteError on a non-zero exit, a timeout or a lost link."""
        stream: Any = io.StringIO(stdin) if stdin is not None else False
        with self.deadline(timeout, "command"):
            result = self.connection.run(command, hide=True, warn=True, in_stream=stream)
        if result.exited != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [f"exit {result.exited}"]
            raise RemoteError(self.address, "command", f"command failed: {tail[0][:200]}")
        return str(result.stdout)

    def execute(self, command: str, timeout: float, stdin: str | None = None) -> tuple[int, str, str]:
        """Run a shell command and return (exit code, stdout, stderr), whatever the exit code; RemoteError only
        for a timeout or a lost link."""
        stream: Any = io.StringIO(stdin) if stdin is not None else False
        with self.deadline(timeout, "command"):
            result = self.connection.run(command, hide=True, warn=True, in_stream=stream)
        return int(result.exited), str(result.stdout), str(result.stderr)

    def stream(self, command: str, out: Any, err: Any, stdin: str | None = None) -> int:
        """Run a command for as long as it runs, writing its output to `out` and `err` (objects with `write`
        and `flush`) as it comes; its exit code. A lost link is a RemoteError."""
        feed: Any = io.StringIO(stdin) if stdin is not None else False
        try:
            result = self.connection.run(
                command, hide=False, warn=True, in_stream=feed, out_stream=out, err_stream=err, pty=False
            )
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise RemoteError(
                self.address, "unreachable", f"connection lost: {str(exc) or type(exc).__name__}"
            ) from None
        return int(result.exited)

    def read_to(self, command: str, sink: Any, timeout: float, stdin: str | None = None) -> tuple[int, str]:
        """Run a command whose stdout is bytes (a tarball), written to the binary file `sink`; return (exit
        code, stderr's last lines). Within `timeout` seconds."""
        transport = self.connection.client.get_transport()
        if transport is None or not transport.is_active():
            raise RemoteError(self.address, "unreachable", "connection lost")
        errors = bytearray()
        with self.deadline(timeout, "download"):
            channel = transport.open_session(timeout=timeout)
            channel.exec_command(command)
            if stdin is not None:
                channel.sendall(stdin.encode())
            channel.shutdown_write()
            while True:
                if channel.recv_stderr_ready():
                    errors += channel.recv_stderr(65536)[: 1 << 16]
                chunk = channel.recv(65536)
                if not chunk:
                    break
                sink.write(chunk)
            while channel.recv_stderr_ready():
                errors += channel.recv_stderr(65536)[: 1 << 16]
            code = channel.recv_exit_status()
            channel.close()
        return code, errors.decode("utf-8", "replace").strip()

    def known_hosts_line(self) -> str:
        """`IP KEYTYPE BASE64` for an OpenSSH known_hosts file (the key this connection verified)."""
        transport = self.connection.client.get_transport()
        assert transport is not None
        key = transport.get_remote_server_key()
        return f"{self.ip} {key.get_name()} {key.get_base64()}"

    def open_shell(self, define: str = "") -> ShellChannel:
        """A `/bin/sh` kept open on this connection (opened when the first line is sent)."""
        return ShellChannel(self, define)

    def kill(self) -> None:
        """Drop the connection now, waking any call blocked on it (safe from any thread)."""
        _shut(self.sock)
        with contextlib.suppress(Exception):
            self.connection.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.kill()


def connect(address: str, ssh: SshDefaults, pinned: str | None, timeout: float | None = None) -> NodeConnection:
    """Open SSH to `address` as the inventory's user with the cluster key, checking the host key first.

    Everything (name lookup, TCP, the SSH handshake, authentication) happens within `timeout` seconds."""
    wait = max(0.5, timeout if timeout is not None else ssh.connect_timeout)
    deadline = time.monotonic() + wait
    identity = load_identity(ssh)
    ip = resolve(address, wait)
    simnet.check_reachable(ip)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    dog = Watchdog(deadline, lambda: _shut(sock))
    policy = PinnedHostKey(address, pinned)
    conn: Connection | None = None
    try:
        sock.settimeout(wait)
        sock.connect((ip, ssh.port))
        left = max(0.1, deadline - time.monotonic())
        connect_kwargs: dict[str, Any] = {
            "pkey": identity.key,
            "look_for_keys": False,
            "allow_agent": False,
            "banner_timeout": left,
            "auth_timeout": left,
            "channel_timeout": left,
            "sock": sock,
        }
        conn = Connection(host=ip, user=ssh.user, port=ssh.port, connect_timeout=left, connect_kwargs=connect_kwargs)
        conn.client.set_missing_host_key_policy(policy)
        conn.open()
        if dog.fired:
            raise TimeoutError
    except HostKeyMismatch:
        _close(conn, sock)
        raise
    except paramiko.AuthenticationException:
        _close(conn, sock)
        if dog.fired:
            raise RemoteError(address, "timeout", f"no SSH login within {wait:g} s") from None
        raise RemoteError(
            address,
            "auth",
            f"the cluster key {identity.path} is not accepted for {ssh.user}; add "
            f"{identity.path}.pub to ~{ssh.user}/.ssh/authorized_keys on the node",
        ) from None
    except ConnectionRefusedError:
        _close(conn, sock)
        raise RemoteError(address, "refused", f"SSH refused on port {ssh.port} (is sshd running?)") from None
    except (OSError, EOFError, paramiko.SSHException) as exc:
        _close(conn, sock)
        if dog.fired or isinstance(exc, TimeoutError | socket.timeout):
            stage = "TCP connection" if conn is None else "SSH handshake"
            raise RemoteError(address, "unreachable", f"no {stage} on port {ssh.port} within {wait:g} s") from None
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise RemoteError(address, "unreachable", f"cannot connect: {reason}") from None
    finally:
        dog.cancel()
    if policy.seen is None:  # paramiko knew the key already (a system known_hosts entry)
        transport = conn.client.get_transport()
        assert transport is not None
        policy.seen = fingerprint_of_blob(transport.get_remote_server_key().asbytes())
        try:
            check_host_key(address, pinned, policy.seen)
        except HostKeyMismatch:
            _close(conn, sock)
            raise
    return NodeConnection(address=address, host_key=policy.seen, connection=conn, ip=ip, sock=sock)


def fetch_host_key(address: str, port: int = 22, timeout: float = 5.0) -> tuple[str, str]:
    """The host key `address` presents, as (SHA256 fingerprint, known_hosts key text), from an SSH handshake
    that stops before logging in (nothing to authenticate with is sent). Within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    ip = resolve(address, timeout)
    simnet.check_reachable(ip)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    dog = Watchdog(deadline, lambda: _shut(sock))
    transport: paramiko.Transport | None = None
    try:
        sock.settimeout(timeout)
        sock.connect((ip, port))
        transport = paramiko.Transport(sock)
        transport.banner_timeout = max(0.1, deadline - time.monotonic())
        transport.start_client(timeout=max(0.1, deadline - time.monotonic()))
        key = transport.get_remote_server_key()
        return fingerprint_of_blob(key.asbytes()), f"{key.get_name()} {key.get_base64()}"
    except ConnectionRefusedError:
        raise RemoteError(address, "refused", f"SSH refused on port {port} (is sshd running?)") from None
    except (OSError, EOFError, paramiko.SSHException) as exc:
        if dog.fired or isinstance(exc, TimeoutError):
            raise RemoteError(address, "unreachable", f"no SSH handshake on port {port} within {timeout:g} s") from None
        raise RemoteError(address, "unreachable", f"cannot connect: {str(exc) or type(exc).__name__}") from None
    finally:
        dog.cancel()
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.close()
        _shut(sock)


def _close(conn: Connection | None, sock: socket.socket) -> None:
    _shut(sock)
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


class ShellChannel:
    """A remote `/bin/sh` kept open on a connection: a command sent down it costs one round trip (about a
    millisecond on a LAN), not a new exec channel (about 170 ms with paramiko). Its stderr is discarded.

    `define` is sent once when the shell opens (function definitions); `send` sends one line and `receive` reads
    until the line `end_marker`. A timeout or a broken channel kills the connection: the caller opens a new one.
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
        channel = transport.open_session(timeout=timeout)
        channel.exec_command("exec /bin/sh 2>/dev/null")
        if self.define:
            channel.sendall(self.define.encode() + b"\n")
        self.opened += 1
        opened: paramiko.Channel = channel
        return opened

    def send(self, line: str, timeout: float) -> None:
        """Send `line` (opening the shell first if it is not open); its answer is read by `receive`."""
        try:
            with self.conn.deadline(timeout, "probe"):
                if self._channel is None or self._channel.closed:
                    self._channel = self._open(timeout)
                self._channel.sendall(line.encode() + b"\n")
        except RemoteError:
            self.close()
            raise

    def receive(self, end_marker: str, timeout: float, limit: int = 1 << 20) -> str:
        """Everything up to and including the line `end_marker`, within `timeout`."""
        deadline = time.monotonic() + timeout
        marker = ("\n" + end_marker + "\n").encode()
        buffer = bytearray()
        try:
            with self.conn.deadline(timeout, "probe"):
                channel = self._channel
                if channel is None or channel.closed:
                    raise EOFError("the remote shell is not open")
                while marker not in buffer:
                    channel.settimeout(max(0.01, deadline - time.monotonic()))
                    chunk = channel.recv(65536)
                    if not chunk:
                        raise EOFError("the remote shell ended")
                    buffer += chunk
                    if len(buffer) > limit:
                        raise EOFError(f"answer larger than {limit} bytes")
        except RemoteError:
            self.close()
            raise
        return bytes(buffer[: buffer.index(marker) + len(marker)]).decode("utf-8", "replace")

    @property
    def is_open(self) -> bool:
        return self._channel is not None and not self._channel.closed

    def close(self) -> None:
        """Close the shell (the connection stays open, if it still is)."""
        if self._channel is not None:
            with contextlib.suppress(Exception):
                self._channel.close()
            self._channel = None


class SshTransport:
    """picf's transport: real SSH to real (or simulated) nodes."""

    def connect(
        self, address: str, ssh: SshDefaults, pinned: str | None, timeout: float | None = None
    ) -> NodeConnection:
        """`connect`: open SSH to `address`, the host key checked against `pinned`."""
        return connect(address, ssh, pinned, timeout)


SSH = SshTransport()
