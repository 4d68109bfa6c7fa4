"""The identify probe reads its facts with the shell's own `read`: check it in the shells a Pi user may log in
with (dash is /bin/sh on Raspberry Pi OS, bash the first user's login shell), against what this machine says."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from picf.discovery.facts import PROBE_COMMAND, parse_probe
from picf.node_probe import split_sections


def _os_release_pretty_name() -> str | None:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"') or None
    return None


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_the_probe_reads_this_machines_facts_in_each_login_shell(shell: str) -> None:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"no {shell} on this machine")
    done = subprocess.run([path, "-c", PROBE_COMMAND], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # a missing file (no device tree here) is not an error
    sections = split_sections(done.stdout)
    wanted = "model revision dpkg_arch long_bit uname_m mem_total_kb cgroup os hostname"
    assert list(sections) == wanted.split()
    facts = parse_probe(done.stdout)
    assert facts.hostname == Path("/proc/sys/kernel/hostname").read_text().strip()
    assert facts.uname_m == platform.machine()
    assert facts.os == _os_release_pretty_name()
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))  # fmt: skip
    assert facts.memory_mb == mem_kb // 1024
    controllers = Path("/sys/fs/cgroup/cgroup.controllers")
    if controllers.exists():
        assert f"v2 {controllers.read_text().strip()}" in sections["cgroup"]
