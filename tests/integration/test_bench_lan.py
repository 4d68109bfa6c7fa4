"""Smoke runs of the benches that build a simulated LAN (bench/*.py --smoke): each completes at its smallest size
and every variant does the whole work, so every figure in the README can be measured again. No time is asserted.
The LAN benches share bridges (picfb for four of them), so they live in one module: one worker runs them in turn.
"""

from __future__ import annotations

import pytest

from tests.integration.benches import smoke

pytestmark = pytest.mark.timeout(1500)


def test_sim_up_builds_and_removes_the_lan_both_ways() -> None:
    out = smoke("sim_up")
    assert "up " in out and "down " in out


def test_discover_finds_and_identifies_every_node_with_every_tool() -> None:
    out = smoke("discover")
    assert "picf discover (library: find + identify)" in out and "sequential ssh probe" in out


def test_poll_reads_every_nodes_jobs_with_every_variant() -> None:
    out = smoke("poll")
    assert "fresh ssh per node, sequential" in out


def test_deadlines_times_every_stall_with_picf_and_ssh() -> None:
    out = smoke("deadlines")
    assert out.count(" s (process) ") == 4


def test_deploy_runs_every_way_a_deploy_is_compared() -> None:
    out = smoke("deploy")
    assert "plain ansible-playbook" in out and "picf (Mitogen)" in out and "--only" in out


def test_preflight_finds_the_loop_both_ways() -> None:
    out = smoke("preflight")
    assert "ratio: the pre-flight takes" in out


def test_scale_measures_every_figure_at_its_smallest_size() -> None:
    out = smoke("scale")
    assert "at 2 nodes, one SSH connection per node" in out
