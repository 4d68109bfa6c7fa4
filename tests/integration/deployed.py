"""A deployment workspace for integration tests: its own data and state dirs, an inventory of the test LAN
with pi-1 (3B+, armv7, Bookworm) as a cell (it needs the memory cgroup: its first deploy reboots it) and pi-2
(4B, arm64, Trixie: sudo asks for the password) as a doppler, and the example release built for both. picf
logs in as the first user and gets the sudo password as a person would give it: PICF_BECOME_PASSWORD."""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ruamel.yaml import YAML

from picf.sim import lan as simlan
from tests.integration.conftest import TEST_BRIDGE

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "releases" / "logfwd"


@dataclass
class Setup:
    root: Path
    env: dict[str, str]
    inventory: Path
    manifest: Path
    picf: Path
    outputs: list[str]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(self.picf), *args], capture_output=True, text=True, timeout=timeout, env=self.env)
        self.outputs.append(done.stdout + done.stderr)
        return done

    def deploy(
        self, *extra: str, manifest: Path | None = None, preflight: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """`picf deploy`; without the pre-flight unless asked (the tests of the pre-flight ask for it; the others
        are about what the rollout does on the nodes)."""
        skip = () if preflight else ("--no-preflight",)
        return self.run("deploy", "-i", str(self.inventory), "-m", str(manifest or self.manifest), *skip, *extra)

    def deploy_watching(
        self,
        on_line: Callable[[str, subprocess.Popen[str]], None],
        *extra: str,
        timeout: float = 300,
        manifest: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`picf deploy`, calling `on_line(line, process)` with each line it prints, as it prints it (to act at a
        given moment of the rollout: pull a cable when batch 2 starts, cut a node's power when a task starts
        on it, send SIGTERM in the canary). With --json the events on stdout come too, one JSON line each."""
        argv = [str(self.picf), "deploy", "-i", str(self.inventory), "-m", str(manifest or self.manifest),
                "--no-preflight", *extra]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        streams: dict[str, list[str]] = {"out": [], "err": []}

        def read(name: str, stream: IO[str] | None) -> None:
            assert stream is not None
            for line in stream:
                streams[name].append(line)
                on_line(line, proc)

        readers = [threading.Thread(target=read, args=(n, s), daemon=True)
                   for n, s in (("out", proc.stdout), ("err", proc.stderr))]  # fmt: skip
        for reader in readers:
            reader.start()
        try:
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
            for reader in readers:
                reader.join(timeout=10)
        done = subprocess.CompletedProcess(argv, proc.returncode, "".join(streams["out"]), "".join(streams["err"]))
        self.outputs.append(done.stdout + done.stderr)
        return done

    def when_task_starts(
        self, task: str, act: Callable[[], None], occurrence: int = 1
    ) -> Callable[[str, subprocess.Popen[str]], None]:
        """An `on_line` for deploy_watching(..., "--json"): `act()` once, when Ansible starts `task` for the
        `occurrence`-th time (batches run one after the other: the second time is the second batch)."""
        seen = [0]

        def on_line(line: str, _: subprocess.Popen[str]) -> None:
            if not line.startswith("{"):
                return
            event = json.loads(line)
            if event.get("event") == "playbook_on_task_start" and event.get("task") == task:
                seen[0] += 1
                if seen[0] == occurrence:
                    act()

        return on_line

    def set_port(self, port: int) -> None:
        """Every logfwd job of the manifest listens on `port` (properties nested, as BOSH reads them)."""
        yaml = YAML()
        doc = yaml.load(self.manifest.read_text())
        for group in doc["roles"].values():
            for job in group["jobs"]:
                if job["name"] == "logfwd":
                    job["properties"]["logfwd"]["port"] = port
        out = io.StringIO()
        yaml.dump(doc, out)
        self.manifest.write_text(out.getvalue())

    def unpatched_manifest(self) -> Path:
        path = self.root / "unpatched.yml"
        path.write_text(self.manifest.read_text().replace("patched: true", "patched: false"))
        return path


def prepare(root: Path, picf: Path, unpatched: tuple[str, ...] = ("armv7",)) -> Setup:
    """Build the example release (patched for armv7 and arm64, unpatched for `unpatched`), write the
    inventory and the manifest."""
    (root / "tmp").mkdir()
    lan = simlan.require(TEST_BRIDGE)
    env = {**os.environ, "PICF_DATA_DIR": str(root / "data"), "PICF_STATE_DIR": str(root / "state"),
           "TMPDIR": str(root / "tmp"), "PICF_BECOME_PASSWORD": lan.password}  # fmt: skip
    s = Setup(root, env, root / "cluster.yml", root / "deployment.yml", picf, [])
    for arch, extra in (("armv7", ["--patch"]), ("arm64", ["--patch"]), *((a, []) for a in unpatched)):
        built = s.run("release", "build", str(EXAMPLE), "--arch", arch, *extra, timeout=900)
        assert built.returncode == 0, built.stderr
    inventory = s.run("sim", "inventory", "--bridge", TEST_BRIDGE)
    s.inventory.write_text(inventory.stdout)
    for node, role in (("pi-1", "cell"), ("pi-2", "doppler")):  # the Zero W can be neither
        assert s.run("inventory", "roles", node, f"+{role}", "--inventory", str(s.inventory)).returncode == 0
    s.manifest.write_text((REPO / "inventory" / "deployment.yml").read_text())
    return s
