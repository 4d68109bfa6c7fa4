"""A deployment workspace for integration tests: its own data and state dirs, an inventory of the test LAN
with pi-1 (3B+, armv7) and pi-2 (4B, arm64) as dopplers, and the example release built for both."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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

    def deploy(self, *extra: str, manifest: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("deploy", "-i", str(self.inventory), "-m", str(manifest or self.manifest), *extra)

    def deploy_watching(
        self, on_line: Callable[[str, subprocess.Popen[str]], None], *extra: str, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """`picf deploy`, calling `on_line(line, process)` with each line it prints on stderr as it prints it (to
        act at a given moment of the rollout: pull a cable when batch 2 starts, send SIGTERM in the canary)."""
        argv = [str(self.picf), "deploy", "-i", str(self.inventory), "-m", str(self.manifest), *extra]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        lines: list[str] = []

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                lines.append(line)
                on_line(line, proc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            stdout = proc.stdout.read() if proc.stdout else ""
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
            reader.join(timeout=10)
        done = subprocess.CompletedProcess(argv, proc.returncode, stdout, "".join(lines))
        self.outputs.append(done.stdout + done.stderr)
        return done

    def set_port(self, port: int) -> None:
        text = self.manifest.read_text()
        self.manifest.write_text(re.sub(r"logfwd\.port: \d+", f"logfwd.port: {port}", text))

    def unpatched_manifest(self) -> Path:
        path = self.root / "unpatched.yml"
        path.write_text(self.manifest.read_text().replace("patched: true", "patched: false"))
        return path


def prepare(root: Path, picf: Path, unpatched: tuple[str, ...] = ("armv7",)) -> Setup:
    """Build the example release (patched for armv7 and arm64, unpatched for `unpatched`), write the
    inventory and the manifest."""
    (root / "tmp").mkdir()
    env = {**os.environ, "PICF_DATA_DIR": str(root / "data"), "PICF_STATE_DIR": str(root / "state"),
           "TMPDIR": str(root / "tmp")}  # fmt: skip
    s = Setup(root, env, root / "cluster.yml", root / "deployment.yml", picf, [])
    for arch, extra in (("armv7", ["--patch"]), ("arm64", ["--patch"]), *((a, []) for a in unpatched)):
        built = s.run("release", "build", str(EXAMPLE), "--arch", arch, *extra, timeout=900)
        assert built.returncode == 0, built.stderr
    inventory = s.run("sim", "inventory", "--bridge", TEST_BRIDGE)
    s.inventory.write_text(inventory.stdout)
    for node in ("pi-1", "pi-2"):  # the 3B+ (armv7) and the 4B (arm64); the Zero W cannot be a doppler
        assert s.run("inventory", "roles", node, "+doppler", "--inventory", str(s.inventory)).returncode == 0
    s.manifest.write_text((REPO / "inventory" / "deployment.yml").read_text())
    return s
