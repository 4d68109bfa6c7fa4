"""`picf ssh`: a shell or a command on nodes, as the cluster's user, trusting only the pinned host key.

One node: OpenSSH's own client (a real terminal, the person's ssh-agent, escape sequences), given a private
known_hosts that holds only the key the inventory pins, fetched and checked first; StrictHostKeyChecking then
makes ssh itself refuse any other key. Several nodes: one command on each in parallel over picf's own
connections, every line prefixed by its node, as `bosh ssh` over an instance group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from picf import simnet, transport
from picf.errors import UNREACHABLE, UsageError
from picf.models.cluster import Cluster
from picf.models.node import Node
from picf.ops.access import open_session, unreachable


@dataclass
class NodeRun:
    """One node's command: its exit code (None when it never ran), output and why it did not run."""

    node: str
    exit_code: int | None = None
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    error: str | None = None


@contextlib.contextmanager
def pinned_known_hosts(cluster: Cluster, node: Node, timeout: float) -> Iterator[tuple[str, Path]]:
    """(IP, a known_hosts file holding only the node's pinned key) for the life of the block; the key the node
    presents is checked against the pin first (HostKeyMismatch, as discovery refuses it)."""
    if node.host_key is None:
        raise UsageError(f"{node.name}: no host key pinned; run `picf discover --write` (or `picf inventory pin "
                         f"{node.name}`) first")  # fmt: skip
    ip = transport.resolve(node.address, timeout)
    simnet.check_reachable(ip)
    seen, key_text = transport.fetch_host_key(ip, cluster.ssh.port, timeout)
    if seen != node.host_key:
        raise transport.HostKeyMismatch(node.address, node.host_key, seen)
    directory = Path(tempfile.mkdtemp(prefix="picf-ssh-"))
    try:
        host = ip if cluster.ssh.port == 22 else f"[{ip}]:{cluster.ssh.port}"
        path = directory / "known_hosts"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{host} {key_text}\n")
        yield ip, path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def ssh_argv(cluster: Cluster, ip: str, known_hosts: Path, command: list[str], tty: bool) -> list[str]:
    """The OpenSSH command line: the cluster's user, key (or the agent holding it) and port; the pinned key
    only; no password prompts for host keys; `-t` for an interactive shell at a terminal."""
    key = transport.private_key_path(cluster.ssh)
    argv = ["ssh", "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no", "-o", "CheckHostIP=no",
            "-o", f"ConnectTimeout={max(1, int(cluster.ssh.connect_timeout))}", "-o", "LogLevel=ERROR",
            "-p", str(cluster.ssh.port), "-l", cluster.ssh.user]  # fmt: skip
    if key.is_file():
        argv += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
    argv += ["-t"] if tty else ["-T"]
    return [*argv, ip, *(["--", *command] if command else [])]


def interactive(cluster: Cluster, node: Node, command: list[str], timeout: float) -> int:
    """A shell (no command) or one command on `node` through OpenSSH; its exit code."""
    if shutil.which("ssh") is None:
        raise UsageError("the OpenSSH client is not installed (apt-get install openssh-client)")
    with pinned_known_hosts(cluster, node, timeout) as (ip, known_hosts):
        tty = not command and os.isatty(0)
        return subprocess.run(ssh_argv(cluster, ip, known_hosts, command, tty), check=False).returncode


class _Prefixed:
    """A stream for one node's output: complete lines go to `emit` with the node's name."""

    def __init__(self, emit: Callable[[str], None], keep: list[str]) -> None:
        self.emit = emit
        self.keep = keep
        self.partial = ""

    def write(self, text: str) -> None:
        self.partial += text
        *lines, self.partial = self.partial.split("\n")
        for line in lines:
            self.keep.append(line)
            self.emit(line)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        if self.partial:
            self.keep.append(self.partial)
            self.emit(self.partial)
            self.partial = ""


def run_on_nodes(
    cluster: Cluster,
    nodes: list[Node],
    command: list[str],
    timeout: float,
    on_line: Callable[[str, str, str], None],
    parallel: int = 16,
) -> list[NodeRun]:
    """`command` (joined as ssh joins it) on every node at once; `on_line(node, "out"|"err", line)` for each
    line as it comes. A node that cannot be reached is a NodeRun with `error`, the others run on."""
    text = " ".join(command)
    lock = threading.Lock()

    def one(node: Node) -> NodeRun:
        result = NodeRun(node.name)

        def emitter(kind: str) -> Callable[[str], None]:
            def emit(line: str) -> None:
                with lock:
                    on_line(node.name, kind, line)

            return emit

        try:
            session = open_session(cluster, node, None, timeout)
        except transport.RemoteError as exc:
            result.error = unreachable(node.name, exc)
            return result
        except UsageError as exc:
            result.error = str(exc)
            return result
        out, err = _Prefixed(emitter("out"), result.stdout), _Prefixed(emitter("err"), result.stderr)
        try:
            result.exit_code = session.conn.stream(text, out, err)
        except transport.RemoteError as exc:
            result.error = unreachable(node.name, exc)
        finally:
            out.close()
            err.close()
            session.close()
        return result

    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(nodes)))) as pool:
        return list(pool.map(one, nodes))


def combined_exit(runs: list[NodeRun]) -> int:
    """One exit code for a command run on several nodes: 3 when a node could not run it; else the code they all
    agree on; else 1."""
    if any(r.exit_code is None for r in runs):
        return UNREACHABLE
    codes = {r.exit_code for r in runs}
    return codes.pop() if len(codes) == 1 and None not in codes else 1  # type: ignore[return-value]
