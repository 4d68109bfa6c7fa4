"""The crash-loop detector, replaying histories recorded from simulated Pis, and hand-made ones."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

from picf.health.detector import CrashLoopDetector, LoopRule
from picf.health.parse import parse_sample
from picf.models.health import (
    JobHealth,
    JobState,
    MonitEvent,
    MonitEventKind,
    MonitProcess,
    NodeSample,
    Vitals,
    steady_seconds,
)

DATA = Path(__file__).parent.parent / "data" / "health"


def replay(name: str, detector: CrashLoopDetector | None = None) -> dict[str, list[tuple[float, JobHealth]]]:
    """Each node's logfwd verdicts over a recorded history, with the node-clock time of each poll."""
    detector = detector or CrashLoopDetector()
    out: dict[str, list[tuple[float, JobHealth]]] = {}
    with gzip.open(DATA / name, "rt") as f:
        for line in f:
            row = json.loads(line)
            sample = parse_sample(row["text"], row["nonce"], row["at"])
            jobs = detector.observe(row["node"], sample)
            out.setdefault(row["node"], []).append((sample.node_time or row["at"], jobs[0]))
    return out


def test_unpatched_deploy_crash_loops_on_armv7_only_diagnosed_as_unaligned_atomic() -> None:
    history = replay("unpatched-deploy.jsonl.gz")
    armv7, arm64 = history["pi-1"], history["pi-2"]
    assert all(job.state is not JobState.CRASH_LOOP for _, job in arm64)
    assert arm64[-1][1].state is JobState.RUNNING
    # the recording starts on the previous deploy's loop; the new deploy starts a new chapter (starting),
    # then monit's restarts pile up into a crash loop again, diagnosed from the panic in the job's log
    states = [job.state for _, job in armv7]
    first_start = states.index(JobState.STARTING)
    assert JobState.CRASH_LOOP in states[first_start:]
    looped_at = first_start + states[first_start:].index(JobState.CRASH_LOOP)
    assert armv7[looped_at][0] - armv7[first_start][0] < 60  # within a minute of the deploy
    last = armv7[-1][1]
    assert last.state is JobState.CRASH_LOOP and last.restarts >= 3 and "monit gave up" in last.detail
    assert last.diagnosis is not None and last.diagnosis.signature == "unaligned-atomic-64"
    assert last.diagnosis.patch == "align64" and last.last_exit == "panic: unaligned 64-bit atomic operation"
    assert any("--arch armv7 --patch" in step for step in last.diagnosis.fix)


def test_a_patched_deploy_clears_the_loop() -> None:
    detector = CrashLoopDetector()
    replay("unpatched-deploy.jsonl.gz", detector)
    history = replay("patched-deploy.jsonl.gz", detector)
    for node in ("pi-1", "pi-2"):
        states = [job.state for _, job in history[node]]
        assert history[node][-1][1].state is JobState.RUNNING
        started = next(i for i, (_, job) in enumerate(history[node]) if job.state is JobState.STARTING)
        assert JobState.CRASH_LOOP not in states[started:]  # the old loop is not held against the new version


def _process(pid: int | None, monitor: int = 1, status: int = 0, uptime: int | None = 100) -> MonitProcess:
    return MonitProcess(name="metron", status=status, monitor=monitor, pid=pid, uptime_s=uptime)


def _sample(
    t: float, process: MonitProcess, events: tuple[MonitEvent, ...] = (), log: tuple[str, ...] = ()
) -> NodeSample:
    return NodeSample(
        at=t, node_time=t, vitals=Vitals(), monit_up=True, processes=(process,), monit_events=events,
        logs={"metron": log} if log else {}, node_arch="armv7",
    )  # fmt: skip


def _event(t: float, kind: MonitEventKind) -> MonitEvent:
    return MonitEvent(at=datetime.fromtimestamp(t, UTC), job="metron", kind=kind, text=kind.value)


def test_pid_changes_alone_make_a_crash_loop() -> None:
    """A job that dies after a second: monit restarts it each cycle; the probe sees a new pid each time."""
    d = CrashLoopDetector(LoopRule(restarts=3, window_s=60, stable_s=10))
    verdicts = [d.observe("pi", _sample(1000 + 2 * i, _process(100 + i, uptime=1)))[0] for i in range(5)]
    assert [v.state for v in verdicts[:3]] == [JobState.STARTING] * 3
    assert verdicts[3].state is JobState.CRASH_LOOP and verdicts[3].restarts == 3


def test_restarts_outside_the_window_are_forgotten() -> None:
    d = CrashLoopDetector(LoopRule(restarts=3, window_s=60, stable_s=10))
    events = tuple(_event(1000 + i, MonitEventKind.RESTART) for i in range(3))
    looping = d.observe("pi", _sample(1010, _process(None, monitor=1, status=0x200), events))[0]
    assert looping.state is JobState.CRASH_LOOP
    later = d.observe("pi", _sample(1100, _process(77, uptime=5), events))[0]
    assert later.state is JobState.STARTING and later.restarts == 0


def test_a_job_up_for_long_is_running_whatever_its_past() -> None:
    d = CrashLoopDetector()
    events = tuple(_event(1000 + i, MonitEventKind.RESTART) for i in range(5))
    assert d.observe("pi", _sample(1100, _process(5, uptime=60), events))[0].state is JobState.RUNNING


def test_stopped_failing_and_unknown() -> None:
    d = CrashLoopDetector()
    assert d.observe("pi", _sample(1, _process(None, monitor=0)))[0].state is JobState.STOPPED
    failing = d.observe("pi", _sample(2, _process(None, status=0x1200), (_event(1, MonitEventKind.FAILED_START),)))
    assert failing[0].state is JobState.FAILING
    no_monit = NodeSample(at=3, vitals=Vitals(), monit_up=False, releases={"metron": "loggregator/101.6"})
    unknown = d.observe("pi", no_monit)[0]
    assert unknown.state is JobState.UNKNOWN and unknown.detail == "monit is not answering"


def test_monit_giving_up_after_restarts_is_a_crash_loop_with_its_diagnosis() -> None:
    d = CrashLoopDetector()
    events = (
        _event(990, MonitEventKind.USER),
        _event(1000, MonitEventKind.RESTART),
        _event(1010, MonitEventKind.FAILED_START),
        _event(1012, MonitEventKind.GAVE_UP),
    )
    log = ("panic: runtime error: invalid memory address or nil pointer dereference",
           "[signal SIGSEGV: segmentation violation code=0x1 addr=0x4 pc=0x11d4c]",
           "sync/atomic.AddUint64(0x10a3c14c, 0x1, 0x0)",
           "\t/usr/local/go/src/sync/atomic/64bit_arm.go:31 +0x4c",
           "code.cloudfoundry.org/loggregator/metricemitter.(*Counter).Increment(...)")  # fmt: skip
    job = d.observe("pi", _sample(1020, _process(None, monitor=0), events, log))[0]
    assert job.state is JobState.CRASH_LOOP and "monit gave up" in job.detail
    assert job.diagnosis is not None and job.diagnosis.signature == "unaligned-atomic-64-go19"
    assert job.diagnosis.patch == "metricemitter-align"


def test_a_deploy_starts_a_new_chapter() -> None:
    d = CrashLoopDetector()
    old = tuple(_event(1000 + i, MonitEventKind.RESTART) for i in range(4))
    deploy = (*old, _event(1010, MonitEventKind.RELOADED))
    job = d.observe("pi", _sample(1012, _process(9, uptime=2), deploy))[0]
    assert job.state is JobState.STARTING and job.restarts == 0


def test_a_diagnosis_stays_while_the_loop_goes_on_even_when_the_log_is_not_resent() -> None:
    """The probe sends a job's log only while its pid is dead; between two crashes the job may look alive."""
    d = CrashLoopDetector(LoopRule(restarts=3, window_s=60, stable_s=10))
    restarts = tuple(_event(1000 + i, MonitEventKind.RESTART) for i in range(3))
    dead = d.observe(
        "pi", _sample(1005, _process(None, status=0x200), restarts, ("panic: unaligned 64-bit atomic operation",))
    )
    alive_for_a_moment = d.observe("pi", _sample(1007, _process(42, uptime=0), restarts))
    assert dead[0].diagnosis is not None and alive_for_a_moment[0].diagnosis == dead[0].diagnosis
    assert alive_for_a_moment[0].state is JobState.CRASH_LOOP
    fixed = d.observe("pi", _sample(1020, _process(43, uptime=1), (*restarts, _event(1010, MonitEventKind.USER))))
    assert fixed[0].state is JobState.STARTING and fixed[0].diagnosis is None  # a deploy: a new chapter


def _steady_sample(t: float, uptime: int, collected: float, monit_interval: int) -> NodeSample:
    process = MonitProcess(name="metron", status=0, monitor=1, pid=7, uptime_s=uptime, collected_at=collected)
    return _sample(t, process).model_copy(update={"monit_poll_s": monit_interval})


def test_a_job_is_running_once_it_kept_its_pid_for_longer_than_a_monit_cycle_as_the_deploy_watch_says() -> None:
    # The deploy's watch calls a job steady after steady_seconds(interval) with one pid; status agrees.
    assert steady_seconds(2) == 3
    d = CrashLoopDetector()
    assert (
        d.observe("pi", _steady_sample(1000, uptime=3, collected=1000, monit_interval=2))[0].state is JobState.RUNNING
    )
    assert (
        d.observe("pi", _steady_sample(2000, uptime=2, collected=2000, monit_interval=2))[0].state is JobState.STARTING
    )
    # BOSH's 10 s cycle: 3 s is still starting
    assert d.observe("pi", _steady_sample(3000, uptime=3, collected=3000, monit_interval=10))[0].state is (
        JobState.STARTING
    )


def test_monits_uptime_is_counted_from_when_monit_collected_it() -> None:
    # monit says "up 1 s" as of its last cycle, two seconds ago: the job has been up for 3 s.
    job = CrashLoopDetector().observe("pi", _steady_sample(1002, uptime=1, collected=1000, monit_interval=2))[0]
    assert job.state is JobState.RUNNING and job.detail == "up 3s"
