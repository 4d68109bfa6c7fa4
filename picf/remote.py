"""The one place picf opens SSH for itself (fabric). Ansible has its own connections.

Every connection checks the node's host key against the fingerprint pinned in the inventory before it
authenticates; with no pin (discovery of a new node) it records the key it saw, so the caller can pin it.
Failures come back as RemoteError with one line a person can act on.

Every call keeps its own deadline whatever the network does. paramiko has calls that wait without one (a
channel request waits for the server's reply; a channel open waits up to an hour), and a pulled cable sends
no reset: TCP retransmits for a quarter of an hour. So each call runs under a watchdog that, at the deadline,
shuts the socket and closes the transport, which wakes every waiting call; the call then raises a timeout.
"""

from __future__ import annotations

import base64
import contextlib
import io
import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
from fabric import Connection

from picf import prompts, simnet
from picf.errors import Unreachable, UsageError
from picf.hostkeys import fingerprint_of_blob, mismatch
from picf.models.cluster import SshDefaults
from picf.watchdog import Watchdog

# paramiko's transport thread logs a traceback for every failed handshake; picf reports failures itself.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


class RemoteError(Unreachable):
    """A node could not be reached or did not run a command; `kind` says which way it failed."""

    def __init__(self, address: str, kind: str, message: str) -> None:
        super().__init__(f"{address}: {message}")
        self.address = address
        self.kind = kind  # unreachable | refused | auth | host-key | timeout | command | resolve
        self.reason = message  # the message without the address


class KeyProblem(UsageError):
    """The cluster's private key is missing, unreadable or locked: nothing was sent to any node."""


class HostKeyMismatch(RemoteError):
    """The node presented a different host key than the one pinned: a reinstall, or an impostor."""

    def __init__(self, address: str, expected: str, seen: str) -> None:
        super().__init__(
            address,
            "host-key",
            mismatch(seen, expected),
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

    def kill(self) -> None:
        """Drop the connection now, waking any call blocked on it (safe from any thread)."""
        _shut(self.sock)
        with contextlib.suppress(Exception):
            self.connection.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.kill()


def private_key_path(ssh: SshDefaults) -> Path:
    """The cluster's private key, `~` expanded."""
    return Path(ssh.private_key).expanduser()


# --- the cluster's key, as people keep it: a plain file, one with a passphrase, or in ssh-agent --------------

# Per key file, with the file's identity when it was loaded: a key file replaced while picf runs (a rebuilt
# simulated LAN, a rotated key) is loaded again, not answered from memory with a key the nodes no longer take.
_identities: dict[Path, tuple[tuple[int, ...], Identity]] = {}
_identities_lock = threading.Lock()


@dataclass(frozen=True)
class Identity:
    """The key picf logs in with: loaded from its file, or the same key held by ssh-agent."""

    path: Path
    key: paramiko.PKey
    from_agent: bool
    passphrase: str | None = None  # kept in memory only, for the private agent a deploy gives Ansible


def _agent_key(public_blob: bytes | None) -> paramiko.PKey | None:
    if public_blob is None or not os.environ.get("SSH_AUTH_SOCK"):
        return None
    try:
        agent = paramiko.Agent()
        keys = agent.get_keys()
    except (paramiko.SSHException, OSError):
        return None
    found: paramiko.PKey | None = next((k for k in keys if k.asbytes() == public_blob), None)
    return found


def _public_blob(path: Path) -> bytes | None:
    try:
        fields = Path(f"{path}.pub").read_text().split()
        return base64.b64decode(fields[1], validate=True) if len(fields) >= 2 else None
    except (OSError, ValueError):
        return None


def load_identity(ssh: SshDefaults) -> Identity:
    """The cluster's key, unlocked once per process and key file (again when the file is replaced): from
    ssh-agent when it holds it, else from the file (asking for its passphrase when it has one). KeyProblem says
    exactly what is missing or wrong."""
    path = private_key_path(ssh)
    stamp = _file_stamp(path) + _file_stamp(Path(f"{path}.pub"))
    with _identities_lock:
        cached = _identities.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        identity = _load_identity(path)
        _identities[path] = (stamp, identity)
        return identity


def _file_stamp(path: Path) -> tuple[int, ...]:
    """What changes when a file is replaced or rewritten (nothing when it is missing)."""
    try:
        st = path.stat()
    except OSError:
        return (-1, -1, -1, -1)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _load_identity(path: Path) -> Identity:
    where = f"ssh.private_key {path}"
    agent = _agent_key(_public_blob(path))
    if agent is not None:
        return Identity(path, agent, from_agent=True)
    if not path.is_file():
        raise KeyProblem(f"{where} not found (and no ssh-agent holds it); set ssh.private_key in the inventory")
    try:
        return Identity(path, paramiko.PKey.from_path(path), from_agent=False)
    except TypeError:  # encrypted: it needs its passphrase
        pass
    except (ValueError, paramiko.SSHException, OSError) as exc:
        raise KeyProblem(f"{where} is not a private key picf can read ({exc})") from None
    passphrase = prompts.ask_passphrase(path)
    if passphrase is None:
        raise KeyProblem(
            f"{where} has a passphrase: add it to ssh-agent (ssh-add {path}) or run picf at a terminal to be "
            "asked for it"
        )
    try:
        key = paramiko.PKey.from_path(path, passphrase.encode())  # type: ignore[arg-type]  # it wants bytes
    except (ValueError, TypeError, paramiko.SSHException):
        raise KeyProblem(f"wrong passphrase for {where}") from None
    return Identity(path, key, from_agent=False, passphrase=passphrase)


def resolve(address: str, timeout: float) -> str:
    """The IPv4 address to connect to: an IP as it is; `NAME.local` asked on mDNS only (never a DNS server,
    which could be outside); anything else refused."""
    try:
        return str(ipaddress.IPv4Address(address))
    except ValueError:
        pass
    if not address.lower().rstrip(".").endswith(".local"):
        raise RemoteError(address, "resolve", "not an IPv4 address or NAME.local; fix the address")
    from picf.discovery.mdns import resolve_local_name  # zeroconf is imported only when a name needs it

    found = resolve_local_name(address, timeout)
    if found is None:
        raise RemoteError(address, "resolve", f"no answer on mDNS within {timeout:g} s (is the Pi on this LAN?)")
    return found


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
        if pinned is not None and policy.seen != pinned:
            _close(conn, sock)
            raise HostKeyMismatch(address, pinned, policy.seen)
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
