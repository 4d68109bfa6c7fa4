"""Every key and screen of the dashboard, driven with Textual's Pilot on deterministic data."""

from __future__ import annotations

import asyncio
import threading

from textual.widgets import DataTable, Input, RichLog, Sparkline, Static

from picf.models.health import ClusterHealth, JobState
from tests.tui.scripted import PLAN, ScriptedDeployer, ScriptedOperator
from tests.tui.synthetic import SyntheticSource
from tui.app import DashboardApp
from tui.confirm_screen import ConfirmScreen
from tui.deploy_screen import DeployScreen
from tui.help_screen import HelpScreen
from tui.node_screen import NodeScreen

SIZE = (120, 40)


def app_with(nodes: int = 6, **kwargs: object) -> tuple[DashboardApp, SyntheticSource]:
    source = SyntheticSource(nodes)
    app = DashboardApp(source, clock=source.now, poll=False, **kwargs)  # type: ignore[arg-type]
    return app, source


async def feed(app: DashboardApp, source: SyntheticSource, rounds: int = 3) -> None:
    for _ in range(rounds):
        app.show(source.poll())


def table_names(app: DashboardApp) -> list[str]:
    table = app.query_one("#nodes", DataTable)
    return [str(table.coordinate_to_cell_key((r, 0)).row_key.value) for r in range(table.row_count)]


async def test_main_screen_shows_header_alerts_and_nodes_crash_loops_first() -> None:
    app, source = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, source)
        await pilot.pause()
        header = str(app.query_one("#summary", Static).render())
        assert "nodes 5/6 up" in header and "1 crash loop" in header and "hottest pi-2 84.5C" in header
        assert "throttled 2 │ under-voltage 1 │ 08:00:03Z" in header
        alerts = str(app.query_one("#alerts", Static).render()).splitlines()
        assert alerts[0].startswith("CRASH LOOP pi-1/logfwd") and "patch align64" in " ".join(alerts[:2])
        assert table_names(app)[:2] == ["pi-6", "pi-1"]  # unreachable, then the crash loop: the default sort
        table = app.query_one("#nodes", DataTable)
        assert (
            "unreachable, seen" in str(table.get_cell("pi-6", "state"))
            and table.get_cell("pi-6", "state").style == "dim"
        )


async def test_alerts_panel_hides_when_all_is_well() -> None:
    app, source = app_with(nodes=1)
    source.fixed = True
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, source)
        await pilot.pause()
        assert app.query_one("#alerts").has_class("hidden")


async def test_filter_with_slash_and_clear_with_escape() -> None:
    app, source = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, source)
        await pilot.press("slash")
        assert app.query_one("#filter", Input).has_focus
        await pilot.press(*"arm64")
        await pilot.pause()
        assert sorted(table_names(app)) == ["pi-2", "pi-4", "pi-6"]
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.query_one("#nodes", DataTable).has_focus and len(table_names(app)) == 3
        assert "filter: 'arm64' (3/6)" in str(app.query_one("#nodes", DataTable).border_title)
        await pilot.press("escape")
        await pilot.pause()
        assert len(table_names(app)) == 6


async def test_sort_cycles_and_reverses() -> None:
    app, source = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, source)
        await pilot.press("s")  # state -> temp: hottest first
        await pilot.pause()
        assert app.model.sort_key == "temp" and table_names(app)[0] == "pi-2"
        await pilot.press("S")
        await pilot.pause()
        assert table_names(app)[0] == "pi-6"  # unknown temperature last, first when reversed
        for _ in range(5):
            await pilot.press("s")
        assert app.model.sort_key == "name"


async def test_enter_opens_the_node_screen_with_sparklines_jobs_and_log() -> None:
    app, source = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, source, rounds=5)
        await pilot.press("s", "s", "s", "s", "s", "s")  # sort by name: pi-1 first
        await pilot.press(*["up"] * 5, "enter")  # the cursor stays on its node (pi-6) across sorts
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NodeScreen) and screen.node_name == "pi-1"
        assert len(screen.query_one("#temp", Sparkline).data or []) == 5
        assert "crash-loop" in str(screen.query_one("#jobs", DataTable).get_row_at(0)[1])
        await pilot.press("l")
        await pilot.pause(0.3)
        log = screen.query_one("#log", RichLog)
        assert any("panic: unaligned 64-bit atomic operation" in line.text for line in log.lines)
        app.show(source.poll())  # a new round reaches the open node screen
        await pilot.pause()
        assert len(screen.query_one("#temp", Sparkline).data or []) == 6
        await pilot.press("escape")
        assert not isinstance(app.screen, NodeScreen)


async def test_help_opens_and_closes() -> None:
    app, _ = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_deploy_shows_the_plan_asks_then_runs_with_progress_and_reports() -> None:
    deployer = ScriptedDeployer()
    deployer.step.set()
    app, source = app_with(deployer=deployer)
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, source)
        await pilot.press("d")
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, DeployScreen) and screen.asking
        assert [line.text for line in screen.query_one("#plan", RichLog).lines][-len(PLAN) :] == PLAN
        await pilot.press("y")
        for _ in range(50):
            await pilot.pause(0.05)
            if screen.outcome is not None:
                break
        assert screen.outcome is not None and screen.outcome.exit_code == 0
        progress = screen.query_one("#progress", DataTable)
        assert progress.row_count == 2 and str(progress.get_row("pi-1")[2]) == "3"
        await pilot.press("escape")
        assert "DEPLOY ok: deployed to 2 node(s)" in str(app.query_one("#alerts", Static).render())


async def test_deploy_declined_with_n_changes_nothing() -> None:
    deployer = ScriptedDeployer()
    app, _ = app_with(deployer=deployer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await pilot.pause(0.3)
        await pilot.press("n")
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, DeployScreen) and screen.outcome is not None
        assert screen.outcome.message == "not deployed"


async def test_c_cancels_a_running_deploy_and_escape_waits_for_it() -> None:
    deployer = ScriptedDeployer()  # pauses after each task until `step` is set
    app, _ = app_with(deployer=deployer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await pilot.pause(0.3)
        await pilot.press("y")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        await pilot.press("escape")  # refused while it runs
        assert app.screen is screen
        await pilot.press("c")
        deployer.step.set()
        for _ in range(50):
            await pilot.pause(0.05)
            if screen.outcome is not None:
                break
        assert screen.outcome is not None and screen.outcome.message.startswith("cancelled")


async def test_p_patches_and_redeploys_without_asking_and_the_loop_clears() -> None:
    source = SyntheticSource(6)

    class Fixer(ScriptedDeployer):
        def plan(self, say):  # type: ignore[no-untyped-def]
            source.fixed = True
            return super().plan(say)

    fixer = Fixer(title="patch and redeploy")
    fixer.step.set()
    app = DashboardApp(source, clock=source.now, poll=False, fixer=fixer)
    async with app.run_test(size=SIZE) as pilot:
        app.show(source.poll())
        await pilot.press("p")
        for _ in range(50):
            await pilot.pause(0.05)
            if isinstance(app.screen, DeployScreen) and app.screen.outcome is not None:
                break
        assert fixer.asked and isinstance(app.screen, DeployScreen) and app.screen.outcome.exit_code == 0  # type: ignore[union-attr]
        await pilot.press("escape")
        app.show(source.poll())
        await pilot.pause()
        assert "CRASH LOOP" not in str(app.query_one("#alerts", Static).render())
        assert "PATCH AND REDEPLOY ok" in str(app.query_one("#alerts", Static).render())


async def test_keys_without_a_target_are_not_offered() -> None:
    app, _ = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", "p")
        await pilot.pause()
        assert not isinstance(app.screen, DeployScreen)
        assert app.screen.check_action("deploy", ()) is False and app.screen.check_action("fix", ()) is False


async def test_command_palette_offers_the_main_actions_and_nodes() -> None:
    app, source = app_with(deployer=ScriptedDeployer())
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, source)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Poll now", "Filter nodes", "Deploy", "Open node pi-1"} <= set(titles)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"


async def test_q_quits() -> None:
    app, _ = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
    assert app.return_code == 0 or app.return_code is None


class BlockedSource(SyntheticSource):
    """A cluster whose poll does not return until the test says so (a dead node's timeout, held open)."""

    def __init__(self, nodes: int) -> None:
        super().__init__(nodes)
        self.release = threading.Event()
        self.entered = threading.Event()
        self.polls = 0

    def poll(self, wait_s: float | None = None) -> ClusterHealth:
        self.polls += 1
        self.entered.set()
        assert self.release.wait(30), "the test never released the poll"
        return super().poll(wait_s)


async def test_keys_work_while_a_poll_is_stuck() -> None:
    source = BlockedSource(6)
    app = DashboardApp(source, clock=source.now, interval=0.5)
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert await asyncio.to_thread(source.entered.wait, 10)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)  # answered while the poll thread is still blocked
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
            assert not source.release.is_set() and app.rounds == 0
    finally:
        source.release.set()


async def test_poll_now_while_a_poll_runs_waits_its_turn_and_shows_the_round() -> None:
    source = BlockedSource(6)
    app = DashboardApp(source, clock=source.now, interval=0.5)
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert await asyncio.to_thread(source.entered.wait, 10)
            await pilot.press("r")
            await pilot.press("r")
            await pilot.pause()
            assert app.is_running and app.rounds == 0
            source.release.set()
            for _ in range(100):
                if app.rounds:
                    break
                await pilot.pause(0.05)
            assert app.rounds >= 1 and app.is_running
    finally:
        source.release.set()


async def test_rounds_come_on_a_timer_and_no_thread_waits_between_them() -> None:
    for interval in (0.0, 0.05):  # the next round at once, or on a timer
        source = SyntheticSource(3)
        app = DashboardApp(source, clock=source.now, interval=interval)
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(200):
                if app.rounds >= 3:
                    break
                await pilot.pause(0.05)
            assert app.rounds >= 3, interval
    slow = DashboardApp(SyntheticSource(3), interval=60)
    async with slow.run_test(size=SIZE) as pilot:

        def waiting() -> list[object]:
            return [w for w in slow.workers if w.group == "poll" and not w.is_finished]

        for _ in range(100):
            if slow.rounds and not waiting():
                break
            await pilot.pause(0.05)
        assert slow.rounds == 1 and waiting() == []  # the next round is a timer's, not a sleeping thread's


class FailingSource(SyntheticSource):
    """A cluster whose poll raises (a bug or a broken inventory under the dashboard)."""

    def poll(self, wait_s: float | None = None) -> ClusterHealth:
        raise RuntimeError("the probe fell over")


async def test_poll_now_when_the_poll_raises_keeps_the_dashboard_up_and_says_why() -> None:
    source = FailingSource(3)
    app = DashboardApp(source, clock=source.now, poll=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        for _ in range(100):
            if app._notifications:
                break
            await pilot.pause(0.05)
        assert app.is_running
        assert any("the probe fell over" in n.message for n in app._notifications)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_day2_keys_ask_first_then_act_on_the_job_or_node_under_the_cursor() -> None:
    operator = ScriptedOperator()
    app, source = app_with(operator=operator)
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, source)
        await pilot.press("s", "s", "s", "s", "s", "s", *["up"] * 5)  # sort by name: pi-1 first, cursor on it
        await pilot.press("R")  # restart every job of pi-1: asked first
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "restart every job on pi-1?" in app.screen.question
        await pilot.press("n")
        await pilot.pause(0.2)
        assert operator.asked == []  # declined: nothing done
        await pilot.press("enter")  # pi-1's node screen; its first job row is logfwd, crash-looping
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "stop pi-1/logfwd?" in app.screen.question
        await pilot.press("y")
        await pilot.pause(0.3)
        assert operator.asked == [("stop", "pi-1", "logfwd")]
        assert "STOP PI-1/LOGFWD ok" in " ".join(a.text for a in app.model.alerts())
        await pilot.press("R", "y")
        await pilot.pause(0.3)
        assert operator.asked[-1] == ("restart", "pi-1", "logfwd")
        await pilot.press("l")
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, NodeScreen)
        assert operator.asked[-1] == ("follow", "pi-1", "logfwd")
        log = screen.query_one("#log", RichLog)
        assert [line.text for line in log.lines][-2:] == list(operator.lines)
        await pilot.press("escape")


async def test_t_starts_a_stopped_job_and_the_shell_needs_a_terminal_that_can_suspend() -> None:
    operator = ScriptedOperator()
    app, source = app_with(operator=operator)
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, source)
        health = source.poll()  # pi-2's first job stopped (with picf stop)
        nodes = list(health.nodes)
        pi2 = next(i for i, n in enumerate(nodes) if n.name == "pi-2")
        stopped = nodes[pi2].jobs[0].model_copy(update={"state": JobState.STOPPED})
        nodes[pi2] = nodes[pi2].model_copy(update={"jobs": (stopped, *nodes[pi2].jobs[1:])})
        app.show(health.model_copy(update={"nodes": tuple(nodes)}))
        app.push_screen(NodeScreen(app.dashboard, "pi-2"))
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and f"start pi-2/{stopped.job}?" in app.screen.question
        await pilot.press("y")
        await pilot.pause(0.3)
        assert operator.asked[-1] == ("start", "pi-2", stopped.job)
        await pilot.press("x")  # the test harness cannot suspend: said, and the dashboard stays
        await pilot.pause()
        assert isinstance(app.screen, NodeScreen)


async def test_day2_keys_without_a_cluster_say_so() -> None:
    app, source = app_with()
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, source)
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
