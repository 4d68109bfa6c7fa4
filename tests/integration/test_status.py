"""`picf status` on the simulated LAN: real SSH, real monit, a real crash loop under qemu-arm, real faults."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from picf.health.poller import Poller
from picf.inventory import read_inventory
from picf.models.sim import SimLan
from picf.sim import lan as simlan
from tests.integration.conftest import TEST_BRIDGE
from tests.integration.deployed import EXAMPLE, Setup, prepare
from tui.app import DashboardApp
from tui.deploy_screen import DeployScreen
from tui.deploying import PicfDeployer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def setup(sim_lan: SimLan, picf_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    yield prepare(tmp_path_factory.mktemp("status"), picf_bin, unpatched=("armv7", "arm64"))


def status(setup: Setup, *extra: str) -> tuple[int, dict[str, Any]]:
    done = setup.run("status", "-i", str(setup.inventory), "--json", *extra, timeout=60)
    return done.returncode, json.loads(done.stdout)


def node(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in data["nodes"] if n["name"] == name)


class Watch:
    """`picf status --watch --json` in the background: one JSON line per poll, with when it arrived."""

    def __init__(self, setup: Setup, *extra: str, env: dict[str, str] | None = None) -> None:
        argv = [str(setup.picf), "status", "-i", str(setup.inventory), "--watch", "--json", *extra]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**setup.env, **(env or {})}
        )
        self.rounds: list[tuple[float, dict[str, Any]]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.rounds.append((time.monotonic(), json.loads(line)))

    def wait_for(self, check: Any, timeout: float, since: float | None = None) -> tuple[float, dict[str, Any]]:
        """The first round that arrived after `since` (default: from now on) and passes `check`."""
        seen = (
            len(self.rounds)
            if since is None
            else next((i for i, (at, _) in enumerate(self.rounds) if at >= since), len(self.rounds))
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, data in self.rounds[seen:]:
                if check(data):
                    return at, data
            seen = len(self.rounds)
            time.sleep(0.1)
        raise AssertionError(f"not seen within {timeout} s; last round: {self.rounds[-1:]}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def job(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    jobs = node(data, name)["jobs"]
    return jobs[0] if jobs else None


def test_unpatched_release_crash_loops_on_armv7_only_and_is_diagnosed(setup: Setup) -> None:
    watch = Watch(setup, "--interval", "2", "--node", "pi-1", "--node", "pi-2")
    try:
        started = time.monotonic()
        done = setup.deploy("--yes", "--canaries", "0", "--max-in-flight", "100%", manifest=setup.unpatched_manifest())
        assert done.returncode != 0 and "logfwd is not running" in done.stdout + done.stderr  # armv7 failed its watch
        deployed = time.monotonic()

        def looping(data: dict[str, Any]) -> bool:
            j = job(data, "pi-1")
            return j is not None and j["state"] == "crash-loop"

        seen_at, data = watch.wait_for(looping, timeout=120, since=started)  # a hang guard; printed below
    finally:
        watch.stop()
    print(f"crash loop seen {seen_at - started:.1f} s after the deploy began (it took {deployed - started:.1f} s)")
    loop = job(data, "pi-1")
    assert (loop is not None and loop["restarts"] >= 3) or "monit gave up" in loop["detail"]  # type: ignore[index]
    assert loop["diagnosis"]["signature"] == "unaligned-atomic-64"  # type: ignore[index]
    assert loop["diagnosis"]["patch"] == "align64"  # type: ignore[index]
    assert loop["last_exit"] == "panic: unaligned 64-bit atomic operation"  # type: ignore[index]
    # the arm64 node runs the same unpatched build: never a crash loop there
    assert all((job(d, "pi-2") or {}).get("state") != "crash-loop" for _, d in watch.rounds)
    code, final = status(setup)
    assert code == 1 and final["summary"]["crash_loops"] == 1
    assert (job(final, "pi-2") or {})["state"] == "running"
    text = setup.run("status", "-i", str(setup.inventory)).stdout
    assert "CRASH LOOP pi-1/logfwd" in text and "patch align64" in text and "--arch armv7 --patch" in text


async def test_the_dashboard_shows_the_loop_and_p_patches_and_redeploys(setup: Setup) -> None:
    """End to end: the dashboard on a real Poller sees the crash loop; `p` builds with the patches (cached
    here), switches the manifest to the patched build and deploys for real; the loop clears."""
    cluster = read_inventory(setup.inventory).cluster
    manifest = setup.root / "dashboard.yml"
    manifest.write_text(setup.unpatched_manifest().read_text())

    def prepare(say: Callable[[str], None]) -> None:
        built = setup.run("release", "build", str(EXAMPLE), "--arch", "armv7", "--patch")
        say(built.stderr.strip().splitlines()[-1])
        manifest.write_text(setup.manifest.read_text())  # patched: true

    env_before = {k: os.environ.get(k) for k in ("PICF_DATA_DIR", "PICF_STATE_DIR")}
    os.environ.update({k: setup.env[k] for k in env_before})  # the deploy runs in this process
    fixer = PicfDeployer(setup.inventory, manifest, title="patch and redeploy", build_first=prepare,
                         options={"become_password": setup.env["PICF_BECOME_PASSWORD"]})  # fmt: skip
    app = DashboardApp(Poller(cluster, timeout=3), interval=1.0, fixer=fixer)
    try:
        async with app.run_test(size=(120, 40)) as pilot:

            async def until(check: Callable[[], bool], timeout: float) -> float:
                started = time.monotonic()
                while not check():
                    assert time.monotonic() - started < timeout, str(app.query_one("#alerts", Static).render())
                    await pilot.pause(0.25)
                return time.monotonic() - started

            def alerts() -> str:
                return str(app.query_one("#alerts", Static).render())

            seen = await until(lambda: "CRASH LOOP pi-1/logfwd" in alerts(), timeout=90)
            assert "patch align64" in alerts()
            await pilot.press("p")
            screen = app.screen
            assert isinstance(screen, DeployScreen)
            deployed = await until(lambda: screen.outcome is not None, timeout=180)
            assert screen.outcome is not None and screen.outcome.exit_code == 0, screen.outcome
            await pilot.press("escape")
            cleared = await until(lambda: "CRASH LOOP" not in alerts(), timeout=120)
            assert "PATCH AND REDEPLOY ok" in alerts()
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    print(f"dashboard: loop seen in {seen:.1f} s, patched deploy {deployed:.1f} s, loop gone {cleared:.1f} s later")


def test_after_the_patched_deploy_status_is_healthy(setup: Setup) -> None:
    assert setup.deploy("--yes").returncode == 0  # nothing left to do, or converges
    deadline = time.monotonic() + 90  # a hang guard only
    while True:
        code, data = status(setup)
        states = [(job(data, n) or {}).get("state") for n in ("pi-1", "pi-2")]
        if states == ["running", "running"] or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert states == ["running", "running"] and code == 0, data
    assert data["summary"]["crash_loops"] == 0


def test_overheat_and_undervoltage_show_in_vitals(setup: Setup) -> None:
    simlan.fault(TEST_BRIDGE, "pi-1", "overheat")
    simlan.fault(TEST_BRIDGE, "pi-2", "undervoltage")
    try:
        code, data = status(setup)
    finally:
        simlan.fault(TEST_BRIDGE, "pi-1", "clear")
        simlan.fault(TEST_BRIDGE, "pi-2", "clear")
    hot, low = node(data, "pi-1"), node(data, "pi-2")
    assert hot["vitals"]["temp_c"] == 84.5
    assert set(hot["vitals"]["throttle"]["now"]) == {"capped", "throttled", "soft-limit"}
    assert [w["signature"] for w in hot["warnings"]] == ["thermal"]
    assert low["vitals"]["throttle"]["now"] == ["under-voltage"]
    assert [w["signature"] for w in low["warnings"]] == ["under-voltage"]
    assert data["summary"]["throttled"] == 1 and data["summary"]["under_voltage"] == 1 and code == 0
    assert node(status(setup)[1], "pi-1")["warnings"] == []  # cleared


def test_status_watch_runs_without_glibcs_thread_caches_and_keeps_the_users_tunables(setup: Setup) -> None:
    # One SSH reader thread per node: glibc's per-thread caches would grow RSS for hours (picf/cli/longrun.py).
    watch = Watch(setup, "--interval", "1", "--node", "pi-1", env={"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"})
    try:
        _, data = watch.wait_for(lambda d: node(d, "pi-1")["state"] == "up", timeout=60)
        environ = Path(f"/proc/{watch.proc.pid}/environ").read_bytes()
        argv = Path(f"/proc/{watch.proc.pid}/cmdline").read_bytes().split(b"\0")
    finally:
        watch.stop()
    # glibc's loader rewrites the variable where the kernel put it, each `:` a NUL (2.36; later ones do not)
    assert re.search(rb"\0GLIBC_TUNABLES=glibc\.malloc\.arena_max=4[:\0]glibc\.malloc\.tcache_count=0\0", environ)
    assert argv[-6:-1] == [b"--json", b"--interval", b"1", b"--node", b"pi-1"]  # started again as it was asked
    assert [n["name"] for n in data["nodes"]] == ["pi-1"]


def test_a_pulled_cable_marks_the_node_unreachable_while_the_others_keep_updating(setup: Setup) -> None:
    watch = Watch(setup, "--interval", "1", "--timeout", "2")
    try:
        watch.wait_for(lambda d: all(n["state"] == "up" for n in d["nodes"]), timeout=60)
        pulled = time.monotonic()
        simlan.fault(TEST_BRIDGE, "pi-3", "link-down")
        try:
            gone_at, gone = watch.wait_for(lambda d: node(d, "pi-3")["state"] == "unreachable", timeout=60)
            later_at, later = watch.wait_for(lambda d: d["at"] > gone["at"] + 3, timeout=60)
        finally:
            simlan.fault(TEST_BRIDGE, "pi-3", "link-up")
        back_at, _ = watch.wait_for(lambda d: node(d, "pi-3")["state"] == "up", timeout=60)
    finally:
        watch.stop()
    print(f"unreachable after {gone_at - pulled:.1f} s; back {back_at - pulled:.1f} s after the cable was pulled")
    assert "no answer" in node(gone, "pi-3")["error"] or "connect" in node(gone, "pi-3")["error"]
    for name in ("pi-1", "pi-2"):  # the others kept answering meanwhile
        assert node(later, name)["state"] == "up" and node(later, name)["last_seen"] > node(gone, name)["last_seen"]
    # rounds kept coming while the node was dead: each one with the others freshly seen
    during = [data for at, data in watch.rounds if gone_at <= at <= later_at]
    assert len(during) >= 2
    assert all(node(d, "pi-1")["state"] == "up" for d in during)


def test_a_wrong_pinned_host_key_is_refused(setup: Setup) -> None:
    text = setup.inventory.read_text()
    wrong = setup.root / "wrong-key.yml"
    pinned = read_inventory(setup.inventory).cluster.node("pi-1")
    assert pinned is not None and pinned.host_key is not None
    wrong.write_text(text.replace(pinned.host_key, "SHA256:" + "A" * 43))
    done = setup.run("status", "-i", str(wrong), "--json", "--node", "pi-1")
    data = json.loads(done.stdout)
    assert done.returncode == 3 and "possible impostor" in node(data, "pi-1")["error"]


def test_polls_reuse_one_connection_and_one_shell_per_node(setup: Setup) -> None:
    cluster = read_inventory(setup.inventory).cluster
    with Poller(cluster, timeout=5) as poller:
        poller.poll()
        shells = {s.node.name: s.shell for s in poller._slots}
        for _ in range(10):
            health = poller.poll()
        assert all(n.state.value == "up" for n in health.nodes)
        for slot in poller._slots:
            assert slot.shell is shells[slot.node.name] and slot.shell is not None and slot.shell.opened == 1


def test_status_errors_are_one_line(setup: Setup, tmp_path: Path) -> None:
    missing = setup.run("status", "-i", str(tmp_path / "nope.yml"))
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
    unknown = setup.run("status", "-i", str(setup.inventory), "--node", "pi-9")
    assert unknown.returncode == 2 and "no node named pi-9" in unknown.stderr
