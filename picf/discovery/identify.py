"""Find and identify the hosts on the LAN: browse mDNS and, as each host resolves, probe it over SSH.

Probing starts while browsing goes on (bounded parallelism), so discovery ends about `settle` seconds after
the last answer. A host that refuses SSH, has no key for us or vanishes mid-probe is listed with the reason.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from picf.discovery import mdns
from picf.discovery.facts import PROBE_COMMAND, parse_probe
from picf.models.cluster import Cluster, SshDefaults
from picf.models.discovery import Candidate
from picf.models.pi import is_pi_mac
from picf.pool import DaemonPool
from picf.progress import Say, quiet
from picf.transport import SSH, HostKeyMismatch, RemoteError, Transport


@dataclass
class DiscoveryOptions:
    """How to look: where, how long, and whether (and how) to probe."""

    interfaces: list[str] | None = None
    settle: float = 1.0
    timeout: float = 10.0
    probe: bool = True
    ssh: SshDefaults = field(default_factory=SshDefaults)
    probe_timeout: float = 3.0
    parallel: int = 16


@dataclass
class DiscoveryResult:
    """Everything that answered, and how long it took."""

    candidates: list[Candidate]
    answers: int
    seconds: float


def _expected_host_key(cluster: Cluster | None, candidate: Candidate) -> str | None:
    """The pin a candidate must match: its MAC's node, else its name's node (None for strangers)."""
    if cluster is None:
        return None
    for field_name, value in (("mac", candidate.mac), ("name", candidate.name)):
        if value is None:
            continue
        node = next((n for n in cluster.nodes if getattr(n, field_name) == value), None)
        if node is not None:
            return node.host_key
    return None


def probe_candidate(
    candidate: Candidate, ssh: SshDefaults, pinned: str | None, timeout: float, transport: Transport = SSH
) -> Candidate:
    """SSH to the candidate, check (or learn) its host key, run the probe, and fold the facts in; all of it
    within `timeout` seconds."""
    assert candidate.address is not None
    deadline = time.monotonic() + timeout
    try:
        conn = transport.connect(candidate.address, ssh, pinned, timeout=timeout)
    except HostKeyMismatch as exc:
        return candidate.model_copy(update={"host_key": exc.seen, "conflict": exc.reason})
    except RemoteError as exc:
        return candidate.model_copy(update={"probe_error": exc.reason})
    try:
        facts = parse_probe(conn.run(PROBE_COMMAND, timeout=max(0.1, deadline - time.monotonic())))
    except RemoteError as exc:
        return candidate.model_copy(update={"host_key": conn.host_key, "probe_error": exc.reason})
    finally:
        conn.close()
    evidence = candidate.pi_evidence
    if facts.is_pi:
        evidence = "mac+model" if evidence == "mac" else "model"
    notes = [*candidate.notes, *facts.problems]
    if facts.hostname and facts.hostname != candidate.hostname:
        notes.append(f"host calls itself {mdns.clean_text(facts.hostname, 40)}")
    return candidate.model_copy(
        update={
            "probed": True,
            "host_key": conn.host_key,
            "is_pi": candidate.is_pi or facts.is_pi,
            "pi_evidence": evidence,
            "model": facts.model,
            "arch": facts.arch,
            "memory_mb": facts.memory_mb,
            "memory_cgroup": facts.memory_cgroup,
            "os": mdns.clean_text(facts.os, 60) if facts.os else None,
            "self_name": mdns.clean_text(facts.hostname, 63) if facts.hostname else None,
            "notes": notes,
        }
    )


class _Collector:
    """Folds sightings into one candidate per host and starts each probe once an address is known."""

    def __init__(
        self, cluster: Cluster | None, options: DiscoveryOptions, pool: DaemonPool, progress: Say, deadline: float
    ):
        self.deadline = deadline
        self.cluster = cluster
        self.options = options
        self.pool = pool
        self.progress = progress
        self.candidates: dict[str, Candidate] = {}
        self.probes: dict[str, asyncio.Future[Candidate]] = {}

    def busy(self) -> bool:
        return any(not f.done() for f in self.probes.values())

    def add(self, sighting: mdns.Sighting) -> None:
        host, mac = (
            mdns.parse_workstation_instance(sighting.instance)
            if sighting.service_type == mdns.WORKSTATION
            else (sighting.instance, None)
        )
        if sighting.server:
            host = mdns.hostname_of(sighting.server)
        key = host.lower()
        current = self.candidates.get(key) or Candidate(
            hostname=mdns.clean_text(host, 63), name=mdns.derive_node_name(host)
        )
        service = sighting.service_type.split(".")[0]
        update: dict[str, object] = {"services": sorted({*current.services, service})}
        if mac and not current.mac:
            update["mac"] = mac
            if is_pi_mac(mac):
                update.update(is_pi=True, pi_evidence="mac")
        if sighting.addresses and not current.address:
            update["address"] = sighting.addresses[0]
        if not sighting.server:
            update["notes"] = [*current.notes, f"{service} answer did not resolve"]
        candidate = current.model_copy(update=update)
        self.candidates[key] = candidate
        if candidate.address and key not in self.probes:
            self.progress(f"found {candidate.hostname} at {candidate.address}")
            if self.options.probe:
                self._start_probe(key, candidate)

    def _start_probe(self, key: str, candidate: Candidate) -> None:
        pinned = _expected_host_key(self.cluster, candidate)
        loop = asyncio.get_running_loop()
        # A probe started late gets what is left of --timeout, so discovery ends on time whatever it meets.
        budget = max(0.1, min(self.options.probe_timeout, self.deadline - time.monotonic()))
        self.probes[key] = loop.run_in_executor(self.pool, probe_candidate, candidate, self.options.ssh, pinned, budget)

    def results(self) -> list[Candidate]:
        out = []
        for key, candidate in self.candidates.items():
            future = self.probes.get(key)
            if future is not None and future.done() and future.exception() is None:
                probed = future.result()
                # mDNS may have added services or a MAC while the probe ran.
                out.append(
                    probed.model_copy(update={"services": candidate.services, "mac": candidate.mac or probed.mac})
                )
            elif future is not None:
                out.append(candidate.model_copy(update={"probe_error": "probe did not finish before --timeout"}))
            else:
                out.append(candidate)
        return sorted(out, key=lambda c: (c.name or "~", c.hostname))


def discover(cluster: Cluster | None, options: DiscoveryOptions, progress: Say = quiet) -> DiscoveryResult:
    """Browse, identify and (unless told not to) probe every host that answers; MdnsError if it cannot listen."""
    started = time.monotonic()
    deadline = started + options.timeout

    async def run() -> tuple[int, list[Candidate]]:
        pool = DaemonPool(options.parallel, "probe")
        try:
            collector = _Collector(cluster, options, pool, progress, deadline)
            answers = await mdns.browse(
                options.interfaces, options.settle, options.timeout, collector.add, busy=collector.busy
            )
            pending = [f for f in collector.probes.values() if not f.done()]
            if pending:
                await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
            return answers, collector.results()
        finally:
            pool.shutdown()  # a probe still stuck has already missed the deadline: never wait for it

    answers, candidates = asyncio.run(run())
    return DiscoveryResult(candidates=candidates, answers=answers, seconds=time.monotonic() - started)
