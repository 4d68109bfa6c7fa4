"""Snapshots (pytest-textual-snapshot) of the main screen, a node screen, the alerts panel and the deploy
screen at 120x40, on deterministic data. Update after an intended change: `pytest tests/tui --snapshot-update`."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tests.tui.scripted import ScriptedDeployer
from tests.tui.synthetic import SyntheticSource
from tui.app import DashboardApp
from tui.deploy_screen import DeployScreen

SIZE = (120, 40)


def make_app(deployer: ScriptedDeployer | None = None) -> tuple[DashboardApp, SyntheticSource]:
    source = SyntheticSource(6)
    return DashboardApp(source, clock=source.now, poll=False, deployer=deployer), source


async def fed(pilot: Pilot[Any], source: SyntheticSource, rounds: int = 8) -> None:
    app = pilot.app
    assert isinstance(app, DashboardApp)
    for _ in range(rounds):
        app.show(source.poll())
    await pilot.pause()


def test_main_screen(snap_compare: Any) -> None:
    app, source = make_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await fed(pilot, source)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_alerts_panel_with_a_filter_on_the_crash_loop(snap_compare: Any) -> None:
    app, source = make_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await fed(pilot, source)
        await pilot.press("slash", *"crash", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_node_screen(snap_compare: Any) -> None:
    app, source = make_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await fed(pilot, source, rounds=30)
        await pilot.press(*["down"] * 1, "enter")  # pi-1, the crash loop (second row by state)
        await pilot.press("l")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_deploy_screen_asking(snap_compare: Any) -> None:
    deployer = ScriptedDeployer()
    app, source = make_app(deployer)

    async def run_before(pilot: Pilot[Any]) -> None:
        await fed(pilot, source)
        await pilot.press("d")
        for _ in range(40):
            await pilot.pause(0.05)
            if isinstance(pilot.app.screen, DeployScreen) and pilot.app.screen.asking:
                break

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_deploy_screen_done(snap_compare: Any) -> None:
    deployer = ScriptedDeployer()
    deployer.step.set()
    app, source = make_app(deployer)

    async def run_before(pilot: Pilot[Any]) -> None:
        await fed(pilot, source)
        await pilot.press("d")
        await pilot.pause(0.3)
        await pilot.press("y")
        for _ in range(60):
            await pilot.pause(0.05)
            screen = pilot.app.screen
            if isinstance(screen, DeployScreen) and screen.outcome is not None:
                break
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
