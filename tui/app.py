"""The picf dashboard: the cluster at a glance, crash loops first (Textual).

The app owns polling: a worker thread asks the source and posts `PollDone` (or `PollFailed`); the app takes
the round into the model on the UI thread and tells the screens showing it to redraw. When a timed round
ends, a timer is armed for the next one (`interval` seconds after it began); no thread sleeps. Screens own their
widgets and get what they share (`tui.context.Dashboard`) when they are made; none imports the app."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from picf.health.rounds import wait_before_next
from picf.models.health import ClusterHealth
from tui.context import Dashboard
from tui.deploy_screen import DeployScreen
from tui.deploying import Deployer
from tui.help_screen import HelpScreen, help_text
from tui.main_screen import MainScreen
from tui.messages import PollDone, PollFailed
from tui.model import DashboardModel
from tui.node_screen import NodeScreen
from tui.operating import Operator
from tui.source import HealthSource


class DashboardApp(App[int]):
    """`picf dashboard`: polls in a worker thread, never blocks the UI; a dead node never freezes a screen."""

    TITLE = "picf"
    CSS_PATH = "dashboard.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("r", "refresh_now", "Poll now"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        source: HealthSource,
        *,
        interval: float = 1.0,
        deployer: Deployer | None = None,
        fixer: Deployer | None = None,
        clock: Callable[[], float] = time.time,
        poll: bool = True,
        welcome: str | None = None,
        operator: Operator | None = None,
    ) -> None:
        super().__init__()
        self.dashboard = Dashboard(source, deployer, fixer, clock, operator=operator)
        self.interval = interval
        self.polling = poll
        self.main = MainScreen(self.dashboard, welcome)
        self.rounds = 0
        self._round_started = 0.0  # when the timed round began (time.monotonic()), for the next one's timer

    @property
    def model(self) -> DashboardModel:
        """The model of the latest rounds."""
        return self.dashboard.model

    def get_default_screen(self) -> Screen[object]:
        return self.main  # type: ignore[return-value]  # Screen's result type is invariant; the main one has none

    def on_mount(self) -> None:
        if self.polling:
            self._next_round()

    def _next_round(self) -> None:
        """A timed round; when it ends, `_round_ended` arms the timer for the next."""
        self._round_started = time.monotonic()
        self._timed_round()

    @on(Worker.StateChanged)
    def _round_ended(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "poll" or event.state is not WorkerState.SUCCESS or not self.is_running:
            return
        wait = wait_before_next(self._round_started, self.interval)
        if wait > 0:
            self.set_timer(wait, self._next_round)
        else:  # a round slower than the interval: the next at once (a Textual timer cannot wait 0 s)
            self.call_later(self._next_round)

    # --- polling (worker threads: they only post messages; the source runs one round at a time)
    def _poll_once(self) -> None:
        try:
            health = self.dashboard.source.poll(wait_s=self.interval)
        except Exception as exc:  # keep the dashboard alive; say what broke
            self.post_message(PollFailed(str(exc)))
            return
        self.post_message(PollDone(health))

    @work(thread=True, exclusive=True, group="poll")
    def _timed_round(self) -> None:
        self._poll_once()

    @work(thread=True, exclusive=True, group="poll-once")
    def action_refresh_now(self) -> None:
        """Poll once now (a round already running is waited for, then this one runs)."""
        self._poll_once()

    @on(PollDone)
    def _poll_done(self, message: PollDone) -> None:
        if self.is_running:  # a round that lands while the app closes has no screen left to show it on
            self.show(message.health)

    @on(PollFailed)
    def _poll_failed(self, message: PollFailed) -> None:
        self.notify(f"poll failed: {message.error}", severity="error")

    # --- UI thread
    def show(self, health: ClusterHealth) -> None:
        """Take a round: the main view redraws (only cells that changed), and the node screen if open."""
        self.rounds += 1
        self.dashboard.model.update(health)
        self.main.render_all()
        if isinstance(self.screen, NodeScreen):
            self.screen.refresh_node()

    def action_help(self) -> None:
        """Show the keys."""
        sections = [("everywhere", self.BINDINGS), ("main view", MainScreen.BINDINGS),
                    ("node", NodeScreen.BINDINGS), ("deploy", DeployScreen.BINDINGS)]  # fmt: skip
        self.push_screen(HelpScreen(help_text(sections)))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette: the main actions, and every node by name."""
        yield from super().get_system_commands(screen)
        main = self.main
        yield SystemCommand("Poll now", "Ask every node now", self.action_refresh_now)
        yield SystemCommand("Filter nodes", "Show only matching nodes", main.action_filter)
        yield SystemCommand("Sort by next column", "Cycle the nodes table's sort", main.action_sort)
        if self.dashboard.deployer is not None:
            yield SystemCommand("Deploy", "Plan, confirm and roll out the manifest", main.action_deploy)
        if self.dashboard.fixer is not None:
            yield SystemCommand("Patch and redeploy", "Build with the ARM patches and deploy", main.action_fix)
        for name in main.node_order:
            yield SystemCommand(f"Open node {name}", "Vitals, jobs and logs", lambda n=name: main.open_node(n))

    def on_unmount(self) -> None:
        self.workers.cancel_all()
        self.dashboard.source.close()
