"""`picf demo`: the whole story on the simulated LAN, step by step, as the commands a person would type.

Pis come up (3B+ armv7 and 4B arm64) as stock Raspberry Pi OS cards (a first user with sudo, root SSH locked,
no monit, the memory cgroup off), mDNS finds them into a demo inventory, and the example release is built
without the ARM patches and deployed: on armv7 its 64-bit atomic is not 8-aligned and it crash-loops. The
deploy's pre-flight finds that on an emulated armv7 node and stops before any Pi is touched; with
--no-preflight the deploy goes on (monit installed from the OS's packages, pi-1 rebooted to turn the memory
cgroup on for its cell role) and the armv7 Pis crash-loop, which the dashboard (or, with --headless,
`picf status`) shows with its diagnosis. One key (or the next step) builds with the patches and deploys.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer

from picf.atomic import write_atomic
from picf.cli.dashboard import open_dashboard
from picf.cli.output import err, fail, note
from picf.health.poller import Poller
from picf.inventory import read_inventory
from picf.models.health import ClusterHealth, JobState
from picf.models.node import Arch
from picf.sim import lan as simlan
from picf.sim.host import as_root_command

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "releases" / "logfwd"
MANIFEST_SOURCE = REPO / "inventory" / "deployment.yml"
BOARDS = "3b+,4b"
NODES = 3
ARCHES: tuple[Arch, ...] = ("armv7", "arm64")


@dataclass(frozen=True)
class Demo:
    """Where the demo lives: its LAN's bridge and its two files."""

    bridge: str = "picf0"
    directory: Path = Path("inventory")
    subnet: str = "10.231.0.0/24"
    preflight: bool = True  # the unpatched deploy is stopped by the pre-flight; without it, the Pis crash-loop

    @property
    def inventory(self) -> Path:
        return self.directory / "sim-cluster.yml"

    @property
    def manifest(self) -> Path:
        return self.directory / "sim-deployment.yml"


class StepFailed(Exception):
    """A demo step that must succeed did not."""


def _picf(*args: str, expect: tuple[int, ...] = (0,), quiet: bool = False) -> subprocess.CompletedProcess[str]:
    """Run one picf command as a person would, showing it first; its output goes to the terminal."""
    err.print(f"\n[bold]$ picf {' '.join(args)}[/bold]", highlight=False)
    done = subprocess.run(
        [sys.executable, "-m", "picf", *args], text=True, stdout=subprocess.PIPE if quiet else None, check=False
    )
    if done.returncode not in expect:
        raise StepFailed(f"`picf {' '.join(args)}` exited {done.returncode}")
    return done


def write_manifest(patched: bool, path: Path) -> None:
    """The demo's manifest: the example deployment, with the unpatched or the patched build."""
    text = MANIFEST_SOURCE.read_text()
    if "patched: true" not in text:
        raise StepFailed(f"{MANIFEST_SOURCE}: expected `patched: true` in it")
    header = "# Written by `picf demo` from inventory/deployment.yml; `picf demo --down` removes it.\n"
    write_atomic(path, (header + (text if patched else text.replace("patched: true", "patched: false"))).encode())


def _jobs(health: ClusterHealth) -> list[tuple[str, JobState]]:
    return [(n.name, j.state) for n in health.nodes for j in n.jobs]


def wait_for(inventory: Path, what: str, done: Callable[[ClusterHealth], bool], timeout: float) -> None:
    """Poll the cluster (as `picf status` does, on connections kept open) until `done`; say how long it took."""
    started = time.monotonic()
    err.print(f"\n[bold]waiting for {what}[/bold] (polling every 2 s, at most {timeout:.0f} s)")
    with Poller(read_inventory(inventory).cluster) as poller:
        while True:
            health = poller.poll()
            if done(health):
                note(f"{what}: seen after {time.monotonic() - started:.0f} s")
                return
            if time.monotonic() - started > timeout:
                raise StepFailed(f"{what}: not seen within {timeout:.0f} s; jobs: {_jobs(health)}")
            time.sleep(2)


def _crash_looping(health: ClusterHealth) -> bool:
    return any(state is JobState.CRASH_LOOP for _, state in _jobs(health))


def _all_running(health: ClusterHealth) -> bool:
    jobs = _jobs(health)
    return bool(jobs) and all(state is JobState.RUNNING for _, state in jobs) and health.exit_code == 0


def setup_story(demo: Demo) -> None:
    """Steps 1-5: the LAN, discovery, roles, the lint, the unpatched build and deploy."""
    demo.directory.mkdir(parents=True, exist_ok=True)
    if simlan.load(demo.bridge) is None:  # a LAN built anew has new host keys: an old inventory sees impostors
        for stale in (demo.inventory, demo.inventory.with_suffix(".yml.bak")):
            stale.unlink(missing_ok=True)
    _picf("sim", "up", "--nodes", str(NODES), "--models", BOARDS, "--bridge", demo.bridge, "--subnet", demo.subnet)
    key = str(simlan.lan_dir(demo.bridge) / "id_ed25519")
    user = simlan.require(demo.bridge).user  # stock images: the first user, with sudo; root SSH is locked
    _picf("discover", "--interface", demo.bridge, f"--write={demo.inventory}", "--user", user, "--key", key,
          "--cluster-name", "pi-demo", "--yes")  # fmt: skip
    # pi-1 is an app cell: it needs the memory cgroup, which a stock image has off; the deploy turns it on and
    # reboots pi-1. The others collect logs (dopplers).
    for i, role in ((1, "cell"), *((i, "doppler") for i in range(2, NODES + 1))):
        _picf("inventory", "roles", f"pi-{i}", f"+{role}", "--inventory", str(demo.inventory))
    _picf("release", "lint", str(EXAMPLE), "--arch", "armv7", expect=(0, 1))
    for arch in ARCHES:
        _picf("release", "build", str(EXAMPLE), "--arch", arch)
    write_manifest(False, demo.manifest)
    note(f"\n{demo.manifest}: the example deployment with the unpatched build (patched: false)")
    if demo.preflight:
        # the pre-flight starts the changed jobs on emulated nodes of each arch first: the armv7 crash loop is
        # found there, diagnosed, and no Pi is touched
        _picf("deploy", "-i", str(demo.inventory), "-m", str(demo.manifest), "--yes", expect=(1,))
        note("\nthe pre-flight caught the crash loop on an emulated armv7 node: no Pi was touched")
        return
    # all nodes at once (no canary), so the arm64 Pi gets the same build and the armv7 ones show the loop
    _picf("deploy", "-i", str(demo.inventory), "-m", str(demo.manifest), "--yes", "--no-preflight", "--canaries",
          "0", "--max-in-flight", "100%", expect=(0, 1))  # fmt: skip


def headless(demo: Demo) -> int:
    """The story without the TUI: each step, the crash loop and its diagnosis, the fix, the final status."""
    setup_story(demo)
    if not demo.preflight:
        wait_for(demo.inventory, "the crash loop on the armv7 Pis", _crash_looping, timeout=120)
        _picf("status", "-i", str(demo.inventory), expect=(1, 0, 3))
    for arch in ARCHES:
        _picf("release", "build", str(EXAMPLE), "--arch", arch, "--patch")
    write_manifest(True, demo.manifest)
    note(f"\n{demo.manifest}: now the patched build (patched: true)")
    _picf("deploy", "-i", str(demo.inventory), "-m", str(demo.manifest), "--yes")
    wait_for(demo.inventory, "every job running", _all_running, timeout=90)
    final = _picf("status", "-i", str(demo.inventory), expect=(0, 1, 3))
    gone = "is gone" if not demo.preflight else "never reached a Pi"
    note(f"\nthe crash loop {gone}: the same source, built with picf's ARM patches, runs on armv7 and arm64.")
    note(f"next: `picf dashboard -i {demo.inventory} -m {demo.manifest}` | `picf demo --down` removes the LAN")
    return final.returncode


def interactive(demo: Demo) -> int:
    """Set the story up, then open the dashboard; `p` builds with the patches and redeploys."""
    from picf.releases.build.builder import build

    setup_story(demo)

    def build_patched(say: Callable[[str], None]) -> None:
        for arch in ARCHES:
            say(f"$ picf release build {EXAMPLE.relative_to(REPO)} --arch {arch} --patch")
            made = build(EXAMPLE, arch, patch=True, progress=say).manifest
            say(f"{made.name}/{made.version} for {arch}: patched {', '.join(made.patches) or 'nothing needed'}")
        write_manifest(True, demo.manifest)
        say(f"{demo.manifest}: patched: true")

    cluster = read_inventory(demo.inventory).cluster
    welcome = (
        "the pre-flight stopped the unpatched deploy: logfwd crash-loops on armv7 (emulated); press p to build "
        "with the ARM patches and deploy"
        if demo.preflight
        else "the armv7 Pis crash-loop (see the alerts): press p to build with the ARM patches and redeploy"
    )
    return open_dashboard(cluster, demo.inventory, demo.manifest, operate=False, welcome=welcome,
                          build_patched=build_patched)  # fmt: skip


def demo_command(
    headless_: bool = typer.Option(False, "--headless", help="No TUI: print each step and the final status."),
    down: bool = typer.Option(False, "--down", help="Remove the demo LAN and its files."),
    bridge: str = typer.Option("picf0", "--bridge", "-b", help="The demo LAN's bridge."),
    directory: Path = typer.Option(Path("inventory"), "--dir", help="Where the demo inventory and manifest go."),
    subnet: str = typer.Option("10.231.0.0/24", "--subnet", help="The demo LAN's IPv4 subnet."),
    no_preflight: bool = typer.Option(
        False, "--no-preflight", help="Deploy the unpatched build without the pre-flight: the Pis crash-loop."
    ),
) -> None:
    """The whole story on the simulated LAN: a crash loop on armv7 caught by the pre-flight (or, with
    --no-preflight, on the Pis), diagnosed, patched, gone."""
    if sys.platform != "linux" or os.geteuid() != 0:
        fail(f"the demo builds a simulated LAN: run it as root on Linux: {as_root_command()}", 2)
    demo = Demo(bridge, directory, subnet, preflight=not no_preflight)
    if down:
        simlan.down(demo.bridge)
        for path in (demo.inventory, demo.inventory.with_suffix(".yml.bak"), demo.manifest):
            path.unlink(missing_ok=True)
        note(f"demo removed: LAN {demo.bridge}, {demo.inventory}, {demo.manifest}")
        return
    if not EXAMPLE.is_dir():
        fail(f"{EXAMPLE}: the example release is missing; run the demo from a picf checkout", 2)
    if not headless_ and not sys.stdout.isatty():
        note("no terminal: running the demo headless (--headless)")
        headless_ = True
    try:
        code = headless(demo) if headless_ else interactive(demo)
    except StepFailed as exc:
        fail(f"demo stopped: {exc}; fix that and run `picf demo` again (it picks up where it is)")
    raise typer.Exit(code)
