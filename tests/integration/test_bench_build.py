"""Smoke runs of the benches that need no LAN (bench/*.py --smoke): builds, rendering, the lint, the dashboard.
Each completes at its smallest size with every variant doing the whole work; no time is asserted."""

from __future__ import annotations

import pytest

from tests.integration.benches import smoke

pytestmark = pytest.mark.timeout(1500)


def test_build_cache_builds_cold_warm_and_by_hand() -> None:
    out = smoke("build_cache")
    assert "the same two `go build` by hand" in out


def test_render_renders_every_template_for_every_node_both_ways() -> None:
    out = smoke("render", root=False)
    assert "plain ruby, one process" in out


def test_dashboard_paints_both_variants() -> None:
    out = smoke("dashboard", root=False)
    assert "whole table redrawn each second (rich Live)" in out


def test_lint_runs_picf_and_go_vet_on_every_tree() -> None:
    out = smoke("lint", root=False)
    assert "cannot run" not in out


def test_compile_modes_builds_both_packages_cross_and_emulated() -> None:
    out = smoke("compile_modes")
    assert "binaries: 32-bit ARM ELF both ways" in out
