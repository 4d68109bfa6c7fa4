"""A throwaway emulated node on the controller: jobs run under monit as on a Pi, their ARM binaries under
qemu-user, for the deploy's pre-flight.

The node is the simulator's kind of node cut to what a job needs, in picf's build sandbox (bubblewrap): its own
/var/vcap (the job's compiled packages for the arch from picf's store, its rendered templates, its monit
stanza, empty log, run and store directories), monit from the same Debian package the simulated Pis install,
a private binfmt_misc with only the qemu entry of the node's arch, and a network of its own with nothing on it
but a loopback that holds the address of the node the job was rendered for (a job that listens on its
`spec.ip` can). No route anywhere: a peer the job calls is absent, as behind an unplugged cable. Everything
runs as an unprivileged user, and goes with the sandbox.

Inside, `node.sh` runs each job's `pre-start`, starts monit and watches the jobs with the deploy's own watch
(`watch_jobs.sh`: running steadily is one pid for longer than a monit cycle). Afterwards its logs and monit's
are read from the node's directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from picf.deploy.bundle import LIFECYCLE, WATCHER, write_job_files
from picf.errors import PicfError
from picf.releases import sandbox
from picf.releases.build.compile import QEMU
from picf.sim import repo
from picf.sim.host import SimError

NODE_SCRIPT = Path(__file__).with_name("emulated_node.sh")
_ETC = ("/etc/passwd", "/etc/group", "/etc/nsswitch.conf")


class EmulatedNodeFailed(PicfError):
    """The emulated node itself could not run (no sandbox, no monit, no qemu): not the job's fault."""


@dataclass(frozen=True)
class JobFiles:
    """A job as it lands on a node: its files (path under the job dir -> content and mode) and monit stanza."""

    name: str
    files: dict[str, tuple[str, int]]
    monit: str


@dataclass(frozen=True)
class PackageBlob:
    """A compiled package version and where its tarball is."""

    name: str
    fingerprint: str
    blob: Path


@dataclass
class EmulatedRun:
    """What the emulated node saw: whether every job ran steadily, the watch's words, each job's last log
    lines, monit's log."""

    ok: bool
    output: list[str]
    logs: dict[str, list[str]] = field(default_factory=dict)
    monit_log: list[str] = field(default_factory=list)


_unpacking = threading.Lock()


def monit_program(cache: Path | None = None) -> Path:
    """monit from the Debian package the simulated Pis install, unpacked once into picf's cache."""
    with _unpacking:
        try:
            deb = repo.ensure_debs()[0]
        except SimError as exc:
            raise EmulatedNodeFailed(str(exc)) from None
        root = (cache or Path(platformdirs.user_cache_dir("picf"))) / "monit" / deb.stem
        program = root / "usr" / "bin" / "monit"
        if not program.is_file():
            root.parent.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=f".{deb.stem}-", dir=root.parent))
            try:
                subprocess.run(["dpkg-deb", "-x", str(deb), str(partial)], check=True, capture_output=True,
                               timeout=120)  # fmt: skip
                shutil.rmtree(root, ignore_errors=True)
                partial.rename(root)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        return program


def _lay_out(vcap: Path, jobs: list[JobFiles], packages: list[PackageBlob], monit_interval: int) -> None:
    for sub in ("sys/log", "sys/run", "store", "data/sys/tmp", "monit/job", "jobs", "packages", "picf/bin"):
        (vcap / sub).mkdir(parents=True, exist_ok=True)
    for package in packages:
        target = vcap / "data" / "packages" / package.name / package.fingerprint
        target.mkdir(parents=True, exist_ok=True)
        # As a node unpacks it (picf's store: checked when it was compiled; absolute links kept).
        subprocess.run(["tar", "-xzf", str(package.blob), "-C", str(target)], check=True, capture_output=True)
        (vcap / "packages" / package.name).symlink_to(f"/var/vcap/data/packages/{package.name}/{package.fingerprint}")
    for job in jobs:
        write_job_files(vcap / "jobs" / job.name, job.name, job.files)
        (vcap / "monit" / "job" / f"{job.name}.monitrc").write_text(job.monit)
    rc = vcap / "monit" / "monitrc"
    rc.write_text(
        f"set daemon {monit_interval}\nset log /var/vcap/monit/monit.log\nset pidfile /var/vcap/monit/monit.pid\n"
        "set idfile /var/vcap/monit/id\nset statefile /var/vcap/monit/state\n"
        "set httpd port 2822 and use address 127.0.0.1\n  allow 127.0.0.1\ninclude /var/vcap/monit/job/*.monitrc\n"
    )
    rc.chmod(0o600)
    wrapper = vcap / "picf" / "bin" / "monit"
    wrapper.write_text('#!/bin/sh\nexec /opt/picf-monit/usr/bin/monit -c /var/vcap/monit/monitrc "$@"\n')
    wrapper.chmod(0o755)
    for source in (LIFECYCLE, WATCHER, NODE_SCRIPT):
        shutil.copy(source, vcap / "picf" / source.name)


def _tail(path: Path, lines: int = 40) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def run_jobs(
    work: Path,
    arch: str,
    address: str,
    jobs: list[JobFiles],
    packages: list[PackageBlob],
    watch_ms: tuple[int, int],
    stable_s: int,
    monit_interval: int,
) -> EmulatedRun:
    """Start `jobs` on an emulated `arch` node whose loopback holds `address`, and watch them for `watch_ms`
    (the deploy's low and high bounds). EmulatedNodeFailed when the node itself did not start."""
    if arch not in QEMU:
        raise EmulatedNodeFailed(f"no emulation for {arch}")
    sandbox.check_available()
    vcap = work / "vcap"
    _lay_out(vcap, jobs, packages, monit_interval)
    monit = monit_program().parents[2]
    box = sandbox.Sandbox(
        writable=(),
        binds={"/var/vcap": vcap},
        ro_binds={"/opt/picf-monit": monit, **{p: Path(p) for p in _ETC if Path(p).exists()}},
        path=f"/var/vcap/picf/bin:{sandbox.PATH}",
        emulate=QEMU[arch],
        addresses=(address,),
    )
    argv = ["sh", "/var/vcap/picf/emulated_node.sh", str(watch_ms[0]), str(watch_ms[1]), str(stable_s),
            *(j.name for j in jobs)]  # fmt: skip
    env = {"TZ": "UTC", "LANG": "C.UTF-8"}
    command = sandbox.command(argv, Path("/var/vcap"), env, box)
    budget = watch_ms[1] / 1000 + 120  # the watch, pre-start and monit's start-up
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget,
                              env={**os.environ, "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"})  # fmt: skip
    except subprocess.TimeoutExpired:
        raise EmulatedNodeFailed(f"the emulated {arch} node did not finish within {budget:.0f} s") from None
    output = (done.stdout + done.stderr).splitlines()
    broken = sandbox.did_not_start(done.stderr) or (
        EmulatedNodeFailed(f"the emulated {arch} node did not start: {done.stdout.strip().splitlines()[-1]}")
        if done.returncode == 4
        else None
    )
    if broken is not None:
        raise EmulatedNodeFailed(str(broken))
    logs = {}
    for job in jobs:
        lines: list[str] = []
        # the job's own logs last (what a person reads first is at the end), the lifecycle scripts' before
        paths = sorted((vcap / "sys" / "log" / job.name).glob("*.log"), key=lambda p: (p.stem.split(".")[0] in
                       ("pre-start", "post-start", "drain", "post-deploy"), p.name), reverse=True)  # fmt: skip
        for path in paths:
            tail = [line for line in _tail(path, 20) if line.strip()]
            if tail:
                lines += [f"==> {path.name} <==", *tail]
        logs[job.name] = lines
    return EmulatedRun(done.returncode == 0, output, logs, _tail(vcap / "monit" / "monit.log", 60))
