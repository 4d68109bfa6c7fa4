"""A deploy: the plan (diff) and its canaries, a question, then live per-node progress; `c` cancels.

Two workers, one per step: `plan` decides (changes nothing), `execute` does what was confirmed. Each posts
messages back; the question is answered on the UI thread, so no thread waits for a key. The screen returns
the deploy's DeployEnded with `dismiss()` (None when it never ran)."""

from __future__ import annotations

import threading
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, RichLog, Static

from picf.deploy.ended import DeployEnded
from picf.models.deploy_event import AnsibleEvent, DeployEvent
from tui.deploying import Deployer, PlannedDeploy
from tui.messages import DeployDone, DeployPlanned, DeployProgressed, DeploySaid

PROGRESS_COLUMNS = (("node", 16), ("status", 11), ("tasks ok", 8), ("last task", 60))


class DeployScreen(Screen[DeployEnded | None]):
    """A deploy: plan, question, progress, result."""

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
        self.planned: PlannedDeploy | None = None
        self.asking = False
        self.running = False
        self.outcome: DeployEnded | None = None
        self._rows: dict[str, list[str]] = {}

    def compose(self) -> ComposeResult:
        yield Static(f"{self.deployer.title}: planning ...", id="deploy-status")
        yield RichLog(id="plan", wrap=False, markup=False, highlight=False, max_lines=5000)
        yield DataTable(id="progress", cursor_type="none")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#plan", RichLog).border_title = "plan"
        # Fixed widths: a column sized from its cells would depend on how far the deploy got when it was laid out.
        table = self.query_one("#progress", DataTable)
        self._columns = [table.add_column(label, width=width) for label, width in PROGRESS_COLUMNS]
        self._plan()

    # --- workers (threads): they only post messages
    @work(thread=True, exclusive=True, group="deploy-plan")
    def _plan(self) -> None:
        planned = self.deployer.plan(self._say)
        if self.cancelled.is_set():  # the screen closed while planning: nobody will confirm this plan
            self.deployer.discard(planned)
            return
        self.post_message(DeployPlanned(planned))

    @work(thread=True, exclusive=True, group="deploy-run")
    def _execute(self, planned: PlannedDeploy) -> None:
        outcome = self.deployer.execute(planned, self._say, self._event, self.cancelled)
        self.post_message(DeployDone(outcome))

    def _say(self, line: str) -> None:
        self.post_message(DeploySaid(line))

    def _event(self, event: DeployEvent) -> None:
        self.post_message(DeployProgressed(event))

    # --- messages (UI thread)
    @on(DeploySaid)
    def _said(self, message: DeploySaid) -> None:
        self.query_one("#plan", RichLog).write(message.line)

    @on(DeployPlanned)
    def _planned(self, message: DeployPlanned) -> None:
        planned = self.planned = message.planned
        log = self.query_one("#plan", RichLog)
        for line in planned.lines:
            log.write(line)
        if planned.outcome is not None:
            self._finish(planned.outcome)
        elif self.auto_confirm:
            self._start(planned, "deploying the plan above ...")
        else:
            self.asking = True
            self._say_status("deploy this plan? y: deploy  n: don't")

    @on(DeployProgressed)
    def _progress(self, message: DeployProgressed) -> None:
        event = message.event
        if not isinstance(event, AnsibleEvent) or not event.host:
            return
        host = event.host
        table = self.query_one("#progress", DataTable)
        row = self._rows.get(host)
        if row is None:
            row = self._rows[host] = [host, "running", "0", ""]
            table.add_row(*row, key=host)
        if event.event == "runner_on_ok":
            row[2] = str(int(row[2]) + 1)
        elif event.event == "runner_on_failed" and not event.ignored:
            row[1] = "failed"
        elif event.event == "runner_on_unreachable":
            row[1] = "unreachable"
        row[3] = (event.task or row[3])[:60]
        for column, value in zip(self._columns, row, strict=True):
            table.update_cell(host, column, value)

    @on(DeployDone)
    def _done(self, message: DeployDone) -> None:
        self.running = False
        self._finish(message.outcome)

    # --- helpers
    def _start(self, planned: PlannedDeploy, status: str) -> None:
        self.asking, self.running = False, True
        self._say_status(status)
        self._execute(planned)

    def _say_status(self, text: str) -> None:
        self.query_one("#deploy-status", Static).update(f"{self.deployer.title}: {text}")

    def _finish(self, outcome: DeployEnded) -> None:
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

    def on_unmount(self) -> None:
        # The app is closing with a deploy planned or running: stop it at a safe point, free the plan.
        if self.outcome is None:
            self.cancelled.set()
            if self.planned is not None and not self.running:
                self.deployer.discard(self.planned)

    # --- keys
    def action_confirm(self) -> None:
        """Answer yes to the plan."""
        if self.asking and self.planned is not None:
            self._start(self.planned, "deploying ... (c: cancel at a safe point)")

    def action_decline(self) -> None:
        """Answer no to the plan."""
        if self.asking and self.planned is not None:
            self.deployer.discard(self.planned)
            self._finish(DeployEnded(1, "not deployed"))

    def action_cancel(self) -> None:
        """Stop the running deploy at a safe point (the running batch ends; nodes stay on one version)."""
        if self.running and not self.cancelled.is_set():
            self.cancelled.set()
            self._say_status("cancelling at a safe point ...")

    def action_back(self) -> None:
        """Back to the dashboard (not while a deploy runs: cancel it first)."""
        if self.running:
            self.notify("a deploy is running: c cancels it", severity="warning")
            return
        if self.outcome is None and not self.asking:
            self.notify("still planning: the plan changes nothing, wait for it", severity="warning")
            return
        self.action_decline()
        self.dismiss(self.outcome)
