"""Integration fixtures: a simulated Pi LAN (real namespaces, sshd, avahi, qemu) shared by the session.

These tests need root on Linux. They skip elsewhere, and fail instead of skipping in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from picf.models.sim import SimLan
from picf.sim import lan as simlan
from tests.conftest import in_ci

# A bridge and subnet of the tests' own, so a LAN someone started by hand is left alone.
TEST_BRIDGE = "picft"
TEST_SUBNET = "10.231.9.0/24"
TEST_BOARDS = ["3b+", "4b", "zerow"]

SshRunner = Callable[..., subprocess.CompletedProcess[str]]


def require_root_linux() -> None:
    """Skip (or, in CI, fail) when the simulator cannot run here."""
    if sys.platform == "linux" and os.geteuid() == 0:
        return
    if in_ci():
        pytest.fail("integration tests must run as root on Linux in CI")
    pytest.skip("needs root on Linux (the simulated LAN builds namespaces)")


@pytest.fixture(scope="session")
def sim_lan() -> Iterator[SimLan]:
    """Three simulated Pis (3B+ armv7, 4B arm64, Zero W armv6) for the whole session; removed at the end."""
    require_root_linux()
    simlan.down(TEST_BRIDGE)
    try:
        report = simlan.up(len(TEST_BOARDS), TEST_BOARDS, TEST_BRIDGE, TEST_SUBNET)
        yield report.lan
    finally:
        simlan.down(TEST_BRIDGE)


def ssh_argv(lan: SimLan, address: str, *extra: str) -> list[str]:
    """An OpenSSH client command that trusts only the pinned host keys."""
    return [
        "ssh", "-i", lan.controller_key, "-o", f"UserKnownHostsFile={lan.known_hosts}",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
        *extra, f"root@{address}",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def on_node(sim_lan: SimLan) -> SshRunner:
    """Run a shell command on a node over real SSH: `on_node("pi-1", "hostname")`."""

    def run(name: str, command: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        node = sim_lan.node(name)
        assert node is not None, name
        return subprocess.run(
            [*ssh_argv(sim_lan, node.address), command], capture_output=True, text=True, timeout=timeout, check=check
        )

    return run


@pytest.fixture(scope="session")
def copy_to_node(sim_lan: SimLan) -> Callable[[str, Path, str], None]:
    """Copy a file to a node with scp (SFTP, as Ansible does)."""

    def copy(name: str, source: Path, target: str) -> None:
        node = sim_lan.node(name)
        assert node is not None, name
        argv = ssh_argv(sim_lan, node.address)
        options = argv[1:-1]
        subprocess.run(["scp", "-q", *options, str(source), f"root@{node.address}:{target}"], check=True, timeout=60)

    return copy
