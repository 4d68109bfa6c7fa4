"""The picf dashboard: the cluster at a glance, crash loops first (Textual)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import get_current_worker

from picf.health import view
from picf.models.health import THROTTLE_TEMP_C, ClusterHealth
from tui.deploying import Deployer, Outcome
from tui.model import COLUMNS, Alert, DashboardModel, Severity
from tui.screens import DeployScreen, HelpScreen, NodeScreen
from tui.source import HealthSource

_ALERT_STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "green"}


def summary_text(health: ClusterHealth | None, now: float) -> Text:
    """The header line: cluster, nodes up, jobs running, crash loops, hottest node, power/heat, last poll."""
    if health is None:
        return Text("picf: waiting for the first poll ...")
    s = view.summarize(health)
    text = Text()
    text.append(health.cluster, style="bold")
    text.append(f" │ nodes {s.nodes_up}/{s.nodes_total} up │ jobs {s.jobs_running}/{s.jobs_total} ok │ ")
    loops = f"{s.crash_loops} crash loop{'s' if s.crash_loops != 1 else ''}"
    text.append(loops, style="bold red" if s.crash_loops else "green")
    hottest = f"{s.hottest.name} {view.temperature(s.hottest)}" if s.hottest else "-"
    text.append(f" │ hottest {hottest} │ throttled {s.throttled} │ under-voltage {s.under_voltage} │ ")
    text.append(f"{datetime.fromtimestamp(health.at, UTC).strftime('%H:%M:%S')}Z")
    if now - health.at > 10:
        text.append(f" ({view.duration(now - health.at)} ago)", style="yellow")
    return text


def alerts_text(alerts: list[Alert], most: int = 8) -> Text:
    """The alerts panel: the first `most`, then how many more (most important first)."""
    text = Text()
    for i, alert in enumerate(alerts[:most]):
        if i:
            text.append("\n")
        text.append(alert.text, style=_ALERT_STYLE[alert.severity])
    if len(alerts) > most:
        text.append(f"\n... and {len(alerts) - most} more: `picf status` lists them all", style="dim")
    return text


class DashboardApp(App[int]):
    """`picf dashboard`: polls in a worker thread, never blocks the UI; a dead node never freezes a screen."""

    TITLE = "picf"
    CSS_PATH = "dashboard.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("enter", "open_node", "Node", show=True),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("S", "sort_reverse", "Reverse", show=False),
        Binding("d", "deploy", "Deploy"),
        Binding("p", "fix", "Patch+redeploy"),
        Binding("r", "refresh_now", "Poll now"),
        Binding("question_mark", "help", "Help"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
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
    ) -> None:
        super().__init__()
        self.welcome = welcome
        self.source = source
        self.interval = interval
        self.deployer = deployer
        self.fixer = fixer
        self.clock = clock
        self.polling = poll
        self.model = DashboardModel()
        self._shown: dict[str, tuple[tuple[str, ...], bool]] = {}
        self._order: list[str] = []
        self.rounds = 0

    def now(self) -> float:
        """The clock the dashboard shows times with."""
        return self.clock()

    def compose(self) -> ComposeResult:
        yield Static(summary_text(None, self.now()), id="summary")
        yield Static(id="alerts", classes="hidden")
        yield DataTable(id="nodes", cursor_type="row", zebra_stripes=True)
        yield Input(placeholder="filter: words in name, model, arch, roles, state or jobs (esc clears)", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#nodes", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        table.border_title = self._table_title()
        table.focus()
        if self.welcome:
            self.notify(self.welcome, timeout=20)
        if self.polling:
            self._poll_loop()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide keys that do nothing here (no deploy target, no demo fix)."""
        main_only = ("filter", "sort", "sort_reverse", "open_node", "clear_filter", "deploy", "fix")
        if action in main_only and len(self.screen_stack) > 1:  # the main screen's keys, not a node's or a deploy's
            return False
        if action == "deploy":
            return self.deployer is not None
        if action == "fix":
            return self.fixer is not None
        return True

    # --- polling (worker thread)
    @work(thread=True, exclusive=True, group="poll")
    def _poll_loop(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            started = time.monotonic()
            try:
                health = self.source.poll(wait_s=self.interval)
            except Exception as exc:  # keep the dashboard alive; say what broke
                self.call_from_thread(self.notify, f"poll failed: {exc}", severity="error")
                time.sleep(self.interval)
                continue
            self.call_from_thread(self.show, health)
            time.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    @work(thread=True, exclusive=True, group="poll-once")
    def action_refresh_now(self) -> None:
        """Poll once now (the source takes one round at a time: this waits for a round already running)."""
        try:
            health = self.source.poll(wait_s=self.interval)
        except Exception as exc:  # the key must never take the dashboard down
            self.call_from_thread(self.notify, f"poll failed: {exc}", severity="error")
            return
        self.call_from_thread(self.show, health)

    # --- UI thread
    def show(self, health: ClusterHealth) -> None:
        """Take a round: header, alerts, table (only cells that changed), and the node screen if open."""
        self.rounds += 1
        self.model.update(health)
        self._render_all()
        if isinstance(self.screen, NodeScreen):
            self.screen.refresh_node()

    def _render_all(self) -> None:
        self.query_one("#summary", Static).update(summary_text(self.model.health, self.now()))
        alerts = self.model.alerts()
        panel = self.query_one("#alerts", Static)
        panel.set_class(not alerts, "hidden")
        if alerts:
            panel.update(alerts_text(alerts))
            loops = sum(1 for a in alerts if a.text.startswith("CRASH LOOP"))
            panel.border_title = (
                f"alerts ({len(alerts)}{f', {loops} crash loop' + ('s' if loops != 1 else '') if loops else ''})"
            )
        self._render_table()

    def _render_table(self) -> None:
        table = self.query_one("#nodes", DataTable)
        rows = self.model.rows(self.now())
        order = [name for name, _, _ in rows]
        if order != self._order:  # membership or order changed: rebuild (cheap for a few hundred rows)
            selected = self._selected()
            table.clear()
            self._shown = {}
            for name, cells, dim in rows:
                table.add_row(*self._styled(cells, dim), key=name)
                self._shown[name] = (cells, dim)
            self._order = order
            if selected in order:
                table.move_cursor(row=order.index(selected))
        else:
            for name, cells, dim in rows:
                before = self._shown.get(name)
                if before == (cells, dim):
                    continue
                styled = self._styled(cells, dim)
                for i, column in enumerate(COLUMNS):
                    if before is None or before[0][i] != cells[i] or before[1] != dim:
                        table.update_cell(name, column, styled[i])
                self._shown[name] = (cells, dim)
        table.border_title = self._table_title()

    @staticmethod
    def _styled(cells: tuple[str, ...], dim: bool) -> list[Text]:
        out = []
        for column, cell in zip(COLUMNS, cells, strict=True):
            style = "dim" if dim else ""
            if not dim and column == "state" and cell != "up":
                style = "bold red"
            if not dim and column == "throttle" and cell not in ("ok", "-"):
                style = "yellow"
            if not dim and column == "temp" and cell.endswith("C"):
                temp = float(cell[:-1])
                style = "bold red" if temp >= THROTTLE_TEMP_C else "yellow" if temp >= view.WARM_TEMP_C else ""
            out.append(Text(cell, style=style))
        return out

    def _table_title(self) -> str:
        shown, total = len(self._order), len(self.model.health.nodes) if self.model.health else 0
        order = f"sorted by {self.model.sort_key}{' (reversed)' if self.model.sort_reverse else ''}"
        filtered = f" │ filter: {self.model.filter_text!r} ({shown}/{total})" if self.model.filter_text else ""
        return f"nodes │ {order}{filtered}"

    def _selected(self) -> str | None:
        table = self.query_one("#nodes", DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    # --- actions
    def action_open_node(self) -> None:
        """Open the node under the cursor."""
        name = self._selected()
        if name is not None:
            self.push_screen(NodeScreen(name))

    @on(DataTable.RowSelected, "#nodes")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.push_screen(NodeScreen(str(event.row_key.value)))

    def action_filter(self) -> None:
        """Show the filter box."""
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.model.filter_text = event.value
        self._render_table()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, _: Input.Submitted) -> None:
        self.query_one("#filter", Input).remove_class("visible")
        self.query_one("#nodes", DataTable).focus()

    def action_clear_filter(self) -> None:
        """Clear and hide the filter."""
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("visible")
        self.model.filter_text = ""
        self._render_table()
        self.query_one("#nodes", DataTable).focus()

    def action_sort(self) -> None:
        """Sort by the next column."""
        self.model.next_sort()
        self._render_table()

    def action_sort_reverse(self) -> None:
        """Reverse the sort."""
        self.model.sort_reverse = not self.model.sort_reverse
        self._render_table()

    def action_deploy(self) -> None:
        """Plan, confirm and run a deploy."""
        if self.deployer is not None:
            self.push_screen(DeployScreen(self.deployer))

    def action_fix(self) -> None:
        """The demo's one key: build with the ARM patches, switch the manifest to the patched build, deploy."""
        if self.fixer is not None:
            self.push_screen(DeployScreen(self.fixer, auto_confirm=True))

    def action_help(self) -> None:
        """Show the keys."""
        self.push_screen(HelpScreen())

    def deploy_finished(self, title: str, outcome: Outcome) -> None:
        """A deploy's result lands in the alerts panel; polling shows its effect."""
        severity = Severity.INFO if outcome.exit_code == 0 else Severity.CRITICAL
        first = outcome.message.splitlines()[0] if outcome.message else ""
        self.model.add_event(
            Alert(severity, "", f"{title.upper()} {'ok' if outcome.exit_code == 0 else 'failed'}: {first}")
        )
        self._render_all()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette: the main actions, and every node by name."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Poll now", "Ask every node now", self.action_refresh_now)
        yield SystemCommand("Filter nodes", "Show only matching nodes", self.action_filter)
        yield SystemCommand("Sort by next column", "Cycle the nodes table's sort", self.action_sort)
        if self.deployer is not None:
            yield SystemCommand("Deploy", "Plan, confirm and roll out the manifest", self.action_deploy)
        if self.fixer is not None:
            yield SystemCommand("Patch and redeploy", "Build with the ARM patches and deploy", self.action_fix)
        for name in self._order:
            yield SystemCommand(
                f"Open node {name}", "Vitals, jobs and logs", lambda n=name: self.push_screen(NodeScreen(n))
            )

    def on_unmount(self) -> None:
        self.workers.cancel_all()
        self.source.close()
