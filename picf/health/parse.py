"""Pure parsers for the health probe's blob (picf/node_probe/health.sh): text in, NodeSample out.

Nothing here trusts the node: every section may be missing, truncated or garbage. What cannot be read is left
as None and named in `problems`; a parser never raises on input.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from picf.models.health import (
    CpuTimes,
    DiskUsage,
    MonitEvent,
    MonitEventKind,
    MonitProcess,
    NodeSample,
    Throttle,
    Vitals,
)
from picf.node_probe import ProbeError, memory_cgroup, quoted, split_sections

MAX_BLOB = 1 << 20  # a probe answer is a few KB; anything this big is not one
_LOG_LINE_MAX = 400
_YEAR_2100 = 4_102_444_800


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch == "\t" else "?" for ch in text)[:_LOG_LINE_MAX]


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if re.fullmatch(r"-?\d{1,18}", text) else None


def parse_uptime(lines: list[str]) -> float | None:
    """`/proc/uptime` -> seconds since boot."""
    parts = lines[0].split() if lines else []
    value = _float(parts[0]) if parts else None
    return value if value is not None and value >= 0 else None


def parse_loadavg(lines: list[str]) -> tuple[float, float, float] | None:
    """`/proc/loadavg` -> (1 min, 5 min, 15 min)."""
    parts = lines[0].split() if lines else []
    values = [_float(p) for p in parts[:3]]
    if len(values) < 3 or any(v is None or v < 0 for v in values):
        return None
    a, b, c = (float(v) for v in values if v is not None)
    return (a, b, c)


def parse_stat(lines: list[str]) -> CpuTimes | None:
    """The `cpu` line of /proc/stat (jiffies: user nice system idle iowait irq softirq steal ...)."""
    parts = next((line.split() for line in lines if line.startswith("cpu ")), [])
    if len(parts) < 6:
        return None
    numbers = [_int(p) for p in parts[1:11]]
    if any(n is None or n < 0 for n in numbers):
        return None
    n = [int(x) for x in numbers if x is not None]
    user, nice, system, idle, iowait = n[0], n[1], n[2], n[3], n[4]
    return CpuTimes(user=user + nice, system=system + sum(n[5:7]), idle=idle, iowait=iowait, total=sum(n[:8]))


def parse_boot_time(lines: list[str]) -> int | None:
    """The `btime` line of /proc/stat: boot time, epoch seconds (the node's clock)."""
    parts = next((line.split() for line in lines if line.startswith("btime ")), [])
    return _int(parts[1]) if len(parts) == 2 else None


def cpu_percent(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """CPU busy (user + system + iowait) between two samples, in percent of all CPUs."""
    if before is None or after is None or after.total <= before.total:
        return None
    busy = (after.user - before.user) + (after.system - before.system) + (after.iowait - before.iowait)
    return max(0.0, min(100.0, 100.0 * busy / (after.total - before.total)))


def parse_meminfo(lines: list[str]) -> dict[str, int]:
    """`Key:   123 kB` lines -> {Key: kB}."""
    out: dict[str, int] = {}
    for line in lines:
        match = re.fullmatch(r"(\w+):\s+(\d{1,15})(?: kB)?\s*", line)
        if match:
            out[match.group(1)] = int(match.group(2))
    return out


def parse_df(lines: list[str]) -> tuple[DiskUsage, ...]:
    """`PATH` + a `df -P -k PATH` row per line -> one DiskUsage per path asked about."""
    disks: dict[str, DiskUsage] = {}
    for line in lines:
        parts = line.split()
        if len(parts) < 7 or not parts[0].startswith("/"):
            continue
        total, used = _int(parts[2]), _int(parts[3])
        if total is None or used is None or total < 0 or used < 0 or parts[0] in disks:
            continue
        disks[parts[0]] = DiskUsage(mount=_printable(parts[0])[:100], total_kb=total, used_kb=used)
    return tuple(disks.values())


def parse_temperature(sysfs: list[str], vcgencmd: list[str]) -> float | None:
    """thermal_zone0 (millidegrees C) first, then `temp=42.9'C` from vcgencmd."""
    milli = _int(sysfs[0]) if sysfs else None
    if milli is not None and -40_000 <= milli <= 150_000:
        return round(milli / 1000, 1)
    for line in vcgencmd:
        match = re.fullmatch(r"temp=(-?\d{1,3}(?:\.\d+)?)'C\s*", line)
        if match:
            return float(match.group(1))
    return None


def parse_throttled(vcgencmd: list[str]) -> Throttle | None:
    """`throttled=0x50005` -> Throttle."""
    for line in vcgencmd:
        match = re.fullmatch(r"throttled=0x([0-9a-fA-F]{1,8})\s*", line)
        if match:
            return Throttle(bits=int(match.group(1), 16))
    return None


def _child_text(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    return found.text.strip() if found is not None and found.text is not None else None


@dataclass(frozen=True)
class MonitStatus:
    """What monit's XML status says: its processes, its poll interval, the system's CPU use; or a problem."""

    processes: tuple[MonitProcess, ...] = ()
    poll_s: int | None = None
    system_cpu: float | None = None
    problem: str | None = None


def _system_cpu(service: ET.Element) -> float | None:
    parts = [_float(_child_text(service, f"system/cpu/{k}") or "") for k in ("user", "system", "wait")]
    return sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None


def parse_monit_xml(text: str) -> MonitStatus:
    """monit's `_status?format=xml` -> MonitStatus. Refuses DTDs (no entity games)."""
    text = text.strip()
    if not text:
        return MonitStatus(problem="monit did not answer on 127.0.0.1:2822")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return MonitStatus(problem="monit's status carries a DTD; ignored")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return MonitStatus(problem=f"monit's status is not XML ({exc})")
    if root.tag != "monit":
        return MonitStatus(problem="monit's status is not monit XML")
    poll = _int(_child_text(root, "server/poll") or "")
    processes: list[MonitProcess] = []
    system_cpu: float | None = None
    for service in root.iter("service"):
        if service.get("type") == "5":  # 5: the system itself
            system_cpu = _system_cpu(service)
        if service.get("type") != "3":  # 3: check process
            continue
        name = _child_text(service, "name")
        status = _int(_child_text(service, "status") or "")
        monitor = _int(_child_text(service, "monitor") or "")
        if not name or status is None or monitor is None:
            continue
        collected = _int(_child_text(service, "collected_sec") or "")
        cpu = _child_text(service, "cpu/percenttotal") or _child_text(service, "cpu/percent")
        processes.append(
            MonitProcess(
                name=_printable(name)[:100],
                status=status,
                monitor=monitor,
                pending_action=_int(_child_text(service, "pendingaction") or "") or 0,
                pid=_int(_child_text(service, "pid") or ""),
                uptime_s=_int(_child_text(service, "uptime") or ""),
                memory_kb=_int(_child_text(service, "memory/kilobytetotal") or "")
                or _int(_child_text(service, "memory/kilobyte") or ""),
                cpu_percent=_float(cpu) if cpu else None,
                collected_at=float(collected) if collected is not None else None,
            )
        )
    return MonitStatus(processes=tuple(processes), poll_s=poll, system_cpu=system_cpu)


_EVENT_PATTERNS = (
    (re.compile(r"'([^']{1,100})' process is not running"), MonitEventKind.NOT_RUNNING),
    (re.compile(r"'([^']{1,100})' trying to restart"), MonitEventKind.RESTART),
    (re.compile(r"'([^']{1,100})' failed to start"), MonitEventKind.FAILED_START),
    (re.compile(r"'([^']{1,100})' service restarted \d+ times"), MonitEventKind.GAVE_UP),
    (re.compile(r"'([^']{1,100})' process is running"), MonitEventKind.RUNNING),
    # a deploy restarts its jobs (`monit restart`); a `start` on request (someone, or the deploy's watch, trying
    # again after monit gave up) is not a new version: the restarts before it still count
    (re.compile(r"'([^']{1,100})' restart on user request"), MonitEventKind.USER),
    (re.compile(r"'([^']{1,100})' Monit (?:reloaded|[\d.]+ started)"), MonitEventKind.RELOADED),
)
_ISO_STAMP = re.compile(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)([+-]\d{4}|Z)?\]")
_OLD_STAMP = re.compile(r"\[(?:[A-Z]{2,5} )?([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d:\d\d:\d\d)\]")


def parse_monit_time(line: str, year: int) -> datetime | None:
    """monit's `[2026-11-27T07:46:29+0000]` or the older `[UTC Nov 27 07:46:29]` (no year: `year` is used)."""
    match = _ISO_STAMP.match(line)
    try:
        if match:
            zone = match.group(2) or "+0000"
            return datetime.strptime(match.group(1) + zone.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")
        match = _OLD_STAMP.match(line)
        if match:
            stamp = f"{year} {match.group(1)} {match.group(2)} {match.group(3)}"
            return datetime.strptime(stamp, "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return None


def parse_monit_log(lines: list[str], year: int) -> tuple[MonitEvent, ...]:
    """Job events from monit's log lines (what it saw and did to each job)."""
    events: list[MonitEvent] = []
    for line in lines:
        at = parse_monit_time(line, year)
        if at is None:
            continue
        for pattern, kind in _EVENT_PATTERNS:
            match = pattern.search(line)
            if match:
                text = _printable(line.split("] ", 1)[-1].split(": ", 1)[-1].strip())
                events.append(MonitEvent(at=at, job=match.group(1), kind=kind, text=text))
                break
    return tuple(events)


def parse_state(lines: list[str]) -> tuple[dict[str, str], str | None]:
    """picf's /var/vcap/picf/state.json -> ({job: release}, arch). Garbage gives ({}, None)."""
    try:
        state = json.loads("\n".join(lines)) if lines else {}
    except ValueError:
        return {}, None
    if not isinstance(state, dict):
        return {}, None
    jobs = state.get("jobs")
    releases: dict[str, str] = {}
    if isinstance(jobs, dict):
        for name, job in jobs.items():
            if isinstance(name, str) and isinstance(job, dict) and isinstance(job.get("release"), str):
                releases[_printable(name)[:100]] = _printable(job["release"])[:100]
    arch = state.get("arch")
    return releases, _printable(arch)[:20] if isinstance(arch, str) else None


def parse_sample(text: str, nonce: str, at: float) -> NodeSample:
    """The whole probe answer -> NodeSample. ProbeError only when the answer is not this poll's probe."""
    if len(text) > MAX_BLOB:
        raise ProbeError(f"the answer is {len(text)} bytes, not a probe")
    sections = split_sections(text, nonce)
    problems: list[str] = []

    def section(name: str) -> list[str]:
        return sections.get(name, [])

    meminfo = parse_meminfo(section("meminfo"))
    uptime, boot = parse_uptime(section("uptime")), parse_boot_time(section("stat"))
    now = boot + uptime if boot is not None and uptime is not None else None
    if now is not None and not 0 < now < _YEAR_2100:
        problems.append("the node's clock is out of range")
        now = None
    year = datetime.fromtimestamp(now if now is not None else at, UTC).year
    model = _printable(section("model")[0]).strip() if section("model") else ""
    vitals = Vitals(
        model=model or None,
        uptime_s=uptime,
        load=parse_loadavg(section("loadavg")),
        cpu_times=parse_stat(section("stat")),
        mem_total_kb=meminfo.get("MemTotal"),
        mem_available_kb=meminfo.get("MemAvailable"),
        swap_total_kb=meminfo.get("SwapTotal"),
        swap_free_kb=meminfo.get("SwapFree"),
        disks=parse_df(section("df")),
        temp_c=parse_temperature(section("temp"), section("vcgencmd")),
        throttle=parse_throttled(section("vcgencmd")),
        memory_cgroup=memory_cgroup(section("cgroup")),
    )
    for name, value in (("uptime", vitals.uptime_s), ("load", vitals.load), ("memory", vitals.mem_total_kb)):
        if value is None:
            problems.append(f"no {name} in the answer")
    monit = MonitStatus()
    monit_section = next((name for name in sections if name == "monit" or name.startswith("monit ")), None)
    if monit_section is not None:  # only a node with /var/vcap/monit (a deployed node) has this section
        monit = parse_monit_xml(" ".join(sections[monit_section]))
        if monit.problem:
            problems.append(monit.problem)
        if monit.system_cpu is not None:
            vitals = vitals.model_copy(update={"cpu_percent": round(min(100.0, monit.system_cpu), 1)})
    releases: dict[str, str] | None = None
    arch: str | None = None
    if "state" in sections:  # sent when monit was asked; absent means "unchanged"
        releases, arch = parse_state(quoted(section("state")))
    stopped: frozenset[str] | None = None
    if "stopped" in sections:
        stopped = frozenset(_printable(x.strip())[:100] for x in quoted(section("stopped")) if x.strip())
    logs = {
        _printable(name.removeprefix("log ").strip())[:100]: tuple(_printable(x) for x in quoted(lines))
        for name, lines in sections.items()
        if name.startswith("log ")
    }
    return NodeSample(
        at=at,
        node_time=now,
        vitals=vitals,
        monit_up=monit_section is not None and monit.problem is None,
        monit_poll_s=monit.poll_s,
        processes=monit.processes,
        monit_events=parse_monit_log(quoted(section("monitlog")), year),
        logs=logs,
        releases=releases,
        stopped=stopped,
        node_arch=arch,
        problems=tuple(problems),
    )
