"""The order problems are listed in: `picf status` and the dashboard read the same list."""

from __future__ import annotations

import re

from rich.console import Console

from picf.cli.status import render
from picf.health.problems import ProblemKind, problems_of
from tests.tui.synthetic import SyntheticSource
from tui.model import alerts_of

PROBLEM_LINE = re.compile(r"^(CRASH LOOP|FAILING|UNREACHABLE|WARNING) ([\w-]+)[/:]", re.M)


def test_crash_loops_then_unreachable_nodes_then_warnings() -> None:
    health = SyntheticSource(6).poll()  # pi-1 crash-loops, pi-2 hot, pi-3 weak supply, pi-6 unreachable
    kinds = [(p.kind, p.node.name) for p in problems_of(health)]
    assert kinds[:2] == [(ProblemKind.CRASH_LOOP, "pi-1"), (ProblemKind.UNREACHABLE, "pi-6")]
    assert {kind for kind, _ in kinds[2:]} == {ProblemKind.WARNING}
    assert [name for _, name in kinds[2:]] == sorted(name for _, name in kinds[2:])


def test_status_lists_problems_in_the_dashboards_order() -> None:
    health = SyntheticSource(6).poll()
    console = Console(record=True, width=200, color_system=None)
    console.print(render(health))
    status = [m.groups() for m in PROBLEM_LINE.finditer(console.export_text())]
    assert [label for label, _ in status][:2] == ["CRASH LOOP", "UNREACHABLE"]
    assert [node for _, node in status] == [alert.node for alert in alerts_of(health)]
