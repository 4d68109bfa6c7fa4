"""Poll every node's health over SSH: one persistent connection and one open shell per node, a bounded pool.

A poll sends one short line (`picf_probe NONCE`) down a shell opened once per node, so a round costs a round
trip per node, not a new SSH channel. A node that does not answer in time is marked unreachable while the
others keep updating; its probe is not sent again until the last one has finished or failed.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ALL_COMPLETED, Future, wait
from dataclasses import dataclass

from picf.health.detector import CrashLoopDetector, LoopRule
from picf.health.diagnosis import node_warnings
from picf.health.parse import cpu_percent, parse_sample
from picf.models.cluster import Cluster
from picf.models.health import ClusterHealth, JobHealth, NodeHealth, NodeSample, NodeState
from picf.models.node import Node
from picf.node_probe import ProbeError, script
from picf.pool import DaemonPool
from picf.transport import SSH, NodeSession, NodeShell, RemoteError, Transport

_JOB_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
PROBE_SCRIPT = script("health")


@dataclass
class _Slot:
    node: Node
    conn: NodeSession | None = None
    shell: NodeShell | None = None
    future: Future[tuple[NodeSample, float]] | None = None
    sent_at: float = 0.0
    sample: NodeSample | None = None
    jobs: tuple[JobHealth, ...] = ()
    error: str | None = None
    failed: bool = False
    poll_ms: float | None = None

    def drop_connection(self) -> None:
        if self.shell is not None:
            self.shell.close()
        if self.conn is not None:
            self.conn.close()
        self.conn = self.shell = None


class Poller:
    """Polls a cluster's nodes; `poll()` returns the cluster's health after one round."""

    def __init__(
        self,
        cluster: Cluster,
        nodes: Sequence[Node] | None = None,
        *,
        timeout: float = 5.0,
        parallel: int = 16,
        rule: LoopRule | None = None,
        clock: Callable[[], float] = time.time,
        fresh_monit: bool = False,
        transport: Transport = SSH,
    ) -> None:
        self.cluster = cluster
        self.transport = transport  # how nodes are reached: SSH, or a fake node in the tests
        self.fresh_monit = fresh_monit  # ask monit on every poll (the probe otherwise asks when it may have news)
        self.timeout = timeout
        self.clock = clock
        self.detector = CrashLoopDetector(rule)
        self._slots = [_Slot(n) for n in (nodes if nodes is not None else cluster.nodes)]
        self._pool = DaemonPool(min(parallel, len(self._slots)), "poll")
        self._nonce, self._asked = secrets.token_hex(6), itertools.count()  # no urandom call per probe
        self._round = threading.Lock()  # one round at a time: the dashboard's `r` may ask while a poll runs

    def _line(self, nonce: str) -> str:
        return f"picf_probe {nonce}{' fresh' if self.fresh_monit else ''}"

    def _send(self, slot: _Slot, nonce: str) -> bool:
        """On the polling thread: send the probe down the node's open shell, so every node starts answering at
        once rather than when a pool thread gets to it. False if there is no open shell (the pool connects)."""
        if slot.shell is None or slot.conn is None or not slot.shell.is_open or not slot.conn.alive:
            return False
        try:
            slot.shell.send(self._line(nonce), self.timeout)
        except RemoteError:
            slot.drop_connection()  # the pool job connects again, within the same budget
            return False
        return True

    def _probe(self, slot: _Slot, nonce: str, sent: bool, started: float) -> tuple[NodeSample, float]:
        """Runs in the pool: (re)connect and send if the polling thread could not, read the answer, parse."""
        node = slot.node
        if node.host_key is None:
            raise RemoteError(node.address, "host-key", "no host key pinned; run `picf discover --write`")
        deadline = started + self.timeout  # connecting and asking share one budget
        try:
            if not sent:
                if slot.conn is None or not slot.conn.alive:
                    slot.drop_connection()
                    slot.conn = self.transport.connect(
                        node.address, self.cluster.ssh, node.host_key, timeout=self.timeout
                    )
                    slot.shell = slot.conn.open_shell(define=PROBE_SCRIPT)
                assert slot.shell is not None
                slot.shell.send(self._line(nonce), max(0.1, deadline - time.monotonic()))
            assert slot.shell is not None
            text = slot.shell.receive(f"@@picf:end {nonce}", max(0.1, deadline - time.monotonic()))
        except RemoteError:
            slot.drop_connection()  # a dead link or a stuck shell: start from a fresh connection next time
            raise
        elapsed = (time.monotonic() - started) * 1000
        return parse_sample(text, nonce, self.clock()), elapsed

    def poll(self, wait_s: float | None = None) -> ClusterHealth:
        """Send a probe to every node not still busy with the last one; wait for the answers (at most
        `wait_s`, default the timeout); return everyone's health (late nodes keep their last known state)."""
        with self._round:
            return self._poll(wait_s)

    def _poll(self, wait_s: float | None) -> ClusterHealth:
        now = self.clock()
        for slot in self._slots:
            if slot.future is None:
                slot.sent_at = now
                nonce = f"{self._nonce}{next(self._asked):x}"  # unique per probe: its answer's end marker
                started = time.monotonic()
                sent = self._send(slot, nonce)
                slot.future = self._pool.submit(self._probe, slot, nonce, sent, started)
        pending = [s.future for s in self._slots if s.future is not None]
        wait(pending, timeout=self.timeout if wait_s is None else wait_s, return_when=ALL_COMPLETED)
        for slot in self._slots:
            if slot.future is not None and slot.future.done():
                self._collect(slot)
        return self.health()

    def _collect(self, slot: _Slot) -> None:
        assert slot.future is not None
        future, slot.future = slot.future, None
        try:
            sample, elapsed = future.result()
        except RemoteError as exc:
            slot.error, slot.failed = str(exc), True
            if exc.kind in ("unreachable", "timeout", "refused"):
                slot.drop_connection()
            return
        except ProbeError as exc:
            slot.error, slot.failed = f"{slot.node.address}: {exc}", True
            return
        previous = slot.sample
        if previous is not None:  # CPU use needs two samples; disks are read every tenth poll
            update: dict[str, object] = {}
            busy = cpu_percent(previous.vitals.cpu_times, sample.vitals.cpu_times)
            if busy is not None:
                update["cpu_percent"] = round(busy, 1)
            if not sample.vitals.disks:
                update["disks"] = previous.vitals.disks
            if update:
                sample = sample.model_copy(update={"vitals": sample.vitals.model_copy(update=update)})
            if sample.releases is None:  # the state file is re-read with monit's view; until then, unchanged
                sample = sample.model_copy(
                    update={"releases": previous.releases, "node_arch": previous.node_arch, "stopped": previous.stopped}
                )
        slot.sample, slot.error, slot.failed, slot.poll_ms = sample, None, False, elapsed
        slot.jobs = self.detector.observe(slot.node.name, sample)

    def _node_health(self, slot: _Slot, now: float) -> NodeHealth:
        node = slot.node
        sample = slot.sample
        late = slot.future is not None and now - slot.sent_at > self.timeout
        if slot.failed or late:
            state = NodeState.UNREACHABLE
            error = slot.error if slot.failed else f"{node.address}: no answer in {self.timeout:g} s"
        elif sample is None:
            state, error = NodeState.WAITING, None
        else:
            state, error = NodeState.UP, None
        vitals = sample.vitals if sample else None
        return NodeHealth(
            name=node.name,
            address=node.address,
            model=(vitals.model if vitals and vitals.model else (node.model.label if node.model else None)),
            arch=(sample.node_arch if sample and sample.node_arch else node.arch),
            roles=tuple(node.roles),
            state=state,
            error=error,
            last_seen=sample.at if sample else None,
            poll_ms=slot.poll_ms,
            vitals=vitals,
            jobs=slot.jobs,
            warnings=node_warnings(vitals) if vitals and state is NodeState.UP else (),
        )

    def read_log(self, node: str, job: str, lines: int = 200) -> list[str]:
        """The last lines of a job's logs (`/var/vcap/sys/log/JOB/*.log`), over the node's open connection."""
        if not _JOB_NAME.fullmatch(job):
            raise ValueError(f"not a job name: {job!r}")
        slot = next((s for s in self._slots if s.node.name == node), None)
        if slot is None:
            raise ValueError(f"no node named {node!r}")
        conn = slot.conn
        if conn is None:
            raise RemoteError(slot.node.address, "unreachable", "not connected (yet); try again")
        text = conn.run(f"tail -n {int(lines)} /var/vcap/sys/log/{job}/*.log 2>/dev/null || true", timeout=self.timeout)
        return text.splitlines()[-int(lines) * 4 :]

    def health(self) -> ClusterHealth:
        """Everyone's health from what has been collected so far (no new probes)."""
        now = self.clock()
        return ClusterHealth(
            cluster=self.cluster.name, at=now, nodes=tuple(self._node_health(s, now) for s in self._slots)
        )

    def close(self) -> None:
        """Stop polling and close every connection (a probe still in flight is abandoned, not waited for)."""
        self._pool.shutdown()
        for slot in self._slots:
            slot.drop_connection()

    def __enter__(self) -> Poller:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
