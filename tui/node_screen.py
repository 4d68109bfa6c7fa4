"""One node: vitals with sparklines, its jobs, and the log tail of a chosen job."""

from __future__ import annotations

import threading
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, RichLog, Sparkline, Static

from picf.health import view
from picf.models.health import JobState, NodeHealth, NodeState
from tui.context import Dashboard
from tui.messages import LogFollowed, LogRead, OperationDone
from tui.model import NodeHistory
from tui.verbs import ask_and_do, open_shell, operation_done

JOB_STYLE = {JobState.RUNNING: "green", JobState.STARTING: "cyan", JobState.FAILING: "red",
             JobState.CRASH_LOOP: "bold red", JobState.STOPPED: "yellow", JobState.UNKNOWN: "dim"}  # fmt: skip


def vitals_text(node: NodeHealth, now: float) -> Text:
    """The node's vitals as a few lines."""
    v = node.vitals
    text = Text()
    state = (
        node.state.value
        if node.state is NodeState.UP
        else f"{node.state.value}: {node.error} ({view.last_seen(node, now)})"
    )
    text.append(f"{node.name}", style="bold")
    text.append(f"  {node.address}  {node.model or '-'}  {node.arch or '-'}  roles {','.join(node.roles) or '-'}  ")
    text.append(state, style="green" if node.state is NodeState.UP else "red")
    if v is not None:
        text.append(
            f"\nuptime {view.duration(v.uptime_s)}  load {view.load(node)}  cpu {view.percent(v.cpu_percent)}  "
            f"memory {view.percent(v.mem_percent)}  swap {view.percent(v.swap_percent)}  "
            f"/ {view.disk(node, '/')}  /var/vcap/data {view.disk(node, '/var/vcap/data')}"
        )
        text.append(f"\ntemperature {view.temperature(node)}  throttle {view.throttle(node)}  ")
        text.append(f"memory cgroup {'on' if v.memory_cgroup else 'off' if v.memory_cgroup is False else '-'}")
    for warning in node.warnings:
        text.append(f"\n{warning.signature.upper()}: {warning.cause}", style="yellow")
    return text


class NodeScreen(Screen[None]):
    """One node: vitals with sparklines, its jobs, the logs of a chosen job followed (`l`); restart (`R`), stop
    or start (`t`) that job, a shell on the node (`x`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("l", "log", "Follow log"),
        Binding("R", "restart", "Restart job"),
        Binding("t", "stop_start", "Stop/start job"),
        Binding("x", "shell", "Shell"),
    ]

    def __init__(self, dashboard: Dashboard, node: str, follow_all: bool = False) -> None:
        super().__init__()
        self.dashboard = dashboard
        self.node_name = node
        self.follow_all = follow_all  # opened with `l` on the main view: follow every job's logs
        self._following: threading.Event | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="vitals")
        with Vertical():
            yield Static("temperature (C)", classes="spark-label", id="temp-label")
            yield Sparkline([], id="temp", summary_function=max)
            yield Static("cpu (%)", classes="spark-label", id="cpu-label")
            yield Sparkline([], id="cpu", summary_function=max)
            yield Static("memory (%)", classes="spark-label", id="mem-label")
            yield Sparkline([], id="mem", summary_function=max)
        yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        yield RichLog(id="log", wrap=False, markup=False, highlight=False, max_lines=2000)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#jobs", DataTable)
        table.add_columns("job", "state", "detail", "pid", "restarts", "release", "diagnosis")
        self.query_one("#log", RichLog).border_title = "log (select a job, press l)"
        self.refresh_node()
        table.focus()
        if self.follow_all:
            self._follow(None)

    def on_unmount(self) -> None:
        if self._following is not None:
            self._following.set()

    def refresh_node(self) -> None:
        """Redraw from the dashboard's latest round."""
        model = self.dashboard.model
        node = model.node(self.node_name)
        if node is None:
            return
        self.query_one("#vitals", Static).update(vitals_text(node, self.dashboard.now()))
        history = model.histories.get(self.node_name, NodeHistory())
        for key, series, unit in (("temp", history.temp, "C"), ("cpu", history.cpu, "%"), ("mem", history.mem, "%")):
            self.query_one(f"#{key}", Sparkline).data = list(series)
            last = f"{series[-1]:.1f}{unit}" if series else "-"
            label = {"temp": "temperature", "cpu": "cpu", "mem": "memory"}[key]
            self.query_one(f"#{key}-label", Static).update(f"{label}: {last} (last {len(series)} polls)")
        table = self.query_one("#jobs", DataTable)
        cursor = table.cursor_row
        table.clear()
        for job in node.jobs:
            diagnosis = ""
            if job.diagnosis:
                diagnosis = job.diagnosis.cause + (f" -> patch {job.diagnosis.patch}" if job.diagnosis.patch else "")
            state = Text(job.state.value, style=JOB_STYLE[job.state])
            pid, release = str(job.pid or "-"), job.release or "-"
            table.add_row(job.job, state, job.detail, pid, str(job.restarts), release, diagnosis, key=job.job)
        if node.jobs:
            table.move_cursor(row=min(cursor, len(node.jobs) - 1))

    def _selected_job(self) -> str | None:
        table = self.query_one("#jobs", DataTable)
        if table.row_count == 0:
            self.notify("no jobs on this node", severity="warning")
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_log(self) -> None:
        """Follow the logs of the job under the cursor (on a synthetic cluster: its last lines)."""
        job = self._selected_job()
        if job is not None:
            self._follow(job)

    def _follow(self, job: str | None) -> None:
        log = self.query_one("#log", RichLog)
        if self._following is not None:
            self._following.set()
        if self.dashboard.operator is None:
            if job is not None:
                log.border_title = f"{job}: last lines of its logs"
                self._load_log(job)
            return
        log.clear()
        log.border_title = f"{job or 'every job'}: following its logs (l on another job to switch)"
        stop = self._following = threading.Event()
        operator = self.dashboard.operator

        def show(line: str) -> None:
            self.post_message(LogFollowed(line))

        def follow() -> None:
            try:
                operator.follow_log(self.node_name, job, show, stop)
            except Exception as exc:  # an unknown job, a node gone for good: say so in the pane
                self.post_message(LogFollowed(f"picf: cannot follow the logs: {exc}"))

        self.run_worker(follow, thread=True, group="follow", exit_on_error=False)

    @on(LogFollowed)
    def _followed(self, message: LogFollowed) -> None:
        self.query_one("#log", RichLog).write(message.line)

    def action_restart(self) -> None:
        """Restart the job under the cursor (asks first)."""
        job = self._selected_job()
        if job is not None:
            ask_and_do(self, self.dashboard, "restart", self.node_name, job)

    def action_stop_start(self) -> None:
        """Stop the job under the cursor, or start it when it is stopped (asks first)."""
        job = self._selected_job()
        node = self.dashboard.model.node(self.node_name)
        if job is None or node is None:
            return
        state = next((j.state for j in node.jobs if j.job == job), None)
        ask_and_do(self, self.dashboard, "start" if state is JobState.STOPPED else "stop", self.node_name, job)

    def action_shell(self) -> None:
        """A shell on this node (the dashboard comes back when it ends)."""
        open_shell(self, self.dashboard, self.node_name)

    @on(OperationDone)
    def _operation_done(self, message: OperationDone) -> None:
        operation_done(self, self.dashboard, message)

    @work(thread=True, exclusive=True, group="log")
    def _load_log(self, job: str) -> None:
        try:
            lines = self.dashboard.source.read_log(self.node_name, job, 200)
        except Exception as exc:  # an unreachable node: say so in the log pane
            lines = [f"cannot read the log: {exc}"]
        self.post_message(LogRead(job, lines))

    @on(LogRead)
    def _show_log(self, message: LogRead) -> None:
        log = self.query_one("#log", RichLog)
        log.clear()
        for line in message.lines or ["(empty)"]:
            log.write(line)
