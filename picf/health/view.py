"""Health in words and short cells, shared by `picf status` and the dashboard (so both say the same thing)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from picf.models.health import ClusterHealth, JobHealth, JobState, NodeHealth, NodeState
from picf.models.pi import PiModelError, parse_model_string

WARM_TEMP_C = 70.0


def duration(seconds: float | None) -> str:
    """`42s`, `7m`, `5h`, `3d`."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def percent(value: float | None) -> str:
    """`42%` or `-`."""
    return "-" if value is None else f"{value:.0f}%"


def temperature(node: NodeHealth) -> str:
    """`47.2C` or `-`."""
    t = node.vitals.temp_c if node.vitals else None
    return "-" if t is None else f"{t:.1f}C"


def throttle(node: NodeHealth) -> str:
    """`ok`, `under-voltage,throttled`, `ok (since boot: capped)`, or `-` when unknown."""
    th = node.vitals.throttle if node.vitals else None
    return "-" if th is None else th.summary()


_FLAG_SHORT = {"under-voltage": "UV", "capped": "CAP", "throttled": "THR", "soft-limit": "SOFT"}


def throttle_flags(node: NodeHealth) -> str:
    """Compact for tables: `UV THR` now, `(uv)` since boot only, `ok`, `-` unknown."""
    th = node.vitals.throttle if node.vitals else None
    if th is None:
        return "-"
    now = [_FLAG_SHORT[f] for f in th.now]
    past = [_FLAG_SHORT[f].lower() for f in th.since_boot if f not in th.now]
    text = " ".join(now) + (f" ({' '.join(past)})" if past else "")
    return text.strip() or "ok"


def short_model(node: NodeHealth) -> str:
    """`3B+ 1.3` from `Raspberry Pi 3 Model B Plus Rev 1.3`; the raw string when it is not a Pi's."""
    if not node.model:
        return "-"
    try:
        model = parse_model_string(node.model)
    except PiModelError:
        return node.model[:24]
    return f"{model.short} {model.revision}" if model.revision else model.short


def load(node: NodeHealth) -> str:
    """`0.52, 0.40, 0.31`."""
    ld = node.vitals.load if node.vitals else None
    return "-" if ld is None else ", ".join(f"{x:.2f}" for x in ld)


def disk(node: NodeHealth, mount: str) -> str:
    """Use of one filesystem, in percent."""
    d = node.vitals.disk(mount) if node.vitals else None
    return "-" if d is None else percent(d.percent)


def jobs_ok(node: NodeHealth) -> str:
    """`2/3` jobs running."""
    if not node.jobs:
        return "-"
    return f"{sum(1 for j in node.jobs if j.state is JobState.RUNNING)}/{len(node.jobs)}"


def restarts(node: NodeHealth) -> int:
    """Restarts of the node's jobs within the detector's window."""
    return sum(j.restarts for j in node.jobs)


def last_seen(node: NodeHealth, now: float | None = None) -> str:
    """`last seen 12s ago` / `never seen`."""
    if node.last_seen is None:
        return "never seen"
    return f"last seen {duration((now if now is not None else time.time()) - node.last_seen)} ago"


def node_state(node: NodeHealth) -> str:
    """`up`, `unreachable`, `waiting`."""
    return node.state.value


def loop_line(node: NodeHealth, job: JobHealth) -> str:
    """`pi-1/logfwd: 3 restarts in 5m; monit gave up: unaligned 64-bit atomic ... -> patch align64`."""
    text = f"{node.name}/{job.job}: {job.detail}"
    if job.diagnosis:
        text += f": {job.diagnosis.cause}"
        if job.diagnosis.patch:
            text += f" -> patch {job.diagnosis.patch}"
    elif job.last_exit:
        text += f": {job.last_exit}"
    return text


@dataclass(frozen=True)
class Summary:
    """The header line's numbers."""

    nodes_up: int
    nodes_total: int
    jobs_running: int
    jobs_total: int
    crash_loops: int
    failing: int
    hottest: NodeHealth | None
    throttled: int
    under_voltage: int


def summarize(health: ClusterHealth) -> Summary:
    """Counts over the cluster."""
    jobs = [j for n in health.nodes for j in n.jobs]
    hot = [n for n in health.nodes if n.vitals and n.vitals.temp_c is not None and n.state is NodeState.UP]
    throttles = [n.vitals.throttle for n in health.nodes if n.vitals and n.vitals.throttle and n.state is NodeState.UP]
    return Summary(
        nodes_up=sum(1 for n in health.nodes if n.state is NodeState.UP),
        nodes_total=len(health.nodes),
        jobs_running=sum(1 for j in jobs if j.state is JobState.RUNNING),
        jobs_total=len(jobs),
        crash_loops=sum(1 for j in jobs if j.state is JobState.CRASH_LOOP),
        failing=sum(1 for j in jobs if j.state is JobState.FAILING),
        hottest=max(hot, key=lambda n: n.vitals.temp_c or 0.0 if n.vitals else 0.0, default=None),
        throttled=sum(1 for t in throttles if t.throttled),
        under_voltage=sum(1 for t in throttles if t.under_voltage),
    )


def summary_line(health: ClusterHealth) -> str:
    """`pi-demo: 3/3 nodes up, 2/3 jobs running, 1 crash loop, hottest pi-2 84.5C, 1 throttled, 0 under-voltage`."""
    s = summarize(health)
    parts = [f"{s.nodes_up}/{s.nodes_total} nodes up", f"{s.jobs_running}/{s.jobs_total} jobs running"]
    parts.append(f"{s.crash_loops} crash loop{'s' if s.crash_loops != 1 else ''}")
    if s.failing:
        parts.append(f"{s.failing} failing")
    if s.hottest is not None:
        parts.append(f"hottest {s.hottest.name} {temperature(s.hottest)}")
    parts += [f"{s.throttled} throttled", f"{s.under_voltage} under-voltage"]
    return f"{health.cluster}: " + ", ".join(parts)
