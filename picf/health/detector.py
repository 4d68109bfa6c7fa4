"""The crash-loop detector: keeps each job's history across polls and says how it is doing. Pure.

Evidence, all from the probe: monit's view now (monitored? status bits, pid, uptime), monit's log (each
`trying to restart`, `failed to start`, and the `N restarts within M cycles` rule giving up), and pid changes
seen between polls. A deploy (monit reloaded, a restart on user request) starts a new chapter: restarts before
it do not count against the new version.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from picf.health.diagnosis import diagnose_job
from picf.health.view import duration
from picf.models.health import (
    Diagnosis,
    JobHealth,
    JobState,
    MonitEvent,
    MonitEventKind,
    MonitProcess,
    NodeSample,
    steady_seconds,
)


@dataclass(frozen=True)
class LoopRule:
    """A crash loop is `restarts` restarts within `window_s` seconds, while the job does not stay up."""

    restarts: int = 3
    window_s: int = 300
    # A job up this long after its last start is running, not starting, when monit's cycle is unknown (BOSH's
    # default 10 s cycle); with monit's own interval the rule is `steady_seconds`, the deploy watch's.
    stable_s: int = steady_seconds(10)


@dataclass
class _Track:
    pid: int | None = None
    chapter: float = 0.0  # node time of the last deploy (monit reloaded, a restart on user request)
    diagnosis: Diagnosis | None = None  # the last one found in this chapter: a restarted job's log is not re-sent
    last_exit: str | None = None
    pid_changes: deque[float] = field(default_factory=lambda: deque(maxlen=64))  # node time


def _ts(at: datetime) -> float:
    return at.astimezone(UTC).timestamp()


def _window_label(seconds: int) -> str:
    return f"{seconds // 60}m" if seconds % 60 == 0 and seconds >= 60 else f"{seconds}s"


class CrashLoopDetector:
    """Feed it every sample of every node; it returns each job's health."""

    def __init__(self, rule: LoopRule | None = None) -> None:
        self.rule = rule or LoopRule()
        self._tracks: dict[tuple[str, str], _Track] = {}

    def observe(self, node: str, sample: NodeSample) -> tuple[JobHealth, ...]:
        """The jobs of one node after this sample (jobs known to picf's state or to monit)."""
        now = sample.node_time if sample.node_time is not None else sample.at
        by_name = {p.name: p for p in sample.processes}
        names = sorted(set(by_name) | set(sample.releases or {}))
        jobs = []
        for name in names:
            track = self._tracks.setdefault((node, name), _Track())
            process = by_name.get(name)
            if process is not None and process.pid is not None:
                if track.pid is not None and process.pid != track.pid:
                    track.pid_changes.append(now)
                track.pid = process.pid
            events = [e for e in sample.monit_events if e.job == name or e.kind is MonitEventKind.RELOADED]
            jobs.append(self._judge(name, process, events, track, sample, now))
        for key in [k for k in self._tracks if k[0] == node and k[1] not in names]:
            del self._tracks[key]
        return tuple(jobs)

    def _judge(
        self,
        name: str,
        process: MonitProcess | None,
        events: list[MonitEvent],
        track: _Track,
        sample: NodeSample,
        now: float,
    ) -> JobHealth:
        rule = self.rule
        marks = [_ts(e.at) for e in events if e.kind in (MonitEventKind.USER, MonitEventKind.RELOADED)]
        chapter = max([track.chapter, *marks])
        if chapter != track.chapter:
            track.chapter, track.diagnosis, track.last_exit = chapter, None, None
        since = max(chapter, now - rule.window_s)
        restarts_logged = [e for e in events if e.kind is MonitEventKind.RESTART and _ts(e.at) >= since]
        restarts = max(len(restarts_logged), sum(1 for t in track.pid_changes if t >= since))
        own = [e for e in events if e.job == name and _ts(e.at) >= chapter]
        gave_up = bool(own) and own[-1].kind is MonitEventKind.GAVE_UP
        failures = [e.text for e in own if e.kind in (MonitEventKind.FAILED_START, MonitEventKind.GAVE_UP)]
        release = (sample.releases or {}).get(name)
        log = list(sample.logs.get(name, ()))
        diagnosis = diagnose_job([*log, *failures], sample.node_arch, name, release) if log or failures else None
        # A diagnosis holds for the chapter: a poll without the job's log (monit only said `failed to start`)
        # keeps it, and its evidence stays the last exit shown.
        diagnosis = track.diagnosis = diagnosis or track.diagnosis
        last_exit = diagnosis.evidence if diagnosis else (failures[-1] if failures else last_failure(log))
        last_exit = track.last_exit = last_exit or track.last_exit
        common = {
            "job": name,
            "pid": process.pid if process else None,
            "uptime_s": process.uptime_s if process else None,
            "restarts": restarts,
            "window_s": rule.window_s,
            "release": release,
        }
        loop = f"{restarts} restart{'' if restarts == 1 else 's'} in {_window_label(rule.window_s)}"

        def verdict(state: JobState, detail: str, with_diagnosis: bool = True) -> JobHealth:
            return JobHealth(
                state=state,
                detail=detail,
                last_exit=last_exit if with_diagnosis else None,
                diagnosis=diagnosis if with_diagnosis else None,
                **common,
            )

        if process is None:
            why = "monit is not answering" if not sample.monit_up else "not in monit's control file"
            return verdict(JobState.UNKNOWN, why)
        up = process.monitor == 1 and process.status == 0 and process.pid is not None
        uptime = _uptime_now(process, sample.node_time)
        stable = steady_seconds(sample.monit_poll_s) if sample.monit_poll_s else rule.stable_s
        if up and (uptime is None or uptime >= stable):
            return verdict(JobState.RUNNING, f"up {duration(uptime)}", with_diagnosis=False)
        if process.monitor == 0 and name in (sample.stopped or ()):
            return verdict(JobState.STOPPED, "stopped (picf stop; picf start starts it)", with_diagnosis=False)
        if process.monitor == 0:
            if gave_up or restarts >= rule.restarts:
                return verdict(JobState.CRASH_LOOP, f"{loop}; monit gave up (not monitored)")
            return verdict(JobState.STOPPED, "not monitored", with_diagnosis=False)
        if restarts >= rule.restarts:
            return verdict(JobState.CRASH_LOOP, loop)
        if up:
            return verdict(JobState.STARTING, f"up {duration(uptime)}", with_diagnosis=False)
        if process.monitor == 2 and restarts <= 1 and not failures:
            return verdict(JobState.STARTING, "initializing")
        if failures:
            return verdict(JobState.FAILING, f"{failures[-1]} ({loop})")
        return verdict(JobState.FAILING, process.status_text if process.status else "not running")


def _uptime_now(process: MonitProcess, node_time: float | None) -> float | None:
    """The job's uptime now: monit's figure is as of its last cycle, which may be a cycle old (both times are
    the node's clock)."""
    if process.uptime_s is None:
        return None
    since = node_time - process.collected_at if node_time is not None and process.collected_at is not None else 0.0
    return process.uptime_s + max(0.0, since)


def last_failure(log: Sequence[str]) -> str | None:
    """The last line of a log that says how a process ended (a panic, a fatal error, a signal)."""
    for line in reversed(log):
        text = line.strip()
        if text.startswith(("panic:", "fatal error:", "Segmentation fault", "Killed", "error:", "Error:")):
            return text[:300]
    return None
