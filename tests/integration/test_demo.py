"""`picf demo --headless` from start to end on a LAN of its own: the story a new user sees, as CI runs it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import require_root_linux

pytestmark = pytest.mark.integration

BRIDGE, SUBNET = "picfd", "10.231.12.0/24"


# The whole story: a LAN, two builds per arch and two deploys. Its own subprocess bound (600 s) is the one that
# counts; the suite's default of 300 s per test is too short on a loaded machine.
@pytest.mark.timeout(900)
def test_the_headless_demo_without_preflight_shows_the_loop_on_the_pis_diagnosed_then_fixed(
    picf_bin: Path, tmp_path: Path
) -> None:
    require_root_linux()
    env = {**os.environ, "PICF_DATA_DIR": str(tmp_path / "data"), "PICF_STATE_DIR": str(tmp_path / "state")}
    argv = [str(picf_bin), "demo", "--bridge", BRIDGE, "--subnet", SUBNET, "--dir", str(tmp_path / "demo")]
    started = time.monotonic()
    try:
        done = subprocess.run([*argv, "--headless", "--no-preflight"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=600, env=env)  # fmt: skip
        took = time.monotonic() - started
        out = done.stdout  # one stream, in the order a person sees it
        assert done.returncode == 0, out[-3000:]
        steps = ["$ picf sim up", "$ picf discover", "$ picf release lint", "$ picf release build",
                 "$ picf deploy", "the crash loop on the armv7 Pis: seen after", "CRASH LOOP pi-1/logfwd",
                 "patch align64", "--arch armv7 --patch", "every job running: seen after",
                 "the crash loop is gone"]  # fmt: skip
        positions = [out.find(step) for step in steps]
        assert all(p >= 0 for p in positions), [s for s, p in zip(steps, positions, strict=True) if p < 0]
        assert positions == sorted(positions), "steps out of order"
        final = out[out.rfind("$ picf status") :]
        # every node runs logfwd, the two dopplers logsink too
        assert "CRASH LOOP" not in final and "3/3 nodes up, 5/5 jobs running, 0 crash loops" in final
        print(f"headless demo: {took:.0f} s")
    finally:
        down = subprocess.run([*argv, "--down"], capture_output=True, text=True, timeout=60, env=env)
    assert down.returncode == 0 and not (tmp_path / "demo" / "sim-cluster.yml").exists()


@pytest.mark.timeout(900)
def test_the_headless_demo_has_the_preflight_catch_the_loop_before_any_pi_then_deploys_the_fix(
    picf_bin: Path, tmp_path: Path
) -> None:
    require_root_linux()
    env = {**os.environ, "PICF_DATA_DIR": str(tmp_path / "data"), "PICF_STATE_DIR": str(tmp_path / "state")}
    argv = [str(picf_bin), "demo", "--bridge", BRIDGE, "--subnet", SUBNET, "--dir", str(tmp_path / "demo")]
    try:
        done = subprocess.run([*argv, "--headless"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=600, env=env)  # fmt: skip
        out = done.stdout
        assert done.returncode == 0, out[-3000:]
        steps = ["$ picf release build", "$ picf deploy", "pre-flight: logfwd does not run on armv7 (emulated",
                 "no node was touched", "last exit: panic: unaligned 64-bit atomic operation",
                 "patch align64", "--arch armv7 --patch", "picf: pre-flight failed: logfwd on armv7",
                 "the pre-flight caught the crash loop", "$ picf deploy", "ran steadily",
                 "every job running: seen after", "the crash loop never reached a Pi"]  # fmt: skip
        at = 0
        for step in steps:  # in this order
            found = out.find(step, at)
            assert found >= 0, (step, out[at : at + 3000])
            at = found + len(step)
        assert "CRASH LOOP" not in out
        final = out[out.rfind("$ picf status") :]
        assert "3/3 nodes up, 5/5 jobs running, 0 crash loops" in final
    finally:
        down = subprocess.run([*argv, "--down"], capture_output=True, text=True, timeout=60, env=env)
    assert down.returncode == 0
