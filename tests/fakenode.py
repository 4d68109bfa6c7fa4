"""A node that answers picf's node scripts from outputs recorded on real (simulated) nodes: picf's transport
seam (`picf.transport.Transport`) without a LAN, as httpx's `MockTransport` is for HTTP.

A script picf sends is recognized by its content (one of `picf.node_probe`'s scripts); the answer is the file
recorded for it (tests/data/nodes/NODE/SCRIPT.out, see record.py there). Anything else picf sends fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from picf.models.cluster import SshDefaults
from picf.node_probe import script
from picf.node_probe.scripts import NAMES
from picf.transport import RemoteError
from picf.transport.errors import check_host_key

RECORDED = Path(__file__).parent / "data" / "nodes"


@dataclass
class FakeNode:
    """One node as recorded: its host key, its answers; `reachable=False` is a node off the LAN."""

    recording: str  # a directory under tests/data/nodes
    address: str
    reachable: bool = True
    host_key: str = ""  # default: the recorded one; another one is a reinstalled node, or an impostor
    answers: dict[str, str] = field(default_factory=dict)  # script name -> answer, over the recorded ones
    sent: list[str] = field(default_factory=list)  # the scripts picf sent, by name, in order

    def __post_init__(self) -> None:
        where = RECORDED / self.recording
        self.host_key = self.host_key or (where / "host_key").read_text().strip()
        _, key = (where / "known_hosts").read_text().strip().split(" ", 1)
        self.known_hosts = f"{self.address} {key}"
        self.polls = sorted(where.glob("health-*.out"))

    def answer(self, name: str) -> str:
        self.sent.append(name)
        if name in self.answers:
            return self.answers[name]
        return (RECORDED / self.recording / f"{name}.out").read_text()


class FakeShell:
    """The health probe's open shell: each `picf_probe NONCE` is answered with the next recorded poll."""

    def __init__(self, node: FakeNode, define: str) -> None:
        if define != script("health"):
            raise AssertionError("picf opened a shell with something other than the health probe")
        self.node = node
        self.pending: list[str] = []
        self.polls = 0
        self.closed = False

    @property
    def is_open(self) -> bool:
        return not self.closed

    def send(self, line: str, timeout: float) -> None:
        command, nonce, *_ = [*line.split(), ""]
        if command != "picf_probe" or not nonce:
            raise AssertionError(f"picf sent the health shell {line!r}")
        self.closed = False
        recorded = self.node.polls[min(self.polls, len(self.node.polls) - 1)]
        self.polls += 1
        self.node.sent.append("health")
        self.pending.append(recorded.read_text().replace("NONCE", nonce))

    def receive(self, end_marker: str, timeout: float, limit: int = 1 << 20) -> str:
        if not self.pending:
            raise RemoteError(self.node.address, "timeout", f"probe: no answer in {timeout:.1f} s")
        return self.pending.pop(0)

    def close(self) -> None:
        self.closed = True


class FakeSession:
    """An open connection to a FakeNode."""

    def __init__(self, node: FakeNode) -> None:
        self.node = node
        self.address = node.address
        self.host_key = node.host_key
        self.ip = node.address
        self.closed = False

    @property
    def alive(self) -> bool:
        return not self.closed

    def run(self, command: str, timeout: float = 10.0, stdin: str | None = None) -> str:
        name = next((n for n in NAMES if script(n) == command), None)
        if name is None:
            raise AssertionError(f"no recording answers {command[:80]!r}")
        return self.node.answer(name)

    def known_hosts_line(self) -> str:
        return self.node.known_hosts

    def open_shell(self, define: str = "") -> FakeShell:
        return FakeShell(self.node, define)

    def close(self) -> None:
        self.closed = True


class FakeLan:
    """The transport: connects to the FakeNodes it holds, checking host keys as SSH does."""

    def __init__(self, *nodes: FakeNode) -> None:
        self.nodes = {n.address: n for n in nodes}
        self.connects = 0

    def connect(self, address: str, ssh: SshDefaults, pinned: str | None, timeout: float | None = None) -> FakeSession:
        self.connects += 1
        node = self.nodes.get(address)
        wait = timeout if timeout is not None else ssh.connect_timeout
        if node is None or not node.reachable:
            raise RemoteError(address, "unreachable", f"no TCP connection on port {ssh.port} within {wait:g} s")
        check_host_key(address, pinned, node.host_key)  # picf's own policy, as SSH applies it
        return FakeSession(node)
