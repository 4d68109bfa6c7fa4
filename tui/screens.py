"""The dashboard's other screens: a node, a deploy, help."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, RichLog, Sparkline, Static

from picf.health import view
from picf.models.health import JobState, NodeHealth, NodeState
from tui.deploying import Deployer, Outcome
from tui.model import NodeHistory

if TYPE_CHECKING:
    from tui.app import DashboardApp

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
    """One node: vitals with sparklines, its jobs, and the log tail of a chosen job (`l`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("l", "log", "Log tail"),
        Binding("r", "app.refresh_now", "Refresh"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node_name = node

    @property
    def dashboard(self) -> DashboardApp:
        from tui.app import DashboardApp

        assert isinstance(self.app, DashboardApp)
        return self.app

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

    def refresh_node(self) -> None:
        """Redraw from the app's latest round."""
        node = self.dashboard.model.node(self.node_name)
        if node is None:
            return
        self.query_one("#vitals", Static).update(vitals_text(node, self.dashboard.now()))
        history = self.dashboard.model.histories.get(self.node_name, NodeHistory())
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

    def action_log(self) -> None:
        """Tail the log of the job under the cursor."""
        table = self.query_one("#jobs", DataTable)
        if table.row_count == 0:
            self.notify("no jobs on this node", severity="warning")
            return
        job = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.query_one("#log", RichLog).border_title = f"{job}: last lines of its logs"
        self._load_log(job)

    @work(thread=True, exclusive=True, group="log")
    def _load_log(self, job: str) -> None:
        try:
            lines = self.dashboard.source.read_log(self.node_name, job, 200)
        except Exception as exc:  # an unreachable node: say so in the log pane
            lines = [f"cannot read the log: {exc}"]
        self.app.call_from_thread(self._show_log, lines)

    def _show_log(self, lines: list[str]) -> None:
        log = self.query_one("#log", RichLog)
        log.clear()
        for line in lines or ["(empty)"]:
            log.write(line)


class DeployScreen(Screen[None]):
    """A deploy: the plan (diff), a question, then live per-node progress; `c` cancels at a safe point."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Deploy"),
        Binding("n", "decline", "Don't"),
        Binding("c", "cancel", "Cancel deploy"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, deployer: Deployer, auto_confirm: bool = False) -> None:
        super().__init__()
        self.deployer = deployer
        self.auto_confirm = auto_confirm
        self.cancelled = threading.Event()
        self._answer = threading.Event()
        self._confirmed = False
        self.asking = False
        self.outcome: Outcome | None = None
        self._rows: dict[str, list[str]] = {}

    def compose(self) -> ComposeResult:
        yield Static(f"{self.deployer.title}: planning ...", id="deploy-status")
        yield RichLog(id="plan", wrap=False, markup=False, highlight=False, max_lines=5000)
        yield DataTable(id="progress", cursor_type="none")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#plan", RichLog).border_title = "plan"
        self._columns = self.query_one("#progress", DataTable).add_columns("node", "status", "tasks ok", "last task")
        self._run()

    @work(thread=True, exclusive=True, group="deploy")
    def _run(self) -> None:
        outcome = self.deployer.run(self._confirm, self._say, self._on_event, self.cancelled)
        self.app.call_from_thread(self._finished, outcome)

    # --- called from the worker thread
    def _confirm(self, lines: list[str]) -> bool:
        self.app.call_from_thread(self._ask, lines)
        while not self._answer.wait(0.2):
            if self.cancelled.is_set():
                return False
        return self._confirmed

    def _say(self, line: str) -> None:
        self.app.call_from_thread(self.query_one("#plan", RichLog).write, line)

    def _on_event(self, event: dict[str, Any]) -> None:
        self.app.call_from_thread(self._progress, dict(event))

    # --- UI thread
    def _ask(self, lines: list[str]) -> None:
        log = self.query_one("#plan", RichLog)
        for line in lines:
            log.write(line)
        if self.auto_confirm:
            self._say_status("deploying the plan above ...")
            self._confirmed = True
            self._answer.set()
            return
        self.asking = True
        self._say_status("deploy this plan? y: deploy  n: don't")

    def _say_status(self, text: str) -> None:
        self.query_one("#deploy-status", Static).update(f"{self.deployer.title}: {text}")

    def _progress(self, event: dict[str, Any]) -> None:
        host = event.get("host")
        if not host:
            return
        table = self.query_one("#progress", DataTable)
        row = self._rows.get(host)
        if row is None:
            row = self._rows[host] = [host, "running", "0", ""]
            table.add_row(*row, key=host)
        kind = str(event.get("event", ""))
        if kind == "runner_on_ok":
            row[2] = str(int(row[2]) + 1)
        elif kind == "runner_on_failed" and not event.get("ignored"):
            row[1] = "failed"
        elif kind == "runner_on_unreachable":
            row[1] = "unreachable"
        row[3] = str(event.get("task") or row[3])[:60]
        for column, value in zip(self._columns, row, strict=True):
            table.update_cell(host, column, value)

    def _finished(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.asking = False
        table = self.query_one("#progress", DataTable)
        for host, row in self._rows.items():
            if row[1] == "running":
                row[1] = "done" if outcome.exit_code == 0 else "stopped"
                table.update_cell(host, self._columns[1], row[1])
        self._say_status(f"{'done' if outcome.exit_code == 0 else 'ended'} (exit {outcome.exit_code}): "
                         f"{outcome.message.splitlines()[0] if outcome.message else ''}  esc: back")  # fmt: skip
        self.query_one("#plan", RichLog).write(outcome.message)
        from tui.app import DashboardApp

        if isinstance(self.app, DashboardApp):
            self.app.deploy_finished(self.deployer.title, outcome)

    def on_unmount(self) -> None:
        # the app is closing with a deploy waiting or running: stop it at a safe point, free the worker
        if self.outcome is None:
            self.cancelled.set()
            self._answer.set()

    def action_confirm(self) -> None:
        """Answer yes to the plan."""
        if self.asking:
            self.asking, self._confirmed = False, True
            self._say_status("deploying ... (c: cancel at a safe point)")
            self._answer.set()

    def action_decline(self) -> None:
        """Answer no to the plan."""
        if self.asking:
            self.asking, self._confirmed = False, False
            self._answer.set()

    def action_cancel(self) -> None:
        """Stop the running deploy at a safe point (the running batch ends; nodes stay on one version)."""
        if self.outcome is None and not self.cancelled.is_set():
            self.cancelled.set()
            self._answer.set()
            self._say_status("cancelling at a safe point ...")

    def action_back(self) -> None:
        """Back to the dashboard (asking first while a deploy runs)."""
        if self.outcome is None and not self.asking:
            self.notify("a deploy is running: c cancels it", severity="warning")
            return
        self.action_decline()
        self.app.pop_screen()


HELP = """picf dashboard

  enter   open the node under the cursor      esc   back
  /       filter nodes (esc clears)           s     sort by the next column (S: reverse)
  d       deploy (plan, confirm, progress)    r     poll now
  l       log tail of a job (node screen)     c     cancel a running deploy
  p       patch and redeploy (demo)           ?     this help
  ctrl+p  command palette                     q     quit

Crash loops, failing jobs, unreachable nodes and power/heat warnings are listed on top.
Rows of unreachable nodes are dimmed, with when they last answered."""


class HelpScreen(ModalScreen[None]):
    """The keys."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        yield Static(HELP, id="help")
