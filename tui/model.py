"""What the dashboard shows, computed from health rounds: rows, alerts, histories. Pure (no Textual)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from picf.health import view
from picf.health.problems import ProblemKind, problems_of
from picf.models.health import ClusterHealth, NodeHealth, NodeState

HISTORY = 120  # samples kept per node for the sparklines

COLUMNS = ("name", "model", "arch", "roles", "state", "temp", "throttle", "load", "mem", "disk", "jobs", "restarts")
SORT_KEYS = ("name", "state", "temp", "load", "mem", "disk", "restarts")


class Severity(StrEnum):
    """How loud an alert is."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Alert:
    """One line of the alerts panel."""

    severity: Severity
    node: str
    text: str
    patch: str | None = None


@dataclass
class NodeHistory:
    """Recent vitals of a node, for sparklines."""

    temp: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    cpu: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    mem: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    seen_at: float | None = None


def alerts_of(health: ClusterHealth, events: list[Alert] | None = None) -> list[Alert]:
    """The round's problems (crash loops first, as `picf status` lists them), then recent events."""
    out: list[Alert] = []
    for problem in problems_of(health):
        node, job = problem.node, problem.job
        if job is not None:
            patch = job.diagnosis.patch if job.diagnosis and problem.kind is ProblemKind.CRASH_LOOP else None
            text = f"{problem.kind.value.upper()} {view.loop_line(node, job)}"
            out.append(Alert(Severity.CRITICAL, node.name, text, patch))
        elif problem.warning is not None:
            text = f"{problem.warning.signature.upper()} {node.name}: {problem.warning.cause}"
            out.append(Alert(Severity.WARNING, node.name, text))
        else:
            out.append(Alert(Severity.CRITICAL, node.name, f"UNREACHABLE {node.name}: {node.error}"))
    return out + list(events or [])


def _num(value: float | None) -> float:
    return -1.0 if value is None else value


def sort_value(node: NodeHealth, key: str) -> tuple[float, str] | str:
    """What a column sorts by (numbers descending make sense for hot/busy first; the caller picks)."""
    v = node.vitals
    if key == "name":
        return node.name
    if key == "state":
        order = {NodeState.UNREACHABLE: 0, NodeState.WAITING: 1, NodeState.UP: 2}[node.state]
        loops = -len(node.crash_loops)
        return (float(order * 100 + loops), node.name)
    if key == "temp":
        return (_num(v.temp_c if v else None), node.name)
    if key == "load":
        return (_num(v.load[0] if v and v.load else None), node.name)
    if key == "mem":
        return (_num(v.mem_percent if v else None), node.name)
    if key == "disk":
        d = v.disk("/var/vcap/data") or v.disk("/") if v else None
        return (_num(d.percent if d else None), node.name)
    if key == "restarts":
        return (float(view.restarts(node)), node.name)
    raise ValueError(f"cannot sort by {key!r}")


def matches(node: NodeHealth, text: str) -> bool:
    """The `/` filter: every word appears in the node's name, model, arch, roles, state or job names/states."""
    hay = " ".join([node.name, node.model or "", node.arch or "", *node.roles, node.state.value,
                    *(f"{j.job} {j.state.value}" for j in node.jobs)]).lower()  # fmt: skip
    return all(word in hay for word in text.lower().split())


def cells(node: NodeHealth, now: float) -> tuple[str, ...]:
    """One row of the nodes table, in COLUMNS order."""
    v = node.vitals
    state = view.node_state(node)
    if node.state is not NodeState.UP:
        state = f"{state}, {view.last_seen(node, now).removeprefix('last ')}"
    elif node.crash_loops:
        state = "crash loop"
    mem = view.percent(v.mem_percent if v else None)
    disk = view.disk(node, "/var/vcap/data") if v and v.disk("/var/vcap/data") else view.disk(node, "/")
    return (node.name, view.short_model(node), node.arch or "-", ",".join(node.roles) or "-", state,
            view.temperature(node), view.throttle_flags(node), view.load(node).split(",")[0], mem, disk,
            view.jobs_ok(node), str(view.restarts(node)))  # fmt: skip


@dataclass
class DashboardModel:
    """The dashboard's state between rounds."""

    health: ClusterHealth | None = None
    histories: dict[str, NodeHistory] = field(default_factory=dict)
    events: list[Alert] = field(default_factory=list)  # deploy results and the like, newest last
    filter_text: str = ""
    sort_key: str = "state"
    sort_reverse: bool = False

    def update(self, health: ClusterHealth) -> None:
        """Take a new round; extend each node's history with what it answered this time."""
        self.health = health
        for node in health.nodes:
            history = self.histories.setdefault(node.name, NodeHistory())
            v = node.vitals
            if v is None or node.state is not NodeState.UP or node.last_seen == history.seen_at:
                continue
            history.seen_at = node.last_seen
            if v.temp_c is not None:
                history.temp.append(v.temp_c)
            if v.cpu_percent is not None:
                history.cpu.append(v.cpu_percent)
            if v.mem_percent is not None:
                history.mem.append(v.mem_percent)

    def add_event(self, alert: Alert, keep: int = 5) -> None:
        """A deploy result (or similar) for the alerts panel; the last few are kept."""
        self.events = [*self.events, alert][-keep:]

    def alerts(self) -> list[Alert]:
        """The alerts panel's lines."""
        return alerts_of(self.health, self.events) if self.health else list(self.events)

    def rows(self, now: float | None = None) -> list[tuple[str, tuple[str, ...], bool]]:
        """(node name, cells, dimmed) for the nodes table, filtered and sorted."""
        if self.health is None:
            return []
        now = now if now is not None else time.time()
        nodes = [n for n in self.health.nodes if matches(n, self.filter_text)]
        descending = self.sort_key in ("temp", "load", "mem", "disk", "restarts")
        nodes.sort(key=lambda n: sort_value(n, self.sort_key), reverse=descending != self.sort_reverse)
        return [(n.name, cells(n, now), n.state is not NodeState.UP) for n in nodes]

    def next_sort(self) -> str:
        """Cycle the sort column."""
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        return self.sort_key

    def node(self, name: str) -> NodeHealth | None:
        """The latest health of one node."""
        return next((n for n in self.health.nodes if n.name == name), None) if self.health else None
