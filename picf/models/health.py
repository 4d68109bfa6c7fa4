"""Health data: what one poll of a node says (sample), and what picf concludes from several (health).

The arrow is: probe blob -> NodeSample (parsers) -> JobHealth per job (detector, with history) -> Diagnosis
(signatures) -> NodeHealth / ClusterHealth (what `picf status` and the dashboard show).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# Throttle bits as `vcgencmd get_throttled` reports them (FACTS.md section 2).
UNDER_VOLTAGE = 1 << 0
FREQ_CAPPED = 1 << 1
THROTTLED = 1 << 2
SOFT_TEMP_LIMIT = 1 << 3
SINCE_BOOT_SHIFT = 16
THROTTLE_TEMP_C = 80.0  # the firmware starts throttling here; hard limit 85 C
_FLAG_NAMES = ((UNDER_VOLTAGE, "under-voltage"), (FREQ_CAPPED, "capped"), (THROTTLED, "throttled"),
               (SOFT_TEMP_LIMIT, "soft-limit"))  # fmt: skip


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Throttle(_Frozen):
    """`vcgencmd get_throttled`, decoded."""

    bits: int

    def _flags(self, shift: int) -> list[str]:
        return [name for bit, name in _FLAG_NAMES if self.bits & (bit << shift)]

    @property
    def now(self) -> list[str]:
        """Conditions in force now: under-voltage, capped, throttled, soft-limit."""
        return self._flags(0)

    @property
    def since_boot(self) -> list[str]:
        """Conditions that have occurred since boot (bits 16-19)."""
        return self._flags(SINCE_BOOT_SHIFT)

    @property
    def under_voltage(self) -> bool:
        """Under-voltage now."""
        return bool(self.bits & UNDER_VOLTAGE)

    @property
    def throttled(self) -> bool:
        """Frequency capped, throttled or at the soft limit now."""
        return bool(self.bits & (FREQ_CAPPED | THROTTLED | SOFT_TEMP_LIMIT))

    def summary(self) -> str:
        """`under-voltage,throttled` now, `(since boot: capped)` after; `ok` when nothing ever happened."""
        now, past = self.now, [f for f in self.since_boot if f not in self.now]
        text = ",".join(now)
        if past:
            text = f"{text} (since boot: {','.join(past)})".strip()
        return text or "ok"


class DiskUsage(_Frozen):
    """One filesystem from `df -P -k`."""

    mount: str
    total_kb: int
    used_kb: int

    @property
    def percent(self) -> float:
        """Used, in percent of the total."""
        return 100.0 * self.used_kb / self.total_kb if self.total_kb else 0.0


class CpuTimes(_Frozen):
    """The first line of /proc/stat: jiffies since boot, for CPU use between two samples."""

    user: int
    system: int
    idle: int
    iowait: int
    total: int


class Vitals(_Frozen):
    """A node's vitals at one poll (`bosh vms --vitals` plus the Pi's own)."""

    model: str | None = None
    uptime_s: float | None = None
    load: tuple[float, float, float] | None = None
    cpu_times: CpuTimes | None = None
    cpu_percent: float | None = None  # user+sys+wait, from two samples or from monit's system view
    mem_total_kb: int | None = None
    mem_available_kb: int | None = None
    swap_total_kb: int | None = None
    swap_free_kb: int | None = None
    disks: tuple[DiskUsage, ...] = ()
    temp_c: float | None = None
    throttle: Throttle | None = None
    memory_cgroup: bool | None = None

    @property
    def mem_percent(self) -> float | None:
        """Memory in use (total - available), in percent."""
        if not self.mem_total_kb or self.mem_available_kb is None:
            return None
        return 100.0 * (self.mem_total_kb - self.mem_available_kb) / self.mem_total_kb

    @property
    def swap_percent(self) -> float | None:
        """Swap in use, in percent (None without swap)."""
        if not self.swap_total_kb or self.swap_free_kb is None:
            return None
        return 100.0 * (self.swap_total_kb - self.swap_free_kb) / self.swap_total_kb

    def disk(self, mount: str) -> DiskUsage | None:
        """The filesystem mounted at `mount`, if it was reported."""
        return next((d for d in self.disks if d.mount == mount), None)


def steady_seconds(monit_interval: int) -> int:
    """How long a job must keep one pid to be running steadily: longer than one monit cycle, so monit has
    checked it at least once since it started. The deploy's watch and the health detector both use this."""
    return monit_interval + 1


class MonitProcess(_Frozen):
    """One `check process` from monit's XML status (FACTS.md section 3)."""

    name: str
    status: int  # monit's event bitmap: 0 is OK
    monitor: int  # 0 not monitored, 1 monitored, 2 initializing
    pending_action: int = 0
    pid: int | None = None
    uptime_s: int | None = None
    memory_kb: int | None = None
    cpu_percent: float | None = None
    collected_at: float | None = None

    @property
    def status_text(self) -> str:
        """Close to what `monit summary` says."""
        if self.monitor == 0:
            return "not monitored"
        if self.monitor == 2:
            return "initializing"
        return "running" if self.status == 0 else describe_monit_status(self.status)


_MONIT_EVENTS = ((0x200, "does not exist"), (0x1000, "execution failed"), (0x4, "timeout"),
                 (0x40000, "pid changed"), (0x80000, "ppid changed"), (0x2, "resource limit"),
                 (0x20, "connection failed"), (0x400000, "uptime changed"))  # fmt: skip


def describe_monit_status(status: int) -> str:
    """monit's event bits in words, the most telling first."""
    words = [text for bit, text in _MONIT_EVENTS if status & bit]
    return ", ".join(words) or f"status {status:#x}"


class MonitEventKind(StrEnum):
    """What monit's log says happened to a service."""

    NOT_RUNNING = "not-running"
    RESTART = "restart"  # `trying to restart`: monit found it dead and restarts it
    FAILED_START = "failed-start"
    GAVE_UP = "gave-up"  # the `N restarts within M cycles then timeout|unmonitor` rule fired
    RUNNING = "running"
    USER = "user"  # a restart someone asked for (a deploy restarts its jobs): a new chapter for that job
    RELOADED = "reloaded"  # monit (re)started or reloaded its control file (a deploy): a new chapter for all jobs


class MonitEvent(_Frozen):
    """A line of monit's log about a job."""

    at: datetime
    job: str
    kind: MonitEventKind
    text: str


class NodeSample(_Frozen):
    """Everything one probe of a node returned, parsed."""

    at: float  # controller clock (epoch seconds) when the answer arrived
    node_time: float | None = None  # the node's own clock at the probe (monit's log is in node time)
    vitals: Vitals
    monit_up: bool = False
    monit_poll_s: int | None = None
    processes: tuple[MonitProcess, ...] = ()
    monit_events: tuple[MonitEvent, ...] = ()
    logs: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # job -> last log lines (jobs not running)
    releases: dict[str, str] | None = None  # job -> release (picf's state file); None: not re-read this poll
    stopped: frozenset[str] | None = None  # jobs `picf stop` stopped (re-read with the state file)
    node_arch: str | None = None
    problems: tuple[str, ...] = ()  # what could not be parsed; never fatal


class JobState(StrEnum):
    """How a job is doing, over several polls."""

    RUNNING = "running"
    STARTING = "starting"
    FAILING = "failing"
    CRASH_LOOP = "crash-loop"
    STOPPED = "stopped"
    UNKNOWN = "unknown"


class Diagnosis(_Frozen):
    """Why something is wrong, and what fixes it."""

    signature: str  # id of the signature that matched
    cause: str
    evidence: str  # the log or status line that matched
    patch: str | None = None  # catalog patch id (or `align64`, picf's automatic alignment)
    fix: tuple[str, ...] = ()  # what to run, in order


class JobHealth(_Frozen):
    """One job on one node, as the detector sees it."""

    job: str
    state: JobState
    detail: str
    pid: int | None = None
    uptime_s: int | None = None
    restarts: int = 0  # within the window
    window_s: int = 0
    last_exit: str | None = None  # the last failure in words (a panic line, monit's `failed to start`)
    release: str | None = None
    diagnosis: Diagnosis | None = None


class NodeState(StrEnum):
    """Whether a node answered."""

    UP = "up"
    UNREACHABLE = "unreachable"
    WAITING = "waiting"  # the first answer has not come yet


class NodeHealth(_Frozen):
    """One node: reachability, vitals, jobs and node-level diagnoses (power, heat)."""

    name: str
    address: str
    model: str | None = None
    arch: str | None = None
    roles: tuple[str, ...] = ()
    state: NodeState
    error: str | None = None
    last_seen: float | None = None
    poll_ms: float | None = None
    vitals: Vitals | None = None
    jobs: tuple[JobHealth, ...] = ()
    warnings: tuple[Diagnosis, ...] = ()

    @property
    def crash_loops(self) -> list[JobHealth]:
        """Jobs in a crash loop."""
        return [j for j in self.jobs if j.state is JobState.CRASH_LOOP]


class ClusterHealth(_Frozen):
    """The whole cluster at one poll round."""

    cluster: str
    at: float
    nodes: tuple[NodeHealth, ...]

    @property
    def exit_code(self) -> int:
        """`picf status`: 3 if a node is unreachable, else 1 on a crash loop or failing job, else 0."""
        if any(n.state is not NodeState.UP for n in self.nodes):
            return 3
        bad = (JobState.CRASH_LOOP, JobState.FAILING)
        return 1 if any(j.state in bad for n in self.nodes for j in n.jobs) else 0
