"""The dashboard's main view: a header line, the alerts panel, the nodes table and its filter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from picf.deploy.ended import DeployEnded
from picf.health import view
from picf.models.health import THROTTLE_TEMP_C, ClusterHealth
from tui.context import Dashboard
from tui.deploy_screen import DeployScreen
from tui.messages import OperationDone
from tui.model import COLUMNS, Alert, Severity
from tui.node_screen import NodeScreen
from tui.verbs import ask_and_do, open_shell, operation_done

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


class MainScreen(Screen[None]):
    """The cluster at a glance, crash loops first; enter opens a node, d deploys, p patches and redeploys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_node", "Node"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("S", "sort_reverse", "Reverse sort", show=False),
        Binding("d", "deploy", "Deploy"),
        Binding("p", "fix", "Patch+redeploy"),
        Binding("l", "follow_logs", "Follow node's logs"),
        Binding("R", "restart", "Restart node's jobs"),
        Binding("x", "shell", "Shell"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self, dashboard: Dashboard, welcome: str | None = None) -> None:
        super().__init__()
        self.dashboard = dashboard
        self.welcome = welcome
        self._shown: dict[str, tuple[tuple[str, ...], bool]] = {}
        self._order: list[str] = []
        self._ready = False  # columns added (a round can arrive before the screen is mounted)

    def compose(self) -> ComposeResult:
        yield Static(summary_text(None, self.dashboard.now()), id="summary")
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
        self._ready = True
        if self.dashboard.model.health is not None:
            self.render_all()
        if self.welcome:
            self.notify(self.welcome, timeout=20)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide keys that have no target here (no manifest to deploy, no demo fix)."""
        if action == "deploy":
            return self.dashboard.deployer is not None
        if action == "fix":
            return self.dashboard.fixer is not None
        return True

    @property
    def node_order(self) -> list[str]:
        """The nodes as the table shows them."""
        return list(self._order)

    def render_all(self) -> None:
        """Header, alerts and table from the dashboard's latest round."""
        if not self._ready:
            return
        model = self.dashboard.model
        self.query_one("#summary", Static).update(summary_text(model.health, self.dashboard.now()))
        alerts = model.alerts()
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
        rows = self.dashboard.model.rows(self.dashboard.now())
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
        model = self.dashboard.model
        shown, total = len(self._order), len(model.health.nodes) if model.health else 0
        order = f"sorted by {model.sort_key}{' (reversed)' if model.sort_reverse else ''}"
        filtered = f" │ filter: {model.filter_text!r} ({shown}/{total})" if model.filter_text else ""
        return f"nodes │ {order}{filtered}"

    def _selected(self) -> str | None:
        table = self.query_one("#nodes", DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    # --- actions
    def open_node(self, name: str) -> None:
        """Open the node screen of `name`."""
        self.app.push_screen(NodeScreen(self.dashboard, name))

    def action_open_node(self) -> None:
        """Open the node under the cursor."""
        name = self._selected()
        if name is not None:
            self.open_node(name)

    @on(DataTable.RowSelected, "#nodes")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_node(str(event.row_key.value))

    def action_follow_logs(self) -> None:
        """Open the node under the cursor, following every job's logs."""
        name = self._selected()
        if name is not None:
            self.app.push_screen(NodeScreen(self.dashboard, name, follow_all=True))

    def action_restart(self) -> None:
        """Restart every job of the node under the cursor (asks first)."""
        name = self._selected()
        if name is not None:
            ask_and_do(self, self.dashboard, "restart", name, None)

    def action_shell(self) -> None:
        """A shell on the node under the cursor (the dashboard comes back when it ends)."""
        name = self._selected()
        if name is not None:
            open_shell(self, self.dashboard, name)

    @on(OperationDone)
    def _operation_done(self, message: OperationDone) -> None:
        operation_done(self, self.dashboard, message)
        self.render_all()

    def action_filter(self) -> None:
        """Show the filter box."""
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.dashboard.model.filter_text = event.value
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
        self.dashboard.model.filter_text = ""
        self._render_table()
        self.query_one("#nodes", DataTable).focus()

    def action_sort(self) -> None:
        """Sort by the next column."""
        self.dashboard.model.next_sort()
        self._render_table()

    def action_sort_reverse(self) -> None:
        """Reverse the sort."""
        self.dashboard.model.sort_reverse = not self.dashboard.model.sort_reverse
        self._render_table()

    def action_deploy(self) -> None:
        """Plan, confirm and run a deploy."""
        deployer = self.dashboard.deployer
        if deployer is not None:
            self.app.push_screen(DeployScreen(deployer), lambda o: self.deploy_finished(deployer.title, o))

    def action_fix(self) -> None:
        """The demo's one key: build with the ARM patches, switch the manifest to the patched build, deploy."""
        fixer = self.dashboard.fixer
        if fixer is not None:
            self.app.push_screen(DeployScreen(fixer, auto_confirm=True), lambda o: self.deploy_finished(fixer.title, o))

    def deploy_finished(self, title: str, outcome: DeployEnded | None) -> None:
        """A deploy's result lands in the alerts panel; polling shows its effect."""
        if outcome is None:
            return
        severity = Severity.INFO if outcome.exit_code == 0 else Severity.CRITICAL
        first = outcome.message.splitlines()[0] if outcome.message else ""
        self.dashboard.model.add_event(
            Alert(severity, "", f"{title.upper()} {'ok' if outcome.exit_code == 0 else 'failed'}: {first}")
        )
        self.render_all()
