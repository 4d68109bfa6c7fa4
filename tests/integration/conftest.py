"""Integration fixtures: a simulated Pi LAN (real namespaces, sshd, avahi, qemu) shared by the session.

These tests need root on Linux. They skip elsewhere, and fail instead of skipping in CI.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from picf.models.sim import SimLan
from picf.sim import lan as simlan
from tests.conftest import in_ci

# A bridge and subnet of the tests' own, so a LAN someone started by hand is left alone; each pytest-xdist
# worker (`make test` runs two) has its own. PICF_TEST_BRIDGE / PICF_TEST_SUBNET give a second run its own LAN,
# but not its own mDNS names: every LAN's nodes answer for pi-3.local, so a test that resolves a .local name is
# marked `alone` and `make test` runs it after the others, with no other LAN up.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
TEST_BRIDGE = os.environ.get("PICF_TEST_BRIDGE", "picft" if _WORKER == 0 else f"picft{_WORKER}")
TEST_SUBNET = os.environ.get("PICF_TEST_SUBNET", "10.231.9.0/24" if _WORKER == 0 else f"10.231.{20 + _WORKER}.0/24")
TEST_BOARDS = ["3b+", "4b", "zerow"]
# Stock Raspberry Pi OS cards: pi-1 and pi-3 Bookworm (sudo without a password), pi-2 a 2026 Trixie image
# (sudo asks for the password set at imaging).
TEST_IMAGES = ["bookworm", "trixie-2026", "bookworm"]

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
    """Three simulated Pis (3B+ armv7, 4B arm64, Zero W armv6) on stock images for the whole session."""
    require_root_linux()
    simlan.down(TEST_BRIDGE)
    try:
        report = simlan.up(len(TEST_BOARDS), TEST_BOARDS, TEST_BRIDGE, TEST_SUBNET, images=TEST_IMAGES)
        yield report.lan
    finally:
        simlan.down(TEST_BRIDGE)


def ssh_argv(lan: SimLan, address: str, *extra: str) -> list[str]:
    """An OpenSSH client command, as the LAN's first user, that trusts only the pinned host keys."""
    return [
        "ssh", "-i", lan.controller_key, "-o", f"UserKnownHostsFile={lan.known_hosts}",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
        *extra, f"{lan.user}@{address}",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def on_node(sim_lan: SimLan) -> SshRunner:
    """Run a shell command on a node over real SSH as its first user, as root through sudo (the password on
    stdin for images whose sudo asks): `on_node("pi-1", "cat /var/vcap/picf/state.json")`. `root=False`
    runs it as the user."""

    def run(
        name: str, command: str, check: bool = True, timeout: float = 60, root: bool = True
    ) -> subprocess.CompletedProcess[str]:
        node = sim_lan.node(name)
        assert node is not None, name
        remote = f"sudo -S -p '' sh -c {shlex.quote(command)}" if root else command
        return subprocess.run(
            [*ssh_argv(sim_lan, node.address), remote], capture_output=True, text=True, timeout=timeout,
            check=check, input=sim_lan.password + "\n" if root else None,
        )  # fmt: skip

    return run


@pytest.fixture(scope="session")
def copy_to_node(sim_lan: SimLan) -> Callable[[str, Path, str], None]:
    """Copy a file to a node with scp (SFTP, as Ansible does), as its first user (to a place it may write)."""

    def copy(name: str, source: Path, target: str) -> None:
        node = sim_lan.node(name)
        assert node is not None, name
        argv = ssh_argv(sim_lan, node.address)
        options = argv[1:-1]
        subprocess.run(["scp", "-q", *options, str(source), f"{sim_lan.user}@{node.address}:{target}"], check=True,
                       timeout=60)  # fmt: skip

    return copy
